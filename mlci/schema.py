"""Validate a loaded spec against the JSON Schema; every error becomes a Finding
at the line and column of the offending key (a missing key: its parent)."""

from __future__ import annotations

import difflib
import functools
import json
from collections.abc import Iterator
from typing import Any

from mlci.findings import Finding, JsonPath, Severity, sort_findings
from mlci.loader import Spec
from mlci.resources import schema_path

SCHEMA_RULE = "schema"


@functools.cache
def load_schema() -> dict[str, Any]:
    return json.loads(schema_path().read_text(encoding="utf-8"))


@functools.cache
def _validator() -> Any:
    from jsonschema import Draft202012Validator

    # Validating against a copy with every local $ref inlined gives the same errors without
    # resolving references on every check; a recursive one (a param's nested values) stays a $ref.
    return Draft202012Validator(_inline_refs(load_schema()))


def _inline_refs(schema: dict[str, Any]) -> dict[str, Any]:
    definitions = schema.get("$defs", {})

    def expand(node: Any, active: tuple[str, ...] = ()) -> Any:
        if isinstance(node, dict):
            ref = node.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                name = ref.removeprefix("#/$defs/")
                if name in active:
                    return node  # recursive: the validator resolves it against the $defs kept below
                rest = {key: expand(value, active) for key, value in node.items() if key != "$ref"}
                # The definition wins: its description says what a valid value looks like.
                return {**rest, **expand(definitions[name], (*active, name))}
            return {key: expand(value, active) for key, value in node.items()}
        if isinstance(node, list):
            return [expand(item, active) for item in node]
        return node

    inlined = expand({key: value for key, value in schema.items() if key != "$defs"})
    return {**inlined, "$defs": definitions}


def validate_spec(spec: Spec) -> list[Finding]:
    """All schema problems of `spec`, sorted by position."""
    findings: dict[tuple[Any, ...], Finding] = {}
    for error in _validator().iter_errors(spec.data):
        for path, message in _explain(error):
            location = spec.location(path)
            finding = Finding.at(
                location,
                rule_id=SCHEMA_RULE,
                severity=Severity.HIGH,
                message=message,
                path=path,
                remediation="Fix the value so that it matches the schema (`mlci schema` prints it).",
                source="schema",
            )
            findings.setdefault((location.line, location.column, message), finding)
    return sort_findings(findings.values())


def _explain(error: Any) -> Iterator[tuple[JsonPath, str]]:
    """One or more (path, message) pairs that say what is wrong in the user's terms."""
    path: JsonPath = tuple(error.absolute_path)
    validator = error.validator
    schema = error.schema
    instance = error.instance
    where = _where(path)

    if validator == "additionalProperties" and isinstance(instance, dict):
        allowed = sorted(schema.get("properties", {}))
        for key in instance:
            if key not in allowed:
                hint = _did_you_mean(key, allowed)
                known = f"; known keys here: {', '.join(allowed)}" if not hint else ""
                yield (*path, key), f"unknown key {key!r} in {where}{hint}{known}"
        return
    if validator == "required":
        missing = error.message.split("'")[1] if "'" in error.message else error.message
        yield path, f"{where} is missing the required key {missing!r}"
        return
    if validator in ("oneOf", "anyOf") and error.context:
        from jsonschema.exceptions import best_match

        yield from _explain(best_match(error.context))
        return
    if validator == "enum":
        options = [o for o in error.validator_value if isinstance(o, str)]
        hint = _did_you_mean(str(instance), options) if isinstance(instance, str) else ""
        yield path, f"{where}: {instance!r} is not one of {', '.join(map(repr, error.validator_value))}{hint}"
        return
    if validator == "const":
        yield path, f"{where} must be {error.validator_value!r}, found {instance!r}"
        return
    if validator == "type":
        hint = ""
        if error.validator_value == "string" and isinstance(instance, int | float) and not isinstance(instance, bool):
            hint = " (put it in quotes: YAML reads unquoted digits as a number)"
        yield path, f"{where} must be {_type_phrase(error.validator_value)}, found {_type_name(instance)}{hint}"
        return
    if validator in ("maxItems", "maxProperties"):
        # jsonschema's own message repeats the whole value: thousands of items in one line.
        kind = "items" if validator == "maxItems" else "keys"
        yield path, f"{where} has {len(instance)} {kind}; at most {error.validator_value} are allowed"
        return
    if validator == "pattern":
        about = _describe(error)
        yield path, f"{where}: {instance!r} is not valid" + (f" ({about})" if about else "")
        return
    yield path, f"{where}: {error.message}"


def _describe(error: Any) -> str:
    """The nearest description in the schema, which says what a valid value looks like."""
    return str(error.schema.get("description", "")).rstrip(".")


def _where(path: JsonPath) -> str:
    if not path:
        return "the top level"
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _did_you_mean(word: str, options: list[str]) -> str:
    close = difflib.get_close_matches(word, options, n=1, cutoff=0.6)
    return f"; did you mean {close[0]!r}?" if close else ""


def _type_phrase(expected: Any) -> str:
    names = expected if isinstance(expected, list) else [expected]
    articles: dict[str, str] = {
        "object": "a mapping",
        "array": "a list",
        "string": "a string",
        "integer": "an integer",
        "number": "a number",
        "boolean": "true or false",
        "null": "empty",
    }
    return " or ".join(articles.get(str(n), str(n)) for n in names)


def _type_name(value: Any) -> str:
    if isinstance(value, bool):
        return f"{str(value).lower()}"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if value is None:
        return "nothing (null)"
    if isinstance(value, int | float):
        return f"the number {value!r}"
    return f"the string {value!r}"
