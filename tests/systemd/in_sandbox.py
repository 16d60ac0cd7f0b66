"""The steps of the systemd tests, run INSIDE a throwaway systemd (systemd_sandbox.py).

    tests/systemd/systemd_sandbox.py -b "$PWD" -b OUTDIR -- \
        .venv/bin/python tests/systemd/in_sandbox.py SCENARIO OUTDIR

Installs pyhttpd with scripts/install-systemd (the shipped units, only paths substituted),
then runs the scenario's steps with systemctl, curl and a stream of HTTP clients. Each step
is recorded in OUTDIR/SCENARIO.json ({"steps": [{name, ok, detail, seconds}], "artefacts":
{...}}); the first failing step ends the scenario. test_systemd_sandbox.py, on the host,
reads that file and asserts. Standard library and tests/support only (test_systemd_sandbox.py
puts tests/ on PYTHONPATH): this runs as root in the sandbox, with the checkout's interpreter.
"""

import http.client
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import traceback
from pathlib import Path

from support.http import get as http_get

REPO = Path(__file__).resolve().parents[2]
CONFIG = Path("/etc/pyhttpd/pyhttpd.toml")
DOC_ROOT = Path("/srv/pyhttpd")
PORT = 8080
STEP_TIMEOUT_S = 30.0


class StepFailed(AssertionError):
    """A check of a step did not hold; the message says what was seen."""


def check(condition: bool, message: str) -> None:
    if not condition:
        raise StepFailed(message)


# --- commands -----------------------------------------------------------------------------------


def run(*command: str, timeout: float = STEP_TIMEOUT_S, ok: bool = True) -> subprocess.CompletedProcess:
    """Run ``command``; with ``ok``, fail the step unless it exits 0."""
    done = subprocess.run(command, capture_output=True, text=True, timeout=timeout)
    if ok and done.returncode != 0:
        raise StepFailed(f"{' '.join(command)} exited {done.returncode}:\n{done.stdout}{done.stderr}")
    return done


def prop(unit: str, name: str) -> str:
    return run("systemctl", "show", "-p", name, "--value", unit).stdout.strip()


def wait_until(what: str, predicate, timeout: float = 15.0, interval: float = 0.05):
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            raise StepFailed(f"not within {timeout:g}s: {what}")
        time.sleep(interval)


def write_config(**extra: str) -> None:
    """The installed config, plus test settings: two workers, a marker header, ``extra``."""
    marker = extra.pop("marker", "v1")
    lines = [
        f'directory = "{DOC_ROOT}"',
        "workers = 2",
        f'response_headers = [["X-Config", "{marker}"]]',
        *(f"{key} = {value}" for key, value in extra.items()),
        "",
        "[[listen]]",
        f'address = "[::]:{PORT}"',
        'name = "http"',
        "",
        "[timeouts]",
        "graceful = 10",
    ]
    CONFIG.write_text("\n".join(lines) + "\n")


def _catches_hup(pid: str) -> bool:
    """Whether process ``pid`` has a handler for SIGHUP (/proc/PID/status, SigCgt)."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    caught = next(line.split()[1] for line in status.splitlines() if line.startswith("SigCgt:"))
    return bool(int(caught, 16) & (1 << (signal.SIGHUP - 1)))


def _listening(port: int) -> bool:
    """Whether a TCP socket listens on ``port`` (state 0A in /proc/net/tcp and tcp6)."""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].endswith(f":{port:04X}") and fields[3] == "0A":
                return True
    return False


def get(path: str = "/", timeout: float = 10.0, unix: str | None = None) -> tuple[int, dict, bytes]:
    """One GET on a fresh connection to the site (or the unix socket ``unix``): (status,
    headers with lower-case names, body)."""
    status, headers, body = http_get(PORT, path, timeout, unix=unix)
    return status, {name.lower(): value for name, value in headers.items()}, body


SITE_SOCKET = "/run/pyhttpd-site.sock"  # pyhttpd@site.socket's


def write_site_config(extra: str = "") -> None:
    """/etc/pyhttpd/site.toml, the config of pyhttpd@site: one worker, its admin socket."""
    Path("/etc/pyhttpd/site.toml").write_text(
        f'directory = "{DOC_ROOT}"\nworkers = 1\nadmin.listen = "auto"\n{extra}'
        f'[[listen]]\naddress = "unix:{SITE_SOCKET}"\nname = "http"\n')


def curl_code(url: str = f"http://127.0.0.1:{PORT}/") -> str:
    return run("curl", "-sS", "--max-time", "10", "-o", "/dev/null", "-w", "%{http_code}", url,
               ok=False).stdout


class Stream:
    """Clients sending GET / back to back until ``stop``: every response must be a 200 (a
    refused or failed request is recorded). With ``keep_alive`` each client reuses one
    connection and never retries, as http.client and requests do: a request lost when a
    worker retires is a failure; without it each request has a fresh connection."""

    def __init__(self, clients: int = 4, keep_alive: bool = False) -> None:
        self.results: list[tuple[float, object]] = []
        self.markers: list[str] = []
        self.keep_alive = keep_alive
        self._stop = threading.Event()
        self._lock = threading.Lock()
        self._threads = [threading.Thread(target=self._client, daemon=True) for _ in range(clients)]

    def __enter__(self) -> "Stream":
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self.stop()

    def _client(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", PORT, timeout=15.0)
        while not self._stop.is_set():
            at = time.monotonic()
            try:
                if self.keep_alive:
                    conn.request("GET", "/")
                    response = conn.getresponse()
                    response.read()
                    outcome: object = response.status
                    marker = response.getheader("x-config", "")
                else:
                    status, headers, _ = get(timeout=15.0)
                    outcome, marker = status, headers.get("x-config", "")
            except (OSError, http.client.HTTPException) as error:
                outcome, marker = f"{type(error).__name__}: {error}", ""
                conn.close()  # the next request opens a new connection; this one is not retried
            with self._lock:
                self.results.append((at, outcome))
                self.markers.append(marker)
        conn.close()

    def stop(self) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join(30)

    def failures(self) -> list:
        return [outcome for _, outcome in self.results if outcome != 200]

    def summary(self) -> str:
        return f"{len(self.results)} requests, {len(self.failures())} failed: {self.failures()[:5]}"

    def served(self, count: int, what: str, timeout: float = STEP_TIMEOUT_S) -> None:
        """Wait until ``count`` more requests than now have been answered (200 or not): the
        clients are under way, or have gone on for a while."""
        with self._lock:
            target = len(self.results) + count
        wait_until(what, lambda: len(self.results) >= target, timeout)


def journal(*args: str) -> str:
    return run("journalctl", "--no-pager", *args).stdout


def service_output() -> list[str]:
    """What pyhttpd.service's own processes wrote to the journal: their standard output and
    error, not the lines systemd logs about the unit (nor, at debug level, from its forks)."""
    return journal("_SYSTEMD_UNIT=pyhttpd.service", "_TRANSPORT=stdout", "-o", "cat").splitlines()


def notify_messages(pid: str | None = None) -> list[str]:
    """The sd_notify messages systemd logged receiving (log level debug), oldest first."""
    lines = journal("-u", "pyhttpd.service", "-o", "cat").splitlines()
    pattern = re.compile(r"Got notification message from PID (\d+) \((.*)\)$")
    found = []
    for line in lines:
        match = pattern.search(line)
        if match and (pid is None or match.group(1) == pid):
            found.append(f"PID {match.group(1)}: {match.group(2)}")
    return found


# --- the scenarios ------------------------------------------------------------------------------


class Scenario:
    """Runs steps in order, recording each; stops at the first failure."""

    def __init__(self, name: str, outdir: Path) -> None:
        self.name = name
        self.out = outdir / f"{name}.json"
        self.steps: list[dict] = []
        self.artefacts: dict[str, object] = {}
        self.failed = False

    def step(self, name: str, function, *args) -> object:
        if self.failed:
            return None
        started = time.monotonic()
        record = {"name": name, "ok": True, "detail": ""}
        try:
            result = function(*args)
            if isinstance(result, str):
                record["detail"] = result
            return result
        except Exception as error:  # noqa: BLE001 - every failure is recorded, whatever it is
            self.failed = True
            record["ok"] = False
            record["detail"] = f"{error}" if isinstance(error, StepFailed) else traceback.format_exc()
            return None
        finally:
            record["seconds"] = round(time.monotonic() - started, 3)
            self.steps.append(record)
            print(f"{'ok  ' if record['ok'] else 'FAIL'} {record['seconds']:6.2f}s {name}"
                  f"{': ' + record['detail'] if record['detail'] else ''}", flush=True)
            self.save()

    def save(self) -> None:
        self.out.write_text(json.dumps({"scenario": self.name, "steps": self.steps,
                                        "artefacts": self.artefacts}, indent=1))

    def finish(self) -> int:
        if self.failed:
            self.artefacts["journal_tail"] = journal("-b", "-n", "100", "-o", "short-monotonic")
            self.artefacts["service_output_tail"] = [line for line in service_output()
                                                     if '"access"' not in line][-60:]
            self.save()
        return 1 if self.failed else 0


def install(s: Scenario) -> None:
    def do() -> str:
        done = run(str(REPO / "scripts" / "install-systemd"), timeout=60)
        s.artefacts["install_output"] = done.stdout
        check("created the system user pyhttpd" in done.stdout, done.stdout)
        return done.stdout.splitlines()[0]
    s.step("scripts/install-systemd installs the units, a config, a user", do)
    s.step("systemd-analyze verify passes on the installed units", lambda: run(
        "systemd-analyze", "verify", "/etc/systemd/system/pyhttpd.service",
        "/etc/systemd/system/pyhttpd.socket", "/etc/systemd/system/pyhttpd@site.service",
        "/etc/systemd/system/pyhttpd@site.socket") and "")

    def man_and_logrotate() -> str:
        page = run("man", "-w", "pyhttpd").stdout.strip()  # /usr/local/man is a link on Debian
        check(Path(page).resolve() == Path("/usr/local/share/man/man8/pyhttpd.8").resolve(),
              f"man -w pyhttpd: {page!r}")
        shipped = (REPO / "systemd/pyhttpd.logrotate").read_text()
        check(Path("/etc/logrotate.d/pyhttpd").read_text() == shipped,
              "/etc/logrotate.d/pyhttpd is not systemd/pyhttpd.logrotate")
        run("logrotate", "-d", "/etc/logrotate.d/pyhttpd")
        return page
    s.step("the man page pyhttpd(8) and /etc/logrotate.d/pyhttpd are installed", man_and_logrotate)
    def security() -> str:
        done = run("systemd-analyze", "security", "--no-pager", "pyhttpd.service")
        score = re.search(r"Overall exposure level for pyhttpd.service: (.*)", done.stdout)
        check(score is not None, done.stdout)
        s.artefacts["security"] = done.stdout
        return score.group(1)
    s.step("systemd-analyze security pyhttpd.service (as installed, with drop-ins)", security)
    s.step("debug logging, so systemd logs each sd_notify message", lambda: run(
        "systemd-analyze", "log-level", "debug") and "")


def start_socket_and_activate(s: Scenario) -> str:
    def start() -> str:
        run("systemctl", "start", "pyhttpd.socket")
        check(prop("pyhttpd.socket", "SubState") == "listening", "pyhttpd.socket is not listening")
        state = prop("pyhttpd.service", "ActiveState")
        check(state == "inactive", f"pyhttpd.service is {state} before any connection")
        return "pyhttpd.socket listening, pyhttpd.service inactive"
    s.step("1. systemctl start pyhttpd.socket", start)

    def first_curl() -> str:
        code = curl_code()
        check(code == "200", f"curl got {code!r}")
        # A worker may answer before the last one is ready, i.e. before READY=1: "activating".
        wait_until("pyhttpd.service active", lambda: prop("pyhttpd.service", "ActiveState") == "active")
        pid = prop("pyhttpd.service", "MainPID")
        s.artefacts["first_pid"] = pid
        return f"200 from MainPID {pid}"
    s.step("2. the first curl activates pyhttpd.service and gets a 200", first_curl)
    return s.artefacts.get("first_pid", "")


def scenario_main(s: Scenario) -> None:
    install(s)
    write_config(marker="v1")
    start_socket_and_activate(s)
    pid = s.artefacts.get("first_pid")

    def reload_ok() -> str:
        write_config(marker="v2")
        with Stream(clients=20, keep_alive=True) as stream:
            stream.served(40, "the stream under way")
            started = time.monotonic()
            done = run("systemctl", "reload", "pyhttpd", ok=False, timeout=60)
            took = time.monotonic() - started
            after = [get() for _ in range(5)]  # new connections, right after reload returned
            stream.served(40, "the stream going on after the reload")
        check(done.returncode == 0, f"systemctl reload exited {done.returncode}: {done.stderr}")
        check(all(status == 200 and h.get("x-config") == "v2" for status, h, _ in after),
              f"after reload returned: {[(st, h.get('x-config')) for st, h, _ in after]}")
        check(not stream.failures(), stream.summary())
        check(prop("pyhttpd.service", "MainPID") == pid, "MainPID changed")
        s.artefacts["reload_seconds"] = round(took, 3)
        return f"reload returned in {took:.2f}s; v2 served at once; stream: {stream.summary()}"
    s.step("3a. systemctl reload during a stream: no failed request, new config served on return", reload_ok)

    def reload_broken() -> str:
        CONFIG.write_text(CONFIG.read_text().replace("workers = 2", "workers = 0"))
        with Stream() as stream:
            stream.served(10, "the stream under way")
            done = run("systemctl", "reload", "pyhttpd", ok=False, timeout=60)
            after = [get() for _ in range(3)]
        check(done.returncode != 0, "systemctl reload exited 0 with a broken config")
        check(all(status == 200 and h.get("x-config") == "v2" for status, h, _ in after),
              f"after the failed reload: {[(st, h.get('x-config')) for st, h, _ in after]}")
        check(not stream.failures(), stream.summary())
        failed = [line for line in service_output() if '"reload_failed"' in line]
        check(any("workers" in line for line in failed), f"no reload_failed line naming workers: {failed}")
        s.artefacts["failed_reload_stderr"] = done.stderr.strip()
        return f"exit {done.returncode}: {done.stderr.strip()}; old config still served; {stream.summary()}"
    s.step("3b. a broken config: systemctl reload exits non-zero, the old config is still served",
           reload_broken)

    def show() -> str:
        shown = run("systemctl", "show", "pyhttpd", "-p", "StatusText,MainPID,ActiveState").stdout
        s.artefacts["systemctl_show"] = shown
        fields = dict(line.split("=", 1) for line in shown.splitlines() if "=" in line)
        check(fields.get("ActiveState") == "active", shown)
        check(fields.get("MainPID") == pid, shown)
        status = fields.get("StatusText", "")
        check(re.match(r"Serving generation \d+: 2 workers \(\d busy, \d idle\)\. Last reload failed", status)
              is not None, f"StatusText: {status!r}")
        s.artefacts["systemctl_status"] = run("systemctl", "status", "pyhttpd", "--no-pager", "-n", "0",
                                              ok=False).stdout
        return status
    s.step("4. systemctl show pyhttpd -p StatusText,MainPID,ActiveState reflects STATUS=", show)

    def stop() -> str:
        run("systemctl", "stop", "pyhttpd.service")
        result = {name: prop("pyhttpd.service", name) for name in ("ActiveState", "Result", "ExecMainStatus")}
        check(result == {"ActiveState": "inactive", "Result": "success", "ExecMainStatus": "0"}, str(result))
        run("systemctl", "stop", "pyhttpd.socket")
        check(curl_code() == "000", "the port still answers after stopping the socket")
        messages = notify_messages(pid)
        s.artefacts["notify_messages"] = messages
        keys = [m.split(": ", 1)[1] for m in messages]
        sequence = [k for m in keys for k in ("READY=1", "RELOADING=1", "STOPPING=1") if k in m.split(", ")]
        check(sequence == ["READY=1", "RELOADING=1", "READY=1", "RELOADING=1", "READY=1", "STOPPING=1"],
              f"sequence {sequence}")
        return f"{result}; systemd received {sequence}"
    s.step("5. systemctl stop exits cleanly (exit 0, Result=success)", stop)

    def journal_json() -> str:
        lines = service_output()
        records = []
        for line in lines:
            try:
                records.append(json.loads(line))
            except ValueError:
                raise StepFailed(f"not JSON: {line!r}") from None
        events = {record.get("event") for record in records}
        for wanted in ("start", "ready", "access", "reload_end", "reload_failed", "reload_done", "stop"):
            check(wanted in events, f"no {wanted!r} event among {sorted(map(str, events))}")
        s.artefacts["journal_cat_head"] = lines[:6]
        return f"{len(records)} lines, all JSON objects; events include start/ready/access/reload/stop"
    s.step("6. journalctl -u pyhttpd -o cat: the service's lines are JSON that parses", journal_json)

    def journal_priorities() -> str:
        errors = journal("_SYSTEMD_UNIT=pyhttpd.service", "_TRANSPORT=stdout", "-p", "err", "-o", "cat")
        found = [json.loads(line) for line in errors.splitlines()]  # the prefix is gone: JSON
        check(any(r["event"] == "reload_failed" for r in found), f"no reload_failed at -p err: {errors!r}")
        check({r["level"] for r in found} <= {"error", "critical"}, f"not errors: {errors!r}")
        return f"{len(found)} lines at -p err: {sorted({r['event'] for r in found})}"
    s.step("6b. journalctl -p err: the reload_failed lines, and no line below error", journal_priorities)

    def template() -> str:
        write_config(marker="v2")  # 3b left it broken
        write_site_config()
        run("systemctl", "start", "pyhttpd.socket", "pyhttpd@site.socket")
        check(curl_code() == "200", "pyhttpd.socket did not answer 200")
        status, _, body = get(unix=SITE_SOCKET)
        check(status == 200, f"got {status}")
        for unit in ("pyhttpd.service", "pyhttpd@site.service"):
            wait_until(f"{unit} active", lambda unit=unit: prop(unit, "ActiveState") == "active")
        run("systemctl", "reload", "pyhttpd@site", timeout=60)
        # pyhttpd status finds each master, and each has its own admin socket ("auto").
        site_pid = int(prop("pyhttpd@site.service", "MainPID"))
        reports = {}
        for args, unit in ((("site",), "pyhttpd@site.service"), ((), "pyhttpd.service")):
            done = run(sys.executable, "-m", "pyhttpd.daemon", "status", *args, "--json")
            reports[unit] = json.loads(done.stdout)
            check(reports[unit]["pid"] == int(prop(unit, "MainPID")), f"{unit}: {done.stdout[:300]}")
        check(reports["pyhttpd@site.service"]["generation"] == 2, "the site's reload is not in its status")
        s.artefacts["status_site"] = run(sys.executable, "-m", "pyhttpd.daemon", "status", "site").stdout
        ready = get("/ready", unix="/run/pyhttpd-site/admin.sock")
        check(ready[0] == 200 and ready[2] == b"ready: generation 2\n", f"/ready: {ready}")
        metrics = get("/metrics", unix="/run/pyhttpd-site/admin.sock")[2].decode()
        check('pyhttpd_requests_total{listener="http",class="2xx"} 1' in metrics, metrics[:2000])
        return (f"{SITE_SOCKET} -> 200 (MainPID {site_pid}); reload ok; pyhttpd status [site] name each "
                "master; /run/pyhttpd-site/admin.sock answers /ready and /metrics")
    s.step("templates: pyhttpd@site.socket serves /etc/pyhttpd/site.toml; status and admin per instance",
           template)

    def main_unit_leaves_instances() -> str:
        site_pid = prop("pyhttpd@site.service", "MainPID")
        seen = []
        for action in ("stop", "restart"):
            run("systemctl", action, "pyhttpd.service", timeout=60)
            check(Path(SITE_SOCKET).is_socket(), f"{SITE_SOCKET} is gone after {action} pyhttpd.service")
            check(Path("/run/pyhttpd-site/pyhttpd.state").exists(), f"the site's run state went ({action})")
            status, _, _ = get(unix=SITE_SOCKET)
            check(status == 200, f"the site answered {status} after {action} pyhttpd.service")
            check(prop("pyhttpd@site.service", "MainPID") == site_pid, "the site's master was replaced")
            seen.append(f"{action}: site 200 from MainPID {site_pid}")
        run(sys.executable, "-m", "pyhttpd.daemon", "status", "site")
        return "; ".join(seen)
    s.step("stop and restart of pyhttpd.service leave pyhttpd@site serving", main_unit_leaves_instances)

    def instances_leave_main_unit() -> str:
        check(curl_code() == "200", "pyhttpd.service does not answer")
        main_pid = prop("pyhttpd.service", "MainPID")
        seen = []
        for action in ("stop", "restart"):
            run("systemctl", action, "pyhttpd@site.service", timeout=60)
            check(Path("/run/pyhttpd/pyhttpd.state").exists(), f"/run/pyhttpd lost its run state ({action})")
            check(curl_code() == "200", f"pyhttpd.service did not answer after {action} of the site")
            check(prop("pyhttpd.service", "MainPID") == main_pid, "the main master was replaced")
            status, _, _ = get(unix=SITE_SOCKET)  # the site's socket starts it again
            check(status == 200, f"the site answered {status} after its {action}")
            seen.append(f"{action}: main 200 from MainPID {main_pid}, site 200 again")
        run("systemctl", "stop", "pyhttpd.service", "pyhttpd.socket", "pyhttpd@site.service",
            "pyhttpd@site.socket")
        return "; ".join(seen)
    s.step("stop and restart of pyhttpd@site.service leave pyhttpd.service serving",
           instances_leave_main_unit)

    def early_reload() -> str:
        write_config(marker="v3")
        run("systemctl", "start", "--no-block", "pyhttpd.service")
        time.sleep(0.05)
        reload = run("systemctl", "reload", "pyhttpd.service", ok=False, timeout=60)
        check(reload.returncode == 0, f"systemctl reload exited {reload.returncode}: {reload.stderr}")
        check(prop("pyhttpd.service", "ActiveState") == "active", "pyhttpd.service is not active")
        first = prop("pyhttpd.service", "MainPID")
        run("systemctl", "stop", "pyhttpd.service")
        # A HUP straight to the master while it starts: as soon as it holds signals (its
        # first instruction), before it listens (its loop's own handlers come after that).
        run("systemctl", "start", "--no-block", "pyhttpd.service")
        pid = wait_until("a MainPID", lambda: prop("pyhttpd.service", "MainPID") not in ("", "0")
                         and prop("pyhttpd.service", "MainPID"), timeout=10)
        wait_until("the master holding HUP before it listens",
                   lambda: _catches_hup(pid) and not _listening(PORT), timeout=10, interval=0.001)
        state = prop("pyhttpd.service", "ActiveState")
        run("systemctl", "kill", "--kill-who=main", "-s", "HUP", "pyhttpd.service")
        wait_until("pyhttpd.service active", lambda: prop("pyhttpd.service", "ActiveState") == "active")
        status, headers, _ = get()
        check(status == 200 and headers.get("x-config") == "v3", f"got {status} {headers}")
        check(prop("pyhttpd.service", "MainPID") == pid and prop("pyhttpd.service", "NRestarts") == "0",
              "the master was replaced")
        run("systemctl", "stop", "pyhttpd.service")
        return f"reload 50 ms after start: exit 0, active (MainPID {first}); HUP while {state}: still serving"
    s.step("a reload 50 ms after start, and a HUP while starting, leave the service active", early_reload)

    def uninstall() -> str:
        done = run(str(REPO / "scripts" / "install-systemd"), "--uninstall", timeout=60)
        s.artefacts["uninstall_output"] = done.stdout
        for unit in ("pyhttpd.service", "pyhttpd.socket", "pyhttpd@.service", "pyhttpd@.socket"):
            check(not Path("/etc/systemd/system", unit).exists(), f"{unit} is still installed")
        check(run("getent", "passwd", "pyhttpd", ok=False).returncode != 0, "the user pyhttpd is still there")
        check(CONFIG.exists(), "the changed config was removed")
        check(not Path("/etc/sysusers.d/pyhttpd.conf").exists(), "the sysusers.d file is still there")
        for path in ("/usr/local/share/man/man8/pyhttpd.8", "/etc/logrotate.d/pyhttpd"):
            check(not Path(path).exists(), f"{path} is still there")
        return "units, sysusers.d file, man page, logrotate snippet and user removed; the changed config kept"
    s.step("scripts/install-systemd --uninstall undoes the install", uninstall)


def scenario_idle(s: Scenario) -> None:
    install(s)
    write_config(idle_exit_after="2")
    pid = start_socket_and_activate(s)

    def idle_exit() -> str:
        last = time.monotonic()
        wait_until("pyhttpd.service inactive after 2 s idle",
                   lambda: prop("pyhttpd.service", "ActiveState") == "inactive", timeout=15)
        idle_for = time.monotonic() - last
        check(idle_for >= 2.0, f"exited after only {idle_for:.2f}s")
        result = {name: prop("pyhttpd.service", name) for name in ("Result", "ExecMainStatus")}
        check(result == {"Result": "success", "ExecMainStatus": "0"}, str(result))
        check(prop("pyhttpd.socket", "SubState") == "listening", "pyhttpd.socket is not listening")
        status = journal("-u", "pyhttpd.service", "-o", "cat")
        check('"event":"idle_exit"' in status.replace(" ", ""), "no idle_exit event")
        return f"exited 0 after {idle_for:.2f}s idle; socket still listening"
    s.step("7a. idle_exit_after = 2: the service exits 0 after 2 s idle", idle_exit)

    def reactivated() -> str:
        code = curl_code()
        check(code == "200", f"curl got {code!r}")
        new_pid = prop("pyhttpd.service", "MainPID")
        check(new_pid not in ("0", pid), f"MainPID {new_pid} (first was {pid})")
        return f"200 from a fresh activation, MainPID {pid} -> {new_pid}"
    s.step("7b. the next request is served (200) by a fresh activation", reactivated)

    def burst_at_exit() -> str:
        # Requests arriving while it drains and exits wait in systemd's socket: none is refused.
        wait_until("idle exit again", lambda: prop("pyhttpd.service", "ActiveState") != "active", timeout=15,
                   interval=0.01)
        with Stream(clients=3) as stream:
            stream.served(30, "requests through the idle exit")
        check(not stream.failures(), stream.summary())
        return stream.summary()
    s.step("7c. requests during the idle exit itself: none refused or failed", burst_at_exit)

    def idle_exits_apart() -> str:
        write_site_config("idle_exit_after = 2\n")
        run("systemctl", "start", "pyhttpd@site.socket")
        check(curl_code() == "200", "pyhttpd.service does not answer")
        check(get(unix=SITE_SOCKET)[0] == 200, "the site does not answer")
        site_pid = prop("pyhttpd@site.service", "MainPID")
        # Keep the site busy (a request every 0.5 s) while pyhttpd.service exits idle.
        wait_until("pyhttpd.service idle exit", lambda: get(unix=SITE_SOCKET)[0] == 200
                   and prop("pyhttpd.service", "ActiveState") == "inactive", timeout=20, interval=0.5)
        check(prop("pyhttpd@site.service", "MainPID") == site_pid, "the site's master was replaced")
        check(Path(SITE_SOCKET).is_socket() and Path("/run/pyhttpd-site/pyhttpd.state").exists(),
              "the site's socket or run state went with pyhttpd.service's idle exit")
        check(get(unix=SITE_SOCKET)[0] == 200, "the site does not answer")
        # The other way: keep pyhttpd.service busy while the site exits idle.
        check(curl_code() == "200", "pyhttpd.service was not activated again")
        main_pid = prop("pyhttpd.service", "MainPID")
        wait_until("the site's idle exit", lambda: curl_code() == "200"
                   and prop("pyhttpd@site.service", "ActiveState") == "inactive", timeout=20, interval=0.5)
        check(prop("pyhttpd.service", "MainPID") == main_pid, "the main master was replaced")
        check(Path("/run/pyhttpd/pyhttpd.state").exists(), "/run/pyhttpd went with the site's idle exit")
        check(curl_code() == "200" and get(unix=SITE_SOCKET)[0] == 200, "not both answer after idle exits")
        run("systemctl", "stop", "pyhttpd@site.socket", "pyhttpd@site.service")
        return (f"site MainPID {site_pid} served through the main unit's idle exit; main {main_pid} "
                "through the site's")
    s.step("7d. an idle exit of either unit leaves the other serving", idle_exits_apart)
    run("systemctl", "stop", "pyhttpd.socket", "pyhttpd.service", ok=False)


def _restart_under_stream(s: Scenario, label: str) -> None:
    def restart() -> str:
        before = prop("pyhttpd.service", "MainPID")
        with Stream(clients=20, keep_alive=True) as stream:
            stream.served(40, "the stream under way")
            run("systemctl", "restart", "pyhttpd", timeout=60)
            after = prop("pyhttpd.service", "MainPID")
            stream.served(100, "the stream going on after the restart")
        check(after not in ("0", before), f"MainPID {before} -> {after}")
        check(not stream.failures(), stream.summary())
        served_after = [at for at, outcome in stream.results if outcome == 200]
        check(len(served_after) > 0, "no request served")
        return f"MainPID {before} -> {after}; {stream.summary()}"
    s.step(label, restart)


def scenario_restart_socket(s: Scenario) -> None:
    install(s)
    write_config()
    start_socket_and_activate(s)
    _restart_under_stream(s, "8. systemctl restart pyhttpd (socket-activated) during a stream: none failed")
    run("systemctl", "stop", "pyhttpd.socket", "pyhttpd.service", ok=False)


def scenario_restart_fdstore(s: Scenario) -> None:
    install(s)
    write_config()

    def start_alone() -> str:
        run("systemctl", "start", "pyhttpd.service", timeout=60)
        check(curl_code() == "200", "no 200")
        log = journal("-u", "pyhttpd.service", "-o", "cat")
        check('"fdstore":true' in log.replace(" ", ""), "the master did not use the fd store")
        return f"MainPID {prop('pyhttpd.service', 'MainPID')}, pyhttpd bound :{PORT} and stored it"
    s.step("systemctl start pyhttpd.service (no socket unit): it binds and stores its socket", start_alone)
    _restart_under_stream(s, "8. systemctl restart pyhttpd (fd store) during a stream: none failed")

    def taken_back() -> str:
        log = journal("-u", "pyhttpd.service", "-o", "cat")
        check("taken_from_fdstore" in log and f":{PORT}" in log.split("taken_from_fdstore")[-1][:80],
              "the new master did not take its socket back from the fd store")
        return "the new master took [::]:8080 back from the fd store"
    s.step("the restarted master took its socket back (never bound twice)", taken_back)

    def stop_closes() -> str:
        run("systemctl", "stop", "pyhttpd.service")
        check(curl_code() == "000", "the port still answers after systemctl stop")
        return "port closed: systemd let the stored socket go"
    s.step("systemctl stop (no restart) closes the stored socket", stop_closes)


SCENARIOS = {
    "main": scenario_main,
    "idle": scenario_idle,
    "restart-socket": scenario_restart_socket,
    "restart-fdstore": scenario_restart_fdstore,
}


def main(argv: list[str]) -> int:
    if "PYHTTPD_SYSTEMD_SANDBOX" not in os.environ:  # it installs units and a user in /etc
        print("in_sandbox.py: run it through tests/systemd/systemd_sandbox.py, never on a host",
              file=sys.stderr)
        return 2
    name, outdir = argv[0], Path(argv[1])
    scenario = Scenario(name, outdir)
    try:
        SCENARIOS[name](scenario)
    finally:
        code = scenario.finish()
    return code


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
