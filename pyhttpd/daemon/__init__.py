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
    states.py          worker lifecycle states and their edges (a wrong move raises)
    liveness.py        is a worker hung? (its scoreboard)
    backoff.py         respawn delays for workers that keep dying young
    signal_queue.py    handlers enqueue, the loop waits and takes
    signal_hold.py     signals recorded from main's first instruction until the queue takes them
    sockets.py listener_set.py  binding before fork; endpoints kept across reloads
    load.py            workers busy/idle and requests moving, read from the scoreboards; idle exit
    systemd/           sd_notify and sd_listen_fds, socket activation and the fd store, what
                       systemd is told and when (STATUS= too), the run-state file and
                       ``pyhttpd --reload-and-wait`` (its package docstring lists them)
    status_snapshot.py the master and each worker's scoreboard as one dict (docs/status.md)
    status_file.py     that snapshot in a file, for ``pyhttpd status`` (status_command.py,
                       status_render.py)
    metrics.py         what the master counts over its life (Tally), /metrics' text format
    admin.py           the admin listener: /ready, /metrics, /status, on the loop
    master_log.py      the master's events (log_event), its log targets when daemonised, fd 2
    pidfile.py daemonize.py privileges.py proctitle.py json_file.py handler_check.py
                       one OS integration each
"""
