"""Build the typed spec from validated data: defaults from the schema, then one generic
conversion driven by the dataclasses' own annotations (no field is listed twice)."""

from __future__ import annotations

import dataclasses
import functools
import types
import typing
from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from mlci.spec.defaults import with_defaults
from mlci.spec.model import MLProject

T = TypeVar("T")
Converter = Callable[[Any], Any]


def typed_spec(data: dict[str, Any]) -> MLProject:
    """The typed form of a spec the schema accepted, with every schema default filled in.
    Only for validated data: what the schema refuses has no typed form."""
    from mlci.schema import load_schema

    return build(MLProject, with_defaults(data, load_schema()))


def build(cls: type[T], data: Mapping[str, Any]) -> T:
    """An instance of the dataclass `cls` from a mapping with the same keys (missing: None)."""
    result: T = _converter(typing.cast(Any, cls))(data)
    return result


@functools.cache
def _converter(annotation: Any) -> Converter:
    """How to turn a JSON value into `annotation`, worked out once per annotation (evaluating
    annotations is most of the cost of a build)."""
    origin = typing.get_origin(annotation)
    if origin is typing.Union or origin is types.UnionType:
        return _union(typing.get_args(annotation))
    if dataclasses.is_dataclass(annotation) and isinstance(annotation, type):
        return _dataclass(annotation)
    if origin is tuple:
        item = _converter(typing.get_args(annotation)[0])
        return lambda value: tuple(item(element) for element in value)
    if origin is Mapping or annotation is Any:
        return freeze
    return _same


def _same(value: Any) -> Any:
    return value


def _dataclass(cls: type) -> Converter:
    hints = typing.get_type_hints(cls)
    fields = [(field.name, _converter(hints[field.name])) for field in dataclasses.fields(cls)]

    def convert(value: Mapping[str, Any]) -> Any:
        values = {}
        for name, to in fields:
            item = value.get(name)
            values[name] = item if item is None or to is _same else to(item)
        return cls(**values)

    return convert


def _union(options: tuple[Any, ...]) -> Converter:
    """The member of a union that fits the value: a list is the tuple, a mapping the dataclass
    or mapping, anything else (a scalar) stays as it is."""
    sequence = next((_converter(o) for o in options if typing.get_origin(o) is tuple), freeze)
    mapping = next(
        (_converter(o) for o in options if dataclasses.is_dataclass(o) or typing.get_origin(o) is Mapping), freeze
    )

    def convert(value: Any) -> Any:
        if value is None:
            return None
        if isinstance(value, list):
            return sequence(value)
        if isinstance(value, dict):
            return mapping(value)
        return value

    return convert


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
