"""The CGI environment: RFC 3875 meta-variables built from plain values, nothing inherited."""

import base64
import dataclasses
import os

import pytest

from pyhttpd.handlers.cgi.env import (
    CGI_SEARCH_PATH,
    CGIRequestInfo,
    authorization_variables,
    build_cgi_environ,
    http_variables,
)

BASE = CGIRequestInfo(
    server_software="pyhttpd/0.1",
    server_name="example.test",
    server_port=8080,
    server_protocol="HTTP/1.1",
    request_method="GET",
    script_name="/cgi-bin/app.py",
    remote_addr="192.0.2.7",
)


def environ(**changes: object) -> dict[str, str]:
    return build_cgi_environ(dataclasses.replace(BASE, **changes))


def test_meta_variables_from_plain_values() -> None:
    env = environ(path_info="/extra/part", path_translated="/srv/extra/part", query_string="a=1")
    assert env["GATEWAY_INTERFACE"] == "CGI/1.1"
    assert env["SERVER_SOFTWARE"] == "pyhttpd/0.1"
    assert env["SERVER_NAME"] == "example.test"
    assert env["SERVER_PORT"] == "8080"
    assert env["SERVER_PROTOCOL"] == "HTTP/1.1"
    assert env["REQUEST_METHOD"] == "GET"
    assert env["SCRIPT_NAME"] == "/cgi-bin/app.py"
    assert env["PATH_INFO"] == "/extra/part"
    assert env["PATH_TRANSLATED"] == "/srv/extra/part"
    assert env["QUERY_STRING"] == "a=1"
    assert env["REMOTE_ADDR"] == env["REMOTE_HOST"] == "192.0.2.7"
    assert env["PATH"] == CGI_SEARCH_PATH


def test_bytes_and_strings_give_the_same_environment() -> None:
    as_bytes = CGIRequestInfo(
        server_software=b"pyhttpd/0.1",
        server_name=b"example.test",
        server_port=b"8080",
        server_protocol=b"HTTP/1.1",
        request_method=b"GET",
        script_name=b"/cgi-bin/app.py",
        remote_addr=b"192.0.2.7",
        query_string=b"x=y",
        headers=[(b"Accept", b"text/html")],
    )
    as_text = dataclasses.replace(BASE, query_string="x=y", headers=[("Accept", "text/html")])
    assert build_cgi_environ(as_bytes) == build_cgi_environ(as_text)


def test_nothing_is_inherited_from_the_server_environment(monkeypatch) -> None:
    monkeypatch.setenv("PYHTTPD_SECRET_TOKEN", "s3cret")
    monkeypatch.setenv("SERVER_SOFTWARE", "Test CGI Server")
    monkeypatch.setenv("LD_PRELOAD", "/tmp/evil.so")
    before = dict(os.environ)
    env = environ()
    assert "PYHTTPD_SECRET_TOKEN" not in env
    assert "LD_PRELOAD" not in env
    assert env["SERVER_SOFTWARE"] == "pyhttpd/0.1"
    assert dict(os.environ) == before


def test_each_call_returns_a_new_dict() -> None:
    first = environ()
    first["EXTRA"] = "1"
    assert "EXTRA" not in environ()


def test_optional_variables_are_absent_when_not_known() -> None:
    env = environ()
    assert env["PATH_INFO"] == ""
    assert "PATH_TRANSLATED" not in env
    assert "CONTENT_LENGTH" not in env
    assert "CONTENT_TYPE" not in env
    assert "AUTH_TYPE" not in env
    assert "REMOTE_USER" not in env
    assert env["QUERY_STRING"] == ""


def test_content_type_and_length() -> None:
    env = environ(
        request_method="POST",
        content_type="application/x-www-form-urlencoded",
        content_length=27,
        headers=[("Content-Type", "application/x-www-form-urlencoded"), ("Content-Length", "27")],
    )
    assert env["CONTENT_TYPE"] == "application/x-www-form-urlencoded"
    assert env["CONTENT_LENGTH"] == "27"
    assert "HTTP_CONTENT_TYPE" not in env
    assert "HTTP_CONTENT_LENGTH" not in env


def test_repeated_fields_are_joined_with_a_comma_in_order() -> None:
    env = http_variables([("Accept", "text/html"), ("ACCEPT", "text/plain")])
    assert env["HTTP_ACCEPT"] == "text/html,text/plain"


def test_accept_is_always_present() -> None:
    assert http_variables([])["HTTP_ACCEPT"] == ""


def test_cookies_are_joined_with_a_semicolon() -> None:
    env = http_variables([("Cookie", "a=1"), ("Cookie", "b=2")])
    assert env["HTTP_COOKIE"] == "a=1; b=2"


def test_field_names_map_to_http_variables() -> None:
    env = http_variables([("User-Agent", "test/1"), ("X-Request-Id", "42")])
    assert env["HTTP_USER_AGENT"] == "test/1"
    assert env["HTTP_X_REQUEST_ID"] == "42"


@pytest.mark.parametrize("name", ["X_Forwarded_For", "X.Dot", "X Space", "Bad\x00", "Ümlaut", ""])
def test_names_outside_the_safe_alphabet_are_dropped(name: str) -> None:
    env = http_variables([(name, "value")])
    assert set(env) == {"HTTP_ACCEPT"}


def test_underscore_name_cannot_impersonate_a_dashed_one() -> None:
    env = http_variables([("X-Real-Ip", "192.0.2.7"), ("X_Real_Ip", "203.0.113.1")])
    assert env["HTTP_X_REAL_IP"] == "192.0.2.7"


@pytest.mark.parametrize("name", ["Proxy", "Authorization", "Proxy-Authorization", "Transfer-Encoding"])
def test_withheld_fields(name: str) -> None:
    env = http_variables([(name, "something")])
    assert set(env) == {"HTTP_ACCEPT"}


def test_nul_in_a_field_value_drops_the_field() -> None:
    env = http_variables([("X-Evil", "a\x00b"), ("X-Good", "ok")])
    assert "HTTP_X_EVIL" not in env
    assert env["HTTP_X_GOOD"] == "ok"


def test_folded_value_becomes_one_line() -> None:
    env = http_variables([("X-Folded", "first\r\n second")])
    assert env["HTTP_X_FOLDED"] == "first  second"


def test_nul_in_a_plain_value_is_refused() -> None:
    with pytest.raises(ValueError, match="PATH_INFO"):
        environ(path_info="/a\x00b")


def test_header_bytes_reach_the_script_unchanged() -> None:
    raw = "naïve".encode()
    from_bytes = http_variables([("X-Name", os.fsdecode(raw))])
    env = build_cgi_environ(dataclasses.replace(BASE, headers=[(b"X-Name", raw)]))
    assert os.fsencode(env["HTTP_X_NAME"]) == raw
    assert from_bytes["HTTP_X_NAME"] == env["HTTP_X_NAME"]


def test_latin1_decoded_header_text_is_turned_back_into_its_bytes() -> None:
    raw = "naïve".encode()
    env = build_cgi_environ(dataclasses.replace(BASE, headers=[("X-Name", raw.decode("latin-1"))]))
    assert os.fsencode(env["HTTP_X_NAME"]) == raw


def basic(credentials: bytes) -> str:
    return "Basic " + base64.b64encode(credentials).decode("ascii")


def test_basic_authorization() -> None:
    env = environ(headers=[("Authorization", basic(b"username:pass"))])
    assert env["AUTH_TYPE"] == "Basic"
    assert env["REMOTE_USER"] == "username"
    assert "HTTP_AUTHORIZATION" not in env
    assert "pass" not in "".join(env.values())


def test_basic_user_with_colon_in_password() -> None:
    assert authorization_variables(basic(b"alice:a:b"))["REMOTE_USER"] == "alice"


@pytest.mark.parametrize("value", ["Basic !!!notbase64", basic(b"no-colon"), "Basic "])
def test_malformed_basic_credentials_give_no_user(value: str) -> None:
    assert authorization_variables(value) == {"AUTH_TYPE": "Basic"}


def test_other_schemes_give_only_the_type() -> None:
    assert authorization_variables("Bearer abc.def") == {"AUTH_TYPE": "Bearer"}


@pytest.mark.parametrize("value", [None, "", "Bad\x01Scheme xyz", "(x) y"])
def test_no_or_malformed_authorization(value: str | None) -> None:
    assert authorization_variables(value) == {}
