"""Read the `# METADATA` annotation blocks of Rego modules ourselves.

The embedded engine has no `rego.metadata.*`, and the rule objects only carry
`msg` and `path`; so mlci keys each rule's id, severity and remediation by
(package, rule name), read straight from the source.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.findings import Severity

_PACKAGE = re.compile(r"^\s*package\s+([A-Za-z_][A-Za-z0-9_.]*)", re.MULTILINE)
_RULE_HEAD = re.compile(r"^\s*([A-Za-z_][A-Za-z0-9_]*)\b")


@dataclass(frozen=True)
class RuleMeta:
    package: str  # e.g. "mlci.gdpr"
    rule: str  # e.g. "legal_basis_required"
    id: str
    severity: Severity
    title: str = ""
    description: str = ""
    controls: tuple[str, ...] = ()
    remediation: str = ""
    help_uri: str = ""
    max_waiver_days: int | None = None
    source_file: str = ""
    extra: dict[str, object] = field(default_factory=dict, compare=False, hash=False)


class MetadataError(ValueError):
    pass


def parse_module_metadata(source: str, filename: str, yaml: Any = None) -> list[RuleMeta]:
    """Every annotated rule of one module, in source order."""
    from ruamel.yaml import YAML
    from ruamel.yaml.error import YAMLError

    yaml = yaml or YAML(typ="safe", pure=False)
    match = _PACKAGE.search(source)
    if not match:
        raise MetadataError(f"{filename}: no package declaration")
    package = match.group(1)
    if package.startswith("data."):
        package = package[len("data.") :]
    lines = source.splitlines()
    found: list[RuleMeta] = []
    i = 0
    while i < len(lines):
        if lines[i].strip() != "# METADATA":
            i += 1
            continue
        start = i + 1
        block: list[str] = []
        i += 1
        while i < len(lines) and lines[i].lstrip().startswith("#"):
            block.append(re.sub(r"^\s*# ?", "", lines[i]))
            i += 1
        head = _RULE_HEAD.match(lines[i]) if i < len(lines) else None
        try:
            meta = yaml.load("\n".join(block)) or {}
        except YAMLError as exc:
            raise MetadataError(f"{filename}:{start}: METADATA block is not valid YAML: {exc}") from None
        if not head or not isinstance(meta, dict) or meta.get("scope") in ("package", "subpackages", "document"):
            continue
        custom = meta.get("custom") or {}
        if "id" not in custom:
            continue
        try:
            severity = Severity.parse(str(custom.get("severity", "medium")))
        except ValueError as exc:
            raise MetadataError(f"{filename}:{start}: {exc}") from None
        found.append(
            RuleMeta(
                package=package,
                rule=head.group(1),
                id=str(custom["id"]),
                severity=severity,
                title=str(meta.get("title", "")),
                description=" ".join(str(meta.get("description", "")).split()),
                controls=tuple(str(c) for c in custom.get("controls", []) or []),
                remediation=" ".join(str(custom.get("remediation", "")).split()),
                help_uri=str(custom.get("help_uri", "")),
                max_waiver_days=custom.get("max_waiver_days"),
                source_file=filename,
            )
        )
    return found


def index_metadata(modules: dict[str, str]) -> dict[tuple[str, str], RuleMeta]:
    """(package, rule) -> metadata over all modules; rule ids must be unique."""
    from ruamel.yaml import YAML

    yaml = YAML(typ="safe", pure=False)  # one instance: creating one scans for plug-ins
    by_rule: dict[tuple[str, str], RuleMeta] = {}
    seen_ids: dict[str, str] = {}
    for filename, source in modules.items():
        for meta in parse_module_metadata(source, Path(filename).name, yaml):
            if meta.id in seen_ids and seen_ids[meta.id] != f"{meta.package}.{meta.rule}":
                raise MetadataError(f"{filename}: rule id {meta.id} is also used by {seen_ids[meta.id]}")
            seen_ids[meta.id] = f"{meta.package}.{meta.rule}"
            by_rule[(meta.package, meta.rule)] = meta
    return by_rule
