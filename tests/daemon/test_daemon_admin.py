"""The admin listener of a real master: metrics scraped under load, readiness through a drain."""

import http.client
import json
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time

from support.http import UnixHTTPConnection, get
from support.master import master_config, write_config

SAMPLE = re.compile(r'^(pyhttpd_\w+)(\{[^}]*\})? (\S+)$')


def admin_get(path: str, target: str) -> tuple[int, str, str]:
    """(status, content type, body) of GET ``target`` on the admin socket ``path``."""
    conn = UnixHTTPConnection(path)
    try:
        conn.request("GET", target)
        response = conn.getresponse()
        return response.status, response.getheader("Content-Type", ""), response.read().decode()
    finally:
        conn.close()


def scrape(path: str) -> dict[str, float]:
    """The metrics as {"name{labels}": value}; every line is a comment or a sample."""
    status, content_type, text = admin_get(path, "/metrics")
    assert status == 200 and content_type.startswith("text/plain; version=0.0.4")
    samples = {}
    for line in text.splitlines():
        if line.startswith("# HELP ") or line.startswith("# TYPE "):
            continue
        match = SAMPLE.match(line)
        assert match, f"not a sample: {line!r}"
        samples[match.group(1) + (match.group(2) or "")] = float(match.group(3))
    return samples


def total(samples: dict[str, float], prefix: str) -> float:
    return sum(value for key, value in samples.items() if key.startswith(prefix))


def wait_metrics(path: str, predicate, timeout: float = 10.0) -> dict[str, float]:
    deadline = time.monotonic() + timeout
    while True:
        samples = scrape(path)
        if predicate(samples):
            return samples
        assert time.monotonic() < deadline, f"metrics never matched: {samples}"
        time.sleep(0.1)


def static_site_config(tmp_path, site, admin, extra: str = "") -> str:
    return write_config(tmp_path / "pyhttpd.toml", f"""
workers = 3
threads = 4
directory = "{site}"
admin.listen = "unix:{admin}"
{extra}
[[listen]]
address = "127.0.0.1:0"
name = "web"
[logs]
access_log = "{tmp_path / 'access.log'}"
[timeouts]
worker_ready = 10
graceful = 10
""")


def client(port: int, paths: list[str], keep_alive: bool, outcomes: list) -> None:
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    for path in paths:
        try:
            if not keep_alive:
                conn.close()
            conn.request("GET", path)
            response = conn.getresponse()
            response.read()
            outcomes.append(response.status)
        except (OSError, http.client.HTTPException) as error:
            outcomes.append(error)
            conn.close()
    conn.close()


def test_metrics_scraped_during_a_load_equal_the_requests_sent(start_master, tmp_path, site):
    admin = tmp_path / "admin.sock"
    master = start_master(["--config", static_site_config(tmp_path, site, admin)])
    master.wait_for("ready")
    assert master.wait_for("admin_listening")["address"] == f"unix:{admin}"
    assert admin.stat().st_mode & 0o777 == 0o600
    port = master.port
    outcomes: list = []
    paths = ["/index.txt"] * 150 + ["/missing"] * 25
    clients = [threading.Thread(target=client, args=(port, paths, index % 2 == 0, outcomes))
               for index in range(4)]
    for thread in clients:
        thread.start()
    scrapes = []
    deadline = time.monotonic() + 60
    while any(thread.is_alive() for thread in clients) and time.monotonic() < deadline:
        scrapes.append(scrape(str(admin)))  # during the load: each must parse, none may go down
        time.sleep(0.02)
    for thread in clients:
        thread.join(30)
    assert outcomes.count(200) == 600 and outcomes.count(404) == 100, outcomes[:5]
    assert len(scrapes) >= 3
    served = [total(s, "pyhttpd_requests_total") for s in scrapes]
    assert served == sorted(served) and 0 < served[-1] <= 700
    samples = wait_metrics(str(admin), lambda s: total(s, "pyhttpd_requests_total") == 700)
    assert samples['pyhttpd_requests_total{listener="web",class="2xx"}'] == 600
    assert samples['pyhttpd_requests_total{listener="web",class="4xx"}'] == 100
    assert samples["pyhttpd_workers{state=\"ready\"}"] == 3 and samples["pyhttpd_ready"] == 1
    assert samples["pyhttpd_worker_starts_total"] == 3 and samples["pyhttpd_worker_exits_total"] == 0
    # Bytes: what the access log says each response sent, summed.
    logged = [json.loads(line) for line in (tmp_path / "access.log").read_text().splitlines()]
    assert len(logged) == 700
    assert samples['pyhttpd_sent_bytes_total{listener="web"}'] == sum(line["bytes_sent"] for line in logged)

    # Workers that exit keep their counts: one fewer (TTOU), then a reload replacing them all.
    master.signal(signal.SIGTTOU)
    master.wait_for("worker_exited")
    master.signal(signal.SIGHUP)
    master.wait_for("reload_end")
    assert get(port, "/index.txt")[0] == 200
    samples = wait_metrics(str(admin), lambda s: total(s, "pyhttpd_requests_total") == 701
                           and s["pyhttpd_worker_exits_total"] == 3)
    assert samples['pyhttpd_reloads_total{outcome="ok"}'] == 1
    assert samples["pyhttpd_worker_starts_total"] == 5 and samples["pyhttpd_generation"] == 2
    assert samples['pyhttpd_sent_bytes_total{listener="web"}'] > sum(line["bytes_sent"] for line in logged)

    status, content_type, body = admin_get(str(admin), "/status")
    assert status == 200 and content_type == "application/json"
    assert json.loads(body)["generation"] == 2
    assert admin_get(str(admin), "/nothing")[0] == 404
    config = tmp_path / "pyhttpd.toml"
    config.write_text(config.read_text().replace("workers = 3", "workers = 0"))
    mark = master.mark()
    master.signal(signal.SIGHUP)
    master.wait_for("reload_failed", since=mark)
    samples = wait_metrics(str(admin), lambda s: s['pyhttpd_reloads_total{outcome="failed"}'] == 1)
    assert samples['pyhttpd_reloads_total{outcome="ok"}'] == 1 and samples["pyhttpd_ready"] == 1
    master.signal(signal.SIGTERM)
    assert master.wait_exit(15) == 0
    assert not admin.exists()  # removed at exit


def test_readiness_is_503_while_the_master_drains(start_master, tmp_path):
    admin = tmp_path / "admin.sock"
    top = f'handler = "master_app:App"\nadmin.listen = "unix:{admin}"'
    config = master_config(tmp_path / "pyhttpd.toml", top, workers=1, graceful=20)
    master = start_master(["--config", config])
    master.wait_for("ready")
    # A client that sends half a request and waits holds nothing up: the master's loop never
    # waits on one.
    stalled = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    stalled.connect(str(admin))
    stalled.sendall(b"GET /rea")
    status, _, body = admin_get(str(admin), "/ready")
    assert (status, body) == (200, "ready: generation 1\n")
    stalled.close()
    answered = []
    slow = threading.Thread(target=lambda: answered.append(get(master.port, "/sleep?s=3", timeout=15)[0]))
    slow.start()
    deadline = time.monotonic() + 10
    while not scrape(str(admin))["pyhttpd_requests_in_flight"]:
        assert time.monotonic() < deadline, "the slow request never showed in flight"
        time.sleep(0.05)
    master.signal(signal.SIGTERM)
    master.wait_for("stopping")
    status, _, body = admin_get(str(admin), "/ready")
    assert (status, body) == (503, "not ready: stopping\n")
    assert scrape(str(admin))["pyhttpd_ready"] == 0
    slow.join(15)
    assert answered == [200]  # the drain let it finish
    assert master.wait_exit(15) == 0


def test_the_admin_address_is_never_a_public_one(tmp_path):
    done = subprocess.run([sys.executable, "-m", "pyhttpd.daemon", "8123", "-b", "127.0.0.1",
                           "--admin-listen", "127.0.0.1:8123", "--check-config"],
                          capture_output=True, text=True, timeout=20)
    assert done.returncode == 1
    assert "--admin-listen: 127.0.0.1:8123 is also a public listener" in done.stderr
    auto = subprocess.run([sys.executable, "-m", "pyhttpd.daemon", "0", "-b", "127.0.0.1",
                           "-d", str(tmp_path), "--admin-listen", "auto"],
                          capture_output=True, text=True, timeout=20,
                          env={k: v for k, v in os.environ.items() if k != "RUNTIME_DIRECTORY"})
    assert auto.returncode == 1 and "needs $RUNTIME_DIRECTORY" in auto.stderr
