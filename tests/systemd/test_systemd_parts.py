"""The systemd pieces of the master, one at a time, in process: fd-store names, adopting passed
sockets, matching them to [[listen]] tables, the listener set with passed and stored sockets,
what is sent to systemd and when, idle tracking, the status line and the run-state file."""

import os
import socket

import pytest

from pyhttpd.config import Listener
from pyhttpd.daemon.listener_set import ListenerSet, endpoint_of
from pyhttpd.daemon.load import IdleWatch, Load
from pyhttpd.daemon.sockets import bind_tcp, bind_unix
from pyhttpd.daemon.systemd.activation import (
    STORE_PREFIX,
    PassedSockets,
    adopt,
    endpoint_from_store_name,
    not_passed,
    serve_activated,
    store_name,
)
from pyhttpd.daemon.systemd.manager_link import (
    EXTEND_EVERY_S,
    RELOADING,
    SERVING,
    STARTING,
    STATUS_MIN_INTERVAL_S,
    STOPPING,
    ManagerLink,
    describe,
)
from pyhttpd.daemon.systemd.notify import Notifier
from pyhttpd.daemon.systemd.run_state import ReloadOutcome, RunState, read_run_state, state_file_path


class FakeNotifier(Notifier):
    """Records what would be sent."""

    def __init__(self, watchdog_s: float | None = None) -> None:
        super().__init__({"NOTIFY_SOCKET": "@unused"})
        self.watchdog_interval_s = watchdog_s
        self.sent: list[tuple[str, ...]] = []
        self.fds: list[list[int]] = []
        self.barriers = 0

    def notify(self, *lines: str, fds=()) -> bool:
        self.sent.append(lines)
        self.fds.append(list(fds))
        return True

    def barrier(self, timeout_s: float) -> bool:
        self.barriers += 1
        return True


def load(busy=0, total=2, connections=0, served=((1, 0), (2, 0)), progress=0.0) -> Load:
    return Load(busy, total, connections, tuple(served), progress)


# --- activation -----------------------------------------------------------------------------------


@pytest.mark.parametrize("listener", [
    Listener("tcp", "::", 8080), Listener("tcp", "127.0.0.1", 0), Listener("tcp", None, 80),
    Listener("unix", path="/run/a:b/x.sock"),
])
def test_store_names_round_trip_and_hold_no_colon(listener):
    name = store_name(endpoint_of(listener))
    assert name.startswith(STORE_PREFIX) and ":" not in name and len(name) <= 255
    assert all(" " <= char < "\x7f" for char in name)
    assert endpoint_from_store_name(name) == endpoint_of(listener)


def test_names_that_are_not_ours_are_socket_unit_names():
    assert endpoint_from_store_name("http") is None
    assert endpoint_from_store_name(STORE_PREFIX + "not json") is None
    assert store_name(("unix", None, None, "/" + "x" * 300)) is None  # too long to store


def test_adopt_takes_a_listening_socket_and_refuses_anything_else(tmp_path):
    listening = socket.create_server(("127.0.0.1", 0))
    port = listening.getsockname()[1]
    bound = adopt(os.dup(listening.fileno()), "http")
    assert (bound.name, bound.kind, bound.address, bound.port, bound.unix_inode) == \
        ("http", "tcp", f"127.0.0.1:{port}", port, None)
    assert not os.get_inheritable(bound.fileno())
    bound.close()
    listening.close()
    idle = socket.socket()
    fd = os.dup(idle.fileno())
    with pytest.raises(OSError):
        adopt(fd, "x")
    os.close(fd)
    idle.close()
    unix = bind_unix("u", str(tmp_path / "s.sock"))
    adopted = adopt(os.dup(unix.fileno()), "u")
    assert adopted.address == f"unix:{tmp_path / 's.sock'}"
    adopted.close()  # systemd's socket file: never removed by us
    assert (tmp_path / "s.sock").exists()
    unix.close()


def test_passed_sockets_are_named_after_the_listener_they_stand_for():
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    passed = [adopt(os.dup(sock.fileno()), "unknown")]
    configured = (Listener("tcp", "::", port, name="main"), Listener("tcp", "::", 1, name="admin"))
    assert [b.name for b in serve_activated(passed, configured)] == ["main"]  # by address
    assert not_passed(passed, configured) == [configured[1]]
    by_name = [adopt(os.dup(sock.fileno()), "admin")]
    assert [b.name for b in serve_activated(by_name, configured)] == ["admin"]  # by name first
    assert [b.name for b in serve_activated(passed, ())] == ["unknown"]  # the fd name otherwise
    for bound in passed + by_name:
        bound.close()
    sock.close()


# --- the listener set -----------------------------------------------------------------------------


class FakeStore:
    def __init__(self) -> None:
        self.added: list[tuple] = []
        self.removed: list[tuple] = []

    def add(self, endpoint, bound) -> None:
        self.added.append(endpoint)

    def remove(self, endpoint) -> None:
        self.removed.append(endpoint)


def test_under_socket_activation_nothing_is_bound_and_nothing_closed_early():
    sock = socket.create_server(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    passed = PassedSockets(activated=[adopt(os.dup(sock.fileno()), "http")])
    listeners = ListenerSet(16, passed)
    configured = (Listener("tcp", "127.0.0.1", port + 1 if port < 65535 else 1, name="http"),)
    served = listeners.bind(configured)
    assert [(b.name, b.port) for b in served] == [("http", port)]
    assert listeners.socket_activated
    assert listeners.keep_only(()) == []  # a reload never closes what systemd passed
    assert listeners.bind(()) and listeners.fds() == [passed.activated[0].fileno()]
    listeners.close_all()
    sock.close()


def test_stored_sockets_are_taken_back_not_bound_and_new_ones_are_stored():
    first = bind_tcp("http", "127.0.0.1", 0)
    port = first.port
    kept = Listener("tcp", "127.0.0.1", 0, name="http")
    dropped = bind_tcp("old", "127.0.0.1", 0)
    stale_key = ("tcp", "127.0.0.1", dropped.port, None)
    passed = PassedSockets(stored={endpoint_of(kept): first, stale_key: dropped})
    store = FakeStore()
    listeners = ListenerSet(16, passed, store)
    added = Listener("tcp", "127.0.0.1", 0, name="extra")
    served = listeners.bind((kept,))
    assert [b.port for b in served] == [port]  # the stored socket, not a new bind
    assert listeners.adopted == [first] and store.added == []
    assert listeners.release_unclaimed() == [dropped]
    assert store.removed == [stale_key]
    listeners.bind((kept, replace_name(added, "extra", host="127.0.0.2")))
    assert store.added == [("tcp", "127.0.0.2", 0, None)]
    listeners.keep_only((kept,))
    assert store.removed[-1] == ("tcp", "127.0.0.2", 0, None)
    listeners.close_all()


def test_under_socket_activation_sockets_left_in_the_fd_store_are_let_go():
    sock = socket.create_server(("127.0.0.1", 0))
    stored = bind_tcp("http", "127.0.0.1", 0)
    key = ("tcp", "127.0.0.1", 0, None)
    passed = PassedSockets(activated=[adopt(os.dup(sock.fileno()), "http")], stored={key: stored})
    listeners = ListenerSet(16, passed)
    listeners.bind((Listener("tcp", "127.0.0.1", 0, name="http"),))
    store = FakeStore()
    assert listeners.release_unclaimed(store) == [stored] and store.removed == [key]
    listeners.close_all()
    sock.close()


def replace_name(listener: Listener, name: str, host: str) -> Listener:
    return Listener(listener.kind, host, listener.port, listener.path, name)


def test_with_an_fd_store_closing_at_stop_leaves_the_socket_file(tmp_path):
    path = tmp_path / "web.sock"
    listeners = ListenerSet(16, None, FakeStore())
    listeners.bind((Listener("unix", path=str(path)),))
    listeners.close_all()
    assert path.exists()  # systemd's stored copy still listens there


# --- what systemd is told -------------------------------------------------------------------------


def test_state_messages_carry_the_status():
    notifier = FakeNotifier()
    link = ManagerLink(notifier)
    link.ready("serving")
    link.reloading(1234, "reloading")
    link.stopping("stopping")
    assert notifier.sent == [("READY=1", "STATUS=serving"),
                             ("RELOADING=1", "MONOTONIC_USEC=1234", "STATUS=reloading"),
                             ("STOPPING=1", "STATUS=stopping")]


def test_status_is_sent_when_it_changes_at_most_once_a_second():
    notifier = FakeNotifier()
    link = ManagerLink(notifier)
    link.status("a", 10.0)
    link.status("a", 20.0)
    link.status("b", 20.0 + STATUS_MIN_INTERVAL_S / 2)
    link.status("b", 21.0 + STATUS_MIN_INTERVAL_S)
    assert notifier.sent == [("STATUS=a",), ("STATUS=b",)]


def test_the_watchdog_is_pinged_every_interval_only_while_healthy():
    notifier = FakeNotifier(watchdog_s=5.0)
    link = ManagerLink(notifier)
    assert link.seconds_to_watchdog(0.0) == 0.0
    for now in (0.0, 1.0, 5.0, 9.0, 10.0):
        link.watchdog(now, healthy=True)
    link.watchdog(15.0, healthy=False)
    assert notifier.sent == [("WATCHDOG=1",)] * 3
    assert link.seconds_to_watchdog(12.0) == 3.0 and link.seconds_to_watchdog(16.0) == 0.0
    assert ManagerLink(FakeNotifier()).seconds_to_watchdog(0.0) is None


def test_a_drain_is_given_more_time_only_while_it_makes_progress():
    notifier = FakeNotifier()
    link = ManagerLink(notifier)
    link.drain_progress(0.0, load(busy=1, progress=1.0))
    link.drain_progress(EXTEND_EVERY_S, load(busy=1, progress=3.0))  # moved
    link.drain_progress(2 * EXTEND_EVERY_S, load(busy=1, progress=3.0))  # stuck
    link.drain_progress(3 * EXTEND_EVERY_S, load(busy=0, total=1, progress=0.0))  # a worker left
    assert notifier.sent == [("EXTEND_TIMEOUT_USEC=15000000",)] * 2


def test_mainpid_waits_for_the_manager_to_read_it():
    notifier = FakeNotifier()
    assert ManagerLink(notifier).main_pid(4242)
    assert notifier.sent == [("MAINPID=4242",)] and notifier.barriers == 1
    assert not ManagerLink(Notifier({})).main_pid(4242)  # no manager: nothing to say


def test_notifier_sends_fds_and_barriers_to_an_abstract_socket():
    receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    receiver.bind(f"\0pyhttpd-test-{os.getpid()}")
    notifier = Notifier({"NOTIFY_SOCKET": f"@pyhttpd-test-{os.getpid()}"})
    listening = socket.create_server(("127.0.0.1", 0))
    assert notifier.notify("FDSTORE=1", "FDNAME=x", fds=[listening.fileno()])
    data, fds, _, _ = socket.recv_fds(receiver, 100, 4)
    assert data == b"FDSTORE=1\nFDNAME=x" and len(fds) == 1
    for fd in fds:
        os.close(fd)
    assert not notifier.barrier(0.1)  # nobody closes the barrier's pipe: it times out
    notifier.close()
    receiver.close()
    listening.close()


# --- idle, status, run state ------------------------------------------------------------------------


def test_idle_means_no_connection_and_no_request_served_between_samples():
    watch = IdleWatch()
    assert watch.observe(0.0, load()) == 0.0
    assert watch.observe(1.0, load()) == 1.0
    assert watch.observe(2.0, load(connections=1)) == 0.0  # a connection open
    assert watch.observe(3.0, load()) == 1.0
    assert watch.observe(4.0, load(served=((1, 1), (2, 0)))) == 0.0  # one served in between
    assert watch.observe(6.5, load(served=((1, 1), (2, 0)))) == 2.5
    watch.reset(7.0)
    assert watch.observe(8.0, load(served=((1, 1), (2, 0)))) == 0.0


def test_the_status_line_says_phase_generation_and_workers():
    two = load(busy=1, total=2)
    assert describe(STARTING, 1, 1, 2, two) == "Starting generation 1: 1 of 2 workers ready."
    assert describe(SERVING, 1, 2, 2, two) == "Serving generation 1: 2 workers (1 busy, 1 idle)."
    assert describe(RELOADING, 2, 0, 2, two) == \
        "Reloading to generation 2: 0 of 2 new workers ready; 2 workers (1 busy, 1 idle)."
    assert describe(STOPPING, 2, 0, 2, two, stop_reason="graceful") == \
        "Stopping (graceful): 2 workers (1 busy, 1 idle) left."
    ok = ReloadOutcome(2, True, 2, 1, 2)
    assert describe(SERVING, 2, 2, 2, two, ok).endswith("Last reload: generation 2 took effect.")
    failed = ReloadOutcome(3, False, 2, 1, 2, "bad: " + "x" * 500)
    text = describe(SERVING, 2, 2, 2, two, failed)
    assert "Last reload failed, generation 2 kept: bad: x" in text
    assert text.endswith("...") and len(text) < 300


def test_the_run_state_file_is_replaced_whole_and_removed_by_its_owner(tmp_path):
    path = tmp_path / "pyhttpd.state"
    state = RunState(str(path))
    assert state.write("serving", 1, None)
    assert read_run_state(str(path)) == {"pid": os.getpid(), "phase": "serving", "generation": 1,
                                         "reload": None}
    outcome = ReloadOutcome(2, False, 1, 10, 20, "why")
    state.write("serving", 1, outcome)
    assert read_run_state(str(path))["reload"] == {"generation": 2, "ok": False, "serving_generation": 1,
                                                   "started_usec": 10, "finished_usec": 20, "reason": "why"}
    assert [p.name for p in tmp_path.iterdir()] == ["pyhttpd.state"]  # no temporary file left
    state.remove()
    assert not path.exists()
    assert not RunState(None).write("serving", 1, None)


def test_the_run_state_file_lives_in_the_runtime_directory_else_beside_the_pidfile():
    assert state_file_path("/run/p.pid", {"RUNTIME_DIRECTORY": "/run/pyhttpd:/run/other"}) == \
        "/run/pyhttpd/pyhttpd.state"
    assert state_file_path("/run/p.pid", {}) == "/run/p.pid.state"
    assert state_file_path(None, {}) is None
