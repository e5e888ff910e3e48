"""The spec's fields the lifecycle depends on, with their defaults, read in one place.

Reads the typed spec (`spec.typed`, mlci/spec) when it is there; until then the raw
document with the schema's defaults.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlci.loader import Spec
from mlci.pipeline.model import CanaryStep

DEFAULT_BRANCH = "main"
DEFAULT_MODEL_PATH = "artifacts/model.joblib"
DEFAULT_METRICS_FILE = "artifacts/metrics.json"
DEFAULT_TRAINING_TIMEOUT = 60
# A canary without steps of its own: a fifth, then half, ten minutes each, then everything.
DEFAULT_CANARY_STEPS = ({"weight": 20, "pause": "10m"}, {"weight": 50, "pause": "10m"})


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
    data = spec.data
    project = data["project"]
    training = data["training"]
    ci = data.get("ci", {})
    drift = data.get("monitoring", {}).get("drift")
    return ProjectSettings(
        project=project["name"],
        owners=tuple(project.get("owners", ())),
        authors=tuple(project.get("authors", ())),
        default_branch=ci.get("default_branch", DEFAULT_BRANCH),
        training_schedule=training.get("schedule"),
        training_timeout=training.get("timeout_minutes", DEFAULT_TRAINING_TIMEOUT),
        retrain_on_drift=bool(training.get("retrain_on_drift", False)),
        model_path=training.get("outputs", {}).get("model", DEFAULT_MODEL_PATH),
        metrics_file=data["evaluation"].get("metrics_file", DEFAULT_METRICS_FILE),
        # The drift check runs when the spec gives it a schedule and reference data.
        drift=DriftSettings(drift["schedule"], drift.get("current"))
        if drift and "schedule" in drift and "reference" in drift
        else None,
        environments=tuple(_environment(env) for env in data.get("environments", [])),
        pr_evaluation=bool(ci.get("pr_evaluation", False)),
    )


def _environment(env: dict[str, Any]) -> EnvironmentSettings:
    strategy = env.get("strategy", {})
    approvals = env.get("approvals", {})
    kind = strategy.get("type", "rolling")
    raw_steps = strategy.get("steps", DEFAULT_CANARY_STEPS) if kind == "canary" else ()
    return EnvironmentSettings(
        name=env["name"],
        tier=env["tier"],
        cluster=env["cluster"],
        namespace=env["namespace"],
        region=env["region"],
        required=approvals.get("required", 0),
        approvers=tuple(approvals.get("approvers", ())),
        separation_of_duties=approvals.get("separation_of_duties", True),
        wait_timer_minutes=approvals.get("wait_timer_minutes", 0),
        strategy_type=kind,
        provider=strategy.get("provider", "argo-rollouts"),
        canary_steps=tuple(
            CanaryStep(step["weight"], step.get("pause"), seconds(step["pause"]) if "pause" in step else 0)
            for step in raw_steps
        ),
    )


def seconds(duration: str) -> int:
    """A schema duration (10m, 1h, 30s) in seconds."""
    return int(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]
