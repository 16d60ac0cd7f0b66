"""Where the tests are, and the environment that makes a folder's modules importable in a child."""

import os
from collections.abc import Iterable
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
REPO = TESTS.parent


def write_files(root: Path, files: dict[str, bytes | str]) -> Path:
    """Make the directory ``root`` holding ``files`` ({relative path: content}, parents made);
    returns ``root``. A document root in one statement."""
    root.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, str):
            path.write_text(content)
        else:
            path.write_bytes(content)
    return root


def importable_env(dirs: Iterable[Path], base: dict[str, str] | None = None) -> dict[str, str]:
    """``base`` (default: this process's environment) with ``dirs`` first on PYTHONPATH: a child
    Python (a master, a worker) imports handler modules from them."""
    env = dict(os.environ if base is None else base)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [*map(str, dirs), env.get("PYTHONPATH")]))
    return env
