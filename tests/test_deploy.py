"""The deploy/ examples are checked by the tools that read them, and agree with each other.

HAProxy and nginx check their files themselves; the container's and the Deployment's
pyhttpd arguments must pass ``pyhttpd --check-config``, and the Deployment's probes, port
and grace period must fit those arguments.
"""

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

DEPLOY = Path(__file__).resolve().parents[1] / "deploy"
PYHTTPD = str(Path(sys.executable).with_name("pyhttpd"))


def container_args() -> list[str]:
    text = (DEPLOY / "Containerfile").read_text()
    return json.loads(re.search(r"^CMD (\[.*\])$", text, re.M)[1])


def deployment() -> dict:
    documents = list(yaml.safe_load_all((DEPLOY / "kubernetes" / "pyhttpd.yaml").read_text()))
    return next(d for d in documents if d["kind"] == "Deployment")


def flag(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def check_config(args: list[str], site: Path) -> subprocess.CompletedProcess:
    args = [str(site) if arg == "/srv/www" else arg for arg in args]
    return subprocess.run([PYHTTPD, *args, "--check-config"], capture_output=True, text=True, timeout=30)


def test_haproxy_accepts_its_example():
    if shutil.which("haproxy") is None:
        pytest.fail("haproxy is not installed (scripts/test installs Debian's)")
    done = subprocess.run(["haproxy", "-c", "-f", str(DEPLOY / "haproxy.cfg")], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr


def test_nginx_accepts_its_example(tmp_path):
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    if not os.path.exists(nginx):
        pytest.fail("nginx is not installed (scripts/test installs Debian's nginx-light)")
    (tmp_path / "nginx.conf").write_text(f"""
pid {tmp_path}/nginx.pid;
error_log {tmp_path}/error.log;
events {{}}
http {{
    client_body_temp_path {tmp_path}/body;
    proxy_temp_path {tmp_path}/proxy;
    include {DEPLOY / "nginx.conf"};
}}
""")
    done = subprocess.run([nginx, "-t", "-c", str(tmp_path / "nginx.conf")], capture_output=True,
                          text=True, timeout=30)
    assert done.returncode == 0, done.stderr


def test_the_container_runs_pyhttpd_as_pid_1_unprivileged_with_a_valid_command(tmp_path):
    text = (DEPLOY / "Containerfile").read_text()
    assert re.search(r"^USER 10001$", text, re.M) and re.search(r"^STOPSIGNAL SIGTERM$", text, re.M)
    assert re.search(r'^ENTRYPOINT \["/opt/venv/bin/pyhttpd"\]$', text, re.M)  # exec form: PID 1
    args = container_args()
    assert flag(args, "--bind").endswith(":8080") and re.search(r"^EXPOSE 8080$", text, re.M)
    done = check_config(args, tmp_path)
    assert done.returncode == 0, done.stderr


def test_the_deployment_fits_the_server_it_runs(tmp_path):
    spec = deployment()["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    args = container["args"]
    assert args == container_args()
    assert check_config(args, tmp_path).returncode == 0
    assert container["readinessProbe"]["httpGet"]["path"] == flag(args, "--health-path")
    assert container["ports"][0]["containerPort"] == int(flag(args, "--bind").rpartition(":")[2])
    # The kubelet's KILL must not come before the drain delay and the graceful stop are over.
    needed = float(flag(args, "--drain-delay")) + float(flag(args, "--graceful-timeout"))
    assert spec["terminationGracePeriodSeconds"] > needed
    assert spec["securityContext"]["runAsUser"] == 10001
