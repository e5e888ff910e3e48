"""`mlci graph`: the lifecycle drawn from the model, as Mermaid or Graphviz dot.

Nodes are the jobs every printer emits (same names), edges their needs; triggers start
the jobs that need nothing; a deploy behind an approval is drawn after an approval node.
Labels are escaped for each format: project and environment names come from the spec.
"""

from __future__ import annotations

import json

from mlci.pipeline.model import Event, Job, Pipeline, When

EVENT_LABELS = {
    Event.PULL_REQUEST: "pull request",
    Event.DEFAULT_BRANCH: "push to the default branch",
    Event.RELEASE_TAG: "release tag",
    Event.TRAINING_SCHEDULE: "retraining schedule",
    Event.DRIFT_SCHEDULE: "drift schedule",
    Event.MANUAL: "manual run",
}
FORMATS = ("mermaid", "dot", "markdown")


def _approval_label(pipeline: Pipeline, job: Job) -> str | None:
    if job.environment is None:
        return None
    promotion = pipeline.promotion(job.environment)
    approval = promotion.approval
    if approval.required:
        who = f" from {', '.join(approval.approvers)}" if approval.approvers else ""
        wait = f", then wait {approval.wait_timer_minutes} min" if approval.wait_timer_minutes else ""
        return f"{approval.required} approval(s){who}{wait}"
    if job.condition.manual_on:
        return "started by hand (a release tag promotes by itself)"
    if approval.wait_timer_minutes:
        return f"wait {approval.wait_timer_minutes} min"
    return None


def _starts(pipeline: Pipeline, job: Job) -> list[Event]:
    """The events drawn into a job: those of jobs that need nothing."""
    if job.needs:
        return []
    return [trigger.event for trigger in pipeline.triggers if job.condition.runs_on(trigger.event)]


def _mermaid_text(text: str) -> str:
    # Inside a quoted Mermaid label only `"` is special; the entity keeps it text.
    return '"' + text.replace('"', "#quot;").replace("\n", " ") + '"'


def _node_id(name: str) -> str:
    return "j_" + "".join(c if c.isalnum() else "_" for c in name)


def mermaid(pipeline: Pipeline) -> str:
    lines = ["flowchart LR"]
    used_events = [t.event for t in pipeline.triggers]
    for event in used_events:
        lines.append(f"  e_{event.value}([{_mermaid_text(EVENT_LABELS[event])}])")
    for job in pipeline.jobs:
        lines.append(f"  {_node_id(job.name)}[{_mermaid_text(job.name)}]")
        approval = _approval_label(pipeline, job)
        if approval:
            lines.append(f"  a_{_node_id(job.name)}{{{{{_mermaid_text(approval)}}}}}")
    for job in pipeline.jobs:
        target = _node_id(job.name)
        for event in _starts(pipeline, job):
            lines.append(f"  e_{event.value} --> {target}")
        approval = _approval_label(pipeline, job)
        if approval:
            lines.append(f"  a_{target} --> {target}")
            target = f"a_{target}"
        arrow = " -. on failure .-> " if job.condition.when is When.FAILURE else " --> "
        for need in job.needs:
            lines.append(f"  {_node_id(need)}{arrow}{target}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # dot's quoted strings take JSON's escapes


def dot(pipeline: Pipeline) -> str:
    lines = [f"digraph {_dot_text('mlci ' + pipeline.project)} {{", "  rankdir=LR;"]
    for trigger in pipeline.triggers:
        label = _dot_text(EVENT_LABELS[trigger.event])
        lines.append(f"  {_dot_text('event:' + trigger.event.value)} [shape=oval, label={label}];")
    for job in pipeline.jobs:
        lines.append(f"  {_dot_text(job.name)} [shape=box];")
        approval = _approval_label(pipeline, job)
        if approval:
            lines.append(f"  {_dot_text('approval:' + job.name)} [shape=hexagon, label={_dot_text(approval)}];")
    for job in pipeline.jobs:
        target = _dot_text(job.name)
        for event in _starts(pipeline, job):
            lines.append(f"  {_dot_text('event:' + event.value)} -> {target};")
        approval = _approval_label(pipeline, job)
        if approval:
            lines.append(f"  {_dot_text('approval:' + job.name)} -> {target};")
            target = _dot_text("approval:" + job.name)
        style = ' [style=dashed, label="on failure"]' if job.condition.when is When.FAILURE else ""
        for need in job.needs:
            lines.append(f"  {_dot_text(need)} -> {target}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw(pipeline: Pipeline, fmt: str = "mermaid") -> str:
    return {"dot": dot, "markdown": markdown}.get(fmt, mermaid)(pipeline)


def markdown(pipeline: Pipeline) -> str:
    """For a step summary or a merge-request report: the Mermaid chart in a fenced block."""
    return f"### Lifecycle of {pipeline.project}\n\n```mermaid\n{mermaid(pipeline)}```\n"
