"""Jenkins, as Jenkins reads a declarative Jenkinsfile (tests/conformance/jenkins.py): stages
run in order, each when its `when` holds: `mlciEvent()` names the events, so an event runs
the stages that name it. A need is a stage that runs before (a failed stage stops the build,
unless caught for a stage that runs on failure). An approval stage before a deployment holds
it on the events it runs on: an approval rule when it runs on all of the deployment's
events, a person starting it (production with no approvals asked) when on only some."""

from __future__ import annotations

import re
from pathlib import Path

from mlci.pipeline import Event, Pipeline
from mlci.render.jenkins import CAPABILITIES
from tests.conformance import jenkins
from tests.conformance.graph import EnvironmentView, JobGraph, JobView
from tests.conformance.outcomes import EXIT_CODES, FAILED

TARGET = "jenkins"
capabilities = CAPABILITIES
_ENVIRONMENT = re.compile(r"kubeconfig-(.+)")


def _triggers(text: str, read: jenkins.JenkinsPipeline) -> frozenset[Event]:
    """The events mlciEvent() can return, the timers among them only when a timer sets them."""
    function = text[text.index("String mlciEvent() {") : text.index("\npipeline {")]
    named = {Event(value) for value in re.findall(r"'([a-z_]+)'", function) if value in {e.value for e in Event}}
    timers = {"train": Event.TRAINING_SCHEDULE, "drift": Event.DRIFT_SCHEDULE}
    scheduled = {timers[s.parameters.get("MLCI_SCHEDULE", "train")] for s in read.schedules}
    return frozenset(event for event in named if event not in timers.values() or event in scheduled)


def _after(stage: jenkins.Stage, earlier: list[jenkins.Stage]) -> frozenset[str]:
    """The outcomes of the earlier stages after which the stage's `when` holds: the build's
    result, and each variable it asks for, which an earlier stage set to the exit status of a
    `sh(returnStatus: true)` running an mlci command (and failed on when not '0')."""
    after = set(FAILED if stage.on_failure else {"passed"})
    for variable, value in stage.variable_checks:
        setters = [s.status_variables[variable] for s in earlier if variable in s.status_variables]
        runs_mlci = bool(setters) and bool(jenkins.mlci_commands(setters[-1]))
        # A stage that broke before that `sh` (its install) never set the variable.
        kept = {outcome: str(code) for outcome, code in EXIT_CODES.items()} if runs_mlci else {}
        after = {outcome for outcome in after if kept.get(outcome) == value}
    return frozenset(after)


def read(folder: Path, pipeline: Pipeline) -> JobGraph:
    text = (folder / "Jenkinsfile").read_text()
    parsed = jenkins.read(text)
    order = [stage.name for stage in parsed.stages]
    stages = {stage.name: stage for stage in parsed.stages}
    triggers = _triggers(text, parsed)
    views: dict[str, JobView] = {}
    environments: dict[str, EnvironmentView] = {}
    for stage in parsed.stages:
        if stage.name.startswith(("approve-", "wait-")):
            continue
        model_needs = pipeline.job(stage.name).needs if stage.name in pipeline.job_names else ()
        events = frozenset(Event(value) for value in stage.events) & triggers
        environment = next((m[1] for c in stage.credentials if (m := _ENVIRONMENT.fullmatch(c))), None)
        held: frozenset[Event] = frozenset()
        if environment is not None:
            approve = stages.get(f"approve-{environment}")
            wait = stages.get(f"wait-{environment}")
            approvals = 0
            if approve is not None and approve.approval is not None:
                assert order.index(approve.name) < order.index(stage.name)
                approve_events = frozenset(Event(value) for value in approve.events) & triggers
                held = approve_events & events
                approvals = approve.approval.required if approve_events >= events else 0
            approval = approve.approval if approve is not None else None
            environments[environment] = EnvironmentView(
                approvals=approvals,
                approvers=approval.submitters if approval else (),
                separation_of_duties=bool(
                    approval
                    and approval.bars_starter
                    and set(approval.barred) == {n.lower() for n in (*pipeline.owners, *pipeline.authors)}
                ),
                wait_timer_minutes=int(wait.sleep_minutes) if wait is not None else 0,
            )
        views[stage.name] = JobView(
            # Jenkins has no needs: what runs before a stage is what it may need.
            needs=frozenset(
                need for need in model_needs if need in order and order.index(need) < order.index(stage.name)
            ),
            events=events,
            held=held,
            after=_after(stage, parsed.stages[: order.index(stage.name)]) if model_needs else frozenset(),
            environment=environment,
        )
    return JobGraph(
        jobs=views,
        triggers=triggers,
        crons=frozenset(schedule.cron for schedule in parsed.schedules),
        environments=environments,
    )
