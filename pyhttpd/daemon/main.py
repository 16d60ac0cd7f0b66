"""``pyhttpd`` under the supervisor: load the config, start the master, report a failed start.

Exit status: 0 after a requested stop (TERM, INT, QUIT), an idle exit, or a valid
``--check-config``; 1 when the config is invalid or the server cannot start (address in use,
another instance holds the pidfile, the handler does not import, user/group set without
root); 2 for a malformed command line (argparse). ``pyhttpd --reload-and-wait`` is the
ExecReload= helper (systemd/reload_wait.py), and ``pyhttpd status`` shows a running master
(status_command.py), each with its own exit statuses.
"""

import sys
from typing import TYPE_CHECKING

from . import signal_hold
from .proctitle import set_title

if TYPE_CHECKING:
    from .systemd.notify import Notifier


def main(argv: list[str] | None = None) -> int:
    """Run the master for the command line ``argv`` (default ``sys.argv[1:]``)."""
    # First: until the loop's handlers are in place, a signal is recorded, not fatal. (This
    # module imports nothing heavy at its top for that reason.)
    signal_hold.hold()
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["status"]:
        signal_hold.let_go()
        from .status_command import main as status

        return status(argv)
    if "--reload-and-wait" in argv:
        signal_hold.let_go()
        from .systemd.reload_wait import main as reload_and_wait

        return reload_and_wait(argv)
    # First, before anything reads or copies the environment block setproctitle moves.
    set_title("pyhttpd: master (starting)")
    from ..config import ConfigError, check_config, load_config
    from .generation import GENERATION_ERRORS
    from .master_log import log_targets
    from .pidfile import PidfileLocked
    from .supervisor import Supervisor
    from .systemd.activation import take_passed_sockets
    from .systemd.notify import Notifier

    if "--check-config" in argv or "--version" in argv:
        signal_hold.let_go()  # no master: a signal does what it does to any process
        from .handler_check import serve_problem

        return check_config(argv, also=serve_problem)  # argparse prints --version and exits
    # systemd's variables, read once, here, before anything forks (also with --daemon), and
    # removed from the environment so that no worker, check or CGI script inherits them.
    passed = take_passed_sockets()
    notifier = Notifier()
    try:
        config = load_config(argv)
    except ConfigError as error:
        return fail(str(error), notifier)
    try:
        return Supervisor(config, argv, passed=passed, notifier=notifier).run()
    except (*GENERATION_ERRORS, PidfileLocked, OSError) as error:
        return fail(str(error), notifier, log_targets(config)[1])


def fail(message: str, notifier: "Notifier | None" = None, error_log: str = "-") -> int:
    """Report a failed start: ``pyhttpd: message`` on standard error, a ``start_failed`` event
    on the error log ``error_log`` and journald's stream (start_failure.py), and systemd's
    STATUS=; returns 1."""
    from .start_failure import report_start_failure

    report_start_failure(message, error_log)
    if notifier is not None:
        notifier.notify(f"STATUS=Failed to start: {message}")
    return 1
