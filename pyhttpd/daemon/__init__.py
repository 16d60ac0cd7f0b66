"""The master process: binds the listeners, starts workers, and keeps them serving.

It knows sockets, processes, signals and the worker contract (pyhttpd.ipc);
it never parses HTTP and never imports the user's handler. ``main.main`` is the entry
point; ``supervisor.Supervisor.run`` the table of contents.

    main.py            command line -> Config -> Supervisor; startup failures (start_failure.py)
    supervisor.py      the loop: signal queue, dispatch, housekeeping; stop and reload
    fleet.py           the workers: keep the count, roll out a generation, crash backoff
    generation.py      config -> checked generation (identity, handler check, listeners)
    worker_handle.py   one worker: spawn / terminate / abort / kill / reap (verbs only)
    worker_settings.py the WorkerSpec settings built from the Config
    states.py          worker lifecycle states and their edges
    liveness.py        is a worker hung? (its scoreboard)
    backoff.py         respawn delays for workers that keep dying young
    signal_queue.py    handlers enqueue, the loop waits and takes
    signal_hold.py     signals recorded from main's first instruction until the queue takes them
    sockets.py listener_set.py  binding before fork; endpoints kept across reloads
    load.py            workers busy/idle and requests moving, read from the scoreboards
    status_text.py     the one-line status (systemd's STATUS=)
    systemd.py         sd_listen_fds and sd_notify, the protocol (docs/systemd.md)
    activation.py      sockets systemd passed: socket-unit ones, fd-store ones
    fdstore.py         hand our own sockets to systemd (FDSTORE=1), so a restart refuses none
    manager_link.py    what systemd is told, and when (READY, RELOADING, STOPPING, WATCHDOG...)
    idle_exit.py       idle_exit_after: no connection for that long
    run_state.py       the run-state file: how the last reload ended, for the reload waiter
    reload_wait.py     ``pyhttpd --reload-and-wait``: HUP, then wait for the outcome (ExecReload=)
    status_snapshot.py the master and each worker's scoreboard as one dict (docs/status.md)
    status_file.py     that snapshot in a file, for ``pyhttpd status`` (status_command.py,
                       status_render.py)
    tally.py           what the master counts over its life (worker starts/exits/kills, reloads)
    admin.py           the admin listener: /ready, /metrics (metrics.py), /status, on the loop
    pidfile.py daemonize.py privileges.py logfiles.py proctitle.py events.py handler_check.py
                       one OS integration each
"""
