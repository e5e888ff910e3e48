"""Build the typed spec from validated data: defaults from the schema, then one generic
conversion driven by the dataclasses' own annotations (no field is listed twice)."""

from __future__ import annotations

import dataclasses
import types
import typing
from collections.abc import Mapping
from typing import Any, TypeVar

from mlci.spec.defaults import with_defaults
from mlci.spec.model import MLProject

T = TypeVar("T")


def typed_spec(data: dict[str, Any]) -> MLProject:
    """The typed form of a spec the schema accepted, with every schema default filled in.
    Only for validated data: what the schema refuses has no typed form."""
    from mlci.schema import load_schema

    return build(MLProject, with_defaults(data, load_schema()))


def build(cls: type[T], data: Mapping[str, Any]) -> T:
    """An instance of the dataclass `cls` from a mapping with the same keys (missing: None)."""
    hints = typing.get_type_hints(cls)
    fields = dataclasses.fields(cls)  # type: ignore[arg-type]
    return cls(**{field.name: _convert(hints[field.name], data.get(field.name)) for field in fields})


def _convert(annotation: Any, value: Any) -> Any:
    if value is None:
        return None
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return _convert(_pick(typing.get_args(annotation), value), value)
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return build(annotation, value)
    if origin is tuple:
        item = typing.get_args(annotation)[0]
        return tuple(_convert(item, element) for element in value)
    if origin is Mapping or annotation is Any:
        return freeze(value)
    return value


def _pick(options: tuple[Any, ...], value: Any) -> Any:
    """The member of a union that fits `value`: a list is the tuple, a mapping the dataclass
    or mapping, anything else the scalar type."""
    for option in options:
        origin = typing.get_origin(option)
        if isinstance(value, list) and origin is tuple:
            return option
        if isinstance(value, dict) and (dataclasses.is_dataclass(option) or origin is Mapping):
            return option
    return Any if isinstance(value, list | dict) else type(value)


def freeze(value: Any) -> Any:
    """A read-only copy of a JSON value: mappings become mappingproxies, lists tuples."""
    if isinstance(value, dict):
        return types.MappingProxyType({key: freeze(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(freeze(item) for item in value)
    return value


def thaw(value: Any) -> Any:
    """The plain JSON form of a frozen value (for json.dumps and comparisons with JSON files)."""
    if isinstance(value, Mapping):
        return {key: thaw(item) for key, item in value.items()}
    if isinstance(value, tuple | list):
        return [thaw(item) for item in value]
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return {field.name: thaw(getattr(value, field.name)) for field in dataclasses.fields(value)}
    return value
