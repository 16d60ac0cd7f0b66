"""Guess a file's Content-Type from its name, the way SimpleHTTPRequestHandler does.

Order: the handler's own ``extensions_map`` (exact suffix, then lower-cased), then the
``mimetypes`` module (so ``mimetypes.add_type`` keeps working for drop-in users), then the
default. ``guess_mime_type`` returns the bare type, as the standard library's ``guess_type``
does; ``with_charset`` adds the charset the handler announces for text (utf-8 by default:
it is what text files are written in today, and a browser left to guess picks a legacy
encoding).
"""

import mimetypes
import posixpath
from collections.abc import Mapping

# The overrides CPython has carried since 3.9: the mimetypes module reports ".gz" and
# friends as content *encodings* ("foo.tar.gz" -> application/x-tar + gzip), which would
# tell a browser to decompress what it is meant to save.
EXTENSION_OVERRIDES: dict[str, str] = {
    ".gz": "application/gzip",
    ".Z": "application/octet-stream",
    ".bz2": "application/x-bzip2",
    ".xz": "application/x-xz",
}

# Read the system tables once, at import, rather than racing to do it from the first
# requests' threads; "if not inited" keeps any add_type() a user made before importing us.
if not mimetypes.inited:
    mimetypes.init()


def guess_mime_type(path: str, extensions_map: Mapping[str, str], default: str) -> str:
    """Return the media type for ``path`` (a URL or file-system path); never raises.

    ``extensions_map`` maps suffixes (".html") to types and wins over the system table;
    ``default`` is returned when nothing knows the suffix.
    """
    suffix = posixpath.splitext(path)[1]
    for candidate in (suffix, suffix.lower()):
        if candidate in extensions_map:
            return extensions_map[candidate]
    guessed, _encoding = mimetypes.guess_type(path)
    return guessed or default


# Types that are text but not "text/*": a charset parameter is meaningful for them.
TEXT_LIKE_TYPES = frozenset({"application/javascript", "application/ecmascript"})


def with_charset(media_type: str, charset: str | None) -> str:
    """Return ``media_type`` with "; charset=``charset``" if it is text and has no parameters.

    Text is "text/*" and ``TEXT_LIKE_TYPES``. A type that already carries parameters (a
    configured "text/plain; charset=latin-1") is returned unchanged, and so is everything
    when ``charset`` is None or empty. application/json gets none: RFC 8259 defines no
    charset parameter (JSON is UTF-8). Nor does XML ("text/xml"): a charset parameter would
    override the encoding its own declaration names (RFC 7303 3.2).
    """
    if not charset or ";" in media_type:
        return media_type
    bare = media_type.strip().lower()
    if bare.endswith("xml"):
        return media_type
    if bare.startswith("text/") or bare in TEXT_LIKE_TYPES:
        return f"{media_type}; charset={charset}"
    return media_type
