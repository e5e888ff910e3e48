"""The evaluation gate: metrics against the spec's thresholds and against a baseline (the
registry's champion, a --baseline file, or none); a blessing file for deployments when every
gate passes. Every report names the baseline it compared with, as `Baseline` words it."""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci import __version__
from mlci.errors import InputError, Location, UserError
from mlci.findings import Finding, Severity
from mlci.loader import Spec
from mlci.runtime.hashing import sha256_file
from mlci.runtime.tabular import markdown_table, text_table
from mlci.spec import Gate


@dataclass(frozen=True)
class GateResult:
    index: int
    metric: str
    direction: str
    value: float | None
    threshold: float
    passed: bool
    margin: float | None  # how far past the threshold (positive) or short of it (negative)
    reason: str
    baseline: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "metric": self.metric,
            "direction": self.direction,
            "value": self.value,
            "threshold": self.threshold,
            "baseline": self.baseline,
            "passed": self.passed,
            "margin": self.margin,
            "reason": self.reason,
        }


# A metrics file is a few metric names and numbers; more is not one (a link to a huge file).
MAX_METRICS_BYTES = 16 * 1024 * 1024


def read_metrics(path: Path) -> dict[str, Any]:
    """The metrics JSON object. A pull request can commit the file as a link to /dev/zero or as a
    pipe: only a regular file is opened (without blocking), and only so much of it is read."""
    from mlci.runtime.hashing import open_regular

    try:
        with open_regular(path) as handle:
            raw = handle.read(MAX_METRICS_BYTES + 1)
    except FileNotFoundError:
        raise UserError(f"{path}: metrics file not found (did the evaluation stage run?)") from None
    except OSError as exc:
        raise UserError(f"{path}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_METRICS_BYTES:
        raise InputError(Location(str(path)), f"over {MAX_METRICS_BYTES} bytes; a metrics file is a small JSON object")
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        raise InputError(Location(str(path)), "not UTF-8 text; expected a JSON object") from None
    except RecursionError:
        raise InputError(Location(str(path)), "invalid JSON: nested too deeply for a metrics file") from None
    except json.JSONDecodeError as exc:
        raise InputError(Location(str(path), exc.lineno, exc.colno), f"invalid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise InputError(Location(str(path)), "metrics must be a JSON object of metric name to number")
    return value


def _number(metrics: dict[str, Any], name: str) -> float | None:
    value = metrics.get(name)
    if isinstance(value, bool) or not isinstance(value, int | float) or math.isnan(value):
        return None
    return float(value)


def regression_metrics(gates: Sequence[Gate]) -> list[str]:
    """The metrics some gate compares with the baseline (an allowed change is set)."""
    return [g.metric for g in gates if g.max_regression is not None or g.max_regression_relative is not None]


def evaluate_gates(
    gates: Sequence[Gate],
    metrics: dict[str, Any],
    baseline: dict[str, Any] | None = None,
    baseline_name: str = "the baseline",
) -> list[GateResult]:
    results = []
    for index, gate in enumerate(gates):
        metric = gate.metric
        threshold = float(gate.threshold)
        direction = gate.direction
        value = _number(metrics, metric)
        if value is None:
            required = gate.required
            reason = f"{metric} is missing from the metrics" if required else f"{metric} is missing (optional)"
            results.append(GateResult(index, metric, direction, None, threshold, not required, None, reason))
            continue
        sign = 1.0 if direction == "higher" else -1.0
        margin = round(sign * (value - threshold), 6)
        passed = margin >= 0
        comparison = ">=" if direction == "higher" else "<="
        reason = (
            f"{metric} = {value:g} {comparison} {threshold:g}"
            if passed
            else (f"{metric} = {value:g} misses the threshold {threshold:g} by {abs(margin):g}")
        )
        base_value = _number(baseline or {}, metric)
        if passed and base_value is not None:
            allowed = []
            if gate.max_regression is not None:
                allowed.append(float(gate.max_regression))
            if gate.max_regression_relative is not None:
                allowed.append(abs(base_value) * float(gate.max_regression_relative))
            if allowed:
                limit = base_value - sign * min(allowed)  # the stricter of the two
                regression_margin = round(sign * (value - limit), 6)
                if regression_margin < 0:
                    passed = False
                    margin = regression_margin
                    change = round(sign * (value - base_value), 6)
                    reason = (
                        f"{metric} = {value:g} is {abs(change):g} worse than {baseline_name} ({base_value:g}); "
                        f"allowed {min(allowed):g}, over by {abs(regression_margin):g}"
                    )
        results.append(GateResult(index, metric, direction, value, threshold, passed, margin, reason, base_value))
    return results


def gate_findings(spec: Spec, results: list[GateResult]) -> list[Finding]:
    findings = []
    for result in results:
        if result.passed:
            continue
        path = ("evaluation", "gates", result.index)
        findings.append(
            Finding.at(
                spec.location(path),
                rule_id=f"gate/{result.metric}",
                severity=Severity.HIGH,
                message=result.reason,
                path=path,
                remediation="Improve the model, or change the gate in the spec through review.",
                source="gate",
            )
        )
    return findings


def _rows(results: list[GateResult], column: str) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("metric", "value", "threshold", column, "margin", "result")]
    for r in results:
        rows.append(
            (
                r.metric,
                "missing" if r.value is None else f"{r.value:.6g}",
                ("≥ " if r.direction == "higher" else "≤ ") + f"{r.threshold:g}",
                "-" if r.baseline is None else f"{r.baseline:.6g}",
                "-" if r.margin is None else f"{r.margin:+.4g}",
                "pass" if r.passed else "FAIL",
            )
        )
    return rows


def format_table(results: list[GateResult], basis: str, column: str) -> str:
    """`basis`: the sentence saying what the gates compared with; `column`: the heading of the
    baseline's column (Baseline.column), e.g. "champion v3", "--baseline file", "no baseline"."""
    return f"{basis}\n" + text_table(_rows(results, column)) + "\n"


def format_markdown(results: list[GateResult], basis: str, column: str) -> str:
    return f"### Evaluation gates\n\n{basis}\n\n" + markdown_table(_rows(results, column)) + "\n"


def blessing(
    spec: Spec,
    metrics: dict[str, Any],
    results: list[GateResult],
    commit: str | None,
    model_path: Path | None,
    dirty: bool | None = None,
) -> dict[str, Any]:
    """What a deployment step checks before it ships: the model, the data it was trained on,
    the spec and commit it came from, and the metrics that passed."""
    from mlci.runtime.lineage import blessing_provenance

    model_sha256 = sha256_file(model_path) if model_path and model_path.is_file() else None
    datasets, lineage = blessing_provenance(spec, model_sha256)
    return {
        "blessed": all(r.passed for r in results),
        "mlci_version": __version__,
        "project": spec.data["project"]["name"],
        "spec_sha256": spec.digest,
        "commit": commit,
        "dirty": dirty,
        "datasets": datasets,
        "lineage": lineage,
        "model_sha256": model_sha256,
        "metrics": metrics,
        "gates": [r.to_dict() for r in results],
    }
