"""Positions and plain data from the round-trip loader."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci.errors import InputError
from mlci.loader import parse_spec_text

SPEC = """\
apiVersion: mlci/v1
project:
  name: demo
  owners: [alice]
datasets:
  - name: a
    uri: data/a.csv
  - name: b
    uri: data/b.csv
    expires: 2026-12-01
"""


def _load(text: str):
    return parse_spec_text(text, Path("mlproject.yaml"), "mlproject.yaml")


def test_positions_of_keys_and_items() -> None:
    spec = _load(SPEC)
    assert (spec.location(("project", "name")).line, spec.location(("project", "name")).column) == (3, 3)
    assert spec.location(("datasets", 1)).line == 8
    assert spec.location(("datasets", 1, "uri")).line == 9


def test_missing_key_points_at_its_parent() -> None:
    spec = _load(SPEC)
    assert spec.location(("datasets", 0, "sha256")).line == 6
    assert spec.location(("project", "team")).line == 2


def test_dates_become_iso_strings_and_data_is_plain() -> None:
    spec = _load(SPEC)
    assert spec.data["datasets"][1]["expires"] == "2026-12-01"
    assert type(spec.data) is dict and type(spec.data["datasets"]) is list


def test_digest_is_stable_across_formatting() -> None:
    reformatted = SPEC.replace("owners: [alice]", "owners:\n    - alice")
    assert _load(SPEC).digest == _load(reformatted).digest
    assert _load(SPEC).digest != _load(SPEC.replace("demo", "other")).digest


def test_non_string_keys_are_rejected_with_position() -> None:
    with pytest.raises(InputError) as caught:
        _load("apiVersion: mlci/v1\n? [a, b]\n: x\n")
    assert caught.value.location.line == 2


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("!!timestamp 2026-02-30", "cannot read this value"),
        ("2026-02-30", "cannot read this value"),
        ("!!int 0x_", "cannot read this value"),
        ("!!bool maybe", "cannot read this value"),
        ("!custom x", "cannot read this value"),
        ("!!python/object/apply:os.system [id]", "cannot read this value"),
        (".inf", "numbers must be finite"),
        ("-.inf", "numbers must be finite"),
        (".nan", "numbers must be finite"),
    ],
)
def test_values_the_safe_constructor_refuses_are_input_errors_at_their_position(value: str, problem: str) -> None:
    with pytest.raises(InputError) as caught:
        _load(f"apiVersion: mlci/v1\nproject:\n  name: x\n  depth: {value}\n")
    assert (caught.value.location.line, caught.value.location.column) == (4, 10)
    assert problem in caught.value.problem


@pytest.mark.parametrize("merged", ["1", "*name", "[*map, 2]"])
def test_a_merge_key_must_merge_mappings(merged: str) -> None:
    with pytest.raises(InputError) as caught:
        _load(f"apiVersion: mlci/v1\nname: &name x\nmap: &map {{a: 1}}\nproject:\n  name: x\n  <<: {merged}\n")
    assert "'<<' must merge mappings" in caught.value.problem
