"""Policy settings and data files are typed by schemas/policy-settings.schema.json,
and a mistake is reported at its line and column (exit 2)."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mlci.errors import InputError
from mlci.policy.json_positions import load_json
from mlci.policy.pack import load_pack
from mlci.policy.settings import read_data_file, settings_schema
from tests.conftest import ROOT


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "data.json"
    path.write_text(text)
    return path


def _refused(tmp_path: Path, text: str) -> InputError:
    with pytest.raises(InputError) as raised:
        read_data_file(_write(tmp_path, text))
    return raised.value


def test_the_shipped_settings_are_valid() -> None:
    loaded = read_data_file(ROOT / "policies" / "settings.json")
    assert loaded.settings["min_production_approvers"] == 2


def test_every_setting_the_policies_read_is_in_the_schema() -> None:
    known = set(settings_schema()["$defs"]["settings"]["properties"])
    read = {m for path in (ROOT / "policies").glob("*.rego") for m in re.findall(r'setting\("(\w+)"', path.read_text())}
    assert read and read <= known
    assert set(json.loads((ROOT / "policies" / "settings.json").read_text())) <= known


@pytest.mark.parametrize(
    ("text", "line", "column", "phrase"),
    [
        ('{\n  "min_production_approvers": "2"\n}', 2, 31, "must be a whole number"),
        ('{\n\t"max_retention_days": 1825,\n\t"max_waiver_days": "forever"\n}', 3, 21, "max_waiver_days"),
        ('{"max_waiver_days": 0}', 1, 21, "at least 1"),
        ('{"min_production_approvers": true}', 1, 30, "whole number"),
        ('{"allowed_regions": {"eu": "eu-west-1"}}', 1, 28, "allowed_regions.eu must be an array"),
        ('{"allowed_regions": {"eu": ["eu-west-1", 7]}}', 1, 42, "allowed_regions.eu[1] must be a string"),
        ('{"mlci_settings": {\n  "min_production_approver": 2}}', 2, 3, "unknown setting 'min_production_approver'"),
        ('{"mlci_settings": {}, "mlci_runtime": {"today": "2099-01-01"}}', 1, 23, "reserved"),
        ('{"mlci_settings": []}', 1, 19, "must be an object"),
        ("[1, 2]", 1, 1, "expected a JSON object"),
        ('{"min_production_approvers": 2,}', 1, 32, "invalid JSON"),
    ],
)
def test_a_mistake_is_reported_at_its_position(tmp_path: Path, text: str, line: int, column: int, phrase: str) -> None:
    error = _refused(tmp_path, text)
    assert (error.location.line, error.location.column) == (line, column), error.message
    assert phrase in error.message


def test_organisation_data_beside_the_settings_is_passed_through(tmp_path: Path) -> None:
    text = '{"mlci_settings": {"max_retention_days": 365}, "org": {"teams": ["a"]}}'
    pack = load_pack(data_files=(_write(tmp_path, text),))
    data = pack.data("2026-11-22")
    assert data["org"] == {"teams": ["a"]}
    assert data["mlci_settings"]["max_retention_days"] == 365
    assert data["mlci_runtime"] == {"today": "2026-11-22"}


def test_organisation_data_may_not_shadow_a_policy_package(tmp_path: Path) -> None:
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "k8s.rego").write_text("package org.k8s\n\nimport rego.v1\n\ndeny contains 1 if false\n")
    with pytest.raises(InputError, match="clashes with the policy package org"):
        load_pack((policies,), (_write(tmp_path, '{"mlci_settings": {}, "org": {"teams": []}}'),))
    with pytest.raises(InputError, match="reserved for mlci"):
        load_pack(data_files=(_write(tmp_path, '{"mlci_settings": {}, "mlci": {"gdpr": {}}}'),))


def test_json_positions_follow_tabs_nesting_and_unicode() -> None:
    text = '{\n\t"a": [1, {"b": "é"}],\n\t"c": {"d": null}\n}'
    document = load_json(text)
    assert document.values[("a", 1, "b")] == (2, 17)
    assert document.keys[("c", "d")] == (3, 8)
    assert document.value_at(("c", "missing")) == (3, 7)


@pytest.mark.parametrize(
    ("text", "where", "problem"),
    [
        ('{"mlci_settings": {}, "org": {"x": NaN}}', (1, 36), "numbers must be finite"),
        ('{"mlci_settings": {}, "org": {"x": -1e999}}', (1, 36), "numbers must be finite"),
        ('{"mlci_settings": {},\n "org": {"x": [1, Infinity]}}', (2, 19), "numbers must be finite"),
        ('{"mlci_settings": {"min_production_approvers": 3, "min_production_approvers": 0}}', (1, 51), "duplicate key"),
        ('{"mlci_settings": {}, "org": {"x": 1, "x": 2}}', (1, 39), "duplicate key"),
    ],
)
def test_data_that_json_accepts_but_engines_cannot_carry_is_refused_at_its_position(
    tmp_path: Path, text: str, where: tuple[int, int], problem: str
) -> None:
    # A duplicate key would let the last value silently win over the one a reviewer reads first.
    error = _refused(tmp_path, text)
    assert (error.location.line, error.location.column) == where
    assert problem in error.problem
