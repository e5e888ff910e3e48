"""Read a rule's `# METADATA` annotation block ourselves, typed.

The embedded engine has no `rego.metadata.*`, and the rule objects only carry
`msg` and `path`; so mlci keys each rule's id, severity and remediation by
(package, rule name), read straight from the source. A value of the wrong type
(`max_waiver_days: "forever"`, `severity: urgent`) is the policy author's
mistake, reported at its line and column in the Rego file, never guessed at.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from mlci.errors import InputError, Location
from mlci.findings import Severity
from mlci.policy.rules import Comment

# OPA's scopes that annotate something other than the rule right below.
_NOT_RULE_SCOPES = ("package", "subpackages")
_ID = re.compile(r"^\S+$")


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


@dataclass(frozen=True)
class Annotation:
    """A parsed rule-scoped METADATA block and where each of its values sits."""

    values: dict[str, Any]
    location: Location  # of the `# METADATA` line
    text: str  # the YAML of the block, without the comment marks
    file_location: Callable[[int, int], Location]  # (YAML line, column), both from 0 -> the Rego file

    @property
    def custom(self) -> dict[str, Any]:
        return self.values.get("custom") or {}

    @property
    def rule_id(self) -> str | None:
        value = self.custom.get("id")
        return value if isinstance(value, str) else None

    def at(self, *path: str) -> Location:
        """Where a value sits in the Rego file. Only errors need this, so the block is
        read a second time, with ruamel's (slower) round-trip loader that keeps positions."""
        from ruamel.yaml import YAML

        node = YAML(typ="rt", pure=True).load(self.text)
        return _positions(node, self.file_location).get(path, self.location)

    def to_meta(self, package: str, rule: str, rule_id: str, default_severity: Severity, filename: str) -> RuleMeta:
        custom = self.custom
        severity = custom.get("severity")
        return RuleMeta(
            package=package,
            rule=rule,
            id=rule_id,
            severity=Severity.parse(severity) if severity is not None else default_severity,
            title=self.values.get("title") or "",
            description=" ".join((self.values.get("description") or "").split()),
            controls=tuple(custom.get("controls") or ()),
            remediation=" ".join((custom.get("remediation") or "").split()),
            help_uri=custom.get("help_uri") or "",
            max_waiver_days=custom.get("max_waiver_days"),
            source_file=filename,
            extra={k: v for k, v in custom.items() if k not in _CUSTOM_TYPES},
        )


def read_annotation(block: tuple[Comment, ...], filename: str, yaml: Any) -> Annotation | None:
    """The typed METADATA block above a rule, or None when it annotates a package.
    Raises InputError at the offending value."""
    from ruamel.yaml.error import MarkedYAMLError, YAMLError

    header = block[0]
    lines = [_strip(c.text) for c in block[1:]]
    start = Location(filename, header.line, header.column)

    def file_location(yaml_line: int, yaml_column: int) -> Location:
        if not 0 <= yaml_line < len(lines):
            return start
        comment = block[1 + yaml_line]
        prefix = 1 + (len(comment.text) - len(lines[yaml_line]))  # '#' and the one space after it
        return Location(filename, comment.line, comment.column + prefix + yaml_column)

    text = "\n".join(lines)
    try:
        loaded = yaml.load(text) if lines else None
    except MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        where = file_location(mark.line, mark.column) if mark else start
        raise InputError(where, f"METADATA block is not valid YAML: {exc.problem or exc.context}") from None
    except YAMLError as exc:
        raise InputError(start, f"METADATA block is not valid YAML: {exc}") from None
    if loaded is None:
        loaded = {}
    if not isinstance(loaded, dict):
        raise InputError(start, "METADATA must be a mapping of annotations (title:, custom:, ...)")
    annotation = Annotation(values=_plain(loaded), location=start, text=text, file_location=file_location)
    scope = annotation.values.get("scope")
    if scope is not None and not isinstance(scope, str):
        raise InputError(annotation.at("scope"), "METADATA scope must be a string")
    if scope in _NOT_RULE_SCOPES:
        return None
    _check_types(annotation)
    return annotation


_TOP_TYPES: dict[str, tuple[type, str]] = {
    "title": (str, "a string"),
    "description": (str, "a string"),
    "custom": (dict, "a mapping"),
}
_CUSTOM_TYPES: dict[str, tuple[type, str]] = {
    "id": (str, "a string"),
    "severity": (str, "one of " + ", ".join(s.label for s in Severity)),
    "controls": (list, "a list of strings"),
    "remediation": (str, "a string"),
    "help_uri": (str, "a string"),
    "max_waiver_days": (int, "a positive whole number of days"),
}


def _check_types(annotation: Annotation) -> None:
    values = annotation.values
    for key, (kind, wanted) in _TOP_TYPES.items():
        if key in values and values[key] is not None and not isinstance(values[key], kind):
            raise InputError(annotation.at(key), f"METADATA {key} must be {wanted}, not {_shown(values[key])}")
    custom = annotation.custom
    for key, (kind, wanted) in _CUSTOM_TYPES.items():
        if key in custom:
            _check_custom(annotation, key, custom[key], kind, wanted)


def _check_custom(annotation: Annotation, key: str, value: Any, kind: type, wanted: str) -> None:
    problem = _custom_problem(key, value, kind, wanted)
    if problem:
        raise InputError(annotation.at("custom", key), problem)
    if key == "controls":
        for index, item in enumerate(value):
            if not isinstance(item, str):
                raise InputError(
                    annotation.at("custom", key, str(index)),
                    f"METADATA custom.controls[{index}] must be a string, not {_shown(item)}",
                )


def _custom_problem(key: str, value: Any, kind: type, wanted: str) -> str:
    problem = f"METADATA custom.{key} must be {wanted}, not {_shown(value)}"
    typed = isinstance(value, kind) and not isinstance(value, bool)  # a bool is an int to Python
    if not typed:
        return problem
    if key == "severity" and str(value).strip().lower() not in {s.label for s in Severity}:
        return problem
    if key == "id" and not _ID.match(str(value)):
        return f"METADATA custom.id must be one word without spaces, not {_shown(value)}"
    if key == "max_waiver_days" and int(value) < 1:
        return problem
    return ""


def _strip(text: str) -> str:
    return text[1:] if text.startswith(" ") else text


def _positions(node: Any, file_location: Any, path: tuple[str, ...] = ()) -> dict[tuple[str, ...], Location]:
    """Where each value of a round-trip YAML node starts, keyed by its path of keys."""
    found: dict[tuple[str, ...], Location] = {}
    lc = getattr(node, "lc", None)
    if isinstance(node, dict) and lc is not None:
        for key in node:
            try:
                line, column = lc.value(key)
            except (KeyError, TypeError):
                line, column = lc.key(key)
            found[(*path, str(key))] = file_location(line, column)
            found.update(_positions(node[key], file_location, (*path, str(key))))
    elif isinstance(node, list) and lc is not None:
        for index, item in enumerate(node):
            line, column = lc.item(index)
            found[(*path, str(index))] = file_location(line, column)
            found.update(_positions(item, file_location, (*path, str(index))))
    return found


def _plain(node: Any) -> Any:
    if isinstance(node, dict):
        return {str(k): _plain(v) for k, v in node.items()}
    if isinstance(node, list):
        return [_plain(v) for v in node]
    if isinstance(node, str):
        return str(node)
    return node


def _shown(value: Any) -> str:
    import json

    try:
        return json.dumps(value)
    except (TypeError, ValueError):
        return repr(value)
