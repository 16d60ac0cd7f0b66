"""Makes tests/support importable as ``support`` from every test directory.

Pytest's default (prepend) import mode already puts this directory on sys.path when it
imports this file; the insert below says so explicitly and keeps it true in other modes.
"""

import sys
from pathlib import Path

TESTS = str(Path(__file__).resolve().parent)
if TESTS not in sys.path:
    sys.path.insert(0, TESTS)
