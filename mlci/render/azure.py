"""Azure Pipelines: a printer of the lifecycle model (mlci/pipeline).

One stage per model job (Azure stage ids are identifiers: '-' becomes '_'), `dependsOn` its
needs, its condition the job's outcome rule and the model's events, each event a variable
the pipeline computes once. A deployment job names the Azure environment whose approvals and
checks hold it; those live in Azure (Pipelines > Environments), not in this file, so `render`
reports them. The wait timer is an agentless Delay job after the approvals, before the
deployment.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlci.pipeline import FINDINGS_EXIT_CODE, SPEC, Artifact, Capabilities, Event, Job, Pipeline, Report, Step, When
from mlci.pipeline.build import REGISTERED_FILE
from mlci.render.base import RenderedFile
from mlci.render.jinja import render_template, shell_quote

CAPABILITIES = Capabilities(
    ci="Azure Pipelines",
    max_required_approvals=None,  # the environment's approval check: "minimum number of approvers"
    max_approvers=None,
    prevents_self_approval=True,  # the approval check's "approvers cannot approve their own runs"
    wait_timer=True,  # an agentless Delay@1 job between the approvals and the deployment
    approvals_outside_file="Pipelines > Environments > (environment) > Approvals and checks, in Azure DevOps",
    approvals_rendered=False,  # the checks are set in Azure DevOps; the file's header lists them
    manual_jobs=False,  # nothing waits for a person but an environment's approval check
)
# Each event as the variable that tells it (a runtime expression, computed once per run). Azure's
# variable names ignore case; the MLCI_ prefix is one ci.env may not use, so the spec cannot
# redefine them.
EVENT_VARIABLES = {
    Event.PULL_REQUEST: "MLCI_IS_PULL_REQUEST",
    Event.DEFAULT_BRANCH: "MLCI_IS_DEFAULT_BRANCH_PUSH",
    Event.RELEASE_TAG: "MLCI_IS_RELEASE_TAG",
    Event.TRAINING_SCHEDULE: "MLCI_IS_TRAINING_SCHEDULE",
    Event.DRIFT_SCHEDULE: "MLCI_IS_DRIFT_SCHEDULE",
    Event.MANUAL: "MLCI_IS_MANUAL_RUN",
}
# Each schedule's display name: how a run tells which schedule started it.
SCHEDULE_NAMES = {Event.TRAINING_SCHEDULE: "mlci train", Event.DRIFT_SCHEDULE: "mlci drift"}
_STATUS = {When.SUCCESS: "succeeded()", When.FAILURE: "failed()", When.FINDINGS: "failed()", When.ALWAYS: "always()"}
# A job's verdict (its verdict step's mlci exit status): the step's name and its output variable.
VERDICT_STEP = "verdict"
VERDICT_VARIABLE = "exitCode"
# What each mlci step reports in, for Azure: JUnit test results, SARIF for the Scans tab, Markdown summaries.
_JUNIT = {Report.POLICY: "mlci-junit.xml", Report.GATE: "mlci-gate-junit.xml", Report.DRIFT: "mlci-drift-junit.xml"}
_SARIF = '-o sarif="$(Build.ArtifactStagingDirectory)/CodeAnalysisLogs/mlci.sarif"'
GRAPH_FILE = "$(Build.ArtifactStagingDirectory)/mlci-graph.md"


def expression_string(value: str) -> str:
    """A string literal of Azure's expression language: single-quoted, a quote doubled."""
    return "'" + value.replace("'", "''") + "'"


def stage_id(job_name: str) -> str:
    return job_name.replace("-", "_")


@dataclass(frozen=True)
class AzureSyntax:
    """The model in Azure's words; methods the template calls."""

    pipeline: Pipeline

    # -- events and conditions ---------------------------------------------------------
    def event_variables(self) -> list[tuple[str, str]]:
        """(variable, runtime expression) for each event the pipeline has a trigger for."""
        branch = expression_string(f"refs/heads/{self.pipeline.default_branch}")
        on_branch = f"eq(variables['Build.SourceBranch'], {branch})"
        reason = "variables['Build.Reason']"
        expressions = {
            Event.PULL_REQUEST: f"eq({reason}, 'PullRequest')",
            Event.DEFAULT_BRANCH: f"and({on_branch}, in({reason}, 'IndividualCI', 'BatchedCI'))",
            Event.RELEASE_TAG: "startsWith(variables['Build.SourceBranch'], "
            f"{expression_string('refs/tags/' + self.pipeline.release_tag_prefix)})",
            Event.MANUAL: f"and({on_branch}, eq({reason}, 'Manual'))",
        }
        for event, name in SCHEDULE_NAMES.items():
            expressions[event] = (
                f"and(eq({reason}, 'Schedule'), eq(variables['Build.CronSchedule.DisplayName'], '{name}'))"
            )
        return [(EVENT_VARIABLES[t.event], f"$[{expressions[t.event]}]") for t in self.pipeline.triggers]

    def runs_on_events(self, job: Job) -> frozenset[Event]:
        """A job a person must start, with no approval check to hold it (production with no
        approvals asked): it runs on its automatic events and on a manual run."""
        condition = job.condition
        if not condition.manual_on or self._held_by_approvals(job):
            return condition.events
        return condition.automatic_events | (condition.events & {Event.MANUAL})

    def _held_by_approvals(self, job: Job) -> bool:
        return job.environment is not None and self.pipeline.promotion(job.environment).approval.required > 0

    def condition(self, job: Job) -> str:
        events = [t.event for t in self.pipeline.triggers if t.event in self.runs_on_events(job)]
        atoms = [f"eq(variables.{EVENT_VARIABLES[event]}, true)" for event in events]
        either = atoms[0] if len(atoms) == 1 else f"or({', '.join(atoms)})"
        return f"and({', '.join([_STATUS[job.condition.when], *self._findings(job), either])})"

    @staticmethod
    def _findings(job: Job) -> list[str]:
        """FINDINGS: each need's mlci command exited 1, as its verdict step's output variable
        says (stage to stage: dependencies.<stage>.outputs['<job>.<step>.<variable>']). A stage
        that broke before the command has no such output, so it starts nothing."""
        if job.condition.when is not When.FINDINGS:
            return []
        return [
            f"eq(dependencies.{stage_id(need)}.outputs['{stage_id(need)}.{VERDICT_STEP}.{VERDICT_VARIABLE}'], "
            f"'{FINDINGS_EXIT_CODE}')"
            for need in job.needs
        ]

    @property
    def verdict_step(self) -> str:
        return VERDICT_STEP

    def verdict_lines(self, step: Step) -> list[str]:
        """The mlci command, its own exit status set as the step's output variable; the step
        ends as the command did."""
        return [
            "status=0",
            f"{self.mlci_command(step)} || status=$?",
            f'echo "##vso[task.setvariable variable={VERDICT_VARIABLE};isOutput=true]$status"',
            'exit "$status"',
        ]

    def schedules(self) -> list[tuple[str, str]]:
        """(display name, cron) per schedule trigger."""
        return [(SCHEDULE_NAMES[t.event], t.cron) for t in self.pipeline.triggers if t.cron]

    def depends_on(self, job: Job) -> list[str]:
        return [stage_id(need) for need in job.needs]

    # -- steps -------------------------------------------------------------------------
    def in_project(self, path: str) -> str:
        return path if self.pipeline.project_dir == "." else f"{self.pipeline.project_dir}/{path}"

    def mlci_command(self, step: Step) -> str:
        spec = self.in_project(self.pipeline.spec_file) if step.from_root else self.pipeline.spec_file
        words = [shell_quote(spec if arg == SPEC else arg) for arg in step.args]
        words += [f'{option} "${variable}"' for option, variable in step.env_args]
        return " ".join(["mlci", *words, *self.report_options(step)])

    def report_options(self, step: Step) -> list[str]:
        if step.report is None:
            return []
        if step.report is Report.GRAPH:
            return ["--format", "markdown", ">", f'"{GRAPH_FILE}"']
        options = ["-o", "text"]
        if step.report in _JUNIT:
            options.append(f'-o junit="$(Common.TestResultsDirectory)/{_JUNIT[step.report]}"')
        if step.report is Report.POLICY:
            options.append(_SARIF)
        return options

    def junit(self, step: Step) -> str | None:
        return f"$(Common.TestResultsDirectory)/{_JUNIT[step.report]}" if step.report in _JUNIT else None

    def mapped_variables(self, step: Step) -> list[str]:
        """Secrets and plain variables the step reads: Azure passes secrets to a script only
        when mapped, and leaves `$(NAME)` as it is when no such variable exists."""
        return [*step.secrets, *step.variables]

    def install_commands(self, step: Step, requirements: str) -> list[str]:
        packages = '"$MLCI_PIP_SPEC"' + (f' "mlci[{",".join(step.extras)}]"' if step.extras else "")
        commands = [f"python -m pip install {packages}"]
        if step.requirements:
            commands.append(f"python -m pip install -r {shell_quote(requirements)}")
        return commands

    def download_dir(self, artifact: Artifact) -> str:
        return self.in_project(artifact.directory)

    def publish_path(self, artifact: Artifact) -> str:
        return self.in_project(artifact.path)

    @property
    def registered_file(self) -> str:
        return self.in_project(REGISTERED_FILE)


@dataclass(frozen=True)
class AzurePipelinesRenderer:
    name: str = "azure"
    description: str = "Azure Pipelines pipeline"
    capabilities: Capabilities = CAPABILITIES

    def render(self, context: dict[str, Any]) -> list[RenderedFile]:
        syntax = AzureSyntax(context["pipeline"])
        body = render_template(
            "azure/azure-pipelines.yml.j2", {**context, "az": syntax, "stage_id": stage_id, "events": Event}
        )
        return [RenderedFile("azure-pipelines.yml", body)]


AZURE_PIPELINES = AzurePipelinesRenderer()
