"""`mlci lineage record` and `mlci lineage verify`."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.discover import display_path
from mlci.errors import Location
from mlci.findings import Finding, Severity, failing, sort_findings
from mlci.loader import Spec
from mlci.reporters.output import CommandResult
from mlci.runtime.lineage import (
    LINEAGE_FILE,
    OPENLINEAGE_FILE,
    DatasetState,
    openlineage_event,
    read_lineage,
    record_lineage,
    verify_lineage,
    write_json,
)

FORMATS = ("mlci", "openlineage")


@dataclass
class RecordOutcome:
    path: Path
    document: dict[str, Any]
    warnings: list[str]


@dataclass
class VerifyOutcome:
    lineage_path: Path
    findings: list[Finding]
    recorded: dict[str, Any]


def default_lineage_path(spec: Spec) -> Path:
    return spec.directory / LINEAGE_FILE


def run_record(
    spec: Spec, out: Path | None = None, fmt: str = "mlci", states: list[DatasetState] | None = None
) -> RecordOutcome:
    """`states`: the datasets as `mlci run` verified them before training, so that remote
    data is not downloaded a second time; without them the data is hashed now."""
    document = record_lineage(spec, states=states)
    warnings = [
        f"dataset {d['name']!r}: {d['path'] or d['uri']} not found; recorded without a hash"
        for d in document["datasets"]
        if d["kind"] == "missing"
    ]
    if document["model"]["sha256"] is None:
        warnings.append(f"model {document['model']['path']} not found; run the training first")
    if fmt == "openlineage":
        from mlci.runtime.gitinfo import repository_prefix

        document = openlineage_event(document, repository_prefix(spec.directory))
        target = out or spec.directory / OPENLINEAGE_FILE
    else:
        target = out or default_lineage_path(spec)
    # The default lies in the project: a committed link (`artifacts -> /elsewhere`) must not redirect it.
    write_json(target, document, spec.directory if out is None else Path.cwd())
    return RecordOutcome(target, document, warnings)


def run_verify(spec: Spec, lineage: Path | None = None) -> VerifyOutcome:
    path = lineage or default_lineage_path(spec)
    shown = display_path(path)
    recorded = read_lineage(path, shown)
    findings = []
    for difference in verify_lineage(spec, recorded):
        # Differences of the spec point at it; the others at the lineage file.
        location = spec.location(difference.spec_path) if difference.spec_path is not None else Location(shown)
        findings.append(
            Finding.at(
                location,
                rule_id=difference.rule,
                severity=difference.severity,
                message=difference.message,
                path=difference.spec_path or (),
                remediation="Retrain and record the lineage again, or restore what changed.",
                source="lineage",
            )
        )
    return VerifyOutcome(path, sort_findings(findings), recorded)


def verify_result(outcome: VerifyOutcome, fail_on: Severity) -> CommandResult:
    """`mlci lineage verify` as one result: exit 1 when a difference reaches `fail_on`."""
    return CommandResult(
        "lineage verify",
        outcome.findings,
        exit_code=1 if failing(outcome.findings, fail_on) else 0,
        fail_on=fail_on,
    )
