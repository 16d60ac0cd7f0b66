"""The open-file cache: kept answers are the full path's, byte for byte, and never stale.

Against a real ThreadingHTTPServer on 127.0.0.1 whose handler keeps file answers
(``open_file_cache``), compared with the same handler without it.
"""

import gzip
import os
import time

import pytest
from static_server import RfcHandler, request

from pyhttpd.handlers.static import SimpleHTTPRequestHandler
from pyhttpd.handlers.static.open_file_cache import FileEntry, OpenFileCache, open_files

SMALL = b"small file\n" * 10
LARGE = os.urandom(100 * 1024)  # above what is kept whole: answered by an open file
TTL_S = 30.0  # long: an entry must not expire during a test, unless the test says so
WAIT_S = 10.0
GZIP = {"Accept-Encoding": "gzip"}


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "root"
    (root / "docs").mkdir(parents=True)
    (root / "small.txt").write_bytes(SMALL)
    (root / "large.bin").write_bytes(LARGE)
    (root / "docs" / "index.html").write_bytes(b"<p>docs</p>\n")
    (root / "list").mkdir()
    (root / "list" / "a.txt").write_bytes(b"a\n")
    (tmp_path / "outside").mkdir()
    (tmp_path / "outside" / "small.txt").write_bytes(b"secret\n")
    return root


@pytest.fixture
def kept(serve):
    """Start a server whose handler keeps file answers for TTL_S."""

    def start(base=RfcHandler, **attributes):
        return serve(base, open_file_cache=TTL_S, **attributes)

    return start


def answer(address, target, headers=None, method="GET"):
    response = request(address, target, method=method, headers=headers)
    return response.status, response.header_list(), response.body


@pytest.mark.parametrize("target", ["/small.txt", "/large.bin", "/docs/", "/small.txt?v=1", "/list/"])
@pytest.mark.parametrize("method", ["GET", "HEAD"])
def test_a_kept_answer_is_the_full_paths_answer(serve, kept, target, method):
    extras = {"extra_response_headers": (("X-Frame-Options", "DENY"),),
              "cache_control": (("*.txt", "no-cache"),)}
    with serve(**extras) as plain, kept(**extras) as cached:
        expected = answer(plain, target, method=method)
        first = answer(cached, target, method=method)
        second = answer(cached, target, method=method)
    assert expected[0] == 200
    assert first == expected
    assert second == expected


def test_the_answer_is_kept_and_used(site, kept):
    with kept() as address:
        answer(address, "/small.txt")
        keys = [key for key in open_files._entries if key[1] == str(site) and key[3] == "/small.txt"]
        assert len(keys) == 1
        entry = open_files._entries[keys[0]]
        assert entry.content == SMALL
        open_files.put(keys[0], FileEntry(entry.fs_path, entry.identity, entry.mtime, entry.etag,
                                          entry.metadata, entry.head_lines + b"X-Kept: yes\r\n",
                                          entry.expires, entry.content))
        assert request(address, "/small.txt").header("X-Kept") == "yes"


def test_a_304_and_a_range_from_a_kept_file(serve, kept):
    with serve() as plain, kept() as cached:
        tag = request(cached, "/large.bin").header("ETag")
        for headers in ({"If-None-Match": tag}, {"Range": "bytes=10-19"}, {"If-Match": '"other"'}):
            assert answer(cached, "/large.bin", headers) == answer(plain, "/large.bin", headers)
        assert request(cached, "/large.bin", headers={"Range": "bytes=10-19"}).body == LARGE[10:20]
        assert request(cached, "/large.bin", headers={"Range": "bytes=-5, 0-1"}).status == 206


def test_a_file_changed_in_place_is_answered_afresh_at_once(site, kept):
    with kept() as address:
        assert request(address, "/small.txt").body == SMALL
        changed = SMALL.upper()  # the same size
        (site / "small.txt").write_bytes(changed)
        status = os.stat(site / "small.txt")
        os.utime(site / "small.txt", ns=(status.st_atime_ns, status.st_mtime_ns + 1_000_000_000))
        assert request(address, "/small.txt").body == changed
        (site / "large.bin").write_bytes(LARGE[:-1])
        assert request(address, "/large.bin").body == LARGE[:-1]


def test_a_deleted_or_replaced_file_is_never_answered_from_the_cache(site, kept):
    with kept() as address:
        assert request(address, "/small.txt").status == 200
        assert request(address, "/large.bin").status == 200
        (site / "small.txt").unlink()
        assert request(address, "/small.txt").status == 404
        (site / "new.bin").write_bytes(b"new")
        os.replace(site / "new.bin", site / "large.bin")
        assert request(address, "/large.bin").body == b"new"


def test_a_symlink_swapped_in_to_lead_outside_is_refused_at_once(site, kept):
    (site / "sub").mkdir()
    (site / "sub" / "small.txt").write_bytes(SMALL)
    with kept() as address:
        assert request(address, "/sub/small.txt").body == SMALL
        (site / "sub" / "small.txt").unlink()
        (site / "sub").rmdir()
        (site / "sub").symlink_to(site.parent / "outside")
        assert request(address, "/sub/small.txt").status == 404


def test_a_kept_listing_sees_an_index_page_added_and_a_symlink_swapped_in_at_once(site, kept):
    with kept() as address:
        assert b"a.txt" in request(address, "/list/").body
        assert [key for key in open_files._entries if key[1] == str(site) and key[3] == "/list/"]
        (site / "list" / "index.html").write_bytes(b"<p>index</p>\n")
        assert request(address, "/list/").body == b"<p>index</p>\n"
        (site / "list" / "index.html").unlink()
        assert b"a.txt" in request(address, "/list/").body
        (site / "list" / "a.txt").unlink()
        (site / "list").rmdir()
        (site / "list").symlink_to(site.parent / "outside", target_is_directory=True)
        assert request(address, "/list/").status == 404


def test_a_sibling_added_is_served_within_the_cache_time(site, serve):
    with serve(open_file_cache=0.2) as address:
        assert request(address, "/small.txt", headers=GZIP).header("Content-Encoding") is None
        (site / "small.txt.gz").write_bytes(gzip.compress(SMALL))
        deadline = time.monotonic() + WAIT_S
        while time.monotonic() < deadline:
            response = request(address, "/small.txt", headers=GZIP)
            if response.header("Content-Encoding") == "gzip":
                break
            time.sleep(0.05)
        assert response.header("Content-Encoding") == "gzip"
        assert response.header("Vary") == "Accept-Encoding"


def test_a_file_with_a_sibling_is_not_kept(site, kept):
    (site / "small.txt.gz").write_bytes(gzip.compress(SMALL))
    with kept() as address:
        assert request(address, "/small.txt").header("Vary") == "Accept-Encoding"
        assert request(address, "/small.txt", headers=GZIP).header("Content-Encoding") == "gzip"
        assert not [key for key in open_files._entries if key[1] == str(site) and key[3] == "/small.txt"]


def test_nothing_is_kept_when_it_is_off(site, serve):
    with serve() as address:
        assert request(address, "/small.txt").status == 200
        assert not [key for key in open_files._entries if key[1] == str(site)]


class Overrides(RfcHandler):
    calls = 0

    def count(self):
        type(self).calls += 1


def _translate_path(self, path):
    self.count()
    return super(type(self), self).translate_path(path.replace("/alias", "/small.txt"))


def _send_head(self):
    self.count()
    return super(type(self), self).send_head()


def _guess_type(self, path):
    self.count()
    return f"application/x-call-{type(self).calls}"


def _end_headers(self):
    self.count()
    self.send_header("X-Calls", str(type(self).calls))
    super(type(self), self).end_headers()


def _list_directory(self, path):
    self.count()
    return super(type(self), self).list_directory(path)


def _copyfile(self, source, outputfile):
    self.count()
    return super(type(self), self).copyfile(source, outputfile)


@pytest.mark.parametrize("override", [_translate_path, _send_head, _guess_type, _end_headers,
                                      _list_directory, _copyfile], ids=lambda f: f.__name__[1:])
def test_a_subclass_overriding_a_documented_method_gets_it_called_every_time(site, kept, override):
    name = override.__name__[1:]
    with kept(Overrides, **{name: override, "calls": 0}) as address:
        target = "/alias" if name == "translate_path" else "/" if name == "list_directory" else "/small.txt"
        first = request(address, target)
        second = request(address, target)
        handler_classes = {key[0] for key in open_files._entries if key[1] == str(site)}
    assert (first.status, second.status) == (200, 200)
    assert name == "list_directory" or second.body == SMALL
    assert not handler_classes  # nothing kept for such a class
    if name == "guess_type":
        assert first.header("Content-Type") != second.header("Content-Type")
    if name == "end_headers":
        assert first.header("X-Calls") != second.header("X-Calls")


def test_the_stock_class_used_directly_keeps_nothing():
    assert SimpleHTTPRequestHandler.open_file_cache == 0


# --- the cache itself ---


def _entry(name: str, content: bytes | None = None, expires: float | None = None) -> FileEntry:
    return FileEntry(name, (0, 0, len(content or b""), 0, 0), 0.0, None, (), b"",
                     time.monotonic() + 60 if expires is None else expires, content)


def test_the_cache_is_bounded_in_entries_oldest_out_first():
    cache = OpenFileCache(max_entries=3)
    for name in "abcd":
        cache.put(name, _entry(name))
    assert len(cache) == 3
    assert cache.get("a") is None
    assert cache.get("d").fs_path == "d"


def test_kept_bytes_stay_within_the_budget():
    cache = OpenFileCache(max_content_bytes=100)
    cache.put("a", _entry("a", b"x" * 60))
    cache.put("b", _entry("b", b"y" * 60))  # over the budget: kept without its bytes
    assert cache.get("a").content == b"x" * 60
    assert cache.get("b").content is None
    cache.drop("a")
    assert cache.wants_content(60)


def test_an_expired_entry_is_not_given():
    cache = OpenFileCache()
    cache.put("a", _entry("a", expires=time.monotonic() - 1))
    assert cache.get("a") is None
