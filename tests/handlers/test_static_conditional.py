"""Validators and conditional requests: pyhttpd.handlers.static.conditional, and the statuses a
running server gives (200, 304, 412) in both modes of SimpleHTTPRequestHandler."""

import email.utils
import http.client
import os

import pytest
from static_server import SOCKET_TIMEOUT_S, QuietHandler, RfcHandler, request, serving

from pyhttpd.handlers.static.conditional import (
    EntityTag,
    evaluate_preconditions,
    if_range_allows,
    parse_entity_tags,
    parse_http_date,
    strong_etag,
)

MTIME = 1700000000  # Tue, 14 Nov 2023 22:13:20 GMT
BODY = b"conditional body\n"


def http_date(timestamp: float) -> str:
    return email.utils.formatdate(timestamp, usegmt=True)


class Fields:
    """A stand-in for HTTPMessage: get_all over a dict of lists."""

    def __init__(self, **fields):
        self._fields = {name.replace("_", "-").lower(): value if isinstance(value, list) else [value]
                        for name, value in fields.items()}

    def get_all(self, name, failobj=None):
        return self._fields.get(name.lower(), failobj)


# --- pure functions ---


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("Tue, 14 Nov 2023 22:13:20 GMT", MTIME),
        ("Tuesday, 14-Nov-23 22:13:20 GMT", MTIME),  # RFC 850
        ("Tue Nov 14 22:13:20 2023", MTIME),  # asctime
        ("Sun Nov  6 08:49:37 1994", 784111777),  # asctime with a one-digit day
        ("Tue, 14 Nov 2023 22:13:20", None),  # no zone
        ("Tue, 14 Nov 2023 22:13:20 +0000", None),
        ("tue, 14 nov 2023 22:13:20 gmt", None),  # case-sensitive
        ("Tue, 14 Nov 2023 22:13:20 GMT, Wed, 15 Nov 2023 22:13:20 GMT", None),  # a list
        ("Tue, 31 Feb 2023 22:13:20 GMT", None),
        ("yesterday", None),
        ("", None),
    ],
)
def test_parse_http_date(value, expected):
    assert parse_http_date(value) == expected


def test_rfc850_two_digit_years_are_never_more_than_50_years_ahead():
    now = parse_http_date("Sun, 01 Jan 2023 00:00:00 GMT")
    assert parse_http_date("Sunday, 06-Nov-94 08:49:37 GMT", now) == 784111777  # 1994, not 2094
    assert time_year(parse_http_date("Friday, 01-Jan-60 00:00:00 GMT", now)) == 2060
    assert time_year(parse_http_date("Sunday, 01-Jan-73 00:00:00 GMT", now)) == 2073
    assert time_year(parse_http_date("Monday, 01-Jan-74 00:00:00 GMT", now)) == 1974
    assert time_year(parse_http_date("Monday, 01-Jan-80 00:00:00 GMT", now)) == 1980


def time_year(timestamp: int) -> int:
    return int(email.utils.formatdate(timestamp, usegmt=True).split()[3])


def test_parse_entity_tags():
    assert parse_entity_tags(['"a", W/"b" ,,"c"']) == [EntityTag("a"), EntityTag("b", True), EntityTag("c")]
    assert parse_entity_tags(['"a"', '"b"']) == [EntityTag("a"), EntityTag("b")]
    assert parse_entity_tags(['"a", *']) is None
    assert parse_entity_tags(["unquoted, w/\"lower-w\", \"ok\""]) == [EntityTag("ok")]


def test_strong_etag_names_inode_size_mtime_and_coding(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"12345")
    status = os.stat(path)
    etag = strong_etag(status)
    assert etag.startswith('"') and etag.endswith('"') and not etag.startswith("W/")
    assert strong_etag(status, "br") == etag[:-1] + '-br"'
    path.write_bytes(b"123456")
    assert strong_etag(os.stat(path)) != etag
    os.utime(path, ns=(1, 1))
    assert strong_etag(os.stat(path)) != etag


ETAG = '"abc-1"'


@pytest.mark.parametrize(
    ("fields", "method", "expected"),
    [
        ({}, "GET", None),
        ({"If-Match": ETAG}, "GET", None),
        ({"If-Match": '"other", "abc-1"'}, "GET", None),
        ({"If-Match": "*"}, "GET", None),
        ({"If-Match": '"other"'}, "GET", 412),
        ({"If-Match": 'W/"abc-1"'}, "GET", 412),  # If-Match compares strongly
        ({"If-Match": "garbage"}, "GET", 412),
        ({"If-Unmodified-Since": http_date(MTIME)}, "GET", None),
        ({"If-Unmodified-Since": http_date(MTIME - 1)}, "GET", 412),
        ({"If-Unmodified-Since": "not a date"}, "GET", None),
        ({"If-Match": ETAG, "If-Unmodified-Since": http_date(MTIME - 1)}, "GET", None),  # IUS ignored
        ({"If-None-Match": ETAG}, "GET", 304),
        ({"If-None-Match": ETAG}, "HEAD", 304),
        ({"If-None-Match": 'W/"abc-1"'}, "GET", 304),  # If-None-Match compares weakly
        ({"If-None-Match": "*"}, "GET", 304),
        ({"If-None-Match": '"other"'}, "GET", None),
        ({"If-None-Match": ETAG}, "POST", 412),
        ({"If-None-Match": '"other"', "If-Modified-Since": http_date(MTIME)}, "GET", None),  # IMS ignored
        ({"If-Modified-Since": http_date(MTIME)}, "GET", 304),
        ({"If-Modified-Since": http_date(MTIME + 3600)}, "GET", 304),
        ({"If-Modified-Since": http_date(MTIME - 1)}, "GET", None),
        ({"If-Modified-Since": http_date(MTIME)}, "POST", None),
        ({"If-Modified-Since": [http_date(MTIME), http_date(MTIME)]}, "GET", None),  # repeated: invalid
        # Precedence, RFC 9110 13.2.2: If-Match and If-Unmodified-Since come first.
        ({"If-Match": '"other"', "If-None-Match": ETAG}, "GET", 412),
        ({"If-Unmodified-Since": http_date(MTIME - 1), "If-None-Match": ETAG}, "GET", 412),
        ({"If-Unmodified-Since": http_date(MTIME - 1), "If-Modified-Since": http_date(MTIME)}, "GET", 412),
    ],
)
def test_evaluate_preconditions(fields, method, expected):
    assert evaluate_preconditions(Fields(**fields), method, ETAG, MTIME) == expected


def test_without_validators_only_star_decides():
    assert evaluate_preconditions(Fields(**{"If-None-Match": "*"}), "GET", None, None) == 304
    assert evaluate_preconditions(Fields(**{"If-None-Match": ETAG}), "GET", None, None) is None
    assert evaluate_preconditions(Fields(**{"If-Match": "*"}), "GET", None, None) is None
    assert evaluate_preconditions(Fields(**{"If-Match": ETAG}), "GET", None, None) == 412
    assert evaluate_preconditions(Fields(**{"If-Unmodified-Since": http_date(0)}), "GET", None, None) is None


@pytest.mark.parametrize(
    ("value", "now", "allowed"),
    [
        (ETAG, MTIME + 10, True),
        ('W/"abc-1"', MTIME + 10, False),  # a weak tag never matches
        ('"other"', MTIME + 10, False),
        (http_date(MTIME), MTIME + 10, True),
        (http_date(MTIME), MTIME + 0.5, False),  # modified within the second: a weak date
        (http_date(MTIME + 1), MTIME + 10, False),  # must be exactly the Last-Modified
        ("garbage", MTIME + 10, False),
    ],
)
def test_if_range_allows(value, now, allowed):
    assert if_range_allows(value, ETAG, MTIME, now) is allowed


def test_if_range_with_an_etag_is_false_without_etags():
    assert if_range_allows(ETAG, None, MTIME, MTIME + 10) is False


# --- against a running server ---


@pytest.fixture
def site(tmp_path):
    root = tmp_path / "root"
    (root / "dir").mkdir(parents=True)
    (root / "page.txt").write_bytes(BODY)
    os.utime(root / "page.txt", (MTIME, MTIME))
    return root


@pytest.fixture
def rfc(site):
    handler = type("H", (RfcHandler,), {"directory": str(site), "cache_control": (("*.txt", "max-age=60"),)})
    with serving(handler) as address:
        yield address


@pytest.fixture
def stdlib(site):
    with serving(type("H", (QuietHandler,), {"directory": str(site)})) as address:
        yield address


def test_200_carries_a_strong_etag_and_last_modified(rfc, site):
    response = request(rfc, "/page.txt")
    assert response.status == 200 and response.body == BODY
    assert response.header("ETag") == strong_etag(os.stat(site / "page.txt"))
    assert response.header("Last-Modified") == http_date(MTIME)


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("form", ["{etag}", 'W/{etag}', '"nope", {etag}', "*"])
def test_if_none_match_is_304_with_the_validators(rfc, method, form):
    etag = request(rfc, "/page.txt").header("ETag")
    response = request(rfc, "/page.txt", method, {"If-None-Match": form.format(etag=etag)})
    assert (response.status, response.body) == (304, b"")
    assert response.header("ETag") == etag
    assert response.header("Last-Modified") == http_date(MTIME)
    assert response.header("Cache-Control") == "max-age=60"
    assert response.header("Content-Length") is None


def test_if_none_match_other_tag_is_200_and_overrides_if_modified_since(rfc):
    headers = {"If-None-Match": '"nope"', "If-Modified-Since": http_date(MTIME)}
    response = request(rfc, "/page.txt", headers=headers)
    assert (response.status, response.body) == (200, BODY)


@pytest.mark.parametrize(
    ("headers", "status"),
    [
        ({"If-Modified-Since": http_date(MTIME)}, 304),
        ({"If-Modified-Since": http_date(MTIME - 1)}, 200),
        ({"If-Modified-Since": "Tue, 14 Nov 2023 22:13:20"}, 200),  # not an HTTP-date: ignored
        ({"If-Match": "*"}, 200),
        ({"If-Match": '"nope"'}, 412),
        ({"If-Unmodified-Since": http_date(MTIME)}, 200),
        ({"If-Unmodified-Since": http_date(MTIME - 60)}, 412),
        ({"If-Match": '"nope"', "If-None-Match": "*"}, 412),
    ],
)
def test_statuses(rfc, headers, status):
    response = request(rfc, "/page.txt", headers=headers)
    assert response.status == status
    assert response.body == {200: BODY, 304: b""}.get(status, response.body)
    if status == 412:
        assert response.header("Content-Type").startswith("text/html")
        assert int(response.header("Content-Length")) == len(response.body) > 0


def test_if_match_with_the_current_etag_is_200(rfc):
    etag = request(rfc, "/page.txt").header("ETag")
    assert request(rfc, "/page.txt", headers={"If-Match": etag}).status == 200
    assert request(rfc, "/page.txt", headers={"If-Match": "W/" + etag}).status == 412


def test_a_changed_file_gets_a_new_etag_and_a_200(rfc, site):
    etag = request(rfc, "/page.txt").header("ETag")
    (site / "page.txt").write_bytes(BODY + b"more")
    response = request(rfc, "/page.txt", headers={"If-None-Match": etag})
    assert response.status == 200 and response.header("ETag") != etag


def test_412_and_304_keep_the_connection_open(rfc):
    connection = http.client.HTTPConnection(*rfc, timeout=SOCKET_TIMEOUT_S)
    try:
        for headers, status in [({"If-Match": '"nope"'}, 412), ({"If-None-Match": "*"}, 304), ({}, 200)]:
            connection.request("GET", "/page.txt", headers=headers)
            response = connection.getresponse()
            response.read()
            assert response.status == status and not response.will_close
    finally:
        connection.close()


def test_listing_preconditions_go_by_star_only(rfc):
    assert request(rfc, "/dir/", headers={"If-None-Match": "*"}).status == 304
    assert request(rfc, "/dir/", headers={"If-None-Match": '"x"'}).status == 200
    assert request(rfc, "/dir/", headers={"If-Match": '"x"'}).status == 412


def test_stdlib_mode_keeps_the_standard_library_behaviour(stdlib):
    response = request(stdlib, "/page.txt")
    assert response.status == 200 and response.header("ETag") is None
    # If-None-Match disables If-Modified-Since without being evaluated (CPython's test).
    headers = {"If-None-Match": "*", "If-Modified-Since": http_date(MTIME)}
    assert request(stdlib, "/page.txt", headers=headers).status == 200
    assert request(stdlib, "/page.txt", headers={"If-Modified-Since": http_date(MTIME)}).status == 304
    assert request(stdlib, "/page.txt", headers={"If-Match": '"nope"'}).status == 200
    assert request(stdlib, "/page.txt", headers={"If-Unmodified-Since": http_date(0)}).status == 200
