"""scripts/bench's HTTPS rows (bench/): which cells exist, how each server is started with TLS,
the certificate and the pinned client, and the targets. Nothing here measures speed."""

from __future__ import annotations

import http.server
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


def _sample(server: str, target: str, rps: float, round_: int = 0) -> report.Sample:
    return report.Sample(server, target, HTTPS, round_, rps=rps, requests=int(rps), p99_ms=1.0)


def test_the_https_targets() -> None:
    samples = [
        _sample("pyhttpd", "1 KiB", 1000),
        _sample("pyhttpd", "100 KiB", 500),
        _sample("pyhttpd-baseline", "1 KiB", 1100),
        _sample("pyhttpd-baseline", "100 KiB", 500),
        _sample("gunicorn-gthread", "1 KiB", 400),
        _sample("gunicorn-gthread", "100 KiB", 250),
        _sample("nginx", "1 KiB", 10000),
    ]
    servers = [s for s in SERVERS if s.name in {"pyhttpd", "gunicorn-gthread", "nginx"}] + [BASELINE]
    rows = report.build_rows(samples, servers)
    assert {r.server: r.ratio for r in rows if r.target == "1 KiB"}["gunicorn-gthread"] == pytest.approx(0.4)
    got = {t.goal: (t.measured, t.verdict) for t in report.targets(rows, servers)}
    assert got["HTTPS 1 KiB keep-alive: ≥ 2× gunicorn gthread with TLS"] == ("2.50× gunicorn-gthread", "met")
    assert got["HTTPS 1 KiB keep-alive: ratio to granian, nginx"][0] == "pyhttpd = 0.10× nginx"
    regression = got["HTTPS keep-alive: no regression against pyhttpd-baseline (taken as ≥ 0.95×)"]
    assert regression == ("pyhttpd ÷ pyhttpd-baseline: 1 KiB 0.91×, 100 KiB 1.00×", "not met")
    assert "https keep-alive" in report.table(rows)
