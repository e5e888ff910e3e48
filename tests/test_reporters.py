"""The report formats, produced by the real CLI on violating fixtures and judged
by what reads them: the SARIF 2.1.0 JSON Schema, an XML parser, GitHub's
workflow-command syntax and GitLab's Code Quality keys.

tests/schemas/sarif-2.1.0.json is the OASIS SARIF 2.1.0 JSON Schema, verbatim from
oasis-tcs/sarif-spec, Documents/CommitteeSpecifications/2.1.0/sarif-schema-2.1.0.json."""

from __future__ import annotations

import json
import re
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import jsonschema
import pytest

from mlci.reporters import REPORTERS
from mlci.reporters.github import escape_data, escape_property
from tests.conftest import EXAMPLES, FIXTURES, ROOT, copy_spec

TODAY = "2026-11-22"
SARIF_SCHEMA = json.loads((Path(__file__).parent / "schemas" / "sarif-2.1.0.json").read_text(encoding="utf-8"))
POLICY_FIXTURES = sorted((FIXTURES / "policy").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\S+) (\d+)")
GDPR_001 = FIXTURES / "policy" / "MLCI-GDPR-001.yaml"  # critical, at line 14
ANNOTATION = re.compile(r"^::(error|warning|notice) file=([^,:]+),line=(\d+),col=(\d+),title=([^,:]+)::(.+)$")
WAIVER = """\
  waivers:
    - rule: MLCI-GDPR-001
      path: "$.datasets[0].*"
      reason: "Legal basis under review by the DPO, ticket DPO-42"
      approved_by: oscar
      expires: "2026-12-01"
"""


@pytest.fixture(autouse=True)
def _no_step_summary(monkeypatch: pytest.MonkeyPatch) -> None:
    # When the suite itself runs on GitHub Actions, the github reporter must not write to the real summary.
    monkeypatch.delenv("GITHUB_STEP_SUMMARY", raising=False)


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The GDPR-001 fixture as ./mlproject.yaml of a scratch folder we work in."""
    spec = copy_spec(GDPR_001, tmp_path)  # with the documents it references (MLCI-EVI-001)
    monkeypatch.chdir(tmp_path)
    return spec


@pytest.fixture
def reports_of(cli, tmp_path: Path):
    """Run one command writing each format to its own file; return format -> text."""

    def run(command: str, *args: str, formats: tuple[str, ...], expect: int) -> dict[str, str]:
        out = tmp_path / "reports"
        options = [opt for fmt in formats for opt in ("-o", f"{fmt}={out / fmt}")]
        extra = ("--now", TODAY) if command == "check" else ()
        result = cli(command, *args, *extra, *options)
        assert "Traceback" not in result.stderr
        assert result.exit_code == expect, result.stdout + result.stderr
        return {fmt: (out / fmt).read_text(encoding="utf-8") for fmt in formats}

    return run


def _validate_sarif(text: str) -> dict:
    log = json.loads(text)
    jsonschema.Draft7Validator(SARIF_SCHEMA).validate(log)
    run = log["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert len(rules) == len({r["id"] for r in rules})
    for result in run["results"]:
        assert rules[result["ruleIndex"]]["id"] == result["ruleId"]
        region = result["locations"][0]["physicalLocation"]["region"]
        assert region["startLine"] >= 1 and region["startColumn"] >= 1
    return log


def test_every_format_is_registered() -> None:
    assert set(REPORTERS) >= {"text", "json", "sarif", "junit", "github", "gitlab", "markdown"}


def test_sarif_schema_is_the_official_2_1_0() -> None:
    jsonschema.Draft7Validator.check_schema(SARIF_SCHEMA)
    assert SARIF_SCHEMA["title"] == "Static Analysis Results Format (SARIF) Version 2.1.0 JSON Schema"
    assert SARIF_SCHEMA["properties"]["version"]["enum"] == ["2.1.0"]


@pytest.mark.parametrize("fixture", POLICY_FIXTURES, ids=[p.stem for p in POLICY_FIXTURES])
def test_sarif_of_each_policy_fixture_validates_and_points_at_the_line(
    reports_of, fixture: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    rule_id, line = EXPECT.match(fixture.read_text().splitlines()[0]).groups()  # type: ignore[union-attr]
    monkeypatch.chdir(tmp_path)
    relative = fixture.relative_to(ROOT).as_posix()
    shutil.copytree(fixture.parent, tmp_path / fixture.parent.relative_to(ROOT))
    log = _validate_sarif(reports_of("check", relative, formats=("sarif",), expect=1)["sarif"])

    run = log["runs"][0]
    assert run["tool"]["driver"]["name"] == "mlci"
    assert run["tool"]["driver"]["informationUri"].startswith("https://")
    [result] = run["results"]
    assert result["ruleId"] == rule_id
    location = result["locations"][0]["physicalLocation"]
    assert location["artifactLocation"]["uri"] == relative  # relative, forward slashes
    assert location["region"]["startLine"] == int(line)
    rule = run["tool"]["driver"]["rules"][result["ruleIndex"]]
    assert rule["helpUri"].startswith("https://") and rule["help"]["text"]
    assert rule["shortDescription"]["text"] and rule["fullDescription"]["text"]
    assert float(rule["properties"]["security-severity"]) > 0
    assert "security" in rule["properties"]["tags"]
    assert set(rule["properties"]["controls"]) <= set(rule["properties"]["tags"])
    assert re.fullmatch(r"[0-9a-f]{64}", result["partialFingerprints"]["mlciFingerprint/v1"])


def test_sarif_maps_severity_to_level_and_security_severity(reports_of, project: Path) -> None:
    log = _validate_sarif(reports_of("check", "mlproject.yaml", formats=("sarif",), expect=1)["sarif"])
    run = log["runs"][0]
    [result] = run["results"]
    assert result["level"] == "error"  # critical
    rule = run["tool"]["driver"]["rules"][result["ruleIndex"]]
    assert rule["properties"]["security-severity"] == "9.5"
    assert "GDPR Art. 6(1)" in rule["properties"]["tags"]
    expected = {"critical": ("error", "9.5"), "high": ("error", "8.0"), "medium": ("warning", "5.5")}
    expected |= {"low": ("note", "3.0"), "info": ("note", "1.0")}
    for rule in run["tool"]["driver"]["rules"]:
        severity = rule["properties"]["severity"]
        assert (rule["defaultConfiguration"]["level"], rule["properties"]["security-severity"]) == expected[severity]


@pytest.mark.parametrize(("fixture", "rule_id"), [("duplicate_key.yaml", "syntax"), ("wrong_type.yaml", "schema")])
def test_sarif_of_invalid_input_validates(
    reports_of, fixture: str, rule_id: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(FIXTURES / "specs" / "invalid")
    reports = reports_of("validate", fixture, formats=("sarif", "github", "gitlab", "junit", "markdown"), expect=2)
    log = _validate_sarif(reports["sarif"])
    assert {r["ruleId"] for r in log["runs"][0]["results"]} == {rule_id}
    assert rule_id in {r["id"] for r in log["runs"][0]["tool"]["driver"]["rules"]}
    assert all(ANNOTATION.match(line) for line in reports["github"].splitlines()[:-1])
    assert ET.fromstring(reports["junit"]).get("failures") != "0"


def test_sarif_without_findings_validates(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(ROOT)
    result = cli("check", "examples", "--now", TODAY, "-o", f"sarif={tmp_path / 'out.sarif'}")
    assert result.exit_code == 0, result.stderr
    log = _validate_sarif((tmp_path / "out.sarif").read_text())
    assert log["runs"][0]["results"] == []
    assert log["runs"][0]["tool"]["driver"]["rules"]  # the rules that were checked are still described


def test_fingerprints_survive_a_line_inserted_above(reports_of, project: Path) -> None:
    before = reports_of("check", "mlproject.yaml", formats=("sarif", "gitlab"), expect=1)
    lines = project.read_text().splitlines(keepends=True)
    project.write_text("".join([*lines[:4], "\n", *lines[4:]]))  # a blank line after the header comments
    after = reports_of("check", "mlproject.yaml", formats=("sarif", "gitlab"), expect=1)

    [old], [new] = (json.loads(r["sarif"])["runs"][0]["results"] for r in (before, after))
    assert new["locations"][0]["physicalLocation"]["region"]["startLine"] == 15
    assert old["locations"][0]["physicalLocation"]["region"]["startLine"] == 14
    assert new["partialFingerprints"] == old["partialFingerprints"]
    [old_issue], [new_issue] = (json.loads(r["gitlab"]) for r in (before, after))
    assert (old_issue["location"]["lines"]["begin"], new_issue["location"]["lines"]["begin"]) == (14, 15)
    assert new_issue["fingerprint"] == old_issue["fingerprint"]


def test_fingerprints_differ_between_findings(reports_of, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES / "policy")
    reports = reports_of("check", "MLCI-GDPR-001.yaml", "MLCI-SUP-001.yaml", formats=("sarif", "gitlab"), expect=1)
    prints = [
        r["partialFingerprints"]["mlciFingerprint/v1"] for r in json.loads(reports["sarif"])["runs"][0]["results"]
    ]
    assert len(prints) == 2 and len(set(prints)) == 2
    assert len({issue["fingerprint"] for issue in json.loads(reports["gitlab"])}) == 2


def test_github_annotations_carry_file_line_and_col(reports_of, project: Path) -> None:
    reports = reports_of("check", "mlproject.yaml", formats=("github",), expect=1)
    *annotations, summary = reports["github"].splitlines()
    [line] = annotations
    match = ANNOTATION.match(line)
    assert match, line
    kind, file, row, col, title, message = match.groups()
    assert (kind, file, row, title) == ("error", "mlproject.yaml", "14", "MLCI-GDPR-001")
    assert int(col) >= 1
    assert "legal basis" in message and "%0AFix: " in message  # the remediation on a second line
    assert summary == "mlci check: 1 failing"


def test_github_escapes_data_and_properties() -> None:
    assert escape_data("50% done\r\nnext: a, b") == "50%25 done%0D%0Anext: a, b"
    assert escape_property("dir,a/b:c%\n") == "dir%2Ca/b%3Ac%25%0A"


def test_github_appends_the_markdown_report_to_the_step_summary(
    reports_of, project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    reports_of("check", "mlproject.yaml", formats=("github",), expect=1)
    text = summary.read_text()
    assert text.startswith("# earlier step\n")  # appended, not overwritten
    assert "❌ mlci check failed" in text and "`MLCI-GDPR-001`" in text


@pytest.mark.parametrize("order", ["github first", "markdown first"])
def test_github_and_markdown_to_the_step_summary_leave_one_report_whatever_the_order(
    cli, project: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, order: str
) -> None:
    """What the rendered workflows run: `-o github -o markdown="$GITHUB_STEP_SUMMARY"`. The github
    reporter appends the Markdown report to the summary and -o markdown writes the same file:
    one report survives, after the earlier steps' summaries, in either order."""
    summary = tmp_path / "summary.md"
    summary.write_text("# earlier step\n")
    monkeypatch.setenv("GITHUB_STEP_SUMMARY", str(summary))
    options = ["-o", "github", "-o", f"markdown={summary}"]
    if order == "markdown first":
        options = options[2:] + options[:2]
    result = cli("check", "mlproject.yaml", "--now", TODAY, *options)
    assert result.exit_code == 1, result.stdout + result.stderr
    assert ANNOTATION.match(result.stdout.splitlines()[0])
    text = summary.read_text()
    assert text.startswith("# earlier step\n")
    assert text.count("mlci check failed") == 1, text
    assert "`MLCI-GDPR-001`" in text


def test_two_different_reports_for_one_file_are_refused(cli, project: Path, tmp_path: Path) -> None:
    report = tmp_path / "report.out"
    result = cli("check", "mlproject.yaml", "-o", f"json={report}", "-o", f"sarif={report}")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "-o json and -o sarif" in result.stderr
    assert not report.exists()


def test_gitlab_code_quality_has_the_required_keys(reports_of, project: Path) -> None:
    [issue] = json.loads(reports_of("check", "mlproject.yaml", formats=("gitlab",), expect=1)["gitlab"])
    assert isinstance(issue["description"], str) and issue["description"]
    assert issue["check_name"] == "MLCI-GDPR-001"
    assert re.fullmatch(r"[0-9a-f]{64}", issue["fingerprint"])
    assert issue["severity"] == "blocker"  # critical
    assert issue["location"] == {"path": "mlproject.yaml", "lines": {"begin": 14}}


def test_junit_parses_and_counts_failures(reports_of, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES / "policy")
    reports = reports_of("check", "MLCI-GDPR-001.yaml", "MLCI-SUP-001.yaml", formats=("junit",), expect=1)
    root = ET.fromstring(reports["junit"])
    assert root.tag == "testsuites"
    assert (root.get("tests"), root.get("failures"), root.get("skipped")) == ("2", "2", "0")
    suites = {s.get("name"): s for s in root.iter("testsuite")}
    assert set(suites) == {"MLCI-GDPR-001.yaml", "MLCI-SUP-001.yaml"}  # one suite per file
    [case] = suites["MLCI-GDPR-001.yaml"].iter("testcase")
    failure = case.find("failure")
    assert failure is not None and failure.get("type") == "critical"
    assert case.get("name", "").startswith("MLCI-GDPR-001 ") and case.get("line") == "14"
    assert "MLCI-GDPR-001.yaml:14:" in (failure.text or "")


def test_junit_passes_with_a_testcase_per_file_when_clean(reports_of, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(ROOT)
    root = ET.fromstring(reports_of("check", "examples", formats=("junit",), expect=0)["junit"])
    assert root.get("failures") == "0"
    assert int(root.get("tests", "0")) == len(EXAMPLES)
    assert all(case.find("failure") is None for case in root.iter("testcase"))


def test_junit_agrees_with_fail_on(cli, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.chdir(FIXTURES / "policy")
    out = tmp_path / "junit.xml"
    result = cli("check", "MLCI-SUP-001.yaml", "--now", TODAY, "--fail-on", "critical", "-o", f"junit={out}")
    assert result.exit_code == 0  # a high finding under --fail-on critical
    root = ET.parse(out).getroot()
    assert (root.get("tests"), root.get("failures")) == ("1", "0")
    assert "below --fail-on critical" in (next(root.iter("system-out")).text or "")


def test_markdown_report(reports_of, project: Path) -> None:
    text = reports_of("check", "mlproject.yaml", formats=("markdown",), expect=1)["markdown"]
    assert "## ❌ mlci check failed: 1 finding to fix" in text
    assert "| Severity | Rule | Location | Message |" in text
    assert "`mlproject.yaml:14:5`" in text
    assert "### How to fix" in text and "legal_basis" in text


def test_waived_findings_stay_in_every_report_as_waived(reports_of, project: Path) -> None:
    project.write_text(project.read_text().replace("  waivers: []\n", WAIVER))
    formats = ("sarif", "junit", "github", "gitlab", "markdown", "json")
    reports = reports_of("check", "mlproject.yaml", formats=formats, expect=0)

    [result] = _validate_sarif(reports["sarif"])["runs"][0]["results"]
    [suppression] = result["suppressions"]
    assert suppression["kind"] == "external"
    assert suppression["justification"] == "Legal basis under review by the DPO, ticket DPO-42"
    root = ET.fromstring(reports["junit"])
    assert (root.get("failures"), root.get("skipped")) == ("0", "1")
    [line] = reports["github"].splitlines()[:-1]
    assert line.startswith("::notice file=mlproject.yaml,line=14,") and "Waived (Legal basis" in line
    [issue] = json.loads(reports["gitlab"])
    assert issue["severity"] == "info" and issue["description"].startswith("[waived: Legal basis")
    assert "## ✅ mlci check passed" in reports["markdown"] and "### Waived (1)" in reports["markdown"]
    assert "| oscar | 2026-12-01 |" in reports["markdown"]
    assert json.loads(reports["json"])["findings"][0]["status"] == "waived"


def test_gate_findings_in_every_format(reports_of, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = tmp_path / "iris"
    shutil.copytree(ROOT / "examples" / "iris-classifier", folder, ignore=shutil.ignore_patterns("artifacts"))
    (folder / "artifacts").mkdir()
    (folder / "artifacts" / "metrics.json").write_text('{"accuracy": 0.85, "f1_macro": 0.96, "roc_auc_ovr": 0.99}')
    monkeypatch.chdir(folder)
    reports = reports_of("gate", ".", formats=("sarif", "github", "gitlab", "junit"), expect=1)
    [result] = _validate_sarif(reports["sarif"])["runs"][0]["results"]
    assert result["ruleId"] == "gate/accuracy" and result["properties"]["source"] == "gate"
    assert ANNOTATION.match(reports["github"].splitlines()[0])
    assert json.loads(reports["gitlab"])[0]["check_name"] == "gate/accuracy"
    assert ET.fromstring(reports["junit"]).get("failures") == "1"


def test_reports_are_deterministic(reports_of, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(FIXTURES / "policy")
    formats = ("sarif", "junit", "github", "gitlab", "markdown", "json", "text")
    first = reports_of("check", "MLCI-GDPR-001.yaml", "MLCI-APR-001.yaml", formats=formats, expect=1)
    second = reports_of("check", "MLCI-APR-001.yaml", "MLCI-GDPR-001.yaml", formats=formats, expect=1)
    assert first == second
    assert not re.search(r"20\d\d-\d\d-\d\dT\d\d:", "".join(first.values()))  # no timestamps
