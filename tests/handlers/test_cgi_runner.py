"""The CGI runner against tiny real scripts written at test time.

Scripts are /bin/sh so they run whatever the test's user: a root test run makes the runner
drop to ``nobody``, who cannot reach a Python installed under /root. Script directories are
made world-readable for the same reason.
"""

import io
import os
import shutil
import stat
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from support.polling import wait_gone

from pyhttpd.handlers.cgi.errors import CGIBadResponse, CGILaunchError, CGITimeout
from pyhttpd.handlers.cgi.headers import parse_cgi_headers
from pyhttpd.handlers.cgi.process import CGILimits
from pyhttpd.handlers.cgi.runner import CGIResponse, run_cgi_script, script_command

ENV = {"PATH": "/usr/bin:/bin", "GATEWAY_INTERFACE": "CGI/1.1"}
IS_ROOT = os.geteuid() == 0


@pytest.fixture
def script_dir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="pyhttpd-cgi-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


def write_script(directory: Path, body: str, name: str = "script.sh", mode: int = 0o755) -> Path:
    path = directory / name
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(mode)
    return path


def run(script: Path, body: bytes | None = None, length: int | None = None, **limits: float) -> CGIResponse:
    stream = io.BytesIO(body) if body is not None else None
    return run_cgi_script(
        script_command(str(script)),
        dict(ENV),
        str(script.parent),
        body=stream,
        body_length=len(body or b"") if length is None else length,
        limits=CGILimits(**limits),
    )


def read_all(response: CGIResponse) -> bytes:
    with response:
        return b"".join(response.iter_body())


def test_hello(script_dir: Path) -> None:
    script = write_script(script_dir, "printf 'Content-Type: text/plain\\n\\nhello\\n'\n")
    response = run(script)
    assert (response.status, response.reason) == (200, "OK")
    assert response.headers == [("Content-Type", "text/plain")]
    assert read_all(response) == b"hello\n"
    assert response.returncode == 0
    assert not response.timed_out


def test_crlf_header_block_and_extra_fields(script_dir: Path) -> None:
    script = write_script(script_dir, "printf 'Content-Type: text/html\\r\\nX-App: 1\\r\\n\\r\\n<p>hi</p>'\n")
    response = run(script)
    assert response.headers == [("Content-Type", "text/html"), ("X-App", "1")]
    assert read_all(response) == b"<p>hi</p>"


def test_post_body_is_streamed_to_stdin(script_dir: Path) -> None:
    script = write_script(script_dir, "printf 'Content-Type: application/octet-stream\\n\\n'\ncat\n")
    body = os.urandom(1024 * 1024)  # far beyond a pipe buffer, both ways at once
    response = run(script, body, chunk_size=4096)
    assert read_all(response) == body
    assert response.request_body_complete


def test_no_more_than_the_given_length_is_read(script_dir: Path) -> None:
    script = write_script(script_dir, "printf 'Content-Type: text/plain\\n\\n'\ncat\n")
    stream = io.BytesIO(b"0123456789NEXT-REQUEST")
    response = run_cgi_script(
        script_command(str(script)), dict(ENV), str(script_dir), body=stream, body_length=10
    )
    assert read_all(response) == b"0123456789"
    assert stream.read() == b"NEXT-REQUEST"


def test_script_that_ignores_its_input_does_not_hang(script_dir: Path) -> None:
    script = write_script(script_dir, "exec 0<&-\nprintf 'Content-Type: text/plain\\n\\nok'\n")
    started = time.monotonic()
    response = run(script, b"x" * (4 * 1024 * 1024), timeout=10)
    assert read_all(response) == b"ok"
    assert time.monotonic() - started < 5
    assert not response.request_body_complete


def test_status_and_location(script_dir: Path) -> None:
    script = write_script(
        script_dir, "printf 'Status: 302 Found\\nLocation: http://example.test/next\\n\\n'\n"
    )
    response = run(script)
    assert (response.status, response.reason) == (302, "Found")
    assert response.headers == [("Location", "http://example.test/next")]
    assert read_all(response) == b""


@pytest.mark.parametrize("location", ["http://example.test/x", "/local/path?q=1"])
def test_location_alone_is_a_302(script_dir: Path, location: str) -> None:
    script = write_script(script_dir, f"printf 'Location: {location}\\n\\n'\n")
    response = run(script)
    assert (response.status, response.reason) == (302, "Found")
    assert response.headers == [("Location", location)]
    read_all(response)


def test_status_without_reason_gets_the_standard_phrase(script_dir: Path) -> None:
    script = write_script(script_dir, "printf 'Status: 404\\nContent-Type: text/plain\\n\\nno'\n")
    response = run(script)
    assert (response.status, response.reason) == (404, "Not Found")
    assert read_all(response) == b"no"


def test_timeout_kills_the_whole_process_group(script_dir: Path) -> None:
    script = write_script(script_dir, "sleep 30 &\necho $! >&2\nsleep 30\n")
    started = time.monotonic()
    with pytest.raises(CGITimeout) as caught:
        run(script, timeout=1)
    assert 0.9 < time.monotonic() - started < 5
    assert caught.value.status == 504
    assert caught.value.returncode == -9
    grandchild = int(caught.value.stderr.split()[0])
    assert wait_gone(grandchild, 10)


def test_timeout_while_streaming_the_body(script_dir: Path) -> None:
    script = write_script(script_dir, "printf 'Content-Type: text/plain\\n\\npartial'\nsleep 30\n")
    response = run(script, timeout=1)
    chunks = []
    with response, pytest.raises(CGITimeout):
        for chunk in response.iter_body():
            chunks.append(chunk)
    assert chunks == [b"partial"]
    assert response.timed_out
    assert response.returncode == -9


def test_garbage_is_a_bad_response(script_dir: Path) -> None:
    script = write_script(script_dir, "echo 'this is not a header block'\n")
    with pytest.raises(CGIBadResponse) as caught:
        run(script)
    assert caught.value.status == 502
    assert caught.value.returncode == 0


def test_endless_header_is_a_bad_response(script_dir: Path) -> None:
    script = write_script(script_dir, "printf 'X-Long: '\nexec cat /dev/zero\n")
    started = time.monotonic()
    with pytest.raises(CGIBadResponse, match="longer than"):
        run(script, max_header_bytes=1024, timeout=10)
    assert time.monotonic() - started < 5


def test_exit_1_before_any_output(script_dir: Path) -> None:
    script = write_script(script_dir, "echo 'boom: something broke' >&2\nexit 1\n")
    with pytest.raises(CGIBadResponse) as caught:
        run(script)
    assert caught.value.returncode == 1
    assert caught.value.stderr == b"boom: something broke\n"
    assert "status 1" in str(caught.value)
    assert caught.value.public_message == "CGI script sent an invalid response"


def test_large_output_is_streamed_in_bounded_chunks(script_dir: Path) -> None:
    size = 8 * 1024 * 1024
    script = write_script(
        script_dir, f"printf 'Content-Type: application/octet-stream\\n\\n'\nhead -c {size} /dev/zero\n"
    )
    total = 0
    with run(script, chunk_size=16 * 1024) as response:
        for chunk in response.iter_body():
            assert 0 < len(chunk) <= 16 * 1024
            total += len(chunk)
    assert total == size
    assert response.returncode == 0


def test_stderr_is_kept_up_to_its_bound(script_dir: Path) -> None:
    script = write_script(
        script_dir,
        "head -c 300000 /dev/zero | tr '\\0' e >&2\nprintf 'Content-Type: text/plain\\n\\ndone'\n",
    )
    response = run(script, max_stderr_bytes=1000)
    assert read_all(response) == b"done"
    assert response.stderr == b"e" * 1000


def test_closing_early_kills_a_script_that_keeps_writing(script_dir: Path) -> None:
    script = write_script(script_dir, "printf 'Content-Type: text/plain\\n\\n'\nexec yes\n")
    started = time.monotonic()
    response = run(script, timeout=20)
    next(response.iter_body())
    response.close()
    assert time.monotonic() - started < 5
    assert response.returncode is not None and response.returncode < 0
    response.close()  # idempotent


def test_environment_and_working_directory(script_dir: Path) -> None:
    script = write_script(script_dir, "printf 'Content-Type: text/plain\\n\\n'\npwd\nenv\n")
    lines = read_all(run(script)).decode().splitlines()
    assert lines[0] == os.path.realpath(script_dir)
    variables = dict(line.split("=", 1) for line in lines[1:])
    # PWD is exported by the shell itself.
    assert variables.keys() - {"PWD"} == ENV.keys()


@pytest.mark.skipif(not IS_ROOT, reason="only root can switch users")
def test_root_runs_scripts_as_nobody(script_dir: Path) -> None:
    script = write_script(script_dir, "printf 'Content-Type: text/plain\\n\\n'\nid -u\nid -G\n")
    uid, groups = read_all(run(script)).decode().split("\n")[:2]
    assert uid == "65534"
    assert groups.split() == ["65534"]


@pytest.mark.skipif(not IS_ROOT, reason="only root can switch users")
def test_root_refuses_to_run_scripts_as_root(script_dir: Path) -> None:
    script = write_script(script_dir, "printf 'Content-Type: text/plain\\n\\n'\n")
    for run_as in (None, "root"):
        with pytest.raises(CGILaunchError):
            run_cgi_script([str(script)], dict(ENV), str(script_dir), run_as=run_as)


def test_missing_interpreter_is_a_launch_error(script_dir: Path) -> None:
    script = script_dir / "broken.sh"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(0o755)
    with pytest.raises(CGILaunchError) as caught:
        run(script)
    assert caught.value.status == 500


def test_command_for_executable_python_and_other_files(script_dir: Path) -> None:
    executable = write_script(script_dir, "", name="run.py")
    plain_python = write_script(script_dir, "", name="plain.py", mode=0o644)
    plain_other = write_script(script_dir, "", name="plain.sh", mode=0o644)
    assert script_command(str(executable)) == [str(executable)]
    assert script_command(str(plain_python), python="/usr/bin/python3") == [
        "/usr/bin/python3",
        "-u",
        str(plain_python),
    ]
    assert not plain_other.stat().st_mode & stat.S_IXUSR
    with pytest.raises(CGILaunchError):
        script_command(str(plain_other))


@pytest.mark.skipif(not os.access("/usr/bin/python3", os.X_OK), reason="needs /usr/bin/python3")
def test_non_executable_python_script_runs_under_the_interpreter(script_dir: Path) -> None:
    script = script_dir / "hello.py"
    script.write_text('print("Content-Type: text/plain")\nprint()\nprint("from python")\n')
    script.chmod(0o644)
    command = script_command(str(script), python="/usr/bin/python3")
    response = run_cgi_script(command, dict(ENV), str(script_dir))
    assert read_all(response) == b"from python\n"


def test_header_parsing_rules() -> None:
    parsed = parse_cgi_headers(
        b"Status: 201 Made It\r\nContent-Type: text/plain\r\nContent-Length: 5\r\n"
        b"Connection: keep-alive\r\nTransfer-Encoding: chunked\r\nServer: x\r\nDate: y\r\n"
        b"Set-Cookie: a=1\r\nSet-Cookie: b=2"
    )
    assert (parsed.status, parsed.reason, parsed.content_length) == (201, "Made It", 5)
    assert parsed.headers == [
        ("Content-Type", "text/plain"),
        ("Content-Length", "5"),
        ("Set-Cookie", "a=1"),
        ("Set-Cookie", "b=2"),
    ]


@pytest.mark.parametrize(
    "head",
    [
        b"X-Only: other fields",
        b"Status: 99 Too Low",
        b"Status: 600 Too High",
        b"Status: abc",
        b"Status: 100 Continue",
        b"Content-Type: a\nContent-Type: b",
        b"Status: 200\nStatus: 404",
        b"Content-Type: text/plain\nContent-Length: -1",
        b"Content-Type: text/plain\nContent-Length: 1, 1",
        b"Content-Type: text/plain\nNo colon here",
        b"Content-Type: text/plain\nBad Name: x",
        b"Content-Type: text/plain\n continuation",
        b"Content-Type: text/plain\nX-Split: a\rb",
        b"Content-Type: text/plain\nX-Nul: a\x00b",
        b"Location:",
        b"",
    ],
)
def test_malformed_header_blocks(head: bytes) -> None:
    with pytest.raises(CGIBadResponse):
        parse_cgi_headers(head)


def test_too_many_header_fields() -> None:
    head = b"Content-Type: text/plain\n" + b"X-A: 1\n" * 10
    with pytest.raises(CGIBadResponse, match="more than"):
        parse_cgi_headers(head.rstrip(b"\n"), max_fields=5)


def test_status_alone_is_accepted() -> None:
    parsed = parse_cgi_headers(b"Status: 204 No Content")
    assert (parsed.status, parsed.reason, parsed.headers) == (204, "No Content", [])
