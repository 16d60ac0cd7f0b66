"""``python -m pyhttpd``: the same as the ``pyhttpd`` command."""

import sys

from .cli import main

sys.exit(main())
