"""``python -m pyhttpd.daemon``: the master, as ``pyhttpd`` runs it."""

import sys

from .main import main

sys.exit(main())
