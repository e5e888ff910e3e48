"""`mlci gate`: the core of the command, shared with `mlci run --stage gate`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mlci import safe_fs
from mlci.findings import Finding, Severity
from mlci.loader import Spec
from mlci.render.context import BLESSING_FILE, DEFAULT_METRICS_FILE, DEFAULT_MODEL_PATH
from mlci.reporters.output import CommandResult
from mlci.runtime.gate import GateResult, blessing, evaluate_gates, gate_findings, read_metrics
from mlci.runtime.gitinfo import current_commit, is_dirty


@dataclass
class GateOutcome:
    results: list[GateResult]
    findings: list[Finding]
    blessing_path: Path | None

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


def run_gate(
    spec: Spec, metrics: Path | None = None, baseline: Path | None = None, blessing_path: Path | None = None
) -> GateOutcome:
    evaluation = spec.data["evaluation"]
    metrics_path = metrics or spec.directory / evaluation.get("metrics_file", DEFAULT_METRICS_FILE)
    values = read_metrics(metrics_path)
    base = read_metrics(baseline) if baseline else None
    results = evaluate_gates(evaluation.get("gates", []), values, base)
    target = blessing_path or spec.directory / BLESSING_FILE
    model = spec.directory / spec.data["training"].get("outputs", {}).get("model", DEFAULT_MODEL_PATH)
    document = blessing(spec, values, results, current_commit(spec.directory), model, is_dirty(spec.directory))
    # The default lies in the project: a committed link (`artifacts -> /elsewhere`) must not redirect it.
    trusted = spec.directory if blessing_path is None else Path.cwd()
    if document["blessed"]:
        safe_fs.write_text(target, json.dumps(document, indent=2, sort_keys=True) + "\n", trusted)
        written: Path | None = target
    else:
        # A stale blessing must never let a failed model through.
        safe_fs.remove(target, trusted)
        written = None
    return GateOutcome(results, gate_findings(spec, results), written)


def gate_result(outcome: GateOutcome) -> CommandResult:
    """`mlci gate` as one result: every gate in `details` (JSON), the table (text) and the
    Markdown table; exit 1 when a gate failed."""
    from mlci.discover import display_path
    from mlci.runtime.gate import format_markdown, format_table

    blessing = display_path(outcome.blessing_path) if outcome.blessing_path else None
    return CommandResult(
        "gate",
        outcome.findings,
        exit_code=0 if outcome.passed else 1,
        fail_on=Severity.INFO,
        details={"gates": [r.to_dict() for r in outcome.results], "passed": outcome.passed, "blessing": blessing},
        table=format_table(outcome.results),
        markdown=format_markdown(outcome.results),
    )
