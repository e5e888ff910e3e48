"""Machine-readable findings; `version` changes only with incompatible changes."""

from __future__ import annotations

from mlci.findings import Finding, failing
from mlci.reporters import ReportContext
from mlci.reporters.log_safety import log_safe_json

FORMAT_VERSION = 1


def render(findings: list[Finding], context: ReportContext) -> str:
    document = {
        "version": FORMAT_VERSION,
        "tool": {"name": "mlci", "version": context.tool_version},
        "command": context.command,
        "fail_on": context.fail_on.label,
        "summary": {
            "total": len(findings),
            "failing": len(failing(findings, context.fail_on)),
            "waived": sum(f.status.value == "waived" for f in findings),
        },
        "findings": [f.to_dict() for f in findings],
    }
    return log_safe_json(document)
