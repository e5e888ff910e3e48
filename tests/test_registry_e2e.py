"""The end-to-end bar of the model registry: a real `mlflow server` (SQLite backend, local
artifact root, 127.0.0.1) and gitlab-ci-local running the example's rendered push pipeline
three times. (1) The first model is registered and, after the promotion job, holds
`champion`; (2) a worse model (degraded params) fails the gate against the champion, naming
the metric and the margin, and nothing is registered or promoted; (3) a better model is
registered and promoted, and `champion` moves. Every assertion about the registry reads it
through MLflow's own client."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests import judges
from tests.conftest import ROOT, require_tool, run_cli
from tests.mlflow_server import mlflow_server

pytestmark = [pytest.mark.judges, pytest.mark.slow]

EXAMPLE = ROOT / "examples" / "iris-classifier"
GIT = ["git", "-c", "user.email=ci@example.invalid", "-c", "user.name=ci"]
# Params of the example found to score (on its fixed split) above every absolute threshold but
# more than max_regression (0.02 accuracy) below the first model: only the champion can stop it.
WORSE = ("n_estimators: 100\n    max_depth: 4\n", "n_estimators: 3\n    max_depth: 2\n")
# Another split seed: accuracy 1.0 on its held-out rows.
BETTER = ("random_state: 42\n", "random_state: 7\n")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_tool(judges.tool("gitlab-ci-local"), "gitlab-ci-local")
    with mlflow_server(tmp_path_factory.mktemp("mlflow-e2e")) as url:
        yield url


def _host_path() -> str:
    # The shell executor uses the host: the python running these tests has mlci (and the
    # example's requirements) installed, so the jobs' pip installs are already satisfied.
    return os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])


def _job_results(output: str) -> dict[str, str]:
    return {job: status for status, job in re.findall(r"^\s*(PASS|FAIL|WARN)\s+(\S+)\s*$", output, re.M)}


def _edit_and_commit(project: Path, edit: tuple[str, str]) -> None:
    spec = project / "mlproject.yaml"
    old, new = edit
    assert old in spec.read_text()
    spec.write_text(spec.read_text().replace(old, new))
    rendered = run_cli("render", str(project))  # the policy-check job checks the render is current
    assert rendered.exit_code == 0, rendered.stdout + rendered.stderr
    subprocess.run([*GIT, "commit", "-qam", f"params: {new.strip()}"], cwd=project, check=True)


def _pipeline(project: Path, server: str) -> judges.Verdict:
    """A default-branch push, up to the register job (build and deploy need a cluster)."""
    variables = {"MLFLOW_TRACKING_URI": server}
    return judges.gitlab_ci_local(project, variables, jobs=["register"], merge_request=False, path=_host_path())


def _promotion_job(project: Path, server: str) -> subprocess.CompletedProcess[str]:
    """The promote-production job alone, after the approval (its deploy needs a cluster); it
    takes the register job's artifacts (artifacts/registered.json) as in the pipeline."""
    cmd = [
        require_tool(judges.tool("gitlab-ci-local"), "gitlab-ci-local"), "--shell-executor-no-image",
        "--variable", "CI_PIPELINE_SOURCE=push", "--variable", f"MLFLOW_TRACKING_URI={server}",
        "--job", "promote-production",
    ]  # fmt: skip
    env = {**os.environ, "PATH": _host_path()}
    return subprocess.run(cmd, cwd=project, env=env, capture_output=True, text=True, timeout=600, check=False)


def test_three_pushes_register_gate_against_the_champion_and_move_it(server: str, tmp_path: Path) -> None:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=server, registry_uri=server)
    project = tmp_path / EXAMPLE.name
    shutil.copytree(EXAMPLE, project, ignore=shutil.ignore_patterns("artifacts", "__pycache__", ".mlci"))
    assert run_cli("render", str(project)).exit_code == 0
    for job in ("register", "promote-production"):
        assert f"\n{job}:\n" in (project / ".gitlab-ci.yml").read_text(), f"the rendered pipeline has no {job} job"

    # (1) The first model: no champion, absolute thresholds only; registered, then promoted.
    first = _pipeline(project, server)
    assert first.ok, first.output[-6000:]
    assert _job_results(first.output) == {
        "policy-check": "PASS", "train": "PASS", "evaluate": "PASS", "gate": "PASS", "register": "PASS",
    }  # fmt: skip
    assert "No champion: no version of iris-classifier holds the 'champion' alias" in first.output
    assert client.get_model_version_by_alias("iris-classifier", "challenger").version == "1"
    promoted = _promotion_job(project, server)
    assert promoted.returncode == 0, (promoted.stdout + promoted.stderr)[-4000:]
    champion = client.get_model_version_by_alias("iris-classifier", "champion")
    assert champion.version == "1"
    first_accuracy = client.get_run(champion.run_id).data.metrics["accuracy"]

    # (2) A worse model: above the thresholds, but too far below the champion.
    _edit_and_commit(project, WORSE)
    second = _pipeline(project, server)
    assert not second.ok
    results = _job_results(second.output)
    assert results["gate"] == "FAIL" and "register" not in {k for k, v in results.items() if v == "PASS"}
    found = re.search(
        r"accuracy = ([\d.]+) is ([\d.]+) worse than the champion \(version 1\) \(([\d.]+)\); "
        r"allowed 0\.02, over by ([\d.]+)",
        second.output,
    )
    assert found, second.output[-6000:]
    value, change, baseline, over = map(float, found.groups())
    assert baseline == pytest.approx(first_accuracy, abs=1e-6)
    assert change == pytest.approx(first_accuracy - value, abs=1e-6)
    assert over == pytest.approx(change - 0.02, abs=1e-6)
    assert [v.version for v in client.search_model_versions("name='iris-classifier'")] == ["1"]
    assert client.get_model_version_by_alias("iris-classifier", "champion").version == "1"

    # (3) A better model: registered as version 2, promoted, and the champion moves.
    _edit_and_commit(project, WORSE[::-1])
    _edit_and_commit(project, BETTER)
    third = _pipeline(project, server)
    assert third.ok, third.output[-6000:]
    assert "Baseline: the champion, iris-classifier version 1" in third.output
    assert client.get_model_version_by_alias("iris-classifier", "challenger").version == "2"
    assert client.get_model_version_by_alias("iris-classifier", "champion").version == "1"
    promoted = _promotion_job(project, server)
    assert promoted.returncode == 0, (promoted.stdout + promoted.stderr)[-4000:]
    assert "is now 'champion' (was version 1)" in promoted.stdout + promoted.stderr
    assert client.get_model_version_by_alias("iris-classifier", "champion").version == "2"
