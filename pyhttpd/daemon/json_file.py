"""Small JSON files the master keeps for other processes (the run-state and status files):
replaced atomically, read without raising; and whether the process that wrote one lives."""

import contextlib
import json
import os


def write_json(path: str, record: object) -> bool:
    """Replace ``path`` with ``record`` as JSON (write, then rename: a reader sees the old
    file or the new one, never half of one); False if it could not be written (never raises)."""
    temporary = f"{path}.{os.getpid()}.tmp"
    try:
        with open(temporary, "w", encoding="utf-8") as file:
            json.dump(record, file)
        os.replace(temporary, path)
        return True
    except OSError:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        return False


def read_json_object(path: str) -> dict | None:
    """The JSON object at ``path``; None if missing, unreadable or not an object."""
    try:
        with open(path, encoding="utf-8") as file:
            record = json.load(file)
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) else None


def process_exists(pid: int) -> bool:
    """Whether a process ``pid`` exists (one we may not signal counts)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True
