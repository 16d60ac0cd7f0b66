"""The shipped units under a real systemd: each scenario of in_sandbox.py boots a throwaway
systemd (systemd_sandbox.py: PID 1 in private namespaces over a copy-on-write /), installs
pyhttpd there with scripts/install-systemd and drives it with systemctl and curl.

Needs root, and a kernel with overlayfs, cgroup namespaces and cgroup2 (scripts/test installs
the Debian packages); without them each scenario fails with the one line that says what is
missing.
"""

import json
import subprocess
import sys
from pathlib import Path

import pytest
import systemd_sandbox

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
SANDBOX_TIMEOUT_S = 150  # a scenario takes 15-60 s on a busy 2-core host; it bounds boot + steps

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("scenario", ["main", "idle", "restart-socket", "restart-fdstore"])
def test_scenario_under_a_real_systemd(scenario, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    console = tmp_path / "console.txt"
    # through env: tests/support importable by in_sandbox.py, which runs as a script
    command = ["env", f"PYTHONPATH={HERE.parent}", sys.executable, str(HERE / "in_sandbox.py"), scenario,
               str(out)]
    with console.open("w") as output:
        try:
            done = systemd_sandbox.run(command, binds=[REPO, out], timeout=SANDBOX_TIMEOUT_S, cwd=str(REPO),
                                       stdout=output, stderr=subprocess.STDOUT)
        except systemd_sandbox.SandboxError as error:
            pytest.fail(f"{error}\n{error.details}")
    printed = console.read_text()
    report = out / f"{scenario}.json"
    if not report.exists():
        pytest.fail(f"the sandbox exited {done.returncode} without a report:\n{printed}")
    result = json.loads(report.read_text())
    failed = [step for step in result["steps"] if not step["ok"]]
    if failed or done.returncode != 0:
        artefacts = result["artefacts"]
        pytest.fail(f"{failed[0]['name'] if failed else 'exit ' + str(done.returncode)}\n"
                    f"{failed[0]['detail'] if failed else ''}\n\nsteps:\n{printed}\n"
                    f"service output:\n" + "\n".join(artefacts.get("service_output_tail", [])) +
                    "\n\njournal:\n" + artefacts.get("journal_tail", ""))
    print(f"booted in {done.boot_s:.2f}s, steps took {done.command_s:.2f}s\n{printed}")
