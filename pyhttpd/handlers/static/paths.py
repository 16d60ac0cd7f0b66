"""Map a request target onto the file system without letting it leave the served root.

Strategy: strip the query and fragment, percent-decode the whole path once, split it on "/",
then rebuild it segment by segment on a stack. "." and empty segments vanish, ".." pops a
segment but never climbs above the root, and a segment the OS would read as more than one
name (it holds a separator, or a drive such as "c:") is dropped. The result is lexically
inside the root by construction; ``is_within_root`` then checks what symlinks make of it.

``os.path`` is looked up at call time, never bound at import: CPython's test swaps it for
``ntpath`` and expects Windows separators and drives to be refused.

Decoding: UTF-8, with encoded surrogates let through ("surrogatepass": the form the listing
writes for undecodable file names) and any other invalid byte kept as a lone surrogate
("surrogateescape"), so ``%ff`` names the file whose name is the byte 0xff. The UTF-8 decoder
is strict, so an overlong form such as ``%c0%ae`` never turns into ".".

NUL: a decoded NUL (``%00``) is kept in the returned path. No file can have such a name:
``os.path.exists``/``isdir``/``isfile`` answer False and ``open``/``stat`` raise ValueError,
which the static handler answers with 404. ``is_within_root`` answers False for it too.
"""

import codecs
import functools
import os
import re
import urllib.parse

# RFC 9112 3.2.2: the absolute-form request target, "scheme://authority/path".
_ABSOLUTE_FORM = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*://")
_O_PATH = getattr(os, "O_PATH", 0)  # Linux: open a name without opening the file


def strip_query(target: str) -> str:
    """Return ``target`` without its query ("?...") and fragment ("#...")."""
    for mark in ("?", "#"):
        target = target.partition(mark)[0]
    return target


def _pass_or_escape(error: UnicodeError) -> tuple[str, int]:
    """Codec error handler: "surrogatepass" where it applies, else "surrogateescape"."""
    try:
        return _SURROGATEPASS(error)
    except UnicodeDecodeError:
        return _SURROGATEESCAPE(error)


_SURROGATEPASS = codecs.lookup_error("surrogatepass")
_SURROGATEESCAPE = codecs.lookup_error("surrogateescape")
_PASS_OR_ESCAPE = "pyhttpd.surrogatepass-or-escape"
codecs.register_error(_PASS_OR_ESCAPE, _pass_or_escape)


def decode_path(quoted: str) -> str:
    """Percent-decode ``quoted`` as UTF-8; never raises.

    Encoded surrogates decode to themselves ("surrogatepass"); every other undecodable byte
    becomes a lone surrogate U+DC80..U+DCFF ("surrogateescape"), which ``os.fsencode`` turns
    back into that byte.
    """
    return urllib.parse.unquote_to_bytes(quoted).decode("utf-8", _PASS_OR_ESCAPE)


def path_of_target(target: str) -> str:
    """Return the still-quoted path part of a request target, without query and fragment.

    An absolute-form target ("http://host/a/b?q") gives its path ("/a/b"); any other target
    is returned as it is up to the first "?" or "#".
    """
    if _ABSOLUTE_FORM.match(target):
        return urllib.parse.urlsplit(target).path
    return strip_query(target)


def url_path_segments(target: str) -> list[str]:
    """Return the decoded, normalised segments of a request target's path.

    Never raises. "." and empty segments are dropped, ".." removes the segment before it
    (or nothing, at the top), and a segment that holds an ``os.path`` separator or starts
    with a drive is dropped whole. The segments may contain NUL (see the module docstring).
    """
    module_path = os.path  # at call time: a test swaps os.path for ntpath
    separators = {sep for sep in (module_path.sep, module_path.altsep) if sep}
    segments: list[str] = []
    for segment in decode_path(path_of_target(target)).split("/"):
        if segment in ("", module_path.curdir):
            continue
        if segment == module_path.pardir:
            if segments:
                segments.pop()
            continue
        if module_path.splitdrive(segment)[0] or any(sep in segment for sep in separators):
            continue
        segments.append(segment)
    return segments


def has_trailing_slash(target: str) -> bool:
    """Tell whether the decoded path of ``target`` ends with "/" (it names a directory)."""
    return decode_path(path_of_target(target)).endswith("/")


def url_path_to_fs(path: str, root: str) -> str:
    """Return the file-system path that the request target ``path`` names under ``root``.

    The result is ``os.path.join(root, *segments)`` (see ``url_path_segments``), so it is
    lexically inside ``root`` and relative if ``root`` is; a trailing "/" in the request is
    kept as a trailing ``os.path.sep``. Never raises and never touches the file system.
    A decoded NUL stays in the result, which therefore names no file.
    """
    return _mapped(path, os.fspath(root), os.path)


@functools.lru_cache(maxsize=4096)
def _mapped(path: str, root: str, module_path) -> str:
    # Pure string work, remembered: a site's popular paths are mapped once. The os.path
    # module is part of the key because CPython's test swaps it for ntpath.
    result = module_path.join(root, *url_path_segments(path))
    if has_trailing_slash(path) and not result.endswith(module_path.sep):
        result += module_path.sep
    return result


def is_within_root(fs_path: str, root: str, follow_symlinks: bool) -> bool:
    """Tell whether ``fs_path`` may be served from ``root``.

    Lexical containment is always required. Unless ``follow_symlinks`` is true, the path
    with every symlink resolved must also stay inside the root with its symlinks resolved,
    so a link that leads out of the root is refused. A path that does not exist is judged
    by the part of it that does. Returns False (never raises) for a path the OS cannot
    represent: one with NUL or with a surrogate that does not encode.
    """
    try:
        os.fsencode(fs_path)
        os.fsencode(root)
        if "\0" in fs_path:
            return False
        if not _contains(os.path.abspath(root), os.path.abspath(fs_path)):
            return False
        if follow_symlinks:
            return True
        return _contains(resolved_path(root), resolved_path(fs_path))
    except (OSError, ValueError):
        return False


def resolved_path(path: str) -> str:
    """``os.path.realpath(path)``, asked of the kernel when the path exists.

    Opening with O_PATH touches no file (no device is opened, no FIFO waited on) and
    ``/proc/self/fd`` then names what it resolved to: three system calls, where realpath
    makes one ``lstat`` per path component in Python. A path that does not exist, or a
    system without O_PATH or /proc, gets ``os.path.realpath`` (which judges the existing
    part of it).
    """
    if not _O_PATH:  # a plain open could block on a FIFO or open a device
        return os.path.realpath(path)
    try:
        descriptor = os.open(path, _O_PATH | os.O_CLOEXEC)
    except OSError:
        return os.path.realpath(path)
    try:
        resolved = os.readlink(f"/proc/self/fd/{descriptor}")
    except OSError:
        return os.path.realpath(path)
    finally:
        os.close(descriptor)
    return resolved if os.path.isabs(resolved) else os.path.realpath(path)


def is_open_file_within_root(descriptor: int, root: str) -> bool:
    """Tell whether the file open on ``descriptor`` lies inside ``root`` (symlinks resolved).

    Closes the race between ``is_within_root`` and opening: a symlink swapped in between
    is caught by asking the kernel where the open file really is (``/proc/self/fd``).
    Where the kernel cannot say (no ``/proc``), answers True: the check made before opening
    is then all there is.
    """
    try:
        opened = os.readlink(f"/proc/self/fd/{descriptor}")
    except OSError:
        return True
    if not os.path.isabs(opened):  # "anon_inode:..." and the like: not a path at all
        return False
    try:
        return _contains(resolved_path(root), opened.removesuffix(" (deleted)"))
    except ValueError:
        return False


def _contains(parent: str, child: str) -> bool:
    """Tell whether the absolute, normalised ``child`` is ``parent`` or below it."""
    if child == parent:
        return True
    sep = os.path.sep
    return child.startswith(parent if parent.endswith(sep) else parent + sep)


def directory_redirect_location(target: str) -> str:
    """Return the Location for redirecting ``target`` to its directory form (trailing "/").

    The path gets a "/" and keeps its query; an absolute-form target keeps its scheme and
    host. A path that would start with "//" is collapsed to one "/": a browser reads
    "//host/..." as a link to another host (CPython issue 87389).
    """
    if _ABSOLUTE_FORM.match(target):
        parts = urllib.parse.urlsplit(target)
        return urllib.parse.urlunsplit(parts._replace(path=parts.path + "/"))
    path, mark, query = target.partition("?")
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    return path + "/" + mark + query


def _url_collapse_path(path: str) -> str:
    """Collapse "."/".." and repeated "/" in a URL path, as the CGI handler needs it.

    The path (not the query, kept verbatim after the first "?") is percent-decoded, then
    rebuilt as "/" + the kept directories joined by "/" + "/" + the last segment; so the
    result always starts with "/" and the empty path gives "//". A trailing "." or ".."
    leaves an empty last segment.

    Raises IndexError when a ".." would climb above the top.
    """
    path, mark, query = path.partition("?")
    parts = urllib.parse.unquote(path).split("/")
    directories: list[str] = []
    for part in parts[:-1]:
        if part == "..":
            directories.pop()
        elif part not in ("", "."):
            directories.append(part)
    last = parts[-1]
    if last == "..":
        directories.pop()
        last = ""
    elif last == ".":
        last = ""
    return "/" + "/".join(directories) + "/" + last + mark + query
