"""`mlci report --framework`: a control matrix built from the check's own decision.

Each rule's METADATA names the controls it evidences (`GDPR Art. 9`, `EU AI Act Art. 12`);
a framework is the set of controls that start with its prefix. The findings come from
`run_check` - the same engines, cache and waivers as `mlci check` - so the matrix can
never disagree with the check. Per control and project the status is:

- fail: a rule of the control has a finding that is not waived;
- waived: every finding of the control's rules is waived;
- not applicable: no finding, and the project is outside the framework's scope
  (GDPR: no dataset holds personal data; EU AI Act: no governance.ai_act section);
- pass: no finding and the project is in scope.

A finding always decides over the scope test, so a scope that is too narrow can only
turn a pass into "not applicable", never hide a failure.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlci.errors import UserError
from mlci.findings import Finding, Status
from mlci.loader import Spec
from mlci.policy.pack import PolicyPack

PASS = "pass"
FAIL = "fail"
WAIVED = "waived"
NOT_APPLICABLE = "not applicable"

_PERSONAL_LISTS = ("pii_fields", "sensitive_attributes", "special_categories", "vulnerable_subjects")


def _handles_personal_data(spec: dict[str, Any]) -> bool:
    datasets = spec.get("datasets")
    for dataset in datasets if isinstance(datasets, list) else ():
        if not isinstance(dataset, dict):
            continue
        if dataset.get("personal_data") is True:
            return True
        if any(isinstance(dataset.get(key), list) and dataset.get(key) for key in _PERSONAL_LISTS):
            return True
    return False


def _declares_ai_act(spec: dict[str, Any]) -> bool:
    governance = spec.get("governance")
    return isinstance(governance, dict) and isinstance(governance.get("ai_act"), dict)


@dataclass(frozen=True)
class Framework:
    name: str  # what --framework takes
    title: str
    prefix: str  # the start of every control of the framework in METADATA
    in_scope: Callable[[dict[str, Any]], bool]


FRAMEWORKS: dict[str, Framework] = {
    f.name: f
    for f in (
        Framework("gdpr", "GDPR", "GDPR ", _handles_personal_data),
        Framework("eu-ai-act", "EU AI Act", "EU AI Act ", _declares_ai_act),
    )
}


def framework_named(name: str) -> Framework:
    framework = FRAMEWORKS.get(name.strip().lower())
    if framework is None:
        raise UserError(f"--framework {name!r}: expected one of {', '.join(FRAMEWORKS)}")
    return framework


@dataclass
class ControlRow:
    control: str
    rules: list[str]
    status: dict[str, str] = field(default_factory=dict)  # project (spec path) -> status
    findings: dict[str, list[Finding]] = field(default_factory=dict)


@dataclass
class ControlMatrix:
    framework: Framework
    projects: list[str]
    rows: list[ControlRow]

    @property
    def failed(self) -> bool:
        return any(FAIL in row.status.values() for row in self.rows)


def build_matrix(framework: Framework, pack: PolicyPack, specs: list[Spec], findings: list[Finding]) -> ControlMatrix:
    rules_of: dict[str, set[str]] = {}
    for meta in pack.rules.values():
        for control in meta.controls:
            if control.startswith(framework.prefix):
                rules_of.setdefault(control, set()).add(meta.id)
    projects = [spec.display_path for spec in specs]
    rows = [ControlRow(control, sorted(rules_of[control])) for control in sorted(rules_of, key=_control_order)]
    for spec in specs:
        mine = [f for f in findings if f.file == spec.display_path]
        scoped = framework.in_scope(spec.data) if isinstance(spec.data, dict) else False
        for row in rows:
            # By control, not by rule id: a conventional rule's violation may carry its own id.
            hits = [f for f in mine if row.control in f.controls]
            row.findings[spec.display_path] = hits
            row.status[spec.display_path] = _status(hits, scoped)
    return ControlMatrix(framework, projects, rows)


def _status(findings: list[Finding], in_scope: bool) -> str:
    if any(f.status is Status.FAILED for f in findings):
        return FAIL
    if findings:
        return WAIVED
    return PASS if in_scope else NOT_APPLICABLE


def _control_order(control: str) -> tuple[Any, ...]:
    """`Art. 9` before `Art. 10`, `Annex III` after the articles."""
    import re

    parts = re.split(r"(\d+)", control)
    return tuple((0, int(p)) if p.isdigit() else (1, p) for p in parts)


def matrix_json(matrix: ControlMatrix) -> dict[str, Any]:
    return {
        "framework": matrix.framework.name,
        "title": matrix.framework.title,
        "projects": matrix.projects,
        "passed": not matrix.failed,
        "controls": [
            {
                "control": row.control,
                "rules": row.rules,
                "projects": {
                    project: {
                        "status": row.status[project],
                        "findings": [
                            {
                                "rule_id": f.rule_id,
                                "status": f.status.value,
                                "message": f.message,
                                "line": f.line,
                                "column": f.column,
                                "path": f.json_path,
                            }
                            for f in row.findings[project]
                        ],
                    }
                    for project in matrix.projects
                },
            }
            for row in matrix.rows
        ],
    }


def render_json(matrix: ControlMatrix) -> str:
    from mlci.reporters.log_safety import log_safe_json

    return log_safe_json(matrix_json(matrix))


def render_markdown(matrix: ControlMatrix) -> str:
    from mlci.reporters.log_safety import MARKDOWN, defuse
    from mlci.reporters.markdown import _cell

    title = matrix.framework.title
    verdict = "controls failing" if matrix.failed else "no control failing"
    lines = [f"# mlci control matrix: {title}", "", f"**{verdict}** across {len(matrix.projects)} project(s).", ""]
    if not matrix.rows:
        lines.append(f"No rule in the policy pack names a {title} control.")
        return defuse("\n".join(lines) + "\n", MARKDOWN)
    header = ["Control", "Rules", *(_cell(p) for p in matrix.projects)]
    lines.append("| " + " | ".join(header) + " |")
    lines.append("|" + "---|" * len(header))
    for row in matrix.rows:
        cells = [_cell(row.control), _cell(", ".join(row.rules)), *(row.status[p] for p in matrix.projects)]
        lines.append("| " + " | ".join(cells) + " |")
    details = [(row, p, f) for row in matrix.rows for p in matrix.projects for f in row.findings[p]]
    if details:
        lines += ["", "## Findings", "", "| Control | Project | Rule | Status | Where | Message |", "|---" * 6 + "|"]
        for row, project, f in details:
            where = f"{f.line}:{f.column} {f.json_path}"
            cells = [row.control, project, f.rule_id, f.status.value, where, f.message]
            lines.append("| " + " | ".join(_cell(c) for c in cells) + " |")
    return defuse("\n".join(lines) + "\n", MARKDOWN)


RENDERERS: dict[str, Callable[[ControlMatrix], str]] = {"markdown": render_markdown, "json": render_json}
