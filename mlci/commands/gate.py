"""`mlci gate`: the core of the command, shared with `mlci run --stage gate`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci import safe_fs
from mlci.errors import MlciError
from mlci.findings import Finding, Severity
from mlci.loader import Spec
from mlci.registry.baseline import Baseline
from mlci.reporters.output import CommandResult
from mlci.runtime.gate import GateResult, blessing, evaluate_gates, gate_findings, read_metrics
from mlci.runtime.gitinfo import current_commit, is_dirty


@dataclass
class GateOutcome:
    results: list[GateResult]
    findings: list[Finding]
    blessing_path: Path | None
    baseline: Baseline
    document: dict[str, Any]

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)


@dataclass(frozen=True)
class BaselineChoice:
    """Where the baseline metrics come from: a file (offline), else the registry's champion."""

    file: Path | None = None
    registry: str | None = None  # --registry URI
    alias: str = "champion"


def resolve_baseline(spec: Spec, choice: BaselineChoice) -> Baseline:
    from mlci.registry.baseline import champion_baseline, file_baseline

    if choice.file is not None:
        return file_baseline(choice.file, read_metrics(choice.file))
    return champion_baseline(spec, choice.registry, choice.alias)


def run_gate(
    spec: Spec,
    metrics: Path | None = None,
    baseline: BaselineChoice | None = None,
    blessing_path: Path | None = None,
) -> GateOutcome:
    typed = spec.typed
    metrics_path = metrics or spec.directory / typed.evaluation.metrics_file
    target = blessing_path or spec.directory / typed.blessing_file
    # The default lies in the project: a committed link (`artifacts -> /elsewhere`) must not redirect it.
    trusted = spec.directory if blessing_path is None else Path.cwd()
    try:
        values = read_metrics(metrics_path)
        # An unreachable registry stops here (exit 3), and a gate that cannot decide blesses nothing.
        base = resolve_baseline(spec, baseline or BaselineChoice())
    except MlciError:
        safe_fs.remove(target, trusted)
        raise
    results = evaluate_gates(typed.evaluation.gates, values, base.metrics, base.label)
    model = spec.directory / typed.model_path
    document = blessing(spec, values, results, current_commit(spec.directory), model, is_dirty(spec.directory))
    document["baseline"] = base.to_dict()
    if document["blessed"]:
        safe_fs.write_text(target, json.dumps(document, indent=2, sort_keys=True) + "\n", trusted)
        written: Path | None = target
    else:
        # A stale blessing must never let a failed model through.
        safe_fs.remove(target, trusted)
        written = None
    return GateOutcome(results, gate_findings(spec, results), written, base, document)


def gate_result(outcome: GateOutcome) -> CommandResult:
    """`mlci gate` as one result: every gate in `details` (JSON), the table (text) and the
    Markdown table; exit 1 when a gate failed."""
    from mlci.discover import display_path
    from mlci.reporters.log_safety import one_line
    from mlci.runtime.gate import format_markdown, format_table

    blessing = display_path(outcome.blessing_path) if outcome.blessing_path else None
    details = {
        "gates": [r.to_dict() for r in outcome.results],
        "passed": outcome.passed,
        "blessing": blessing,
        "baseline": outcome.baseline.to_dict(),
    }
    # What the gates compared against (the champion, a --baseline file, or thresholds alone).
    basis = one_line(outcome.baseline.statement)
    return CommandResult(
        "gate",
        outcome.findings,
        exit_code=0 if outcome.passed else 1,
        fail_on=Severity.INFO,
        details=details,
        table=format_table(outcome.results, basis, one_line(outcome.baseline.column)),
        markdown=format_markdown(outcome.results, basis, one_line(outcome.baseline.column)),
    )
