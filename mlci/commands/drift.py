"""`mlci drift`: compare current data with the reference, per feature."""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.discover import display_path
from mlci.errors import InputError, UserError
from mlci.findings import Finding, Severity
from mlci.loader import Spec
from mlci.reporters.output import CommandResult
from mlci.runtime.drift import FeatureDrift, compare_columns
from mlci.runtime.remote import SHOWN_PROTOCOLS, is_remote, local_copy
from mlci.runtime.tables import read_table
from mlci.spec import Drift, schema_default


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


Source = Path | str  # a local file, or a remote URI (s3://, gs://, abfs://, https://) read through fsspec


def data_source(value: str, option: str) -> Source:
    """What the user named on the command line: a URI mlci streams, or a local path."""
    if "://" not in value:
        return Path(value)
    if not is_remote(value):
        scheme = value.partition("://")[0]
        raise UserError(
            f"{option} {value!r}: mlci does not read {scheme}:// data; use a local file or {SHOWN_PROTOCOLS}"
        )
    return value


def _settings(spec: Spec | None) -> Drift | None:
    monitoring = spec.typed.monitoring if spec else None
    return monitoring.drift if monitoring else None


def _spec_source(spec: Spec, key: str) -> Source | None:
    settings = _settings(spec)
    value = getattr(settings, key) if settings else None
    if value is None:
        return None
    if "://" in value:
        if not is_remote(value):
            raise InputError(
                spec.location(("monitoring", "drift", key)),
                f"monitoring.drift.{key} is {value!r}: mlci reads local files and {SHOWN_PROTOCOLS}; "
                f"pass --{key} with one of those",
            )
        return value
    return spec.directory / value


@contextlib.contextmanager
def _readable(source: Source, needed_by: str) -> Iterator[Path]:
    """A local file to read: the path itself, or remote data streamed into a temporary copy."""
    if isinstance(source, Path):
        yield source
        return
    with local_copy(source, needed_by) as path:
        yield path


def _shown(source: Source) -> str:
    return source if isinstance(source, str) else display_path(source)


def run_drift(
    spec: Spec | None,
    reference: Source | None = None,
    current: Source | None = None,
    method: str | None = None,
    threshold: float | None = None,
    columns: tuple[str, ...] = (),
    exclude: tuple[str, ...] = (),
) -> DriftOutcome:
    """Options given on the command line win over the spec's monitoring.drift, which wins over the defaults."""
    settings = _settings(spec)
    # Without the spec's monitoring.drift, the schema's defaults still apply.
    method = method or (settings.method if settings else schema_default("monitoring", "drift", "method"))
    if threshold is None:
        threshold = float(settings.threshold if settings else schema_default("monitoring", "drift", "threshold"))
    reference = reference or (_spec_source(spec, "reference") if spec else None)
    current = current or (_spec_source(spec, "current") if spec else None)
    if reference is None:
        raise UserError("no reference data: pass --reference FILE or set monitoring.drift.reference in the spec")
    if current is None:
        raise UserError("no current data: pass --current FILE or set monitoring.drift.current in the spec")

    ref_shown, cur_shown = _shown(reference), _shown(current)
    with _readable(reference, "mlci drift --reference") as path:
        ref_table = read_table(path, ref_shown)
    known = {*ref_table.columns, *ref_table.unsupported}
    unknown = [name for name in (*columns, *exclude) if name not in known]
    if unknown:
        raise UserError(f"{ref_shown}: has no column(s) {', '.join(unknown)}")
    names = [n for n in ref_table.columns if (not columns or n in columns) and n not in exclude]
    # The reference decides each column's type for the current data, unless it had no values at all.
    kinds = {name: ref_table.columns[name].kind for name in names if ref_table.columns[name].count}
    with _readable(current, "mlci drift --current") as path:
        cur_table = read_table(path, cur_shown, kinds, required=names)
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


def publish_scores(spec: Spec | None, outcome: DriftOutcome, pushgateway: str) -> str:
    """Push the scores the rendered drift alert reads (mlci_drift_score{project, feature, method})."""
    from mlci.runtime.pushgateway import Score, exposition, push

    if spec is None:
        raise UserError("--pushgateway needs the project's spec: its project.name labels the scores the alert reads")
    project = spec.data["project"]["name"]
    scores = [Score(r.name, r.value, r.drifted) for r in outcome.results if not r.skipped and r.value is not None]
    return push(pushgateway, project, exposition(project, outcome.method, scores))


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
