"""Argo Workflows, as the controller reads it: the WorkflowTemplate's DAG (tests/conformance/argo.py)
as a job graph, started by its CronWorkflow (the retraining schedule) or by hand (`argo submit`).

Argo runs part of the lifecycle, the training chain in the cluster: `scope` says which part, and
the conformance test compares the graph with that part of the model's."""

from __future__ import annotations

from pathlib import Path

from mlci.pipeline import Capabilities, Event, Pipeline, When
from mlci.render.argo import cluster_jobs
from tests.conformance.argo import load, parse
from tests.conformance.graph import JobGraph, JobView
from tests.conformance.outcomes import AFTER

TARGET = "argo"
# A workflow deploys nothing, so no approval applies; no task waits for a person.
capabilities = Capabilities(
    ci="Argo Workflows",
    max_required_approvals=None,
    max_approvers=None,
    prevents_self_approval=True,
    wait_timer=True,
    manual_jobs=False,
)
# What starts a workflow run: its CronWorkflow, or a person (`argo submit --from workflowtemplate/...`).
EVENTS = frozenset({Event.TRAINING_SCHEDULE, Event.MANUAL})
# The change to the model the test makes to show a difference is caught, and what the report names.
CHANGE = ("no-schedules", "schedules")


def scope(pipeline: Pipeline) -> tuple[frozenset[str], frozenset[Event]]:
    """The part of the lifecycle Argo runs: the cluster's jobs, on the events that start a workflow."""
    return frozenset(job.name for job in cluster_jobs(pipeline)), EVENTS


def read(folder: Path, pipeline: Pipeline) -> JobGraph:
    argo = folder / "k8s/argo"
    names = ("workflowtemplate.yaml", "cronworkflow.yaml", "rbac.yaml")
    workflow = parse(load(*((argo / name).read_text() for name in names if (argo / name).is_file())))
    events = frozenset({Event.MANUAL, *([Event.TRAINING_SCHEDULE] if workflow.schedule else [])})
    jobs = {
        task.name: JobView(
            needs=frozenset(task.needs),
            events=events,
            # A task's `depends` sees whether a task succeeded or failed, never an exit status.
            after=AFTER[When(task.when)] if task.needs else frozenset(),
        )
        for task in workflow.tasks
    }
    crons = frozenset([workflow.schedule] if workflow.schedule else [])
    return JobGraph(jobs=jobs, triggers=events, crons=crons)
