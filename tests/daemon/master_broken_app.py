"""A handler module that cannot be imported: a reload to it must fail and change nothing."""

raise ImportError("master_broken_app is broken on purpose")
