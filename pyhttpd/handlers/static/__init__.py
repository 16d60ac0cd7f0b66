"""``SimpleHTTPRequestHandler`` and the parts it is made of.

    handler.py          the class: send_head, list_directory, translate_path, copyfile, guess_type
    paths.py            a request target mapped onto the file system, never out of the root
    file_response.py    one file's answer: 200, 206, 304, 412, 416 (the steps after mapping)
    file_body.py        bodies from files: opened safely, sent zero-copy, never read whole
    open_file_cache.py  what was found out about a file, kept for a moment (open_file_cache)
    conditional.py      validators and RFC 9110's preconditions
    ranges.py           Range requests and multipart/byteranges
    encodings.py        precompressed siblings and Accept-Encoding
    mimetypes_map.py    media types by suffix
    listing.py          the directory listing, HTML and JSON; listing_cache.py keeps it a second
    settings.py         the configurable policies, and how the daemon's settings set them
"""

from .handler import SimpleHTTPRequestHandler, header_pairs, is_not_modified_since

__all__ = ["SimpleHTTPRequestHandler", "header_pairs", "is_not_modified_since"]
