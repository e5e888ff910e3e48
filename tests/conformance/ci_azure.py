"""Azure Pipelines, as Azure reads azure-pipelines.yml (tests/conformance/azure.py): a stage
runs when its condition holds: its outcome rule over its `dependsOn` (a skipped dependency
fails `succeeded()`, so a stage runs only in runs its dependencies ran in) and the variables
that tell the event. Approval rules live in the environments' checks, outside the file; the
file says which environments it expects to hold (its header) and waits with a Delay job."""

from __future__ import annotations

import re
from pathlib import Path

from mlci.pipeline import Event, Pipeline
from mlci.render.azure import CAPABILITIES
from tests.conformance import azure
from tests.conformance.graph import EnvironmentView, JobGraph, JobView
from tests.conformance.outcomes import FAILED, OUTCOMES, Sandbox

TARGET = "azure"
capabilities = CAPABILITIES
_HELD = re.compile(r"^#   ([\w.-]+): \d+ approval\(s\)", re.M)


def _event_of(expression: str, pipeline: Pipeline) -> Event:
    branch = f"'refs/heads/{pipeline.default_branch}'"
    words = {
        Event.PULL_REQUEST: ["'PullRequest'"],
        Event.RELEASE_TAG: [f"'refs/tags/{pipeline.release_tag_prefix}'"],
        Event.TRAINING_SCHEDULE: ["'Schedule'", "'mlci train'"],
        Event.DRIFT_SCHEDULE: ["'Schedule'", "'mlci drift'"],
        Event.MANUAL: [branch, "'Manual'"],
        Event.DEFAULT_BRANCH: [branch, "'IndividualCI'", "'BatchedCI'"],
    }
    found = [event for event, needed in words.items() if all(word in expression for word in needed)]
    if len(found) != 1:
        raise AssertionError(f"{expression!r} tells {found}, not one event")
    return found[0]


_STATUS = {"succeeded": frozenset({"passed"}), "failed": FAILED, "always": frozenset(OUTCOMES)}
_MACRO = re.compile(r"\$\((\w+(?:\.\w+)+)\)")


def _output(script: str, variable: str, outcome: str) -> str | None:
    """The output variable a step sets (##vso[task.setvariable ...;isOutput=true]) when its mlci
    command ends as `outcome` says; None when the job broke before the step."""
    if outcome == "broken":
        return None
    with Sandbox() as sandbox:
        # Azure expands its $(Macro) syntax before the shell sees the script.
        run = sandbox.run(_MACRO.sub(str(sandbox.root), script), outcome)
    marker = f"##vso[task.setvariable variable={variable};isOutput=true]"
    values = [line.split("]", 1)[1] for line in run.output.splitlines() if line.startswith(marker)]
    return values[-1] if values else None


def _after(stage: azure.Stage, parsed: azure.AzurePipeline) -> frozenset[str]:
    """The outcomes of its dependencies after which the stage's condition holds: the status
    function, and each output variable it asks of a dependency."""
    after = set(_STATUS[stage.outcome])
    for need, job, step, variable, value in stage.output_checks:
        script = parsed.stage(need).named_scripts[(job, step)]
        after = {outcome for outcome in after if _output(script, variable, outcome) == value}
    return frozenset(after)


def read(folder: Path, pipeline: Pipeline) -> JobGraph:
    text = (folder / "azure-pipelines.yml").read_text()
    parsed = azure.read(text)
    events_of = {
        name: _event_of(value, pipeline)
        for name, value in parsed.variables.items()
        if isinstance(value, str) and value.startswith("$[")
    }
    held_environments = set(_HELD.findall(text))
    names = {job.replace("-", "_"): job for job in pipeline.job_names}
    views: dict[str, JobView] = {}
    environments: dict[str, EnvironmentView] = {}
    runs: dict[str, frozenset[Event]] = {}
    for stage in parsed.stages:
        events = frozenset(events_of[variable] for variable in stage.event_variables)
        for need in stage.depends_on:
            events &= runs[need]  # a skipped dependency skips the stage
        runs[stage.name] = events
        environment = stage.environment
        if environment is not None:
            environments[environment] = EnvironmentView(
                approvals=None, approvers=None, separation_of_duties=None, wait_timer_minutes=stage.wait_minutes
            )
        views[names.get(stage.name, stage.name)] = JobView(
            needs=frozenset(names.get(need, need) for need in stage.depends_on),
            events=events,
            held=events if environment in held_environments else frozenset(),
            after=_after(stage, parsed) if stage.depends_on else frozenset(),
            environment=environment,
        )
    return JobGraph(
        jobs=views,
        triggers=frozenset(events_of.values()),
        crons=frozenset(parsed.schedules.values()),
        environments=environments,
    )
