"""sockets.py and listener_set.py: binding before fork, errors as one line, unix sockets."""

import os
import socket
import stat

import pytest

from pyhttpd.config import Listener
from pyhttpd.daemon.listener_set import ListenerSet
from pyhttpd.daemon.sockets import UNIX_SOCKET_MODE, ListenError, bind_tcp, bind_unix, effective_backlog


def test_bind_tcp_on_port_zero_reports_the_bound_port():
    bound = bind_tcp("http", "127.0.0.1", 0)
    try:
        assert bound.port and bound.address == f"127.0.0.1:{bound.port}"
        assert bound.sock.getsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR)
        assert not os.get_inheritable(bound.fileno())  # only pass_fds hands it to workers
        with socket.create_connection(("127.0.0.1", bound.port), timeout=2):
            pass
    finally:
        bound.close()


def test_a_port_in_use_is_one_readable_line():
    first = bind_tcp("a", "127.0.0.1", 0)
    try:
        with pytest.raises(ListenError) as caught:
            bind_tcp("b", "127.0.0.1", first.port)
        assert str(caught.value) == f"cannot listen on 127.0.0.1:{first.port}: address already in use"
    finally:
        first.close()


@pytest.mark.skipif(not socket.has_ipv6, reason="no IPv6")
def test_the_ipv6_wildcard_is_dual_stack():
    bound = bind_tcp("http", "::", 0)
    try:
        assert bound.sock.getsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY) == 0
        assert bound.address == f"[::]:{bound.port}"
        with socket.create_connection(("127.0.0.1", bound.port), timeout=2):
            pass
    finally:
        bound.close()


def test_an_unknown_host_is_a_listen_error():
    with pytest.raises(ListenError, match="cannot listen on no-such-host.invalid:80: cannot resolve"):
        bind_tcp("x", "no-such-host.invalid", 80)


def test_backlog_is_capped_by_somaxconn():
    with open("/proc/sys/net/core/somaxconn") as f:
        somaxconn = int(f.read())
    assert effective_backlog(10**9) == somaxconn
    assert effective_backlog(16) == min(16, somaxconn)


def test_unix_socket_mode_and_removal_on_close(tmp_path):
    path = tmp_path / "web.sock"
    bound = bind_unix("web", str(path))
    assert stat.S_IMODE(os.stat(path).st_mode) == UNIX_SOCKET_MODE
    assert bound.address == f"unix:{path}"
    bound.close()
    assert not path.exists()


def test_a_stale_unix_socket_is_replaced(tmp_path):
    path = tmp_path / "web.sock"
    dead = socket.socket(socket.AF_UNIX)
    dead.bind(str(path))
    dead.close()  # the file stays; nobody listens
    bound = bind_unix("web", str(path))
    bound.close()


def test_a_live_unix_socket_is_in_use(tmp_path):
    path = tmp_path / "web.sock"
    live = bind_unix("web", str(path))
    try:
        with pytest.raises(ListenError, match="address already in use"):
            bind_unix("again", str(path))
        assert path.exists()
    finally:
        live.close()


def test_a_path_that_is_not_a_socket_is_never_deleted(tmp_path):
    path = tmp_path / "data.txt"
    path.write_text("keep me")
    with pytest.raises(ListenError, match="not a socket"):
        bind_unix("web", str(path))
    assert path.read_text() == "keep me"


def test_listener_set_keeps_shared_endpoints_and_binds_all_or_nothing(tmp_path):
    listeners = ListenerSet(128)
    try:
        first = listeners.bind((Listener("tcp", host="127.0.0.1", port=0),))
        again = listeners.bind((Listener("tcp", host="127.0.0.1", port=0, name="renamed"),))
        assert again[0].sock is first[0].sock and again[0].name == "renamed"
        busy = bind_tcp("busy", "127.0.0.1", 0)
        sock_path = tmp_path / "new.sock"
        with pytest.raises(ListenError):
            listeners.bind((Listener("unix", path=str(sock_path)),
                            Listener("tcp", host="127.0.0.1", port=busy.port)))
        assert not sock_path.exists()  # bound by the failed call, closed again
        busy.close()
        closed = listeners.keep_only(())
        assert [c.address for c in closed] == [first[0].address]
    finally:
        listeners.close_all()
