"""``python -m bench``: what scripts/bench runs once the peers are installed."""

import sys

from bench.run import main

sys.exit(main())
