"""What the rendered CI pipelines promise, read back from the files: triggers, least
privilege, pinned actions, native approvals, reports, canaries, drift monitoring,
monorepo path filters and the spec's CI settings, for every CI target."""

from __future__ import annotations

import io
import json
import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from tests import judges
from tests.conftest import EXAMPLES, ROOT, require_tool, run_cli

IRIS = ROOT / "examples" / "iris-classifier"
CREDIT = ROOT / "examples" / "credit-risk"
SHA_PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")


def _load(text: str) -> Any:
    return YAML(typ="safe").load(text)


def _copy(example: Path, into: Path, change: dict[str, Any] | None = None) -> Path:
    """A copy of the example, its spec updated with `change` (dotted keys)."""
    folder = into / example.name
    shutil.copytree(example, folder, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    if change:
        spec_path = folder / "mlproject.yaml"
        spec = _load(spec_path.read_text())
        for dotted, value in change.items():
            *parents, last = dotted.split(".")
            node = spec
            for key in parents:
                node = node[int(key)] if isinstance(node, list) else node.setdefault(key, {})
            node[last] = value
        buffer = io.StringIO()
        YAML(typ="safe").dump(spec, buffer)
        spec_path.write_text(buffer.getvalue())
    return folder


def _render(folder: Path, *args: str) -> Path:
    result = run_cli("render", str(folder), *args)
    assert result.exit_code == 0, result.stdout + result.stderr
    return folder


@pytest.fixture(scope="module", params=EXAMPLES, ids=[p.name for p in EXAMPLES])
def rendered(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _render(_copy(request.param, tmp_path_factory.mktemp("pipelines")))


@pytest.fixture(scope="module")
def credit(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return _render(_copy(CREDIT, tmp_path_factory.mktemp("credit")))


def _workflow(folder: Path) -> tuple[str, dict[str, Any]]:
    text = next((folder / ".github" / "workflows").glob("mlci-*.yml")).read_text()
    return text, _load(text)


# GitHub Actions


def test_github_pull_requests_only_check_and_no_pull_request_target(rendered: Path) -> None:
    _, workflow = _workflow(rendered)
    assert "pull_request_target" not in workflow["on"]
    assert set(workflow["on"]) >= {"pull_request", "push", "schedule", "workflow_dispatch"}
    # Pushes start runs only on the default branch (ci.default_branch) and release tags.
    assert workflow["on"]["push"] == {"branches": ["main"], "tags": ["v*"]}
    assert "github.event_name == 'pull_request'" in workflow["jobs"]["policy-check"]["if"]
    # Delivery starts at train: only the default branch and release tags get past its `if`.
    assert "github.event_name == 'pull_request'" not in workflow["jobs"]["train"]["if"]
    assert "refs/heads/main" in workflow["jobs"]["train"]["if"]
    assert "refs/tags/v" in workflow["jobs"]["train"]["if"]


def test_github_jobs_have_least_privilege_and_a_timeout(rendered: Path) -> None:
    _, workflow = _workflow(rendered)
    assert workflow["permissions"] == {"contents": "read"}
    for name, job in workflow["jobs"].items():
        assert isinstance(job["timeout-minutes"], int), name
        granted = {scope for scope, level in job["permissions"].items() if level == "write"}
        expected = {
            "policy-check": {"security-events"},  # upload-sarif
            "retrain-on-drift": {"actions"},  # starts the retraining run
        }.get(name, set())
        assert granted == expected, name


def test_github_actions_are_pinned_to_full_shas_with_their_version(rendered: Path) -> None:
    text, workflow = _workflow(rendered)
    uses = [step["uses"] for job in workflow["jobs"].values() for step in job["steps"] if "uses" in step]
    assert uses and all(SHA_PINNED.match(ref) for ref in uses), uses
    for ref in set(uses):
        assert re.search(rf"uses: {re.escape(ref)} # v\d+\.\d+\.\d+\n", text), ref
    assert any(ref.startswith("github/codeql-action/upload-sarif@") for ref in uses)


def test_github_scripts_take_values_from_env_never_inline_expressions(rendered: Path) -> None:
    _, workflow = _workflow(rendered)
    for job in workflow["jobs"].values():
        for step in job["steps"]:
            assert "${{" not in step.get("run", ""), step["run"]


def test_github_policy_check_reports_natively(rendered: Path) -> None:
    _, workflow = _workflow(rendered)
    steps = workflow["jobs"]["policy-check"]["steps"]
    check = next(step["run"] for step in steps if "mlci check" in step.get("run", ""))
    assert "-o github" in check and "-o sarif=mlci.sarif" in check and '-o markdown="$GITHUB_STEP_SUMMARY"' in check
    upload = next(step for step in steps if "upload-sarif" in step.get("uses", ""))
    assert upload["with"] == {"sarif_file": "mlci.sarif", "category": f"mlci-{rendered.name}"}
    assert any("mlci render" in step.get("run", "") and "--check" in step["run"] for step in steps)


def test_github_deploys_need_the_gate_and_use_environments_in_promotion_order(rendered: Path) -> None:
    _, workflow = _workflow(rendered)
    spec = _load((rendered / "mlproject.yaml").read_text())
    previous = None
    for env in spec["environments"]:
        job = workflow["jobs"][f"deploy-{env['name']}"]
        assert job["environment"] == {"name": env["name"]}
        assert "build-image" in job["needs"]
        if previous:
            assert previous in job["needs"]
        # After each deploy, the registry's alias follows (mlci promote ENV).
        promote = workflow["jobs"][f"promote-{env['name']}"]
        assert promote["needs"] == [f"deploy-{env['name']}", "register"]
        assert any(step.get("run", "").startswith(f"mlci promote {env['name']} ") for step in promote["steps"])
        previous = f"promote-{env['name']}"
    build = workflow["jobs"]["build-image"]
    assert {"gate", "register"} <= set(build["needs"])
    assert any("Require the blessing" in step.get("name", "") for step in build["steps"])
    assert any("MLCI_MODEL_VERSION" in step.get("run", "") for step in build["steps"])


def test_github_drift_monitoring_retrains_on_drift(rendered: Path) -> None:
    _, workflow = _workflow(rendered)
    spec = _load((rendered / "mlproject.yaml").read_text())
    drift_cron = spec["monitoring"]["drift"]["schedule"]
    assert {"cron": drift_cron} in workflow["on"]["schedule"]
    assert {"cron": spec["training"]["schedule"]} in workflow["on"]["schedule"]
    monitor = workflow["jobs"]["monitor-drift"]
    assert f"github.event.schedule == '{drift_cron}'" in monitor["if"]
    assert "mlci drift mlproject.yaml" in monitor["steps"][-1]["run"]
    retrain = workflow["jobs"]["retrain-on-drift"]
    assert retrain["needs"] == "monitor-drift" and retrain["if"].startswith("failure() && ")
    assert f"gh workflow run mlci-{spec['project']['name']}.yml" in retrain["steps"][-1]["run"]
    # The drift schedule runs the monitor only; the retraining run it starts is a workflow_dispatch.
    assert drift_cron not in workflow["jobs"]["train"]["if"]
    assert "workflow_dispatch" in workflow["jobs"]["train"]["if"]


def test_github_environment_protection_settings(credit: Path) -> None:
    settings = json.loads((credit / ".github" / "mlci" / "environments" / "credit-risk.json").read_text())
    production = settings["environments"]["production"]
    assert production["request"] == {
        "wait_timer": 0,
        "prevent_self_review": True,
        "reviewers": [{"type": "User", "login": "grace"}, {"type": "User", "login": "heidi"}],
        "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True},
    }
    assert production["required_approvals"] == 2
    assert {"name": "v*", "type": "tag"} in production["deployment_branch_policies"]
    assert settings["environments"]["staging"]["request"]["reviewers"] == [{"type": "User", "login": "grace"}]
    assert "PUT" in settings["$comment"] and "mlci render" in settings["$comment"]


def test_environment_settings_follow_the_spec_and_are_never_taken_for_a_users_file(tmp_path: Path) -> None:
    folder = _render(_copy(CREDIT, tmp_path))
    spec = folder / "mlproject.yaml"
    spec.write_text(spec.read_text().replace("approvers: [grace, heidi]", "approvers: [grace, ivan]"))
    _render(folder)  # JSON carries no marker: the manifest's hash tells mlci it wrote the file
    settings_path = folder / ".github" / "mlci" / "environments" / "credit-risk.json"
    logins = [
        r["login"] for r in json.loads(settings_path.read_text())["environments"]["production"]["request"]["reviewers"]
    ]
    assert logins == ["grace", "ivan"]

    settings_path.write_text(settings_path.read_text().replace('"wait_timer": 0', '"wait_timer": 5', 1))
    spec.write_text(spec.read_text().replace("approvers: [grace, ivan]", "approvers: [grace, heidi]"))
    refused = run_cli("render", str(folder))
    assert refused.exit_code == 2
    assert "credit-risk.json: was generated by mlci but edited by hand since" in refused.stderr


def test_production_without_approvals_is_promoted_by_a_tag_or_by_hand(tmp_path: Path) -> None:
    folder = _render(_copy(IRIS, tmp_path, {"environments.1.approvals.required": 0}))
    _, workflow = _workflow(folder)
    assert workflow["jobs"]["deploy-production"]["if"] == (
        "startsWith(github.ref, 'refs/tags/v') || "
        "(github.event_name == 'workflow_dispatch' && github.ref == 'refs/heads/main')"
    )
    assert "if" not in workflow["jobs"]["deploy-staging"]

    from mlci.pipeline import Event

    production = _gitlab_graph(folder).jobs["deploy-production"]
    assert production.events - production.held == {Event.RELEASE_TAG}
    assert {Event.DEFAULT_BRANCH, Event.MANUAL} <= production.held
    jenkins = (folder / "Jenkinsfile").read_text()
    approve = jenkins[jenkins.index("stage('approve-production')") : jenkins.index("stage('deploy-production')")]
    # A person approves on every delivery but a release tag, which is the promotion itself.
    assert "mlciEvent() in ['default_branch', 'manual', 'training_schedule']" in approve
    azure = _load((folder / "azure-pipelines.yml").read_text())
    production = next(s for s in azure["stages"] if s["stage"] == "deploy_production")
    assert production["condition"] == (
        "and(succeeded(), or(eq(variables.MLCI_IS_RELEASE_TAG, true), eq(variables.MLCI_IS_MANUAL_RUN, true)))"
    )
    assert "eq(variables['Build.Reason'], 'Manual')" in azure["variables"]["MLCI_IS_MANUAL_RUN"]


# GitLab CI


def _gitlab(folder: Path) -> dict[str, Any]:
    return _load((folder / ".gitlab-ci.yml").read_text())


def _gitlab_graph(folder: Path) -> Any:
    """The job graph GitLab reads from the file, per simulated event (tests/conformance)."""
    from mlci.loader import load_spec
    from mlci.pipeline import build_pipeline
    from tests.conformance import ci_gitlab

    return ci_gitlab.read(folder, build_pipeline(load_spec(folder / "mlproject.yaml")))


def test_gitlab_deploy_jobs_never_run_for_merge_requests_and_approvals_are_manual(rendered: Path) -> None:
    from mlci.pipeline import DELIVERY_EVENTS, Event

    pipeline = _gitlab(rendered)
    graph = _gitlab_graph(rendered)
    spec = _load((rendered / "mlproject.yaml").read_text())
    for env in spec["environments"]:
        job = graph.jobs[f"deploy-{env['name']}"]
        assert Event.PULL_REQUEST not in job.events and Event.DRIFT_SCHEDULE not in job.events
        assert pipeline[f"deploy-{env['name']}"]["environment"]["name"] == env["name"]
        needs_approval = env.get("approvals", {}).get("required", 0) > 0
        assert bool(job.held) == (needs_approval or env["tier"] == "production")
        if needs_approval:
            assert job.held == DELIVERY_EVENTS, "approvals apply to release tags too"
        assert graph.jobs[f"promote-{env['name']}"].events == job.events
    assert graph.jobs["train"].events == DELIVERY_EVENTS


def test_gitlab_policy_check_reports_junit_and_code_quality(rendered: Path) -> None:
    job = _gitlab(rendered)["policy-check"]
    assert job["artifacts"]["reports"] == {"junit": "mlci-junit.xml", "codequality": "gl-code-quality-report.json"}
    assert job["artifacts"]["when"] == "always"
    assert any("-o junit=mlci-junit.xml -o gitlab=gl-code-quality-report.json" in line for line in job["script"])


def test_gitlab_every_job_has_a_timeout_and_pip_is_cached(rendered: Path) -> None:
    pipeline = _gitlab(rendered)
    jobs = {name: job for name, job in pipeline.items() if isinstance(job, dict) and "stage" in job}
    for name, job in jobs.items():
        if "trigger" not in job:  # a trigger job runs nothing itself
            assert "timeout" in job, name
    assert pipeline[".python"]["cache"]["paths"] == [".cache/pip"]


def test_gitlab_drift_schedule_monitors_and_retrains(rendered: Path) -> None:
    from mlci.pipeline import Event

    pipeline = _gitlab(rendered)
    graph = _gitlab_graph(rendered)
    assert graph.jobs["monitor-drift"].events == {Event.DRIFT_SCHEDULE}
    retrain = pipeline["retrain-on-drift"]
    # It reads the verdict file monitor-drift keeps (its mlci drift's exit status), whatever happened.
    assert retrain["needs"] == [{"job": "monitor-drift", "artifacts": True}]
    assert "mlci-monitor-drift.exit-code" in pipeline["monitor-drift"]["artifacts"]["paths"]
    assert pipeline["monitor-drift"]["artifacts"]["when"] == "always"
    assert graph.jobs["retrain-on-drift"].after == {"findings"}
    # A new pipeline on main through the trigger API, with the job token.
    assert any("/trigger/pipeline" in line and line.endswith(" main") for line in retrain["script"])
    assert all(Event.DRIFT_SCHEDULE not in graph.jobs[name].events for name in ("policy-check", "train"))


# Jenkins


def test_jenkins_reports_junit_and_approves_with_the_spec_s_approvers(credit: Path) -> None:
    text = (credit / "Jenkinsfile").read_text()
    assert 'mlci check "$SPEC_FILE" -o text -o junit=mlci-junit.xml' in text
    assert "junit testResults: 'mlci-junit.xml', allowEmptyResults: true" in text
    assert "submitter: 'grace,heidi'" in text and "while (approvedBy.size() < 2)" in text
    assert "withCredentials([file(credentialsId: 'kubeconfig-production', variable: 'KUBECONFIG')])" in text
    assert "return env.TAG_NAME.startsWith('v') ? 'release_tag' : 'other'" in text
    # Continuous training and drift monitoring, told apart by the schedule's parameter, in UTC.
    assert "parameterizedCron(env.BRANCH_NAME == 'main' ? ('TZ=UTC\\n' +" in text
    assert "'30 2 * * * %MLCI_SCHEDULE=train\\n'" in text and "'0 5 * * * %MLCI_SCHEDULE=drift'" in text
    # Drift over the threshold fails monitor-drift; the next stage then starts a retraining run.
    assert "catchError(buildResult: 'FAILURE', stageResult: 'FAILURE')" in text
    assert 'build(job: "/${env.JOB_NAME}", wait: false)' in text
    # Secrets never reach a command line or the log.
    assert not re.search(r"echo[^\n]*\$REGISTRY_PASSWORD", text)


def test_jenkins_has_a_timeout_on_every_stage(rendered: Path) -> None:
    text = (rendered / "Jenkinsfile").read_text()
    stages = re.findall(r"^\s*stage\('([^']+)'\) \{", text, re.M)
    blocks = re.split(r"^\s*stage\('[^']+'\) \{", text, flags=re.M)[1:]
    for name, block in zip(stages, blocks, strict=True):
        if name != "Deliver":  # a stage of stages: each of its stages has its own
            assert "timeout(time:" in block.split("stage(")[0], name


# Azure Pipelines


def test_azure_deploys_through_environments_after_the_gate(rendered: Path) -> None:
    pipeline = _load((rendered / "azure-pipelines.yml").read_text())
    stages = {stage["stage"]: stage for stage in pipeline["stages"]}
    assert list(stages)[:2] == ["policy_check", "monitor_drift"]
    spec = _load((rendered / "mlproject.yaml").read_text())
    for env in spec["environments"]:
        stage = stages[f"deploy_{env['name']}"]
        assert "build_image" in stage["dependsOn"]
        (job,) = [job for job in stage["jobs"] if "deployment" in job]
        assert job["environment"] == env["name"]
        assert "runOnce" in job["strategy"]
        assert stages[f"promote_{env['name']}"]["dependsOn"] == [f"deploy_{env['name']}", "register"]
    for stage in stages.values():
        for job in stage["jobs"]:
            assert job["timeoutInMinutes"], stage["stage"]
    assert pipeline["trigger"]["tags"]["include"] == ["v*"]
    assert [s["displayName"] for s in pipeline["schedules"]] == ["mlci train", "mlci drift"]


# Canary deployments


def test_canary_environments_wait_for_the_rollout_and_abort_on_failure(credit: Path) -> None:
    _, workflow = _workflow(credit)
    staging = workflow["jobs"]["deploy-staging"]["steps"][-1]["run"]
    production = workflow["jobs"]["deploy-production"]["steps"][-1]["run"]
    assert "rollout status deployment/credit-risk" in staging
    assert "get rollout/credit-risk" in production and "(10% for 15m, 50% for 30m)" in production
    assert "--subresource status --type merge" in production and '{"status":{"abort":true}}' in production
    # Pauses (45 minutes) plus the margin, and the job's own margin on top.
    assert "deadline=$(($(date +%s) + 3600))" in production
    assert workflow["jobs"]["deploy-production"]["timeout-minutes"] == 75
    for target in ((credit / ".gitlab-ci.yml"), (credit / "Jenkinsfile"), (credit / "azure-pipelines.yml")):
        assert "patch rollout/credit-risk --subresource status" in target.read_text(), target.name


def test_kserve_canaries_walk_the_weights_then_promote(tmp_path: Path) -> None:
    folder = _render(_copy(CREDIT, tmp_path, {"environments.1.strategy.provider": "kserve"}))
    _, workflow = _workflow(folder)
    script = workflow["jobs"]["deploy-production"]["steps"][-1]["run"]
    assert "apply --server-side --force-conflicts" in script
    assert script.index("traffic 10\nsleep 900") < script.index("traffic 50\nsleep 1800") < script.index("traffic 100")
    assert "trap 'traffic 0' EXIT" in script


# The spec's CI settings and monorepos


def test_runner_labels_python_version_and_extra_env_reach_every_ci(tmp_path: Path) -> None:
    folder = _render(
        _copy(
            IRIS,
            tmp_path,
            {
                "ci.runner_labels": ["self-hosted", "gpu"],
                "ci.python_version": "3.12",
                "ci.env": {"HF_HUB_OFFLINE": True, "GREETING": "hello ${{ github.token }}"},
                "ci.providers": ["github", "gitlab", "jenkins"],
            },
        )
    )
    text, workflow = _workflow(folder)
    assert all(job["runs-on"] == ["self-hosted", "gpu"] for job in workflow["jobs"].values())
    assert 'python-version: "3.12"' in text
    assert workflow["env"]["HF_HUB_OFFLINE"] == "true"
    assert workflow["env"]["GREETING"] == "hello ${{ '${{' }} github.token }}"  # literal, not an expression

    gitlab = _gitlab(folder)
    assert gitlab["default"]["tags"] == ["self-hosted", "gpu"]
    assert 'v == "3.12"' in gitlab[".python"]["before_script"][0]
    assert gitlab["variables"]["GREETING"] == {"value": "hello ${{ github.token }}", "expand": False}

    jenkins = (folder / "Jenkinsfile").read_text()
    assert "agent { label 'self-hosted && gpu' }" in jenkins and "python3.12 -m venv" in jenkins
    assert "HF_HUB_OFFLINE = 'true'" in jenkins

    # Azure has no escape for ${{ }}, $( ) and $[ ]: such a value is refused there
    # (tests/test_render_injection.py), so Azure gets a value of its own.
    azure_settings = {"ci.runner_labels": ["self-hosted", "gpu"], "ci.python_version": "3.12"}
    azure_folder = _copy(IRIS, tmp_path / "azure", {**azure_settings, "ci.env": {"GREETING": "hello $HOME"}})
    azure_text = (_render(azure_folder, "--target", "azure") / "azure-pipelines.yml").read_text()
    azure = _load(azure_text)
    assert azure["pool"] == {"name": "Default", "demands": ["self-hosted", "gpu"]}
    assert azure["variables"]["GREETING"] == "hello $HOME"
    assert 'versionSpec: "3.12"' in azure_text


@pytest.fixture(scope="module")
def monorepo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The iris project in projects/, its pipelines rendered at the repository root."""
    root = tmp_path_factory.mktemp("monorepo")
    (root / "projects").mkdir()
    project = _copy(IRIS, root / "projects")
    _render(project, "--out", str(root))
    return root


def test_monorepo_projects_run_only_when_they_changed(monorepo: Path) -> None:
    _, workflow = _workflow(monorepo)
    expected = ["projects/iris-classifier/**", ".github/workflows/mlci-iris-classifier.yml"]
    assert workflow["on"]["pull_request"]["paths"] == expected
    assert workflow["on"]["push"]["paths"] == expected
    assert workflow["defaults"]["run"]["working-directory"] == "projects/iris-classifier"

    gitlab = _gitlab(monorepo)
    changes = ["projects/iris-classifier/**", ".gitlab-ci.yml"]
    assert gitlab["policy-check"]["rules"][-1]["changes"] == changes
    assert gitlab["train"]["rules"][-1]["changes"] == changes
    assert gitlab["deploy-staging"]["rules"][-1]["changes"] == changes
    assert "mlci check projects/iris-classifier/mlproject.yaml" in gitlab["policy-check"]["script"][1]

    jenkins = (monorepo / "Jenkinsfile").read_text()
    # One stage holds the project's stages, and runs when the project changed.
    assert jenkins.count("changeset pattern: 'projects/iris-classifier/**', comparator: 'GLOB'") == 1
    assert "stage('mlci iris-classifier') {" in jenkins

    azure = _load((monorepo / "azure-pipelines.yml").read_text())
    assert azure["trigger"]["paths"]["include"] == ["projects/iris-classifier/*", "azure-pipelines.yml"]
    assert azure["pr"]["paths"]["include"] == ["projects/iris-classifier/*", "azure-pipelines.yml"]


def test_single_project_repositories_have_no_path_filters(rendered: Path) -> None:
    _, workflow = _workflow(rendered)
    assert "paths" not in (workflow["on"]["pull_request"] or {})
    assert "changes" not in str(_gitlab(rendered))


JUDGE_IDS = [
    (kind, name)
    for kind, entries in judges.JUDGES.items()
    if kind in ("github", "gitlab", "jenkins", "azure")
    for name, _, _ in entries
]


@pytest.mark.judges
@pytest.mark.parametrize(("kind", "judge"), JUDGE_IDS, ids=[f"{k}-{j}" for k, j in JUDGE_IDS])
def test_monorepo_pipelines_pass_the_judges(monorepo: Path, kind: str, judge: str) -> None:
    _, tool, run = next(entry for entry in judges.JUDGES[kind] if entry[0] == judge)
    require_tool(judges.tool(tool), tool)
    files = [p for p in judges.classify(monorepo)[kind] if "projects" not in p.relative_to(monorepo).parts]
    assert files, kind
    verdict = run(files)
    assert verdict.ok, verdict.output[-4000:]
