"""Precompressed siblings: which content coding to send, from Accept-Encoding (RFC 9110 12.5.3).

A file ``app.js`` may have siblings ``app.js.br`` and ``app.js.gz``, made at deploy time. The
handler lists the siblings it may serve (``SIBLINGS``) and whose modification time says they
are fresh (``is_fresh``), and ``choose_coding`` picks the one the client accepts best, or
None for the file itself. Nothing here touches the file system.
"""

import re
from collections.abc import Iterable

# (content coding, file suffix), in the server's order of preference: brotli is smaller.
SIBLINGS: tuple[tuple[str, str], ...] = (("br", ".br"), ("gzip", ".gz"))

# RFC 9110 8.4.1.3: "x-gzip" SHOULD be taken as "gzip".
_ALIASES = {"x-gzip": "gzip"}
# RFC 9110 12.4.2: qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] )
_QVALUE = re.compile(r"0(\.\d{0,3})?|1(\.0{0,3})?")


def is_fresh(sibling_mtime_ns: int, original_mtime_ns: int) -> bool:
    """Tell whether a sibling with this modification time was made from the current file.

    Times are compared in whole seconds: the sibling is fresh if its second is not before
    the file's. ``gzip -k`` copies the file's time to the nanosecond, but Debian 12's
    ``brotli -k`` (1.0.9) copies it cut to the second, which would otherwise look older;
    zopfli and build steps write a newer time. The price: a file edited within the same
    second as its sibling was made passes for unchanged.
    """
    return sibling_mtime_ns // 1_000_000_000 >= original_mtime_ns // 1_000_000_000


def parse_accept_encoding(values: Iterable[str]) -> dict[str, float]:
    """Return {coding: q} for the Accept-Encoding field lines ``values``.

    Codings are lower-cased (they are case-insensitive), aliases resolved; a member whose
    weight is malformed gets q=0, so a garbled field can only make the server send less
    compressed content, never a coding the client cannot read.
    """
    weights: dict[str, float] = {}
    for value in values:
        for member in value.split(","):
            coding, *params = (part.strip(" \t") for part in member.split(";"))
            coding = _ALIASES.get(coding.lower(), coding.lower())
            if not coding:
                continue
            quality = 1.0
            for param in params:
                name, _, text = param.partition("=")
                if name.strip(" \t").lower() == "q":
                    text = text.strip(" \t")
                    quality = float(text) if _QVALUE.fullmatch(text) else 0.0
            weights[coding] = quality
    return weights


def _weight(coding: str, weights: dict[str, float]) -> float | None:
    """The q the client gives ``coding``: its own entry, else "*"'s, else None (unlisted)."""
    if coding in weights:
        return weights[coding]
    return weights.get("*")


def choose_coding(values: list[str] | None, available: Iterable[str]) -> str | None:
    """Return the content coding to send, among ``available`` (in preference order), or None.

    ``values`` are the request's Accept-Encoding field lines, None when it has none. Rules
    (RFC 9110 12.5.3): a coding with q=0, or unlisted and not covered by "*", is not
    acceptable. Without the field any coding is acceptable, but a client that did not ask is
    sent the file itself, as every server does. The best-weighted acceptable coding wins,
    ties going to the server's order; the file itself is sent instead when the client
    explicitly weights "identity" (or "*" without "identity") strictly higher.
    """
    if values is None:
        return None
    weights = parse_accept_encoding(values)
    best, best_weight = None, 0.0
    for coding in available:
        weight = _weight(coding, weights) or 0.0
        if weight > best_weight:
            best, best_weight = coding, weight
    if best is None:
        return None
    identity = _weight("identity", weights)
    if identity is not None and identity > best_weight:
        return None
    return best
