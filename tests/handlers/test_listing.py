"""Directory listings: pyhttpd.handlers.static.listing."""

import html
import json
import os
import re
import urllib.parse
from html.parser import HTMLParser

import pytest

from pyhttpd.handlers.static.listing import (
    ListingEntry,
    prefers_json,
    render_html,
    render_json,
    scan_directory,
    sort_entries,
)

MTIME = 1700000000.0  # 2023-11-14T22:13:20Z


def file_entry(name, size=3):
    return ListingEntry(name, is_dir=False, is_symlink=False, size=size, mtime=MTIME)


def dir_entry(name):
    return ListingEntry(name, is_dir=True, is_symlink=False, size=None, mtime=MTIME)


class PageReader(HTMLParser):
    """Collects the anchors (href, text) and every start tag of a page."""

    def __init__(self):
        super().__init__()
        self.anchors = []
        self.tags = []
        self.title = ""
        self._href = None
        self._in_title = False

    def handle_starttag(self, tag, attrs):
        self.tags.append((tag, dict(attrs)))
        if tag == "a":
            self._href = dict(attrs)["href"]
            self.anchors.append([self._href, ""])
        self._in_title = tag == "title"

    def handle_endtag(self, tag):
        self._href = None
        self._in_title = False

    def handle_data(self, data):
        if self._href is not None:
            self.anchors[-1][1] += data
        if self._in_title:
            self.title += data


def read_page(body: bytes) -> PageReader:
    reader = PageReader()
    reader.feed(body.decode("utf-8", "surrogateescape"))
    reader.close()
    return reader


# --- HTML ---

HOSTILE_NAMES = ["<script>alert(1)</script>", "&\"'", "a b%20c", "javascript:alert(1)", "é"]
# A file name cannot hold "/", so the on-disk variants close their tags differently.
HOSTILE_FILE_NAMES = ["<script>alert(1)<\\script>", "<img src=x onerror=alert(1)>", "&\"'"]


def test_page_is_self_contained_html5():
    body = render_html("/d/", [file_entry("f")], show_parent=True)
    text = body.decode("utf-8")
    assert text.startswith("<!DOCTYPE html>\n")
    assert '<meta charset="utf-8">' in text
    assert '<meta name="viewport" content="width=device-width, initial-scale=1">' in text
    assert "<style>" in text
    tags = [tag for tag, _ in read_page(body).tags]
    assert "script" not in tags and "link" not in tags and "img" not in tags
    assert "src=" not in text and "http" not in text


def test_hostile_names_are_escaped_and_quoted():
    body = render_html("/d/", [file_entry(name) for name in HOSTILE_NAMES], show_parent=False)
    text = body.decode("utf-8")
    assert "<script>" not in text
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in text
    reader = read_page(body)
    assert [tag for tag, _ in reader.tags].count("script") == 0
    assert sorted(reader.anchors) == sorted([urllib.parse.quote(name), name] for name in HOSTILE_NAMES)
    for name in HOSTILE_NAMES:
        assert f'href="{urllib.parse.quote(name)}"' in text
        assert f">{html.escape(name, quote=False)}<" in text


def test_no_href_is_absolute_or_has_a_scheme():
    reader = read_page(render_html("/", [file_entry(n) for n in HOSTILE_NAMES], True))
    for href, _ in reader.anchors:
        assert not href.startswith("/")
        assert urllib.parse.urlsplit(href).scheme == ""


def test_undecodable_name_matches_the_stdlib_expectation():
    name = os.fsdecode(b"caf\xe7w\xf0.txt")
    body = render_html("/", [file_entry(name)], show_parent=False)
    quoted = urllib.parse.quote(name, errors="surrogatepass")
    assert f'href="{quoted}"'.encode("utf-8", "surrogateescape") in body
    assert f">{html.escape(name, quote=False)}<".encode("utf-8", "surrogateescape") in body
    assert b"caf\xe7w\xf0.txt" in body


def test_title_shows_the_display_path_escaped():
    body = render_html("/d/<b>?x=1&y=\ufffd", [], show_parent=True)
    reader = read_page(body)
    assert reader.title == "Directory listing for /d/<b>?x=1&y=\ufffd"
    assert b"Directory listing for /d/&lt;b&gt;?x=1&amp;y=\xef\xbf\xbd" in body


def test_directories_symlinks_and_parent_link():
    entries = [
        file_entry("file"),
        dir_entry("dir"),
        ListingEntry("link", is_dir=False, is_symlink=True, size=1, mtime=MTIME),
        ListingEntry("dirlink", is_dir=True, is_symlink=True, size=None, mtime=MTIME),
        ListingEntry("dangling", is_dir=False, is_symlink=True, size=None, mtime=None),
    ]
    anchors = read_page(render_html("/d/", entries, show_parent=True)).anchors
    assert anchors == [
        ["../", "../"],
        ["file", "file"],
        ["dir/", "dir/"],
        ["link", "link@"],
        ["dirlink/", "dirlink@"],
        ["dangling", "dangling@"],
    ]


def test_no_parent_link_at_the_root():
    anchors = read_page(render_html("/", [file_entry("f")], show_parent=False)).anchors
    assert anchors == [["f", "f"]]


def test_size_and_time_columns():
    text = render_html("/", [file_entry("f", size=1536), dir_entry("d")], False).decode()
    assert "1.5 KiB" in text
    assert '<time datetime="2023-11-14T22:13:20Z">2023-11-14 22:13</time>' in text


def test_sort_puts_directories_first_then_ignores_case():
    entries = [file_entry("b"), dir_entry("Zed"), file_entry("A"), dir_entry("alpha")]
    entries.append(file_entry("a"))
    names = [entry.name for entry in sort_entries(entries)]
    assert names == ["alpha", "Zed", "A", "a", "b"]


# --- JSON ---


def test_json_listing():
    entries = [
        dir_entry("d"),
        file_entry("<f>", size=7),
        ListingEntry("l", is_dir=True, is_symlink=True, size=None, mtime=None),
    ]
    assert json.loads(render_json(entries)) == [
        {"name": "d", "type": "directory", "size": None, "mtime": "2023-11-14T22:13:20Z"},
        {"name": "<f>", "type": "file", "size": 7, "mtime": "2023-11-14T22:13:20Z"},
        {"name": "l", "type": "symlink", "size": None, "mtime": None},
    ]


def test_json_is_ascii_even_for_undecodable_names():
    body = render_json([file_entry("é"), file_entry(os.fsdecode(b"\xff"))])
    body.decode("ascii")
    assert [item["name"] for item in json.loads(body)] == ["é", "\udcff"]


# --- scanning a real directory ---


@pytest.fixture
def directory(tmp_path):
    (tmp_path / "file").write_bytes(b"12345")
    (tmp_path / "sub").mkdir()
    (tmp_path / "to_file").symlink_to("file")
    (tmp_path / "to_sub").symlink_to("sub")
    (tmp_path / "dangling").symlink_to("nowhere")
    os.utime(tmp_path / "file", (MTIME, MTIME))
    return tmp_path


def test_scan_directory_describes_each_kind(directory):
    entries = {entry.name: entry for entry in scan_directory(str(directory))}
    assert set(entries) == {"file", "sub", "to_file", "to_sub", "dangling"}
    assert entries["file"] == ListingEntry("file", False, False, 5, MTIME)
    assert entries["sub"].is_dir and not entries["sub"].is_symlink
    assert entries["sub"].size is None
    assert entries["to_file"] == ListingEntry("to_file", False, True, 5, MTIME)
    assert entries["to_sub"].is_dir and entries["to_sub"].is_symlink
    dangling = entries["dangling"]
    assert (dangling.is_dir, dangling.is_symlink, dangling.size) == (False, True, None)
    assert dangling.mtime is not None


def test_scan_directory_keeps_undecodable_names(tmp_path):
    (tmp_path / os.fsdecode(b"\xff\xfe")).write_bytes(b"x")
    assert [entry.name for entry in scan_directory(str(tmp_path))] == ["\udcff\udcfe"]


@pytest.mark.parametrize("name", ["missing", "file"])
def test_scan_directory_raises_oserror_for_non_directories(directory, name):
    with pytest.raises(OSError):
        scan_directory(str(directory / name))


def test_whole_pipeline_on_a_hostile_directory(tmp_path):
    for name in HOSTILE_FILE_NAMES:
        (tmp_path / name).write_text("x")
    body = render_html("/", sort_entries(scan_directory(str(tmp_path))), show_parent=False)
    assert not re.search(rb"<(script|img)", body)
    reader = read_page(body)
    assert [tag for tag, _ in reader.tags if tag in ("script", "img")] == []
    assert sorted(text for _, text in reader.anchors) == sorted(HOSTILE_FILE_NAMES)


# --- content negotiation ---


@pytest.mark.parametrize(
    ("accept", "wants_json"),
    [
        (None, False),
        ("", False),
        ("*/*", False),
        ("application/json", True),
        ("Application/JSON", True),
        ("application/json, text/html", False),
        ("text/html, application/json", False),
        ("text/html;q=0.5, application/json", True),
        ("application/*", True),
        ("application/json;q=0", False),
        ("application/json;q=nan", False),
        ("application/json;q=bogus, */*;q=0.1", False),
        ("text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8", False),
        ("application/json, */*;q=0.1", True),
    ],
)
def test_prefers_json(accept, wants_json):
    assert prefers_json(accept) is wants_json
