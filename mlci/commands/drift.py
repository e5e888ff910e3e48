"""`mlci drift`: compare current data with the reference, per feature."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.discover import display_path
from mlci.errors import UserError
from mlci.findings import Finding, Severity
from mlci.loader import Spec
from mlci.reporters.output import CommandResult
from mlci.runtime.drift import DEFAULT_METHOD, DEFAULT_THRESHOLD, FeatureDrift, compare_columns
from mlci.runtime.tables import read_table


@dataclass
class DriftOutcome:
    results: list[FeatureDrift]
    findings: list[Finding]
    method: str
    threshold: float
    reference: str
    current: str
    rows: tuple[int, int]

    @property
    def drifted(self) -> bool:
        return any(r.drifted for r in self.results)

    def details(self) -> dict[str, Any]:
        """What `-o json` carries next to the findings."""
        return {
            "drift": {
                "method": self.method,
                "threshold": self.threshold,
                "reference": {"file": self.reference, "rows": self.rows[0]},
                "current": {"file": self.current, "rows": self.rows[1]},
                "drifted": [r.name for r in self.results if r.drifted],
                "features": [r.to_dict() for r in self.results],
            }
        }


def _spec_path(spec: Spec, key: str) -> Path | None:
    value = spec.data.get("monitoring", {}).get("drift", {}).get(key)
    if value is None:
        return None
    if "://" in value:
        raise UserError(
            f"{spec.display_path}: monitoring.drift.{key} is {value!r}, not a local file; pass --{key} with a file"
        )
    return spec.directory / value


def run_drift(
    spec: Spec | None,
    reference: Path | None = None,
    current: Path | None = None,
    method: str | None = None,
    threshold: float | None = None,
    columns: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
) -> DriftOutcome:
    """Options given on the command line win over the spec's monitoring.drift, which wins over the defaults."""
    settings = spec.data.get("monitoring", {}).get("drift", {}) if spec else {}
    method = method or settings.get("method", DEFAULT_METHOD)
    threshold = threshold if threshold is not None else float(settings.get("threshold", DEFAULT_THRESHOLD))
    reference = reference or (_spec_path(spec, "reference") if spec else None)
    current = current or (_spec_path(spec, "current") if spec else None)
    if reference is None:
        raise UserError("no reference data: pass --reference FILE or set monitoring.drift.reference in the spec")
    if current is None:
        raise UserError("no current data: pass --current FILE or set monitoring.drift.current in the spec")

    ref_shown, cur_shown = display_path(reference), display_path(current)
    ref_table = read_table(reference, ref_shown)
    known = {*ref_table.columns, *ref_table.unsupported}
    unknown = [name for name in (*columns, *exclude) if name not in known]
    if unknown:
        raise UserError(f"{ref_shown}: has no column(s) {', '.join(unknown)}")
    names = [n for n in ref_table.columns if (not columns or n in columns) and n not in exclude]
    # The reference decides each column's type for the current data, unless it had no values at all.
    kinds = {name: ref_table.columns[name].kind for name in names if ref_table.columns[name].count}
    cur_table = read_table(current, cur_shown, kinds, required=names)
    selected = {name: ref_table.columns[name] for name in names}
    results = compare_columns(selected, cur_table.columns, method, threshold)
    results += [
        FeatureDrift(name, "unsupported", 0, 0, 0, 0, skipped=why)
        for name, why in ref_table.unsupported.items()
        if (not columns or name in columns) and name not in exclude
    ]
    findings = [_finding(r, method, threshold, cur_shown) for r in results if r.drifted]
    return DriftOutcome(results, findings, method, threshold, ref_shown, cur_shown, (ref_table.rows, cur_table.rows))


def _finding(result: FeatureDrift, method: str, threshold: float, shown: str) -> Finding:
    if method == "psi":
        measure = f"PSI {result.psi:.4f} > {threshold:g}"
    else:
        test = "KS" if result.test == "ks" else "chi-square"
        measure = f"{test} p-value {result.p_value:.3g} < {threshold:g} (statistic {result.statistic:.4g})"
    return Finding(
        rule_id=f"drift/{result.name}",
        severity=Severity.HIGH,
        message=f"{result.name} drifted: {measure}; {result.change}",
        file=shown,
        remediation="Check the data source for a change; if the shift is real, retrain on recent data.",
        source="drift",
    )


def drift_result(outcome: DriftOutcome) -> CommandResult:
    """`mlci drift` as one result: every feature in `details`, the tables; exit 1 on drift."""
    from mlci.runtime.drift import format_markdown, format_table

    return CommandResult(
        "drift",
        outcome.findings,
        exit_code=1 if outcome.drifted else 0,
        fail_on=Severity.INFO,
        details=outcome.details(),
        table=format_table(outcome.results, outcome.method, outcome.threshold),
        markdown=format_markdown(outcome.results, outcome.method, outcome.threshold),
    )
