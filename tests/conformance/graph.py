"""The job graph a CI reads, and the one the lifecycle model says it should read.

A parser (one `ci_<target>.py` module per CI) turns the rendered files back into a
`JobGraph`; `expected(pipeline, capabilities)` derives the graph from the model, adapted
only where the printer's declared `Capabilities` say the CI cannot express something
(and `mlci render` reports it); `differences` lists what disagrees.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace

from mlci.pipeline import Capabilities, Event, Pipeline
from tests.conformance.outcomes import AFTER


@dataclass(frozen=True)
class JobView:
    needs: frozenset[str]
    events: frozenset[Event]  # the events on which the job runs (perhaps once a person acts)
    held: frozenset[Event] = frozenset()  # of those, the events on which a person must act first
    # The outcomes of its needs after which it runs (tests/conformance/outcomes.py); empty when
    # it needs nothing.
    after: frozenset[str] = frozenset()
    environment: str | None = None


@dataclass(frozen=True)
class EnvironmentView:
    approvals: int | None  # distinct approvals the CI enforces; None: not in what the CI reads
    approvers: tuple[str, ...] | None
    separation_of_duties: bool | None
    wait_timer_minutes: int


@dataclass(frozen=True)
class JobGraph:
    jobs: dict[str, JobView]
    triggers: frozenset[Event]
    crons: frozenset[str] | None  # None: the CI keeps schedules outside the file
    environments: dict[str, EnvironmentView] = field(default_factory=dict)


def expected(pipeline: Pipeline, caps: Capabilities) -> JobGraph:
    jobs = {}
    for job in pipeline.jobs:
        condition = job.condition
        events, held = condition.events, condition.manual_on
        approval = pipeline.promotion(job.environment).approval if job.environment else None
        if held and not caps.manual_jobs and not (approval and approval.required):
            # No manual jobs (GitHub): a job a person starts runs when a person starts the run.
            events, held = condition.automatic_events | (events & {Event.MANUAL}), frozenset()
        for need in job.needs:
            events &= jobs[need].events  # a job runs only in runs its needs run in
        held &= events
        jobs[job.name] = JobView(
            needs=frozenset(job.needs),
            events=events,
            held=held,
            after=AFTER[condition.when] if job.needs else frozenset(),
            environment=job.environment,
        )
    environments = {}
    for promotion in pipeline.promotions:
        approval = promotion.approval
        enforced = (
            approval.required
            if caps.max_required_approvals is None
            else min(approval.required, caps.max_required_approvals)
        )
        if caps.approvals_need_approvers and not approval.approvers:
            enforced = 0  # reported by `mlci render` (capabilities.gaps)
        environments[promotion.environment] = EnvironmentView(
            approvals=None if caps.approvals_outside_file and not caps.approvals_rendered else enforced,
            approvers=(approval.approvers[: caps.max_approvers] if caps.max_approvers else approval.approvers)
            if caps.approvals_rendered and promotion.protected
            else (() if caps.approvals_rendered else None),
            separation_of_duties=(promotion.protected and approval.separation_of_duties)
            if caps.approvals_rendered
            else None,
            wait_timer_minutes=approval.wait_timer_minutes,
        )
    return JobGraph(
        jobs=jobs,
        triggers=frozenset(t.event for t in pipeline.triggers),
        crons=frozenset(t.cron for t in pipeline.triggers if t.cron) if caps.schedules_in_file else None,
        environments=environments,
    )


def within(graph: JobGraph, pipeline: Pipeline, jobs: Iterable[str], events: frozenset[Event]) -> JobGraph:
    """The part of the model's graph a target prints that runs part of the lifecycle (Argo
    Workflows: the training chain in the cluster, on the events that start a workflow)."""
    kept = set(jobs)
    return JobGraph(
        jobs={
            name: replace(
                view,
                needs=view.needs & kept,
                events=view.events & events,
                held=view.held & events,
                after=view.after if view.needs & kept else frozenset(),
            )
            for name, view in graph.jobs.items()
            if name in kept
        },
        triggers=graph.triggers & events,
        crons=frozenset(t.cron for t in pipeline.triggers if t.cron and t.event in events),
    )


def differences(want: JobGraph, got: JobGraph) -> list[str]:
    problems = []
    if set(want.jobs) != set(got.jobs):
        problems.append(f"jobs: model {sorted(want.jobs)}, CI {sorted(got.jobs)}")
    for name in sorted(set(want.jobs) & set(got.jobs)):
        mine, theirs = want.jobs[name], got.jobs[name]
        for attribute in ("needs", "events", "held", "after", "environment"):
            a, b = getattr(mine, attribute), getattr(theirs, attribute)
            if a != b:
                problems.append(f"{name}.{attribute}: model {_show(a)}, CI {_show(b)}")
    if want.triggers != got.triggers:
        problems.append(f"triggers: model {_show(want.triggers)}, CI {_show(got.triggers)}")
    if want.crons is not None and want.crons != got.crons:
        problems.append(f"schedules: model {_show(want.crons)}, CI {_show(got.crons)}")
    if set(want.environments) != set(got.environments):
        problems.append(f"environments: model {sorted(want.environments)}, CI {sorted(got.environments)}")
    for name in sorted(set(want.environments) & set(got.environments)):
        if want.environments[name] != got.environments[name]:
            problems.append(f"environment {name}: model {want.environments[name]}, CI {got.environments[name]}")
    return problems


def _show(value: object) -> str:
    if isinstance(value, frozenset):
        return "{" + ", ".join(sorted(str(getattr(v, "value", v)) for v in value)) + "}"
    return repr(value)


# The events a parser simulates; each CI module maps them to what its CI sets.
EVENTS = tuple(Event)
