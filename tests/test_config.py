"""The repository's configuration (.mlci.yaml or [tool.mlci]): found at the repository root,
validated as untrusted input, paths kept inside the repository, command-line options win."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.conftest import FIXTURES, ROOT, copy_spec

HIGH_FINDING = FIXTURES / "policy" / "MLCI-LIN-001.yaml"  # one high finding: MLCI-LIN-001
WAIVER = (
    'waivers:\n  - rule: MLCI-LIN-001\n    path: "$.datasets[0].*"\n    reason: Pinned in the next release, TICKET-7.\n'
    '    approved_by: grace\n    expires: "2026-12-15"\n'
)
ALWAYS_DENY = """package mlci.org

import rego.v1

# METADATA
# title: Organisation rule
# custom:
#   id: ORG-001
#   severity: critical
#   remediation: None; it always fails.
always_fails contains violation if {
	violation := {"msg": "organisation rule: always fails", "path": ["project"]}
}
"""


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A repository with one project that has a single high finding; the current folder is its root."""
    (tmp_path / ".git").mkdir()
    copy_spec(HIGH_FINDING, tmp_path / "project")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def _check(cli, *extra: str):
    return cli(*extra[:0], "check", "project", "--now", "2026-11-22", *extra)


def test_without_config_the_high_finding_fails(cli, repo: Path) -> None:
    assert _check(cli).exit_code == 1


@pytest.mark.parametrize(
    "name, text",
    [
        (".mlci.yaml", "fail-on: critical\n"),
        ("pyproject.toml", '[project]\nname = "x"\n\n[tool.mlci]\nfail-on = "critical"\n'),
    ],
)
def test_config_sets_fail_on_and_the_command_line_wins(cli, repo: Path, name: str, text: str) -> None:
    (repo / name).write_text(text)
    assert _check(cli).exit_code == 0
    assert _check(cli, "--fail-on", "high").exit_code == 1


def test_config_is_found_from_a_subfolder_of_the_repository(cli, repo: Path, monkeypatch) -> None:
    (repo / ".mlci.yaml").write_text("fail-on: critical\n")
    monkeypatch.chdir(repo / "project")
    assert cli("check", ".", "--now", "2026-11-22").exit_code == 0


def test_no_config_and_explicit_config(cli, repo: Path) -> None:
    (repo / ".mlci.yaml").write_text("fail-on: critical\n")
    assert cli("--no-config", "check", "project", "--now", "2026-11-22").exit_code == 1
    (repo / "other.yaml").write_text("fail-on: info\n")
    (repo / ".mlci.yaml").write_text("fail-on: critical\n")
    assert cli("--config", "other.yaml", "check", "project", "--now", "2026-11-22").exit_code == 1


def test_config_paths_are_relative_to_the_root_and_add_policies_data_and_waivers(cli, repo: Path, monkeypatch) -> None:
    (repo / "org").mkdir()
    (repo / "org" / "deny.rego").write_text(ALWAYS_DENY)
    (repo / "waivers.yaml").write_text(WAIVER)
    (repo / ".mlci.yaml").write_text("policies: [org]\nwaivers: waivers.yaml\n")
    monkeypatch.chdir(repo / "project")  # relative to the repository root, not the current folder
    result = cli("check", ".", "--now", "2026-11-22", "-o", "json")
    findings = json.loads(result.stdout)["findings"]
    assert {(f["rule_id"], f["status"]) for f in findings} >= {("MLCI-LIN-001", "waived")}
    assert any("organisation rule" in f["message"] for f in findings), findings
    assert result.exit_code == 1


def test_command_line_list_replaces_the_configured_one(cli, repo: Path) -> None:
    (repo / "org").mkdir()
    (repo / "org" / "deny.rego").write_text(ALWAYS_DENY)
    (repo / "empty").mkdir()
    (repo / ".mlci.yaml").write_text("policies: [org]\nfail-on: critical\n")
    assert _check(cli).exit_code == 1  # the organisation's rule fails
    assert _check(cli, "--policies", "empty").exit_code == 0


def test_debug_prints_where_each_setting_came_from(cli, repo: Path) -> None:
    (repo / ".mlci.yaml").write_text("# team settings\nengine: embedded\nfail-on: critical\n")
    result = cli("--debug", "check", "project", "--now", "2026-11-22", "--fail-on", "high")
    assert "setting fail_on=high from command line" in result.stderr
    assert "setting engine=embedded from .mlci.yaml:2:1" in result.stderr
    assert "setting waiver_files=(none) from default" in result.stderr


@pytest.mark.parametrize(
    "text, where, message",
    [
        ("fail-on: hgh\n", ".mlci.yaml:1:1", "did you mean 'high'"),
        ("engine: opa-server\n", ".mlci.yaml:1:1", "'opa-server' is not one of"),
        ("policies: org\nopa-url: http://evil.example\n", ".mlci.yaml:2:1", "unknown key 'opa-url'"),
        ("policies: [../outside]\n", ".mlci.yaml:1:12", "points outside the repository"),
        ("data:\n  - ok.json\n  - /etc/passwd\n", ".mlci.yaml:3:5", "relative to the repository root"),
        ("waivers: [missing.yaml]\n", ".mlci.yaml:1:11", "no such file"),
        ("policies: [link]\n", ".mlci.yaml:1:12", "points outside the repository"),
        ("fail-on: [high\n", ".mlci.yaml:2:1", ""),
        ("- fail-on\n", ".mlci.yaml:1:1", "expected a mapping"),
        ("a: &a [*a, *a]\n", ".mlci.yaml", ""),
    ],
)
def test_invalid_config_is_exit_2_at_its_position(cli, repo: Path, text: str, where: str, message: str) -> None:
    (repo / "ok.json").write_text("{}")
    (repo / "link").symlink_to(repo.parent)
    (repo / ".mlci.yaml").write_text(text)
    result = cli("check", "project")
    assert result.exit_code == 2, result.stderr
    assert f"mlci: {where}" in result.stderr and message in result.stderr
    assert "Traceback" not in result.stderr


def test_invalid_pyproject_table_is_exit_2_at_the_key(cli, repo: Path) -> None:
    (repo / "pyproject.toml").write_text('[project]\nname = "x"\n\n[tool.mlci]\nengine = "embedded"\nfailon = "low"\n')
    result = cli("check", "project")
    assert result.exit_code == 2
    assert "mlci: pyproject.toml:6:1: unknown key 'failon'" in result.stderr


def test_a_pyproject_without_the_table_is_no_config(cli, repo: Path) -> None:
    (repo / "pyproject.toml").write_text('[project]\nname = "mlci"\n\n[project.scripts]\nmlci = "mlci.cli:main"\n')
    assert _check(cli).exit_code == 1


def test_symlinked_config_and_two_configs_are_refused(cli, repo: Path) -> None:
    (repo.parent / "elsewhere.yaml").write_text("fail-on: critical\n")
    (repo / ".mlci.yaml").symlink_to(repo.parent / "elsewhere.yaml")
    result = cli("check", "project")
    assert result.exit_code == 2 and "symbolic link leading out of the repository" in result.stderr
    (repo / ".mlci.yaml").unlink()
    (repo / "inside.yaml").write_text("fail-on: critical\n")
    (repo / ".mlci.yaml").symlink_to(repo / "inside.yaml")
    assert _check(cli).exit_code == 0  # a link that stays inside the repository is read
    (repo / ".mlci.yaml").unlink()
    (repo / ".mlci.yaml").write_text("fail-on: critical\n")
    (repo / "pyproject.toml").write_text('[tool.mlci]\nfail-on = "low"\n')
    result = cli("check", "project")
    assert result.exit_code == 2 and "both configure mlci" in result.stderr


def test_config_does_not_affect_commands_that_do_not_read_it(cli, repo: Path) -> None:
    (repo / ".mlci.yaml").write_text("bogus: true\n")
    assert cli("validate", "project").exit_code == 0
    assert cli("schema").exit_code == 0


def test_policy_test_uses_the_configured_policy_folders(cli, repo: Path) -> None:
    (repo / "org").mkdir()
    (repo / "org" / "deny.rego").write_text(ALWAYS_DENY)
    (repo / "org" / "deny_test.rego").write_text(
        "package mlci.org_test\n\nimport rego.v1\n\ntest_org_rule_is_loaded if count(data.mlci.org.always_fails) == 1\n"
    )
    (repo / ".mlci.yaml").write_text("policies: [org]\n")
    result = cli("policy", "test", "-v")
    assert "PASS: data.mlci.org_test.test_org_rule_is_loaded" in result.stdout, result.stdout


def test_the_repository_has_no_config_of_its_own() -> None:
    """The tests run from this checkout: a config here would change every other test's defaults."""
    assert not (ROOT / ".mlci.yaml").exists()
    assert "[tool.mlci]" not in (ROOT / "pyproject.toml").read_text()
