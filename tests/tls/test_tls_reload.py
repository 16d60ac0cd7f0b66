"""HUP with a renewed certificate: new connections get it, no request fails meanwhile; a
broken one (a key that does not match, an expired certificate) is refused and the
serving certificate stays.

The certificate and key live at fixed paths (live.pem, live.key) whose files are replaced,
as a renewal tool does; the config never changes.
"""

import os
import shutil
import signal
import ssl
import time

import pytest
from support.load import RequestStream
from support.polling import wait_until
from tls_harness import HOST, https_get, tls_config, worker_pids
from tls_pki import Issued, der_fingerprint, pem_fingerprint


def served_fingerprint(port: int) -> str:
    return pem_fingerprint(ssl.get_server_certificate((HOST, port), timeout=5))


def install(source: Issued, live: Issued) -> None:
    """Replace the live certificate and key files (each atomically, as renewal tools do)."""
    for src, dst in ((source.key, live.key), (source.cert, live.cert)):
        shutil.copyfile(src, dst.with_suffix(".tmp"))
        os.replace(dst.with_suffix(".tmp"), dst)


def served_fingerprint_of_get(port: int, context: ssl.SSLContext) -> str:
    """The fingerprint of the certificate that served one HTTPS GET; raises unless it succeeded."""
    status, _, body, der = https_get(port, context=context, timeout=10)
    if (status, body) != (200, b"hello from site\n"):
        raise RuntimeError(status)
    return der_fingerprint(der)


@pytest.fixture
def live(tmp_path, pki):
    """The live certificate paths, holding a first certificate."""
    first = pki.issue("first")
    paths = Issued(tmp_path / "live.pem", tmp_path / "live.key")
    install(first, paths)
    return first, paths


@pytest.mark.slow
def test_hup_renews_the_certificate_without_failed_requests(start_master, tmp_path, site, pki, live):
    first, paths = live
    config = tls_config(tmp_path / "pyhttpd.toml", site, paths, workers=2)
    master = start_master(["--config", config])
    port = master.port
    assert served_fingerprint(port) == first.fingerprint
    second = pki.issue("second")
    context = pki.client_context()
    load = RequestStream(lambda: served_fingerprint_of_get(port, context), clients=3)
    def started_after(moment: float) -> int:
        return sum(1 for started, _, _ in list(load.results) if started > moment)

    try:
        assert wait_until(lambda: len(load.results) >= 20, 20), "the load did not get going"
        install(second, paths)
        hup_at = time.monotonic()
        master.signal(signal.SIGHUP)
        master.wait_for("reload_end", generation=2, timeout=30)
        switched_at = time.monotonic()
        assert wait_until(lambda: started_after(switched_at + 0.5) >= 20, 30)
    finally:
        load.stop()
    failures = [outcome for _, _, outcome in load.failures()]
    print(f"\nrequests across the certificate reload: {len(load.results)}, failed: {len(failures)}")
    assert failures == []
    assert len(load.results) > 50
    before = {outcome for started, _, outcome in load.results if started < hup_at}
    after = {outcome for started, _, outcome in load.results if started > switched_at + 0.5}
    assert before == {first.fingerprint}
    assert after == {second.fingerprint}
    assert served_fingerprint(port) == second.fingerprint

    # a key that does not match the certificate: refused, the renewed certificate stays
    shutil.copyfile(pki.new_key("stray"), paths.key)
    mark = master.mark()
    master.signal(signal.SIGHUP)
    failed = master.wait_for("reload_failed", since=mark, generation=3)
    assert failed["reason"] == (f"the key does not match the certificate (key {paths.key}, "
                                f"certificate {paths.cert})")
    assert failed["serving_generation"] == 2
    assert served_fingerprint(port) == second.fingerprint

    # an expired certificate (with its own key): refused too
    install(pki.issue("expired", expired=True), paths)
    mark = master.mark()
    master.signal(signal.SIGHUP)
    failed = master.wait_for("reload_failed", since=mark, generation=4)
    assert failed["reason"] == f"certificate {paths.cert} expired on 2020-02-01"
    status, _, body, der = https_get(port, context=pki.client_context())
    assert (status, der_fingerprint(der)) == (200, second.fingerprint)
    assert master.find("worker_exited", since=mark) == []


def test_worker_replaced_after_a_refused_reload_keeps_the_checked_certificate(start_master, tmp_path,
                                                                               site, pki, live):
    first, paths = live
    master = start_master(["--config", tls_config(tmp_path / "pyhttpd.toml", site, paths, workers=1)])
    port = master.port
    shutil.copyfile(pki.new_key("stray"), paths.key)
    mark = master.mark()
    master.signal(signal.SIGHUP)
    master.wait_for("reload_failed", since=mark)
    (worker,) = worker_pids(master)
    os.kill(worker, signal.SIGKILL)  # a crash: the master starts a worker of the same generation
    master.wait_for("worker_exited", since=mark)
    # the replacement is ready, or exits too (what the bug does): whichever comes first
    wait_until(lambda: (master.find("worker_ready", since=mark)
                        or len(master.find("worker_exited", since=mark)) > 1), 10)
    assert master.find("worker_ready", since=mark), "the replacement worker did not start"
    status, _, _, der = https_get(port, context=pki.client_context())
    assert (status, der_fingerprint(der)) == (200, first.fingerprint)
