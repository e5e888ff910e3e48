"""Fill a validated spec's omitted values from the schema's own `default`s.

The schema is the one place a default is written: the editor shows it, `mlci schema`
prints it, and this walk hands it to the rest of mlci. Nothing here lists a default."""

from __future__ import annotations

import copy
from typing import Any


def with_defaults(data: Any, schema: dict[str, Any]) -> Any:
    """A copy of `data` (valid against `schema`) with every omitted property that has a
    schema `default` set to it, at every level: a defaulted object (`ci: {}`) is itself
    filled, so `ci.python_version` is there even when the spec has no `ci` section."""
    return _fill(data, schema, schema.get("$defs", {}))


def resolve(node: dict[str, Any], definitions: dict[str, Any]) -> dict[str, Any]:
    """A schema node with its local `$ref` replaced by the definition; the node's own keys
    (a property's description, its default) win over the definition's."""
    seen: set[str] = set()
    while isinstance(node.get("$ref"), str) and node["$ref"].startswith("#/$defs/"):
        name = node["$ref"].removeprefix("#/$defs/")
        if name in seen:  # a recursive definition (a parameter's nested values) holds no default
            break
        seen.add(name)
        node = {**definitions[name], **{key: value for key, value in node.items() if key != "$ref"}}
    return node


def _fill(value: Any, node: dict[str, Any], definitions: dict[str, Any]) -> Any:
    node = resolve(node, definitions)
    if isinstance(value, dict):
        properties = node.get("properties", {})
        out = {key: copy.deepcopy(item) for key, item in value.items() if key not in properties}
        for key, sub in properties.items():
            sub = resolve(sub, definitions)
            if key in value:
                out[key] = _fill(value[key], sub, definitions)
            elif "default" in sub:
                out[key] = _fill(copy.deepcopy(sub["default"]), sub, definitions)
        return out
    if isinstance(value, list) and isinstance(node.get("items"), dict):
        return [_fill(item, node["items"], definitions) for item in value]
    return copy.deepcopy(value)
