"""The spec's fields the lifecycle depends on, read from the typed spec (`spec.typed`,
mlci/spec, every default filled in from the schema) in one place."""

from __future__ import annotations

from dataclasses import dataclass

from mlci.loader import Spec
from mlci.pipeline.model import CanaryStep
from mlci.spec import Environment


@dataclass(frozen=True)
class DriftSettings:
    schedule: str
    current: str | None


@dataclass(frozen=True)
class EnvironmentSettings:
    name: str
    tier: str
    cluster: str
    namespace: str
    region: str
    required: int
    approvers: tuple[str, ...]
    separation_of_duties: bool
    wait_timer_minutes: int
    strategy_type: str
    provider: str
    canary_steps: tuple[CanaryStep, ...]


@dataclass(frozen=True)
class ProjectSettings:
    project: str
    owners: tuple[str, ...]
    authors: tuple[str, ...]
    default_branch: str
    training_schedule: str | None
    training_timeout: int
    retrain_on_drift: bool
    model_path: str
    metrics_file: str
    drift: DriftSettings | None
    environments: tuple[EnvironmentSettings, ...]
    pr_evaluation: bool

    @property
    def model_dir(self) -> str:
        return self.model_path.rpartition("/")[0] or "."


def settings_of(spec: Spec) -> ProjectSettings:
    typed = spec.typed
    drift = typed.monitoring.drift if typed.monitoring is not None else None
    return ProjectSettings(
        project=typed.project.name,
        owners=typed.project.owners,
        authors=typed.project.authors,
        default_branch=typed.ci.default_branch,
        training_schedule=typed.training.schedule,
        training_timeout=typed.training.timeout_minutes,
        retrain_on_drift=typed.training.retrain_on_drift,
        model_path=typed.training.outputs.model,
        metrics_file=typed.evaluation.metrics_file,
        # The drift check runs when the spec gives it a schedule and reference data.
        drift=DriftSettings(drift.schedule, drift.current)
        if drift is not None and drift.schedule and drift.scheduled
        else None,
        environments=tuple(_environment(env) for env in typed.environments),
        pr_evaluation=typed.ci.pr_evaluation,
    )


def _environment(env: Environment) -> EnvironmentSettings:
    approvals = env.approvals
    return EnvironmentSettings(
        name=env.name,
        tier=env.tier,
        cluster=env.cluster,
        namespace=env.namespace,
        region=env.region,
        required=approvals.required,
        approvers=approvals.approvers,
        separation_of_duties=approvals.separation_of_duties,
        wait_timer_minutes=approvals.wait_timer_minutes,
        strategy_type=env.strategy.type,
        provider=env.strategy.provider,
        canary_steps=tuple(
            CanaryStep(step.weight, step.pause, step.pause_seconds) for step in env.strategy.canary_steps
        ),
    )
