"""`--changed-since REF` checks only the projects a change touched, found with git in a real repository."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlci.changed import changed_files, touched_projects
from mlci.errors import UserError
from tests.conftest import FIXTURES, ROOT

GOOD = ROOT / "examples" / "iris-classifier" / "mlproject.yaml"
FAILING = FIXTURES / "policy" / "MLCI-EVAL-001.yaml"

pytestmark = pytest.mark.skipif(shutil.which("git") is None, reason="needs git")


def _git(repo: Path, *args: str) -> str:
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.org"}
    env |= {"GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.org", "GIT_CONFIG_GLOBAL": os.devnull}
    return subprocess.run(["git", *args], cwd=repo, env=env, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """Three projects and a policy folder, committed on `main`."""
    root = tmp_path / "repo"
    for name in ("alpha", "beta", "gamma"):
        (root / "projects" / name).mkdir(parents=True)
        (root / "projects" / name / "mlproject.yaml").write_bytes(GOOD.read_bytes())
        (root / "projects" / name / "requirements.txt").write_text("numpy==2.4.6\n", encoding="utf-8")
    (root / "policies").mkdir()
    (root / "policies" / "org.rego").write_text("package mlci.org\nimport rego.v1\n", encoding="utf-8")
    _git(root, "init", "-q", "-b", "main")
    _git(root, "add", "-A")
    _git(root, "commit", "-q", "-m", "start")
    return root


def _specs(repo: Path) -> list[Path]:
    return sorted((repo / "projects").glob("*/mlproject.yaml"))


def _names(specs: list[Path]) -> list[str]:
    return [spec.parent.name for spec in specs]


def test_nothing_changed_touches_no_project(repo: Path) -> None:
    assert touched_projects(_specs(repo), changed_files("main", repo), [repo / "policies"]) == []


def test_an_edited_referenced_file_touches_its_project_only(repo: Path) -> None:
    (repo / "projects" / "beta" / "requirements.txt").write_text("numpy\n", encoding="utf-8")
    touched = touched_projects(_specs(repo), changed_files("main", repo), [repo / "policies"])
    assert _names(touched) == ["beta"]


def test_staged_committed_untracked_and_renamed_files_all_count(repo: Path) -> None:
    _git(repo, "checkout", "-q", "-b", "feature")
    (repo / "projects" / "alpha" / "notes.md").write_text("new\n", encoding="utf-8")  # untracked
    _git(repo, "mv", "projects/gamma/requirements.txt", "projects/gamma/reqs.txt")  # staged rename
    _git(repo, "commit", "-q", "-m", "rename")
    changed = changed_files("main", repo)
    assert repo.resolve() / "projects" / "gamma" / "requirements.txt" in changed  # the old side of the rename
    assert _names(touched_projects(_specs(repo), changed, [repo / "policies"])) == ["alpha", "gamma"]


def test_a_policy_change_touches_every_project(repo: Path) -> None:
    (repo / "policies" / "org.rego").write_text("package mlci.org\nimport rego.v1\n# edited\n", encoding="utf-8")
    touched = touched_projects(_specs(repo), changed_files("main", repo), [repo / "policies"])
    assert _names(touched) == ["alpha", "beta", "gamma"]


def test_paths_are_found_from_a_subfolder_of_the_repository(repo: Path) -> None:
    (repo / "projects" / "alpha" / "requirements.txt").write_text("numpy\n", encoding="utf-8")
    changed = changed_files("main", repo / "projects" / "beta")
    assert _names(touched_projects(_specs(repo), changed, [])) == ["alpha"]


@pytest.mark.parametrize("ref", ["no-such-branch", "--output=/tmp/x", ""])
def test_an_unknown_ref_is_a_user_error(repo: Path, ref: str) -> None:
    with pytest.raises(UserError, match="--changed-since"):
        changed_files(ref, repo)


def test_outside_a_git_repository_is_a_user_error(tmp_path: Path) -> None:
    (tmp_path / "plain").mkdir()
    env_ceiling = os.environ.get("GIT_CEILING_DIRECTORIES")
    os.environ["GIT_CEILING_DIRECTORIES"] = str(tmp_path)  # never find a repository above the test folder
    try:
        with pytest.raises(UserError, match="not inside a git repository"):
            changed_files("main", tmp_path / "plain")
    finally:
        if env_ceiling is None:
            del os.environ["GIT_CEILING_DIRECTORIES"]
        else:
            os.environ["GIT_CEILING_DIRECTORIES"] = env_ceiling


def _check(repo: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "mlci", "check", "projects", "--now", "2026-11-22", "-o", "json", *args],
        cwd=repo,
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "GIT_CEILING_DIRECTORIES": str(repo.parent)},
    )


def test_check_changed_since_reports_only_the_touched_projects(repo: Path) -> None:
    (repo / "projects" / "beta" / "mlproject.yaml").write_bytes(FAILING.read_bytes())
    proc = _check(repo, "--changed-since", "main")
    assert proc.returncode == 1, proc.stderr
    report = json.loads(proc.stdout)
    assert {f["file"] for f in report["findings"]} == {"projects/beta/mlproject.yaml"}
    assert "1 of 3 project(s) changed" in proc.stderr
    # Without the option the other two projects are checked as well (and pass).
    assert _check(repo).returncode == 1


def test_check_changed_since_an_unknown_ref_is_exit_2(repo: Path) -> None:
    proc = _check(repo, "--changed-since", "no-such-branch")
    assert proc.returncode == 2
    assert "git knows no commit by that name" in proc.stderr and "Traceback" not in proc.stderr
