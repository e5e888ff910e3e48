"""file:line:col: severity id message — the format editors and humans read."""

from __future__ import annotations

from mlci.findings import Finding, Status, failing
from mlci.reporters import ReportContext


def render(findings: list[Finding], context: ReportContext) -> str:
    lines = []
    for f in findings:
        status = " (waived)" if f.status is Status.WAIVED else ""
        lines.append(f"{f.file}:{f.line}:{f.column}: {f.severity.label} {f.rule_id}{status} {f.message}")
        if f.remediation and f.status is Status.FAILED and f.source != "schema":
            lines.append(f"    fix: {f.remediation}")
    failed = len(failing(findings, context.fail_on))
    waived = sum(f.status is Status.WAIVED for f in findings)
    summary = f"{failed} failing" + (f", {waived} waived" if waived else "")
    if not findings:
        summary = "no findings"
    lines.append(f"mlci {context.command}: {summary}")
    return "\n".join(lines) + "\n"
