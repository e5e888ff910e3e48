"""GitHub Actions workflow commands: each finding becomes an annotation on its
line of the pull request (`::error file=,line=,col=,title=::message`), and
when the step has a summary file (GITHUB_STEP_SUMMARY) the Markdown report is
appended to it."""

from __future__ import annotations

import os

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
    problem = _append_step_summary(findings, context)
    if problem:
        lines.append(f"::warning title=mlci::{escape_data(problem)}")
    return "\n".join(lines) + "\n"


def _append_step_summary(findings: list[Finding], context: ReportContext) -> str:
    """Append the Markdown report to $GITHUB_STEP_SUMMARY; returns a problem, or ''."""
    target = os.environ.get("GITHUB_STEP_SUMMARY")
    if not target:
        return ""
    from mlci.reporters import markdown

    try:
        with open(target, "a", encoding="utf-8") as handle:
            handle.write(markdown.render(findings, context) + "\n")
    except OSError as exc:
        # The annotations are the report; a summary we cannot write must not fail the check.
        return f"could not write the step summary to {target}: {exc.strerror or exc}"
    return ""
