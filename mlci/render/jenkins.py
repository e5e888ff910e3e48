"""Jenkins declarative pipeline: a printer of the lifecycle model (mlci/pipeline).

Jenkins runs stages one after the other, so the model's jobs become stages in the model's
order; each stage's `when` says on which of the model's events it runs (`mlciEvent()` in the
Jenkinsfile tells them apart). A protected environment gets an approval stage before its
deployment: `input` as many times as the model asks distinct people, then, with separation of
duties, a check that fails the stage when the approver started the build or owns or authors
the project; the wait timer is a stage of its own after the approvals. Jenkins enforces all of
it in the Jenkinsfile, so it declares no gap.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from mlci.pipeline import (
    FINDINGS_EXIT_CODE,
    SPEC,
    Artifact,
    Capabilities,
    Event,
    Job,
    Pipeline,
    Promotion,
    Report,
    Step,
    StepKind,
    When,
)
from mlci.pipeline.build import REGISTERED_FILE
from mlci.render.base import RenderedFile
from mlci.render.jinja import groovy_string, render_template, shell_quote

CAPABILITIES = Capabilities(
    ci="Jenkins",
    max_required_approvals=None,  # the approval stage loops until enough distinct people approved
    max_approvers=None,
    prevents_self_approval=True,  # checked after `input`: the starter, owners and authors are refused
    wait_timer=True,  # a `sleep` stage after the approvals, holding no executor
)
APPROVAL_TIMEOUT_MINUTES = 24 * 60
# npm-groovy-lint's line length, less room for the shell's line continuation.
LINE_LIMIT = 116
# The whole build: every stage's own limit is shorter, but approvals may wait for days.
BUILD_TIMEOUT_MINUTES = 3 * 24 * 60


@dataclass(frozen=True)
class StageView:
    """One stage of the Jenkinsfile: a model job, or a promotion's approval or wait timer."""

    name: str
    kind: str  # job | approval | wait
    when: str  # a Groovy boolean expression
    job: Job | None = None
    promotion: Promotion | None = None
    catch_failure: bool = False  # a later job runs when this one fails: mark it failed, go on


def events_expression(events: frozenset[Event] | set[Event]) -> str:
    """`mlciEvent()` (the Jenkinsfile's own function) is one of the events."""
    names = sorted(event.value for event in events)
    if len(names) == 1:
        return f"mlciEvent() == {groovy_string(names[0])}"
    return f"mlciEvent() in [{', '.join(map(groovy_string, names))}]"


def expression_block(condition: str, indent: int, nested: int = 0) -> str:
    """`expression { condition }`, the condition on lines of its own when it is long.
    `indent`: where the block starts; `nested`: columns the whole stage list is shifted by."""
    width = LINE_LIMIT - nested
    if indent + len(condition) + len("expression {  }") <= width:
        return f"expression {{ {condition} }}"
    pad = " " * indent
    # Break after a list's commas and before each `&&`, packing as much as fits on a line.
    units = re.split(r"(?<=,) | (?=&& )", condition)
    lines = [""]
    for unit in units:
        if lines[-1] and indent + 8 + len(lines[-1]) + len(unit) + 1 > width:
            lines.append("")
        lines[-1] += (" " if lines[-1] else "") + unit
    body = "\n".join(f"{pad}{'    ' if index == 0 else '        '}{line}" for index, line in enumerate(lines))
    return f"expression {{\n{body}\n{pad}}}"


def verdict_variable(job_name: str) -> str:
    """The environment variable a stage keeps its verdict step's mlci exit status in."""
    return "MLCI_" + job_name.upper().replace("-", "_") + "_EXIT_CODE"


def _job_when(job: Job) -> str:
    expression = events_expression(job.condition.events)
    if job.condition.when is When.FAILURE:
        return f"{expression} && currentBuild.currentResult == 'FAILURE'"
    if job.condition.when is When.FINDINGS:
        # The mlci command's own status, kept apart from the stage's: unset when the stage broke
        # before it (an install), '2' or '3' when it could not decide; only '1' starts this stage.
        findings = "".join(f" && env.{verdict_variable(need)} == '{FINDINGS_EXIT_CODE}'" for need in job.needs)
        return f"{expression} && currentBuild.currentResult == 'FAILURE'{findings}"
    return expression


def stages(pipeline: Pipeline) -> list[StageView]:
    failure_needs = {need for job in pipeline.jobs if job.condition.when is not When.SUCCESS for need in job.needs}
    deploys = {promotion.deploy_job: promotion for promotion in pipeline.promotions}
    views: list[StageView] = []
    for job in pipeline.jobs:
        promotion = deploys.get(job.name)
        if promotion is not None and job.condition.manual_on:
            # A person approves (or, for a release tag with no approvals asked, the tag is the decision).
            views.append(
                StageView(
                    f"approve-{promotion.environment}",
                    "approval",
                    events_expression(job.condition.manual_on),
                    job=job,
                    promotion=promotion,
                )
            )
        if promotion is not None and promotion.approval.wait_timer_minutes:
            views.append(
                StageView(f"wait-{promotion.environment}", "wait", _job_when(job), job=job, promotion=promotion)
            )
        views.append(StageView(job.name, "job", _job_when(job), job=job, catch_failure=job.name in failure_needs))
    return views


def approval_barred(pipeline: Pipeline, promotion: Promotion) -> list[str]:
    """Who may not approve besides the build's starter: owners and authors, case-folded as
    Jenkins compares user ids."""
    if not promotion.approval.separation_of_duties:
        return []
    return sorted({name.lower() for name in (*pipeline.owners, *pipeline.authors)})


def mlci_command(step: Step, indent: int) -> list[str]:
    """The step's command line from the project folder, each word quoted for sh, broken
    before an option where it would pass the Jenkinsfile's 120 columns."""
    words = ['"$SPEC_FILE"' if arg == SPEC else shell_quote(arg) for arg in step.args]
    words += [f'{option} "${variable}"' for option, variable in step.env_args]
    units: list[str] = ["mlci"]
    for word in [*words, *_REPORT_OPTIONS.get(step.report, ())]:
        if word.startswith(("-", ">")) or len(units) == 1:
            units.append(word)
        else:
            units[-1] += " " + word
    lines = [units[0]]
    for unit in units[1:]:
        if indent + len(lines[-1]) + 1 + len(unit) > LINE_LIMIT:
            lines[-1] += " \\"
            lines.append("    " + unit)
        else:
            lines[-1] += " " + unit
    return lines


@dataclass(frozen=True)
class ShellBlock:
    """One `sh` step of a stage: its lines; for a verdict step, the variable its status goes to."""

    lines: list[str]
    variable: str | None = None
    command: str = ""  # `mlci <command>`, for the message when it fails


def shell_blocks(job: Job, setup: list[str], indent: int) -> list[ShellBlock]:
    """The stage's install and mlci steps as `sh` steps: one, or, around a verdict step, its
    command alone in a `sh` of its own whose status is returned (an install that fails fails
    the stage without setting a verdict). `setup`: the lines that make and enter the venv."""
    blocks: list[ShellBlock] = []
    lines = list(setup)
    for step in job.steps:
        if step.kind is StepKind.INSTALL:
            lines += install_commands(step)
        elif step.kind is StepKind.MLCI and step.verdict:
            blocks.append(ShellBlock(lines))
            activate = setup[1:]  # a new shell: enter the venv again
            command = mlci_command(step, indent + 4)
            blocks.append(ShellBlock([*activate, *command], verdict_variable(job.name), f"mlci {step.args[0]}"))
            lines = list(activate)
        elif step.kind is StepKind.MLCI:
            lines += mlci_command(step, indent)
    if len(lines) > len(setup[1:]) or not blocks:
        blocks.append(ShellBlock(lines))
    return blocks


def sh_lines(lines: list[str], indent: int) -> str:
    """Shell lines inside a ''' string: backslashes, quotes and line breaks escaped for Groovy."""
    return ("\n" + " " * indent).join(groovy_string(line)[1:-1] for line in lines)


def install_commands(step: Step) -> list[str]:
    packages = '"$MLCI_PIP_SPEC"' + (f' "mlci[{",".join(step.extras)}]"' if step.extras else "")
    return [
        f"python -m pip install {packages}",
        *(['python -m pip install -r "$REQUIREMENTS"'] if step.requirements else []),
    ]


def reports(job: Job) -> list[str]:
    """The JUnit files the job's mlci steps write, published after the stage whatever happened."""
    return [_JUNIT[step.report] for step in job.steps if step.report in _JUNIT]


def stash_includes(artifact: Artifact) -> str:
    return f"{artifact.path.rstrip('/')}/**" if artifact.folder else artifact.path


# What each mlci step reports in, for Jenkins: text in the log, JUnit for the test results view.
_JUNIT = {Report.POLICY: "mlci-junit.xml", Report.GATE: "mlci-gate-junit.xml", Report.DRIFT: "mlci-drift-junit.xml"}
_REPORT_OPTIONS: dict[Report | None, tuple[str, ...]] = {
    **{report: ("-o", "text", "-o", f"junit={junit}") for report, junit in _JUNIT.items()},
    Report.PR_EVALUATION: ("-o", "text"),
    Report.GRAPH: ("--format", "markdown", ">", "mlci-graph.md"),
}


def build_timeout_minutes(pipeline: Pipeline) -> int:
    return BUILD_TIMEOUT_MINUTES + sum(p.approval.wait_timer_minutes for p in pipeline.promotions)


@dataclass(frozen=True)
class JenkinsRenderer:
    name: str = "jenkins"
    description: str = "Jenkins declarative pipeline"
    capabilities: Capabilities = CAPABILITIES

    def render(self, context: dict[str, Any]) -> list[RenderedFile]:
        pipeline: Pipeline = context["pipeline"]
        jenkins = {
            "stages": stages(pipeline),
            "barred": lambda promotion: approval_barred(pipeline, promotion),
            "build_timeout_minutes": build_timeout_minutes(pipeline),
            "approval_timeout_minutes": APPROVAL_TIMEOUT_MINUTES,
            "mlci_command": mlci_command,
            "sh_lines": sh_lines,
            "registered_file": REGISTERED_FILE,
            "schedule_parameter": pipeline.trigger(Event.DRIFT_SCHEDULE) is not None,
            "training_schedule": pipeline.trigger(Event.TRAINING_SCHEDULE) is not None,
            "expression": expression_block,
            "install_commands": install_commands,
            "shell_blocks": shell_blocks,
            "reports": reports,
            "stash_includes": stash_includes,
        }
        return [RenderedFile("Jenkinsfile", render_template("jenkins/Jenkinsfile.j2", {**context, "jenkins": jenkins}))]


JENKINS = JenkinsRenderer()
