"""pyhttpd(8): current, complete, and rendered by groff without a warning; ``--version``."""

import importlib.metadata
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import pyhttpd
from pyhttpd.config.man import render_manual, roff_text
from pyhttpd.config.table import SECTIONS, SETTINGS

REPO = Path(__file__).resolve().parents[1]
MANUAL = REPO / "docs/pyhttpd.8"


def rendered_text() -> str:
    """The committed page as groff renders it (plain text); fails on any warning."""
    done = subprocess.run(["groff", "-man", "-Tutf8", "-ww", "-P", "-cbou", str(MANUAL)],
                          capture_output=True, text=True, timeout=30)
    assert done.returncode == 0, done.stderr
    assert done.stderr == "", done.stderr  # -ww: every warning groff knows
    return done.stdout


@pytest.mark.skipif(shutil.which("groff") is None, reason="groff (Debian groff-base) is not installed")
def test_groff_renders_it_without_warnings_and_every_setting_shows():
    text = re.sub(r"\s+", " ", rendered_text()).replace("\u2010", "-").replace("\u2212", "-")
    for setting in SETTINGS:
        assert f" {setting.key} (" in text, setting.key  # its entry under CONFIGURATION FILE
        for flag in setting.flags:
            assert flag.upper() in text.upper(), flag
        assert re.sub(r"\s+", " ", setting.help) in text, setting.key
    for section in SECTIONS:
        assert f"[{section}]" in text
    assert "pyhttpd --version" in text and f"pyhttpd {pyhttpd.__version__}" in text


@pytest.mark.skipif(shutil.which("man") is None, reason="man (Debian man-db) is not installed")
def test_man_reads_the_file():
    env = {"MANPAGER": "cat", "PAGER": "cat", "MANWIDTH": "80", "PATH": "/usr/bin:/bin"}
    done = subprocess.run(["man", "--warnings", "-l", str(MANUAL)], capture_output=True, text=True,
                          timeout=30, env=env)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    assert "PYHTTPD(8)" in done.stdout


def test_roff_control_characters_are_escaped():
    assert roff_text(".start\n'quote\nback\\slash -x") == "\\&.start\n\\&'quote\nback\\eslash \\-x"
    page = render_manual()
    # Every line of running text starts with a letter, a digit, a quote or an escape, never a
    # stray control character: only the macros start with ".".
    for line in page.splitlines():
        assert not line.startswith("'"), line
        if line.startswith("."):
            assert re.match(r"\.(\\\"|[A-Z]{1,2}\b|ad|nh|br)", line), line


def test_version_is_the_installed_distributions():
    console_script = Path(sys.executable).with_name("pyhttpd")
    done = subprocess.run([str(console_script), "--version"], capture_output=True, text=True, timeout=30)
    assert done.returncode == 0
    assert done.stdout == f"pyhttpd {importlib.metadata.version('pyhttpd')}\n"
    assert pyhttpd.__version__ == importlib.metadata.version("pyhttpd")
