"""The committed files derived from the settings table, and what renders each.

scripts/gen-example-config writes them; tests/test_config.py fails while one is stale.
"""

from .man import render_manual
from .render import render_example_config, render_reference

# Paths relative to the repository root.
GENERATED_FILES = {
    "systemd/pyhttpd.example.toml": render_example_config,
    "docs/configuration.md": render_reference,
    "docs/pyhttpd.8": render_manual,
}
