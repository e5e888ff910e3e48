"""The policy check keeps mlci's decision cache between runs, on every CI that has a cache:
the folder the CI saves and restores is the folder the check step's MLCI_CACHE_DIR names."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from mlci.pipeline import Event, build_pipeline
from mlci.pipeline.model import DECISION_CACHE
from tests.conformance.test_conformance import render_variant
from tests.pipeline.specs import EXAMPLE, all_variants

CACHE_ACTION = "actions/cache@"


def _yaml(path: Path) -> Any:
    return YAML(typ="safe").load(path.read_text())


def test_the_policy_check_keeps_the_decision_cache_in_every_variant() -> None:
    for label, spec in all_variants():
        pipeline = build_pipeline(spec)
        kept = {job.name: job.caches for job in pipeline.jobs if job.caches}
        assert kept == {"policy-check": (DECISION_CACHE,)}, label
        assert pipeline.job("policy-check").condition.runs_on(Event.PULL_REQUEST)


@pytest.mark.parametrize("example", sorted(EXAMPLE))
def test_github_restores_and_saves_the_folder_the_check_reads(example: str, tmp_path: Path) -> None:
    folder = render_variant(example, "as-is", "github", tmp_path)
    workflow = _yaml(next((folder / ".github" / "workflows").glob("mlci-*.yml")))
    steps = workflow["jobs"]["policy-check"]["steps"]
    caches = [step for step in steps if str(step.get("uses", "")).startswith(CACHE_ACTION)]
    assert len(caches) == 1
    saved = caches[0]["with"]
    # A key per run (GitHub's entries are immutable) and a prefix that restores the newest.
    assert "${{ github.run_id }}" in saved["key"] and saved["key"].startswith(saved["restore-keys"])
    check = next(step for step in steps if str(step.get("run", "")).startswith("mlci check"))
    assert check["env"]["MLCI_CACHE_DIR"] == saved["path"]
    assert steps.index(caches[0]) < steps.index(check)
    for job, body in workflow["jobs"].items():
        if job != "policy-check":
            assert not any(str(step.get("uses", "")).startswith(CACHE_ACTION) for step in body["steps"]), job


@pytest.mark.parametrize("example", sorted(EXAMPLE))
def test_gitlab_caches_the_folder_the_check_reads_and_keeps_pip(example: str, tmp_path: Path) -> None:
    folder = render_variant(example, "as-is", "gitlab", tmp_path)
    config = _yaml(folder / ".gitlab-ci.yml")
    job = config["policy-check"]
    paths = {path for cache in job["cache"] for path in cache["paths"]}
    # The job's cache: replaces the one .python gives, so pip's is listed again.
    assert paths == {".cache/pip", ".cache/mlci-decisions"}
    assert job["variables"]["MLCI_CACHE_DIR"] == "$CI_PROJECT_DIR/.cache/mlci-decisions"


@pytest.mark.parametrize("example", sorted(EXAMPLE))
def test_azure_caches_the_folder_the_check_reads(example: str, tmp_path: Path) -> None:
    folder = render_variant(example, "as-is", "azure", tmp_path)
    config = _yaml(folder / "azure-pipelines.yml")
    jobs = [job for stage in config["stages"] for job in stage["jobs"] if job.get("job") == "policy_check"]
    assert len(jobs) == 1
    job = jobs[0]
    caches = [
        step for step in job["steps"] if step.get("task") == "Cache@2" and "mlci-decisions" in step["inputs"]["key"]
    ]
    assert len(caches) == 1
    assert caches[0]["inputs"]["path"] == job["variables"]["MLCI_CACHE_DIR"]
    assert caches[0]["inputs"]["key"].startswith(caches[0]["inputs"]["restoreKeys"])
