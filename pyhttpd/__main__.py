"""``python -m pyhttpd``: the same as the ``pyhttpd`` command."""

import sys

from .daemon.main import main

sys.exit(main())
