"""The typed spec: frozen objects whose fields are the schema's properties, by the same names.

Values come from mlci.spec.build (the spec with the schema's defaults filled in); what a
default is computed from other values (the training image from the Python version, the image
registry from the team, the canary steps) is a property here, written once."""

from __future__ import annotations

import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

# Where the gate writes its verdict, below the project folder; deployments require it.
BLESSING_FILE = "artifacts/blessing.json"
# A canary without steps of its own: a fifth, then half, ten minutes each, then everything.
DEFAULT_CANARY_STEPS = ((20, "10m"), (50, "10m"))

Command = str | tuple[str, ...]


def as_argv(command: str | list[str] | tuple[str, ...] | None) -> list[str]:
    """The argv of a command field: a string is split like a shell would, never run by one."""
    if command is None:
        return []
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def seconds(duration: str) -> int:
    """A schema duration (10m, 1h, 30s) in seconds."""
    return int(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]


@dataclass(frozen=True, kw_only=True)
class Project:
    name: str
    description: str | None
    team: str | None
    owners: tuple[str, ...]
    authors: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class Dataset:
    name: str
    uri: str
    version: str | None
    sha256: str | None
    dvc_rev: str | None
    source: str | None
    personal_data: bool
    pii_fields: tuple[str, ...]
    sensitive_attributes: tuple[str, ...]
    legal_basis: str | None
    retention: str | None
    region: str | None
    anonymisation: str | None


@dataclass(frozen=True, kw_only=True)
class Resources:
    cpu: str
    memory: str
    gpu: int


@dataclass(frozen=True, kw_only=True)
class Outputs:
    model: str


@dataclass(frozen=True, kw_only=True)
class Training:
    image: str | None
    requirements: str
    command: Command
    params: Mapping[str, Any]
    resources: Resources
    schedule: str | None
    retrain_on_drift: bool
    timeout_minutes: int
    outputs: Outputs

    @property
    def argv(self) -> list[str]:
        return as_argv(self.command)


@dataclass(frozen=True, kw_only=True)
class Gate:
    metric: str
    threshold: float
    direction: str
    max_regression: float | None
    max_regression_relative: float | None
    required: bool


@dataclass(frozen=True, kw_only=True)
class Evaluation:
    command: Command
    metrics_file: str
    gates: tuple[Gate, ...]

    @property
    def argv(self) -> list[str]:
        return as_argv(self.command)


@dataclass(frozen=True, kw_only=True)
class Model:
    name: str
    framework: str | None
    registry: str | None


@dataclass(frozen=True, kw_only=True)
class Serving:
    image: str | None
    command: Command
    port: int
    health_path: str
    latency_slo_ms: int | None
    log_fields: tuple[str, ...]
    resources: Resources
    run_as_root: bool

    @property
    def argv(self) -> list[str]:
        return as_argv(self.command)


@dataclass(frozen=True, kw_only=True)
class CanaryStep:
    weight: int
    pause: str | None

    @property
    def pause_seconds(self) -> int:
        return seconds(self.pause) if self.pause is not None else 0


@dataclass(frozen=True, kw_only=True)
class Strategy:
    type: str
    steps: tuple[CanaryStep, ...] | None
    provider: str

    @property
    def is_canary(self) -> bool:
        return self.type == "canary"

    @property
    def effective_steps(self) -> tuple[CanaryStep, ...]:
        """The steps the spec gives; a canary without any walks DEFAULT_CANARY_STEPS."""
        if self.steps is not None:
            return self.steps
        if self.is_canary:
            return tuple(CanaryStep(weight=weight, pause=pause) for weight, pause in DEFAULT_CANARY_STEPS)
        return ()

    @property
    def canary_steps(self) -> tuple[CanaryStep, ...]:
        """The steps a rollout walks: none unless this is a canary."""
        return self.effective_steps if self.is_canary else ()


@dataclass(frozen=True, kw_only=True)
class Approvals:
    required: int
    approvers: tuple[str, ...]
    separation_of_duties: bool
    wait_timer_minutes: int


@dataclass(frozen=True, kw_only=True)
class Autoscaling:
    min_replicas: int
    max_replicas: int
    target_cpu_utilization: int


@dataclass(frozen=True, kw_only=True)
class Environment:
    name: str
    tier: str
    cluster: str
    namespace: str
    region: str
    replicas: int
    autoscaling: Autoscaling | None
    strategy: Strategy
    approvals: Approvals


@dataclass(frozen=True, kw_only=True)
class Drift:
    method: str
    threshold: float
    schedule: str | None
    reference: str | None
    current: str | None

    @property
    def scheduled(self) -> bool:
        """A drift check runs on a schedule only with a schedule and reference data to compare with."""
        return self.schedule is not None and self.reference is not None

    @property
    def current_is_local(self) -> bool:
        """`mlci drift` reads a local path; a URI needs a local copy first."""
        return self.current is not None and "://" not in self.current


@dataclass(frozen=True, kw_only=True)
class Latency:
    p95_ms: int | None


@dataclass(frozen=True, kw_only=True)
class Monitoring:
    drift: Drift | None
    latency: Latency | None
    prometheus_url: str | None
    alerts: tuple[str, ...]


@dataclass(frozen=True, kw_only=True)
class CI:
    providers: tuple[str, ...]
    runner_labels: tuple[str, ...]
    python_version: str
    image: str | None
    repository_url: str | None
    repository_path: str
    image_registry: str | None
    mlci_version: str | None
    env: Mapping[str, str | int | float | bool]
    default_branch: str
    pr_evaluation: bool


@dataclass(frozen=True, kw_only=True)
class Waiver:
    rule: str
    path: str
    reason: str
    approved_by: str
    expires: str


@dataclass(frozen=True, kw_only=True)
class Governance:
    risk: str | None
    dpia: str | None
    model_card: str | None
    erasure_procedure: str | None
    waivers: tuple[Waiver, ...]


@dataclass(frozen=True, kw_only=True)
class MLProject:
    """A validated mlproject.yaml with every default filled in."""

    project: Project
    datasets: tuple[Dataset, ...]
    training: Training
    evaluation: Evaluation
    model: Model
    serving: Serving | None
    environments: tuple[Environment, ...]
    monitoring: Monitoring | None
    governance: Governance
    ci: CI

    @property
    def training_image(self) -> str:
        """training.image, or the official slim image of ci.python_version."""
        return self.training.image or f"python:{self.ci.python_version}-slim"

    @property
    def serving_image(self) -> str | None:
        """serving.image, or the training image; None without serving."""
        if self.serving is None:
            return None
        return self.serving.image or self.training_image

    @property
    def separate_training_image(self) -> bool:
        """One image serves and trains unless serving names a base of its own."""
        return self.serving_image is not None and self.serving_image != self.training_image

    @property
    def owning_team(self) -> str:
        """The team that placeholders name when the spec names none."""
        return self.project.team or "ml"

    @property
    def image_registry(self) -> str:
        return self.ci.image_registry or f"registry.example.com/{self.owning_team}"

    @property
    def image_repository(self) -> str:
        """Where CI pushes the serving image (and the training image, unless separate)."""
        return f"{self.image_registry}/{self.project.name}"

    @property
    def training_image_repository(self) -> str:
        return f"{self.image_repository}-training" if self.separate_training_image else self.image_repository

    @property
    def repository_url(self) -> str:
        """ci.repository_url, or a placeholder to replace."""
        return self.ci.repository_url or f"https://git.example.com/{self.owning_team}/{self.project.name}.git"

    @property
    def mlci_version(self) -> str:
        """ci.mlci_version, or the version of mlci that is running."""
        from mlci import __version__

        return self.ci.mlci_version or __version__

    @property
    def model_path(self) -> str:
        """The model file training writes, relative to the project folder."""
        return self.training.outputs.model

    @property
    def blessing_file(self) -> str:
        return BLESSING_FILE

    @property
    def scheduled_drift(self) -> Drift | None:
        """monitoring.drift when it runs on a schedule (it has a schedule and reference data)."""
        drift = self.monitoring.drift if self.monitoring else None
        return drift if drift is not None and drift.scheduled else None
