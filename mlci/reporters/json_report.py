"""Machine-readable findings; `version` changes only with incompatible changes."""

from __future__ import annotations

import json

from mlci.findings import Finding, failing
from mlci.reporters import ReportContext

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
    return json.dumps(document, indent=2, ensure_ascii=False) + "\n"
