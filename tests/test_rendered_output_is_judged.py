"""Every example renders every target, and every independent judge accepts
every file with zero findings; the GitLab pipeline then runs for real."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path

import pytest

from tests import judges
from tests.conftest import EXAMPLES, require_tool

pytestmark = pytest.mark.judges

JUDGE_IDS = [(kind, name) for kind, entries in judges.JUDGES.items() for name, _, _ in entries]


@pytest.fixture(scope="module", params=EXAMPLES, ids=[p.name for p in EXAMPLES])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the example with everything rendered beside its code, as in a real repository."""
    from tests.conftest import run_cli

    folder = tmp_path_factory.mktemp("rendered") / request.param.name
    shutil.copytree(request.param, folder, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    result = run_cli("render", str(folder))
    assert result.exit_code == 0, result.stdout + result.stderr
    return folder


def test_every_target_is_rendered(rendered: Path) -> None:
    kinds = judges.classify(rendered)
    assert all(kinds[k] for k in ("github", "gitlab", "jenkins", "azure", "docker", "k8s")), kinds


@pytest.mark.parametrize(("kind", "judge"), JUDGE_IDS, ids=[f"{k}-{j}" for k, j in JUDGE_IDS])
def test_judge_has_zero_findings(rendered: Path, kind: str, judge: str) -> None:
    _, tool, run = next(entry for entry in judges.JUDGES[kind] if entry[0] == judge)
    require_tool(judges.tool(tool), tool)
    verdict = run(judges.classify(rendered)[kind])
    assert verdict.ok, verdict.output[-4000:]


def test_gitlab_merge_request_pipeline_runs_policy_check(rendered: Path) -> None:
    require_tool(judges.tool("gitlab-ci-local"), "gitlab-ci-local")
    # The shell executor uses the host: the python running these tests has this mlci installed,
    # so the job's `pip install mlci==<version>` is already satisfied and needs no index.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    verdict = judges.gitlab_ci_local(rendered, {}, path=path)
    assert verdict.ok, verdict.output[-6000:]
    assert "policy" in verdict.output.lower()
