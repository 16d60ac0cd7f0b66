"""Clients and probes for the TLS tests: HTTPS requests, curl, openssl s_client, /proc.

Every call has a deadline, and every address is 127.0.0.1.
"""

import http.client
import re
import socket
import ssl
import subprocess
from pathlib import Path

HOST = "127.0.0.1"


def tls_config(path: Path, site: Path, cert, *, workers: int = 2, top: str = "", timeouts: str = "",
               listen: str | None = None) -> str:
    """A TOML config serving ``site`` over HTTPS with ``cert`` (an Issued) on 127.0.0.1:0."""
    if listen is None:
        listen = f'[[listen]]\naddress = "{HOST}:0"\n'
    path.write_text(f"""
workers = {workers}
threads = 4
directory = "{site}"
tls_cert = "{cert.cert}"
tls_key = "{cert.key}"
{top}
{listen}
[timeouts]
worker_ready = 15
graceful = 5
{timeouts}
""")
    return str(path)


def secure_and_plain_config(path: Path, site: Path, cert, *, top: str = "",
                            timeouts: str = "") -> tuple[str, dict]:
    """A one-worker TOML config serving ``site`` on two listeners of 127.0.0.1: "secure" over
    HTTPS with ``cert``, "plain" over HTTP. Returns (its path, {name: port})."""
    ports = {"secure": free_port(), "plain": free_port()}
    path.write_text(f"""
workers = 1
directory = "{site}"
{top}
[[listen]]
address = "{HOST}:{ports['secure']}"
name = "secure"
tls_cert = "{cert.cert}"
tls_key = "{cert.key}"
[[listen]]
address = "{HOST}:{ports['plain']}"
name = "plain"
[timeouts]
worker_ready = 15
{timeouts}
""")
    return str(path), ports


def https_get(port: int, path: str = "/index.txt", context: ssl.SSLContext | None = None,
              timeout: float = 5.0):
    """One GET on a fresh TLS connection: (status, headers, body, the server's DER certificate)."""
    conn = http.client.HTTPSConnection(HOST, port, timeout=timeout, context=context)
    try:
        conn.request("GET", path, headers={"Connection": "close"})
        der = conn.sock.getpeercert(binary_form=True)  # before the response closes the socket
        response = conn.getresponse()
        return response.status, dict(response.getheaders()), response.read(), der
    finally:
        conn.close()


def curl(*args: str, timeout: float = 30.0) -> subprocess.CompletedProcess:
    """``curl -sS args`` (text output); fails the test on a timeout."""
    return subprocess.run(["curl", "-sS", "--max-time", str(int(timeout)), *args], capture_output=True,
                          text=True, timeout=timeout + 5, stdin=subprocess.DEVNULL)


def s_client(port: int, *args: str, timeout: float = 15.0) -> subprocess.CompletedProcess:
    """``openssl s_client`` to 127.0.0.1:port with ``args``; its stdin is empty, so it ends
    once the handshake is done (or failed)."""
    return subprocess.run(["openssl", "s_client", "-connect", f"{HOST}:{port}", *args], input="",
                          capture_output=True, text=True, timeout=timeout)


def negotiated(output: str) -> tuple[str | None, str | None]:
    """(protocol, cipher) from s_client's "New, TLSv1.3, Cipher is ..." line."""
    match = re.search(r"^New, (\S+), Cipher is (\S+)", output, re.MULTILINE)
    return (match.group(1), match.group(2)) if match else (None, None)


def client_hello(context: ssl.SSLContext | None = None) -> bytes:
    """The bytes of a real ClientHello (made in memory, never sent by ssl itself)."""
    context = context or ssl.create_default_context()
    incoming, outgoing = ssl.MemoryBIO(), ssl.MemoryBIO()
    tls = context.wrap_bio(incoming, outgoing, server_hostname="localhost")
    try:
        tls.do_handshake()
    except ssl.SSLWantReadError:
        pass
    return outgoing.read()


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket() as sock:
        sock.bind((HOST, 0))
        return sock.getsockname()[1]


def worker_pids(master) -> list[int]:
    return sorted(master.workers())


def socket_fds(pid: int) -> int:
    """How many sockets process ``pid`` has open (its /proc fd links)."""
    count = 0
    try:
        for fd in Path(f"/proc/{pid}/fd").iterdir():
            try:
                count += fd.readlink().name.startswith("socket:")
            except OSError:
                pass
    except OSError:
        pass
    return count


def rss_kib(pid: int) -> int:
    """VmRSS of ``pid`` in KiB (0 once it is gone)."""
    try:
        for line in Path(f"/proc/{pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    except OSError:
        pass
    return 0

