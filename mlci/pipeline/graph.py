"""`mlci graph`: the lifecycle drawn from the model, as Mermaid or Graphviz dot.

Nodes are the jobs every printer emits (same names), edges their needs; triggers start
the jobs that need nothing; a deploy behind an approval is drawn after an approval node.
Labels are escaped for each format: project and environment names come from the spec.
"""

from __future__ import annotations

import json
from dataclasses import dataclass

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


@dataclass(frozen=True)
class Node:
    id: str  # unique: event:<event>, job:<job>, approval:<job>
    label: str
    shape: str  # event | job | approval


@dataclass(frozen=True)
class Edge:
    source: str  # a Node id
    target: str
    label: str | None = None  # the outcome of the need it waits for, unless plain success


# How an edge from a need is labelled, by the outcome of it the job waits for.
EDGE_LABELS = {
    When.SUCCESS: None,
    When.FAILURE: "on failure",
    When.FINDINGS: "on findings",
    When.ALWAYS: "always",
}


def elements(pipeline: Pipeline) -> tuple[list[Node], list[Edge]]:
    """The lifecycle as nodes and edges, once for every format: the events, each job (after its
    approval node when a person holds it), and an edge from each need, labelled by the outcome
    the job waits for."""
    nodes = [Node(f"event:{t.event.value}", EVENT_LABELS[t.event], "event") for t in pipeline.triggers]
    edges: list[Edge] = []
    for job in pipeline.jobs:
        nodes.append(Node(f"job:{job.name}", job.name, "job"))
        approval = _approval_label(pipeline, job)
        if approval:
            nodes.append(Node(f"approval:{job.name}", approval, "approval"))
    for job in pipeline.jobs:
        target = f"job:{job.name}"
        for event in _starts(pipeline, job):
            edges.append(Edge(f"event:{event.value}", target))
        if _approval_label(pipeline, job):
            edges.append(Edge(f"approval:{job.name}", target))
            target = f"approval:{job.name}"
        for need in job.needs:
            edges.append(Edge(f"job:{need}", target, EDGE_LABELS[job.condition.when]))
    return nodes, edges


def _starts(pipeline: Pipeline, job: Job) -> list[Event]:
    """The events drawn into a job: those of jobs that need nothing."""
    if job.needs:
        return []
    return [trigger.event for trigger in pipeline.triggers if job.condition.runs_on(trigger.event)]


def _mermaid_text(text: str) -> str:
    # Inside a quoted Mermaid label only `"` is special; the entity keeps it text.
    return '"' + text.replace('"', "#quot;").replace("\n", " ") + '"'


def _mermaid_id(node_id: str) -> str:
    kind, _, name = node_id.partition(":")
    if kind == "event":
        return f"e_{name}"
    job = "j_" + "".join(c if c.isalnum() else "_" for c in name)
    return job if kind == "job" else f"a_{job}"


_MERMAID_SHAPES = {"event": "([{}])", "job": "[{}]", "approval": "{{{{{}}}}}"}


def mermaid(pipeline: Pipeline) -> str:
    nodes, edges = elements(pipeline)
    lines = ["flowchart LR"]
    lines += [f"  {_mermaid_id(n.id)}{_MERMAID_SHAPES[n.shape].format(_mermaid_text(n.label))}" for n in nodes]
    for edge in edges:
        arrow = f" -. {edge.label} .-> " if edge.label else " --> "
        lines.append(f"  {_mermaid_id(edge.source)}{arrow}{_mermaid_id(edge.target)}")
    return "\n".join(lines) + "\n"


def _dot_text(text: str) -> str:
    return json.dumps(text, ensure_ascii=False)  # dot's quoted strings take JSON's escapes


def _dot_id(node_id: str) -> str:
    kind, _, name = node_id.partition(":")
    return _dot_text(name if kind == "job" else node_id)


_DOT_SHAPES = {"event": "oval", "job": "box", "approval": "hexagon"}


def dot(pipeline: Pipeline) -> str:
    nodes, edges = elements(pipeline)
    lines = [f"digraph {_dot_text('mlci ' + pipeline.project)} {{", "  rankdir=LR;"]
    for node in nodes:
        label = "" if node.shape == "job" else f", label={_dot_text(node.label)}"
        lines.append(f"  {_dot_id(node.id)} [shape={_DOT_SHAPES[node.shape]}{label}];")
    for edge in edges:
        style = f" [style=dashed, label={_dot_text(edge.label)}]" if edge.label else ""
        lines.append(f"  {_dot_id(edge.source)} -> {_dot_id(edge.target)}{style};")
    lines.append("}")
    return "\n".join(lines) + "\n"


def draw(pipeline: Pipeline, fmt: str = "mermaid") -> str:
    return {"dot": dot, "markdown": markdown}.get(fmt, mermaid)(pipeline)


def markdown(pipeline: Pipeline) -> str:
    """For a step summary or a merge-request report: the Mermaid chart in a fenced block."""
    return f"### Lifecycle of {pipeline.project}\n\n```mermaid\n{mermaid(pipeline)}```\n"
