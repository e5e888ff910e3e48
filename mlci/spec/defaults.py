"""Fill a validated spec's omitted values from the schema's own `default`s.

The schema is the one place a default is written: the editor shows it, `mlci schema`
prints it, and this walk hands it to the rest of mlci. Nothing here lists a default."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

_ABSENT = object()


@dataclass
class _Plan:
    """What the schema says below one node, reduced to what filling needs: per property its
    default (or _ABSENT) and its own plan, and the plan of array items. Compiled once."""

    properties: dict[str, tuple[Any, _Plan]] = field(default_factory=dict)
    items: _Plan | None = None

    @property
    def empty(self) -> bool:
        return not self.properties and self.items is None


_EMPTY = _Plan()
_PLANS: dict[int, tuple[dict[str, Any], _Plan]] = {}


def with_defaults(data: Any, schema: dict[str, Any]) -> Any:
    """A copy of `data` (valid against `schema`) with every omitted property that has a
    schema `default` set to it, at every level: a defaulted object (`ci: {}`) is itself
    filled, so `ci.python_version` is there even when the spec has no `ci` section."""
    cached = _PLANS.get(id(schema))
    if cached is None or cached[0] is not schema:
        cached = (schema, _compile(schema, schema.get("$defs", {}), ()))
        _PLANS[id(schema)] = cached  # the schema is kept with its plan, so its id stays its own
    return _fill(data, cached[1])


def resolve(node: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """A schema node with its local `$ref` replaced by the definition; the node's own keys
    (a property's description, its default) win over the definition's."""
    seen: set[str] = set()
    while isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/$defs/"):
        name = node["$ref"].removeprefix("#/$defs/")
        if name in seen:
            break
        seen.add(name)
        node = {**definitions[name], **{key: value for key, value in node.items() if key != "$ref"}}
    return node


def _compile(node: dict[str, Any], definitions: dict[str, Any], active: tuple[str, ...]) -> _Plan:
    ref = node.get("$ref")
    if isinstance(ref, str):
        if ref in active:  # a recursive definition (a parameter's nested values) holds no default
            return _EMPTY
        active = (*active, ref)
    node = resolve(node, definitions)
    plan = _Plan()
    for key, sub in node.get("properties", {}).items():
        resolved = resolve(sub, definitions)
        sub_plan = _compile(sub, definitions, active)
        default = resolved.get("default", _ABSENT)
        if default is not _ABSENT or not sub_plan.empty:
            plan.properties[key] = (default, sub_plan)
    if isinstance(node.get("items"), dict):
        items = _compile(node["items"], definitions, active)
        plan.items = None if items.empty else items
    return _EMPTY if plan.empty else plan


def _fill(value: Any, plan: _Plan) -> Any:
    if plan.empty:
        return _copy(value)
    if isinstance(value, dict):
        out = {key: _copy(item) for key, item in value.items() if key not in plan.properties}
        for key, (default, sub) in plan.properties.items():
            if key in value:
                out[key] = _fill(value[key], sub)
            elif default is not _ABSENT:
                out[key] = _fill(_copy(default), sub)
        return out
    if isinstance(value, list) and plan.items is not None:
        return [_fill(item, plan.items) for item in value]
    return _copy(value)


def _copy(value: Any) -> Any:
    """A copy of a JSON value (its scalars are immutable and shared)."""
    if isinstance(value, dict):
        return {key: _copy(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_copy(item) for item in value]
    return value


def schema_default(*path: str) -> Any:
    """The schema's default of the property at `path` (property names from the top), for a
    value asked for without a spec (`mlci drift` on two files)."""
    from mlci.schema import load_schema

    schema = load_schema()
    definitions = schema.get("$defs", {})
    node = schema
    for key in path:
        node = resolve(resolve(node, definitions)["properties"][key], definitions)
    return _copy(node["default"])
