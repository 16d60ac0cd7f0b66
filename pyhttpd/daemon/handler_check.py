"""Can the configured handler serve? Asked of a fresh interpreter, never of the master.

The master never imports user code (it may run as root, and an import can have any side
effect), so a reload, and ``pyhttpd --check-config``, ask ``python -m pyhttpd.workers
--check-handler module:attr [--server module:attr]`` in a subprocess running as the worker
user, with the environment and working directory a worker would have and the worker's
settings in ``PYHTTPD_CHECK_SETTINGS``. It imports the handler, builds it and serves it one
request on a socketpair (``workers/serve_check.py``), then exits 0, or prints one line and
exits 1.
"""

import json
import os
import subprocess

from ..config import Config
from ..ipc.spec import CHECK_SETTINGS_ENV
from .privileges import Credentials, PrivilegeError, identity_environment, popen_identity, resolve_credentials
from .worker_handle import WORKER_COMMAND
from .worker_settings import handler_spec, worker_settings


class HandlerCheckFailed(Exception):
    """The handler cannot be served; ``str()`` is one line naming it and why."""


def needs_check(config: Config, credentials: Credentials | None) -> bool:
    """Whether ``config`` runs user code (a handler or a server), or workers as another user
    (then the check also proves that user can run the interpreter and import pyhttpd)."""
    return bool(handler_spec(config) or config.server or credentials)


def check_handler(config: Config, credentials: Credentials | None, timeout_s: float,
                  command: tuple[str, ...] = WORKER_COMMAND) -> None:
    """Return when the handler (and server) of ``config`` serve a request in a fresh worker
    interpreter; raise HandlerCheckFailed. Blocks up to ``timeout_s``."""
    handler = handler_spec(config) or ""
    named = handler or config.handler
    settings = json.dumps(worker_settings(config, 0))
    env = {**os.environ, **identity_environment(credentials), CHECK_SETTINGS_ENV: settings}
    server = ["--server", config.server] if config.server else []
    try:
        done = subprocess.run([*command, "--check-handler", handler, *server], env=env,
                              stdin=subprocess.DEVNULL, capture_output=True, timeout=timeout_s,
                              **popen_identity(credentials))
    except subprocess.TimeoutExpired:
        raise HandlerCheckFailed(f"handler {named!r}: check still running after {timeout_s:g}s") from None
    except (OSError, subprocess.SubprocessError) as error:
        raise HandlerCheckFailed(f"handler {named!r}: cannot run the check: {error}") from None
    if done.returncode != 0:
        raise HandlerCheckFailed(_last_line(done.stderr) or _last_line(done.stdout)
                                 or f"handler {named!r}: check exited with {done.returncode}")


def serve_problem(config: Config) -> str | None:
    """For ``--check-config``: why the handler of ``config`` cannot serve, or None if it can.

    The check runs as the configured user when we are root, as we are otherwise (not root,
    a user setting is only a start-time problem, reported by the start itself).
    """
    try:
        credentials = resolve_credentials(config.user, config.group) if os.geteuid() == 0 else None
        if needs_check(config, credentials):
            check_handler(config, credentials, config.worker_ready_timeout)
    except (HandlerCheckFailed, PrivilegeError) as error:
        return str(error)
    return None


def _last_line(output: bytes) -> str:
    lines = [line for line in output.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
