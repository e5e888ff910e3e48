"""JUnit XML, the test report every CI system renders.

One testsuite per file, one testcase per finding (a rule at a location).
A finding that makes the command fail is a <failure>; a waived one is
<skipped>; one below `--fail-on` passes with a note, so that the report and
the exit code agree. A run without findings still yields a passing testcase.
"""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET

from mlci.findings import Finding, Status
from mlci.reporters import ReportContext
from mlci.reporters._common import artifact_path, location_label, waiver_reason
from mlci.reporters.log_safety import XML, defuse, escape_raw_line_breaks_xml

# Characters XML 1.0 cannot carry at all, even escaped.
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


def _clean(text: str) -> str:
    return _NOT_XML.sub("\ufffd", text)


def render(findings: list[Finding], context: ReportContext) -> str:
    title = f"mlci {context.command}"
    root = ET.Element("testsuites", name=title)
    by_file: dict[str, list[Finding]] = {}
    for finding in findings:
        by_file.setdefault(artifact_path(finding.file), []).append(finding)
    files = sorted(set(by_file) | {artifact_path(f) for f in context.files})
    for path in files:
        suite = ET.SubElement(root, "testsuite", name=_clean(path))
        mine = by_file.get(path, [])
        if not mine:
            ET.SubElement(suite, "testcase", classname=_clean(path), name=f"{title}: no findings", file=_clean(path))
        for finding in mine:
            _testcase(suite, finding, context)
        _count(suite)
    if not files:
        suite = ET.SubElement(root, "testsuite", name=title)
        ET.SubElement(suite, "testcase", classname=title, name=f"{title}: no findings")
        _count(suite)
    _count(root)
    ET.indent(root)
    document = '<?xml version="1.0" encoding="UTF-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"
    # Printed to stdout, the report lands in the CI log: a failure's text must not hold a command.
    return defuse(escape_raw_line_breaks_xml(document), XML)


def _testcase(suite: ET.Element, finding: Finding, context: ReportContext) -> None:
    path = artifact_path(finding.file)
    case = ET.SubElement(
        suite,
        "testcase",
        classname=_clean(path),
        name=_clean(f"{finding.rule_id} {finding.json_path}"),
        file=_clean(path),
        line=str(finding.line),
    )
    detail = f"{location_label(finding)}: {finding.severity.label} {finding.rule_id} {finding.message}"
    if finding.status is Status.WAIVED:
        reason = waiver_reason(finding) or "no reason given"
        ET.SubElement(case, "skipped", message=_clean(f"waived: {reason}"))
    elif finding.severity >= context.fail_on:
        failure = ET.SubElement(case, "failure", message=_clean(finding.message), type=finding.severity.label)
        failure.text = _clean(detail + (f"\nfix: {finding.remediation}" if finding.remediation else ""))
    else:
        out = ET.SubElement(case, "system-out")
        out.text = _clean(f"{detail}\n(below --fail-on {context.fail_on.label}: reported, not failing)")


def _count(element: ET.Element) -> None:
    cases = list(element.iter("testcase"))
    element.set("tests", str(len(cases)))
    element.set("failures", str(sum(c.find("failure") is not None for c in cases)))
    element.set("errors", "0")
    element.set("skipped", str(sum(c.find("skipped") is not None for c in cases)))
