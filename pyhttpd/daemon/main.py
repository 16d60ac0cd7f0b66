"""``pyhttpd`` under the supervisor: load the config, start the master, one line per failure.

Exit status: 0 after a requested stop (TERM, INT, QUIT) or a valid ``--check-config``; 1 when
the config is invalid or the server cannot start (address in use, another instance holds
the pidfile, the handler does not import, user/group set without root); 2 for a malformed
command line (argparse).
"""

import sys

from .proctitle import set_title


def main(argv: list[str] | None = None) -> int:
    """Run the master for the command line ``argv`` (default ``sys.argv[1:]``)."""
    # First, before anything reads or copies the environment block setproctitle moves.
    set_title("pyhttpd: master (starting)")
    from ..config import ConfigError, check_config, load_config
    from .generation import GENERATION_ERRORS
    from .pidfile import PidfileLocked
    from .supervisor import Supervisor

    argv = sys.argv[1:] if argv is None else list(argv)
    if "--check-config" in argv:
        return check_config(argv)
    try:
        config = load_config(argv)
    except ConfigError as error:
        return fail(str(error))
    try:
        return Supervisor(config, argv).run()
    except (*GENERATION_ERRORS, PidfileLocked, OSError) as error:
        return fail(str(error))


def fail(message: str) -> int:
    """Print ``pyhttpd: message`` on standard error; returns 1, the exit status."""
    print(f"pyhttpd: {message}", file=sys.stderr, flush=True)
    return 1
