"""GitLab Code Quality (a subset of the Code Climate issue format), for
`artifacts: reports: codequality:` and the merge-request widget.

GitLab has no suppressions: a waived finding stays in the report at severity
`info`, its description saying it is waived and why.
"""

from __future__ import annotations

import hashlib
from typing import Any

from mlci.findings import Finding, Severity, Status
from mlci.reporters import ReportContext
from mlci.reporters._common import artifact_path, fingerprint, waiver_reason
from mlci.reporters.log_safety import log_safe_json

SEVERITY = {
    Severity.INFO: "info",
    Severity.LOW: "minor",
    Severity.MEDIUM: "major",
    Severity.HIGH: "critical",
    Severity.CRITICAL: "blocker",
}


def render(findings: list[Finding], context: ReportContext) -> str:
    issues: list[dict[str, Any]] = []
    seen: dict[str, int] = {}
    for finding in findings:
        key = fingerprint(finding)
        # GitLab keeps one issue per fingerprint: a repeated identical finding gets a stable ordinal.
        seen[key] = seen.get(key, 0) + 1
        if seen[key] > 1:
            key = hashlib.sha256(f"{key}\0{seen[key]}".encode()).hexdigest()
        issues.append(_issue(finding, key))
    return log_safe_json(issues)


def _issue(finding: Finding, key: str) -> dict[str, Any]:
    if finding.status is Status.WAIVED:
        reason = waiver_reason(finding)
        description = f"[waived{f': {reason}' if reason else ''}] {finding.message}"
        severity = "info"
    else:
        description = finding.message
        severity = SEVERITY[finding.severity]
    issue: dict[str, Any] = {
        "type": "issue",
        "description": description,
        "check_name": finding.rule_id,
        "fingerprint": key,
        "severity": severity,
        "location": {"path": artifact_path(finding.file), "lines": {"begin": max(1, finding.line)}},
    }
    if finding.remediation:
        issue["content"] = {"body": finding.remediation}
    return issue
