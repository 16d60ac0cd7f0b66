"""Can the configured handler be imported? Asked of a fresh interpreter, never of the master.

The master never imports user code (it may run as root, and an import can have any side
effect), so a reload asks ``python -m pyhttpd.workers --check-handler module:Class`` in a
subprocess running as the worker user, with the environment and working directory a worker
would have. That command exits 0, or prints one line and exits 1.
"""

import os
import subprocess

from .privileges import Credentials, identity_environment, popen_identity
from .worker_handle import WORKER_COMMAND


class HandlerCheckFailed(Exception):
    """The handler cannot be served; ``str()`` is one line naming it and why."""


def check_handler(handler: str | None, credentials: Credentials | None, timeout_s: float,
                  command: tuple[str, ...] = WORKER_COMMAND) -> None:
    """Return when ``handler`` imports in a fresh worker interpreter; raise HandlerCheckFailed.

    ``handler`` None (the built-in handler) is not checked. Blocks up to ``timeout_s``.
    """
    if handler is None:
        return
    env = {**os.environ, **identity_environment(credentials)}
    try:
        done = subprocess.run([*command, "--check-handler", handler], env=env, stdin=subprocess.DEVNULL,
                              capture_output=True, timeout=timeout_s, **popen_identity(credentials))
    except subprocess.TimeoutExpired:
        raise HandlerCheckFailed(f"handler {handler!r}: import still running after {timeout_s:g}s") from None
    except (OSError, subprocess.SubprocessError) as error:
        raise HandlerCheckFailed(f"handler {handler!r}: cannot run the check: {error}") from None
    if done.returncode != 0:
        raise HandlerCheckFailed(_last_line(done.stderr) or _last_line(done.stdout)
                                 or f"handler {handler!r}: check exited with {done.returncode}")


def _last_line(output: bytes) -> str:
    lines = [line for line in output.decode(errors="replace").splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""
