"""The master's process title, as ``ps`` and ``top`` show it.

``setproctitle`` rewrites the memory that holds argv (and, for long titles, the environment
block after it), so the first call must come before anything reads or copies the original
environment block; ``main`` calls ``set_title`` first thing. The worker sets its own title.
"""

import setproctitle


def master_title(name: str | None, generation: int, ready: int, target: int) -> str:
    """``pyhttpd: master [NAME] gen=G workers=R/T`` (ready/target); no brackets without a name."""
    label = f"pyhttpd: master [{name}]" if name else "pyhttpd: master"
    return f"{label} gen={generation} workers={ready}/{target}"


def set_title(title: str) -> None:
    """Set this process's title."""
    setproctitle.setproctitle(title)
