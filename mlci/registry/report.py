"""The pull-request evaluation report (`mlci gate --report FILE`, `ci.pr_evaluation`):
one Markdown page for the merge request and the step summary. The candidate's metrics
against the champion and the thresholds, the gate's verdict, and the lineage diff (what
changed between the champion and the candidate: commit, spec, data, params).

Every value comes from the pull request or the registry: each cell is escaped (no HTML,
no column break, one line) and the whole page is defused for CI logs.
"""

from __future__ import annotations

import html
from typing import Any

from mlci.reporters.log_safety import MARKDOWN, defuse, one_line
from mlci.runtime.gate import GateResult
from mlci.runtime.tabular import markdown_table

MARKER = "<!-- mlci-pr-evaluation -->"


def _cell(value: Any) -> str:
    if value is None or value == "":
        return "-"
    return html.escape(one_line(str(value)), quote=False)


def _number(value: float | None) -> str:
    return "-" if value is None else f"{value:.6g}"


def _short(value: str | None) -> str:
    return value[:12] if value and len(value) > 12 else (value or "")


def metric_rows(results: list[GateResult], column: str) -> list[tuple[str, ...]]:
    """`column`: the heading of the baseline's column (Baseline.column)."""
    rows: list[tuple[str, ...]] = [("metric", "candidate", _cell(column), "change", "threshold", "result", "why")]
    for r in results:
        change = "-"
        if r.value is not None and r.baseline is not None:
            change = f"{r.value - r.baseline:+.4g}"
        rows.append(
            (
                _cell(r.metric),
                "missing" if r.value is None else _number(r.value),
                _number(r.baseline),
                change,
                ("≥ " if r.direction == "higher" else "≤ ") + f"{r.threshold:g}",
                "pass" if r.passed else "**FAIL**",
                _cell(r.reason),
            )
        )
    return rows


def lineage_rows(
    document: dict[str, Any], params: dict[str, Any], champion: dict[str, str], column: str
) -> list[tuple[str, ...]]:
    """Candidate vs champion: commit, spec hash, each dataset's hash, each param; changes marked.
    `column`: the heading of the baseline's column (Baseline.column)."""
    candidate: dict[str, str] = {
        "commit": str(document.get("commit") or ""),
        "spec sha256": str(document.get("spec_sha256") or ""),
    }
    baseline: dict[str, str] = {
        "commit": champion.get("mlci.commit", ""),
        "spec sha256": champion.get("mlci.spec_sha256", ""),
    }
    for name, entry in sorted((document.get("datasets") or {}).items()):
        candidate[f"dataset {name}"] = str((entry or {}).get("sha256") or "")
    for key, value in champion.items():
        if key.startswith("mlci.dataset.") and key.endswith(".sha256"):
            baseline[f"dataset {key[len('mlci.dataset.') : -len('.sha256')]}"] = value
    for key, value in sorted(params.items()):
        candidate[f"param {key}"] = str(value)
    for key, value in champion.items():
        if key.startswith("param."):
            baseline[f"param {key[len('param.') :]}"] = value
    rows: list[tuple[str, ...]] = [("", "candidate", _cell(column), "")]
    for key in [*candidate, *(k for k in baseline if k not in candidate)]:
        now, then = candidate.get(key, ""), baseline.get(key, "")
        hashed = key in ("commit", "spec sha256") or key.startswith("dataset ")
        shown_now, shown_then = (_short(now), _short(then)) if hashed else (now, then)
        changed = "changed" if champion and now != then else ""
        rows.append((_cell(key), _cell(shown_now), _cell(shown_then), changed))
    return rows


def pr_report(project: str, outcome: Any, params: dict[str, Any]) -> str:
    """`outcome` is the gate's (mlci.commands.gate.GateOutcome)."""
    verdict = "PASS: every gate passed" if outcome.passed else "FAIL: the candidate does not pass the gates"
    failed = [r for r in outcome.results if not r.passed]
    lines = [
        MARKER,
        f"## mlci evaluation: {_cell(project)}",
        "",
        f"**Verdict: {verdict}**" + (f" ({', '.join(_cell(r.metric) for r in failed)})" if failed else ""),
        "",
        _cell(outcome.baseline.statement),
        "",
        f"### Metrics against {_cell(outcome.baseline.label)} and the thresholds",
        "",
        markdown_table(metric_rows(outcome.results, outcome.baseline.column)),
        "",
    ]
    champion = outcome.baseline.lineage
    if champion:
        lines += [f"### Lineage: candidate against {_cell(outcome.baseline.label)}", ""]
    else:
        lines += ["### Lineage of the candidate", "", "No champion to compare with: the candidate's lineage alone.", ""]
    lines += [markdown_table(lineage_rows(outcome.document, params, champion, outcome.baseline.column)), ""]
    return defuse("\n".join(lines), MARKDOWN)
