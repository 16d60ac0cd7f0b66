"""The shipped units under a real systemd: each scenario of in_sandbox.py boots a throwaway
systemd (the shared tools' run-in-systemd.sh, PID 1 in private namespaces over a
copy-on-write /; CI has shared/ beside the clone, as developers do),
installs pyhttpd there with scripts/install-systemd and drives it with systemctl and curl.

Needs root, and a kernel with overlayfs, cgroup namespaces and cgroup2 (scripts/test installs
the Debian packages). SYSTEMD_SANDBOX names another copy of run-in-systemd.sh.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SANDBOX = Path(os.environ.get("SYSTEMD_SANDBOX",
                              REPO.parent / "shared" / "tools" / "systemd-sandbox" / "run-in-systemd.sh"))
SANDBOX_TIMEOUT_S = 150  # a scenario takes 15-60 s on a busy 2-core host; -t bounds boot + steps

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(os.geteuid() != 0, reason="the systemd sandbox needs root"),
]


@pytest.mark.parametrize("scenario", ["main", "idle", "restart-socket", "restart-fdstore"])
def test_scenario_under_a_real_systemd(scenario, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    assert SANDBOX.is_file(), f"no systemd sandbox at {SANDBOX} (set SYSTEMD_SANDBOX)"
    command = [str(SANDBOX), "-t", str(SANDBOX_TIMEOUT_S), "-b", str(REPO), "-b", str(out), "--",
               sys.executable, str(HERE / "in_sandbox.py"), scenario, str(out)]
    done = subprocess.run(command, cwd=REPO, capture_output=True, text=True, timeout=SANDBOX_TIMEOUT_S + 30)
    report = out / f"{scenario}.json"
    if not report.exists():
        pytest.fail(f"the sandbox exited {done.returncode} without a report:\n{done.stdout}\n{done.stderr}")
    result = json.loads(report.read_text())
    failed = [step for step in result["steps"] if not step["ok"]]
    if failed or done.returncode != 0:
        artefacts = result["artefacts"]
        pytest.fail(f"{failed[0]['name'] if failed else 'exit ' + str(done.returncode)}\n"
                    f"{failed[0]['detail'] if failed else done.stderr}\n\nsteps:\n{done.stdout}\n"
                    f"service output:\n" + "\n".join(artefacts.get("service_output_tail", [])) +
                    "\n\njournal:\n" + artefacts.get("journal_tail", ""))
    print(done.stdout)
