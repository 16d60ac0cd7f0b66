"""Imports at once under ``--check-handler``, but hangs in a worker: it never becomes ready."""

import sys
import time

if "--check-handler" not in sys.argv:
    time.sleep(3600)

from master_app import App  # noqa: E402,F401
