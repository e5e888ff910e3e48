"""Conformance of the Jenkins and Azure Pipelines printers: each rendered file, read back the
way its CI reads it (tests/conformance/jenkins.py, azure.py), expresses the lifecycle model
(mlci/pipeline): the same jobs, needs, events, outcome rules, environments, approvals and
wait timers, and the same triggers, for both examples and every spec variant."""

from __future__ import annotations

from pathlib import Path

import pytest

from mlci.loader import Spec
from mlci.pipeline import Event, Pipeline, When, gaps
from mlci.render.azure import AZURE_PIPELINES
from mlci.render.context import build_context
from mlci.render.jenkins import JENKINS
from tests.conformance import azure, jenkins
from tests.pipeline.specs import all_variants, variant

VARIANTS = all_variants()


def _rendered(spec: Spec, target: str, out_dir: Path | None = None) -> tuple[Pipeline, str]:
    context = build_context(spec, out_dir or spec.directory, ("jenkins", "azure"))
    renderer = JENKINS if target == "jenkins" else AZURE_PIPELINES
    (file,) = renderer.render(context)
    return context["pipeline"], file.body


def _values(events: frozenset[Event]) -> frozenset[str]:
    return frozenset(event.value for event in events)


def _needs_approval_stage(pipeline: Pipeline, environment: str) -> bool:
    return bool(pipeline.job(pipeline.promotion(environment).deploy_job).condition.manual_on)


# Jenkins


@pytest.mark.parametrize(("name", "spec"), VARIANTS, ids=[name for name, _ in VARIANTS])
def test_jenkinsfile_expresses_the_lifecycle(name: str, spec: Spec) -> None:
    pipeline, text = _rendered(spec, "jenkins")
    read = jenkins.read(text)
    order = [stage.name for stage in read.stages]
    stages = {stage.name: stage for stage in read.stages}
    approvals = {
        f"approve-{p.environment}" for p in pipeline.promotions if _needs_approval_stage(pipeline, p.environment)
    }
    waits = {f"wait-{p.environment}" for p in pipeline.promotions if p.approval.wait_timer_minutes}
    assert set(order) == set(pipeline.job_names) | approvals | waits
    assert len(order) == len(set(order))

    for job in pipeline.jobs:
        stage = stages[job.name]
        assert stage.events == _values(job.condition.events), job.name
        assert stage.on_failure == (job.condition.when in (When.FAILURE, When.FINDINGS)), job.name
        # Findings: the stage also asks the verdict each need kept (its mlci command's exit status).
        findings = job.condition.when is When.FINDINGS
        assert bool(stage.variable_checks) == findings, job.name
        assert all(value == "1" for _, value in stage.variable_checks), job.name
        kept = {variable for need in job.needs for variable in stages[need].status_variables}
        assert {variable for variable, _ in stage.variable_checks} <= kept, job.name
        # Jenkins runs stages in order: every need runs before.
        assert all(order.index(need) < order.index(job.name) for need in job.needs), job.name
        assert stage.timeout_minutes == job.timeout_minutes, job.name
        assert {artifact.name for artifact in job.inputs} <= set(stage.unstashes), job.name
        assert {artifact.name for artifact in job.outputs if not artifact.always} <= set(stage.stashes), job.name
        assert [command.split()[1] for command in stage.commands] == [step.args[0] for step in job.mlci_steps()]
        assert bool(stage.builds) == job.starts_pipelines, job.name

    for promotion in pipeline.promotions:
        env = promotion.environment
        deploy = pipeline.job(promotion.deploy_job)
        assert f"kubeconfig-{env}" in stages[deploy.name].credentials
        if f"approve-{env}" in approvals:
            approve = stages[f"approve-{env}"]
            assert order.index(approve.name) < order.index(deploy.name)
            assert approve.agent is None, "waiting for a person holds no executor"
            assert approve.events == _values(deploy.condition.manual_on)
            assert approve.approval is not None
            assert approve.approval.required == promotion.effective_approvals
            assert set(approve.approval.submitters) == set(promotion.approval.approvers)
            if promotion.approval.separation_of_duties:
                assert approve.approval.bars_starter
                assert set(approve.approval.barred) == {n.lower() for n in (*pipeline.owners, *pipeline.authors)}
            else:
                assert not approve.approval.bars_starter and not approve.approval.barred
        if f"wait-{env}" in waits:
            wait = stages[f"wait-{env}"]
            assert wait.sleep_minutes == promotion.approval.wait_timer_minutes
            assert wait.events == _values(deploy.condition.events)
            after = order.index(f"approve-{env}") if f"approve-{env}" in approvals else -1
            assert after < order.index(wait.name) < order.index(deploy.name), "after the approvals, before deploying"

    crons = [(trigger.cron, trigger.event) for trigger in pipeline.triggers if trigger.cron]
    assert [schedule.cron for schedule in read.schedules] == [cron for cron, _ in crons]
    if pipeline.trigger(Event.DRIFT_SCHEDULE):
        told = {Event.TRAINING_SCHEDULE: "train", Event.DRIFT_SCHEDULE: "drift"}
        assert [s.parameters["MLCI_SCHEDULE"] for s in read.schedules] == [told[event] for _, event in crons]
    assert read.schedules_on_primary_branch_only or not crons
    # mlciEvent(): the default branch by the spec's name, release tags by the prefix.
    assert f"if (env.BRANCH_NAME != '{pipeline.default_branch}') {{" in text
    assert f"env.TAG_NAME.startsWith('{pipeline.release_tag_prefix}') ? 'release_tag'" in text
    assert read.timeout_minutes == 3 * 24 * 60 + sum(p.approval.wait_timer_minutes for p in pipeline.promotions)


def test_jenkins_bars_the_starter_owners_and_authors_from_approving() -> None:
    """Separation of duties: after `input`, the approver is refused when they started the
    build (UserIdCause) or own or author the project, compared case-folded."""

    def mixed_case_owner(data: dict) -> None:
        data["project"]["owners"] = ["Alice"]
        data["project"]["authors"] = ["alice", "Bob"]

    _, text = _rendered(variant(mixed_case_owner), "jenkins")
    approve = jenkins.read(text).stage("approve-production")
    assert approve.approval is not None
    assert approve.approval.bars_starter
    assert approve.approval.barred == ("alice", "bob")
    assert approve.approval.required == 2 and approve.approval.submitters == ("carol", "dave")

    def no_separation(data: dict) -> None:
        data["environments"][1]["approvals"]["separation_of_duties"] = False

    _, text = _rendered(variant(no_separation), "jenkins")
    approve = jenkins.read(text).stage("approve-production")
    assert approve.approval is not None and not approve.approval.bars_starter and not approve.approval.barred


def test_jenkins_waits_the_wait_timer_after_the_approvals() -> None:
    def waits(data: dict) -> None:
        data["environments"][0]["approvals"] = {"wait_timer_minutes": 5}
        data["environments"][1]["approvals"]["wait_timer_minutes"] = 30

    _, text = _rendered(variant(waits), "jenkins")
    read = jenkins.read(text)
    order = [stage.name for stage in read.stages]
    assert read.stage("wait-staging").sleep_minutes == 5
    assert read.stage("wait-production").sleep_minutes == 30
    assert order.index("approve-production") < order.index("wait-production") < order.index("deploy-production")
    assert read.stage("wait-production").agent is None
    # The build's own limit leaves room for the waits.
    assert read.timeout_minutes == 3 * 24 * 60 + 35


def test_jenkins_monorepo_stages_run_when_the_project_changed(tmp_path: Path) -> None:
    root = tmp_path / "repo"
    spec = variant(lambda data: None)
    project = root / "projects" / "iris"
    project.mkdir(parents=True)
    moved = Spec(project / "mlproject.yaml", spec.display_path, spec.data, spec.positions, spec.text)
    _, text = _rendered(moved, "jenkins", out_dir=root)
    for stage in jenkins.read(text).stages:
        assert stage.changesets == ["projects/iris/**", "Jenkinsfile"], stage.name


# Azure Pipelines


def _event_of(expression: str, pipeline: Pipeline) -> Event:
    """What a variable's runtime expression tells, read from its words."""
    branch = f"'refs/heads/{pipeline.default_branch}'"
    if "'PullRequest'" in expression:
        return Event.PULL_REQUEST
    if f"'refs/tags/{pipeline.release_tag_prefix}'" in expression:
        return Event.RELEASE_TAG
    if "'mlci train'" in expression and "'Schedule'" in expression:
        return Event.TRAINING_SCHEDULE
    if "'mlci drift'" in expression and "'Schedule'" in expression:
        return Event.DRIFT_SCHEDULE
    if branch in expression and "'Manual'" in expression:
        return Event.MANUAL
    if branch in expression and "'IndividualCI'" in expression and "'BatchedCI'" in expression:
        return Event.DEFAULT_BRANCH
    raise AssertionError(f"no event reads {expression!r}")


@pytest.mark.parametrize(("name", "spec"), VARIANTS, ids=[name for name, _ in VARIANTS])
def test_azure_pipeline_expresses_the_lifecycle(name: str, spec: Spec) -> None:
    pipeline, text = _rendered(spec, "azure")
    read = azure.read(text)
    events_by_variable = {
        variable: _event_of(value, pipeline)
        for variable, value in read.variables.items()
        if isinstance(value, str) and value.startswith("$[")
    }
    assert set(events_by_variable.values()) == {trigger.event for trigger in pipeline.triggers}
    assert [stage.name for stage in read.stages] == [job.name.replace("-", "_") for job in pipeline.jobs]
    outcome = {When.SUCCESS: "succeeded", When.FAILURE: "failed", When.FINDINGS: "failed", When.ALWAYS: "always"}
    for job, stage in zip(pipeline.jobs, read.stages, strict=True):
        assert stage.depends_on == [need.replace("-", "_") for need in job.needs], job.name
        assert stage.outcome == outcome[job.condition.when], job.name
        # Findings: each need's verdict output, which its verdict step sets, must be '1'.
        asked = {(need, value) for need, _, _, _, value in stage.output_checks}
        findings = job.condition.when is When.FINDINGS
        assert asked == ({(need.replace("-", "_"), "1") for need in job.needs} if findings else set()), job.name
        events = {events_by_variable[variable] for variable in stage.event_variables}
        condition = job.condition
        held = job.environment is not None and pipeline.promotion(job.environment).approval.required > 0
        if condition.manual_on and not held:
            # No approval check to hold it: a person starts it, with a manual run.
            expected = condition.automatic_events | (condition.events & {Event.MANUAL})
        else:
            expected = condition.events
        assert events == set(expected), job.name
        assert stage.timeouts[-1] == job.timeout_minutes, job.name
        assert {artifact.name for artifact in job.outputs} <= set(stage.published), job.name
        assert {artifact.name for artifact in job.inputs} <= set(stage.downloaded), job.name
        assert [command.split()[1] for command in stage.commands] == [step.args[0] for step in job.mlci_steps()]
        assert stage.queues_runs == job.starts_pipelines, job.name
    for promotion in pipeline.promotions:
        deploy = read.stage(promotion.deploy_job.replace("-", "_"))
        assert deploy.environment == promotion.environment
        assert deploy.wait_minutes == promotion.approval.wait_timer_minutes
        assert deploy.secure_files == [f"kubeconfig-{promotion.environment}"]

    assert read.push_branches == [pipeline.default_branch]
    assert read.tags == [f"{pipeline.release_tag_prefix}*"]
    assert read.pr_branches == ["*"]
    crons = {trigger.event: trigger.cron for trigger in pipeline.triggers if trigger.cron}
    names = {Event.TRAINING_SCHEDULE: "mlci train", Event.DRIFT_SCHEDULE: "mlci drift"}
    assert read.schedules == {names[event]: cron for event, cron in crons.items()}
    assert all(branches == [pipeline.default_branch] for branches in read.schedule_branches)


def test_azure_follows_the_spec_s_default_branch() -> None:
    def trunk(data: dict) -> None:
        data.setdefault("ci", {})["default_branch"] = "trunk"

    _, text = _rendered(variant(trunk, "credit-risk"), "azure")
    read = azure.read(text)
    assert read.push_branches == ["trunk"]
    assert read.schedule_branches == [["trunk"], ["trunk"]]
    assert "'refs/heads/trunk'" in read.variables["MLCI_IS_DEFAULT_BRANCH_PUSH"]
    assert "refs/heads/main" not in text


def test_azure_reports_the_approval_rules_it_cannot_hold() -> None:
    """Azure keeps approvals in the environment's checks: `render` says so, at the spec's line."""
    spec = variant(lambda data: None, "credit-risk")
    pipeline, _ = _rendered(spec, "azure")
    findings = gaps(pipeline, AZURE_PIPELINES.capabilities, spec)
    assert [f.path for f in findings] == [("environments", 0, "approvals"), ("environments", 1, "approvals")]
    assert all("Approvals and checks" in f.message and f.line > 1 for f in findings)
    # Jenkins enforces everything in the Jenkinsfile.
    assert gaps(pipeline, JENKINS.capabilities, spec) == []
