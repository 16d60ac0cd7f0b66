"""The settings of the ``pyhttpd`` command: one table of settings, TOML file and flags -> a frozen Config.

    table.py       every setting: key, flag, kind, default, meaning (add a setting here)
    kinds.py       the general kinds of value: numbers, choices, paths, accounts, HTTP values
    tls_values.py  the TLS settings' kinds (profiles, ciphers, groups, HSTS) and certificate files
    listeners.py   addresses, [[listen]] tables, the admin address, clashes between listeners
    load.py        load_config: defaults, then the file, then the flags -> Config or ConfigError
    render.py      the example config and docs/configuration.md, rendered from the table
    man.py         the man page pyhttpd(8), rendered from the table
    generated.py   the committed files those render (scripts/gen-example-config writes them)

A leaf everyone may import: it uses only ``pyhttpd.protocol`` (Limits) and ``pyhttpd.tls``
(the certificate and policy types a listener carries).
"""

from .listeners import Listener, parse_address
from .load import Config, ConfigError, build_arg_parser, check_config, load_config
from .render import render_example_config, render_reference

__all__ = [
    "Config",
    "ConfigError",
    "Listener",
    "build_arg_parser",
    "check_config",
    "load_config",
    "parse_address",
    "render_example_config",
    "render_reference",
]
