"""The lifecycle of one mlci project, as data: what starts the pipeline, which jobs run,
in which order and on which events, and how a model is promoted through the environments.

Built once by `build_pipeline` (mlci/pipeline/build.py); every CI printer prints it and
decides nothing of its own. Frozen, so a printer cannot change it for the others.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field


class Event(str, enum.Enum):
    """What starts a pipeline run."""

    PULL_REQUEST = "pull_request"  # a pull or merge request (or a change request)
    DEFAULT_BRANCH = "default_branch"  # a push to the default branch
    RELEASE_TAG = "release_tag"  # a pushed tag with the release prefix
    TRAINING_SCHEDULE = "training_schedule"  # training.schedule: retrain on the default branch
    DRIFT_SCHEDULE = "drift_schedule"  # monitoring.drift.schedule: compare live data with training data
    MANUAL = "manual"  # someone runs the pipeline by hand on the default branch


# The runs that deliver a model: train, gate, register, build and deploy.
DELIVERY_EVENTS = frozenset({Event.DEFAULT_BRANCH, Event.RELEASE_TAG, Event.TRAINING_SCHEDULE, Event.MANUAL})


@dataclass(frozen=True)
class Trigger:
    event: Event
    cron: str | None = None  # the schedules
    branch: str | None = None  # the default branch's name (default branch, schedules, manual runs)
    tag_prefix: str | None = None  # release tags
    paths: tuple[str, ...] = ()  # monorepos: only changes under these paths start it (not tags nor schedules)


class When(str, enum.Enum):
    """How the outcome of a job's needs decides whether it runs."""

    SUCCESS = "success"  # every need succeeded
    FAILURE = "failure"  # a need failed, whatever the reason
    # A need's verdict step (an mlci command) exited 1: mlci decided and found something (drift
    # over the threshold). Never when it exited 2 (bad input) or 3 (could not decide), nor when
    # the job failed before or around it (an install): mlci's inability to decide is no decision.
    # Printers read the mlci command's own exit status, which the need publishes, never the job's.
    FINDINGS = "findings"
    ALWAYS = "always"


# The exit status of an mlci command that decided and found something (PRODUCT.md: exit codes).
FINDINGS_EXIT_CODE = 1


@dataclass(frozen=True)
class Condition:
    """When a job runs: on which events, after which outcome of its needs, and on which of
    those events a person has to start it (promotion without an approval rule)."""

    events: frozenset[Event]
    when: When = When.SUCCESS
    manual_on: frozenset[Event] = frozenset()

    def runs_on(self, event: Event) -> bool:
        return event in self.events

    @property
    def automatic_events(self) -> frozenset[Event]:
        return self.events - self.manual_on


class Runner(str, enum.Enum):
    """What a job needs from the machine it runs on; each CI maps it to an image or agent."""

    PYTHON = "python"  # the spec's Python (ci.python_version, ci.image, ci.runner_labels)
    DOCKER = "docker"  # builds and pushes images
    KUBERNETES = "kubernetes"  # kubectl and kustomize, with the environment's cluster access


@dataclass(frozen=True)
class Artifact:
    """A file or folder one job hands to later ones (paths relative to the project folder)."""

    name: str
    path: str
    folder: bool = False
    always: bool = False  # kept even when the job fails (a report of why)

    @property
    def directory(self) -> str:
        """Where a download puts it: the folder itself, or the folder holding the file."""
        return self.path if self.folder else (self.path.rpartition("/")[0] or ".")


@dataclass(frozen=True)
class KeptCache:
    """A folder the CI keeps from one run to the next (its cache), pointed at by an
    environment variable. Only a speed-up: a missing or stale one changes no result
    (mlci's decision cache keys every entry on all it depends on)."""

    name: str
    variable: str


# mlci's decision cache (mlci/policy/cache.py): an unchanged spec is not evaluated again.
DECISION_CACHE = KeptCache("mlci-decisions", "MLCI_CACHE_DIR")


class StepKind(str, enum.Enum):
    INSTALL = "install"  # pip install mlci (with extras) and, for the project's code, its requirements
    MLCI = "mlci"  # an mlci command; the spec's own commands run inside `mlci run`
    REQUIRE_BLESSING = "require_blessing"  # the model about to ship is the one the gate blessed
    BUILD_IMAGE = "build_image"  # build and push the serving (and training) image, pinning the model version
    DEPLOY = "deploy"  # apply the environment's overlay and wait for the rollout
    RETRAIN = "retrain"  # start a new default-branch run of this pipeline


class Report(str, enum.Enum):
    """What an mlci step's results are published as; each CI has its own formats for them."""

    POLICY = "policy"  # annotations, SARIF / code quality, junit, step summary
    GATE = "gate"
    DRIFT = "drift"
    PR_EVALUATION = "pr_evaluation"  # the Markdown report of the pull request's candidate
    GRAPH = "graph"  # the lifecycle drawn as Mermaid, for the summary


@dataclass(frozen=True)
class Step:
    kind: StepKind
    name: str
    # MLCI: the arguments after `mlci`, with SPEC standing for the spec's path.
    args: tuple[str, ...] = ()
    report: Report | None = None
    # Runs from the repository root (reports name files as the CI does), not the project folder.
    from_root: bool = False
    extras: tuple[str, ...] = ()  # INSTALL: mlci's extras
    requirements: bool = False  # INSTALL: the project's requirements too
    # Options whose value comes from an environment variable: (option, variable), printed
    # as `option "$VARIABLE"`, after `args`.
    env_args: tuple[tuple[str, str], ...] = ()
    # What the step may read from the CI's secret store, as environment variables of the same name.
    secrets: tuple[str, ...] = ()
    # What the step may read from the CI's plain variables (repository or project settings).
    variables: tuple[str, ...] = ()
    # MLCI: its exit status is the job's verdict, published for a later job whose condition is
    # When.FINDINGS (each CI in its own way: an output, a file, an environment variable).
    verdict: bool = False


SPEC = "{spec}"  # stands for the spec's path in Step.args; printers substitute it, quoted


@dataclass(frozen=True)
class Job:
    name: str  # the job's id in every CI: lower-case words and '-'
    title: str
    needs: tuple[str, ...]
    condition: Condition
    timeout_minutes: int
    runner: Runner
    steps: tuple[Step, ...]
    inputs: tuple[Artifact, ...] = ()
    outputs: tuple[Artifact, ...] = ()
    environment: str | None = None  # deploys: the environment whose protection holds the approval
    # Only one run at a time per group, never cancelled halfway (deployments).
    exclusive: bool = False
    # The job needs to start another run of this pipeline (retraining).
    starts_pipelines: bool = False
    caches: tuple[KeptCache, ...] = ()  # kept from one run of the job to the next
    purpose: str = ""  # one line for the reader of the generated file

    def mlci_steps(self) -> tuple[Step, ...]:
        return tuple(step for step in self.steps if step.kind is StepKind.MLCI)

    @property
    def verdict_step(self) -> Step | None:
        """The mlci step whose exit status the job publishes (When.FINDINGS of a later job)."""
        return next((step for step in self.steps if step.verdict), None)


@dataclass(frozen=True)
class Approval:
    """What a deployment to an environment waits for, as the spec asks it."""

    required: int  # distinct approvals the spec asks for (0: none)
    approvers: tuple[str, ...]
    separation_of_duties: bool  # whoever started the run, the owners and the authors may not approve
    wait_timer_minutes: int  # after the approvals, before the deployment starts


@dataclass(frozen=True)
class CanaryStep:
    weight: int
    pause: str | None
    pause_seconds: int


@dataclass(frozen=True)
class Strategy:
    type: str  # rolling | canary | blue-green
    provider: str  # argo-rollouts | kserve
    canary_steps: tuple[CanaryStep, ...]
    timeout_minutes: int  # how long the rollout may take: every pause, plus a margin


@dataclass(frozen=True)
class Promotion:
    """One environment in promotion order: deploy (behind its approval), then `mlci promote`."""

    environment: str
    index: int  # position in the spec's environments list
    tier: str
    cluster: str
    namespace: str
    region: str
    approval: Approval
    strategy: Strategy
    deploy_job: str
    promote_job: str
    # A person must approve (or start) the deployment: approvals asked, or the production tier.
    protected: bool
    # Distinct approvals the CI must collect: the spec's, at least one when protected.
    effective_approvals: int
    alias: str  # the registry alias `mlci promote` moves (production tier: champion)


@dataclass(frozen=True)
class Pipeline:
    project: str
    spec_file: str  # the spec's file name, in the project folder
    project_dir: str  # the project folder relative to the repository root (or output folder)
    default_branch: str
    release_tag_prefix: str
    triggers: tuple[Trigger, ...]
    jobs: tuple[Job, ...]
    promotions: tuple[Promotion, ...]
    owners: tuple[str, ...] = ()
    authors: tuple[str, ...] = ()
    path_filters: tuple[str, ...] = ()
    registry_secrets: tuple[str, ...] = field(default=())
    # Where the Dockerfile and k8s/ lie from the folder the CI runs in (Placement.generated_dir).
    generated_dir: str = "."

    def __post_init__(self) -> None:
        # A FINDINGS condition reads its needs' published verdicts: a need without one could
        # never start it (or, printed as a plain failure, would start it on any failure).
        for job in self.jobs:
            if job.condition.when is When.FINDINGS:
                silent = [need for need in job.needs if self.job(need).verdict_step is None]
                if not job.needs or silent:
                    raise ValueError(f"{job.name}: runs on findings of needs that publish no verdict: {silent}")

    def generated(self, path: str) -> str:
        """`path` (a generated file or folder of the project) from the folder the CI runs in."""
        return path if self.generated_dir == "." else f"{self.generated_dir}/{path}"

    def job(self, name: str) -> Job:
        for job in self.jobs:
            if job.name == name:
                return job
        raise KeyError(name)

    @property
    def job_names(self) -> tuple[str, ...]:
        return tuple(job.name for job in self.jobs)

    def trigger(self, event: Event) -> Trigger | None:
        return next((t for t in self.triggers if t.event is event), None)

    def jobs_on(self, event: Event) -> tuple[Job, ...]:
        return tuple(job for job in self.jobs if job.condition.runs_on(event))

    def promotion(self, environment: str) -> Promotion:
        return next(p for p in self.promotions if p.environment == environment)

    def edges(self) -> tuple[tuple[str, str], ...]:
        """(need, job) pairs, in job order."""
        return tuple((need, job.name) for job in self.jobs for need in job.needs)
