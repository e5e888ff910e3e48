"""`mlci report --framework`: the control matrix comes from a real evaluation of the
pack (the check's own engines and waivers), in Markdown and JSON, with the check's exit codes."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import ROOT, copy_spec

FIXTURES = ROOT / "tests" / "fixtures" / "policy"
CREDIT = ROOT / "examples" / "credit-risk" / "mlproject.yaml"
IRIS = ROOT / "examples" / "iris-classifier" / "mlproject.yaml"


def _json(cli, *args: str, expect: int) -> dict:
    result = cli("report", *args, "--format", "json", "--now", "2026-11-22")
    assert result.exit_code == expect, result.stdout + result.stderr
    return json.loads(result.stdout)


def _statuses(matrix: dict, project_suffix: str) -> dict[str, str]:
    out = {}
    for row in matrix["controls"]:
        (project,) = [p for p in row["projects"] if p.endswith(project_suffix)]
        out[row["control"]] = row["projects"][project]["status"]
    return out


def _fixture(tmp_path: Path, name: str) -> Path:
    folder = tmp_path / name
    copy_spec(FIXTURES / f"{name}.yaml", folder)
    return folder


def test_examples_pass_gdpr_and_iris_is_out_of_scope(cli) -> None:
    matrix = _json(cli, "--framework", "gdpr", str(ROOT / "examples"), expect=0)
    assert matrix["framework"] == "gdpr" and matrix["passed"] is True
    controls = {row["control"]: row for row in matrix["controls"]}
    # Mapped from the rules' METADATA, not from a list in mlci.
    assert "MLCI-GDPR-006" in controls["GDPR Art. 9"]["rules"]
    assert "MLCI-GDPR-001" in controls["GDPR Art. 6(1)"]["rules"]
    assert all(c.startswith("GDPR ") for c in controls)
    assert set(_statuses(matrix, "credit-risk/mlproject.yaml").values()) == {"pass"}
    # iris holds no personal data: GDPR does not apply to it.
    assert set(_statuses(matrix, "iris-classifier/mlproject.yaml").values()) == {"not applicable"}


def test_failing_control_exits_1_and_names_the_rule_and_line(cli, tmp_path: Path) -> None:
    folder = _fixture(tmp_path, "MLCI-GDPR-010")
    matrix = _json(cli, "--framework", "gdpr", str(folder), expect=1)
    assert matrix["passed"] is False
    statuses = _statuses(matrix, "mlproject.yaml")
    assert statuses["GDPR Art. 9(2)"] == "fail"
    assert statuses["GDPR Art. 6(1)"] == "pass"  # other controls of the same project keep their status
    row = next(r for r in matrix["controls"] if r["control"] == "GDPR Art. 9(2)")
    (findings,) = [p["findings"] for p in row["projects"].values()]
    assert {(f["rule_id"], f["line"]) for f in findings} == {("MLCI-GDPR-010", 25)}


def test_eu_ai_act_failing_control(cli, tmp_path: Path) -> None:
    folder = _fixture(tmp_path, "MLCI-AIA-005")
    matrix = _json(cli, "--framework", "eu-ai-act", str(folder), expect=1)
    assert all(row["control"].startswith("EU AI Act ") for row in matrix["controls"])
    failed = {c for c, s in _statuses(matrix, "mlproject.yaml").items() if s == "fail"}
    rules = {r["control"]: r["rules"] for r in matrix["controls"]}
    assert failed and all("MLCI-AIA-005" in rules[c] for c in failed)


def test_waived_control_is_waived_and_exit_0(cli, tmp_path: Path) -> None:
    text = CREDIT.read_text().replace("    legal_basis: legitimate_interests\n", "")
    waiver = (
        '    - rule: MLCI-GDPR-001\n      path: "$.datasets[0].*"\n'
        "      reason: Legal review under way, ticket LEGAL-42.\n"
        '      approved_by: grace\n      expires: "2026-12-15"\n'
    )
    copy_spec(CREDIT, tmp_path, text.replace("  waivers: []\n", "  waivers:\n" + waiver))
    matrix = _json(cli, "--framework", "gdpr", str(tmp_path), expect=0)
    statuses = _statuses(matrix, "mlproject.yaml")
    assert statuses["GDPR Art. 6(1)"] == "waived"
    assert statuses["GDPR Art. 5(1)(e)"] == "pass"


def test_markdown_is_the_default_and_writes_through_o(cli, tmp_path: Path) -> None:
    folder = _fixture(tmp_path, "MLCI-GDPR-010")
    shown = cli("report", "--framework", "GDPR", str(folder), "--now", "2026-11-22")
    assert shown.exit_code == 1, shown.stderr
    assert shown.stdout.startswith("# mlci control matrix: GDPR")
    assert "| GDPR Art. 9(2) | MLCI-GDPR-010 | fail |" in shown.stdout
    assert "| GDPR Art. 6(1) | MLCI-GDPR-001 | pass |" in shown.stdout
    out = tmp_path / "matrix.md"
    written = cli("report", "--framework", "gdpr", str(folder), "--now", "2026-11-22", "-o", str(out))
    assert written.exit_code == 1 and written.stdout == ""
    assert out.read_text() == shown.stdout


def test_untrusted_project_text_cannot_break_the_markdown_table(cli, tmp_path: Path) -> None:
    folder = tmp_path / "a|b<script>"
    copy_spec(CREDIT, folder)
    shown = cli("report", "--framework", "gdpr", str(folder), "--now", "2026-11-22")
    assert shown.exit_code == 0, shown.stderr
    assert "<script>" not in shown.stdout
    header = next(line for line in shown.stdout.splitlines() if line.startswith("| Control"))
    assert header.replace("\\|", "").count("|") == 4  # control, rules, one project: 3 cells


@pytest.mark.parametrize("framework", ["hipaa", "", "gdpr "])
def test_unknown_framework_is_exit_2(cli, framework: str) -> None:
    result = cli("report", "--framework", framework, str(IRIS))
    if framework.strip().lower() == "gdpr":
        assert result.exit_code == 0, result.stderr
        return
    assert result.exit_code == 2
    assert "--framework" in result.stderr and "gdpr" in result.stderr


def test_invalid_spec_is_exit_2_without_a_matrix(cli, tmp_path: Path) -> None:
    (tmp_path / "mlproject.yaml").write_text("apiVersion: mlci/v1\nproject: [\n")
    result = cli("report", "--framework", "gdpr", str(tmp_path))
    assert result.exit_code == 2
    assert result.stdout == ""
    assert "mlproject.yaml:" in result.stderr
