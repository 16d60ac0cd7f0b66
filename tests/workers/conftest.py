"""Fixtures of the worker tests: real worker processes (``python -m pyhttpd.workers``)
without the master, started by tests/support/worker.py's ``WorkerProcess``.

    worker = spawn_worker(threads=2, timeouts={"keepalive": 1})
    response = raw_get(worker.port, "/hello")

Settings are the spec defaults (``DEFAULT_SETTINGS``), with the keyword arguments merged in
(one level deep for ``timeouts`` and ``limits``). The handler is
``worker_handlers:ProbeHandler`` unless ``handler=`` says otherwise (None: the built-in
static handler over ``worker.site``, tests/conftest.py's ``site``). The ``worker`` fixture
is one default worker; parametrise it indirectly with a dict of settings. Teardown kills
every worker's process group.
"""

from pathlib import Path

import pytest
from support.worker import WorkerProcess, merged_settings


@pytest.fixture
def spawn_worker(tmp_path: Path, site: Path):
    """A factory: ``spawn_worker(**settings)`` starts a worker and waits for its "ready".

    Extra keywords: ``wait_ready`` (default True), ``backlog`` (listen backlog, 1024),
    ``via_parent`` (start it through a parent process the test can make exit), ``nofile``
    (the worker's open-file limit), ``unix`` (listen on a unix socket, ``worker.unix_path``,
    instead of TCP).
    """
    started: list[WorkerProcess] = []

    def spawn(*, wait_ready: bool = True, backlog: int = 1024, via_parent: bool = False,
              nofile: int | None = None, unix: bool = False, **overrides) -> WorkerProcess:
        settings = merged_settings(site, overrides)
        stderr_path = tmp_path / f"worker-{len(started)}.stderr"
        unix_path = tmp_path / f"worker-{len(started)}.sock" if unix else None
        worker = WorkerProcess(settings, site, stderr_path, backlog, via_parent, nofile, unix_path)
        started.append(worker)
        if wait_ready:
            worker.wait_event("ready")
        return worker

    yield spawn
    failures = []
    for worker in started:  # every one, even if killing another failed
        try:
            worker.kill()
        except Exception as error:
            failures.append(error)
    if failures:
        raise failures[0]


@pytest.fixture
def worker(request, spawn_worker) -> WorkerProcess:
    """One worker with the default settings, or with ``request.param`` (indirect parametrise)."""
    return spawn_worker(**getattr(request, "param", {}))
