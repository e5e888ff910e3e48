"""Checks on command fields that the JSON Schema cannot express.

A command may be written as a string, which mlci splits the way a shell would
(shlex) but never runs through a shell. A string that does not split (an
unbalanced quote, a trailing backslash) or that names no program is the user's
mistake: it is reported here, at load time, with its line and column, so that
render and run never see it. Which fields are commands comes from the schema
(every `$ref` to `#/$defs/command`), so a new command field is checked too.
"""

from __future__ import annotations

import functools
import shlex
from collections.abc import Iterator
from typing import Any

from mlci.findings import Finding, JsonPath, format_json_path
from mlci.loader import Spec
from mlci.schema import load_schema
from mlci.spec_checks import input_finding

COMMAND_REF = "#/$defs/command"


def split_command(command: str | list[str]) -> list[str]:
    """The argv of a command field. Raises ValueError with shlex's reason when a string does not split."""
    if isinstance(command, str):
        return shlex.split(command)
    return [str(part) for part in command]


def command_problem(command: str | list[str]) -> str:
    """What is wrong with a command value, or '' when it can be run."""
    try:
        argv = split_command(command)
    except ValueError as exc:
        return (
            f"{command!r} cannot be split into a program and its arguments ({str(exc).lower()}); "
            "balance the quotes, or write the command as a list"
        )
    if not argv or not argv[0].strip():
        return f"{command!r} names no program to run"
    return ""


def command_findings(spec: Spec) -> list[Finding]:
    """A finding for every command field of `spec` that cannot be run, at its line and column."""
    findings = []
    for path, value in _command_fields(_command_shape(), spec.data, ()):
        if not isinstance(value, str | list):
            continue  # a wrong type is the schema's finding
        problem = command_problem(value)
        if problem:
            findings.append(
                input_finding(
                    spec,
                    path,
                    f"{format_json_path(path)[2:]}: {problem}",
                    "Write the command as a list of arguments, e.g. [python, train.py].",
                )
            )
    return findings


@functools.cache
def _command_shape() -> Any:
    """The schema reduced to where commands are: {"properties": {...}, "items": ...} or True at a command."""
    schema = load_schema()
    definitions = schema.get("$defs", {})

    def shape(node: Any, seen: frozenset[str]) -> Any:
        if not isinstance(node, dict):
            return None
        ref = node.get("$ref")
        if ref == COMMAND_REF:
            return True
        if isinstance(ref, str) and ref.startswith("#/$defs/") and ref not in seen:
            return shape(definitions.get(ref.removeprefix("#/$defs/")), seen | {ref})
        out: dict[str, Any] = {}
        properties = {key: shape(value, seen) for key, value in node.get("properties", {}).items()}
        properties = {key: value for key, value in properties.items() if value}
        if properties:
            out["properties"] = properties
        items = shape(node.get("items"), seen)
        if items:
            out["items"] = items
        return out or None

    return shape(schema, frozenset())


def _command_fields(shape: Any, data: Any, path: JsonPath) -> Iterator[tuple[JsonPath, Any]]:
    if shape is True:
        yield path, data
        return
    if not shape:
        return
    if isinstance(data, dict):
        for key, sub in shape.get("properties", {}).items():
            if key in data:
                yield from _command_fields(sub, data[key], (*path, key))
    elif isinstance(data, list) and "items" in shape:
        for index, item in enumerate(data):
            yield from _command_fields(shape["items"], item, (*path, index))
