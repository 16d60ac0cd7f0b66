"""What the master and a worker share, and nothing else: both import it, as equals.

    spec.py        the spawn spec (WorkerSpec, ListenerSpec, passed as JSON) and the status pipe
    scoreboard.py  the shared file: the loop's heartbeat, counters, a slot per serving thread
    accept_board.py  one board for all workers: their open connections, so that they spread evenly

The master (``pyhttpd.daemon``) starts a worker as ``python -m pyhttpd.workers``; nothing
else crosses: the worker never imports ``pyhttpd.daemon``, the master never imports
``pyhttpd.workers`` (nor the user's handler: a master running as root runs no user code).
Signals from the master: TERM drains gracefully, INT and QUIT stop fast, USR1 reopens log
files, ABRT (hung) dumps and dies. This package imports nothing else of pyhttpd.
"""
