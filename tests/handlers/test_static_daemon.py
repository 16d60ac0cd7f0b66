"""The static settings reach the workers: the real master (``python -m pyhttpd.daemon``) and
its workers serve a site on 127.0.0.1 with the [static] table of a config file, or flags.

Readiness comes from the master's JSON "ready" line (tests/support/master.py); every
wait has a deadline, and each master is killed with its workers at teardown.
"""

import gzip
import os
import platform
from pathlib import Path

import pytest
from support.http import request
from support.master import master_config, master_env, started_masters
from support.paths import write_files

from pyhttpd import __version__

BIG = os.urandom(5 * 1024 * 1024 + 7)
SCRIPT = b"let answer = 42;\n" * 100


@pytest.fixture
def site(tmp_path):
    return write_files(tmp_path / "site", {"notes.md": b"# notes\n", "assets/app.js": SCRIPT,
                                           "assets/app.js.gz": gzip.compress(SCRIPT), ".env": b"SECRET=1\n",
                                           "big.bin": BIG})


@pytest.fixture
def start_master(tmp_path):
    with started_masters(tmp_path, master_env()) as start:
        yield start


def base_config(tmp_path: Path, site: Path, static: str) -> str:
    return master_config(tmp_path / "pyhttpd.toml", f'directory = "{site}"', f"[static]\n{static}", workers=1,
                         graceful=5)


def test_the_static_table_of_the_config_file_reaches_the_workers(start_master, tmp_path, site):
    config = base_config(tmp_path, site, """
mime_types = { md = "text/markdown" }
cache_control = [["/assets/*", "public, max-age=42"]]
max_ranges = 2
precompressed = true
serve_dotfiles = false
""")
    port = start_master(["--config", config]).port
    status, headers, _ = request(port, "/notes.md")
    assert (status, headers["Content-Type"]) == (200, "text/markdown; charset=utf-8")
    # RFC 9110 conditionals are on in the daemon: a strong ETag, and If-None-Match gives 304.
    etag = headers["ETag"]
    assert etag and etag.startswith('"')
    assert request(port, "/notes.md", headers={"If-None-Match": etag})[0] == 304
    assert request(port, "/notes.md", headers={"If-Match": '"other"'})[0] == 412
    status, headers, body = request(port, "/assets/app.js", headers={"Accept-Encoding": "gzip"})
    assert (headers["Content-Encoding"], headers["Cache-Control"]) == ("gzip", "public, max-age=42")
    assert gzip.decompress(body) == SCRIPT
    assert request(port, "/.env")[0] == 404
    assert request(port, "/big.bin", headers={"Range": "bytes=0-0,4000000-4000009"})[0] == 206
    status, _, body = request(port, "/big.bin", headers={"Range": "bytes=0-0,100-100,4000000-4000009"})
    assert (status, len(body)) == (200, len(BIG))  # three ranges: more than max_ranges
    status, headers, _ = request(port, "/big.bin", headers={"Range": "bytes=99999999-"})
    assert (status, headers["Content-Range"]) == (416, f"bytes */{len(BIG)}")


def test_the_static_flags_reach_the_workers(start_master, tmp_path, site):
    config = base_config(tmp_path, site, "")
    port = start_master(["--config", config, "--serve-dotfiles", "--no-precompressed", "--max-ranges", "0",
                         "--mime-type", "md", "text/x-notes", "--cache-control", "*", "no-store"]).port
    status, headers, body = request(port, "/.env")
    assert (status, body, headers["Cache-Control"]) == (200, b"SECRET=1\n", "no-store")
    assert request(port, "/notes.md")[1]["Content-Type"] == "text/x-notes; charset=utf-8"
    status, headers, body = request(port, "/assets/app.js", headers={"Accept-Encoding": "gzip"})
    assert (body, headers["Content-Encoding"]) == (SCRIPT, None)
    status, headers, body = request(port, "/big.bin", headers={"Range": "bytes=0-9"})
    assert (status, len(body), headers["Accept-Ranges"]) == (200, len(BIG), None)


@pytest.mark.parametrize("seconds", [0, 60])
def test_open_file_cache_reaches_the_workers_and_never_serves_a_changed_file(start_master, tmp_path, site,
                                                                              seconds):
    port = start_master(["--config", base_config(tmp_path, site, f"open_file_cache = {seconds}")]).port
    notes = site / "notes.md"
    assert request(port, "/notes.md")[2] == b"# notes\n"
    notes.write_bytes(b"# NOTES\n")
    os.utime(notes, ns=(0, notes.stat().st_mtime_ns + 1_000_000_000))
    assert request(port, "/notes.md")[2] == b"# NOTES\n"
    (site / "notes.md.gz").write_bytes(gzip.compress(b"# NOTES\n"))
    os.utime(site / "notes.md.gz", ns=(0, notes.stat().st_mtime_ns))
    coding = request(port, "/notes.md", headers={"Accept-Encoding": "gzip"})[1]["Content-Encoding"]
    assert coding == (None if seconds else "gzip")  # a new sibling waits out the cache time
    notes.unlink()
    assert request(port, "/notes.md")[0] == 404


def test_worker_sends_ranges_of_a_big_file_exactly(start_master, tmp_path, site):
    port = start_master(["--config", base_config(tmp_path, site, "")]).port
    status, headers, body = request(port, "/big.bin", headers={"Range": "bytes=1000000-4999999"})
    assert (status, headers["Content-Range"]) == (206, f"bytes 1000000-4999999/{len(BIG)}")
    assert body == BIG[1000000:5000000]
    status, headers, body = request(port, "/big.bin", headers={"Range": "bytes=0-99,-4000000"})
    assert status == 206 and headers.get_content_type() == "multipart/byteranges"
    assert body.count(BIG[:100]) == 1 and BIG[-4000000:] in body
    assert int(headers["Content-Length"]) == len(body)
    status, headers, body = request(port, "/big.bin", "HEAD", {"Range": "bytes=0-9"})
    assert (status, body, int(headers["Content-Length"])) == (200, b"", len(BIG))
    assert request(port, "/big.bin")[2] == BIG


@pytest.mark.parametrize(("flags", "server"), [
    ([], f"pyhttpd/{__version__}"),
    (["--server-tokens", "product"], "pyhttpd"),
    (["--server-tokens", "off"], None),
])
def test_server_tokens_decide_the_server_header(start_master, tmp_path, site, flags, server):
    port = start_master(["--config", base_config(tmp_path, site, ""), *flags]).port
    for path, status in (("/notes.md", 200), ("/missing", 404), ("/assets/", 200), ("/assets", 301)):
        answer = request(port, path)
        assert (answer[0], answer[1]["Server"]) == (status, server), path
        assert len(answer[1].get_all("Server") or []) == (server is not None)


def test_a_handler_that_names_itself_keeps_its_name_unless_told_less(start_master, tmp_path, site):
    named = ["--config", base_config(tmp_path, site, ""), "--handler", "master_app:Named"]
    port = start_master(named).port
    assert request(port, "/")[1]["Server"] == f"MyApp/2.0 Python/{platform.python_version()}"
    port = start_master([*named, "--server-tokens", "product"]).port
    assert request(port, "/")[1]["Server"] == "pyhttpd"
    port = start_master([*named[:-1], "master_app:App"]).port
    assert request(port, "/")[1]["Server"] == f"pyhttpd/{__version__}"
