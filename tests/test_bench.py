"""scripts/bench's HTTPS rows (bench/): which cells exist, how each server is started with TLS,
the certificate and the pinned client, and the targets. Nothing here measures speed."""

from __future__ import annotations

import http.server
import json
import ssl
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.inprocess import serving

from bench import report, run, tls
from bench.servers import BASELINE, SERVERS, Context, nginx_config
from bench.wrk import HTTPS

REPO = Path(__file__).resolve().parent.parent

TLS_ROWS = {"pyhttpd", "gunicorn-gthread", "granian", "nginx"}
needs_openssl = pytest.mark.skipif(tls.openssl() is None, reason="the openssl command is not installed")


def fake_files(tmp_path: Path) -> tls.Files:
    return tls.Files(
        cert=tmp_path / "cert.pem",
        key=tmp_path / "key.pem",
        client_conf=tmp_path / "client.cnf",
        pyhttpd_policy=tmp_path / "policy.toml",
    )


def context(tmp_path: Path, files: tls.Files | None, **kw: object) -> Context:
    return Context(
        repo=REPO,
        docroot=tmp_path / "root",
        workdir=tmp_path,
        cores=2,
        project_python=tmp_path / "venv" / "bin" / "python",
        bench_python=tmp_path / "bench-venv" / "bin" / "python",
        tls=files,
        **kw,  # type: ignore[arg-type]
    )


def test_https_cells_are_1k_and_100k_keep_alive_of_the_tls_rows() -> None:
    plan = run.make_plan(SERVERS + [BASELINE], all_cells=False)
    https = {(name, target) for name, cells in plan.loads.items() for target, mode in cells if mode == HTTPS}
    expected = {(n, t) for n in TLS_ROWS | {"pyhttpd-baseline"} for t in ("1 KiB", "100 KiB")}
    assert https == expected
    # --all-cells adds no HTTPS cell, and cells that do not exist are not listed as skipped.
    everything = run.make_plan(SERVERS + [BASELINE], all_cells=True)
    assert sum(m == HTTPS for cells in everything.loads.values() for _, m in cells) == len(expected)
    assert not any(HTTPS in cell for cells in plan.skipped.values() for cell in cells)


def test_a_server_without_https_has_its_cells_skipped_with_the_reason() -> None:
    why = "its pyhttpd does not serve HTTPS"
    plan = run.make_plan(SERVERS + [BASELINE], all_cells=False, no_https={"pyhttpd-baseline": why})
    assert all(mode != HTTPS for _, mode in plan.loads["pyhttpd-baseline"])
    assert plan.skipped[why] == [
        "pyhttpd-baseline 1 KiB https keep-alive",
        "pyhttpd-baseline 100 KiB https keep-alive",
    ]
    assert any(mode == HTTPS for _, mode in plan.loads["pyhttpd"])


def test_each_tls_row_starts_with_the_certificate_and_the_policy(tmp_path: Path) -> None:
    files = fake_files(tmp_path)
    ctx = context(tmp_path, files)
    by_name = {s.name: s for s in SERVERS + [BASELINE]}
    for name in TLS_ROWS:
        plain = by_name[name].launch(ctx, 8443)
        secure = by_name[name].launch(ctx, 8443, tls=True)
        assert secure.argv != plain.argv
        assert secure.env == plain.env and secure.cwd == plain.cwd
    argv = by_name["pyhttpd"].launch(ctx, 8443, tls=True).argv
    assert argv[argv.index("--tls-cert") + 1] == str(files.cert)
    assert argv[argv.index("--tls-key") + 1] == str(files.key)
    assert argv[argv.index("--config") + 1] == str(files.pyhttpd_policy)
    argv = by_name["gunicorn-gthread"].launch(ctx, 8443, tls=True).argv
    assert argv[-1] == "bench.apps:wsgi_app"
    assert argv[argv.index("--certfile") + 1] == str(files.cert)
    assert argv[argv.index("--ciphers") + 1] == tls.TLS12_CIPHERS
    argv = by_name["granian"].launch(ctx, 8443, tls=True).argv
    assert argv[-1] == "bench.apps:fallback_app"
    assert argv[argv.index("--ssl-certificate") + 1] == str(files.cert)
    assert argv[argv.index("--ssl-keyfile") + 1] == str(files.key)
    conf = nginx_config(ctx, 8443, files)
    for line in (
        "listen 127.0.0.1:8443 ssl;",
        f"ssl_certificate {files.cert};",
        f"ssl_certificate_key {files.key};",
        f"ssl_ciphers {tls.TLS12_CIPHERS};",
        f"ssl_conf_command Ciphersuites {tls.TLS13_SUITES};",
        f"ssl_ecdh_curve {tls.GROUPS};",
    ):
        assert line in conf
    assert "ssl" not in nginx_config(ctx, 8443)


def test_a_baseline_without_the_policy_keys_gets_the_certificate_only(tmp_path: Path) -> None:
    files = fake_files(tmp_path)
    ctx = context(tmp_path, files, baseline_bin=tmp_path / "old", baseline_tls_policy=False)
    argv = BASELINE.launch(ctx, 8443, tls=True).argv
    assert argv[0] == str(tmp_path / "old" / "pyhttpd")
    assert "--tls-cert" in argv and "--config" not in argv
    with pytest.raises(ValueError):
        BASELINE.launch(context(tmp_path, None), 8443, tls=True)


@pytest.fixture
def files(tmp_path: Path) -> tls.Files:
    if tls.openssl() is None:
        pytest.skip("the openssl command is not installed")
    return tls.make(tmp_path / "tls")


@pytest.fixture
def tls_server(files: tls.Files, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[int]:
    """http.server over TLS with the run's certificate (TLS 1.2 only if the test says so)."""
    root = tmp_path / "root"
    root.mkdir()
    (root / "1k.bin").write_bytes(b"x" * 1024)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(files.cert, files.key)
    if getattr(request, "param", "") == "tls1.2":
        server_ctx.maximum_version = ssl.TLSVersion.TLSv1_2

    class Handler(http.server.SimpleHTTPRequestHandler):
        def __init__(self, *args: object, **kwargs: object) -> None:
            super().__init__(*args, directory=str(root), **kwargs)  # type: ignore[arg-type]

        def log_message(self, format: str, *args: object) -> None:
            pass

    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.socket = server_ctx.wrap_socket(httpd.socket, server_side=True)
    with serving(httpd):
        yield httpd.server_address[1]


@needs_openssl
def test_the_certificate_is_ecdsa_for_127_0_0_1_and_the_key_pkcs8(files: tls.Files) -> None:
    text = subprocess.run(
        ["openssl", "x509", "-in", str(files.cert), "-noout", "-text"],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert "id-ecPublicKey" in text and "prime256v1" in text
    assert "IP Address:127.0.0.1" in text
    assert files.key.read_text().startswith("-----BEGIN PRIVATE KEY-----")
    assert "Ciphersuites = TLS_AES_128_GCM_SHA256" in files.client_conf.read_text()


@needs_openssl
def test_the_check_fetches_over_https_and_reads_what_was_negotiated(
    files: tls.Files, tls_server: int
) -> None:
    client = ssl.create_default_context(cafile=str(files.cert))
    assert run.check(tls_server, "", "/1k.bin", client) == ""
    assert tls.negotiate(tls_server, files) == (tls.EXPECTED, "")


@needs_openssl
@pytest.mark.parametrize("tls_server", ["tls1.2"], indirect=True)
def test_a_server_that_cannot_meet_the_pinned_client_fails_the_check(
    files: tls.Files, tls_server: int
) -> None:
    got, why = tls.negotiate(tls_server, files)
    assert got == ""
    assert why.startswith("TLS handshake failed")


@needs_openssl
def test_pyhttpd_accepts_the_policy_file(files: tls.Files, tmp_path: Path) -> None:
    pyhttpd = Path(sys.executable).parent / "pyhttpd"
    if not pyhttpd.exists():
        pytest.skip("no pyhttpd beside this Python")
    policy, why = run.baseline_tls(pyhttpd.parent, files, tmp_path)
    assert (policy, why) == (True, "")


def _sample(server: str, target: str, mode: str, rps: float, cpu_s: float = 1.0) -> report.Sample:
    return report.Sample(server, target, mode, 0, rps=rps, requests=int(rps * 5), p50_ms=1.0, p99_ms=2.0,
                         cpu_s=cpu_s, duration_s=5.0)


KA = "keep-alive"


def test_round_two_targets_are_ratios_in_the_same_round_and_judged() -> None:
    samples = [_sample("pyhttpd", "1 KiB", KA, 9000), _sample("gunicorn-gthread", "1 KiB", KA, 3000),
               _sample("pyhttpd-log", "1 KiB", KA, 8000), _sample("granian", "1 KiB", KA, 20000),
               _sample("pyhttpd", "10 MiB", KA, 100, cpu_s=1.0),
               _sample("nginx", "10 MiB", KA, 100, cpu_s=0.5)]
    servers = [s for s in SERVERS if s.name in {x.server for x in samples}]
    rows = report.build_rows(samples, servers)
    verdicts = {t.goal: (t.measured, t.verdict) for t in report.round_two_targets(rows)}
    assert verdicts["1 KiB keep-alive: ≥ 3× gunicorn gthread"] == ("3.00× gunicorn-gthread", "met")
    assert verdicts["1 KiB keep-alive: ≥ 0.6× granian"] == ("0.45× granian", "not met")
    assert verdicts["access log on: ≥ 0.95× of the same run with it off (1 KiB keep-alive)"][1] == "not met"
    assert verdicts["1 KiB close: ≥ 1.5× gunicorn sync"] == ("not measured", "n/a")
    assert verdicts["10 MiB keep-alive: server CPU per request ≤ nginx's"] == ("2.00× nginx's", "not met")


def test_retarget_prints_a_stored_runs_targets_anew(tmp_path: Path) -> None:
    stored = tmp_path / "run.json"
    samples = [_sample("pyhttpd", "1 KiB", KA, 9000), _sample("gunicorn-gthread", "1 KiB", KA, 3000)]
    stored.write_text(json.dumps({"command": "", "machine": {}, "samples": report.to_json(samples)}))
    done = subprocess.run([sys.executable, "-m", "bench.retarget", str(stored)], capture_output=True,
                          text=True, cwd=Path(__file__).resolve().parents[1], timeout=60)
    assert done.returncode == 0, done.stderr
    assert "| 1 KiB keep-alive: ≥ 3× gunicorn gthread | 3.00× gunicorn-gthread | **met** |" in done.stdout
