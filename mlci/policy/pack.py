"""The set of Rego modules and data one check runs with: the built-in pack,
the organisation's own policies (`--policies DIR`) and policy data (`--data`)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.errors import UserError
from mlci.policy.metadata import MetadataError, RuleMeta, index_metadata
from mlci.resources import data_dir

SETTINGS_FILE = "settings.json"


@dataclass
class PolicyPack:
    modules: dict[str, str]  # file name -> Rego source (no *_test.rego)
    tests: dict[str, str]  # file name -> Rego source of *_test.rego
    settings: dict[str, Any]
    rules: dict[tuple[str, str], RuleMeta] = field(default_factory=dict)

    def data(self, today: str) -> dict[str, Any]:
        """The data document: settings and the clock, so rules never read time themselves."""
        return {"mlci_settings": self.settings, "mlci_runtime": {"today": today}}


def load_pack(extra_dirs: tuple[Path, ...] = (), data_files: tuple[Path, ...] = ()) -> PolicyPack:
    modules: dict[str, str] = {}
    tests: dict[str, str] = {}
    settings: dict[str, Any] = {}
    builtin = data_dir("policies")
    for directory, label in [(builtin, "mlci"), *((d, str(d)) for d in extra_dirs)]:
        if not directory.is_dir():
            raise UserError(f"{directory}: --policies needs a folder of .rego files")
        for path in sorted(directory.rglob("*.rego")):
            key = f"{label}/{path.relative_to(directory).as_posix()}"
            target = tests if path.name.endswith("_test.rego") else modules
            target[key] = _read(path)
        settings_file = directory / SETTINGS_FILE
        if settings_file.is_file():
            settings = _deep_merge(settings, _read_json(settings_file))
    for data_file in data_files:
        loaded = _read_json(data_file)
        # A data file may hold the settings directly or under "mlci_settings".
        settings = _deep_merge(settings, loaded.get("mlci_settings", loaded))
    try:
        rules = index_metadata(modules)
    except MetadataError as exc:
        raise UserError(f"policy metadata: {exc}") from None
    return PolicyPack(modules=modules, tests=tests, settings=settings, rules=rules)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read: {exc}") from None


def _read_json(path: Path) -> dict[str, Any]:
    text = _read(path)
    try:
        value = json.loads(text)
    except json.JSONDecodeError as exc:
        raise UserError(f"{path}:{exc.lineno}:{exc.colno}: invalid JSON: {exc.msg}") from None
    if not isinstance(value, dict):
        raise UserError(f"{path}:1:1: expected a JSON object")
    return value


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
