"""Configurable policies of the static handler against a running server: MIME types and
charset, Cache-Control rules, dotfiles, HEAD mirroring GET, and the JSON listing."""

import json
import os

import pytest
from static_server import QuietHandler, RfcHandler, request, serving

from pyhttpd.handlers.static.mimetypes_map import with_charset
from pyhttpd.handlers.static.settings import DAEMON_DEFAULTS, cache_control_for, daemon_attributes

MTIME = 1700000000


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "root"
    for directory in ("assets", "docs", "b-dir", "A-dir", ".git"):
        (root / directory).mkdir(parents=True)
    files = {
        "index.txt": b"text", "notes.md": b"# notes", "data.json": b"{}", "pixel.png": b"\x89PNG",
        "legacy.latin": b"caf\xe9", "assets/app.css": b"body{}", "docs/page.html": b"<p>doc</p>",
        ".env": b"SECRET=1", ".git/config": b"[core]", "z.bin": b"\x00" * 2048,
    }
    for name, content in files.items():
        (root / name).write_bytes(content)
    for path in root.rglob("*"):
        os.utime(path, (MTIME, MTIME))
    return root


def daemon_handler(site, **static):
    """The handler as configure() builds it in a worker, for these static settings."""
    attributes = daemon_attributes(RfcHandler, static)
    return type("H", (RfcHandler,), {"directory": str(site), **attributes})


# --- MIME types ---


@pytest.mark.parametrize(
    ("media_type", "expected"),
    [
        ("text/plain", "text/plain; charset=utf-8"),
        ("text/html", "text/html; charset=utf-8"),
        ("application/javascript", "application/javascript; charset=utf-8"),
        ("application/json", "application/json"),
        ("image/svg+xml", "image/svg+xml"),
        ("text/xml", "text/xml"),  # its XML declaration names its encoding
        ("text/plain; charset=latin-1", "text/plain; charset=latin-1"),
        ("application/octet-stream", "application/octet-stream"),
    ],
)
def test_with_charset(media_type, expected):
    assert with_charset(media_type, "utf-8") == expected
    assert with_charset(media_type, None) == media_type


def test_content_types_and_the_configured_map(site):
    handler = daemon_handler(site, mime_types={"md": "text/markdown", ".latin": "text/plain; charset=latin-1",
                                               "png": "image/x-custom"})
    with serving(handler) as address:
        types = {name: request(address, "/" + name).header("Content-Type")
                 for name in ("index.txt", "notes.md", "data.json", "pixel.png", "legacy.latin", "z.bin")}
    assert types == {
        "index.txt": "text/plain; charset=utf-8",
        "notes.md": "text/markdown; charset=utf-8",
        "data.json": "application/json",
        "pixel.png": "image/x-custom",  # the configured map wins over the built-in table
        "legacy.latin": "text/plain; charset=latin-1",
        "z.bin": "application/octet-stream",
    }


def test_text_charset_can_be_turned_off(site):
    with serving(type("H", (QuietHandler,), {"directory": str(site), "text_charset": None})) as address:
        assert request(address, "/index.txt").header("Content-Type") == "text/plain"


# --- Cache-Control ---

RULES = (
    ("/assets/*", "public, max-age=31536000, immutable"),
    ("*.html", "no-cache"),
    ("/docs/", "max-age=5"),
)


@pytest.mark.parametrize(
    ("url_path", "value"),
    [
        ("/assets/app.css", RULES[0][1]),
        ("/assets/deep/x.html", RULES[0][1]),  # the first match wins
        ("/docs/page.html", "no-cache"),  # no "/": matched against the last segment
        ("/page.html", "no-cache"),
        ("/docs/", "max-age=5"),
        ("/docs/page.HTML", None),  # case-sensitive
        ("/index.txt", None),
    ],
)
def test_cache_control_for(url_path, value):
    assert cache_control_for(url_path, RULES) == value


def test_cache_control_on_files_listings_and_304(site):
    with serving(daemon_handler(site, cache_control=[list(rule) for rule in RULES])) as address:
        assert request(address, "/assets/app.css").header("Cache-Control") == RULES[0][1]
        assert request(address, "/docs/page.html").header("Cache-Control") == "no-cache"
        assert request(address, "/docs/").header("Cache-Control") == "max-age=5"
        assert request(address, "/index.txt").header("Cache-Control") is None
        etag = request(address, "/assets/app.css").header("ETag")
        response = request(address, "/assets/app.css", headers={"If-None-Match": etag})
        assert (response.status, response.header("Cache-Control")) == (304, RULES[0][1])


def test_a_rule_wins_over_an_extra_header_of_the_same_name(site):
    handler = daemon_handler(site, cache_control=[["*.css", "max-age=1"]])
    handler.extra_response_headers = (("Cache-Control", "no-store"), ("X-Frame-Options", "DENY"))
    with serving(handler) as address:
        response = request(address, "/assets/app.css")
        assert response.headers.get_all("Cache-Control") == ["max-age=1"]
        assert response.header("X-Frame-Options") == "DENY"
        assert request(address, "/index.txt").headers.get_all("Cache-Control") == ["no-store"]


# --- dotfiles ---


def test_dotfiles_are_hidden_by_the_daemon_default(site):
    assert DAEMON_DEFAULTS["serve_dotfiles"] is False
    with serving(daemon_handler(site)) as address:
        for target in ("/.env", "/.git/config", "/.git/", "/%2eenv", "/docs/../.env"):
            assert request(address, target).status == 404, target
        listing = request(address, "/", headers={"Accept": "application/json"})
        assert not any(entry["name"].startswith(".") for entry in json.loads(listing.body))


def test_dotfiles_are_served_when_enabled(site):
    with serving(daemon_handler(site, serve_dotfiles=True)) as address:
        assert request(address, "/.env").body == b"SECRET=1"
        assert request(address, "/.git/config").status == 200
        listing = request(address, "/", headers={"Accept": "application/json"})
        names = [entry["name"] for entry in json.loads(listing.body)]
        assert ".git" in names and ".env" in names


# --- HEAD mirrors GET ---


@pytest.mark.parametrize(
    ("target", "headers"),
    [
        ("/index.txt", {}),
        ("/z.bin", {}),
        ("/", {}),
        ("/", {"Accept": "application/json"}),
        ("/index.txt", {"If-None-Match": "*"}),
        ("/index.txt", {"If-Match": '"nope"'}),
        ("/missing", {}),
        ("/docs", {}),
    ],
)
def test_head_sends_exactly_the_get_headers(site, target, headers):
    with serving(daemon_handler(site, cache_control=[["*", "max-age=9"]])) as address:
        get = request(address, target, "GET", headers)
        head = request(address, target, "HEAD", headers)
    assert head.status == get.status
    assert head.body == b""
    assert head.header_list() == get.header_list()


# --- the listing ---


def test_json_listing(site):
    with serving(daemon_handler(site)) as address:
        response = request(address, "/", headers={"Accept": "application/json"})
    assert response.status == 200
    assert response.header("Content-Type") == "application/json"
    assert response.header("Vary") == "Accept"
    entries = json.loads(response.body)
    assert [entry["name"] for entry in entries] == [
        "A-dir", "assets", "b-dir", "docs",  # directories first, case-insensitively sorted
        "data.json", "index.txt", "legacy.latin", "notes.md", "pixel.png", "z.bin",
    ]
    assert entries[0] == {"name": "A-dir", "type": "directory", "size": None, "mtime": "2023-11-14T22:13:20Z"}
    assert entries[-1] == {"name": "z.bin", "type": "file", "size": 2048, "mtime": "2023-11-14T22:13:20Z"}


def test_html_listing_is_the_default(site):
    with serving(daemon_handler(site)) as address:
        response = request(address, "/docs/", headers={"Accept": "text/html,application/json;q=0.9"})
    assert response.header("Content-Type") == "text/html; charset=utf-8"
    assert response.body.startswith(b"<!DOCTYPE html>")
    assert b'<a href="../">' in response.body and b'href="page.html"' in response.body


def test_html_listing_needs_nothing_from_elsewhere(site):
    with serving(daemon_handler(site)) as address:
        page = request(address, "/").body.decode()
    for external in ("<script", "<link", "<img", "src=", "url(", "@import", "http:", "https:"):
        assert external not in page


def test_daemon_defaults_are_the_config_defaults():
    from pyhttpd.config.table import BY_KEY

    for key, value in DAEMON_DEFAULTS.items():
        assert BY_KEY[f"static.{key}"].default == value, key
