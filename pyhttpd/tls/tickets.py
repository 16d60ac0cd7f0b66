"""Session tickets every worker can decrypt: resumption whichever worker a client reaches.

OpenSSL encrypts session tickets (TLS 1.2 tickets, and all TLS 1.3 resumption, which is
stateless) with keys it draws at random for each ``SSL_CTX``: each worker had its own, so
a returning client resumed only when it reached the worker it had met (about 1 in N), and
never after a reload. Python's ``ssl`` cannot set those keys; ``native.py`` can.

The keys: the master draws one secret when it starts. A listener's chain starts at
HMAC-SHA256(secret, its name and certificate) and moves on every ``PERIOD_S`` (counted from
the master's start) by SHA-256 of itself; its ticket keys in a window are derived from
the chain's value then. Every worker of every generation computes the same keys while the
certificate stays, so resumption survives reloads; a new certificate starts a new chain.
A worker holds only its chain's current value and steps it forward at each window, so
what it holds cannot decrypt the tickets of windows before (forward secrecy, at the cost
of a full handshake for the clients whose ticket was issued in the window before). The
master keeps the secret for its lifetime, as OpenSSL keeps its per-process keys.

Session IDs (TLS 1.2 resumption by a server-side cache) cannot be shared between worker
processes: the cache is turned off rather than working for one client in N.
"""

import hashlib
import hmac
import os
import ssl
import time
from dataclasses import dataclass

from . import native

PERIOD_S = 3600.0
_KEY_BYTES = 80  # OpenSSL's ticket key: 16 bytes of name, 32 of HMAC key, 32 of AES key
_SESS_CACHE_OFF = 0


@dataclass
class TicketChain:
    """One listener's chain: its value in window ``window`` (counted from ``epoch``)."""

    value: bytes
    window: int
    epoch: float  # wall-clock time of window 0, the same in the master and every worker

    def at(self, now: float) -> "TicketChain":
        """The chain in the window of ``now`` (never backwards)."""
        window = max(self.window, int((now - self.epoch) // PERIOD_S))
        value = self.value
        for _ in range(window - self.window):
            value = hashlib.sha256(b"pyhttpd ticket chain" + value).digest()
        return TicketChain(value, window, self.epoch)

    def ticket_keys(self) -> bytes:
        """The 80 bytes of OpenSSL's ticket keys for this window."""
        blocks = (hmac.new(self.value, b"pyhttpd ticket keys %d" % n, "sha256").digest() for n in range(3))
        return b"".join(blocks)[:_KEY_BYTES]

    def to_text(self) -> str:
        """The chain as one line, for a sealed memfd a worker inherits."""
        return f"{self.value.hex()} {self.window} {self.epoch!r}"

    @classmethod
    def from_text(cls, text: str) -> "TicketChain":
        """The inverse of ``to_text``."""
        value, window, epoch = text.split()
        return cls(bytes.fromhex(value), int(window), float(epoch))


class MasterSecret:
    """The master's secret, drawn once per master process; it starts each listener's chain."""

    def __init__(self, now: float | None = None) -> None:
        self._secret = os.urandom(32)
        self.epoch = time.time() if now is None else now

    def chain(self, listener: str, certificate_pem: bytes, now: float | None = None) -> TicketChain:
        """``listener``'s chain for ``certificate_pem``, moved on to the window of ``now``."""
        digest = hashlib.sha256(certificate_pem).digest()
        start = hmac.new(self._secret, listener.encode() + b"\0" + digest, "sha256").digest()
        return TicketChain(start, 0, self.epoch).at(time.time() if now is None else now)


_master_secret: MasterSecret | None = None


def master_secret() -> MasterSecret:
    """This process's secret (the master's), drawn at the first call."""
    global _master_secret
    if _master_secret is None:
        _master_secret = MasterSecret()
    return _master_secret


def supported() -> bool:
    """True if ticket keys can be set here (``native.py``); else OpenSSL's per-process keys."""
    return native.available()


def set_ticket_keys(contexts: list[ssl.SSLContext], chain: TicketChain) -> bool:
    """Give ``contexts`` the chain's ticket keys and turn their session cache off; False if
    this process cannot (they keep OpenSSL's own keys)."""
    keys = chain.ticket_keys()
    done = True
    for context in contexts:
        done &= native.ctrl(context, native.SSL_CTRL_SET_TLSEXT_TICKET_KEYS, len(keys), keys) == 1
        native.ctrl(context, native.SSL_CTRL_SET_SESS_CACHE_MODE, _SESS_CACHE_OFF, None)
    return done


class ListenerTickets:
    """A worker's ticket keys for one TLS listener: set now, moved on as windows pass."""

    def __init__(self, contexts: list[ssl.SSLContext], chain: TicketChain) -> None:
        self.contexts = contexts
        self.chain = chain.at(time.time())
        set_ticket_keys(contexts, self.chain)

    def refresh(self, now: float) -> None:
        """Move to the window of ``now`` if it changed (call it from the loop's tick)."""
        chain = self.chain.at(now)
        if chain.window != self.chain.window:
            self.chain = chain  # the old value is dropped here: forward secrecy
            set_ticket_keys(self.contexts, chain)
