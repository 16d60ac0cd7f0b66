"""The master's signals from the first instruction of ``pyhttpd`` until its loop takes them.

The default action of HUP, TERM, QUIT and USR1 is to die, and TTIN/TTOU stop the process;
the loop's handlers (signal_queue.py) are in place only once the config is read, the
listeners bound and the handler checked, some hundreds of milliseconds after the start. A
``systemctl reload`` right after ``systemctl start`` would kill the service. ``hold``, the
first thing ``main`` does, records these signals instead; ``SignalQueue.install`` takes over
what was recorded, and a command that runs no master (``--check-config``,
``--reload-and-wait``, ``--version``) calls ``let_go``, which acts on them as it would have.
What is left is the interpreter's own start-up, before any of pyhttpd's code runs.

Why handlers that record, not ``pthread_sigmask``: a blocked mask is inherited by every
child, through fork and exec (the handler check runs before the loop's handlers are in
place), while exec resets a caught signal to its default; and blocked signals come out in
signal-number order (HUP before TERM, whichever came first), where a record keeps the order
they came in.
"""

import signal
from collections.abc import Callable

# CHLD is not held: its default action is to ignore, and the loop reaps whatever exited.
HELD = (signal.SIGTERM, signal.SIGINT, signal.SIGQUIT, signal.SIGHUP,
        signal.SIGTTIN, signal.SIGTTOU, signal.SIGUSR1)

Handler = Callable[[int, object], object] | int | signal.Handlers | None

_recorded: list[int] = []
_replaced: dict[int, Handler] = {}


def hold(signums: tuple[int, ...] = HELD) -> None:
    """From now on, record ``signums`` in the order they arrive instead of acting on them
    (main thread only), until ``hand_over`` or ``let_go``."""
    for signum in signums:
        _replaced.setdefault(signum, signal.signal(signum, _record))


def hand_over() -> tuple[list[int], dict[int, Handler]]:
    """Stop holding: the signals recorded so far (oldest first), and the handlers ``hold``
    replaced. The caller has installed its own handlers for every held signal already."""
    recorded, replaced = list(_recorded), dict(_replaced)
    _recorded.clear()
    _replaced.clear()
    return recorded, replaced


def let_go() -> None:
    """Stop holding, restore the handlers ``hold`` replaced, and raise each recorded signal
    again, so the process does what it would have done had nothing been held."""
    for signum, handler in _replaced.items():
        signal.signal(signum, handler)
    recorded, _ = hand_over()
    for signum in recorded:
        signal.raise_signal(signum)


def _record(signum: int, frame: object) -> None:
    _recorded.append(signum)
