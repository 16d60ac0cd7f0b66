"""What the test folders share, imported as ``support`` (tests/conftest.py puts tests/ on
sys.path; no folder inserts a path of its own).

- ``master``: the real master (``python -m pyhttpd.daemon``) in its own session, its log
  read as events to wait on; ``started_masters``, ``master_config``.
- ``worker``: a real worker (``python -m pyhttpd.workers``) without the master.
- ``sessions``: processes started in their own session and killed whole at teardown.
- ``http``: one GET or request through ``http.client``, over TCP or a unix socket.
- ``wire``: a raw-socket HTTP/1.1 client, for tests that control every byte.
- ``polling``: bounded waits (``wait_until``, ``wait_gone``).
- ``load``: background clients; ``paths``: where the tests are, child environments;
  ``rpc_client``: a bounded XML-RPC proxy; ``unprivileged``: reaching paths as nobody.

The shared fixture ``site`` is tests/conftest.py's.
"""
