"""Waivers: valid ones waive (and stay visible), expired or invalid ones fail
again and are reported, unused ones are reported; the clock comes from --now."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, copy_spec

BASE = (ROOT / "examples" / "credit-risk" / "mlproject.yaml").read_text()


def _project(tmp_path: Path, waivers: str) -> Path:
    text = BASE.replace("    legal_basis: legitimate_interests\n", "")
    assert "  waivers: []\n" in text
    spec = text.replace("  waivers: []\n", "  waivers:\n" + waivers)
    copy_spec(ROOT / "examples" / "credit-risk" / "mlproject.yaml", tmp_path, spec)
    return tmp_path


def _waiver(
    rule: str = "MLCI-GDPR-001", path: str = "$.datasets[0].*", by: str = "grace", expires: str = "2026-12-15"
) -> str:
    return (
        f'    - rule: {rule}\n      path: "{path}"\n      reason: Legal review under way, ticket LEGAL-42.\n'
        f'      approved_by: {by}\n      expires: "{expires}"\n'
    )


def _check(cli, folder: Path, now: str = "2026-11-22", *extra: str) -> tuple[int, list[dict]]:
    result = cli("check", str(folder), "--now", now, "-o", "json", *extra)
    assert result.exit_code in (0, 1), result.stderr
    return result.exit_code, json.loads(result.stdout)["findings"]


def test_valid_waiver_waives_and_stays_in_the_report(cli, tmp_path: Path) -> None:
    code, findings = _check(cli, _project(tmp_path, _waiver()))
    assert code == 0
    assert [(f["rule_id"], f["status"]) for f in findings] == [("MLCI-GDPR-001", "waived")]
    assert findings[0]["extra"]["approved_by"] == "grace"


def test_expired_waiver_fails_again_and_is_reported(cli, tmp_path: Path) -> None:
    code, findings = _check(cli, _project(tmp_path, _waiver()), "2026-12-16")
    assert code == 1
    assert sorted((f["rule_id"], f["status"]) for f in findings) == [
        ("MLCI-GDPR-001", "failed"),
        ("MLCI-WAIVER-001", "failed"),
    ]


@pytest.mark.parametrize(
    ("by", "expires", "why"),
    [
        ("erin", "2026-12-15", "an owner or author"),
        ("Erin", "2026-12-15", "an owner or author"),  # the same person, whatever the case
        ("FRANK", "2026-12-15", "an owner or author"),
        ("erin@acme-bank.eu", "2026-12-15", "an owner or author"),  # a login and its e-mail address
        ("grace", "2027-11-01", "the rule allows at most 90"),
    ],
)
def test_invalid_waiver_waives_nothing(cli, tmp_path: Path, by: str, expires: str, why: str) -> None:
    code, findings = _check(cli, _project(tmp_path, _waiver(by=by, expires=expires)))
    assert code == 1
    waiver = next(f for f in findings if f["rule_id"] == "MLCI-WAIVER-002")
    assert why in waiver["message"]
    assert waiver["line"] > 100  # it points at the waiver in the spec
    assert any(f["rule_id"] == "MLCI-GDPR-001" and f["status"] == "failed" for f in findings)


def test_path_glob_is_literal_about_brackets(cli, tmp_path: Path) -> None:
    code, findings = _check(cli, _project(tmp_path, _waiver(path="$.datasets[1].*")))
    assert code == 1
    assert ("MLCI-WAIVER-003", "info") in [(f["rule_id"], f["severity"]) for f in findings]


def test_waivers_file_applies_to_every_project(cli, tmp_path: Path) -> None:
    project = _project(tmp_path / "p", "")
    (project / "mlproject.yaml").write_text((project / "mlproject.yaml").read_text().replace("  waivers:\n", ""))
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n" + _waiver().replace("    - ", "  - ").replace("\n      ", "\n    "))
    code, findings = _check(cli, project, "2026-11-22", "--waivers", str(waivers))
    assert code == 0, findings
    assert findings[0]["status"] == "waived"


def test_malformed_waivers_file_is_exit_2_with_position(cli, tmp_path: Path) -> None:
    waivers = tmp_path / "waivers.yaml"
    waivers.write_text("waivers:\n  - rule: MLCI-GDPR-001\n    reason: too short\n")
    result = cli("check", str(ROOT / "examples" / "iris-classifier"), "--waivers", str(waivers))
    assert result.exit_code == 2
    assert "waivers.yaml:3:5: invalid waiver: 'too short' is too short" in result.stderr


def test_the_people_directory_makes_an_e_mail_address_an_author(cli, tmp_path: Path) -> None:
    """The spec's governance.people and the settings' people map logins to e-mail addresses."""
    waiver = _waiver(by="f.meyer@acme-bank.eu")
    project = _project(tmp_path / "spec", waiver)
    spec = project / "mlproject.yaml"
    code, findings = _check(cli, project)
    assert code == 0  # nobody says who f.meyer is: the waiver is valid
    directory = "governance:\n  people:\n    frank: F.Meyer@acme-bank.eu\n"
    spec.write_text(spec.read_text().replace("governance:\n", directory))
    code, findings = _check(cli, project)
    assert code == 1
    assert "an owner or author" in next(f for f in findings if f["rule_id"] == "MLCI-WAIVER-002")["message"]
    settings = tmp_path / "people.json"
    settings.write_text(json.dumps({"mlci_settings": {"people": {"Frank ": "f.meyer@acme-bank.eu"}}}))
    project = _project(tmp_path / "plain", waiver)
    code, findings = _check(cli, project, "2026-11-22", "--data", str(settings))
    assert code == 1
    assert any(f["rule_id"] == "MLCI-WAIVER-002" for f in findings)
