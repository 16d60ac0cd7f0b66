"""The master and worker's contract moved to ``pyhttpd.ipc``; this name stays only for
workers/connections.py, which another branch is rewriting. Remove it once that module
imports ``Scoreboard`` from ``..ipc.scoreboard``.
"""

from ..ipc.scoreboard import Scoreboard

__all__ = ["Scoreboard"]
