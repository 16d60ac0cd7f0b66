"""Run CPython's own test/test_httpservers.py against a re-implementation of http.server.

Usage: python tests/cpython/run_suite.py [--module pyhttpd.server] [--json OUT]

The test file of the running interpreter is read, its imports of http.server are
rewritten to the target module (each rewrite must match exactly once, so a changed
upstream file fails loudly instead of silently testing the stdlib), and the result is
run with unittest. Exit status: 0 if nothing failed, 1 on failures/errors, 2 if the
test file is unavailable or cannot be rewritten.
"""

from __future__ import annotations

import argparse
import importlib.util
import json
import linecache
import os
import re
import sys
import traceback
import types
import unittest
from pathlib import Path
from typing import Any

STDLIB_MODULE = "http.server"
DEFAULT_MODULE = "pyhttpd.server"


class RewriteError(Exception):
    """The upstream test file no longer looks the way the rewrite expects."""


def locate_test_file() -> Path:
    """Return the path of test/test_httpservers.py of the running interpreter's stdlib.

    Raises FileNotFoundError (message names the Debian package to install) if the
    interpreter has no such file, or if the one found is not in its stdlib directory.
    """
    try:
        spec = importlib.util.find_spec("test.test_httpservers")
    except ModuleNotFoundError:
        spec = None
    if spec is None or not spec.origin:
        deb = "libpython{}.{}-testsuite".format(*sys.version_info[:2])
        raise FileNotFoundError(
            f"test.test_httpservers not found for {sys.executable}; "
            f"on Debian install the package {deb}"
        )
    path = Path(spec.origin)
    stdlib = Path(os.__file__).parent
    if path.parent.parent != stdlib:
        raise FileNotFoundError(f"{path} is not the stdlib's test package ({stdlib}/test)")
    return path


def _import_as_server(module: str) -> str:
    package, _, name = module.rpartition(".")
    if not package:
        return f"import {module} as server"
    return f"from {package} import {name}" + ("" if name == "server" else " as server")


def rewrite_source(source: str, module: str) -> str:
    """Return `source` with its http.server imports pointing at `module`.

    Line numbers are preserved, so tracebacks point at the upstream file. Raises
    RewriteError unless every rewrite matches exactly once and no reference to
    http.server is left afterwards. For module == "http.server" the source is
    returned unchanged.
    """
    if module == STDLIB_MODULE:
        return source
    rewrites = [
        ("from http.server import ", f"from {module} import "),
        (
            "from http import server, HTTPStatus\n",
            f"{_import_as_server(module)}; from http import HTTPStatus\n",
        ),
        # MiscTestCase.test_all: names defined in the module under test.
        ("None) == 'http.server':", f"None) == {module!r}:"),
    ]
    for old, new in rewrites:
        found = source.count(old)
        if found != 1:
            raise RewriteError(f"expected exactly 1 occurrence of {old!r}, found {found}")
        source = source.replace(old, new)
    leftover = [
        f"line {source.count(chr(10), 0, m.start()) + 1}"
        for m in re.finditer(r"(?<![\w.])http\.server\b", source)
    ]
    if leftover:
        raise RewriteError(f"http.server still referenced after rewrite at {', '.join(leftover)}")
    return source


def load_module(source: str, filename: Path, target: str) -> types.ModuleType:
    """Compile and execute `source` as a fresh module registered in sys.modules.

    The module is named test_httpservers_<target with dots replaced by underscores>
    and carries `filename` as its __file__. Tracebacks show the rewritten lines.
    """
    name = "test_httpservers_" + target.replace(".", "_")
    shown = f"{filename} (rewritten for {target})"
    lines = source.splitlines(keepends=True)
    linecache.cache[shown] = (len(source), None, lines, shown)
    module = types.ModuleType(name)
    module.__file__ = str(filename)
    sys.modules[name] = module
    exec(compile(source, shown, "exec"), module.__dict__)
    return module


class _RecordingResult(unittest.TextTestResult):
    """TextTestResult that also remembers which tests passed."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.passed: list[str] = []

    def addSuccess(self, test: unittest.TestCase) -> None:
        super().addSuccess(test)
        self.passed.append(test.id())


def _last_line(text: str) -> str:
    lines = [line for line in text.strip().splitlines() if line.strip()]
    return lines[-1].strip() if lines else ""


def summarize(result: _RecordingResult) -> dict[str, Any]:
    """Return JSON-ready counts and one entry per test that did not plainly pass."""
    not_passed: list[dict[str, str]] = []
    for outcome, entries in (
        ("failed", result.failures),
        ("error", result.errors),
        ("expected_failure", result.expectedFailures),
    ):
        for test, tb in entries:
            not_passed.append(
                {"id": test.id(), "outcome": outcome, "reason": _last_line(tb), "traceback": tb}
            )
    for test, reason in result.skipped:
        not_passed.append({"id": test.id(), "outcome": "skipped", "reason": reason})
    for test in result.unexpectedSuccesses:
        not_passed.append(
            {"id": test.id(), "outcome": "unexpected_success", "reason": "unexpected success"}
        )
    counts = {
        "run": result.testsRun,
        "passed": len(result.passed),
        "failed": len(result.failures),
        "errors": len(result.errors),
        "skipped": len(result.skipped),
        "expected_failures": len(result.expectedFailures),
        "unexpected_successes": len(result.unexpectedSuccesses),
    }
    return {"counts": counts, "not_passed": not_passed}


def run(target: str) -> tuple[int, dict[str, Any]]:
    """Run the rewritten suite against `target`; return (exit status, JSON summary).

    Status is 0 only if tests ran and none failed, errored or unexpectedly passed.
    """
    summary: dict[str, Any] = {
        "module": target,
        "python": {
            "version": sys.version,
            "executable": sys.executable,
            "base_prefix": sys.base_prefix,
            "euid": os.geteuid(),
        },
    }
    try:
        test_file = locate_test_file()
        summary["test_file"] = str(test_file)
        source = rewrite_source(test_file.read_text(encoding="utf-8"), target)
    except (FileNotFoundError, RewriteError) as exc:
        summary["error"] = str(exc)
        return 2, summary
    try:
        module = load_module(source, test_file, target)
    except Exception:  # an import-time SkipTest or crash is a result too
        summary["error"] = "loading the test module failed:\n" + traceback.format_exc()
        return 1, summary
    suite = unittest.defaultTestLoader.loadTestsFromModule(module)
    runner = unittest.TextTestRunner(
        stream=sys.stderr, verbosity=2, resultclass=_RecordingResult
    )
    result = runner.run(suite)
    assert isinstance(result, _RecordingResult)
    summary.update(summarize(result))
    counts = summary["counts"]
    ok = counts["run"] > 0 and not (
        counts["failed"] or counts["errors"] or counts["unexpected_successes"]
    )
    return (0 if ok else 1), summary


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the suite, write the JSON summary; return the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--module",
        default=DEFAULT_MODULE,
        help=f"module replacing http.server (default {DEFAULT_MODULE}; "
        f"{STDLIB_MODULE} runs the unmodified baseline)",
    )
    parser.add_argument("--json", metavar="OUT", help="write the summary here (default stdout)")
    args = parser.parse_args(argv)

    status, summary = run(args.module)
    text = json.dumps(summary, indent=2) + "\n"
    if args.json:
        Path(args.json).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    if "error" in summary:
        print(f"run_suite: {summary['error']}", file=sys.stderr)
    else:
        counts = ", ".join(f"{k}={v}" for k, v in summary["counts"].items())
        print(f"run_suite: {args.module}: {counts}", file=sys.stderr)
    return status


if __name__ == "__main__":
    sys.exit(main())
