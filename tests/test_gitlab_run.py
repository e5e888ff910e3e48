"""The rendered GitLab pipeline of the scikit-learn example runs for real (gitlab-ci-local,
shell executor) as a default-branch push: policy check, train, evaluate and gate pass and
leave the model, the metrics and the blessing; a model that misses its gate fails the gate
job and nothing is built or deployed."""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import judges
from tests.conftest import ROOT, require_tool, run_cli

pytestmark = pytest.mark.judges

EXAMPLE = ROOT / "examples" / "iris-classifier"


def _rendered_copy(tmp_path: Path, edit: tuple[str, str] | None = None) -> Path:
    folder = tmp_path / EXAMPLE.name
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    if edit:
        spec = folder / "mlproject.yaml"
        old, new = edit
        assert old in spec.read_text()
        spec.write_text(spec.read_text().replace(old, new))
    result = run_cli("render", str(folder))
    assert result.exit_code == 0, result.stdout + result.stderr
    return folder


def _host_path() -> str:
    # The shell executor uses the host: the python running these tests has this mlci installed,
    # so the jobs' `pip install mlci==<version>` is already satisfied and needs no index.
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def _job_results(output: str) -> dict[str, str]:
    """The pipeline summary gitlab-ci-local prints last: job name -> PASS/FAIL/WARN."""
    return {job: status for status, job in re.findall(r"^\s*(PASS|FAIL|WARN)\s+(\S+)\s*$", output, re.M)}


@pytest.fixture(autouse=True)
def _gitlab_ci_local() -> None:
    require_tool(judges.tool("gitlab-ci-local"), "gitlab-ci-local")


def test_default_branch_push_trains_evaluates_and_blesses(tmp_path: Path) -> None:
    project = _rendered_copy(tmp_path)
    verdict = judges.gitlab_ci_local(project, {}, jobs=["gate"], merge_request=False, path=_host_path())
    assert verdict.ok, verdict.output[-6000:]
    assert _job_results(verdict.output) == {
        "policy-check": "PASS",
        "train": "PASS",
        "evaluate": "PASS",
        "gate": "PASS",
    }

    exported = project / ".gitlab-ci-local" / "artifacts"
    model = exported / "train" / "artifacts" / "model.joblib"
    metrics = exported / "evaluate" / "artifacts" / "metrics.json"
    blessing = exported / "gate" / "artifacts" / "blessing.json"
    for artifact in (model, metrics, blessing):
        assert artifact.is_file(), f"{artifact.relative_to(project)} is not among the job artifacts"

    # The blessing is of this very model and these metrics: what build-image checks.
    document = json.loads(blessing.read_text())
    assert document["blessed"] is True
    assert document["model_sha256"] == hashlib.sha256(model.read_bytes()).hexdigest()
    assert document["metrics"] == json.loads(metrics.read_text())
    assert f'"model_sha256": "{document["model_sha256"]}"' in blessing.read_text()


def test_a_missed_gate_fails_the_gate_job_and_nothing_deploys(tmp_path: Path) -> None:
    # Stricter than the model can reach; re-rendered, so the policy check's `render --check` passes.
    project = _rendered_copy(tmp_path, edit=("threshold: 0.9\n", "threshold: 0.999\n"))
    # Even approved, nothing after the failed gate runs.
    approved = ["deploy-production"]
    verdict = judges.gitlab_ci_local(project, {}, merge_request=False, path=_host_path(), manual=approved)
    assert not verdict.ok
    results = _job_results(verdict.output)
    assert results == {"policy-check": "PASS", "train": "PASS", "evaluate": "PASS", "gate": "FAIL"}, verdict.output[
        -6000:
    ]
    assert re.search(r"gate/accuracy accuracy = [0-9.]+ misses the threshold 0\.999", verdict.output)
    assert not any(job.startswith(("register", "build-image", "deploy-", "promote-")) for job in results)
    assert not (project / ".gitlab-ci-local" / "artifacts" / "gate" / "artifacts" / "blessing.json").exists()
    assert not (project / "artifacts" / "blessing.json").exists()


def _git(folder: Path, *args: str) -> None:
    subprocess.run(["git", "-c", "user.email=ci@example.invalid", "-c", "user.name=ci", *args], cwd=folder, check=True)


def test_monorepo_merge_requests_run_only_for_the_changed_project(tmp_path: Path) -> None:
    """rules:changes against the target branch: gitlab-ci-local diffs with origin/main."""
    repo = tmp_path / "repo"
    (repo / "projects").mkdir(parents=True)
    (repo / "README.md").write_text("# monorepo\n")
    _git(repo, "init", "-q", "-b", "main")
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "base")
    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    _git(repo, "remote", "add", "origin", "https://gitlab.example.invalid/group/project.git")
    project = repo / "projects" / EXAMPLE.name
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    result = run_cli("render", str(project), "--out", str(repo))
    assert result.exit_code == 0, result.stdout + result.stderr
    _git(repo, "add", "-A")
    _git(repo, "commit", "-qm", "the project and its pipelines")

    changed = judges.gitlab_ci_local(repo, {}, path=_host_path())
    assert changed.ok, changed.output[-6000:]
    assert _job_results(changed.output) == {"policy-check": "PASS"}
    assert "mlci check projects/iris-classifier/mlproject.yaml" in changed.output

    _git(repo, "update-ref", "refs/remotes/origin/main", "HEAD")
    (repo / "README.md").write_text("# monorepo\n\nAnother project's change.\n")
    _git(repo, "commit", "-qam", "not this project")
    unrelated = judges.gitlab_ci_local(repo, {}, path=_host_path())
    assert unrelated.ok, unrelated.output[-6000:]
    assert _job_results(unrelated.output) == {}
