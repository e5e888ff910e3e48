"""Organisation policies (`--policies DIR`) fail closed, on every engine: conftest's
conventions work unchanged, and what mlci cannot interpret is refused (exit 2 at the
Rego file's line and column, or exit 3 when only the value shows it), never skipped."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import judges
from tests.conftest import FIXTURES, ROOT, require_tool

POLICIES = FIXTURES / "policies"
SPEC = ROOT / "examples" / "iris-classifier" / "mlproject.yaml"
TODAY = "2026-11-22"


@pytest.fixture(params=["embedded", "opa"])
def engine(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    if request.param == "opa":
        monkeypatch.setenv("MLCI_OPA", require_tool(judges.tool("opa"), "opa"))
    return str(request.param)


def _check(cli, engine: str, *args: str):
    result = cli("check", str(SPEC), "--now", TODAY, "-o", "json", "--engine", engine, *args)
    assert "Traceback" not in result.stderr
    return result


def _findings(result) -> list[tuple[str, str, str, int]]:
    found = json.loads(result.stdout)["findings"]
    return sorted((f["rule_id"], f["severity"], f["message"], f["line"]) for f in found)


# fixture folder -> the findings (rule id, severity, message, line in the spec)
FIRING = {
    "main_deny": [("main.deny", "high", "team ml-platform may not ship from here", 3)],
    "main_violation": [("main.violation", "high", "the team needs a cost centre", 8)],
    "main_warn": [("main.warn", "info", "iris-classifier is a demo project", 3)],
    "deny_named": [
        ("main.deny_latest_tag", "high", "environment production is checked", 3),
        ("main.deny_latest_tag", "high", "environment staging is checked", 3),
    ],
    "boolean_deny": [("main.deny", "high", "main.deny", 3)],
    "object_deny": [("main.deny", "high", "owner alice must not approve", 3)],
    "helper_value": [("mlci.org.deny", "high", "the org rule fired", 3)],
    "any_package": [("org.kubernetes.violation", "high", "org.kubernetes violation", 3)],
    "metadata_without_id": [("main.deny_cost_centre", "medium", "no cost centre", 5)],
    "message_overrides": [("ORG-001", "critical", "overridden", 3)],
}


@pytest.mark.parametrize("folder", sorted(FIRING))
def test_conftest_style_rules_fire(cli, engine: str, folder: str) -> None:
    result = _check(cli, engine, "--policies", str(POLICIES / folder), "--fail-on", "info")
    assert result.exit_code == 1, result.stderr
    assert _findings(result) == sorted(FIRING[folder])


def test_warn_rules_warn_without_failing_unless_asked(cli, engine: str) -> None:
    # conftest: warn does not fail; --fail-on info is its --fail-on-warn.
    relaxed = _check(cli, engine, "--policies", str(POLICIES / "main_warn"))
    assert relaxed.exit_code == 0, relaxed.stderr
    assert _findings(relaxed) == sorted(FIRING["main_warn"])
    strict = _check(cli, engine, "--policies", str(POLICIES / "main_warn"), "--fail-on", "info")
    assert strict.exit_code == 1, strict.stderr


def test_a_violation_object_sets_its_remediation(cli, engine: str) -> None:
    result = _check(cli, engine, "--policies", str(POLICIES / "message_overrides"))
    (finding,) = json.loads(result.stdout)["findings"]
    assert finding["remediation"] == "Fix it."


def test_metadata_without_id_titles_a_conftest_rule(cli, engine: str) -> None:
    result = _check(cli, engine, "--policies", str(POLICIES / "metadata_without_id"))
    (finding,) = json.loads(result.stdout)["findings"]
    assert finding["remediation"] == "Add a cost centre."


def test_organisation_data_beside_the_settings_reaches_the_rules(cli, engine: str) -> None:
    folder = POLICIES / "org_data"
    result = _check(cli, engine, "--policies", str(folder), "--data", str(folder / "data.json"))
    assert result.exit_code == 1, result.stderr
    assert _findings(result) == [("main.deny", "high", "team ml-platform is restricted", 3)]


# fixture folder -> (line, column) in policy.rego and a phrase of the message
REFUSED = {
    "refuse_metadata_without_id": (5, 1, "has METADATA but no custom.id"),
    "refuse_id_on_function": (9, 1, "function"),
    "refuse_constant": (5, 1, "constant"),
    "refuse_nested_head": (5, 1, "nested rule head"),
    "refuse_waiver_days": (10, 22, "max_waiver_days must be a positive whole number"),
    "refuse_severity": (9, 15, "severity must be one of"),
    "refuse_controls": (9, 15, "controls must be a list of strings"),
    "refuse_conftest_exception": (9, 1, "record a waiver"),
}


@pytest.mark.parametrize("folder", sorted(REFUSED))
def test_what_mlci_cannot_interpret_is_refused_at_its_line(cli, engine: str, folder: str) -> None:
    line, column, phrase = REFUSED[folder]
    policy = POLICIES / folder / "policy.rego"
    result = _check(cli, engine, "--policies", str(POLICIES / folder))
    assert result.exit_code == 2, result.stderr
    assert f"{policy}:{line}:{column}: " in result.stderr
    assert phrase in result.stderr


@pytest.mark.parametrize("folder", ["undecided_number", "undecided_set_of_numbers"])
def test_a_value_mlci_cannot_map_is_exit_3_naming_the_rule(cli, engine: str, folder: str) -> None:
    result = _check(cli, engine, "--policies", str(POLICIES / folder))
    assert result.exit_code == 3, result.stderr
    assert "main.deny" in result.stderr


def test_a_setting_of_the_wrong_type_is_exit_2_at_its_position(cli, engine: str) -> None:
    data = POLICIES / "data" / "approvers_as_string.json"
    result = _check(cli, engine, "--data", str(data))
    assert result.exit_code == 2, result.stderr
    assert f"{data}:3:33: setting min_production_approvers must be a whole number" in result.stderr


def test_settings_json_of_a_policies_folder_is_typed(cli, engine: str) -> None:
    folder = POLICIES / "settings_string"
    result = _check(cli, engine, "--policies", str(folder))
    assert result.exit_code == 2, result.stderr
    assert f"{folder / 'settings.json'}:2:31: setting min_production_approvers" in result.stderr


def test_a_misspelt_setting_is_exit_2(cli, engine: str) -> None:
    data = POLICIES / "settings_unknown_key" / "data.json"
    result = _check(cli, engine, "--data", str(data))
    assert result.exit_code == 2, result.stderr
    assert f"{data}:3:5: unknown setting 'max_retention_day'" in result.stderr


def test_max_waiver_days_setting_must_be_a_number(cli, engine: str) -> None:
    data = POLICIES / "data" / "waiver_days_as_word.json"
    result = _check(cli, engine, "--data", str(data))
    assert result.exit_code == 2, result.stderr
    assert f"{data}:1:21: setting max_waiver_days must be a whole number" in result.stderr


def test_a_decision_that_misses_a_rule_is_undecided(tmp_path: Path) -> None:
    from mlci.errors import PolicyEngineError
    from mlci.loader import load_spec
    from mlci.policy.evaluate import findings_for
    from mlci.policy.pack import load_pack

    pack = load_pack((POLICIES / "main_deny",))
    spec = load_spec(SPEC, "mlproject.yaml")
    complete = {key: False for key in pack.expected_keys}
    assert findings_for(spec, complete, pack, "test") == []
    del complete["main.deny"]
    with pytest.raises(PolicyEngineError, match=r"main\.deny"):
        findings_for(spec, complete, pack, "test")


def test_the_decision_module_lists_every_evaluated_rule() -> None:
    from mlci.policy.pack import load_pack

    pack = load_pack((POLICIES / "helper_value", POLICIES / "object_deny"))
    assert {"mlci.org.deny", "main.deny", "mlci.gdpr.legal_basis_required"} <= pack.expected_keys
    assert "mlci.org.msg" not in pack.expected_keys
    assert pack.decision_query == "data.mlci_decision.rules"


def test_a_message_echoing_control_characters_is_decided_on_every_engine(cli, engine: str, tmp_path: Path) -> None:
    # regopy writes control characters inside strings raw; they must still read as one message.
    value = 'a\nb\x01c\u2028d "q" \\ e'
    spec = tmp_path / "mlproject.yaml"
    spec.write_text(SPEC.read_text(encoding="utf-8") + f"\n# {len(value)}\n", encoding="utf-8")
    text = spec.read_text(encoding="utf-8").replace(
        "\n  description:", f"\n  description: {json.dumps(value)}\n  x_old_description:", 1
    )
    spec.write_text(text.replace("\n  x_old_description:", "\n  # old:"), encoding="utf-8")
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "echo.rego").write_text(
        'package main\nimport rego.v1\n\ndeny contains m if { m := sprintf("desc %s", [input.project.description]) }\n',
        encoding="utf-8",
    )
    result = cli("check", str(spec), "--now", TODAY, "-o", "json", "--engine", engine, "--policies", str(policies))
    assert result.exit_code == 1, result.stderr
    messages = [f["message"] for f in json.loads(result.stdout)["findings"] if f["rule_id"] == "main.deny"]
    assert messages == [f"desc {value}"]


def test_a_spec_value_echoed_by_a_rule_cannot_rewrite_the_decision(cli, engine: str, tmp_path: Path) -> None:
    # The decision document is printed as JSON by the engine: a value that closes the string and
    # repeats a key (the parser keeps the last one) must stay one string, never empty another rule.
    forged = 'x"], "main.deny_a": [], "main.deny_z": ["y'
    spec = tmp_path / "mlproject.yaml"
    spec.write_text(
        SPEC.read_text(encoding="utf-8").replace(
            "\n  description:", f"\n  description: {json.dumps(forged)}\n  # was:", 1
        ),
        encoding="utf-8",
    )
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "forge.rego").write_text(
        "package main\nimport rego.v1\n\n"
        'deny_a contains "always fires"\n\n'
        "deny_z contains m if { m := input.project.description }\n",
        encoding="utf-8",
    )
    result = cli("check", str(spec), "--now", TODAY, "-o", "json", "--engine", engine, "--policies", str(policies))
    assert result.exit_code == 1, result.stderr
    found = sorted(
        (f["rule_id"], f["message"]) for f in json.loads(result.stdout)["findings"] if f["rule_id"].startswith("main.")
    )
    assert found == [("main.deny_a", "always fires"), ("main.deny_z", forged)]
