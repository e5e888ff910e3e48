"""`mlci policy test`: run the `test_*` rules of *_test.rego files on the embedded
engine, the same files `opa test` runs, so both engines are held to them."""

from __future__ import annotations

import json
import re
import time
from dataclasses import dataclass

from mlci.errors import PolicyEngineError
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
    import regopy

    interpreter = regopy.Interpreter()
    try:
        for name, source in {**pack.modules, **pack.tests}.items():
            interpreter.add_module(name, source)
        interpreter.add_data_json(json.dumps(pack.data(today)))
    except Exception as exc:
        raise PolicyEngineError("embedded", f"cannot load policies: {str(exc).strip()[:800]}") from None
    interpreter.set_input(regopy.Input({}))
    # One query per test package, not per test: the engine compiles the program on
    # every query, so this is what keeps a hundred tests at a second, not minutes.
    by_package: dict[str, list[str]] = {}
    for _, package, name in discover_tests(pack):
        by_package.setdefault(package, []).append(name)
    results = []
    for package, names in by_package.items():
        started = time.perf_counter()
        try:
            text = str(interpreter.query(f"data.{package}"))
            document = {} if text == "undefined" else json.loads(text).get("expressions", [{}])[0]
            error = ""
        except Exception as exc:
            document, error = {}, str(exc).strip()[:500]
        each = (time.perf_counter() - started) / len(names)
        for name in names:
            value = document.get(name) if isinstance(document, dict) else None
            passed = value is True
            detail = error or (
                "" if passed else f"evaluated to {json.dumps(value) if value is not None else 'undefined'}"
            )
            results.append(TestResult(package, name, passed, each, detail))
    return results


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
