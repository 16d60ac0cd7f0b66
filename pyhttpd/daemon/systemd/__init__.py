"""The master's side of systemd (docs/systemd.md); silent when no service manager is there.

    notify.py        sd_listen_fds and sd_notify, the protocol
    activation.py    sockets systemd passed (socket unit, fd store); our own sockets to the fd store
    manager_link.py  what systemd is told, and when (READY, RELOADING, STOPPING, WATCHDOG, STATUS=)
    run_state.py     the run-state file: how the last reload ended, for the reload waiter
    reload_wait.py   ``pyhttpd --reload-and-wait``: HUP, then wait for the outcome (ExecReload=)

Imports nothing at package level: daemon/main.py imports parts of it before it holds signals.
"""
