"""Guess a file's Content-Type from its name, the way SimpleHTTPRequestHandler does.

Order: the handler's own ``extensions_map`` (exact suffix, then lower-cased), then the
``mimetypes`` module (so ``mimetypes.add_type`` keeps working for drop-in users), then the
default. No charset is added: the server does not know how a text file is encoded.
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
