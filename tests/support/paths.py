"""Where the tests are, and the environment that makes a folder's modules importable in a child."""

import os
from collections.abc import Iterable
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent


def importable_env(dirs: Iterable[Path], base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with ``dirs`` first on PYTHONPATH: a child
    Python (a master, a worker) imports handler modules from them."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [*map(str, dirs), env.get("PYTHONPATH")]))
    return env
