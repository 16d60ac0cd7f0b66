"""Imports under ``--check-handler``, but a worker that loads it dies at once (exit 3)."""

import os
import sys

if "--check-handler" not in sys.argv:
    os._exit(3)

from master_app import App  # noqa: E402,F401
