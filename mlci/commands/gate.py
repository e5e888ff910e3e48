"""`mlci gate`: the core of the command, shared with `mlci run --stage gate`."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from mlci import safe_fs
from mlci.findings import Finding
from mlci.loader import Spec
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
    typed = spec.typed
    metrics_path = metrics or spec.directory / typed.evaluation.metrics_file
    values = read_metrics(metrics_path)
    base = read_metrics(baseline) if baseline else None
    results = evaluate_gates(typed.evaluation.gates, values, base)
    target = blessing_path or spec.directory / typed.blessing_file
    model = spec.directory / typed.model_path
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
