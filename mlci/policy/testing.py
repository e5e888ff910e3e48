"""`mlci policy test`: run the `test_*` rules of *_test.rego files on the embedded
engine, the same files `opa test` runs, so both engines are held to them."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass
from typing import Any

from mlci.policy.pack import PolicyPack

_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][A-Za-z0-9_.]*)", re.MULTILINE)
_TEST_RULE = re.compile(r"^(test_[A-Za-z0-9_]*)\b", re.MULTILINE)


@dataclass(frozen=True)
class TestResult:
    package: str
    name: str
    passed: bool
    seconds: float
    detail: str = ""


def discover_tests(pack: PolicyPack) -> list[tuple[str, str, str]]:
    """(file, package, test rule) in file order; a rule defined twice runs once."""
    found: dict[tuple[str, str], str] = {}
    for filename, source in sorted(pack.tests.items()):
        match = _PACKAGE.search(source)
        if not match:
            continue
        for name in _TEST_RULE.findall(source):
            found.setdefault((match.group(1), name), filename)
    return [(filename, package, name) for (package, name), filename in found.items()]


def run_policy_tests(pack: PolicyPack, today: str) -> list[TestResult]:
    """Each test package runs in its own forked process with the pack and its own test
    files: regopy 1.5.2 crashes the whole process on some constructs (`with input as`
    around a builtin), and a crash must fail that package's tests, not mlci."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor
    from concurrent.futures.process import BrokenProcessPool

    files_by_package: dict[str, dict[str, str]] = {}
    names_by_package: dict[str, list[str]] = {}
    for filename, package, name in discover_tests(pack):
        files_by_package.setdefault(package, {})[filename] = pack.tests[filename]
        names_by_package.setdefault(package, []).append(name)
    data = json.dumps(pack.data(today))
    results: list[TestResult] = []
    context = multiprocessing.get_context("fork")
    for package, names in names_by_package.items():
        started = time.perf_counter()
        with ProcessPoolExecutor(1, mp_context=context) as pool:
            try:
                document, error = pool.submit(
                    _query_package, pack.modules, files_by_package[package], data, package
                ).result()
            except BrokenProcessPool:
                document, error = (
                    {},
                    (
                        "the embedded engine crashed on this package (regopy fails on `with input "
                        "as` around builtins); run it with `opa test`, or use `with input.<key> as`"
                    ),
                )
        each = (time.perf_counter() - started) / len(names)
        for name in names:
            value = document.get(name) if isinstance(document, dict) else None
            passed = value is True
            detail = error or (
                "" if passed else f"evaluated to {json.dumps(value) if value is not None else 'undefined'}"
            )
            results.append(TestResult(package, name, passed, each, detail))
    return results


def _query_package(modules: dict[str, str], tests: dict[str, str], data: str, package: str) -> tuple[Any, str]:
    """The package's document, or an error; one query for all its tests, since the
    engine compiles the program on every query."""
    import regopy

    interpreter = regopy.Interpreter()
    try:
        for name, source in {**modules, **tests}.items():
            interpreter.add_module(name, source)
        interpreter.add_data_json(data)
        interpreter.set_input(regopy.Input({}))
        text = str(interpreter.query(f"data.{package}"))
        return ({} if text == "undefined" else json.loads(text).get("expressions", [{}])[0]), ""
    except Exception as exc:
        return {}, str(exc).strip()[:500]


def junit_xml(results: list[TestResult]) -> str:
    from xml.sax.saxutils import quoteattr

    failures = sum(not r.passed for r in results)
    total = sum(r.seconds for r in results)
    lines = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        f'<testsuite name="mlci policy test" tests="{len(results)}" failures="{failures}" time="{total:.3f}">',
    ]
    for r in results:
        lines.append(f'  <testcase classname={quoteattr(r.package)} name={quoteattr(r.name)} time="{r.seconds:.3f}">')
        if not r.passed:
            lines.append(f"    <failure message={quoteattr('test rule is not true')}>{_escape(r.detail)}</failure>")
        lines.append("  </testcase>")
    lines.append("</testsuite>")
    return "\n".join(lines) + "\n"


def _escape(text: str) -> str:
    from xml.sax.saxutils import escape

    return escape(text)
