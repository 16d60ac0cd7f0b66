"""The kinds of configuration value: each checks one value and returns it typed, or raises Invalid.

This module holds the general kinds (numbers, choices, paths, accounts, HTTP values);
tls_values.py the TLS settings', listeners.py the addresses and [[listen]] tables.

A ``Kind`` takes the value as TOML gives it (a command-line string is first turned into that
shape by ``from_cli``), so the file and the flags go through the same checks. Checks look at
the local system only (paths, users, groups): no name lookups, no sockets, no imports.
"""

import grp
import ipaddress
import json
import math
import os
import pwd
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any


class Invalid(ValueError):
    """A refused value. ``problem`` reads after the key; ``subkey`` narrows the key (``[0].address``)."""

    def __init__(self, problem: str, subkey: str = "") -> None:
        super().__init__(problem)
        self.problem = problem
        self.subkey = subkey


def show(value: object) -> str:
    """A received value as one short line, spelled as in TOML (strings in double quotes)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        text = value if len(value) <= 80 else value[:77] + "..."
        # json escapes control characters; these two it keeps, and terminals break lines on them.
        return json.dumps(text, ensure_ascii=False).replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    if isinstance(value, dict):
        return "a table"
    if isinstance(value, list):
        text = "[" + ", ".join(show(item) for item in value) + "]"
        return text if len(text) <= 80 else "an array of " + str(len(value))
    return repr(value)


def _same(value: Any) -> Any:
    return value


@dataclass(frozen=True)
class Kind:
    """How one setting's value is written, checked and taken from the command line."""

    doc: str  # the "type" column of the docs, e.g. "integer >= 1"
    convert: Callable[[Any], Any]  # TOML-shaped value -> typed value; raises Invalid
    from_cli: Callable[[Any], Any] = _same  # what argparse gives -> TOML-shaped value
    cli: str = "value"  # argparse shape: value, flag (--x/--no-x), pair (NAME VALUE), append


# --- numbers and choices ----------------------------------------------------------------------


def _int_or_text(text: str) -> int | str:
    try:
        return int(text)
    except ValueError:
        return text  # refused by convert, which shows it as the user wrote it


def _number_or_text(text: str) -> int | float | str:
    for parse in (int, float):  # int first, so that an error shows -1 as typed, not -1.0
        try:
            return parse(text)
        except ValueError:
            pass
    return text


def integer(minimum: int, maximum: int | None = None) -> Kind:
    """Whole numbers in [minimum, maximum]; booleans and floats are refused."""
    bounds = f">= {minimum}" if maximum is None else f"from {minimum} to {maximum}"

    def convert(value: Any) -> int:
        if (isinstance(value, bool) or not isinstance(value, int) or value < minimum
                or (maximum is not None and value > maximum)):
            raise Invalid(f"must be an integer {bounds}, got {show(value)}")
        return value

    return Kind(f"integer {bounds}", convert, _int_or_text)


def seconds(*, zero_allowed: bool = True) -> Kind:
    """Durations in seconds, integer or fractional, finite; returned as float."""
    bound = ">= 0" if zero_allowed else "> 0"

    def convert(value: Any) -> float:
        if (isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value)
                or value < 0 or (value == 0 and not zero_allowed)):
            raise Invalid(f"must be a number {bound}, got {show(value)}")
        return float(value)

    return Kind(f"seconds, {bound}", convert, _number_or_text)


def convert_boolean(value: Any) -> bool:
    """``value`` if it is a TOML boolean; raises Invalid."""
    if not isinstance(value, bool):
        raise Invalid(f"must be true or false, got {show(value)}")
    return value


BOOLEAN = Kind("true or false", convert_boolean, cli="flag")


def choice(*options: str, fold_case: bool = False, optional: bool = False) -> Kind:
    """One of ``options`` (compared case-insensitively if ``fold_case``); with ``optional``,
    "" means unset and gives None."""
    listed = ", ".join(json.dumps(option) for option in options) + (' or "" for unset' if optional else "")

    def convert(value: Any) -> str | None:
        if optional and value == "":
            return None
        wanted = value.lower() if fold_case and isinstance(value, str) else value
        if not isinstance(wanted, str) or wanted not in options:
            raise Invalid(f"must be one of {listed}, got {show(value)}")
        return wanted

    return Kind(f"one of {listed}", convert)


def pattern(regex: str, wanted: str, *, optional: bool = False) -> Kind:
    """Strings matching ``regex``; with ``optional``, "" means unset and gives None."""
    doc = wanted + (', or "" for none' if optional else "")

    def convert(value: Any) -> str | None:
        if optional and value == "":
            return None
        if not isinstance(value, str) or not re.fullmatch(regex, value):
            raise Invalid(f"must be {doc}, got {show(value)}")
        return value

    return Kind(doc, convert)


# --- the local system ---------------------------------------------------------------------------


def absolute_path(value: Any, wanted: str) -> str:
    """``value`` as an absolute path; raises Invalid (saying ``wanted``) for a non-path."""
    if not isinstance(value, str) or not value or "\0" in value:
        raise Invalid(f"must be {wanted}, got {show(value)}")
    try:
        return os.path.abspath(value)
    except OSError as error:  # a relative path, and the working directory was removed
        raise Invalid(f"cannot resolve {show(value)}: {error.strerror}") from None


def _convert_directory(value: Any) -> str:
    path = absolute_path(value, "a directory path")
    if not os.path.isdir(path):
        missing = "does not exist" if not os.path.exists(path) else "is not a directory"
        raise Invalid(f"{show(path)} {missing}")
    return path


def _convert_optional_directory(value: Any) -> str | None:
    return None if value == "" else _convert_directory(value)


def file_in_existing_directory(value: Any, wanted: str) -> str:
    """``value`` as an absolute file path whose directory exists; raises Invalid."""
    path = absolute_path(value, wanted)
    parent = os.path.dirname(path)
    if not os.path.isdir(parent):
        raise Invalid(f"directory {show(parent)} of {show(path)} does not exist")
    if os.path.isdir(path):
        raise Invalid(f"{show(path)} is a directory")
    return path


def _convert_optional_file(value: Any) -> str | None:
    return None if value == "" else file_in_existing_directory(value, 'a file path, or ""')


def _convert_log_target(value: Any) -> str:
    if value in ("-", "off"):
        return value
    return file_in_existing_directory(value, 'a file path, "-" or "off"')


DIRECTORY = Kind("existing directory", _convert_directory)
OPTIONAL_DIRECTORY = Kind('existing directory, or "" for none', _convert_optional_directory)
OPTIONAL_FILE = Kind('file path (its directory must exist), or "" for none', _convert_optional_file)
LOG_TARGET = Kind('file path (its directory must exist), "-" or "off"', _convert_log_target)


def _account(lookup_name: Callable[[str], Any], lookup_id: Callable[[int], Any], what: str) -> Kind:
    def convert(value: Any) -> str | None:
        if value == "":
            return None
        if not isinstance(value, str):
            raise Invalid(f'must be a {what} name or id, or "", got {show(value)}')
        try:
            lookup_id(int(value)) if value.isdigit() else lookup_name(value)
        except KeyError:
            raise Invalid(f"no such {what}: {show(value)}") from None
        return value

    return Kind(f'existing {what} name or id, or "" for none', convert)


USER = _account(pwd.getpwnam, pwd.getpwuid, "user")
GROUP = _account(grp.getgrnam, grp.getgrgid, "group")


# --- HTTP values -------------------------------------------------------------------------------

_TOKEN = r"[!#$%&'*+.^_`|~0-9A-Za-z-]+"
_IDENTIFIERS = r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)*"

HANDLER = pattern(_IDENTIFIERS + ":" + _IDENTIFIERS, "module:attr, such as myapp.web:Handler")
SERVER = pattern(_IDENTIFIERS + ":" + _IDENTIFIERS, "module:attr, such as myapp.web:Server", optional=True)
MEDIA_TYPE = pattern(_TOKEN + "/" + _TOKEN + r"(\s*;[\x20-\x7e]*)?", "a media type, such as text/plain")


def _convert_header_pairs(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        raise Invalid(f'must be an array of [name, value] pairs, got {show(value)}')
    for index, pair in enumerate(value):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair)):
            raise Invalid(f"must be a [name, value] pair of strings, got {show(pair)}", f"[{index}]")
        name, text = pair
        if not re.fullmatch(_TOKEN, name):
            raise Invalid(f"header name must be a token, got {show(name)}", f"[{index}]")
        if re.search(r"[\x00-\x08\x0a-\x1f\x7f]", text):
            raise Invalid(f"header value must not hold control characters, got {show(text)}", f"[{index}]")
    return tuple((name, text) for name, text in value)


HEADER_PAIRS = Kind("array of [name, value] pairs", _convert_header_pairs, cli="pair")

_EXTENSION = r"\.?[A-Za-z0-9][A-Za-z0-9._+-]{0,31}"
_MEDIA_TYPE_REGEX = _TOKEN + "/" + _TOKEN + r"(\s*;[\x20-\x7e]*)?"


def _convert_mime_types(value: Any) -> tuple[tuple[str, str], ...]:
    """A table {extension: media type}; extensions get their leading dot ("md" -> ".md")."""
    if not isinstance(value, dict):
        raise Invalid(f'must be a table of extension = "media/type", got {show(value)}')
    pairs = []
    for extension, media_type in value.items():
        where = f".{extension}"
        if not re.fullmatch(_EXTENSION, extension):
            raise Invalid(f"must be a file extension such as md or .md, got {show(extension)}", where)
        if not isinstance(media_type, str) or not re.fullmatch(_MEDIA_TYPE_REGEX, media_type):
            raise Invalid(f"must be a media type, such as text/markdown, got {show(media_type)}", where)
        pairs.append((extension if extension.startswith(".") else "." + extension, media_type))
    return tuple(pairs)


MIME_TYPES = Kind('table of extension = "media/type"', _convert_mime_types,
                  lambda pairs: {extension: media_type for extension, media_type in pairs}, "pair")


def _convert_cache_rules(value: Any) -> tuple[tuple[str, str], ...]:
    if not isinstance(value, list):
        raise Invalid(f"must be an array of [pattern, value] pairs, got {show(value)}")
    for index, pair in enumerate(value):
        if not (isinstance(pair, list) and len(pair) == 2 and all(isinstance(part, str) for part in pair)):
            raise Invalid(f"must be a [pattern, value] pair of strings, got {show(pair)}", f"[{index}]")
        for part in pair:
            if not part or re.search(r"[\x00-\x08\x0a-\x1f\x7f]", part):
                problem = f"must be non-empty, without control characters, got {show(part)}"
                raise Invalid(problem, f"[{index}]")
    return tuple((pattern_text, text) for pattern_text, text in value)


CACHE_RULES = Kind("array of [glob pattern, Cache-Control value] pairs", _convert_cache_rules, cli="pair")


def _convert_networks(value: Any) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise Invalid(f"must be an array of addresses or networks, got {show(value)}")
    networks = []
    for index, item in enumerate(value):
        try:
            networks.append(str(ipaddress.ip_network(item.strip(), strict=False)))
        except ValueError:
            raise Invalid(f"not an IP address or network: {show(item)}", f"[{index}]") from None
    return tuple(networks)


NETWORKS = Kind('array of IP addresses or networks ("10.0.0.0/8")', _convert_networks,
                lambda items: list(items), "append")
