"""Every lifecycle decision of mlci/pipeline, one test each."""

from __future__ import annotations

from dataclasses import replace

import pytest

from mlci.pipeline import DELIVERY_EVENTS, SPEC, Event, Placement, StepKind, When, build_pipeline
from mlci.pipeline.build import CHAMPION_ALIAS, REGISTRY_SECRETS
from tests.pipeline import specs
from tests.pipeline.specs import all_variants, example_spec, variant


def _mlci_args(job) -> list[tuple[str, ...]]:  # type: ignore[no-untyped-def]
    return [step.args for step in job.mlci_steps()]


def test_pull_requests_run_only_the_policy_check() -> None:
    pipeline = build_pipeline(example_spec())
    assert [job.name for job in pipeline.jobs_on(Event.PULL_REQUEST)] == ["policy-check"]


def test_pr_evaluation_is_opt_in_and_gates_against_the_champion() -> None:
    pipeline = build_pipeline(variant(specs.pr_evaluation))
    assert [job.name for job in pipeline.jobs_on(Event.PULL_REQUEST)] == ["policy-check", "pr-evaluation"]
    job = pipeline.job("pr-evaluation")
    assert ("gate", SPEC, "--report", "pr-evaluation.md") in _mlci_args(job)
    assert ("run", SPEC, "--stage", "train", "--stage", "evaluate") in _mlci_args(job)
    assert all(step.secrets == REGISTRY_SECRETS for step in job.mlci_steps())
    assert [artifact.path for artifact in job.outputs] == ["pr-evaluation.md"]


def test_default_branch_delivers_in_contract_order() -> None:
    pipeline = build_pipeline(example_spec("credit-risk"))
    names = [job.name for job in pipeline.jobs_on(Event.DEFAULT_BRANCH)]
    assert names == [
        "policy-check", "train", "evaluate", "gate", "register", "build-image",
        "deploy-staging", "promote-staging", "deploy-production", "promote-production",
    ]  # fmt: skip


def test_every_job_comes_after_its_needs_and_needs_every_producer_of_its_inputs() -> None:
    for label, spec in all_variants():
        pipeline = build_pipeline(spec)
        seen: dict[str, set[str]] = {}
        for job in pipeline.jobs:
            assert set(job.needs) <= set(seen), (label, job.name)
            for artifact in job.inputs:
                producers = [name for name, outputs in seen.items() if artifact.name in outputs]
                assert producers and set(producers) <= set(job.needs), (label, job.name, artifact.name)
            seen[job.name] = {artifact.name for artifact in job.outputs}


def test_a_job_runs_only_on_events_its_needs_run_on() -> None:
    for label, spec in all_variants():
        pipeline = build_pipeline(spec)
        for job in pipeline.jobs:
            for need in job.needs:
                assert job.condition.events <= pipeline.job(need).condition.events, (label, job.name, need)


def test_the_gate_compares_with_the_champion_through_the_registry() -> None:
    gate = build_pipeline(example_spec()).job("gate")
    [step] = gate.mlci_steps()
    assert step.args == ("gate", SPEC)  # no --baseline: the champion's metrics are the baseline
    assert "MLFLOW_TRACKING_URI" in step.secrets


def test_register_follows_the_gate_and_the_image_pins_the_registered_version() -> None:
    pipeline = build_pipeline(example_spec())
    assert "gate" in pipeline.job("register").needs
    build = pipeline.job("build-image")
    assert "register" in build.needs
    assert "registered" in [artifact.name for artifact in build.inputs]
    assert [step.kind for step in build.steps] == [StepKind.REQUIRE_BLESSING, StepKind.BUILD_IMAGE]


def test_each_deploy_is_followed_by_its_promotion_and_the_next_deploy_waits_for_it() -> None:
    pipeline = build_pipeline(example_spec())
    assert _mlci_args(pipeline.job("promote-staging")) == [("promote", "staging", SPEC)]
    assert pipeline.job("promote-staging").needs == ("deploy-staging", "register")
    assert pipeline.job("deploy-production").needs == ("build-image", "promote-staging")
    assert pipeline.promotion("production").alias == CHAMPION_ALIAS
    assert pipeline.promotion("staging").alias == "staging"


def test_no_environments_means_no_deploy_nor_promote_jobs() -> None:
    pipeline = build_pipeline(variant(specs.no_environments))
    assert pipeline.job_names[-1] == "build-image"
    assert not pipeline.promotions


def test_approvals_make_every_delivery_event_wait_for_a_person() -> None:
    pipeline = build_pipeline(example_spec("credit-risk"))
    staging = pipeline.job("deploy-staging")
    assert staging.condition.manual_on == staging.condition.events == DELIVERY_EVENTS
    assert pipeline.promotion("production").effective_approvals == 2


def test_production_without_approvals_is_promoted_by_a_release_tag_or_by_hand() -> None:
    def unapproved(data):  # type: ignore[no-untyped-def]
        data["environments"][1].pop("approvals")

    pipeline = build_pipeline(variant(unapproved))
    production = pipeline.job("deploy-production")
    assert production.condition.automatic_events == {Event.RELEASE_TAG}
    promotion = pipeline.promotion("production")
    assert promotion.protected and promotion.effective_approvals == 1


def test_unprotected_environments_deploy_by_themselves() -> None:
    pipeline = build_pipeline(example_spec())
    assert pipeline.job("deploy-staging").condition.manual_on == frozenset()
    assert not pipeline.promotion("staging").protected


def test_wait_timer_and_separation_of_duties_reach_the_model() -> None:
    pipeline = build_pipeline(variant(specs.several_environments))
    assert pipeline.promotion("dev").approval.wait_timer_minutes == 5
    us = pipeline.promotion("prod-us").approval
    assert (us.required, us.approvers, us.wait_timer_minutes, us.separation_of_duties) == (3, ("a", "b", "c"), 30, True)


def test_deploy_timeouts_cover_every_canary_pause() -> None:
    pipeline = build_pipeline(example_spec())  # production: 10m + 10m of pauses
    assert pipeline.promotion("production").strategy.timeout_minutes == 20 + 15
    assert pipeline.job("deploy-production").timeout_minutes == 20 + 15 + 15
    assert pipeline.job("deploy-staging").timeout_minutes == 15 + 15


def test_a_canary_without_steps_gets_the_default_steps() -> None:
    def bare_canary(data):  # type: ignore[no-untyped-def]
        data["environments"][0]["strategy"] = {"type": "canary"}

    strategy = build_pipeline(variant(bare_canary)).promotion("staging").strategy
    assert [(s.weight, s.pause_seconds) for s in strategy.canary_steps] == [(20, 600), (50, 600)]


def test_training_timeout_bounds_train_and_evaluate() -> None:
    pipeline = build_pipeline(example_spec("credit-risk"))
    assert pipeline.job("train").timeout_minutes == pipeline.job("evaluate").timeout_minutes == 45


def test_schedules_are_triggers_only_when_the_spec_has_them() -> None:
    events = {t.event for t in build_pipeline(variant(specs.no_schedules)).triggers}
    assert Event.TRAINING_SCHEDULE not in events and Event.DRIFT_SCHEDULE not in events
    pipeline = build_pipeline(example_spec())
    assert pipeline.trigger(Event.TRAINING_SCHEDULE).cron == "0 3 * * 1"  # type: ignore[union-attr]
    assert pipeline.trigger(Event.DRIFT_SCHEDULE).cron == "0 6 * * *"  # type: ignore[union-attr]


def test_the_drift_schedule_runs_only_the_drift_check_and_retraining() -> None:
    pipeline = build_pipeline(example_spec())
    assert [job.name for job in pipeline.jobs_on(Event.DRIFT_SCHEDULE)] == ["monitor-drift", "retrain-on-drift"]
    retrain = pipeline.job("retrain-on-drift")
    assert retrain.starts_pipelines
    # Only on what `mlci drift` decided (exit 1): never on 2 or 3, nor on a broken job.
    assert retrain.condition.when is When.FINDINGS
    verdict = pipeline.job("monitor-drift").verdict_step
    assert verdict is not None and verdict.args[0] == "drift"
    without = build_pipeline(variant(specs.drift_without_retraining))
    assert "retrain-on-drift" not in without.job_names
    # Nothing reads its verdict there, so nothing publishes it.
    assert without.job("monitor-drift").verdict_step is None


def test_a_job_on_findings_needs_jobs_that_publish_a_verdict() -> None:
    pipeline = build_pipeline(example_spec())
    silent = replace(
        pipeline.job("monitor-drift"),
        steps=tuple(replace(s, verdict=False) for s in pipeline.job("monitor-drift").steps),
    )
    jobs = tuple(silent if job.name == "monitor-drift" else job for job in pipeline.jobs)
    with pytest.raises(ValueError, match="retrain-on-drift: runs on findings of needs that publish no verdict"):
        replace(pipeline, jobs=jobs)


def test_remote_drift_data_installs_the_remote_extra() -> None:
    install = build_pipeline(variant(specs.drift_from_bucket)).job("monitor-drift").steps[0]
    assert "remote" in install.extras

    def local_current(data):  # type: ignore[no-untyped-def]
        data["monitoring"]["drift"]["current"] = "data/live.csv"

    local = build_pipeline(variant(local_current)).job("monitor-drift")
    assert local.steps[0].extras == ("ml",) and local.mlci_steps()[0].env_args == ()
    # No current data in the spec: the CI variable names it, a path or a URI.
    unnamed = build_pipeline(example_spec()).job("monitor-drift")
    assert unnamed.mlci_steps()[0].env_args == (("--current", "MLCI_DRIFT_CURRENT"),)
    assert "remote" in unnamed.steps[0].extras


def test_default_branch_comes_from_the_spec() -> None:
    assert build_pipeline(example_spec()).default_branch == "main"
    pipeline = build_pipeline(variant(specs.default_branch_trunk))
    assert pipeline.default_branch == "trunk"
    assert {t.branch for t in pipeline.triggers if t.branch} == {"trunk"}


def test_monorepo_projects_filter_on_their_folder_but_tags_do_not() -> None:
    pipeline = build_pipeline(example_spec(), Placement("projects/iris", ("mlproject.yaml",)))
    assert pipeline.trigger(Event.PULL_REQUEST).paths == ("projects/iris/**",)  # type: ignore[union-attr]
    assert pipeline.trigger(Event.RELEASE_TAG).paths == ()  # type: ignore[union-attr]


@pytest.mark.parametrize("label_spec", all_variants(), ids=lambda pair: pair[0])
def test_job_names_are_unique_and_plain(label_spec) -> None:  # type: ignore[no-untyped-def]
    names = build_pipeline(label_spec[1]).job_names
    assert len(names) == len(set(names))
    assert all(name.replace("-", "").isalnum() and name.islower() for name in names)


def test_a_monorepo_placement_names_where_the_generated_files_lie() -> None:
    default = build_pipeline(example_spec())
    assert (default.generated_dir, default.generated("Dockerfile")) == (".", "Dockerfile")
    placed = Placement("projects/iris", ("..",), generated_dir="projects/iris")
    pipeline = build_pipeline(example_spec(), placed)
    assert pipeline.generated("k8s/overlays/staging") == "projects/iris/k8s/overlays/staging"
    # GitLab's root pipeline decides when a child runs: the child's own triggers are unfiltered.
    child = build_pipeline(example_spec(), Placement("projects/iris", ("..",), "projects/iris", path_filtered=False))
    assert child.path_filters == () and child.trigger(Event.PULL_REQUEST).paths == ()  # type: ignore[union-attr]
