"""Directory listings: read a directory's entries, then render them as HTML or JSON.

``scan_directory`` is the only function here that touches the file system; the renderers
take the entries it returns (or any list of ``ListingEntry``) and return bytes.

Names come from the OS as ``str`` with undecodable bytes as lone surrogates
(surrogateescape). In HTML, hrefs percent-quote them with "surrogatepass" (which
``paths.decode_path`` reverses) and text shows them html-escaped; the page is encoded with
"surrogateescape", so such a name's raw bytes reach the client unchanged, as the stdlib does.
"""

import html
import json
import math
import os
import stat
import time
import urllib.parse
from collections.abc import Iterable
from dataclasses import dataclass

HTML_CONTENT_TYPE = "text/html; charset=utf-8"
JSON_CONTENT_TYPE = "application/json"

# Inline, so the page needs nothing else. Desktop: a table of name, size, date. Narrow
# screens (phones): each row becomes two lines, the name on its own line and size and
# date under it, so neither the names nor the dates are broken mid-word. color-scheme and
# translucent stripes keep it readable in a dark theme too.
_STYLE = """\
:root{color-scheme:light dark}
body{font-family:system-ui,sans-serif;margin:1rem auto;padding:0 1rem;max-width:64rem;line-height:1.4}
h1{font-size:1.25rem;overflow-wrap:anywhere}
table{border-collapse:collapse;width:100%}
th,td{padding:.3rem .5rem;text-align:left;vertical-align:top}
th{border-bottom:1px solid rgba(127,127,127,.4)}
td.f{overflow-wrap:anywhere}
td.f a{display:block}
.n{text-align:right;white-space:nowrap}
td.t{white-space:nowrap}
tbody tr:nth-child(even){background:rgba(127,127,127,.1)}
@media (max-width:40rem){
thead{display:none}
tr{display:flex;flex-wrap:wrap;padding:.35rem 0}
td{padding:0 .5rem}
td.f{flex:1 0 100%;padding-bottom:.15rem}
td.n,td.t{font-size:.85rem;opacity:.75}
td.n{text-align:left}
td.n:empty{display:none}
td.t time::after{content:" UTC"}
}
"""

@dataclass(frozen=True)
class ListingEntry:
    """One directory entry as the listing shows it.

    ``is_dir`` is true for a directory and for a symlink to one. ``size`` is the byte size
    of a file (a symlink's target); None for directories and dangling symlinks. ``mtime`` is
    a POSIX timestamp of the target (of the link itself when dangling); None if unknown.
    """

    name: str
    is_dir: bool
    is_symlink: bool
    size: int | None
    mtime: float | None


def scan_directory(path: str) -> list[ListingEntry]:
    """Return the entries of the directory ``path``, unsorted.

    Raises OSError (or ValueError for a path the OS cannot represent) when the directory
    cannot be opened or read. An entry that vanishes between reading the directory and
    stat-ing it is left out; a dangling symlink is kept, with no size.
    """
    entries = []
    with os.scandir(path) as iterator:
        for dir_entry in iterator:
            entry = _describe(dir_entry)
            if entry is not None:
                entries.append(entry)
    return entries


def _describe(dir_entry: os.DirEntry) -> ListingEntry | None:
    """Return the ``ListingEntry`` for ``dir_entry``, or None if it no longer exists."""
    try:
        link_stat = dir_entry.stat(follow_symlinks=False)
    except OSError:
        return None
    is_symlink = stat.S_ISLNK(link_stat.st_mode)
    target_stat = link_stat
    if is_symlink:
        try:
            target_stat = dir_entry.stat(follow_symlinks=True)
        except OSError:
            return ListingEntry(dir_entry.name, False, True, None, link_stat.st_mtime)
    is_dir = stat.S_ISDIR(target_stat.st_mode)
    size = None if is_dir else target_stat.st_size
    return ListingEntry(dir_entry.name, is_dir, is_symlink, size, target_stat.st_mtime)


def sort_entries(entries: Iterable[ListingEntry]) -> list[ListingEntry]:
    """Return ``entries`` with directories first, each group sorted case-insensitively."""
    return sorted(entries, key=lambda entry: (not entry.is_dir, entry.name.casefold(), entry.name))


def render_html(display_path: str, entries: Iterable[ListingEntry], show_parent: bool) -> bytes:
    """Return an HTML5 page listing ``entries`` (in the order given), encoded as UTF-8.

    ``display_path`` is shown in the title and heading, html-escaped. ``show_parent`` adds a
    link to "../" first. Directories show "name/", symlinks "name@"; hrefs are relative to
    the listed directory, which the caller guarantees is addressed with a trailing "/".
    """
    title = "Directory listing for " + html.escape(display_path, quote=False)
    rows = []
    if show_parent:
        rows.append('<tr><td class="f"><a href="../">../</a></td><td class="n"></td><td class="t"></td></tr>')
    rows.extend(_html_row(entry) for entry in entries)
    page = [
        "<!DOCTYPE html>",
        '<html lang="en">',
        "<head>",
        '<meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>{title}</title>",
        f"<style>\n{_STYLE}</style>",
        "</head>",
        "<body>",
        f"<h1>{title}</h1>",
        "<table>",
        '<thead><tr><th>Name</th><th class="n">Size</th><th class="t">Modified (UTC)</th></tr></thead>',
        "<tbody>",
        *rows,
        "</tbody>",
        "</table>",
        "</body>",
        "</html>",
        "",
    ]
    return "\n".join(page).encode("utf-8", "surrogateescape")


def _html_row(entry: ListingEntry) -> str:
    """Return the table row for one entry."""
    link_name = entry.name + "/" if entry.is_dir else entry.name
    if entry.is_symlink:
        shown_name = entry.name + "@"
    else:
        shown_name = link_name
    # The href is quoted with the default safe="/" so it matches the stdlib's links; every
    # character that could end the attribute or start a scheme (":") is percent-encoded.
    href = urllib.parse.quote(link_name, errors="surrogatepass")
    # quote=False: quotes are harmless in a text node, and this is the stdlib's escaping.
    text = html.escape(shown_name, quote=False)
    size = "" if entry.size is None else _human_size(entry.size)
    return (
        f'<tr><td class="f"><a href="{href}">{text}</a></td>'
        f'<td class="n">{size}</td><td class="t">{_html_time(entry.mtime)}</td></tr>'
    )


def _human_size(size: int) -> str:
    """Return ``size`` bytes as a short human-readable string ("812 B", "1.5 MiB")."""
    value = float(size)
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if value < 1024 or unit == "TiB":
            break
        value /= 1024
    return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"


def _html_time(mtime: float | None) -> str:
    """Return a <time> element for ``mtime``, or "" if it is unknown."""
    if mtime is None:
        return ""
    shown = time.strftime("%Y-%m-%d %H:%M", time.gmtime(mtime))
    return f'<time datetime="{rfc3339_utc(mtime)}">{shown}</time>'


def rfc3339_utc(mtime: float) -> str:
    """Return the POSIX timestamp ``mtime`` as RFC 3339 UTC, to the second."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))


def render_json(entries: Iterable[ListingEntry]) -> bytes:
    """Return ``entries`` (in the order given) as a UTF-8 JSON array of objects.

    Each object is {"name", "type": "file"|"directory"|"symlink", "size": bytes or null,
    "mtime": RFC 3339 UTC or null}. The output is ASCII: non-ASCII characters, and the lone
    surrogates of undecodable names, are written as \\u escapes.
    """
    items = [
        {
            "name": entry.name,
            "type": _json_type(entry),
            "size": entry.size,
            "mtime": None if entry.mtime is None else rfc3339_utc(entry.mtime),
        }
        for entry in entries
    ]
    return json.dumps(items, ensure_ascii=True).encode("ascii")


def _json_type(entry: ListingEntry) -> str:
    """Return the JSON "type" of an entry."""
    if entry.is_symlink:
        return "symlink"
    return "directory" if entry.is_dir else "file"


def prefers_json(accept: str | None) -> bool:
    """Tell whether an Accept header value ranks application/json above text/html.

    Each type gets the q of the most specific media range that matches it (exact, then
    "type/*", then "*/*"); JSON wins only with a strictly higher q, so a missing header,
    "*/*" and a browser's usual header all get HTML.
    """
    if not accept:
        return False
    ranges = _parse_accept(accept)
    return _quality("application/json", ranges) > _quality("text/html", ranges)


def _parse_accept(accept: str) -> dict[str, float]:
    """Return {media range: q} for an Accept header value; malformed q values count as 0."""
    ranges: dict[str, float] = {}
    for item in accept.split(","):
        media_range, *params = (part.strip() for part in item.split(";"))
        quality = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip().lower() == "q":
                quality = _parse_q(value)
        if media_range:
            ranges[media_range.lower()] = quality
    return ranges


def _parse_q(value: str) -> float:
    """Return a q value clamped to [0, 1]; anything that is not a finite number is 0."""
    try:
        quality = float(value)
    except ValueError:
        return 0.0
    if not math.isfinite(quality):
        return 0.0
    return min(max(quality, 0.0), 1.0)


def _quality(media_type: str, ranges: dict[str, float]) -> float:
    """Return the q that ``ranges`` give ``media_type``; 0 if no range matches."""
    major = media_type.partition("/")[0]
    for candidate in (media_type, major + "/*", "*/*"):
        if candidate in ranges:
            return ranges[candidate]
    return 0.0
