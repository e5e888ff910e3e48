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
from collections.abc import Sequence
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


def load_pack(
    extra_sources: Sequence[str | Path] = (), data_files: tuple[Path, ...] = (), policy_key: Path | None = None
) -> PolicyPack:
    """The built-in pack plus every `--policies` source (folder, bundle, pinned git URL;
    see sources/), and the `--data` files. Bundles are verified (with `policy_key` when given)
    before anything of them is read."""
    from mlci.policy.sources import VerificationKey, folder_source, open_source

    modules: dict[str, str] = {}
    tests: dict[str, str] = {}
    settings: dict[str, Any] = {}
    data_sources: list[DataFile] = []
    verification_key = VerificationKey.read(policy_key) if policy_key is not None else None
    builtin = folder_source(data_dir("policies"), "mlci")
    sources = [builtin, *(open_source(entry, verification_key) for entry in extra_sources)]
    for source in sources:
        for relative, text in source.rego.items():
            name = f"{source.label}/{relative}"
            target = tests if relative.endswith("_test.rego") else modules
            if name in modules or name in tests or name == DECISION_MODULE:
                raise UserError(f"{name}: has the same name as a module already loaded; rename the folder")
            target[name] = text
        data_sources += source.data
    data_sources += [read_data_file(path) for path in data_files]
    decision_rules = index_rules(modules)
    refuse_rules_in_tests(tests)
    roots = {name.split(".")[0] for name in packages_of(modules)}
    extra_data: dict[str, Any] = {}
    for data_file in data_sources:
        settings = _deep_merge(settings, data_file.settings)
        for key, value in data_file.extra_data.items():
            if key in roots:
                clash = f"data key {key!r} clashes with the policy package {key}"
                raise InputError(data_file.key_locations[key], clash)
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
