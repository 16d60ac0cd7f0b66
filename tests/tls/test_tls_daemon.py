"""HTTPS in the daemon, end to end: real master and workers, curl and openssl s_client.

The certificates come from the module's test CA (conftest ``pki``); clients trust only it.
"""

import fcntl
import os
import pty
import socket
import ssl
import struct
import subprocess
import sys
import termios
import time
from pathlib import Path

import pytest
from support.master import stderr_logging_env
from tls_harness import HOST, client_hello, curl, free_port, https_get, negotiated, s_client, tls_config

HERE = Path(__file__).resolve().parent  # handlers (tls_apps) are imported from here


@pytest.fixture
def https_master(start_master, tmp_path, site, server_cert):
    """A master serving ``site`` over HTTPS with the module's server certificate."""
    config = tls_config(tmp_path / "pyhttpd.toml", site, server_cert, workers=1)
    return start_master(["--config", config])


def test_curl_gets_200_over_keepalive_and_access_log_has_tls(https_master, pki):
    """Two URLs in one curl: both 200, the second on the first's connection; each access
    line says which TLS version and cipher served it."""
    port = https_master.port
    url = f"https://{HOST}:{port}"
    done = curl("--cacert", str(pki.ca_cert), "-w", "|%{http_code} %{num_connects}|\n",
                f"{url}/index.txt", f"{url}/other.txt")
    assert done.returncode == 0, done.stderr
    assert done.stdout == "hello from site\n|200 1|\nanother file\n|200 0|\n"  # 0: no new connection
    first = https_master.wait_for("access", path="/index.txt")
    second = https_master.wait_for("access", path="/other.txt")
    for line in (first, second):
        assert line["status"] == 200
        assert line["tls_version"] == "TLSv1.3"
        assert line["tls_cipher"].startswith("TLS_")
    assert second["remote_port"] == first["remote_port"] and second["conn_requests"] == 2


def test_s_client_negotiates_tls13_and_alpn_http11(https_master, pki):
    port = https_master.port
    done = s_client(port, "-CAfile", str(pki.ca_cert), "-verify_return_error", "-alpn", "h2,http/1.1")
    assert done.returncode == 0, done.stderr
    protocol, cipher = negotiated(done.stdout)
    assert protocol == "TLSv1.3" and cipher.startswith("TLS_")
    assert "ALPN protocol: http/1.1" in done.stdout
    assert "Verify return code: 0 (ok)" in done.stdout


@pytest.mark.parametrize("version", ["-tls1", "-tls1_1"])
def test_tls10_and_tls11_clients_are_refused(https_master, version):
    """The client is willing (SECLEVEL=0 lets OpenSSL 3 offer them); the server answers
    with a protocol_version alert."""
    done = s_client(https_master.port, version, "-cipher", "DEFAULT@SECLEVEL=0")
    assert done.returncode != 0
    assert "alert protocol version" in done.stderr
    assert negotiated(done.stdout) == ("(NONE)", "(NONE)")


def test_tls12_client_is_served(https_master, pki):
    done = s_client(https_master.port, "-tls1_2", "-CAfile", str(pki.ca_cert), "-verify_return_error")
    assert done.returncode == 0, done.stderr
    assert negotiated(done.stdout)[0] == "TLSv1.2"
    context = pki.client_context()
    context.maximum_version = ssl.TLSVersion.TLSv1_2
    status, _, body, _ = https_get(https_master.port, context=context)
    assert (status, body) == (200, b"hello from site\n")
    assert https_master.wait_for("access", tls_version="TLSv1.2")["status"] == 200


def test_plain_http_to_the_tls_port_gets_a_prompt_400(https_master):
    port = https_master.port
    started = time.monotonic()
    with socket.create_connection((HOST, port), timeout=5) as sock:
        sock.sendall(b"GET /index.txt HTTP/1.1\r\nHost: localhost\r\n\r\n")
        answer = b""
        while chunk := sock.recv(4096):
            answer += chunk
    elapsed = time.monotonic() - started
    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 400 ")
    assert b"Connection: close" in head and f"Content-Length: {len(body)}".encode() in head
    assert b"https://" in body
    assert elapsed < 1.0
    done = curl("-o", "/dev/null", "-w", "%{http_code}", f"http://{HOST}:{port}/index.txt", timeout=5)
    assert done.stdout == "400"


def test_right_password_serves(start_master, tmp_path, site, pki, server_cert):
    key, password_file = pki.encrypt_key(server_cert.key, "correct horse")
    master = start_master(["-b", f"{HOST}:0", "--workers", "1", "-d", str(site), "--tls-cert",
                           str(server_cert.cert), "--tls-key", str(key),
                           "--tls-password-file", str(password_file)])
    done = curl("--cacert", str(pki.ca_cert), f"https://{HOST}:{master.port}/index.txt")
    assert (done.returncode, done.stdout) == (0, "hello from site\n"), done.stderr


def test_mixed_http_and_https_listeners(start_master, tmp_path, site, pki, server_cert):
    """One plain [[listen]] and one with its own tls_cert: each speaks its protocol."""
    plain_port, tls_port = free_port(), free_port()
    listen = f"""
[[listen]]
address = "{HOST}:{plain_port}"
name = "plain"
[[listen]]
address = "{HOST}:{tls_port}"
name = "secure"
tls_cert = "{server_cert.cert}"
tls_key = "{server_cert.key}"
"""
    config = tmp_path / "mixed.toml"
    config.write_text(f'workers = 1\ndirectory = "{site}"\n{listen}\n[timeouts]\nworker_ready = 15\n')
    master = start_master(["--config", str(config)])
    assert master.wait_for("listening", name="secure")["port"] == tls_port
    plain = curl(f"http://{HOST}:{plain_port}/index.txt", timeout=10)
    secure = curl("--cacert", str(pki.ca_cert), f"https://{HOST}:{tls_port}/index.txt", timeout=10)
    assert (plain.returncode, plain.stdout) == (0, "hello from site\n"), plain.stderr
    assert (secure.returncode, secure.stdout) == (0, "hello from site\n"), secure.stderr
    assert master.wait_for("access", tls_version=None)["status"] == 200
    assert master.wait_for("access", tls_version="TLSv1.3")["status"] == 200
    wrong = curl("--cacert", str(pki.ca_cert), f"https://{HOST}:{plain_port}/index.txt", timeout=2)
    assert wrong.returncode != 0  # TLS to the plain port: no handshake


def test_body_ended_by_close_comes_with_close_notify(start_master, pki, server_cert):
    """A response without Content-Length ends with the connection: the server says so with
    close_notify, so a strict client (no ragged EOFs) reads it without an error."""
    master = start_master(["-b", f"{HOST}:0", "--workers", "1", "--handler", "tls_apps:NoLength",
                           "--tls-cert", str(server_cert.cert), "--tls-key", str(server_cert.key)])
    context = pki.client_context()
    with socket.create_connection((HOST, master.port), timeout=5) as raw:
        with context.wrap_socket(raw, server_hostname=HOST, suppress_ragged_eofs=False) as tls:
            tls.sendall(b"GET / HTTP/1.0\r\nHost: localhost\r\n\r\n")
            answer = b""
            while chunk := tls.recv(65536):  # SSLEOFError here without close_notify
                answer += chunk
    # the class's own protocol_version (HTTP/1.0) wins, the configuration setting none
    assert answer.startswith(b"HTTP/1.0 200 ") and b"Content-Length" not in answer
    assert answer.endswith(b"ends with the connection\n" * 100)


def test_clients_breaking_the_protocol_do_not_kill_the_worker(https_master, pki):
    """Resets right after the first handshake byte, and garbage records after a finished
    handshake, each end one connection, never the worker serving the others."""
    port = https_master.port
    hello = client_hello()
    for _ in range(30):  # reset with the ClientHello's first bytes unread
        with socket.create_connection((HOST, port), timeout=5) as sock:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            sock.sendall(hello[:5])
            time.sleep(0.005)
    for _ in range(5):  # a record that does not decrypt, after a request head began
        raw = socket.create_connection((HOST, port), timeout=5)
        tls = pki.client_context().wrap_socket(raw, server_hostname=HOST)
        tls.sendall(b"GET /index.txt HTTP/1.1\r\n")
        time.sleep(0.05)
        plain = socket.socket(fileno=tls.detach())
        plain.sendall(b"\x17\x03\x03\x00\x20" + b"\x00" * 32)
        time.sleep(0.05)
        plain.close()
    status, _, body, _ = https_get(port, context=pki.client_context())
    assert (status, body) == (200, b"hello from site\n")
    time.sleep(0.5)
    assert https_master.find("worker_exited") == []


# -- at start: a bad certificate, key or password is one line and a non-zero exit ----------


def _start_errors(pki, server_cert, tmp_path):
    other_key = pki.new_key("other")
    rsa_key = pki.new_rsa_key("rsa")
    expired = pki.issue("expired", expired=True)
    encrypted, password_file = pki.encrypt_key(server_cert.key, "the password")
    wrong_password = tmp_path / "wrong.password"
    wrong_password.write_text("not the password\n")
    garbage = tmp_path / "garbage.pem"
    garbage.write_text("this is not PEM\n")
    cert, key = str(server_cert.cert), str(server_cert.key)
    return {
        "bad certificate": (["--tls-cert", str(garbage), "--tls-key", key],
                            f"certificate {garbage} holds no PEM certificate"),
        "missing certificate": (["--tls-cert", str(tmp_path / "nope.pem"), "--tls-key", key],
                                f"cannot read certificate {tmp_path / 'nope.pem'}: No such file"),
        "bad key": (["--tls-cert", cert, "--tls-key", str(garbage)],
                    f"key {garbage} holds no PEM private key"),
        "mismatched key": (["--tls-cert", cert, "--tls-key", str(other_key)],
                           f"the key does not match the certificate (key {other_key}, certificate {cert})"),
        "RSA key for an ECDSA certificate": (
            ["--tls-cert", cert, "--tls-key", str(rsa_key)],
            f"the key does not match the certificate (key {rsa_key}, certificate {cert})"),
        "wrong password": (["--tls-cert", cert, "--tls-key", str(encrypted), "--tls-password-file",
                            str(wrong_password)], f"cannot decrypt key {encrypted}: wrong password"),
        "no password": (["--tls-cert", cert, "--tls-key", str(encrypted)],
                        f"key {encrypted} is encrypted: its password is needed"),
        "expired": (["--tls-cert", str(expired.cert), "--tls-key", str(expired.key)],
                    f"certificate {expired.cert} expired on 2020-02-01"),
    }


def _run_master(args: list[str], cwd, **popen) -> subprocess.CompletedProcess:
    command = [sys.executable, "-m", "pyhttpd.daemon", "-b", f"{HOST}:0", "--workers", "1", *args]
    return subprocess.run(command, cwd=cwd, env=stderr_logging_env(HERE), capture_output=True, text=True,
                          timeout=30, **popen)


@pytest.mark.parametrize("case", ["bad certificate", "missing certificate", "bad key", "mismatched key",
                                  "RSA key for an ECDSA certificate", "wrong password", "no password",
                                  "expired"])
def test_bad_tls_material_at_start_is_one_line_and_exit_1(case, pki, server_cert, tmp_path, site):
    args, expected = _start_errors(pki, server_cert, tmp_path)[case]
    done = _run_master(["-d", str(site), *args], tmp_path, stdin=subprocess.DEVNULL, start_new_session=True)
    lines = [line for line in done.stderr.splitlines() if line.strip()]
    assert done.returncode != 0
    assert len(lines) == 1, done.stderr
    assert lines[0].startswith("pyhttpd: ") and expected in lines[0]


def test_encrypted_key_without_password_never_prompts_on_the_terminal(pki, server_cert, tmp_path, site):
    """With a controlling terminal, OpenSSL would ask "Enter PEM pass phrase:" there and the
    master would wait for ever; it must fail with its one line instead."""
    encrypted, _ = pki.encrypt_key(server_cert.key, "the password")
    controller, terminal = pty.openpty()
    try:
        args = ["-d", str(site), "--tls-cert", str(server_cert.cert), "--tls-key", str(encrypted)]
        done = _run_master(args, tmp_path, stdin=terminal, start_new_session=True, pass_fds=(terminal,),
                           preexec_fn=lambda: fcntl.ioctl(terminal, termios.TIOCSCTTY, 0))
    finally:
        os.close(terminal)
        os.close(controller)
    assert done.returncode != 0
    assert done.stderr.strip() == f"pyhttpd: key {encrypted} is encrypted: its password is needed " \
                                  "(tls_password_file, --tls-password-file)"
