"""scripts/bench: load pyhttpd and its peers with wrk on 127.0.0.1 and report the medians.

Modules: ``run`` (options, the interleaved rounds, start and stop by PID), ``servers`` (how each
server is started), ``docroot`` (the files served), ``wrk`` (one load and its numbers),
``procs`` (CPU time and RSS of a process tree, from /proc), ``machine`` (the machine's
description), ``report`` (medians, ratios, targets and the Markdown table) and ``apps`` (the
WSGI/ASGI applications the Python peers serve). docs/benchmarks.md tells how to read the table.
"""
