"""SARIF 2.1.0, for GitHub code scanning and other SARIF viewers.

One run; the driver lists every rule the run evaluated with its help and a
`security-severity`, each result points at its line and column, carries a
fingerprint that survives moved lines, and waived findings are suppressed
results rather than missing ones.
"""

from __future__ import annotations

from typing import Any

from mlci.findings import Finding, Severity
from mlci.reporters import ReportContext
from mlci.reporters._common import (
    INFORMATION_URI,
    SECURITY_SEVERITY,
    Rule,
    artifact_uri,
    fingerprint,
    is_waived,
    rule_catalog,
    waiver_reason,
)
from mlci.reporters.log_safety import log_safe_json

SARIF_VERSION = "2.1.0"
SARIF_SCHEMA = "https://docs.oasis-open.org/sarif/sarif/v2.1.0/errata01/os/schemas/sarif-schema-2.1.0.json"
FINGERPRINT_KEY = "mlciFingerprint/v1"


def level(severity: Severity) -> str:
    if severity >= Severity.HIGH:
        return "error"
    if severity is Severity.MEDIUM:
        return "warning"
    return "note"


def render(findings: list[Finding], context: ReportContext) -> str:
    rules = rule_catalog(findings, context)
    index = {rule.id: i for i, rule in enumerate(rules)}
    driver: dict[str, Any] = {"name": "mlci", "informationUri": INFORMATION_URI}
    if context.tool_version:
        driver["version"] = context.tool_version
        driver["semanticVersion"] = context.tool_version
    driver["rules"] = [_descriptor(rule) for rule in rules]
    run: dict[str, Any] = {
        "tool": {"driver": driver},
        # One category per command, so that `check` and `validate` uploads do not replace each other.
        "automationDetails": {"id": f"mlci/{context.command.replace(' ', '-')}/"},
        "columnKind": "unicodeCodePoints",
        "results": [_result(f, index[f.rule_id]) for f in findings],
    }
    log = {"$schema": SARIF_SCHEMA, "version": SARIF_VERSION, "runs": [run]}
    return log_safe_json(log)


def _descriptor(rule: Rule) -> dict[str, Any]:
    tags = ["mlci", rule.category]
    if rule.source == "policy":
        # GitHub shows `security-severity` only for rules tagged "security".
        tags.insert(0, "security")
    tags += [c for c in rule.controls if c not in tags]
    help_text = rule.remediation or rule.description
    markdown = f"**{rule.title}**\n\n{rule.description}"
    if rule.remediation:
        markdown += f"\n\n**How to fix:** {rule.remediation}"
    if rule.controls:
        markdown += "\n\n**Controls:** " + "; ".join(rule.controls)
    return {
        "id": rule.id,
        "name": rule.title,
        "shortDescription": {"text": rule.title},
        "fullDescription": {"text": rule.description},
        "helpUri": rule.help_uri,
        "help": {"text": help_text, "markdown": markdown},
        "defaultConfiguration": {"level": level(rule.severity)},
        "properties": {
            "tags": tags,
            "precision": "very-high",
            "security-severity": SECURITY_SEVERITY[rule.severity],
            "severity": rule.severity.label,
            "controls": list(rule.controls),
        },
    }


def _result(finding: Finding, rule_index: int) -> dict[str, Any]:
    result: dict[str, Any] = {
        "ruleId": finding.rule_id,
        "ruleIndex": rule_index,
        "level": level(finding.severity),
        "message": {"text": finding.message},
        "locations": [
            {
                "physicalLocation": {
                    "artifactLocation": {"uri": artifact_uri(finding.file)},
                    "region": {"startLine": max(1, finding.line), "startColumn": max(1, finding.column)},
                }
            }
        ],
        "partialFingerprints": {FINGERPRINT_KEY: fingerprint(finding)},
        "properties": {
            "severity": finding.severity.label,
            "security-severity": SECURITY_SEVERITY[finding.severity],
            "jsonPath": finding.json_path,
            "source": finding.source,
            "status": finding.status.value,
        },
    }
    if is_waived(finding):
        suppression: dict[str, Any] = {"kind": "external", "state": "accepted"}
        reason = waiver_reason(finding)
        if reason:
            suppression["justification"] = reason
        details = {k: str(finding.extra[k]) for k in ("approved_by", "expires") if finding.extra.get(k)}
        if details:
            suppression["properties"] = details
        result["suppressions"] = [suppression]
    return result
