"""A Markdown report to post as a pull-request comment or a CI step summary:
pass or fail first, then a table of findings, how to fix each rule, and what
was waived."""

from __future__ import annotations

import html
import re

from mlci.findings import Finding, Severity, Status, failing
from mlci.reporters import ReportContext
from mlci.reporters._common import Rule, location_label, rule_catalog, waiver_reason
from mlci.reporters.log_safety import MARKDOWN, defuse

# Control characters but the report's own tab and line feed, and the bidirectional overrides:
# a terminal acts on ESC sequences (`\x1b]8;;url` links, `\x1b[2J` clears the screen) when the
# report is printed, and no reader of a comment needs them raw.
_CONTROL = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")

# Lets a bot find its earlier comment and update it instead of adding another.
MARKER = "<!-- mlci-report -->"


def _cell(text: str) -> str:
    """Text safe inside a table cell: no HTML, no column breaks, no line breaks."""
    escaped = html.escape(text.strip(), quote=False).replace("|", "\\|")
    return "<br>".join(escaped.splitlines())


def _code(text: str) -> str:
    return "`" + text.replace("`", "'").replace("|", "\\|") + "`"


def render(findings: list[Finding], context: ReportContext) -> str:
    failed = [f for f in findings if f.status is Status.FAILED]
    waived = [f for f in findings if f.status is Status.WAIVED]
    blocking = failing(findings, context.fail_on)
    name = f"mlci {context.command}"
    lines = [MARKER]
    if blocking:
        lines.append(f"## ❌ {name} failed: {len(blocking)} finding{'s' if len(blocking) != 1 else ''} to fix")
    else:
        lines.append(f"## ✅ {name} passed")
    lines.append("")
    lines.append(_summary(failed, waived, blocking, context.fail_on))

    if failed:
        lines += ["", "| Severity | Rule | Location | Message |", "| --- | --- | --- | --- |"]
        rules = {r.id: r for r in rule_catalog(findings, context)}
        for f in failed:
            severity = f"**{f.severity.label}**" if f.severity >= Severity.HIGH else f.severity.label
            if f.severity < context.fail_on:
                severity += " (below --fail-on)"
            lines.append(
                f"| {severity} | {_rule_link(f.rule_id, rules)} | {_code(location_label(f))} | {_cell(f.message)} |"
            )
        fixes = [rules[rule_id] for rule_id in sorted({f.rule_id for f in failed})]
        if any(r.remediation for r in fixes):
            lines += ["", "### How to fix", ""]
            for rule in fixes:
                if not rule.remediation:
                    continue
                controls = f" _({_cell('; '.join(rule.controls))})_" if rule.controls else ""
                lines.append(f"- {_code(rule.id)} {_cell(rule.title)}: {_cell(rule.remediation)}{controls}")

    if waived:
        lines += ["", f"### Waived ({len(waived)})", ""]
        lines += ["| Rule | Location | Reason | Approved by | Expires |", "| --- | --- | --- | --- | --- |"]
        for f in waived:
            approved = _cell(str(f.extra.get("approved_by") or "")) or "-"
            expires = _cell(str(f.extra.get("expires") or "")) or "-"
            reason = _cell(waiver_reason(f)) or "-"
            lines.append(f"| {_code(f.rule_id)} | {_code(location_label(f))} | {reason} | {approved} | {expires} |")
    # The report is also printed, and appended to the step summary: both are read in CI logs.
    report = _CONTROL.sub(lambda match: f"\\u{ord(match[0]):04x}", "\n".join(lines) + "\n")
    return defuse(report, MARKDOWN)


def _summary(failed: list[Finding], waived: list[Finding], blocking: list[Finding], fail_on: Severity) -> str:
    if not failed:
        return "No open findings." + (f" {len(waived)} waived." if waived else "")
    counts = []
    for severity in sorted(Severity, reverse=True):
        n = sum(f.severity is severity for f in failed)
        if n:
            counts.append(f"{n} {severity.label}")
    parts = [f"{len(failed)} finding{'s' if len(failed) != 1 else ''}" + (f" ({', '.join(counts)})" if counts else "")]
    if waived:
        parts.append(f"{len(waived)} waived")
    below = len(failed) - len(blocking)
    if below:
        parts.append(f"{below} below --fail-on {fail_on.label}")
    return ", ".join(parts) + "."


def _rule_link(rule_id: str, rules: dict[str, Rule]) -> str:
    rule = rules.get(rule_id)
    if rule and rule.help_uri.startswith(("https://", "http://")):
        return f"[{_code(rule_id)}]({rule.help_uri})"
    return _code(rule_id)
