"""Behind a load balancer: the PROXY protocol names the client, to the handler and the log.

Direct tests send the header themselves (v1 and v2, split, malformed, from an untrusted
peer); the last one puts a real HAProxy (Debian's, installed by scripts/test) in front of
three pyhttpd instances with ``send-proxy-v2`` and health checks, and restarts each
instance in turn under keep-alive clients that never retry.
"""

import ipaddress
import json
import os
import shutil
import signal
import socket
import struct
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from support.load import KeepAliveClients
from support.master import master_config, write_config
from support.polling import wait_until
from test_daemon_admin import admin_get

V2_SIGNATURE = b"\r\n\r\n\x00\r\nQUIT\n"


def proxy_config(path, trusted: str = '["127.0.0.1"]', port: int = 0, drain_delay: float = 0) -> str:
    return write_config(path, f"""
workers = 2
threads = 4
handler = "master_app:App"
trusted_proxies = {trusted}
health_path = "/healthz"
[[listen]]
address = "127.0.0.1:{port}"
proxy_protocol = true
[logs]
access_log = "-"
[timeouts]
worker_ready = 10
graceful = 10
drain_delay = {drain_delay}
""")


def v2_header(client: str, client_port: int) -> bytes:
    addresses = ipaddress.IPv4Address(client).packed + ipaddress.IPv4Address("127.0.0.1").packed
    payload = addresses + struct.pack("!HH", client_port, 80)
    return V2_SIGNATURE + b"\x21\x11" + struct.pack("!H", len(payload)) + payload


def exchange(port: int, *pieces: bytes, source: str | None = None) -> bytes:
    """Send ``pieces`` (a pause between them) on one connection; everything it answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=5,
                                  source_address=(source, 0) if source else None) as sock:
        for piece in pieces:
            sock.sendall(piece)
            time.sleep(0.05)
        chunks = []
        while chunk := sock.recv(65536):
            chunks.append(chunk)
        return b"".join(chunks)


def body_of(response: bytes) -> dict:
    head, _, body = response.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 200"), response[:200]
    return json.loads(body)


REQUEST = b"GET /who HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


def test_a_proxy_header_names_the_client_to_the_handler_and_the_access_log(start_master, tmp_path):
    master = start_master(["--config", proxy_config(tmp_path / "c.toml")])
    master.wait_for("ready")
    v1 = exchange(master.port, b"PROXY TCP4 192.0.2.7 127.0.0.1 40001 80\r\n" + REQUEST)
    assert body_of(v1)["client"] == ["192.0.2.7", 40001]
    header = v2_header("198.51.100.9", 40002)
    split_v2 = exchange(master.port, header[:10], header[10:], REQUEST)
    assert body_of(split_v2)["client"] == ["198.51.100.9", 40002]
    access = [master.wait_for("access", path="/who", count=n) for n in (1, 2)]
    assert [(a["remote_addr"], a["remote_port"], a["peer_addr"]) for a in access] == [
        ("192.0.2.7", 40001, "127.0.0.1"), ("198.51.100.9", 40002, "127.0.0.1")]


def test_a_local_header_keeps_the_peer_as_the_client(start_master, tmp_path):
    master = start_master(["--config", proxy_config(tmp_path / "c.toml")])
    master.wait_for("ready")
    local = V2_SIGNATURE + b"\x20\x00\x00\x00"  # a balancer's own health check
    assert body_of(exchange(master.port, local + REQUEST))["client"][0] == "127.0.0.1"


@pytest.mark.parametrize("first, reason", [
    (REQUEST, "no PROXY header"),
    (b"PROXY TCP4 192.0.2.7 127.0.0.1 99999 80\r\n" + REQUEST, "malformed port"),
    (V2_SIGNATURE + b"\x21\x11\xff\xff", "PROXY v2 header of 65535 bytes"),
])
def test_a_missing_or_malformed_header_closes_the_connection_with_one_line(start_master, tmp_path, first,
                                                                          reason):
    master = start_master(["--config", proxy_config(tmp_path / "c.toml")])
    master.wait_for("ready")
    assert exchange(master.port, first) == b""  # closed, nothing answered
    refused = master.wait_for("proxy_header_refused")
    assert reason in refused["reason"] and refused["client"].startswith("127.0.0.1:")
    assert body_of(exchange(master.port, b"PROXY UNKNOWN\r\n" + REQUEST))  # the worker goes on


def test_a_header_from_an_untrusted_peer_is_refused(start_master, tmp_path):
    master = start_master(["--config", proxy_config(tmp_path / "c.toml", trusted='["10.9.9.9"]')])
    master.wait_for("ready")
    assert exchange(master.port, b"PROXY TCP4 192.0.2.7 127.0.0.1 40001 80\r\n" + REQUEST) == b""
    assert "not in trusted_proxies" in master.wait_for("proxy_header_refused")["reason"]


def test_proxy_protocol_without_trusted_proxies_is_a_config_error(tmp_path):
    config = write_config(tmp_path / "c.toml", """
[[listen]]
address = "127.0.0.1:0"
proxy_protocol = true
""")
    done = subprocess.run(["pyhttpd", "--config", config, "--check-config"], capture_output=True, text=True,
                          timeout=30, env={"PATH": _venv_path()})
    assert done.returncode != 0 and "trusted_proxies" in done.stderr and "proxy_protocol" in done.stderr


def _venv_path() -> str:
    import os
    import sys
    return os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


# "timeout check": without it a health check must answer within "inter" (300 ms), and on a
# busy machine all three instances were marked down at once (haproxy answered 503s).
HAPROXY = """
global
    maxconn 1000
defaults
    mode http
    timeout connect 2s
    timeout check 3s
    timeout client 30s
    timeout server 30s
    retries 3
    option redispatch
    retry-on conn-failure empty-response response-timeout
frontend web
    bind 127.0.0.1:{front}
    default_backend pyhttpd
backend pyhttpd
    balance roundrobin
    option httpchk GET /healthz
    http-check expect status 200
    default-server send-proxy-v2 check inter 300ms fall 1 rise 1
{servers}
"""


def proxied_instances(start_master, tmp_path, drain_delay: float = 0) -> tuple[list, list, list]:
    """Three ready pyhttpd instances with proxy_protocol: (ports, config files, masters)."""
    ports = [free_port() for _ in range(3)]
    configs = [proxy_config(tmp_path / f"c{i}.toml", port=port, drain_delay=drain_delay)
               for i, port in enumerate(ports)]
    masters = [start_master(["--config", config]) for config in configs]
    for master in masters:
        master.wait_for("ready")
    return ports, configs, masters


def rolling_restart(start_master, masters: list, configs: list[str]) -> None:
    """Stop each instance (SIGTERM) and start it again, the next one only once the balancer
    sends the restarted one clients' requests again (its access log shows them)."""
    for index, config in enumerate(configs):
        masters[index].signal(signal.SIGTERM)
        masters[index].wait_exit(20)
        masters[index] = start_master(["--config", config])
        masters[index].wait_for("ready")
        masters[index].wait_for("access", path="/who", count=20, timeout=20)


@contextmanager
def haproxy_in_front(tmp_path, ports: list[int]) -> Iterator[int]:
    """Debian's HAProxy balancing ``ports`` with send-proxy-v2 and health checks; its port."""
    if shutil.which("haproxy") is None:
        pytest.fail("haproxy is not installed (scripts/test installs Debian's)")
    front = free_port()
    servers = "\n".join(f"    server p{i} 127.0.0.1:{port}" for i, port in enumerate(ports))
    (tmp_path / "haproxy.cfg").write_text(HAPROXY.format(front=front, servers=servers))
    haproxy = subprocess.Popen(["haproxy", "-f", str(tmp_path / "haproxy.cfg"), "-db"],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: _answers(front), 10), "haproxy did not start"
        yield front
    finally:
        haproxy.terminate()
        haproxy.wait(10)


@pytest.mark.slow
def test_haproxy_with_send_proxy_v2_rolling_restarts_lose_nothing(start_master, tmp_path):
    # Each instance's health check turns 503 for a second before it drains: haproxy (checking
    # every 300 ms) takes it out of the rotation first.
    ports, configs, masters = proxied_instances(start_master, tmp_path, drain_delay=1)
    with haproxy_in_front(tmp_path, ports) as front:
        load = KeepAliveClients(front, "/who", clients=20, source="127.0.0.2")  # haproxy: 127.0.0.1
        try:
            assert wait_until(lambda: load.ok > 200, 10)
            rolling_restart(start_master, masters, configs)
        finally:
            load.stop()
    assert load.failures == [] and load.ok > 1000, (load.failures[:5], load.ok)
    clients = {event["remote_addr"] for master in masters for event in master.find("access", path="/who")}
    peers = {event["peer_addr"] for master in masters for event in master.find("access", path="/who")}
    assert clients == {"127.0.0.2"} and peers == {"127.0.0.1"}  # the client's, then haproxy's
    print(f"\nhaproxy, 3 instances restarted in turn: {load.ok} requests, 0 failed")


def _answers(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=1) as sock:
            sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            return sock.recv(12).startswith(b"HTTP/1.1 200")
    except OSError:
        return False


# -- Forwarded / X-Forwarded-For ---------------------------------------------------------------

def forwarding_config(path, trusted: str, port: int = 0) -> str:
    return write_config(path, f"""
workers = 2
threads = 4
handler = "master_app:App"
trusted_proxies = {trusted}
[[listen]]
address = "127.0.0.1:{port}"
[logs]
access_log = "-"
[timeouts]
worker_ready = 10
graceful = 10
""")


FORWARDED_REQUEST = (b"GET /who HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 203.0.113.7\r\n"
                     b"X-Forwarded-Proto: https\r\nConnection: close\r\n\r\n")


def test_x_forwarded_for_from_a_trusted_peer_names_the_client(start_master, tmp_path):
    master = start_master(["--config", forwarding_config(tmp_path / "c.toml", '["127.0.0.1"]')])
    master.wait_for("ready")
    forwarded = body_of(exchange(master.port, FORWARDED_REQUEST))
    assert (forwarded["client"], forwarded["scheme"]) == (["203.0.113.7", 0], "https")
    plain = body_of(exchange(master.port, REQUEST))  # the next client may be direct
    assert (plain["client"][0], plain["scheme"]) == ("127.0.0.1", "http")
    first, second = (master.wait_for("access", path="/who", count=n) for n in (1, 2))
    assert (first["remote_addr"], first["peer_addr"]) == ("203.0.113.7", "127.0.0.1")
    assert (second["remote_addr"], second["peer_addr"]) == ("127.0.0.1", None)


def test_x_forwarded_for_from_an_untrusted_peer_is_logged_as_what_it_is(start_master, tmp_path):
    master = start_master(["--config", forwarding_config(tmp_path / "c.toml", '["10.9.9.9"]')])
    master.wait_for("ready")
    untrusted = body_of(exchange(master.port, FORWARDED_REQUEST))
    assert (untrusted["client"][0], untrusted["scheme"]) == ("127.0.0.1", "http")
    access = master.wait_for("access", path="/who")
    assert (access["remote_addr"], access["peer_addr"]) == ("127.0.0.1", None)


NGINX = """
user root;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/nginx-error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {tmp}/body;
    proxy_temp_path {tmp}/proxy;
    upstream pyhttpd {{
{servers}
        keepalive 32;
    }}
    server {{
        listen 127.0.0.1:{front};
        location / {{
            proxy_pass http://pyhttpd;
            proxy_http_version 1.1;
            proxy_set_header Connection "";
            proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
            proxy_next_upstream error timeout http_502;
        }}
    }}
}}
"""


@pytest.mark.slow
def test_nginx_with_x_forwarded_for_rolling_restarts_lose_nothing(start_master, tmp_path):
    if shutil.which("nginx") is None and not Path("/usr/sbin/nginx").exists():
        pytest.fail("nginx is not installed (scripts/test installs Debian's nginx-light)")
    ports = [free_port() for _ in range(3)]
    configs = [forwarding_config(tmp_path / f"c{i}.toml", '["127.0.0.1"]', port)
               for i, port in enumerate(ports)]
    masters = [start_master(["--config", config]) for config in configs]
    for master in masters:
        master.wait_for("ready")
    front = free_port()
    servers = "\n".join(f"        server 127.0.0.1:{port} max_fails=1 fail_timeout=1s;" for port in ports)
    (tmp_path / "nginx.conf").write_text(NGINX.format(tmp=tmp_path, front=front, servers=servers))
    nginx = subprocess.Popen(["/usr/sbin/nginx", "-c", str(tmp_path / "nginx.conf"), "-g", "daemon off;"],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert wait_until(lambda: _answers(front), 10), "nginx did not start"
        forged = exchange(front, b"GET /who HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: 6.6.6.6\r\n"
                                 b"Connection: close\r\n\r\n", source="127.0.0.3")
        assert body_of(forged)["client"][0] == "127.0.0.3"  # who connected to nginx, not 6.6.6.6
        load = KeepAliveClients(front, "/who", clients=20, source="127.0.0.2")
        try:
            assert wait_until(lambda: load.ok > 200, 10)
            rolling_restart(start_master, masters, configs)
        finally:
            load.stop()
    finally:
        nginx.terminate()
        nginx.wait(10)
    assert load.failures == [] and load.ok > 1000, (load.failures[:5], load.ok)
    events = [event for master in masters for event in master.find("access", path="/who")]
    clients = {(e["remote_addr"], e["peer_addr"]) for e in events}  # the forged one's master may be gone
    assert ("127.0.0.2", "127.0.0.1") in clients
    assert clients <= {("127.0.0.2", "127.0.0.1"), ("127.0.0.3", "127.0.0.1")}
    print(f"\nnginx, 3 instances restarted in turn: {load.ok} requests, 0 failed")


# -- a drain the balancer can see ----------------------------------------------------------------

def test_term_with_a_drain_delay_turns_the_health_check_503_while_serving_on(start_master, tmp_path):
    admin = tmp_path / "admin.sock"
    top = f'handler = "master_app:App"\nhealth_path = "/healthz"\nadmin.listen = "unix:{admin}"'
    config = master_config(tmp_path / "c.toml", top, "drain_delay = 2", access_log="-")
    master = start_master(["--config", config])
    master.wait_for("ready")
    port = master.port
    health = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
    assert exchange(port, health).startswith(b"HTTP/1.1 200 OK") and b"ready\n" in exchange(port, health)
    master.signal(signal.SIGTERM)
    announced = master.wait_for("drain_announced")
    assert announced["delay_s"] == 2
    assert wait_until(lambda: exchange(port, health).startswith(b"HTTP/1.1 503"), 1.5)
    status, _, body = admin_get(str(admin), "/ready")
    assert (status, body) == (503, "not ready: stop announced\n")
    assert body_of(exchange(port, REQUEST))["path"] == "/who"  # still served, still accepted
    stopping = master.wait_for("stopping", timeout=5)
    assert stopping["_received"] - announced["_received"] >= 1.9
    assert master.wait_exit(15) == 0
    assert not master.find("access", path="/healthz")  # health checks are not logged


@pytest.mark.slow
def test_haproxy_kill_9_of_an_instance_fails_at_most_its_requests_in_flight(start_master, tmp_path):
    ports, _, masters = proxied_instances(start_master, tmp_path)
    with haproxy_in_front(tmp_path, ports) as front:
        load = KeepAliveClients(front, "/sleep?s=0.05", clients=20)  # requests in flight when killed
        try:
            assert wait_until(lambda: load.ok > 200, 10)
            os.killpg(masters[1].pid, signal.SIGKILL)  # the master and its workers, unannounced
            served_at_kill = load.ok
            assert wait_until(lambda: load.ok > served_at_kill + 500, 20)
        finally:
            load.stop()
    # Each client has at most one request in flight: those on the killed instance may fail
    # (haproxy retries those with no response byte yet); nothing else may.
    assert len(load.failures) <= 20, load.failures[:5]
    total = load.ok + len(load.failures)
    print(f"\nkill -9 of 1 of 3 instances behind haproxy: {len(load.failures)} failed of {total}")
