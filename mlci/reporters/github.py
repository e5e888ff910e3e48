"""GitHub Actions workflow commands: each finding becomes an annotation on its
line of the pull request (`::error file=,line=,col=,title=::message`). When the
step has a summary file (GITHUB_STEP_SUMMARY), `-o github` also appends the
Markdown report to it: planned with the other outputs (mlci/reporters/output.py),
not written from here, so this stays a pure function."""

from __future__ import annotations

from mlci.findings import Finding, Severity, Status, failing
from mlci.reporters import ReportContext
from mlci.reporters._common import artifact_path, waiver_reason
from mlci.reporters.log_safety import TEXT, defuse_inline, one_line


def escape_data(text: str) -> str:
    """The message part of a workflow command: %, CR and LF are percent-encoded (the runner
    decodes them into a multi-line annotation); the other line breaks and control characters,
    which the runner would pass through raw, become visible escapes; `##vso[` and `##[` are
    defused, so the line cannot carry a second command."""
    encoded = text.replace("%", "%25").replace("\r", "%0D").replace("\n", "%0A")
    return defuse_inline(one_line(encoded), TEXT)


def escape_property(text: str) -> str:
    """A `key=value` property: additionally `:` and `,`, which delimit properties."""
    return escape_data(text).replace(":", "%3A").replace(",", "%2C")


def command(severity: Severity) -> str:
    if severity >= Severity.HIGH:
        return "error"
    if severity is Severity.MEDIUM:
        return "warning"
    return "notice"


def annotation(finding: Finding) -> str:
    if finding.status is Status.WAIVED:
        kind = "notice"
        reason = waiver_reason(finding)
        message = f"Waived{f' ({reason})' if reason else ''}: {finding.message}"
    else:
        kind = command(finding.severity)
        message = finding.message
        if finding.remediation:
            message += f"\nFix: {finding.remediation}"
    properties = {
        "file": artifact_path(finding.file),
        "line": str(max(1, finding.line)),
        "col": str(max(1, finding.column)),
        "title": finding.rule_id,
    }
    props = ",".join(f"{key}={escape_property(value)}" for key, value in properties.items())
    return f"::{kind} {props}::{escape_data(message)}"


def render(findings: list[Finding], context: ReportContext) -> str:
    lines = [annotation(f) for f in findings]
    failed = len(failing(findings, context.fail_on))
    waived = sum(f.status is Status.WAIVED for f in findings)
    summary = "no findings" if not findings else f"{failed} failing" + (f", {waived} waived" if waived else "")
    lines.append(f"mlci {context.command}: {summary}")
    return "\n".join(lines) + "\n"
