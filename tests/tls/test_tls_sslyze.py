"""sslyze's Mozilla checks against real masters on 127.0.0.1: the default configuration
passes "intermediate", ``tls_profile = "modern"`` passes "modern". sslyze is one of the
test extras (pyproject.toml); it trusts the test CA, so its certificate checks run too."""

import subprocess
import sys

import pytest
from tls_harness import HOST, tls_config


def _sslyze(port: int, profile: str, ca_file) -> subprocess.CompletedProcess:
    """sslyze's scans for ``profile``, trusting the test CA (its path validation is checked too)."""
    command = [sys.executable, "-m", "sslyze", f"--mozilla_config={profile}", f"--certinfo_ca_file={ca_file}",
               f"{HOST}:{port}"]
    return subprocess.run(command, capture_output=True, text=True, timeout=180, stdin=subprocess.DEVNULL)


@pytest.mark.parametrize("profile", ["intermediate", "modern"])
def test_sslyze_finds_the_profile_followed(profile, start_master, tmp_path, site, pki, server_cert):
    top = "" if profile == "intermediate" else f'tls_profile = "{profile}"'
    master = start_master(["--config", tls_config(tmp_path / "pyhttpd.toml", site, server_cert, workers=1,
                                                  top=top)])
    done = _sslyze(master.port, profile, pki.ca_cert)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-2000:]
    assert f"{HOST}:{master.port}: OK - Compliant." in done.stdout, done.stdout[-3000:]
