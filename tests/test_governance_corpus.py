"""The governance corpus: realistic projects written from the regulations and the rules'
descriptions (METADATA, schema, README), never from the rule bodies, checked on every engine.

tests/corpus/governance/violating/<case>/ and compliant/<case>/ each hold an mlproject.yaml,
the documents it references, and an expect.json:

- "findings": the failing findings the case must give, as rule id, file (relative to the case)
  and line; exactly those, no more and no fewer (compliant cases list none);
- "pending": findings of rules another branch is adding (h/evidence: MLCI-EVI-*). They are
  checked as soon as the pack has the rule, and ignored until then;
- "why": where an expectation was corrected after reading what the rule does, the reason.

Every engine must give the expected findings, and both engines the same findings.
The expectations come from `# expect: RULE-ID` markers on the lines of the case's files:
after editing a case, `python tests/corpus/update_expectations.py` rewrites its expect.json.
"""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests import judges
from tests.conftest import ROOT, require_tool, run_cli

CORPUS = Path(__file__).resolve().parent / "corpus" / "governance"
CASES = sorted(p.parent for p in CORPUS.glob("*/*/mlproject.yaml"))
NOW = "2026-11-22"
ENGINES = ("embedded", "opa")

Key = tuple[str, str, int]


def _case_id(case: Path) -> str:
    return f"{case.parent.name}/{case.name}"


def _pack_rule_ids() -> set[str]:
    """The rule ids the built-in pack defines, read from its METADATA."""
    ids: set[str] = set()
    for module in (ROOT / "policies").glob("*.rego"):
        for line in module.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            if stripped.startswith("#   id: "):
                ids.add(stripped.removeprefix("#   id: ").strip())
    return ids


def _expect(case: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((case / "expect.json").read_text(encoding="utf-8"))
    return data


@pytest.fixture(scope="module")
def findings_by_engine() -> Iterator[dict[str, dict[Path, list[dict[str, Any]]]]]:
    """One `mlci check` over the whole corpus per engine (the batched evaluation every engine
    offers), its findings split by case."""
    opa = require_tool(judges.tool("opa"), "opa")
    results: dict[str, dict[Path, list[dict[str, Any]]]] = {}
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("PATH", f"{Path(opa).parent}{os.pathsep}{os.environ.get('PATH', '')}")
        for engine in ENGINES:
            result = run_cli("check", *map(str, CASES), "--now", NOW, "--no-cache", "--engine", engine, "-o", "json")
            assert result.exit_code in (0, 1), result.stderr
            by_case: dict[Path, list[dict[str, Any]]] = {case: [] for case in CASES}
            for finding in json.loads(result.stdout)["findings"]:
                file = Path(finding["file"]).resolve()
                case = next(c for c in CASES if file.is_relative_to(c))
                by_case[case].append({**finding, "file": file.relative_to(case).as_posix()})
            results[engine] = by_case
    yield results


def _failing(findings: list[dict[str, Any]]) -> Counter[Key]:
    return Counter((f["rule_id"], f["file"], f["line"]) for f in findings if f["status"] == "failed")


@pytest.mark.opa
@pytest.mark.parametrize("engine", ENGINES)
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_case_gives_its_expected_findings(findings_by_engine, case: Path, engine: str) -> None:
    expect = _expect(case)
    known = _pack_rule_ids()
    wanted: Counter[Key] = Counter((e["rule"], e["file"], e["line"]) for e in expect["findings"])
    pending = {(e["rule"], e["file"], e["line"]) for e in expect.get("pending", [])}
    got = _failing(findings_by_engine[engine][case])
    # A pending rule not in the pack yet gives nothing; once it is there its findings are expected.
    for key in pending:
        if key[0] in known:
            wanted[key] = max(wanted[key], got[key] or 1)
    missed = sorted((wanted - got).elements())
    extra = sorted((got - wanted).elements())
    assert (missed, extra) == ([], []), f"{_case_id(case)} ({engine}): missed {missed}, false alarms {extra}"


@pytest.mark.opa
@pytest.mark.parametrize("case", CASES, ids=[_case_id(c) for c in CASES])
def test_engines_agree(findings_by_engine, case: Path) -> None:
    embedded, opa = (findings_by_engine[engine][case] for engine in ENGINES)
    assert opa == embedded


def test_corpus_is_complete() -> None:
    """Every case has its expectations; violating cases expect something, compliant ones nothing."""
    assert len([c for c in CASES if c.parent.name == "violating"]) >= 40
    assert len([c for c in CASES if c.parent.name == "compliant"]) >= 20
    for case in CASES:
        expect = _expect(case)
        if case.parent.name == "compliant":
            assert expect["findings"] == [] and not expect.get("pending"), case
        else:
            assert expect["findings"] or expect.get("pending"), case
