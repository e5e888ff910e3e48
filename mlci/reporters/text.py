"""file:line:col: severity id message — the format editors and humans read."""

from __future__ import annotations

from mlci.findings import Finding, Status, failing
from mlci.reporters import ReportContext
from mlci.reporters.log_safety import TEXT, defuse, one_line


def render(findings: list[Finding], context: ReportContext) -> str:
    lines = []
    for f in findings:
        status = " (waived)" if f.status is Status.WAIVED else ""
        where = f"{one_line(f.file)}:{f.line}:{f.column}"
        lines.append(f"{where}: {f.severity.label} {one_line(f.rule_id)}{status} {one_line(f.message)}")
        if f.remediation and f.status is Status.FAILED and f.source != "schema":
            lines.append(f"    fix: {one_line(f.remediation)}")
    failed = len(failing(findings, context.fail_on))
    waived = sum(f.status is Status.WAIVED for f in findings)
    summary = f"{failed} failing" + (f", {waived} waived" if waived else "")
    if not findings:
        summary = "no findings"
    lines.append(f"mlci {context.command}: {summary}")
    # Everything here reaches a CI log; values are single lines already, `defuse` takes care
    # of what they spell (a path that starts the line with `::`, a message with `##vso[`).
    return defuse("\n".join(lines) + "\n", TEXT)
