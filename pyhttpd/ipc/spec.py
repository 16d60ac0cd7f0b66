"""How the master starts a worker and hears from it: the spawn spec and the status pipe.

The master starts a worker as ``python -m pyhttpd.workers`` with the listening sockets, the
write end of a status pipe and a scoreboard file (scoreboard.py) passed as inherited file
descriptors, and a ``WorkerSpec`` as JSON in the ``PYHTTPD_WORKER_SPEC`` environment variable.

Status pipe: the worker writes one JSON object per line, ``{"event": "ready"}`` once it can
serve, ``{"event": "logs_reopened"}`` after SIGUSR1.
"""

import json
from dataclasses import asdict, dataclass, field

SPEC_ENV = "PYHTTPD_WORKER_SPEC"
# The worker settings (JSON) a handler check builds the handler with, as a worker would.
CHECK_SETTINGS_ENV = "PYHTTPD_CHECK_SETTINGS"

EVENT_READY = "ready"
EVENT_LOGS_REOPENED = "logs_reopened"

@dataclass(frozen=True)
class ListenerSpec:
    """One inherited listening socket: its fd, its name (e.g. "http"), kind, and TLS material."""

    fd: int
    name: str
    kind: str  # "tcp" or "unix"
    tls_fd: int | None = None  # a sealed memfd with the PEM chain and key: a TLS listener
    tls_password_fd: int | None = None  # a memfd with the key's password, if it has one
    proxy_protocol: bool = False  # each connection starts with a PROXY header
    tls_policy: dict | None = None  # tls.policy.TLSPolicy.as_dict(); None: the default profile
    hsts: str | None = None  # the Strict-Transport-Security value of a TLS listener's responses
    # its further certificates, by server name: {"names": [...], "tls_fd": fd, "tls_password_fd": fd or None}
    tls_sni: list = field(default_factory=list)
    tls_client_ca_fd: int | None = None  # a memfd with the CA certificates client certificates need
    tls_tickets_fd: int | None = None  # a memfd with its session ticket chain (tls.tickets.TicketChain)


@dataclass(frozen=True)
class WorkerSpec:
    """Everything a worker needs to start, serialised by the master as JSON."""

    worker: int
    generation: int
    listeners: list[ListenerSpec]
    status_fd: int
    scoreboard_fd: int
    settings: dict = field(default_factory=dict)  # the Config's worker-relevant settings
    accept_board_fd: int | None = None  # the fleet's accept board (accept_board.py), shared by all

    def to_json(self) -> str:
        """The spec as one JSON string."""
        return json.dumps(asdict(self))

    @classmethod
    def from_json(cls, text: str) -> "WorkerSpec":
        """Parse ``to_json`` output; raises ValueError/KeyError/TypeError if malformed."""
        data = json.loads(text)
        data["listeners"] = [ListenerSpec(**item) for item in data["listeners"]]
        return cls(**data)


def status_message(event: str, **fields) -> bytes:
    """One status-pipe line."""
    return (json.dumps({"event": event, **fields}) + "\n").encode()
