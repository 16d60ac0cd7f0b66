"""``python -m pyhttpd.workers``: a worker process, started by the master."""

import sys

from .worker import main

sys.exit(main())
