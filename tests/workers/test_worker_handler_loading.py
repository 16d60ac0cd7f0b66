"""Which handler a worker runs: ``--check-handler`` and the rebasing of stdlib handlers."""

import http.server
import subprocess
import sys

import pytest
from worker_client import REPO, worker_env

from pyhttpd.handlers.base import BaseHTTPRequestHandler
from pyhttpd.workers.handler_class import HandlerLoadError, load_handler, rebase_on_pyhttpd


def _check(spec: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pyhttpd.workers", "--check-handler", spec],
                          capture_output=True, text=True, timeout=30, cwd=REPO, env=worker_env())


@pytest.mark.parametrize("spec, words", [
    ("no_such_module_for_pyhttpd:Handler", "import failed: ModuleNotFoundError"),
    ("worker_handlers:NotAHandler", "not a BaseHTTPRequestHandler subclass"),
    ("worker_handlers:Missing", "has no class Missing"),
    ("broken_handler:Handler", "import failed: RuntimeError: this handler module is broken at import"),
    ("exiting_handler:Handler", "import failed: SystemExit: 0"),
    ("no_colon_here", "expected 'package.module:ClassName'"),
], ids=["missing-module", "not-a-handler", "missing-class", "raises-at-import", "exits-at-import",
        "malformed"])
def test_check_handler_refuses_with_one_line(spec, words):
    result = _check(spec)
    assert result.returncode == 1
    assert result.stdout == ""
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert words in lines[0] and spec in lines[0]


@pytest.mark.parametrize("spec, name", [
    ("worker_handlers:ProbeHandler", "worker_handlers.ProbeHandler"),
    ("stdlib_echo_handler:EchoHandler", "stdlib_echo_handler.EchoHandler"),
])
def test_check_handler_accepts_a_good_handler(spec, name):
    result = _check(spec)
    assert (result.returncode, result.stdout, result.stderr) == (0, f"ok: {name}\n", "")


def test_rebase_puts_pyhttpd_under_a_stdlib_handler():
    class Middle(http.server.BaseHTTPRequestHandler):
        def helper(self):
            return "middle"

    class Leaf(Middle):
        def do_GET(self):
            pass

    rebased = rebase_on_pyhttpd(Leaf)
    assert issubclass(rebased, BaseHTTPRequestHandler)
    assert not issubclass(rebased, http.server.BaseHTTPRequestHandler)
    assert rebased.do_GET is Leaf.__dict__["do_GET"] and rebased.helper is Middle.__dict__["helper"]
    assert [cls.__name__ for cls in rebased.__mro__[:3]] == ["Leaf", "Middle", "BaseHTTPRequestHandler"]


def test_rebase_refuses_a_stdlib_handler_with_mixins():
    class Mixin:
        pass

    class Mixed(Mixin, http.server.BaseHTTPRequestHandler):
        pass

    with pytest.raises(HandlerLoadError, match="several bases"):
        rebase_on_pyhttpd(Mixed)


def test_load_handler_rebases_a_stdlib_handler():
    handler = load_handler("stdlib_echo_handler:EchoHandler")
    assert issubclass(handler, BaseHTTPRequestHandler) and handler.__name__ == "EchoHandler"
