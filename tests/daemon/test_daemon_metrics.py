"""The scoreboard's counters and the metrics text, without processes."""

import os

from pyhttpd.daemon.metrics import Tally, render_metrics
from pyhttpd.daemon.status_render import duration, render_status
from pyhttpd.daemon.status_snapshot import named_rows, with_ages
from pyhttpd.ipc.scoreboard import CounterView, Scoreboard
from pyhttpd.workers.counters import WorkerCounters


def test_counters_go_through_the_scoreboard_beside_the_slots(tmp_path):
    fd, board = Scoreboard.create(str(tmp_path), slots=2, listeners=2)
    try:
        counters = WorkerCounters(2)
        counters.request(0, 200, 100)
        counters.request(1, 404, 50)
        counters.request(1, None, 0)  # no status sent
        counters.request(7, 503, 10)  # an unknown listener counts on the first
        counters.shed_one()
        board.start_request(1, "GET", "/slow", "127.0.0.1:1")
        board.stamp_counters(counters, log_lines_dropped=3)
        other = Scoreboard(fd, 2, 2)  # the master's own map of the same file
        view = other.read_counters()
        assert view.rows == ((0, 1, 0, 0, 1, 0, 110), (0, 0, 0, 1, 0, 1, 50))
        assert (view.shed, view.log_lines_dropped) == (1, 3)
        assert [(s.busy, s.path) for s in other.read_slots()] == [(False, ""), (True, "/slow")]
        other.close()
    finally:
        board.close()
        os.close(fd)


def snapshot(rows, workers_state="ready") -> dict:
    listeners = ["web", 'we"ird']
    return {"pid": 1, "name": None, "phase": "serving", "ready": True, "generation": 2, "target_workers": 1,
            "started": 10.0, "started_unix": 1700000000.0, "last_reload": None, "stop_reason": None,
            "workers": [{"index": 0, "pid": 5, "generation": 2, "state": workers_state, "spawned": 11.0,
                         "requests": 4, "connections": 2, "threads": 8, "listeners": listeners,
                         "busy": [{"slot": 0, "method": "GET", "path": "/x", "client": "c", "started": 12.0,
                                   "last_progress": 13.0}],
                         "counters": {**named_rows(listeners, rows), "shed": 1, "log_lines_dropped": 2}}]}


def test_metrics_add_live_and_exited_workers():
    tally = Tally(starts=3, exits=2)
    tally.kills["hung"] += 1
    tally.reloads["ok"] += 1
    tally.absorb(["web"], CounterView(((0, 5, 0, 1, 0, 0, 600),), 4, 1))
    text = render_metrics(snapshot([(0, 2, 0, 0, 0, 0, 300), (0, 1, 0, 0, 0, 0, 10)]), tally, 7)
    lines = set(text.splitlines())
    assert 'pyhttpd_requests_total{listener="web",class="2xx"} 7' in lines
    assert 'pyhttpd_requests_total{listener="web",class="4xx"} 1' in lines
    assert 'pyhttpd_requests_total{listener="we\\"ird",class="2xx"} 1' in lines  # escaped
    assert 'pyhttpd_sent_bytes_total{listener="web"} 900' in lines
    assert "pyhttpd_connections_shed_total 5" in lines and "pyhttpd_log_lines_dropped_total 10" in lines
    assert 'pyhttpd_worker_kills_total{reason="hung"} 1' in lines and "pyhttpd_requests_in_flight 1" in lines
    assert 'pyhttpd_reloads_total{outcome="failed"} 0' in lines and "pyhttpd_worker_exits_total 2" in lines
    assert all(line.startswith(("# HELP pyhttpd_", "# TYPE pyhttpd_", "pyhttpd_")) for line in lines)


def test_the_text_report():
    report = with_ages(snapshot([(0,) * 7, (0,) * 7]), now=20.0)
    assert report["uptime_s"] == 10.0 and report["workers"][0]["busy"][0]["age_s"] == 8.0
    assert report["workers"][0]["busy"][0]["silent_s"] == 7.0
    text = render_status(report)
    assert text.startswith("pyhttpd: master 1, serving, generation 2, up 10.0s\n")
    assert text.splitlines()[-1].split() == ["0", "5", "0", "8.0s", "7.0s", "GET", "c", "/x"]
    assert [duration(s) for s in (4.25, 185, 7380, 180000)] == ["4.2s", "3m05s", "2h03m", "2d02h"]
