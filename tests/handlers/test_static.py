"""SimpleHTTPRequestHandler against a real ThreadingHTTPServer on 127.0.0.1.

Every test talks to the server over a real socket. Every wait is bounded: sockets carry a
timeout and the server thread must stop within SHUTDOWN_TIMEOUT_S.
"""

import contextlib
import email.utils
import functools
import hashlib
import http.client
import io
import json
import os
import socket
import time
import urllib.parse

import pytest
from static_server import PlainWriter
from support.inprocess import serving

from pyhttpd.handlers.servers import ThreadingHTTPServer
from pyhttpd.handlers.static import SimpleHTTPRequestHandler, is_not_modified_since
from pyhttpd.handlers.static.file_body import copy_in_chunks

SOCKET_TIMEOUT_S = 10
SHUTDOWN_TIMEOUT_S = 10
MAX_RESPONSE_BYTES = 32 * 1024 * 1024
SECRET = b"THE-SECRET-OUTSIDE-THE-ROOT-4f1c"
PAGE = b"<p>hello</p>\n"


class QuietHandler(SimpleHTTPRequestHandler):
    def log_message(self, format, *args):
        pass


@contextlib.contextmanager
def running_server(handler_class, **server_kwargs):
    """Serve ``handler_class`` on an ephemeral port of 127.0.0.1 until the block ends."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), handler_class, **server_kwargs)
    with serving(server, SHUTDOWN_TIMEOUT_S):
        yield server


@pytest.fixture
def site(tmp_path):
    """root/ holding a small site; a secret file and directory beside it, outside the root."""
    root = tmp_path / "root"
    (root / "sub").mkdir(parents=True)
    (root / "page.html").write_bytes(PAGE)
    (root / "data.bin").write_bytes(b"\x00\x01\x02")
    (root / "sub" / "note.txt").write_bytes(b"note")
    (root / ".env").write_bytes(b"dotfile")
    (tmp_path / "secret.txt").write_bytes(SECRET)
    (tmp_path / "secretdir").mkdir()
    (tmp_path / "secretdir" / "key").write_bytes(SECRET)
    return root


@pytest.fixture
def serve(site):
    """serve(**class_attributes) -> (host, port) of a server for ``site``, torn down after."""
    with contextlib.ExitStack() as stack:

        def start(handler_base=QuietHandler, server_kwargs=None, **attributes):
            attributes.setdefault("directory", str(site))
            handler = type("TestHandler", (handler_base,), attributes)
            server = stack.enter_context(running_server(handler, **(server_kwargs or {})))
            return server.server_address[:2]

        yield start


def get(address, target, method="GET", headers=None):
    """Send one request with http.client; return (response, body)."""
    connection = http.client.HTTPConnection(*address, timeout=SOCKET_TIMEOUT_S)
    try:
        connection.request(method, target, headers=headers or {})
        response = connection.getresponse()
        return response, response.read()
    finally:
        connection.close()


def raw_exchange(address, request: bytes) -> tuple[int, dict[str, str], bytes]:
    """Send raw request bytes, read to EOF; return (status, lower-cased headers, body)."""
    with socket.create_connection(address, timeout=SOCKET_TIMEOUT_S) as connection:
        connection.sendall(request)
        received = bytearray()
        while len(received) < MAX_RESPONSE_BYTES:
            chunk = connection.recv(65536)
            if not chunk:
                break
            received += chunk
    head, _, body = bytes(received).partition(b"\r\n\r\n")
    status_line, *lines = head.decode("iso-8859-1").split("\r\n")
    headers = {}
    for line in lines:
        name, _, value = line.partition(":")
        headers[name.strip().lower()] = value.strip()
    return int(status_line.split()[1]), headers, body


def raw_get(address, target: bytes, method=b"GET") -> tuple[int, dict[str, str], bytes]:
    return raw_exchange(address, method + b" " + target + b" HTTP/1.0\r\n\r\n")


# --- files ---


def test_get_file(serve, site):
    response, body = get(serve(), "/page.html")
    assert response.status == 200
    assert body == PAGE
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    assert response.getheader("Content-Length") == str(len(PAGE))
    mtime = os.stat(site / "page.html").st_mtime
    assert response.getheader("Last-Modified") == email.utils.formatdate(mtime, usegmt=True)


def test_unknown_suffix_gets_the_default_type(serve):
    response, _ = get(serve(), "/data.bin")
    assert response.getheader("Content-Type") == "application/octet-stream"


def test_compressed_suffixes_are_not_content_encodings(serve, site):
    (site / "archive.tar.gz").write_bytes(b"gz")
    response, _ = get(serve(), "/archive.tar.gz")
    assert response.getheader("Content-Type") == "application/gzip"
    assert response.getheader("Content-Encoding") is None


def test_head_sends_the_get_head_and_no_body(serve):
    address = serve()
    for target in (b"/page.html", b"/sub/"):
        get_status, get_headers, get_body = raw_get(address, target)
        head_status, head_headers, head_body = raw_get(address, target, method=b"HEAD")
        assert (head_status, head_body) == (get_status, b"")
        get_headers.pop("date"), head_headers.pop("date")
        assert head_headers == get_headers
        assert int(head_headers["content-length"]) == len(get_body)


def test_http_1_0_response_closes_the_connection(serve):
    status, headers, body = raw_get(serve(), b"/page.html")
    assert (status, body) == (200, PAGE)
    assert headers.get("connection", "close") == "close"


def test_missing_file_is_404(serve):
    response, body = get(serve(), "/nope.html")
    assert response.status == 404
    assert b"File not found" in body


def test_file_with_trailing_slash_is_404(serve):
    assert get(serve(), "/page.html/")[0].status == 404


def test_ten_mebibyte_file_arrives_whole(serve, site):
    content = os.urandom(10 * 1024 * 1024)
    (site / "big.bin").write_bytes(content)
    response, body = get(serve(), "/big.bin")
    assert response.status == 200
    assert response.getheader("Content-Length") == str(len(content))
    assert hashlib.sha256(body).hexdigest() == hashlib.sha256(content).hexdigest()


def test_keep_alive_bodies_are_framed_exactly(serve, site):
    content = os.urandom(3 * 1024 * 1024 + 7)
    (site / "big.bin").write_bytes(content)
    connection = http.client.HTTPConnection(*serve(protocol_version="HTTP/1.1"), timeout=10)
    try:
        for target, expected in (("/big.bin", content), ("/page.html", PAGE), ("/big.bin", content)):
            connection.request("GET", target)
            response = connection.getresponse()
            assert (response.status, response.read()) == (200, expected)
            assert not response.will_close
    finally:
        connection.close()


class BufferedWfileHandler(QuietHandler):
    """wfile is a BufferedWriter on the socket: the head must be flushed before sendfile."""

    wbufsize = 64 * 1024


class NoFilenoWfileHandler(QuietHandler):
    def setup(self):
        super().setup()
        self.wfile = PlainWriter(self.wfile)


@pytest.mark.parametrize("handler_base", [BufferedWfileHandler, NoFilenoWfileHandler])
def test_body_arrives_whatever_wfile_is(serve, site, handler_base):
    content = os.urandom(1024 * 1024 + 3)
    (site / "big.bin").write_bytes(content)
    address = serve(handler_base=handler_base)
    status, headers, body = raw_get(address, b"/big.bin")
    assert (status, int(headers["content-length"])) == (200, len(content))
    assert body == content


def test_chunked_copy_never_reads_more_than_a_chunk(tmp_path):
    class RecordingFile(io.FileIO):
        largest_read = 0

        def read(self, size=-1):
            RecordingFile.largest_read = max(RecordingFile.largest_read, size)
            return super().read(size)

    path = tmp_path / "f"
    path.write_bytes(b"x" * (300 * 1024))
    output = io.BytesIO()
    with RecordingFile(path) as source:
        assert copy_in_chunks(source, output) == 300 * 1024
    assert output.getvalue() == b"x" * (300 * 1024)
    assert 0 < RecordingFile.largest_read <= 64 * 1024


# --- directories ---


def test_directory_without_slash_redirects_keeping_the_query(serve):
    response, body = get(serve(), "/sub?x=1&y=2")
    assert response.status == 301
    assert response.getheader("Location") == "/sub/?x=1&y=2"
    assert response.getheader("Content-Length") == "0"
    assert body == b""


@pytest.mark.parametrize("target", [b"//sub", b"///sub", b"//evil.example/..%2fsub"])
def test_redirect_location_never_names_another_host(serve, target):
    status, headers, _ = raw_get(serve(), target)
    assert status == 301
    assert not headers["location"].startswith("//")
    assert headers["location"].startswith("/")


def test_absolute_form_redirect_keeps_scheme_and_host(serve):
    status, headers, _ = raw_get(serve(), b"http://example.org/sub?q=1")
    assert status == 301
    assert headers["location"] == "http://example.org/sub/?q=1"


def test_index_html_is_served(serve, site):
    (site / "sub" / "index.html").write_bytes(b"index")
    (site / "sub" / "index.htm").write_bytes(b"htm")
    response, body = get(serve(), "/sub/")
    assert (response.status, body) == (200, b"index")


def test_index_htm_is_the_fallback(serve, site):
    (site / "sub" / "index.htm").write_bytes(b"htm")
    assert get(serve(), "/sub/")[1] == b"htm"


def test_index_html_directory_is_not_an_index(serve, site):
    (site / "sub" / "index.html").mkdir()
    response, body = get(serve(), "/sub/")
    assert response.status == 200
    assert b"Directory listing for /sub/" in body


def test_listing_escapes_hostile_names(serve, site):
    names = ["<script>alert(1)<\\script>", "<img src=x onerror=alert(1)>", "&\"'", "a b"]
    for name in names:
        (site / "sub" / name).write_bytes(b"x")
    response, body = get(serve(), "/sub/")
    assert response.status == 200
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    assert b"<script" not in body and b"<img" not in body
    text = body.decode("utf-8")
    assert "&lt;script&gt;alert(1)&lt;\\script&gt;" in text
    for name in names:
        assert f'href="{urllib.parse.quote(name)}"' in text


def test_listing_links_and_parent(serve):
    address = serve()
    _, root_page = get(address, "/")
    assert b'href="../"' not in root_page
    assert b'href="sub/"' in root_page and b">sub/<" in root_page
    _, sub_page = get(address, "/sub/")
    assert b'href="../"' in sub_page
    assert b'href="note.txt"' in sub_page


def test_listing_title_shows_the_query(serve):
    _, body = get(serve(), "/sub/?x=%bb")
    assert b"Directory listing for /sub/?x=\xef\xbf\xbd" in body


def test_json_listing(serve, site):
    os.utime(site / "sub" / "note.txt", (1700000000, 1700000000))
    (site / "sub" / "inner").mkdir()
    response, body = get(serve(), "/sub/", headers={"Accept": "application/json"})
    assert response.status == 200
    assert response.getheader("Content-Type") == "application/json"
    assert response.getheader("Vary") == "Accept"
    listing = json.loads(body)
    assert listing[0]["name"] == "inner" and listing[0]["type"] == "directory"
    assert listing[1] == {"name": "note.txt", "type": "file", "size": 4, "mtime": "2023-11-14T22:13:20Z"}


def test_undecodable_file_name_round_trips(serve, site):
    name = os.fsdecode(b"caf\xe9-\xff.txt")
    (site / name).write_bytes(b"latin")
    address = serve()
    _, listing = get(address, "/")
    quoted = urllib.parse.quote(name, errors="surrogatepass")
    assert f'href="{quoted}"'.encode() in listing
    assert b">caf\xe9-\xff.txt<" in listing
    assert get(address, "/" + quoted)[1] == b"latin"
    assert raw_get(address, b"/caf%e9-%ff.txt")[2] == b"latin"


def test_unreadable_directory_is_404(serve, site):
    """A directory that vanished (a symlink to it left behind) cannot be listed: 404."""
    (site / "gone").mkdir()
    (site / "to_gone").symlink_to("gone")
    (site / "gone").rmdir()
    assert get(serve(), "/to_gone/")[0].status == 404


# --- what must never be served ---

TRAVERSALS = [
    b"/../secret.txt",
    b"/..%2fsecret.txt",
    b"/%2e%2e/secret.txt",
    b"/%2e%2e%2fsecret.txt",
    b"/%2E%2E%2Fsecret.txt",
    b"/.%2e/secret.txt",
    b"/..\\secret.txt",
    b"/..%5csecret.txt",
    b"/%252e%252e%252fsecret.txt",
    b"/%c0%ae%c0%ae/secret.txt",
    b"/%c0%ae%c0%ae%c0%afsecret.txt",
    b"/sub/../../secret.txt",
    b"/sub/%2e%2e/%2e%2e/secret.txt",
    b"//../secret.txt",
    b"/..%00/secret.txt",
    b"/secret.txt%00.html",
    b"/../secretdir/key",
    b"/..;/secret.txt",
    b"http://localhost/../secret.txt",
    b"../secret.txt",
    b"/\xc0\xae\xc0\xae/secret.txt",
    b"/..\xc0\xafsecret.txt",
]


@pytest.mark.parametrize("target", TRAVERSALS)
def test_traversal_is_404_and_reads_nothing_outside(serve, target):
    status, _, body = raw_get(serve(), target)
    assert status == 404
    assert SECRET not in body


def test_nul_byte_is_404(serve):
    for target in (b"/page.html%00", b"/%00", b"/sub%00/"):
        assert raw_get(serve(), target)[0] == 404


@pytest.fixture
def links(site):
    """Symlinks in the root: one inside it, three leading out of it."""
    (site / "inside_link").symlink_to("page.html")
    (site / "outside_file_link").symlink_to(site.parent / "secret.txt")
    (site / "outside_dir_link").symlink_to(site.parent / "secretdir")
    (site / "sub" / "climbing_link").symlink_to("../../secret.txt")
    return site


def test_symlink_inside_the_root_is_served(serve, links):
    assert get(serve(), "/inside_link")[1] == PAGE


@pytest.mark.parametrize(
    "target",
    ["/outside_file_link", "/outside_dir_link/", "/outside_dir_link/key", "/sub/climbing_link"],
)
def test_symlink_out_of_the_root_is_404(serve, links, target):
    response, body = get(serve(), target)
    assert response.status == 404
    assert SECRET not in body


def test_symlink_out_of_the_root_is_served_when_enabled(serve, links):
    address = serve(follow_symlinks=True)
    assert get(address, "/outside_file_link")[1] == SECRET
    assert get(address, "/outside_dir_link/key")[1] == SECRET


def test_index_symlinked_out_of_the_root_is_not_served(serve, links):
    (links / "sub" / "index.html").symlink_to(links.parent / "secret.txt")
    response, body = get(serve(), "/sub/")
    assert response.status == 200
    assert SECRET not in body
    assert b"Directory listing" in body


def test_special_files_are_404_without_hanging(serve, site):
    """A dangling symlink, a FIFO and a Unix socket: unreadable even for root."""
    (site / "dangling").symlink_to("nowhere")
    os.mkfifo(site / "fifo")
    with socket.socket(socket.AF_UNIX) as unix_socket:
        unix_socket.bind(str(site / "sock"))
        address = serve()
        started = time.monotonic()
        for target in ("/dangling", "/fifo", "/sock"):
            assert get(address, target)[0].status == 404, target
        assert time.monotonic() - started < SOCKET_TIMEOUT_S
    _, listing = get(address, "/")
    assert b">dangling@<" in listing


def test_dotfiles_are_served_by_default(serve):
    assert get(serve(), "/.env")[1] == b"dotfile"


def test_dotfiles_can_be_hidden(serve, site):
    (site / ".git").mkdir()
    (site / ".git" / "config").write_bytes(b"cfg")
    address = serve(serve_dotfiles=False)
    for target in ("/.env", "/.git/config", "/.git/", "/%2eenv"):
        assert get(address, target)[0].status == 404
    _, listing = get(address, "/")
    assert b".env" not in listing and b".git" not in listing


# --- conditional requests ---


def http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


@pytest.fixture
def dated_page(site):
    os.utime(site / "page.html", (1700000000.5, 1700000000.5))
    return 1700000000


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"If-Modified-Since": http_date(1700000000)}, 304),
        ({"If-Modified-Since": http_date(1700000000 + 3600)}, 304),
        ({"If-Modified-Since": http_date(1700000000 - 1)}, 200),
        ({"If-Modified-Since": "yesterday"}, 200),
        ({"If-Modified-Since": http_date(1700000000), "If-None-Match": "*"}, 200),
    ],
)
def test_if_modified_since(serve, dated_page, headers, status):
    response, body = get(serve(), "/page.html", headers=headers)
    assert response.status == status
    assert body == (b"" if status == 304 else PAGE)


@pytest.mark.parametrize(
    ("value", "unchanged"),
    [
        ("Tue, 14 Nov 2023 22:13:20 GMT", True),
        ("Tue, 14 Nov 2023 22:13:19 GMT", False),
        ("Tue, 14 Nov 2023 22:13:20", True),  # no zone: UTC
        ("Tue, 14 Nov 2023 23:13:20 +0100", True),
        ("not a date", False),
        ("", False),
        ("Tue, 14 Nov 99999 22:13:20 GMT", False),
    ],
)
def test_is_not_modified_since(value, unchanged):
    assert is_not_modified_since(value, 1700000000.9) is unchanged


# --- construction ---


def test_instance_directory_wins_over_class_attribute(site, tmp_path):
    other = tmp_path / "other"
    other.mkdir()
    (other / "page.html").write_bytes(b"other")
    handler = type("H", (QuietHandler,), {"directory": str(site)})
    with running_server(functools.partial(handler, directory=other)) as server:
        assert get(server.server_address[:2], "/page.html")[1] == b"other"


def test_working_directory_is_the_default(site, monkeypatch):
    monkeypatch.chdir(site)
    with running_server(QuietHandler) as server:
        assert get(server.server_address[:2], "/page.html")[1] == PAGE


def test_response_headers_go_on_200_only_and_never_override(serve):
    extra = [("X-Frame-Options", "DENY"), ("Content-Type", "text/evil")]
    address = serve(server_kwargs={"response_headers": extra})
    response, _ = get(address, "/page.html")
    assert response.getheader("X-Frame-Options") == "DENY"
    assert response.getheader("Content-Type") == "text/html; charset=utf-8"
    response, _ = get(address, "/sub/")
    assert response.getheader("X-Frame-Options") == "DENY"
    for target in ("/nope", "/sub"):
        assert get(address, target)[0].getheader("X-Frame-Options") is None


def test_extra_response_headers_is_python_315s_keyword(site):
    # Python 3.15's spelling, given as a user does: a partial, pairs or a mapping.
    pairs = functools.partial(QuietHandler, directory=site, extra_response_headers=[("X-A", "1")])
    mapping = functools.partial(QuietHandler, directory=site, extra_response_headers={"X-B": "2"})
    for handler, (name, value) in ((pairs, ("X-A", "1")), (mapping, ("X-B", "2"))):
        with running_server(handler) as server:
            response, body = get(server.server_address[:2], "/page.html")
            assert (response.status, body, response.getheader(name)) == (200, PAGE, value)
    with pytest.raises(TypeError):  # the draft's spelling is not accepted: upstream has no such keyword
        QuietHandler(None, None, None, directory=site, response_headers=[("X-A", "1")])


def test_listing_leaves_out_symlinks_that_are_refused(serve, links):
    """Never offer a link that 404s, nor show its target's size and date (HTML and JSON)."""
    (links / "passwd_link").symlink_to("/etc/passwd")
    os.utime(links.parent / "secret.txt", (1600000000, 1600000000))
    address = serve()
    offered = {}
    for directory in ("/", "/sub/"):
        response, body = get(address, directory, headers={"Accept": "application/json"})
        assert response.status == 200
        offered[directory] = {entry["name"]: entry for entry in json.loads(body)}
        _, page = get(address, directory)
        for name in ("outside_file_link", "outside_dir_link", "passwd_link", "climbing_link"):
            assert name.encode() not in page
    assert set(offered["/"]) == {"sub", "page.html", "data.bin", ".env", "inside_link"}
    assert offered["/"]["inside_link"]["size"] == len(PAGE)
    assert set(offered["/sub/"]) == {"note.txt"}
    assert "2020-09-13" not in json.dumps(offered)  # the secret's mtime is shown nowhere
    for directory, entries in offered.items():
        for name, entry in entries.items():
            suffix = "/" if entry["type"] == "directory" else ""
            assert get(address, directory + name + suffix)[0].status == 200, name
    with_links = serve(follow_symlinks=True)
    response, body = get(with_links, "/", headers={"Accept": "application/json"})
    assert {"outside_file_link", "outside_dir_link", "passwd_link"} <= {e["name"] for e in json.loads(body)}
