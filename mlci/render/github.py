"""GitHub Actions: the workflow, and the protection settings of its deployment
environments, which GitHub keeps outside the repository (REST API or UI).

A printer of the lifecycle model (mlci/pipeline): `GitHubSyntax` turns the model's
events, conditions, steps and artifacts into GitHub's words; the template lays them out.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from mlci.pipeline import (
    FINDINGS_EXIT_CODE,
    SPEC,
    Capabilities,
    Event,
    Job,
    KeptCache,
    Pipeline,
    Report,
    Runner,
    Step,
    StepKind,
    When,
)
from mlci.pipeline.build import REGISTERED_FILE
from mlci.render.base import RenderedFile
from mlci.render.jinja import github_literal, render_template, shell_quote

# GitHub accepts at most six required reviewers per environment.
MAX_REVIEWERS = 6
# A job's verdict (the exit status of its verdict step's mlci command): the step's id and the
# output it writes, which the job hands on as an output of the same name.
VERDICT_STEP_ID = "verdict"
VERDICT_OUTPUT = "exit-code"

CAPABILITIES = Capabilities(
    ci="GitHub Actions",
    # An environment's required reviewers: any one of them approves the deployment.
    max_required_approvals=1,
    max_approvers=MAX_REVIEWERS,
    prevents_self_approval=True,  # prevent_self_review
    wait_timer=True,
    approvals_outside_file="the environment settings in .github/mlci/environments/ (REST API)",
    approvals_need_approvers=True,
    manual_jobs=False,  # a job a person starts runs in runs started by hand (workflow_dispatch)
)


@dataclass(frozen=True)
class GitHubSyntax:
    """The model in GitHub's words; methods the workflow template calls."""

    pipeline: Pipeline
    requirements: str  # the project's requirements file, relative to its folder

    # -- events and conditions ---------------------------------------------------------
    def event_expression(self, event: Event) -> str:
        trigger = self.pipeline.trigger(event)
        on_branch = f"github.ref == 'refs/heads/{self.pipeline.default_branch}'"
        if event is Event.PULL_REQUEST:
            return "github.event_name == 'pull_request'"
        if event is Event.DEFAULT_BRANCH:
            return f"github.event_name == 'push' && {on_branch}"
        if event is Event.RELEASE_TAG:
            return f"startsWith(github.ref, 'refs/tags/{self.pipeline.release_tag_prefix}')"
        if event is Event.MANUAL:
            return f"github.event_name == 'workflow_dispatch' && {on_branch}"
        assert trigger is not None and trigger.cron is not None
        return f"github.event_name == 'schedule' && github.event.schedule == '{trigger.cron}'"

    def runs_on_events(self, job: Job) -> frozenset[Event]:
        """The events a job runs on in GitHub. A job a person must start, with no reviewers
        to hold it, runs on its automatic events and when someone runs the workflow by hand."""
        condition = job.condition
        if CAPABILITIES.manual_jobs or not condition.manual_on or self._held_by_reviewers(job):
            return condition.events
        return condition.automatic_events | (condition.events & {Event.MANUAL})

    def _held_by_reviewers(self, job: Job) -> bool:
        return job.environment is not None and self.pipeline.promotion(job.environment).approval.required > 0

    def _inherited(self, job: Job) -> frozenset[Event]:
        events = frozenset(t.event for t in self.pipeline.triggers)
        for need in job.needs:
            events &= self.runs_on_events(self.pipeline.job(need))
        return events

    def condition(self, job: Job) -> str | None:
        """The job's `if:`, or None when its needs already decide (skipped needs skip it)."""
        events = self.runs_on_events(job)
        status = {
            When.SUCCESS: "",
            When.FAILURE: "failure() && ",
            When.FINDINGS: "failure() && " + self._findings(job),
            When.ALWAYS: "always() && ",
        }[job.condition.when]
        if not status and events == self._inherited(job):
            return None
        ordered = [t.event for t in self.pipeline.triggers if t.event in events]
        atoms = [self.event_expression(event) for event in ordered]
        if len(atoms) == 1:
            return status + atoms[0]
        either = " || ".join(f"({atom})" if "&&" in atom else atom for atom in atoms)
        return f"{status}({either})" if status else either

    @staticmethod
    def _findings(job: Job) -> str:
        """Each need's mlci command exited 1: read from the output its verdict step wrote, so a
        job that broke before the command (no output) or an exit 2 or 3 starts nothing."""
        return "".join(f"needs.{need}.outputs.{VERDICT_OUTPUT} == '{FINDINGS_EXIT_CODE}' && " for need in job.needs)

    def schedules(self) -> list[tuple[Event, str]]:
        """Each distinct cron once (GitHub starts one run per cron)."""
        seen: dict[str, Event] = {}
        for trigger in self.pipeline.triggers:
            if trigger.cron and trigger.cron not in seen:
                seen[trigger.cron] = trigger.event
        return [(event, cron) for cron, event in seen.items()]

    # -- jobs --------------------------------------------------------------------------
    def permissions(self, job: Job) -> dict[str, str]:
        permissions = {"contents": "read"}
        if any(step.report is Report.POLICY for step in job.steps):
            permissions |= {"security-events": "write", "actions": "read"}
        if job.starts_pipelines:
            permissions["actions"] = "write"
        return permissions

    def concurrency_group(self, job: Job) -> str:
        """deploy-staging of project p: deploy-p-staging (one at a time per project and job)."""
        kind, _, rest = job.name.partition("-")
        return f"{kind}-{self.pipeline.project}-{rest}" if rest else f"{kind}-{self.pipeline.project}"

    def builds_image(self, job: Job) -> bool:
        return any(step.kind is StepKind.BUILD_IMAGE for step in job.steps)

    def needs_python(self, job: Job) -> bool:
        return job.runner is Runner.PYTHON and any(step.kind is StepKind.INSTALL for step in job.steps)

    # -- steps -------------------------------------------------------------------------
    def spec_word(self, step: Step) -> str:
        return self.in_project(self.pipeline.spec_file) if step.from_root else self.pipeline.spec_file

    @property
    def registered_file(self) -> str:
        return REGISTERED_FILE

    def in_project(self, path: str) -> str:
        return path if self.pipeline.project_dir == "." else f"{self.pipeline.project_dir}/{path}"

    def install_commands(self, step: Step) -> list[str]:
        packages = '"$MLCI_PIP_SPEC"' + (f' "mlci[{",".join(step.extras)}]"' if step.extras else "")
        commands = [f"python -m pip install {packages}"]
        if step.requirements:
            commands.append(f"python -m pip install -r {shell_quote(self.requirements)}")
        return [github_literal(command) for command in commands]

    def mlci_command(self, step: Step) -> str:
        """The step's command line, quoted for bash and for GitHub's `${{`."""
        spec = self.spec_word(step)
        words = [spec if arg == SPEC else arg for arg in step.args]
        line = "mlci " + " ".join(shell_quote(word) for word in words)
        for option, variable in step.env_args:
            line += f' {option} "${variable}"'
        line += _REPORT_OPTIONS.get(step.report, "") if step.report else ""
        return github_literal(line)

    def verdict_script(self, step: Step) -> list[str]:
        """The verdict step's lines: the mlci command's own exit status, written to the step's
        output for the jobs that act on findings, then the step ends as the command did."""
        return [
            "# The command's own exit status, for the jobs that act on its findings (1) alone.",
            "status=0",
            f"{self.mlci_command(step)} || status=$?",
            f'echo "{VERDICT_OUTPUT}=$status" >> "$GITHUB_OUTPUT"',
            'exit "$status"',
        ]

    @property
    def verdict_output(self) -> tuple[str, str]:
        """(output name, expression) of a job that publishes its verdict."""
        return VERDICT_OUTPUT, "${{ steps." + VERDICT_STEP_ID + ".outputs." + VERDICT_OUTPUT + " }}"

    @property
    def verdict_step_id(self) -> str:
        return VERDICT_STEP_ID

    def step_env(self, step: Step, job: Job) -> list[tuple[str, str]]:
        expression = "${{ %s.%s }}"
        return (
            [(name, expression % ("secrets", name)) for name in step.secrets]
            + [(name, expression % ("vars", name)) for name in step.variables]
            + [(cache.variable, self.cache_path(cache)) for cache in job.caches]
        )

    @staticmethod
    def cache_path(cache: KeptCache) -> str:
        # Outside the checkout: nothing the job writes there shows up as a change to the repository.
        return "${{ runner.temp }}/" + cache.name

    def cache_key(self, cache: KeptCache) -> tuple[str, str]:
        """GitHub's cache entries are immutable: each run saves its own, the next restores the newest."""
        prefix = f"{cache.name}-{self.pipeline.project}-"
        return prefix + "${{ github.run_id }}-${{ github.run_attempt }}", prefix


# The reporters each mlci step writes, for GitHub (annotations, SARIF, the step summary).
_REPORT_OPTIONS = {
    Report.POLICY: ' -o text -o github -o sarif=mlci.sarif -o markdown="$GITHUB_STEP_SUMMARY"',
    Report.GATE: ' -o text -o github -o markdown="$GITHUB_STEP_SUMMARY"',
    Report.DRIFT: ' -o text -o markdown="$GITHUB_STEP_SUMMARY"',
    Report.PR_EVALUATION: " -o text -o github",
    Report.GRAPH: ' --format markdown >> "$GITHUB_STEP_SUMMARY"',
}


def environment_settings(context: dict[str, Any]) -> dict[str, Any]:
    """Per environment, the body of GitHub's "Create or update an environment" request
    (PUT /repos/{owner}/{repo}/environments/{environment_name}).

    The API names reviewers by numeric id, which a spec cannot know: reviewers carry
    their login here and the platform team resolves it (`gh api users/LOGIN --jq .id`).
    Deployments come from the default branch and from release tags, so the branch policy
    is custom: the platform team adds those two (deployment-branch-policies API).
    """
    pipeline: Pipeline = context["pipeline"]
    environments: dict[str, Any] = {}
    for promotion in pipeline.promotions:
        approval = promotion.approval
        body: dict[str, Any] = {
            "wait_timer": approval.wait_timer_minutes,
            "prevent_self_review": bool(promotion.protected and approval.separation_of_duties),
            "reviewers": [{"type": "User", "login": login} for login in approval.approvers[:MAX_REVIEWERS]]
            if promotion.protected
            else [],
            "deployment_branch_policy": {"protected_branches": False, "custom_branch_policies": True},
        }
        environments[promotion.environment] = {
            "request": body,
            "deployment_branch_policies": [
                {"name": pipeline.default_branch, "type": "branch"},
                {"name": f"{pipeline.release_tag_prefix}*", "type": "tag"},
            ],
            # What the spec asks that GitHub cannot enforce: it deploys on one reviewer's approval.
            "required_approvals": approval.required,
        }
    return {
        "$comment": (
            f"Generated by mlci {context['mlci']['rendered_by']} from {context['spec_file']} for the workflow "
            f"mlci-{pipeline.project}.yml; do not edit: change the spec and run `mlci render`. For each environment, "
            "replace each reviewer's login by its id, PUT the request to "
            "/repos/{owner}/{repo}/environments/{environment_name} and POST each deployment branch policy to "
            "/repos/{owner}/{repo}/environments/{environment_name}/deployment-branch-policies."
        ),
        "project": pipeline.project,
        "environments": environments,
    }


@dataclass(frozen=True)
class GitHubActionsRenderer:
    name: str = "github"
    description: str = "GitHub Actions workflow and deployment environment settings"
    capabilities: Capabilities = CAPABILITIES

    def render(self, context: dict[str, Any]) -> list[RenderedFile]:
        pipeline: Pipeline = context["pipeline"]
        project = pipeline.project
        syntax = GitHubSyntax(pipeline, context["training"]["requirements"])
        workflow = render_template("github/workflow.yml.j2", {**context, "gh": syntax})
        files = [RenderedFile(f".github/workflows/mlci-{project}.yml", workflow)]
        if pipeline.promotions:
            settings = json.dumps(environment_settings(context), indent=2, ensure_ascii=False) + "\n"
            files.append(RenderedFile(f".github/mlci/environments/{project}.json", settings))
        return files


GITHUB_ACTIONS = GitHubActionsRenderer()
