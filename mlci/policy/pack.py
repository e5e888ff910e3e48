"""The set of Rego modules and data one check runs with: the built-in pack,
the organisation's own policies (`--policies DIR`) and policy data (`--data`).

The contract between the pack and every engine:

- `pack.modules` holds every module to load, including a generated one
  (`DECISION_MODULE`, package `mlci_decision`) that gathers the rules mlci evaluates.
- An engine evaluates `pack.decision_query` (`data.mlci_decision.rules`) once per
  input, with `pack.data(today)` as the data document, and returns its value: an
  object with one key per rule, `package.rule` (e.g. `mlci.gdpr.legal_basis_required`,
  `main.deny`).
- `pack.expected_keys` are those keys. The generated module gives every key a
  value on every input (`false` when the rule is undefined), so a decision that
  is not an object, or lacks any expected key, was not made over the whole pack:
  the engine raises PolicyEngineError (exit 3), never a pass.
- `evaluate.py` maps each key's value back to findings through `pack.decision_rules`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.errors import InputError, UserError
from mlci.policy.decision import (
    DECISION_MODULE,
    DECISION_PACKAGE,
    DECISION_QUERY,
    PackRule,
    decision_module,
    index_rules,
    refuse_rules_in_tests,
)
from mlci.policy.metadata import RuleMeta
from mlci.policy.settings import DataFile, read_data_file
from mlci.resources import data_dir

SETTINGS_FILE = "settings.json"
SETTINGS_DATA_KEYS = ("mlci_settings", "mlci_runtime")  # data every check sets, whatever its files
_PACKAGE = re.compile(r"^[ \t]*package[ \t]+([A-Za-z_][A-Za-z0-9_.]*)", re.MULTILINE)


@dataclass
class PolicyPack:
    modules: dict[str, str]  # file name -> Rego source (no *_test.rego), with the decision module
    tests: dict[str, str]  # file name -> Rego source of *_test.rego
    settings: dict[str, Any]
    rules: dict[tuple[str, str], RuleMeta] = field(default_factory=dict)  # (package, rule) -> metadata
    decision_rules: dict[str, PackRule] = field(default_factory=dict)  # decision key -> rule
    decision_query: str = DECISION_QUERY
    extra_data: dict[str, Any] = field(default_factory=dict)  # organisation data from --data files

    @property
    def expected_keys(self) -> frozenset[str]:
        """The keys the value of `decision_query` must hold, one per evaluated rule."""
        return frozenset(self.decision_rules)

    def data(self, today: str) -> dict[str, Any]:
        """The data document: settings and the clock, so rules never read time themselves."""
        return {**self.extra_data, "mlci_settings": self.settings, "mlci_runtime": {"today": today}}


def load_pack(extra_dirs: tuple[Path, ...] = (), data_files: tuple[Path, ...] = ()) -> PolicyPack:
    modules: dict[str, str] = {}
    tests: dict[str, str] = {}
    settings: dict[str, Any] = {}
    data_sources: list[DataFile] = []
    builtin = data_dir("policies")
    for directory, label in [(builtin, "mlci"), *((d, str(d)) for d in extra_dirs)]:
        if not directory.is_dir():
            raise UserError(f"{directory}: --policies needs a folder of .rego files")
        for path in sorted(directory.rglob("*.rego")):
            key = f"{label}/{path.relative_to(directory).as_posix()}"
            target = tests if path.name.endswith("_test.rego") else modules
            if key in modules or key in tests or key == DECISION_MODULE:
                raise UserError(f"{path}: has the same name as a module already loaded ({key}); rename the folder")
            target[key] = _read(path)
        settings_file = directory / SETTINGS_FILE
        if settings_file.is_file():
            data_sources.append(read_data_file(settings_file))
    data_sources += [read_data_file(path) for path in data_files]
    decision_rules = index_rules(modules)
    refuse_rules_in_tests(tests)
    roots = {name.split(".")[0] for name in packages_of(modules)}
    extra_data: dict[str, Any] = {}
    for source in data_sources:
        settings = _deep_merge(settings, source.settings)
        for key, value in source.extra_data.items():
            if key in roots:
                raise InputError(source.key_locations[key], f"data key {key!r} clashes with the policy package {key}")
            extra_data[key] = (
                _deep_merge(extra_data[key], value) if _both_objects(extra_data.get(key), value) else value
            )
    rules = {(r.package, r.name): r.meta for r in decision_rules.values()}
    modules[DECISION_MODULE] = decision_module(decision_rules)
    return PolicyPack(
        modules=modules,
        tests=tests,
        settings=settings,
        rules=rules,
        decision_rules=decision_rules,
        extra_data=extra_data,
    )


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{path}: cannot read: {exc}") from None


def packages_of(modules: dict[str, str]) -> set[str]:
    found = {match.group(1).removeprefix("data.") for source in modules.values() for match in _PACKAGE.finditer(source)}
    return found | {DECISION_PACKAGE}


def _both_objects(a: Any, b: Any) -> bool:
    return isinstance(a, dict) and isinstance(b, dict)


def _deep_merge(base: dict[str, Any], override: dict[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in override.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = _deep_merge(out[key], value)
        else:
            out[key] = value
    return out
