"""A handler module that fails at import, for ``--check-handler``.

The message has a line break on purpose: the check must still print one line.
"""

raise RuntimeError("this handler module is broken\nat import time")
