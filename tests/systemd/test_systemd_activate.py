"""Socket activation with systemd-socket-activate (from the systemd package): the light test of
LISTEN_PID/LISTEN_FDS/LISTEN_FDNAMES handling, without a service manager."""

import shutil
import signal
import socket
import time

import pytest
from sd_harness import clean_env, write_config
from support.http import get
from support.master import Master, started_masters

pytestmark = pytest.mark.skipif(shutil.which("systemd-socket-activate") is None,
                                reason="systemd-socket-activate not installed (Debian package: systemd)")


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def activate(tmp_path):
    """``activate(port, fdname, args)``: ``systemd-socket-activate -l 127.0.0.1:PORT
    --fdname=NAME pyhttpd ARGS``, once it listens; it execs pyhttpd (same PID) with the socket
    as fd 3 on the first connection. Each is killed with its workers at teardown."""
    with started_masters(tmp_path, clean_env()) as start:

        def start_activated(port: int, fdname: str, args: list[str]) -> Master:
            prefix = ["systemd-socket-activate", "-l", f"127.0.0.1:{port}", f"--fdname={fdname}"]
            master = start(args, ready=False, prefix=prefix)
            master.wait_line("Listening on", timeout=10)
            return master

        yield start_activated


def test_the_passed_socket_is_served_and_the_configured_address_is_not_bound(tmp_path, site, activate):
    port, configured = free_port(), free_port()
    config = write_config(tmp_path / "pyhttpd.toml", site, listen=f"127.0.0.1:{configured}")
    master = activate(port, "http", ["--config", str(config)])
    assert get(port, "/index.txt", timeout=15)[0] == 200  # the first connection started pyhttpd
    line = master.wait_for("systemd")
    assert line["socket_activated"] is True and line["passed"] == [f"http=127.0.0.1:{port}"]
    listening = master.wait_for("listening")
    assert (listening["port"], listening["name"]) == (port, "http")  # matched to [[listen]] by name
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", configured), timeout=2).close()
    assert not master.find("listener_not_passed")
    master.signal(signal.SIGTERM)
    assert master.wait_exit() == 0


def test_a_configured_listener_systemd_did_not_pass_is_named_not_bound(tmp_path, site, activate):
    port, other = free_port(), free_port()
    config = tmp_path / "pyhttpd.toml"
    config.write_text(f'directory = "{site}"\nworkers = 1\n'
                      f'[[listen]]\naddress = "127.0.0.1:{port}"\nname = "web"\n'
                      f'[[listen]]\naddress = "127.0.0.1:{other}"\nname = "admin"\n')
    master = activate(port, "web", ["--config", str(config)])
    assert get(port, timeout=15)[0] == 200
    warning = master.wait_for("listener_not_passed")
    assert (warning["address"], warning["name"]) == (f"127.0.0.1:{other}", "admin")
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", other), timeout=2).close()
    master.signal(signal.SIGTERM)
    assert master.wait_exit() == 0


def test_an_unnamed_socket_is_served_under_the_listener_on_its_port(tmp_path, site, activate):
    port = free_port()
    config = write_config(tmp_path / "pyhttpd.toml", site, listen=f"[::]:{port}")
    config.write_text(config.read_text().replace('name = "http"', 'name = "main"'))
    master = activate(port, "unknown", ["--config", str(config)])
    assert get(port, timeout=15)[0] == 200
    assert master.wait_for("listening")["name"] == "main"
    master.signal(signal.SIGTERM)
    assert master.wait_exit() == 0


def test_idle_exit_needs_socket_activation(tmp_path, site, start_master):
    config = write_config(tmp_path / "pyhttpd.toml", site, extra="idle_exit_after = 1")
    master = start_master(["--config", str(config)], clean_env())
    warning = master.wait_for("idle_exit_unavailable")
    assert warning["idle_exit_after"] == 1
    time.sleep(2)
    assert master.proc.poll() is None  # it would refuse connections once gone: it stays
    master.signal(signal.SIGTERM)
    assert master.wait_exit() == 0


def test_socket_activated_it_exits_0_when_idle(tmp_path, site, activate):
    port = free_port()
    config = write_config(tmp_path / "pyhttpd.toml", site, extra="idle_exit_after = 1",
                          listen=f"127.0.0.1:{port}")
    master = activate(port, "http", ["--config", str(config)])
    assert get(port, timeout=15)[0] == 200
    started = time.monotonic()
    assert master.wait_exit(10) == 0
    assert time.monotonic() - started >= 1.0
    assert master.wait_for("idle_exit")["idle_s"] == 1
