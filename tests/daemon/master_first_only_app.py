"""A handler whose first worker starts and every later one hangs: a generation that fails halfway.

The first worker process to import it creates ``$MASTER_TEST_MARKERS/first``; the others find
it and never become ready. ``--check-handler`` imports it without touching the marker.
"""

import os
import sys
import time

if "--check-handler" not in sys.argv:
    try:
        os.close(os.open(os.path.join(os.environ["MASTER_TEST_MARKERS"], "first"), os.O_CREAT | os.O_EXCL))
    except FileExistsError:
        time.sleep(3600)

from master_app import App  # noqa: E402,F401
