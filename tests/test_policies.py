"""The policy pack on the embedded engine: one violating fixture per rule yields
exactly that rule at the expected line; the examples yield nothing."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from mlci.policy.pack import load_pack
from tests.conftest import EXAMPLES, FIXTURES, ROOT, copy_spec

POLICY_FIXTURES = sorted((FIXTURES / "policy").glob("*.yaml"))
EXPECT = re.compile(r"^# expect: (\S+) (\d+)")
TODAY = "2026-11-22"


def _check_json(cli, *args: str) -> tuple[int, list[dict]]:
    result = cli("check", *args, "--now", TODAY, "-o", "json")
    assert "Traceback" not in result.stderr
    return result.exit_code, json.loads(result.stdout)["findings"] if result.stdout else []


def test_examples_pass_every_policy(cli, example: Path) -> None:
    code, findings = _check_json(cli, str(example))
    assert findings == []
    assert code == 0


def test_every_rule_has_a_violating_fixture() -> None:
    ids = {meta.id for meta in load_pack().rules.values()}
    covered = {path.stem for path in POLICY_FIXTURES}
    assert ids, "the built-in pack has no annotated rules"
    assert ids <= covered, f"rules without a fixture: {sorted(ids - covered)}"


@pytest.mark.parametrize("fixture", POLICY_FIXTURES, ids=[p.stem for p in POLICY_FIXTURES])
def test_fixture_fires_exactly_its_rule_at_its_line(cli, fixture: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    match = EXPECT.match(fixture.read_text().splitlines()[0])
    assert match, f"{fixture.name} must start with '# expect: RULE-ID LINE'"
    rule_id, line = match[1], int(match[2])
    monkeypatch.chdir(fixture.parent)
    code, findings = _check_json(cli, fixture.name)
    assert code == 1
    assert [(f["rule_id"], f["line"]) for f in findings] == [(rule_id, line)], findings
    finding = findings[0]
    assert finding["file"] == fixture.name
    assert finding["remediation"] and finding["severity"] in {"critical", "high", "medium", "low", "info"}


def test_rule_metadata_is_complete() -> None:
    for meta in load_pack().rules.values():
        assert re.fullmatch(r"MLCI-[A-Z]+-\d{3}", meta.id), meta.id
        assert meta.title and meta.remediation and meta.controls, meta.id


def test_policy_unit_tests_pass_on_the_embedded_engine(cli, tmp_path: Path) -> None:
    junit = tmp_path / "policy.xml"
    result = cli("policy", "test", "--junit", str(junit))
    assert result.exit_code == 0, result.stdout
    assert re.search(r"\d+ passed, 0 failed", result.stdout)
    assert 'failures="0"' in junit.read_text()


def test_a_failing_rego_test_fails(cli, tmp_path: Path) -> None:
    (tmp_path / "broken_test.rego").write_text(
        "package mlci.org_test\nimport rego.v1\ntest_always_fails if { 1 == 2 }\n"
    )
    result = cli("policy", "test", "--policies", str(tmp_path))
    assert result.exit_code == 1
    assert "FAIL: data.mlci.org_test.test_always_fails" in result.stdout


def test_organisation_policies_are_added(cli, tmp_path: Path) -> None:
    (tmp_path / "org.rego").write_text("""package mlci.org
import rego.v1

# METADATA
# title: Projects name a team
# custom:
#   id: ORG-TEAM-001
#   severity: medium
#   controls: ["Org standard 4.2"]
#   remediation: Set project.team.
team_required contains {"msg": "project.team is required here", "path": ["project"]} if {
  not input.project.team
}
""")
    iris = ROOT / "examples" / "iris-classifier" / "mlproject.yaml"
    spec = copy_spec(iris, tmp_path / "p", iris.read_text().replace("  team: ml-platform\n", ""))
    code, findings = _check_json(cli, str(spec), "--policies", str(tmp_path))
    assert code == 1
    assert [(f["rule_id"], f["line"]) for f in findings] == [("ORG-TEAM-001", 5)]


def test_a_broken_policy_of_the_users_is_exit_2_at_its_line_never_a_pass(cli, tmp_path: Path) -> None:
    (tmp_path / "broken.rego").write_text("package mlci.broken\nimport rego.v1\ndeny contains x if {\n")
    result = cli("check", str(EXAMPLES[0]), "--policies", str(tmp_path))
    assert result.exit_code == 2
    assert f"{tmp_path}/broken.rego:3:" in result.stderr


def test_fail_on_threshold(cli, tmp_path: Path) -> None:
    fixture = next(p for p in POLICY_FIXTURES if "SUP" in p.stem or "LIN" in p.stem)
    code, findings = _check_json(cli, str(fixture), "--fail-on", "critical")
    severities = {f["severity"] for f in findings}
    assert code == (1 if "critical" in severities else 0)


def test_parallel_evaluation_equals_serial() -> None:
    from mlci.loader import load_spec
    from mlci.policy.engines import EmbeddedEngine
    from mlci.policy.evaluate import evaluate_specs

    pack = load_pack()
    specs = [load_spec(p, p.name) for p in POLICY_FIXTURES] * 2
    serial = EmbeddedEngine(workers=1)
    parallel = EmbeddedEngine(workers=2)
    parallel.parallel_threshold = 2
    assert evaluate_specs(parallel, pack, specs, TODAY) == evaluate_specs(serial, pack, specs, TODAY)


def test_rego_that_crashes_the_embedded_engine_fails_cleanly(cli, tmp_path: Path) -> None:
    """regopy 1.5.2 segfaults on `with input as` around builtins: a test package that does
    so fails with a reason, and check refuses such policies with exit 3, never a crash."""
    source = (
        "package mlci.org_test\nimport rego.v1\ndoubled := input.x * 2\n"
        'test_doubled if { doubled == 4 with input as {"x": 2} }\n'
    )
    (tmp_path / "org_test.rego").write_text(source)
    tested = cli("policy", "test", "--policies", str(tmp_path))
    assert tested.exit_code == 1
    assert "FAIL: data.mlci.org_test.test_doubled" in tested.stdout and "crashed" in tested.stdout
    assert "104 passed" in tested.stdout or " passed, 1 failed" in tested.stdout
    (tmp_path / "org_test.rego").rename(tmp_path / "org.rego")
    checked = cli("check", str(ROOT / "examples" / "iris-classifier"), "--policies", str(tmp_path))
    assert checked.exit_code == 3
    assert "--engine opa" in checked.stderr
