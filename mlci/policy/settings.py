"""Policy settings and data files, typed by schemas/policy-settings.schema.json.

A wrong type would otherwise change what a rule decides, differently per engine
(`"min_production_approvers": "2"` compares as a string: the embedded engine
drops the approval rules, OPA fails them). So every settings file and `--data`
file is validated before anything is evaluated, and an error is the user's, at
the file's line and column (exit 2).

A file holds the settings themselves, or `{"mlci_settings": {...}, ...}` where
every other top-level key is the organisation's own data, passed through to the
policies as `data.<key>` (untyped: mlci does not know its rules).
"""

from __future__ import annotations

import functools
import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.errors import InputError, Location, UserError
from mlci.policy.json_positions import PositionedJson, load_json
from mlci.resources import data_dir

SETTINGS_KEY = "mlci_settings"
SCHEMA_FILE = "policy-settings.schema.json"


@dataclass(frozen=True)
class DataFile:
    path: str  # as shown to the user: a file, or a file inside a bundle or repository
    settings: dict[str, Any]
    extra_data: dict[str, Any] = field(default_factory=dict)  # top-level keys beside mlci_settings
    key_locations: dict[str, Location] = field(default_factory=dict)  # where each extra key is written


@functools.cache
def settings_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads((data_dir("schemas") / SCHEMA_FILE).read_text(encoding="utf-8"))
    return schema


def read_data_file(path: Path) -> DataFile:
    """A settings or data file, validated. Raises UserError / InputError (exit 2)."""
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read: {exc}") from None
    return read_data_text(text, str(path))


def read_data_text(text: str, shown: str) -> DataFile:
    """A settings or data file's text (`shown` names it in errors), validated."""
    document = _parse(text, shown)
    _validate(shown, document)
    if SETTINGS_KEY not in document.value:
        return DataFile(shown, settings=document.value)
    return _wrapper_form(document, shown)


def read_data_document(text: str, shown: str, prefix: str = "") -> DataFile:
    """An OPA bundle's data.json: a data document, so its top-level keys are data.<key>
    (settings only under "mlci_settings"). `prefix` is its folder in the bundle: a
    data.json in `org/` is data.org, the organisation's own and untyped."""
    document = _parse(text, shown)
    if prefix:
        top, *rest = prefix.split("/")
        value: Any = document.value
        for part in reversed(rest):
            value = {part: value}
        where = Location(shown, 1, 1)
        _refuse_reserved({top: where})
        return DataFile(shown, settings={}, extra_data={top: value}, key_locations={top: where})
    if SETTINGS_KEY in document.value:
        _validate(shown, document)
    return _wrapper_form(document, shown)


def _parse(text: str, shown: str) -> PositionedJson:
    try:
        document = load_json(text)
    except json.JSONDecodeError as exc:
        raise InputError(Location(shown, exc.lineno, exc.colno), f"invalid JSON: {exc.msg}") from None
    if not isinstance(document.value, dict):
        raise InputError(Location(shown, 1, 1), "expected a JSON object of policy settings")
    return document


def _wrapper_form(document: PositionedJson, shown: str) -> DataFile:
    value = document.value
    extra = {k: v for k, v in value.items() if k != SETTINGS_KEY}
    locations = {k: Location(shown, *document.key_at((k,))) for k in extra}
    _refuse_reserved(locations)
    return DataFile(shown, settings=value.get(SETTINGS_KEY, {}), extra_data=extra, key_locations=locations)


def _refuse_reserved(locations: dict[str, Location]) -> None:
    for key, where in locations.items():
        if key.startswith("mlci_") or key == "mlci":  # mlci's own documents and packages (mlci_batch_..., ...)
            raise InputError(where, f"top-level key {key!r} is reserved for mlci (mlci_*)")
        if "/" in key or not key:
            # The OPA server's Data API addresses documents by slash-separated paths:
            # "a/b" would be written at data.a.b there and read at data["a/b"] elsewhere.
            raise InputError(where, f"top-level key {key!r} must be a non-empty name without '/'")


def _validate(path: str, document: PositionedJson) -> None:
    from jsonschema import Draft202012Validator

    validator = Draft202012Validator(settings_schema())
    errors = list(validator.iter_errors(document.value))
    if not errors:
        return
    explained = sorted((_explain(error, document, path) for error in errors), key=lambda e: _order(e.location))
    first = explained[0]
    if len(explained) > 1:
        more = "\n".join(f"  {e.location}: {e.problem}" for e in explained[1:6])
        raise InputError(first.location, f"{first.problem}\n{more}")
    raise first


def _order(location: Location) -> tuple[int, int]:
    return (location.line, location.column)


def _explain(error: Any, document: PositionedJson, path: str) -> InputError:
    where = tuple(error.absolute_path)
    name = _setting_name(where)
    if error.validator == "additionalProperties":
        known = sorted(error.schema.get("properties", {}))
        extras = [k for k in error.instance if k not in error.schema.get("properties", {})]
        key = extras[0] if extras else ""
        location = Location(str(path), *document.key_at((*where, key)))
        hint = (
            f"; known settings: {', '.join(known)}. Put your own policies' data under its own top-level key "
            f'beside "{SETTINGS_KEY}"'
        )
        return InputError(location, f"unknown setting {key!r}{hint}")
    if error.validator == "not" and where and where[0] != SETTINGS_KEY:  # the reserved keys of the wrapper form
        location = Location(str(path), *document.key_at(where))
        return InputError(location, f"top-level key {where[-1]!r} is reserved for mlci")
    location = Location(str(path), *document.value_at(where))
    if error.validator == "type":
        wanted = error.validator_value
        return InputError(location, f"{name} must be {_article(wanted)}, not {json.dumps(error.instance)}")
    if error.validator == "minimum":
        return InputError(location, f"{name} must be at least {error.validator_value}, not {error.instance}")
    return InputError(location, f"{name}: {error.message}")


def _setting_name(where: tuple[Any, ...]) -> str:
    parts = [str(p) for p in where if p != SETTINGS_KEY]
    if not parts:
        return "the settings"
    text = parts[0]
    for part in parts[1:]:
        text += f"[{part}]" if part.isdigit() else f".{part}"
    return f"setting {text}"


def _article(kind: Any) -> str:
    if isinstance(kind, list):
        return " or ".join(_article(k) for k in kind)
    return {"integer": "a whole number", "object": "an object", "array": "an array", "string": "a string"}.get(
        str(kind), f"of type {kind}"
    )
