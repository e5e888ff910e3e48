"""`build_pipeline`: every lifecycle decision, made once, for every CI printer.

What runs on a pull request, what delivers a model (train -> evaluate -> gate against the
champion -> register -> build the image pinned to that version -> deploy and promote through
the environments), what the drift schedule does, where approvals sit, and how long each job
may take. Printers translate this into their CI's syntax and decide nothing else.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlci.loader import Spec
from mlci.pipeline.model import (
    DECISION_CACHE,
    DELIVERY_EVENTS,
    SPEC,
    Approval,
    Artifact,
    Condition,
    Event,
    Job,
    Pipeline,
    Promotion,
    Report,
    Runner,
    Step,
    StepKind,
    Strategy,
    Trigger,
    When,
)
from mlci.pipeline.settings import ProjectSettings, settings_of

# Pushing a tag that starts with this deploys through to production (behind its approvals).
RELEASE_TAG_PREFIX = "v"
# Added to a canary's pauses for its pods to start and for the last step to complete.
ROLLOUT_MARGIN_MINUTES = 15
# A deploy job waits for its rollout, plus this for cluster access and applying the overlay.
DEPLOY_MARGIN_MINUTES = 15
CHECK_TIMEOUT_MINUTES = 15
GATE_TIMEOUT_MINUTES = 15
REGISTRY_TIMEOUT_MINUTES = 15
BUILD_TIMEOUT_MINUTES = 30
DRIFT_TIMEOUT_MINUTES = 30
RETRAIN_TIMEOUT_MINUTES = 10
# The production tier's alias in the registry: what the gate compares with, what serving pins.
CHAMPION_ALIAS = "champion"
# Where the registry is and how to log in to it: CI secrets (or masked variables), read by MLflow.
REGISTRY_SECRETS = ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_USERNAME", "MLFLOW_TRACKING_PASSWORD")
IMAGE_SECRETS = ("REGISTRY_USERNAME", "REGISTRY_PASSWORD")
# Written by `mlci run --stage train` (the MLflow run the later stages continue) and `mlci register`.
RUN_FILE = "artifacts/run.json"
REGISTERED_FILE = "artifacts/registered.json"
BLESSING_FILE = "artifacts/blessing.json"
PR_EVALUATION_REPORT = "pr-evaluation.md"


@dataclass(frozen=True)
class Placement:
    """Where the project sits relative to the folder the CI runs in (the repository root)."""

    project_dir: str = "."
    # The arguments of the `mlci render ... --check` the policy check runs, from the project folder.
    render_args: tuple[str, ...] = ()
    # Where the project's Dockerfile and k8s/ lie, from the folder the CI runs in: beside the
    # pipeline, except in a monorepo rendered from its root (mlci/render/monorepo.py).
    generated_dir: str = "."
    # Whether the pipeline itself filters on its folder's changes; False where something else
    # decides (GitLab's root pipeline starts a project's child pipeline only when it changed).
    path_filtered: bool = True


def build_pipeline(spec: Spec, placement: Placement | None = None) -> Pipeline:
    settings = settings_of(spec)
    placement = placement or Placement(render_args=(spec.path.name,))
    paths = _path_filters(placement.project_dir) if placement.path_filtered else ()
    triggers = _triggers(settings, paths)
    events = frozenset(trigger.event for trigger in triggers)
    delivery = DELIVERY_EVENTS & events
    promotions = _promotions(settings)
    jobs = [
        _policy_check(settings, events, placement),
        *_pr_evaluation(settings),
        *_drift_jobs(settings),
        *_delivery_jobs(settings, delivery),
        *_deployments(promotions, delivery),
    ]
    return Pipeline(
        project=settings.project,
        spec_file=spec.path.name,
        project_dir=placement.project_dir,
        generated_dir=placement.generated_dir,
        default_branch=settings.default_branch,
        release_tag_prefix=RELEASE_TAG_PREFIX,
        triggers=triggers,
        jobs=tuple(jobs),
        promotions=promotions,
        owners=settings.owners,
        authors=settings.authors,
        path_filters=paths,
        registry_secrets=REGISTRY_SECRETS,
    )


def _path_filters(project_dir: str) -> tuple[str, ...]:
    """Monorepos: a project's pipeline runs only when its folder changed."""
    if project_dir == "." or project_dir.startswith(".."):
        return ()
    return (f"{project_dir}/**",)


def _triggers(settings: ProjectSettings, paths: tuple[str, ...]) -> tuple[Trigger, ...]:
    branch = settings.default_branch
    triggers = [
        Trigger(Event.PULL_REQUEST, paths=paths),
        Trigger(Event.DEFAULT_BRANCH, branch=branch, paths=paths),
        # Path filters never hold a release tag back: the tag is the decision to release.
        Trigger(Event.RELEASE_TAG, tag_prefix=RELEASE_TAG_PREFIX),
    ]
    if settings.training_schedule:
        triggers.append(Trigger(Event.TRAINING_SCHEDULE, cron=settings.training_schedule, branch=branch))
    if settings.drift is not None:
        triggers.append(Trigger(Event.DRIFT_SCHEDULE, cron=settings.drift.schedule, branch=branch))
    triggers.append(Trigger(Event.MANUAL, branch=branch))
    return tuple(triggers)


def _install(*extras: str, requirements: bool = False) -> Step:
    what = "mlci" + (f" with {', '.join(extras)}" if extras else "") + (" and the requirements" if requirements else "")
    return Step(StepKind.INSTALL, f"Install {what}", extras=extras, requirements=requirements)


def _mlci(name: str, *args: str, report: Report | None = None, from_root: bool = False, **more: Any) -> Step:
    return Step(StepKind.MLCI, name, args=args, report=report, from_root=from_root, **more)


def _policy_check(settings: ProjectSettings, events: frozenset[Event], placement: Placement) -> Job:
    # Every run but the drift schedule's, which only compares data (and starts a new run to retrain).
    checked = events - {Event.DRIFT_SCHEDULE}
    return Job(
        name="policy-check",
        title="Policy check",
        needs=(),
        condition=Condition(checked),
        timeout_minutes=CHECK_TIMEOUT_MINUTES,
        runner=Runner.PYTHON,
        steps=(
            _install(),
            _mlci("Check the spec against the policies", "check", SPEC, report=Report.POLICY, from_root=True),
            _mlci("Check the generated files are up to date", "render", *placement.render_args, "--check"),
            _mlci("Draw the lifecycle", "graph", SPEC, report=Report.GRAPH, from_root=True),
        ),
        caches=(DECISION_CACHE,),
        purpose="the spec against the policies, and the generated files against the spec",
    )


def _pr_evaluation(settings: ProjectSettings) -> list[Job]:
    """ci.pr_evaluation: the pull request's candidate is trained and judged against the champion."""
    if not settings.pr_evaluation:
        return []
    return [
        Job(
            name="pr-evaluation",
            title="Evaluate the candidate",
            needs=("policy-check",),
            condition=Condition(frozenset({Event.PULL_REQUEST})),
            timeout_minutes=2 * settings.training_timeout + GATE_TIMEOUT_MINUTES,
            runner=Runner.PYTHON,
            steps=(
                _install("mlflow", requirements=True),
                _mlci(
                    "Train and evaluate the candidate",
                    "run",
                    SPEC,
                    "--stage",
                    "train",
                    "--stage",
                    "evaluate",
                    secrets=REGISTRY_SECRETS,
                ),
                _mlci(
                    "Compare the candidate with the champion",
                    "gate",
                    SPEC,
                    "--report",
                    PR_EVALUATION_REPORT,
                    report=Report.PR_EVALUATION,
                    secrets=REGISTRY_SECRETS,
                ),
            ),
            outputs=(Artifact("pr-evaluation", PR_EVALUATION_REPORT, always=True),),
            purpose="the candidate's metrics against the champion and the thresholds (ci.pr_evaluation)",
        )
    ]


def _drift_jobs(settings: ProjectSettings) -> list[Job]:
    drift = settings.drift
    if drift is None:
        return []
    on_drift_schedule = frozenset({Event.DRIFT_SCHEDULE})
    # No current data in the spec: the CI variable MLCI_DRIFT_CURRENT names it (a path or a URI).
    current = ("--current", "MLCI_DRIFT_CURRENT") if drift.current is None else None
    extras = ("ml", "remote") if drift.current is None or "://" in drift.current else ("ml",)
    jobs = [
        Job(
            name="monitor-drift",
            title="Monitor data drift",
            needs=(),
            condition=Condition(on_drift_schedule),
            timeout_minutes=DRIFT_TIMEOUT_MINUTES,
            runner=Runner.PYTHON,
            steps=(
                _install(*extras),
                _mlci(
                    "Compare live data with the training data",
                    "drift",
                    SPEC,
                    report=Report.DRIFT,
                    env_args=(current,) if current else (),
                    # Scores go to a Prometheus Pushgateway when the CI names one (the rendered alert reads them).
                    variables=("MLCI_PUSHGATEWAY_URL", *(["MLCI_DRIFT_CURRENT"] if current else [])),
                    # Retraining reads its exit status: 1 is drift found, 2 and 3 decide nothing.
                    verdict=settings.retrain_on_drift,
                ),
            ),
            purpose="live data against the training data (monitoring.drift)",
        )
    ]
    if settings.retrain_on_drift:
        jobs.append(
            Job(
                name="retrain-on-drift",
                title="Retrain after drift",
                needs=("monitor-drift",),
                # Only when `mlci drift` itself exited 1 (drift over the threshold): not on bad
                # input (2), nor when it could not decide (3), nor when the job broke before it.
                condition=Condition(on_drift_schedule, when=When.FINDINGS),
                timeout_minutes=RETRAIN_TIMEOUT_MINUTES,
                runner=Runner.PYTHON,
                steps=(Step(StepKind.RETRAIN, "Start a default-branch run, which retrains"),),
                starts_pipelines=True,
                purpose="a new default-branch run when the drift is over the threshold (training.retrain_on_drift)",
            )
        )
    return jobs


def _delivery_jobs(settings: ProjectSettings, delivery: frozenset[Event]) -> list[Job]:
    on_delivery = Condition(delivery)
    model = Artifact("model", settings.model_dir, folder=True)
    run = Artifact("run", RUN_FILE)
    # The run record travels with the model folder when it lies inside it.
    run_inputs = () if _inside(RUN_FILE, settings.model_dir) else (run,)
    metrics = Artifact("metrics", settings.metrics_file)
    blessing = Artifact("blessing", BLESSING_FILE)
    registered = Artifact("registered", REGISTERED_FILE)
    return [
        Job(
            name="train",
            title="Train",
            needs=("policy-check",),
            condition=on_delivery,
            timeout_minutes=settings.training_timeout,
            runner=Runner.PYTHON,
            steps=(
                _install("mlflow", requirements=True),
                # Verifies every dataset pin first; starts the MLflow run the later stages continue.
                _mlci("Train", "run", SPEC, "--stage", "train", secrets=REGISTRY_SECRETS),
            ),
            # The whole model folder: evaluation also reads what training left beside the model.
            outputs=(model, *run_inputs),
            purpose="the model, in one tracked MLflow run",
        ),
        Job(
            name="evaluate",
            title="Evaluate",
            needs=("train",),
            condition=on_delivery,
            timeout_minutes=settings.training_timeout,
            runner=Runner.PYTHON,
            steps=(
                _install("mlflow", requirements=True),
                _mlci("Evaluate", "run", SPEC, "--stage", "evaluate", secrets=REGISTRY_SECRETS),
            ),
            inputs=(model, *run_inputs),
            outputs=(metrics,),
            purpose="the metrics, logged to the training run",
        ),
        Job(
            name="gate",
            title="Evaluation gate",
            needs=("train", "evaluate"),
            condition=on_delivery,
            timeout_minutes=GATE_TIMEOUT_MINUTES,
            runner=Runner.PYTHON,
            steps=(
                _install("mlflow"),
                # Against the champion's metrics (max_regression); the blessing only when every gate passes.
                _mlci(
                    "Gate the model against the thresholds and the champion",
                    "gate",
                    SPEC,
                    report=Report.GATE,
                    from_root=True,
                    secrets=REGISTRY_SECRETS,
                ),
            ),
            inputs=(model, metrics),
            outputs=(blessing,),
            purpose="the thresholds, and no regression against the champion",
        ),
        Job(
            name="register",
            title="Register the model",
            needs=("train", "evaluate", "gate"),
            condition=on_delivery,
            timeout_minutes=REGISTRY_TIMEOUT_MINUTES,
            runner=Runner.PYTHON,
            steps=(
                _install("mlflow"),
                _mlci("Register the blessed model", "register", SPEC, secrets=REGISTRY_SECRETS),
            ),
            inputs=(model, *run_inputs, metrics, blessing),
            outputs=(registered,),
            purpose="the blessed model as a new registry version, alias challenger",
        ),
        Job(
            name="build-image",
            title="Build the serving image",
            needs=("train", "gate", "register"),
            condition=on_delivery,
            timeout_minutes=BUILD_TIMEOUT_MINUTES,
            runner=Runner.DOCKER,
            steps=(
                Step(StepKind.REQUIRE_BLESSING, "Require the blessing of this model"),
                Step(StepKind.BUILD_IMAGE, "Build and push", secrets=IMAGE_SECRETS),
            ),
            inputs=(model, blessing, registered),
            purpose="the serving image, pinned to the registered model version (MLCI_MODEL_VERSION)",
        ),
    ]


def _inside(path: str, folder: str) -> bool:
    return folder == "." or path.startswith(folder.rstrip("/") + "/")


def _deployments(promotions: tuple[Promotion, ...], delivery: frozenset[Event]) -> list[Job]:
    jobs: list[Job] = []
    previous = "build-image"
    registered = Artifact("registered", REGISTERED_FILE)
    for promotion in promotions:
        if promotion.approval.required > 0:
            manual = delivery  # nothing deploys here before the approvals
        elif promotion.protected:
            # Production without approvals in the spec: a release tag is the promotion itself;
            # any other run deploys here only when someone starts it.
            manual = delivery - {Event.RELEASE_TAG}
        else:
            manual = frozenset()
        env = promotion.environment
        jobs.append(
            Job(
                name=promotion.deploy_job,
                title=f"Deploy to {env}",
                needs=("build-image",) if previous == "build-image" else ("build-image", previous),
                condition=Condition(delivery, manual_on=manual),
                timeout_minutes=promotion.strategy.timeout_minutes + DEPLOY_MARGIN_MINUTES,
                runner=Runner.KUBERNETES,
                steps=(Step(StepKind.DEPLOY, f"Deploy to {env}"),),
                environment=env,
                exclusive=True,
                purpose=f"{promotion.tier} environment {env}: cluster {promotion.cluster}, "
                f"namespace {promotion.namespace}, region {promotion.region}",
            )
        )
        jobs.append(
            Job(
                name=promotion.promote_job,
                title=f"Promote in {env}",
                needs=(promotion.deploy_job, "register"),
                condition=Condition(delivery),
                timeout_minutes=REGISTRY_TIMEOUT_MINUTES,
                runner=Runner.PYTHON,
                steps=(
                    _install("mlflow"),
                    _mlci(
                        f"Move the {promotion.alias} alias to the deployed version",
                        "promote",
                        env,
                        SPEC,
                        secrets=REGISTRY_SECRETS,
                    ),
                ),
                inputs=(registered,),
                exclusive=True,
                purpose=f"the registry's {promotion.alias} alias to the version now serving in {env}",
            )
        )
        previous = promotion.promote_job
    return jobs


def _promotions(settings: ProjectSettings) -> tuple[Promotion, ...]:
    promotions = []
    for index, env in enumerate(settings.environments):
        approval = Approval(
            required=env.required,
            approvers=env.approvers,
            separation_of_duties=env.separation_of_duties,
            wait_timer_minutes=env.wait_timer_minutes,
        )
        protected = env.required > 0 or env.tier == "production"
        steps = env.canary_steps
        pauses = sum(step.pause_seconds for step in steps)
        promotions.append(
            Promotion(
                environment=env.name,
                index=index,
                tier=env.tier,
                cluster=env.cluster,
                namespace=env.namespace,
                region=env.region,
                approval=approval,
                strategy=Strategy(
                    type=env.strategy_type,
                    provider=env.provider,
                    canary_steps=steps,
                    # How long a deploy may wait for the rollout: every pause, plus the margin.
                    timeout_minutes=-(-pauses // 60) + ROLLOUT_MARGIN_MINUTES,
                ),
                deploy_job=f"deploy-{env.name}",
                promote_job=f"promote-{env.name}",
                protected=protected,
                effective_approvals=max(env.required, 1) if protected else 0,
                alias=CHAMPION_ALIAS if env.tier == "production" else env.name,
            )
        )
    return tuple(promotions)
