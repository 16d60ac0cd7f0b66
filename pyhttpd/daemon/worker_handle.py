"""One worker process as the master holds it: its Popen, status pipe and scoreboard.

``WorkerHandle`` has verbs only; the supervisor decides when to use them. Every verb is
non-blocking: signals are sent and deadlines recorded, and ``kill_if_overdue`` (called on
every pass of the supervisor's loop) escalates to SIGKILL when a deadline passes.
"""

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace

from ..ipc.scoreboard import CounterView, Scoreboard
from ..ipc.spec import EVENT_READY, SPEC_ENV, ListenerSpec, WorkerSpec
from ..tls import TLSMaterial, secret_fd, tickets
from . import states
from .privileges import Credentials, identity_environment, popen_identity
from .sockets import BoundListener

WORKER_COMMAND = (sys.executable, "-m", "pyhttpd.workers")
ABORT_GRACE_S = 2.0  # after SIGABRT, time to dump tracebacks before SIGKILL
_READ_SIZE = 65536


def tls_listener_specs(listeners: list[BoundListener]) -> tuple[list[ListenerSpec], list[int]]:
    """The listeners as the contract describes them, and the memfds holding TLS material.

    The material is what the generation checked (never the files again). The caller passes
    the fds to the worker and closes them. Raises OSError if a memfd cannot be made.
    """
    specs, fds = [], []
    try:
        for listener in listeners:
            spec = listener.spec()
            if listener.tls:
                material, password_fd = listener.tls.worker_fds()
                fds.extend(fd for fd in (material, password_fd) if fd is not None)
                files = listener.tls.files
                spec = replace(spec, tls_fd=material, tls_password_fd=password_fd, hsts=files.hsts,
                               tls_policy=files.policy.as_dict() if files.policy else None,
                               tls_sni=_sni_specs(listener.tls, fds))
                client_ca = listener.tls.client_ca_fd()
                if client_ca is not None:
                    fds.append(client_ca)
                    spec = replace(spec, tls_client_ca_fd=client_ca)
                if tickets.supported():
                    chain = tickets.master_secret().chain(listener.name, listener.tls.pem)
                    fds.append(secret_fd(chain.to_text()))
                    spec = replace(spec, tls_tickets_fd=fds[-1])
            specs.append(spec)
    except OSError:
        for fd in fds:
            os.close(fd)
        raise
    return specs, fds


def _sni_specs(material: TLSMaterial, fds: list[int]) -> list[dict]:
    """The contract's ``tls_sni`` entries of a listener; their memfds are added to ``fds``."""
    specs = []
    for names, certificate in material.sni:
        cert_fd, password_fd = certificate.worker_fds()
        fds.extend(fd for fd in (cert_fd, password_fd) if fd is not None)
        specs.append({"names": list(names), "tls_fd": cert_fd, "tls_password_fd": password_fd})
    return specs


class WorkerHandle:
    """A worker (index ``index`` of generation ``generation``) from spawn to reap.

    The handle owns the read end of the status pipe and the scoreboard (fd and map); both are
    released by ``reap`` once the process has exited.
    """

    def __init__(self, index: int, generation: int, settings: dict, listeners: list[BoundListener],
                 credentials: Credentials | None = None, command: tuple[str, ...] = WORKER_COMMAND,
                 accept_board_fd: int | None = None) -> None:
        self.index = index
        self.accept_board_fd = accept_board_fd  # the fleet's (workers/accept_board.py); not ours to close
        self.generation = generation
        self.settings = settings
        self.listeners = list(listeners)
        self.credentials = credentials
        self.command = command
        self._state = states.STARTING
        self.pid: int | None = None
        self.spawned_at = 0.0
        self.ready_at: float | None = None
        self.kill_at: float | None = None
        self.returncode: int | None = None
        self.aborted = False  # SIGABRT sent: found hung, not to be judged again
        self.scoreboard: Scoreboard | None = None
        self.last_counters: CounterView | None = None  # read from the scoreboard as it is released
        self._proc: subprocess.Popen | None = None
        self._status_r: int | None = None
        self._scoreboard_fd: int | None = None
        self._pending = b""
        self._status_eof = False

    # -- verbs ---------------------------------------------------------------------------------

    def spawn(self) -> None:
        """Start the worker process; raises OSError (resources released) if it cannot start."""
        status_r, status_w = os.pipe2(os.O_CLOEXEC)
        os.set_blocking(status_r, False)
        scoreboard_fd, scoreboard = Scoreboard.create(None, self.settings["threads"], len(self.listeners))
        listener_specs, tls_fds = tls_listener_specs(self.listeners)
        spec = WorkerSpec(worker=self.index, generation=self.generation, listeners=listener_specs,
                          status_fd=status_w, scoreboard_fd=scoreboard_fd, settings=self.settings,
                          accept_board_fd=self.accept_board_fd)
        env = {**os.environ, **identity_environment(self.credentials), SPEC_ENV: spec.to_json()}
        shared = (status_w, scoreboard_fd) + (() if self.accept_board_fd is None else (self.accept_board_fd,))
        fds = (*(listener.fileno() for listener in self.listeners), *shared, *tls_fds)
        try:
            self._proc = subprocess.Popen(self.command, pass_fds=fds, env=env, stdin=subprocess.DEVNULL,
                                          **popen_identity(self.credentials))
        except (OSError, subprocess.SubprocessError):
            scoreboard.close()
            for fd in (status_r, scoreboard_fd):
                os.close(fd)
            raise
        finally:
            os.close(status_w)  # the worker holds the only write end: EOF when it dies
            for fd in tls_fds:
                os.close(fd)
        self.pid = self._proc.pid
        self.spawned_at = time.monotonic()
        self._status_r, self._scoreboard_fd, self.scoreboard = status_r, scoreboard_fd, scoreboard

    def read_status(self) -> list[dict]:
        """Read the status lines the worker has written since the last call.

        A "ready" line moves a STARTING worker to READY. Returns the parsed messages; a line
        that is not a JSON object is returned as {"event": "garbled", "line": ...}.
        """
        if self._status_r is None:
            return []
        with contextlib.suppress(BlockingIOError, InterruptedError):
            while chunk := os.read(self._status_r, _READ_SIZE):
                self._pending += chunk
            self._status_eof = True  # read returned b"": the worker closed its end
        *lines, self._pending = self._pending.split(b"\n")
        messages = [_parse_status(line) for line in lines if line.strip()]
        for message in messages:
            if message.get("event") == EVENT_READY and self.state == states.STARTING:
                self.state = states.READY  # it can serve
                self.ready_at = time.monotonic()
        return messages

    def terminate(self, grace_s: float) -> None:
        """Ask for a graceful stop (SIGTERM: finish requests in flight); SIGKILL after ``grace_s``."""
        self._retire(signal.SIGTERM, grace_s)

    def stop_fast(self, grace_s: float) -> None:
        """Ask for a fast stop (SIGQUIT: drop connections now); SIGKILL after ``grace_s``."""
        self._retire(signal.SIGQUIT, grace_s)

    def abort(self, grace_s: float = ABORT_GRACE_S) -> None:
        """A hung worker: SIGABRT (it may dump its threads), then SIGKILL after ``grace_s``."""
        self.aborted = True
        self._retire(signal.SIGABRT, grace_s)

    def kill(self) -> None:
        """SIGKILL now; ``reap`` collects it."""
        self._retire(signal.SIGKILL, 0.0)

    def announce_drain(self) -> None:
        """Forward SIGUSR2: the worker's health path answers 503 from now on; it goes on serving."""
        self._send(signal.SIGUSR2)

    def reopen_logs(self) -> None:
        """Forward SIGUSR1; the worker answers with a "logs_reopened" status line."""
        self._send(signal.SIGUSR1)

    def kill_if_overdue(self, now: float) -> bool:
        """SIGKILL a worker whose stop deadline has passed; True if it was killed now."""
        if self.kill_at is None or now < self.kill_at or self.state == states.EXITED:
            return False
        self.kill_at = None
        self._send(signal.SIGKILL)
        return True

    def reap(self) -> int | None:
        """Collect the worker if it has exited (waitpid WNOHANG); returns its returncode or None.

        A negative returncode is the signal that ended it. On exit the status pipe is read a
        last time (its messages are dropped) and the pipe and scoreboard are released.
        """
        if self._proc is None or self.state == states.EXITED:
            return self.returncode
        returncode = self._proc.poll()
        if returncode is None:
            return None
        self.read_status()
        self.state = states.EXITED  # the process is gone
        self.returncode = returncode
        self._release()
        return returncode

    # -- questions -----------------------------------------------------------------------------

    @property
    def state(self) -> states.WorkerState:
        """Where the worker is in its life (states.py)."""
        return self._state

    @state.setter
    def state(self, new: states.WorkerState) -> None:
        """Move to ``new``; raises states.InvalidTransition for an edge the lifecycle lacks."""
        self._state = states.move(self._state, new)

    def is_alive(self) -> bool:
        """True until the worker has been reaped."""
        return self._proc is not None and self.state != states.EXITED

    def is_ready(self) -> bool:
        """True once its "ready" line arrived, until it is told to stop or exits."""
        return self.state == states.READY

    def is_serving_or_starting(self) -> bool:
        """True for a worker that counts toward the worker count (not stopping, not gone)."""
        return self.state in (states.STARTING, states.READY)

    def status_fd(self) -> int | None:
        """The read end of its status pipe, to wait on (None once closed by the worker or reaped)."""
        return None if self._status_eof else self._status_r

    def exit_fields(self) -> dict:
        """How it ended, for the log: {"exit_code": n} or {"signal": "SIGKILL"}."""
        if self.returncode is None:
            return {}
        if self.returncode < 0:
            return {"signal": signal.Signals(-self.returncode).name}
        return {"exit_code": self.returncode}

    # -- internals -----------------------------------------------------------------------------

    def _retire(self, signum: int, grace_s: float) -> None:
        if self.state in (states.STARTING, states.READY):
            self.state = states.DRAINING  # told to stop
        if self.state == states.EXITED:
            return
        deadline = time.monotonic() + grace_s
        self.kill_at = deadline if self.kill_at is None else min(self.kill_at, deadline)
        self._send(signum)

    def _send(self, signum: int) -> None:
        # Popen.send_signal polls first and never signals a reaped (possibly reused) PID.
        if self._proc is not None:
            with contextlib.suppress(ProcessLookupError):
                self._proc.send_signal(signum)

    def _release(self) -> None:
        if self.scoreboard is not None:
            self.last_counters = self.scoreboard.read_counters()
            self.scoreboard.close()
            self.scoreboard = None
        for fd in (self._status_r, self._scoreboard_fd):
            if fd is not None:
                os.close(fd)
        self._status_r = self._scoreboard_fd = None


def _parse_status(line: bytes) -> dict:
    try:
        message = json.loads(line)
    except ValueError:
        message = None
    if not isinstance(message, dict):
        return {"event": "garbled", "line": line[:200].decode("latin-1")}
    return message
