"""``pyhttpd status`` as text: the master, a table of workers, a table of busy requests
(Apache's ``apachectl fullstatus`` is the model). The input is a snapshot with ages
(status_snapshot.with_ages)."""


def render_status(report: dict) -> str:
    """The report as lines for a terminal."""
    name = f" [{report['name']}]" if report.get("name") else ""
    workers = report["workers"]
    busy = [(worker, slot) for worker in workers for slot in worker["busy"]]
    lines = [
        f"pyhttpd{name}: master {report['pid']}, {report['phase']}, generation {report['generation']}, "
        f"up {duration(report['uptime_s'])}",
        f"workers: {len(workers)} running, {report['target_workers']} wanted; "
        f"{sum(1 for w in workers if w['busy'])} busy; requests in flight: {len(busy)}; "
        f"requests served: {sum(w['requests'] for w in workers)} (by the running workers); "
        f"connections: {sum(w['connections'] for w in workers)}",
    ]
    reload = report.get("last_reload")
    if reload:
        outcome = "took effect" if reload["ok"] else f"failed ({reload['reason']})"
        lines.append(f"last reload: generation {reload['generation']} {outcome}")
    if report.get("stale"):
        lines.append(f"warning: {report['stale']}")
    lines += ["", _table(["worker", "pid", "gen", "state", "up", "requests", "conns", "busy"],
                         [[w["index"], w["pid"], w["generation"], w["state"], duration(w["uptime_s"]),
                           w["requests"], w["connections"], f"{len(w['busy'])}/{w['threads']}"]
                          for w in workers])]
    if busy:
        lines += ["", _table(["worker", "pid", "slot", "age", "silent", "method", "client", "path"],
                             [[w["index"], w["pid"], s["slot"], f"{s['age_s']:.1f}s", f"{s['silent_s']:.1f}s",
                               s["method"], s["client"], s["path"]] for w, s in busy])]
    return "\n".join(lines) + "\n"


def duration(seconds: float) -> str:
    """``seconds`` as 4.2s, 3m05s, 2h03m or 5d02h."""
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    if minutes < 60:
        return f"{minutes}m{secs:02d}s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h{minutes:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d{hours:02d}h"


def _table(header: list[str], rows: list[list]) -> str:
    cells = [header, *([str(cell) for cell in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(header) - 1)]
    # The last column (a path) is not padded: it may be long.
    padded = ([cell.ljust(width) for cell, width in zip(row, widths, strict=False)] + [row[-1]]
              for row in cells)
    return "\n".join("  ".join(row) for row in padded)
