"""GitLab CI: the pipeline file, a printer of the lifecycle model (mlci/pipeline).

`GitLabSyntax` turns the model's events into `rules:`, its steps into `script:` lines,
its artifacts into `needs:`/`artifacts:` and its approvals into manual jobs on protected
environments; the template lays them out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlci.pipeline import (
    FINDINGS_EXIT_CODE,
    SPEC,
    Capabilities,
    Event,
    Job,
    Pipeline,
    Report,
    Runner,
    Step,
    StepKind,
    When,
)
from mlci.render.base import RenderedFile
from mlci.render.jinja import render_template, shell_quote

CAPABILITIES = Capabilities(
    ci="GitLab CI",
    max_required_approvals=None,  # protected environments take any number of approvals
    max_approvers=None,
    prevents_self_approval=True,  # "Prevent approval by the user who triggered the deployment"
    wait_timer=True,  # a delayed rule, or a wait after the manual start
    approvals_outside_file="the project's protected environments (Settings > CI/CD > Protected environments)",
    approvals_rendered=False,
    schedules_in_file=False,  # CI/CD > Schedules
)
# GitLab starts a delayed job at most a week later.
MAX_START_IN_MINUTES = 7 * 24 * 60
# The stage of each job of the model; deployments and promotions share the last one.
_STAGES = {
    "policy-check": "check",
    "pr-evaluation": "evaluate",
    "monitor-drift": "monitor",
    "retrain-on-drift": "monitor",
    "train": "train",
    "evaluate": "evaluate",
    "gate": "gate",
    "register": "register",
    "build-image": "build",
}
_STAGE_ORDER = ("check", "monitor", "train", "evaluate", "gate", "register", "build", "deploy")
# Where each report lands; GitLab reads junit and code quality reports, and shows exposed artifacts
# in the merge request.
_REPORT_OPTIONS = {
    Report.POLICY: " -o text -o junit=mlci-junit.xml -o gitlab=gl-code-quality-report.json",
    Report.GATE: ' -o text -o junit="$CI_PROJECT_DIR/mlci-gate-junit.xml"',
    Report.DRIFT: ' -o text -o junit="$CI_PROJECT_DIR/mlci-drift-junit.xml"',
    Report.PR_EVALUATION: " -o text",
    Report.GRAPH: " --format markdown > mlci-graph.md",
}
_JUNIT = {Report.POLICY: "mlci-junit.xml", Report.GATE: "mlci-gate-junit.xml", Report.DRIFT: "mlci-drift-junit.xml"}
_GRAPH_FILE = "mlci-graph.md"
# Rules cannot see why a job failed: a job whose verdict a later job reads writes its mlci
# command's exit status to this file (kept whatever happened), which that job reads.
VERDICT_FILE = "mlci-{job}.exit-code"
# Starts a new pipeline on the default branch (argv[1]) with the job token: the pipeline
# trigger API. Python, not curl: the job runs in the project's Python image, which may lack curl.
_TRIGGER = (
    "import json, os, sys, urllib.parse, urllib.request; e = os.environ; "
    'data = urllib.parse.urlencode({"token": e["CI_JOB_TOKEN"], "ref": sys.argv[1]}).encode(); '
    'url = e["CI_API_V4_URL"] + "/projects/" + e["CI_PROJECT_ID"] + "/trigger/pipeline"; '
    'print("retraining: started", json.load(urllib.request.urlopen(url, data, timeout=60)).get("web_url"))'
)


@dataclass(frozen=True)
class Rule:
    condition: str
    when: str | None = None  # None: on_success
    start_in: str | None = None


@dataclass(frozen=True)
class GitLabSyntax:
    pipeline: Pipeline
    requirements: str

    # -- events and rules --------------------------------------------------------------
    @property
    def on_branch(self) -> str:
        return f'$CI_COMMIT_BRANCH == "{self.pipeline.default_branch}"'

    @property
    def on_release_tag(self) -> str:
        return f"$CI_COMMIT_TAG =~ /^{self.pipeline.release_tag_prefix}/"

    def event_condition(self, event: Event) -> str:
        branch = self.on_branch
        return {
            Event.PULL_REQUEST: '$CI_PIPELINE_SOURCE == "merge_request_event"',
            Event.DEFAULT_BRANCH: f'{branch} && $CI_PIPELINE_SOURCE == "push"',
            Event.RELEASE_TAG: self.on_release_tag,
            # Schedules are created in the project's settings; the drift one sets MLCI_SCHEDULE=drift.
            Event.TRAINING_SCHEDULE: f'{branch} && $CI_PIPELINE_SOURCE == "schedule" && $MLCI_SCHEDULE != "drift"',
            Event.DRIFT_SCHEDULE: f'{branch} && $CI_PIPELINE_SOURCE == "schedule" && $MLCI_SCHEDULE == "drift"',
            # Run by hand, through the API, or by this pipeline (retraining after drift).
            Event.MANUAL: f"{branch} && $CI_PIPELINE_SOURCE =~ /^(web|api|trigger|pipeline)$/",
        }[event]

    def _either(self, events: frozenset[Event]) -> str:
        ordered = [t.event for t in self.pipeline.triggers if t.event in events]
        atoms = [self.event_condition(event) for event in ordered]
        if len(atoms) == 1:
            return atoms[0]
        return " || ".join(f"({atom})" for atom in atoms)

    def wait_minutes(self, job: Job) -> int:
        if job.environment is None:
            return 0
        return self.pipeline.promotion(job.environment).approval.wait_timer_minutes

    def rules(self, job: Job) -> list[Rule]:
        """One rule for the events the job runs on by itself, one for those a person starts."""
        condition = job.condition
        rules = []
        automatic = condition.automatic_events
        if automatic:
            wait = self.wait_minutes(job)
            if condition.when in (When.FAILURE, When.FINDINGS):
                # FINDINGS: the job's script reads its needs' verdicts (rules cannot see them).
                rules.append(Rule(self._either(automatic), "on_failure"))
            elif condition.when is When.ALWAYS:
                rules.append(Rule(self._either(automatic), "always"))
            elif wait:
                delay = min(wait, MAX_START_IN_MINUTES)
                rules.append(Rule(self._either(automatic), "delayed", f"{delay} minutes"))
            else:
                rules.append(Rule(self._either(automatic)))
        if condition.manual_on:
            rules.append(Rule(self._either(condition.manual_on), "manual"))
        return rules

    def waits_in_job(self, job: Job) -> int:
        """The part of the wait timer the job spends itself: all of it for a job a person starts
        (GitLab cannot delay a manual job, so it waits once approved), and what a delayed start
        cannot cover (GitLab delays by a week at most)."""
        wait = self.wait_minutes(job)
        if job.condition.manual_on:
            return wait
        return max(0, wait - MAX_START_IN_MINUTES)

    def timeout_minutes(self, job: Job) -> int:
        return job.timeout_minutes + self.waits_in_job(job)

    def workflow_rules(self) -> list[str]:
        events = {t.event for t in self.pipeline.triggers}
        rules = []
        if Event.PULL_REQUEST in events:
            rules.append(self.event_condition(Event.PULL_REQUEST))
        rules.append(self.on_branch)
        if Event.RELEASE_TAG in events:
            rules.append(self.on_release_tag)
        return rules

    def changes(self) -> list[str]:
        """Monorepo: only changes to this project (or to this file) run its jobs."""
        return [*self.pipeline.path_filters, ".gitlab-ci.yml"] if self.pipeline.path_filters else []

    # -- jobs ----------------------------------------------------------------------------
    def stage(self, job: Job) -> str:
        return _STAGES.get(job.name, "deploy")

    def stages(self) -> list[str]:
        used = {self.stage(job) for job in self.pipeline.jobs}
        return [stage for stage in _STAGE_ORDER if stage in used]

    def needs(self, job: Job) -> list[tuple[str, bool]]:
        """(job, whether its artifacts are downloaded) for each need."""
        produced = {artifact.name for artifact in job.inputs}
        result = []
        for need in job.needs:
            needed = self.pipeline.job(need)
            outputs = {artifact.name for artifact in needed.outputs}
            # An image build hands its digest on as a dotenv report, an artifact too.
            # A verdict file, for a job that acts on the need's findings.
            verdict = job.condition.when is When.FINDINGS and needed.verdict_step is not None
            result.append((need, bool(outputs & produced) or needed.runner is Runner.DOCKER or verdict))
        return result

    def uses_python(self, job: Job) -> bool:
        return job.runner is Runner.PYTHON

    def manual(self, job: Job) -> bool:
        return bool(job.condition.manual_on)

    # -- steps ---------------------------------------------------------------------------
    def in_project(self, path: str) -> str:
        return path if self.pipeline.project_dir == "." else f"{self.pipeline.project_dir}/{path}"

    def script(self, job: Job) -> list[str]:
        """The shell lines of the job's install and mlci steps, each changing to the folder
        it runs in (the repository root, or the project's folder)."""
        lines: list[str] = []
        here = "."
        wait = self.waits_in_job(job)
        if wait:
            lines.append(f"echo 'waiting {wait} minutes before deploying (wait_timer_minutes)'")
            lines.append(f"sleep {wait * 60}")
        if job.verdict_step is not None:
            # No verdict but this run's: a file left in the checkout must not pass for one.
            lines.append(f"rm -f {self.verdict_path(job)}")
        if job.condition.when is When.FINDINGS:
            lines.extend(self._findings_check(job))
        for step in job.steps:
            if step.kind is StepKind.RETRAIN:
                lines.append(f"python -c {shell_quote(_TRIGGER)} {shell_quote(self.pipeline.default_branch)}")
            if step.kind not in (StepKind.INSTALL, StepKind.MLCI):
                continue
            where = "." if step.from_root or step.kind is StepKind.INSTALL else self.pipeline.project_dir
            if where != here:
                lines.append("cd " + ('"$CI_PROJECT_DIR"' if where == "." else shell_quote(where)))
                here = where
            if step.kind is StepKind.INSTALL:
                lines.extend(self._install(step))
            elif step.verdict:
                lines.extend(self._verdict(job, step))
            else:
                lines.append(self._mlci(step))
        return lines

    def verdict_file(self, job: Job) -> str:
        """The verdict file, relative to the repository root (where artifacts are collected)."""
        return VERDICT_FILE.format(job=job.name)

    def verdict_path(self, job: Job) -> str:
        return f'"$CI_PROJECT_DIR/{self.verdict_file(job)}"'

    def _verdict(self, job: Job, step: Step) -> list[str]:
        """The mlci command, its own exit status kept in the verdict file; the job ends as it did."""
        return [
            "status=0",
            f"{self._mlci(step)} || status=$?",
            f'echo "$status" > {self.verdict_path(job)}',
            'exit "$status"',
        ]

    def _findings_check(self, job: Job) -> list[str]:
        """Go on only when each need's mlci command exited 1; else say why, and stop (exit 0:
        nothing to do, the need's own failure already fails the pipeline)."""
        lines = []
        for need in job.needs:
            needed = self.pipeline.job(need)
            command = f"mlci {needed.verdict_step.args[0]}" if needed.verdict_step else "its mlci command"
            lines += [
                f'verdict="$(cat {self.verdict_path(needed)} 2>/dev/null || echo none)"',
                f'if [ "$verdict" != {FINDINGS_EXIT_CODE} ]; then '
                f'echo "{need}: {command} exited $verdict, not {FINDINGS_EXIT_CODE} (findings): nothing to act on '
                f'(2: invalid input, 3: could not decide, none: it did not run)"; exit 0; fi',
            ]
        return lines

    def _install(self, step: Step) -> list[str]:
        packages = '"$MLCI_PIP_SPEC"' + (f' "mlci[{",".join(step.extras)}]"' if step.extras else "")
        lines = [f"python -m pip install {packages}"]
        if step.requirements:
            lines.append(f"python -m pip install -r {shell_quote(self.in_project(self.requirements))}")
        return lines

    def _mlci(self, step: Step) -> str:
        spec = self.in_project(self.pipeline.spec_file) if step.from_root else self.pipeline.spec_file
        words = [spec if arg == SPEC else arg for arg in step.args]
        line = "mlci " + " ".join(shell_quote(word) for word in words)
        for option, variable in step.env_args:
            line += f' {option} "${variable}"'
        return line + (_REPORT_OPTIONS[step.report] if step.report else "")

    def secrets(self, job: Job) -> list[str]:
        names: list[str] = []
        for step in job.steps:
            names += [name for name in (*step.secrets, *step.variables) if name not in names]
        return names

    def artifacts(self, job: Job) -> dict[str, Any] | None:
        """What the job keeps: its outputs, its reports (GitLab's junit and code quality), and
        the Markdown a merge request shows (exposed artifacts)."""
        reports = {step.report for step in job.steps if step.report is not None}
        paths = [self.artifact_path(artifact.path, artifact.folder) for artifact in job.outputs]
        if job.verdict_step is not None:
            paths.append(self.verdict_file(job))
        expose_as = None
        if Report.GRAPH in reports:
            paths.append(_GRAPH_FILE)
            expose_as = "mlci lifecycle"
        if Report.PR_EVALUATION in reports:
            expose_as = "mlci pr evaluation"
        junit = {step.report: path for step in job.steps for report, path in _JUNIT.items() if step.report is report}
        files: dict[str, str] = {}
        for report in (Report.POLICY, Report.GATE, Report.DRIFT):
            if report in junit:
                files["junit"] = junit[report]
        if Report.POLICY in reports:
            files["codequality"] = "gl-code-quality-report.json"
        if not paths and not files:
            return None
        return {
            "always": bool(reports) or job.verdict_step is not None or any(artifact.always for artifact in job.outputs),
            "expose_as": expose_as,
            "paths": paths,
            "reports": files,
        }

    def artifact_path(self, path: str, folder: bool) -> str:
        return self.in_project(path) + ("/" if folder else "")


@dataclass(frozen=True)
class GitLabRenderer:
    name: str = "gitlab"
    description: str = "GitLab CI pipeline"
    capabilities: Capabilities = CAPABILITIES

    def render(self, context: dict[str, Any]) -> list[RenderedFile]:
        syntax = GitLabSyntax(context["pipeline"], context["training"]["requirements"])
        return [RenderedFile(".gitlab-ci.yml", render_template("gitlab/gitlab-ci.yml.j2", {**context, "gl": syntax}))]


GITLAB_CI = GitLabRenderer()
