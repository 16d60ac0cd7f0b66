"""Mapping request targets onto the file system: pyhttpd.handlers.static.paths."""

import ntpath
import os

import pytest

from pyhttpd.handlers.static import paths
from pyhttpd.handlers.static.paths import (
    _url_collapse_path,
    decode_path,
    directory_redirect_location,
    is_open_file_within_root,
    is_within_root,
    url_path_to_fs,
)

# --- CPython's translate_path vectors (test_httpservers.SimpleHTTPRequestHandlerTestCase) ---

ROOTS = [os.getcwd(), "foo", "bar"]


@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize(
    "target",
    [
        "/filename",
        "/filename?foo=bar",
        "/filename?a=b&spam=eggs#zot",
        "//filename",
        "//filename?foo=bar",
    ],
)
def test_query_and_double_slash_vectors(root, target):
    assert url_path_to_fs(target, root) == os.path.join(root, "filename")


@pytest.mark.parametrize("root", ROOTS)
@pytest.mark.parametrize(
    "target",
    [
        "c:c:c:foo/filename",
        "\\c:../filename",
        "c:\\c:..\\foo/filename",
        "c:c:foo\\c:c:bar/filename",
    ],
)
def test_windows_drive_and_separator_vectors(monkeypatch, root, target):
    expected = os.path.join(root, "filename")
    # Swapped at the os module, as CPython's test does: paths must look os.path up late.
    monkeypatch.setattr(os, "path", ntpath)
    translated = url_path_to_fs(target, root).replace(ntpath.sep, "/")
    monkeypatch.undo()
    assert translated == expected


def test_root_accepts_path_like(tmp_path):
    assert url_path_to_fs("/x", tmp_path) == os.path.join(str(tmp_path), "x")


# --- CPython's test_url_collapse_path vectors ---

COLLAPSE_VECTORS = {
    "": "//",
    "/": "//",
    "//": "//",
    "/\\": "//\\",
    "/.//": "//",
    "cgi-bin/file1.py": "/cgi-bin/file1.py",
    "/cgi-bin/file1.py": "/cgi-bin/file1.py",
    "a": "//a",
    "/a": "//a",
    "//a": "//a",
    "./a": "//a",
    "./C:/": "/C:/",
    "/a/b": "/a/b",
    "/a/b/": "/a/b/",
    "/a/b/.": "/a/b/",
    "/a/b/c/..": "/a/b/",
    "/a/b/c/../d": "/a/b/d",
    "/a/b/c/../d/e/../f": "/a/b/d/f",
    "/a/b/c/../d/e/../../f": "/a/b/f",
    "/a/b/c/../d/e/.././././..//f": "/a/b/f",
    "/a/b/c/../d/e/../../../f": "/a/f",
    "/a/b/c/../d/e/../../../../f": "//f",
    "/a/b/c/../d/e/../../../../f/..": "//",
    "/a/b/c/../d/e/../../../../f/../.": "//",
}

COLLAPSE_OVERFLOWS = [
    "..",
    "/.//..",
    "../a/b/c/../d/e/.././././..//f",
    "/a/b/c/../d/e/../../../../../f",
]


@pytest.mark.parametrize(("path", "expected"), COLLAPSE_VECTORS.items())
def test_url_collapse_path(path, expected):
    assert _url_collapse_path(path) == expected


@pytest.mark.parametrize("path", COLLAPSE_OVERFLOWS)
def test_url_collapse_path_refuses_climbing_above_top(path):
    with pytest.raises(IndexError):
        _url_collapse_path(path)


def test_url_collapse_path_decodes_path_but_keeps_query_verbatim():
    assert _url_collapse_path("/cgi-bin%2ffile1.py") == "/cgi-bin/file1.py"
    assert _url_collapse_path("/cgi-bin/f.py?a=b?c=d") == "/cgi-bin/f.py?a=b?c=d"
    assert _url_collapse_path("/c/f.py?k=aa%2F%2Fbb&//q//") == "/c/f.py?k=aa%2F%2Fbb&//q//"


# --- traversal: every encoding stays inside the root ---

TRAVERSALS = [
    "/../secret",
    "/../../../../../../etc/passwd",
    "/..%2fsecret",
    "/..%2Fsecret",
    "/%2e%2e/secret",
    "/%2E%2E%2Fsecret",
    "/.%2e/secret",
    "/..\\secret",
    "/%2e%2e%5csecret",
    "/%252e%252e/secret",
    "/%252e%252e%252fsecret",
    "/%c0%ae%c0%ae/secret",
    "/%c0%af..%c0%afsecret",
    "/%e0%80%ae%e0%80%ae/secret",
    "/a/../../secret",
    "/./.././secret",
    "//../secret",
    "///..//..//secret",
    "/a/b/c/%2e%2e/%2e%2e/%2e%2e/%2e%2e/secret",
    "/..;/secret",
    "/%00/../../secret",
    "/..%00/secret",
    "http://evil.example/../../secret",
    "../secret",
    "..",
    "/..?x=/../../secret",
    "/..#/../../secret",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_traversal_stays_inside_root(tmp_path, target):
    root = tmp_path / "root"
    root.mkdir()
    secret = tmp_path / "secret"
    secret.write_text("outside")
    mapped = url_path_to_fs(target, str(root))
    assert os.path.commonpath([str(root), os.path.abspath(mapped)]) == str(root)
    assert os.path.abspath(mapped) != str(secret)


def test_double_encoding_is_decoded_once(tmp_path):
    assert url_path_to_fs("/%252e%252e/x", str(tmp_path)) == str(tmp_path / "%2e%2e" / "x")


def test_overlong_utf8_dot_is_not_a_dot(tmp_path):
    mapped = url_path_to_fs("/%c0%ae%c0%ae/x", str(tmp_path))
    assert mapped == os.path.join(str(tmp_path), "\udcc0\udcae\udcc0\udcae", "x")
    assert os.fsencode(mapped) == os.fsencode(str(tmp_path)) + b"/\xc0\xae\xc0\xae/x"


def test_backslash_is_an_ordinary_character_on_posix(tmp_path):
    assert url_path_to_fs("/..\\x", str(tmp_path)) == os.path.join(str(tmp_path), "..\\x")


def test_nul_gives_a_path_that_names_no_file(tmp_path):
    (tmp_path / "a").write_text("a")
    mapped = url_path_to_fs("/a%00", str(tmp_path))
    assert mapped == os.path.join(str(tmp_path), "a\0")
    assert not os.path.exists(mapped)
    assert not os.path.isfile(mapped)
    with pytest.raises(ValueError):
        open(mapped, "rb")
    assert not is_within_root(mapped, str(tmp_path), follow_symlinks=False)
    assert not is_within_root(mapped, str(tmp_path), follow_symlinks=True)


def test_trailing_slash_is_kept(tmp_path):
    root = str(tmp_path)
    assert url_path_to_fs("/", root) == root + "/"
    assert url_path_to_fs("/d/", root) == root + "/d/"
    assert url_path_to_fs("/d/?q=1", root) == root + "/d/"
    assert url_path_to_fs("/d", root) == root + "/d"
    assert url_path_to_fs("/d/..", root) == root
    assert url_path_to_fs("/d%2f", root) == root + "/d/"
    assert url_path_to_fs("/", "/") == "/"


def test_absolute_form_uses_only_the_path(tmp_path):
    root = str(tmp_path)
    assert url_path_to_fs("https://example.org/a/b?q", root) == root + "/a/b"
    assert url_path_to_fs("http://example.org", root) == root


# --- decoding ---


@pytest.mark.parametrize(
    ("quoted", "decoded"),
    [
        ("/plain", "/plain"),
        ("/caf%C3%A9", "/café"),
        ("/%ED%B3%BF", "/\udcff"),  # the listing's surrogatepass form of the byte 0xff
        ("/%ff", "/\udcff"),  # the raw byte itself
        ("/a%ffb%ED%B3%BFc", "/a\udcffb\udcffc"),
        ("/%e2%82", "/\udce2\udc82"),  # truncated sequence
        ("/%zz", "/%zz"),  # not an escape
    ],
)
def test_decode_path(quoted, decoded):
    assert decode_path(quoted) == decoded


def test_undecodable_name_round_trips_to_its_bytes(tmp_path):
    mapped = url_path_to_fs("/%ED%B3%BF.txt", str(tmp_path))
    assert os.fsencode(mapped) == os.fsencode(str(tmp_path)) + b"/\xff.txt"


# --- is_within_root ---


@pytest.fixture
def tree(tmp_path):
    """root/ with a file, a subdir, a link inside and links leading out; secret/ beside it."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "file").write_text("in")
    outside = tmp_path / "secret"
    outside.mkdir()
    (outside / "key").write_text("out")
    (root / "inner_link").symlink_to(root / "file")
    (root / "relative_inner_link").symlink_to("sub")
    (root / "outer_link").symlink_to(outside / "key")
    (root / "outer_dir_link").symlink_to(outside)
    (root / "climbing_link").symlink_to("../secret/key")
    return root


@pytest.mark.parametrize("name", ["file", "sub", "inner_link", "relative_inner_link", "missing"])
def test_inside_paths_are_within_root(tree, name):
    assert is_within_root(str(tree / name), str(tree), follow_symlinks=False)


@pytest.mark.parametrize(
    "name", ["outer_link", "outer_dir_link", "outer_dir_link/key", "outer_dir_link/nope"]
)
def test_links_out_of_root_are_refused_unless_followed(tree, name):
    assert not is_within_root(str(tree / name), str(tree), follow_symlinks=False)
    assert is_within_root(str(tree / name), str(tree), follow_symlinks=True)


def test_relative_link_climbing_out_is_refused(tree):
    assert not is_within_root(str(tree / "climbing_link"), str(tree), follow_symlinks=False)


def test_root_itself_is_within_root(tree):
    assert is_within_root(str(tree), str(tree), follow_symlinks=False)
    assert is_within_root(str(tree) + "/", str(tree), follow_symlinks=False)


def test_lexical_escape_is_refused_even_when_following(tree):
    assert not is_within_root(str(tree.parent / "secret"), str(tree), follow_symlinks=True)
    assert not is_within_root(str(tree) + "/../secret", str(tree), follow_symlinks=True)


def test_root_reached_through_a_symlink(tree, tmp_path):
    alias = tmp_path / "alias"
    alias.symlink_to(tree)
    assert is_within_root(str(alias / "file"), str(alias), follow_symlinks=False)
    assert not is_within_root(str(alias / "outer_link"), str(alias), follow_symlinks=False)


def test_sibling_with_common_prefix_is_not_inside(tmp_path):
    (tmp_path / "root").mkdir()
    (tmp_path / "root2").mkdir()
    assert not is_within_root(str(tmp_path / "root2"), str(tmp_path / "root"), False)


def test_unencodable_surrogate_is_refused(tree):
    assert not is_within_root(str(tree) + "/\ud800", str(tree), follow_symlinks=False)


@pytest.mark.parametrize(
    ("name", "inside"),
    [("file", True), ("inner_link", True), ("outer_link", False), ("outer_dir_link/key", False)],
)
def test_open_file_is_judged_where_it_really_is(tree, name, inside):
    """What a symlink swapped in after the path check would give: the opened file decides."""
    descriptor = os.open(tree / name, os.O_RDONLY)
    try:
        assert is_open_file_within_root(descriptor, str(tree)) is inside
    finally:
        os.close(descriptor)


def test_open_file_that_was_deleted_is_still_judged(tree):
    descriptor = os.open(tree / "file", os.O_RDONLY)
    try:
        os.unlink(tree / "file")
        assert is_open_file_within_root(descriptor, str(tree))
    finally:
        os.close(descriptor)


# --- directory redirects ---


@pytest.mark.parametrize(
    ("target", "location"),
    [
        ("/dir", "/dir/"),
        ("/dir?hi=1", "/dir/?hi=1"),
        ("dir?hi=1", "dir/?hi=1"),
        ("//evil.example/x", "/evil.example/x/"),
        ("///evil.example/x?q", "/evil.example/x/?q"),
        ("/a%0d%0a/b", "/a%0d%0a/b/"),
        ("https://pypi.org/x?q=1", "https://pypi.org/x/?q=1"),
        ("http://host", "http://host/"),
    ],
)
def test_directory_redirect_location(target, location):
    assert directory_redirect_location(target) == location


def test_os_path_is_looked_up_at_call_time():
    # A guard on the module's shape: a "from os import path" would break the ntpath test.
    assert not hasattr(paths, "path")
