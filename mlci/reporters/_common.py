"""What the CI-facing reporters share: the rule catalogue, severity mappings,
stable fingerprints and paths as the CI systems want them."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from urllib.parse import quote

from mlci.findings import Finding, Severity, Status
from mlci.reporters import ReportContext

INFORMATION_URI = "https://mlci.dev"
RULE_DOCS = "https://mlci.dev/rules/"

# GitHub code scanning reads `security-severity` as a CVSS-like score (a string) and
# buckets it: >= 9.0 critical, >= 7.0 high, >= 4.0 medium, else low.
SECURITY_SEVERITY = {
    Severity.CRITICAL: "9.5",
    Severity.HIGH: "8.0",
    Severity.MEDIUM: "5.5",
    Severity.LOW: "3.0",
    Severity.INFO: "1.0",
}

# Rules that come from mlci itself rather than from a policy's METADATA.
_BUILTIN = {
    "syntax": (
        "Spec is readable YAML",
        "mlproject.yaml must be a readable YAML document (one document, no duplicate keys).",
    ),
    "schema": (
        "Spec matches the mlproject.yaml schema",
        "mlproject.yaml must validate against the mlci/v1 JSON Schema; `mlci schema` prints it.",
    ),
}


@dataclass(frozen=True)
class Rule:
    """One rule as reports describe it, whatever produced it."""

    id: str
    title: str
    description: str
    remediation: str
    severity: Severity
    controls: tuple[str, ...]
    help_uri: str
    source: str

    @property
    def category(self) -> str:
        """`MLCI-GDPR-001` -> `gdpr`, `gate/accuracy` -> `gate`, `schema` -> `schema`."""
        if self.id.startswith("MLCI-") and self.id.count("-") >= 2:
            return self.id.split("-")[1].lower()
        return self.id.split("/")[0].split(".")[0].lower()


def rule_catalog(findings: Iterable[Finding], context: ReportContext) -> list[Rule]:
    """Every rule the run evaluated (context.rules) plus every rule a finding names, sorted by id."""
    findings = list(findings)
    by_id: dict[str, Rule] = {}
    for rule_id, meta in context.rules.items():
        by_id[rule_id] = _from_metadata(rule_id, meta)
    for finding in findings:
        if finding.rule_id not in by_id:
            by_id[finding.rule_id] = _from_findings(
                finding.rule_id, [f for f in findings if f.rule_id == finding.rule_id]
            )
    return [by_id[key] for key in sorted(by_id)]


def _from_metadata(rule_id: str, meta: dict[str, object]) -> Rule:
    try:
        severity = Severity.parse(str(meta.get("severity") or "medium"))
    except ValueError:
        severity = Severity.MEDIUM
    controls = meta.get("controls") or ()
    title = str(meta.get("title") or "") or rule_id
    return Rule(
        id=rule_id,
        title=title,
        description=str(meta.get("description") or "") or title,
        remediation=str(meta.get("remediation") or ""),
        severity=severity,
        controls=tuple(str(c) for c in controls) if isinstance(controls, list | tuple) else (),
        help_uri=str(meta.get("help_uri") or "") or RULE_DOCS + quote(rule_id, safe=""),
        source="policy",
    )


def _from_findings(rule_id: str, findings: list[Finding]) -> Rule:
    first = findings[0]
    if rule_id in _BUILTIN:
        title, description = _BUILTIN[rule_id]
    elif first.source == "gate":
        metric = rule_id.partition("/")[2] or rule_id
        title = f"Evaluation gate on {metric}"
        description = f"The model's {metric} must meet the gate declared in evaluation.gates of mlproject.yaml."
    else:
        title = first.title or rule_id
        description = title
    controls = sorted({c for f in findings for c in f.controls})
    return Rule(
        id=rule_id,
        title=title,
        description=description,
        remediation=next((f.remediation for f in findings if f.remediation), ""),
        severity=max(f.severity for f in findings),
        controls=tuple(controls),
        # gate ids hold a metric name after the slash: one page per kind of rule, not per metric.
        help_uri=RULE_DOCS + quote(rule_id.split("/")[0], safe=""),
        source=first.source,
    )


def fingerprint(finding: Finding) -> str:
    """Stable identity of a finding: rule, file, JSON path and message, but not the line,
    so that editing the lines above a problem does not make it a new one."""
    key = "\0".join((finding.rule_id, artifact_path(finding.file), finding.json_path, finding.message))
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def artifact_path(file: str) -> str:
    """The file with forward slashes and no leading `./`, as CI systems match paths."""
    path = file.replace("\\", "/")
    while path.startswith("./"):
        path = path[2:]
    return path


def artifact_uri(file: str) -> str:
    """A URI reference for the file: relative stays relative, absolute becomes file:///."""
    path = artifact_path(file)
    if PurePosixPath(path).is_absolute() or (len(path) > 1 and path[1] == ":"):
        return "file://" + quote(path if path.startswith("/") else "/" + path, safe="/:")
    return quote(path, safe="/")


def is_waived(finding: Finding) -> bool:
    return finding.status is Status.WAIVED


def waiver_reason(finding: Finding) -> str:
    return str(finding.extra.get("reason") or "").strip()


def location_label(finding: Finding) -> str:
    return f"{artifact_path(finding.file)}:{finding.line}:{finding.column}"
