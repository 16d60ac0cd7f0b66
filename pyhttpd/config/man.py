"""The manual page pyhttpd(8), in roff (man(7) macros), derived from the settings table.

docs/pyhttpd.8 is committed; scripts/gen-example-config regenerates it with the other
files the table gives (generated.py), so the man page and docs/configuration.md never
disagree about a setting.
"""

from .. import __version__
from .render import GENERATED_BY, default_text, flag_text
from .table import SECTIONS, SETTINGS, Setting


def roff_text(text: str) -> str:
    """``text`` safe as roff running text: backslashes escaped, hyphens as minus signs (so
    that flags copy and paste), and no line starting with a control character."""
    text = text.replace("\\", "\\e").replace("-", "\\-")
    return "\n".join("\\&" + line if line.startswith((".", "'")) else line for line in text.split("\n"))


def _bold(text: str) -> str:
    return f"\\fB{roff_text(text)}\\fR"


def _option(setting: Setting) -> list[str]:
    """A flag's entry: the flag in bold, then its meaning and the key it sets."""
    return [".TP", _bold(flag_text(setting) or ""),
            roff_text(f"{setting.help} Sets {setting.key} (default: {default_text(setting)}).")]


def _key(setting: Setting) -> list[str]:
    """A file key's entry: the key, its type and default, its meaning, its flag."""
    flag = flag_text(setting)
    also = f" Flag: {flag}." if flag else " File only."
    return [".TP", _bold(setting.key) + roff_text(f" ({setting.kind.doc}; default: {default_text(setting)})"),
            roff_text(setting.help + also)]


_HEAD = """\
.\\" {generated}
.TH PYHTTPD 8 "" "pyhttpd {version}" "System Administration"
.ad l
.nh
.SH NAME
pyhttpd \\- HTTP server daemon, a master process with worker processes
.SH SYNOPSIS
.B pyhttpd
[\\fIPORT\\fR] [\\fB\\-b\\fR \\fIADDRESS\\fR]... [\\fB\\-d\\fR \\fIDIR\\fR]
[\\fB\\-\\-config\\fR \\fIPATH\\fR] [\\fIOPTION\\fR]...
.br
.B pyhttpd \\-\\-check\\-config
[\\fB\\-\\-config\\fR \\fIPATH\\fR] [\\fIOPTION\\fR]...
.br
.B pyhttpd \\-\\-reload\\-and\\-wait
(\\fB\\-\\-pid\\fR \\fIPID\\fR | \\fB\\-\\-pidfile\\fR \\fIPATH\\fR) [\\fB\\-\\-timeout\\fR \\fISECONDS\\fR]
.br
.B pyhttpd status
[\\fISITE\\fR] [\\fB\\-\\-json\\fR]
[\\fB\\-\\-pidfile\\fR \\fIPATH\\fR | \\fB\\-\\-status\\-file\\fR \\fIPATH\\fR]
.br
.B pyhttpd \\-\\-version
.SH DESCRIPTION
.B pyhttpd
serves a directory, or an http.server\\-compatible handler class, over HTTP/1.1 (and HTTPS).
A master process binds the listening sockets and runs worker processes; it replaces
dead or hung workers, reloads on SIGHUP without dropping a request, drains on SIGTERM,
and writes its events as one JSON object per line.
Under systemd it supports socket activation, sd_notify readiness and the fd store.
.PP
Settings come from the defaults, then the TOML file named by \\fB\\-\\-config\\fR, then the
flags given; a flag that takes a list replaces the file's list.
The whole file is checked, also the keys a flag overrides; an unknown key is an error.
"""

_OTHER_OPTIONS = """\
.TP
\\fB\\-\\-config\\fR \\fIPATH\\fR
Read settings from this TOML file.
.TP
\\fB\\-\\-check\\-config\\fR
Check the settings without starting: exit 0, or print one line naming the file, the key
and the problem, and exit 1.
.TP
\\fB\\-\\-reload\\-and\\-wait\\fR
Send SIGHUP to the master named by \\fB\\-\\-pid\\fR or \\fB\\-\\-pidfile\\fR and wait until the
reload has finished: exit 0 once the new configuration serves, 1 with the reason when the
old one was kept.
.TP
\\fB\\-\\-version\\fR
Print the version and exit.
.TP
\\fB\\-h\\fR, \\fB\\-\\-help\\fR
List the flags and exit.
"""

_TAIL = """\
.SH STATUS
.B pyhttpd status
shows what a running master is doing: its PID, phase, generation and uptime, each worker
(PID, state, requests served, connections, busy threads) and each request a handler is
running, with its method, path, client and age; \\fB\\-\\-json\\fR prints it as one JSON object.
It reads the status file the master keeps beside its run\\-state file:
\\fIPATH\\fR.status for \\fB\\-\\-pidfile\\fR \\fIPATH\\fR, /run/pyhttpd\\-\\fISITE\\fR/pyhttpd.status for
the template instance pyhttpd@\\fISITE\\fR, else $RUNTIME_DIRECTORY/pyhttpd.status, else
/run/pyhttpd/pyhttpd.status (pyhttpd.service).
Exit status 0, or 1 when no master runs there.
.PP
With admin.listen set, the master also answers GET /ready (200 once its generation serves,
503 while it starts or drains), GET /metrics (Prometheus text format) and GET /status on
that address, never a public listener's.
.SH SIGNALS
Send signals to the master; it forwards what the workers need.
.TP
.B TERM
Graceful stop: workers finish the requests in flight (up to timeouts.graceful), then exit 0.
.TP
.BR INT ", " QUIT
Fast stop.
.TP
.B HUP
Reload the configuration, replacing workers one at a time; a broken configuration is
refused and the old one kept.
.TP
.B USR1
Reopen the log files (after rotation).
.TP
.BR TTIN ", " TTOU
One worker more, one worker fewer.
.SH EXIT STATUS
0 after a requested stop, an idle exit or a valid \\fB\\-\\-check\\-config\\fR;
1 when the configuration is invalid or the server cannot start;
2 for a malformed command line.
.SH FILES
.TP
.I /etc/pyhttpd/pyhttpd.toml
The configuration file of pyhttpd.service.
.TP
.I /etc/systemd/system/pyhttpd.service
.TQ
.I /etc/systemd/system/pyhttpd.socket
The units scripts/install\\-systemd installs.
.TP
.I /run/pyhttpd/pyhttpd.status
The status file of pyhttpd.service, read by pyhttpd status.
.TP
.I /etc/logrotate.d/pyhttpd
Rotates the log files in /var/log/pyhttpd and sends USR1 to each master.
.SH SEE ALSO
.BR systemctl (1),
.BR systemd.socket (5),
.BR logrotate (8);
docs/configuration.md, docs/signals.md, docs/status.md, docs/logging.md and docs/systemd.md in
pyhttpd's sources.
"""


def render_manual() -> str:
    """docs/pyhttpd.8: synopsis, every flag, every file key by table, signals, exit status."""
    lines = _HEAD.format(generated=GENERATED_BY, version=__version__).splitlines()
    lines += [".SH OPTIONS"]
    for setting in SETTINGS:
        if setting.flags:
            lines += _option(setting)
    lines += _OTHER_OPTIONS.splitlines()
    lines += [".SH CONFIGURATION FILE", roff_text(
        "A TOML file; these are its keys, by table. [[listen]] tables take address, name, "
        "tls_cert, tls_key and tls_password_file. TOML has no null: \"\" means none where a key "
        "allows it."), ".SS Top\\-level keys"]
    lines += [line for setting in SETTINGS if not setting.section for line in _key(setting)]
    for section, about in SECTIONS.items():
        lines += [f".SS [{section}]", roff_text(about)]
        lines += [line for setting in SETTINGS if setting.section == section for line in _key(setting)]
    lines += _TAIL.splitlines()
    return "\n".join(lines) + "\n"
