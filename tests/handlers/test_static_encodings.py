"""Precompressed siblings: pyhttpd.handlers.static.encodings, and what a running server sends."""

import gzip
import os
import shutil
import subprocess

import pytest
from static_server import QuietHandler, RfcHandler, request

from pyhttpd.handlers.static.encodings import choose_coding, is_fresh, parse_accept_encoding

SCRIPT = b"console.log('hello');\n" * 50
GZ = gzip.compress(SCRIPT, mtime=0)
BR = b"pretend-brotli:" + GZ  # the server never decodes a sibling; any bytes do
BOTH = ["br", "gzip"]


# --- choosing ---


@pytest.mark.parametrize(
    ("accept", "available", "chosen"),
    [
        (None, BOTH, None),  # no Accept-Encoding: the file itself
        ([""], BOTH, None),  # empty: identity only
        (["gzip, deflate, br"], BOTH, "br"),  # equal weights: the server's preference
        (["gzip, deflate, br"], ["gzip"], "gzip"),
        (["gzip;q=1.0, br;q=0.5"], BOTH, "gzip"),
        (["br;q=0, gzip"], BOTH, "gzip"),
        (["GZIP"], BOTH, "gzip"),  # codings are case-insensitive
        (["x-gzip"], BOTH, "gzip"),
        (["*"], BOTH, "br"),
        (["*;q=0.5, br;q=0"], BOTH, "gzip"),
        (["*;q=0"], BOTH, None),
        (["identity"], BOTH, None),
        (["identity;q=1, gzip;q=0.5"], BOTH, None),  # identity explicitly preferred
        (["gzip;q=0.5"], BOTH, "gzip"),  # identity unlisted: not preferred
        (["gzip;q=abc"], BOTH, None),  # a malformed weight is 0
        (["gzip;q=1.5"], BOTH, None),
        (["deflate"], BOTH, None),
        (["gzip", "br"], BOTH, "br"),  # several field lines
    ],
)
def test_choose_coding(accept, available, chosen):
    assert choose_coding(accept, available) == chosen


def test_parse_accept_encoding():
    assert parse_accept_encoding(["gzip;q=0.8, br ; q=0.9,,identity;q=0, x-gzip"]) == {
        "gzip": 1.0, "br": 0.9, "identity": 0.0,
    }


# --- against a running server ---


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "root"
    root.mkdir()
    (root / "app.js").write_bytes(SCRIPT)
    (root / "app.js.gz").write_bytes(GZ)
    (root / "app.js.br").write_bytes(BR)
    (root / "only.css").write_bytes(b"body{}")
    (root / "only.css.gz").write_bytes(gzip.compress(b"body{}"))
    (root / "plain.txt").write_bytes(b"plain")
    (root / "archive.tar.gz").write_bytes(GZ)
    for name in os.listdir(root):
        os.utime(root / name, (1700000000, 1700000000))
    return root


@pytest.mark.parametrize(
    ("accept", "coding", "body"),
    [("gzip, deflate, br", "br", BR), ("gzip", "gzip", GZ), ("identity", None, SCRIPT), (None, None, SCRIPT)],
)
def test_sibling_is_served_with_its_coding_and_length(rfc, accept, coding, body):
    response = request(rfc, "/app.js", headers={"Accept-Encoding": accept} if accept else {})
    assert response.status == 200 and response.body == body
    assert response.header("Content-Encoding") == coding
    assert int(response.header("Content-Length")) == len(body)
    # The type of the file, not of the sibling (the system table may name either JS type).
    assert response.header("Content-Type") in ("text/javascript; charset=utf-8",
                                               "application/javascript; charset=utf-8")
    assert response.header("Vary") == "Accept-Encoding"


def test_each_coding_has_its_own_etag(rfc):
    etags = {request(rfc, "/app.js", headers={"Accept-Encoding": accept}).header("ETag")
             for accept in ("br", "gzip", "identity")}
    assert len(etags) == 3 and all(etag.startswith('"') for etag in etags)


def test_304_for_the_encoded_representation_only(rfc):
    gzip_etag = request(rfc, "/app.js", headers={"Accept-Encoding": "gzip"}).header("ETag")
    response = request(rfc, "/app.js", headers={"Accept-Encoding": "gzip", "If-None-Match": gzip_etag})
    assert (response.status, response.header("ETag")) == (304, gzip_etag)
    assert response.header("Vary") == "Accept-Encoding"
    response = request(rfc, "/app.js", headers={"If-None-Match": gzip_etag})
    assert (response.status, response.body) == (200, SCRIPT)


def test_head_sends_the_get_headers_for_an_encoded_file(rfc):
    headers = {"Accept-Encoding": "gzip"}
    get = request(rfc, "/app.js", headers=headers)
    head = request(rfc, "/app.js", "HEAD", headers)
    assert (head.status, head.body) == (200, b"")
    assert head.header_list() == get.header_list()


def test_only_the_siblings_that_exist_are_offered(rfc):
    response = request(rfc, "/only.css", headers={"Accept-Encoding": "br, gzip"})
    assert response.header("Content-Encoding") == "gzip"
    response = request(rfc, "/plain.txt", headers={"Accept-Encoding": "br, gzip"})
    assert response.header("Content-Encoding") is None and response.header("Vary") is None


def test_a_stale_sibling_is_never_sent(rfc, site):
    os.utime(site / "app.js", (1800000000, 1800000000))  # the file changed after compression
    response = request(rfc, "/app.js", headers={"Accept-Encoding": "br, gzip"})
    assert (response.body, response.header("Content-Encoding")) == (SCRIPT, None)


SECOND = 1_000_000_000


def test_freshness_is_judged_in_whole_seconds():
    original = 1700000000 * SECOND + 123456789
    assert is_fresh(original, original)  # gzip -k: the same time, to the nanosecond
    assert is_fresh(1700000000 * SECOND, original)  # brotli 1.0.9 -k: cut to the second
    assert is_fresh(original + 5 * SECOND, original)  # zopfli, a build step: written later
    assert not is_fresh(1699999999 * SECOND + 999999999, original)  # the file was edited since
    assert is_fresh(-2 * SECOND, -2 * SECOND + 1) and not is_fresh(-2 * SECOND - 1, -2 * SECOND)


def test_a_sibling_with_its_time_cut_to_the_second_is_fresh(rfc, site):
    original = 1700000000 * SECOND + 987654321
    os.utime(site / "app.js", ns=(original, original))
    os.utime(site / "app.js.br", ns=(1700000000 * SECOND, 1700000000 * SECOND))
    response = request(rfc, "/app.js", headers={"Accept-Encoding": "br"})
    assert (response.body, response.header("Content-Encoding")) == (BR, "br")


def test_a_stale_sibling_is_logged_once(serve, site):
    logged: list[str] = []
    os.utime(site / "app.js", ns=(1700000001 * SECOND, 1700000001 * SECOND))  # .gz: 1700000000
    os.utime(site / "app.js.br", ns=(1700000000 * SECOND + 999999999,) * 2)
    with serve(log_message=lambda self, format, *args: logged.append(format % args)) as address:
        for _ in range(3):
            response = request(address, "/app.js", headers={"Accept-Encoding": "br"})
            assert (response.body, response.header("Content-Encoding")) == (SCRIPT, None)
    stale = sorted(line for line in logged if "precompressed" in line)
    assert len(stale) == 2, logged  # once each, not once per request
    assert str(site / "app.js.br") in stale[0] and str(site / "app.js.gz") in stale[1]


@pytest.mark.parametrize("tool", [["brotli", "-k"], ["gzip", "-k"]])
def test_siblings_made_by_the_debian_tools_are_served(rfc, site, tool):
    """``brotli -k`` (Debian 12: 1.0.9 cuts the time to the second) and ``gzip -k``."""
    if shutil.which(tool[0]) is None:
        pytest.skip(f"{tool[0]} is not installed (scripts/test installs it, as root)")
    original = 1700000000 * SECOND + 500000000  # a time with a fraction, as any edit leaves
    suffix, coding = (".br", "br") if tool[0] == "brotli" else (".gz", "gzip")
    os.unlink(site / f"app.js{suffix}")
    os.utime(site / "app.js", ns=(original, original))
    subprocess.run([*tool, str(site / "app.js")], check=True, timeout=30)
    response = request(rfc, "/app.js", headers={"Accept-Encoding": coding})
    assert response.header("Content-Encoding") == coding
    assert response.body == (site / f"app.js{suffix}").read_bytes() != SCRIPT


def test_a_range_request_gets_the_file_itself(rfc):
    response = request(rfc, "/app.js", headers={"Accept-Encoding": "gzip", "Range": "bytes=0-6"})
    assert (response.status, response.body) == (206, SCRIPT[:7])
    assert response.header("Content-Encoding") is None
    assert response.header("Vary") == "Accept-Encoding"


def test_a_compressed_file_asked_for_by_name_is_not_content_encoded(rfc):
    response = request(rfc, "/archive.tar.gz", headers={"Accept-Encoding": "gzip"})
    assert response.body == GZ and response.header("Content-Encoding") is None
    assert response.header("Content-Type") == "application/gzip"


def test_sibling_symlinked_out_of_the_root_is_not_served(rfc, site, tmp_path):
    (tmp_path / "outside.gz").write_bytes(b"SECRET")
    os.utime(tmp_path / "outside.gz", (1800000000, 1800000000))
    os.symlink(tmp_path / "outside.gz", site / "plain.txt.gz")
    response = request(rfc, "/plain.txt", headers={"Accept-Encoding": "gzip"})
    assert response.body == b"plain" and response.header("Content-Encoding") is None


@pytest.mark.parametrize("base", [QuietHandler, RfcHandler])
def test_precompressed_can_be_off(serve, base):
    with serve(base=base, precompressed=False) as address:
        response = request(address, "/app.js", headers={"Accept-Encoding": "gzip, br"})
        assert response.body == SCRIPT and response.header("Vary") is None


def test_the_class_used_directly_serves_no_siblings(serve):
    with serve(base=QuietHandler) as address:
        assert request(address, "/app.js", headers={"Accept-Encoding": "gzip"}).body == SCRIPT
