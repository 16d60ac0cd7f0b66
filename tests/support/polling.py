"""Waiting for a condition in a test: bounded in time, never an unbounded loop."""

import os
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

T = TypeVar("T")


def wait_until(predicate: Callable[[], T], timeout: float, interval: float = 0.05) -> T:
    """Poll ``predicate`` until it returns a true value or ``timeout`` passes; returns its last value."""
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value or time.monotonic() >= deadline:
            return value
        time.sleep(interval)


def process_gone(pid: int) -> bool:
    """Whether ``pid`` no longer runs: no such process, or a zombie (dead; reaping it is its
    parent's business)."""
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except FileNotFoundError:
        return True
    return state in ("Z", "X")


def wait_gone(pid: int, timeout: float) -> bool:
    """Whether ``pid`` is gone within ``timeout`` (see ``process_gone``)."""
    return wait_until(lambda: process_gone(pid), timeout, 0.02)


def group_empty(pgid: int) -> bool:
    """Whether no process is left in the process group ``pgid`` (zombies count as left)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return True
    return False
