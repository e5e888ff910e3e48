"""Argo Workflows: the model's training chain, run in the cluster, printed from the lifecycle model.

    k8s/argo/workflowtemplate.yaml   a WorkflowTemplate whose DAG is the model's training chain
                                     (train -> evaluate -> gate -> register), one task per job
    k8s/argo/cronworkflow.yaml       a CronWorkflow running it on the retraining schedule, when
                                     the model has one (in place of the CronJob the Kubernetes
                                     target used to render, which threw its model away)
    k8s/argo/rbac.yaml               the workflow's ServiceAccounts, and the one permission
                                     Argo's executor needs (to report each step's result)
    k8s/argo/kustomization.yaml      what to apply, with the image pinned by digest

Which jobs run in the cluster is read off the model, not chosen here: the jobs that run on a
delivery event in the project's Python (`Runner.PYTHON`), downstream of nothing but such jobs.
The repository's policy check stays with CI (it reads the repository; the image the cluster
runs was built from a commit it passed), as do building images and deploying behind approvals.
Artifacts pass from task to task on a volume claim the workflow creates and deletes; the model
itself is logged to the MLflow run and registered, so nothing is lost with the claim.
"""

from __future__ import annotations

import json
import shlex
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from mlci.errors import InputError, UserError
from mlci.pipeline import DELIVERY_EVENTS, SPEC, Event, Job, Pipeline, Runner, StepKind, When
from mlci.render.base import RenderedFile
from mlci.render.jinja import render_template

# Where the project lives in its image (templates/docker), and where each task's own mlci goes.
PROJECT_ROOT = "/app"
TOOLS = "/opt/mlci"
# The secret the registry's settings come from (the CI's secret store, in the cluster).
REGISTRY_SECRET_SUFFIX = "-mlflow"
# Without the tracking URI mlci would fall back to a registry inside the pod, lost with it.
REQUIRED_SECRETS = frozenset({"MLFLOW_TRACKING_URI"})
# The volume claim that carries the artifacts from task to task, for one workflow run.
WORKSPACE_SIZE = "4Gi"
# Finished workflows (and their pods) stay a week for their logs, as the training Job did.
FINISHED_TTL_SECONDS = 7 * 24 * 3600


@dataclass(frozen=True)
class Task:
    """One job of the model as an Argo DAG task and the template it runs."""

    name: str
    title: str
    purpose: str
    dependencies: tuple[str, ...]
    depends: str | None  # an Argo `depends` expression, when the job runs on other outcomes than success
    install: str  # the INSTALL step as a shell line, run by an init container
    script: str  # the job's mlci commands, one shell line each
    secrets: tuple[tuple[str, bool], ...]  # (variable, optional) from the registry's Secret
    variables: tuple[str, ...]  # from the project's ConfigMap, optional
    timeout_seconds: int


def cluster_jobs(pipeline: Pipeline) -> tuple[Job, ...]:
    """The jobs the cluster runs: on a delivery event, in the project's Python, needing only
    such jobs (the root checks, which need nothing, read the repository and stay with CI)."""
    chosen: list[Job] = []
    names: set[str] = set()
    for job in pipeline.jobs:
        delivers = bool(job.condition.events & DELIVERY_EVENTS)
        if job.runner is not Runner.PYTHON or not delivers or not job.needs:
            continue
        if all(need in names or not pipeline.job(need).needs for need in job.needs):
            chosen.append(job)
            names.add(job.name)
    return tuple(chosen)


def _command(args: tuple[str, ...], spec_file: str, env_args: tuple[tuple[str, str], ...]) -> str:
    words = ["python", "-m", "mlci", *(spec_file if arg == SPEC else arg for arg in args)]
    line = shlex.join(words)
    for option, variable in env_args:
        line += f' {shlex.quote(option)} "${variable}"'
    return line


def _install(job: Job, version: str, requirements: str) -> str:
    """The job's INSTALL step as one shell line: mlci (with its extras) and, when the step asks,
    the project's requirements, resolved together into a virtual environment of the task's own."""
    step = next((s for s in job.steps if s.kind is StepKind.INSTALL), None)
    if step is None:
        return ""
    package = "mlci" + (f"[{','.join(step.extras)}]" if step.extras else "") + f"=={version}"
    words = ["python", "-m", "pip", "install", "--no-cache-dir", package]
    if step.requirements:
        words += ["-r", f"{PROJECT_ROOT}/{requirements}"]
    return f"python -m venv {TOOLS} && {TOOLS}/bin/" + shlex.join(words)


def _task(job: Job, chosen: set[str], context: dict[str, Any]) -> Task:
    unknown = [step.kind.value for step in job.steps if step.kind not in (StepKind.INSTALL, StepKind.MLCI)]
    if unknown:
        raise UserError(f"the Argo Workflows target cannot run the {job.name} job's steps: {', '.join(unknown)}")
    needs = tuple(need for need in job.needs if need in chosen)
    if job.condition.when is When.FINDINGS:
        # No job of the cluster's chain acts on findings (retraining after drift stays with CI).
        raise UserError(f"the Argo Workflows target cannot run the {job.name} job on its needs' findings")
    depends = None
    if job.condition.when is When.FAILURE and needs:
        depends = " || ".join(f"{need}.Failed" for need in needs)
    elif job.condition.when is When.ALWAYS and needs:
        depends = " && ".join(f"({need}.Succeeded || {need}.Failed || {need}.Errored)" for need in needs)
    steps = job.mlci_steps()
    secrets = sorted({name for step in steps for name in step.secrets})
    spec_file = context["spec_file"]
    return Task(
        name=job.name,
        title=job.title,
        purpose=job.purpose,
        dependencies=() if depends else needs,
        depends=depends,
        install=_install(job, context["mlci"]["version"], context["training"]["requirements"]),
        script="\n".join(_command(step.args, spec_file, step.env_args) for step in steps),
        secrets=tuple((name, name not in REQUIRED_SECRETS) for name in secrets),
        variables=tuple(sorted({name for step in steps for name in step.variables})),
        timeout_seconds=job.timeout_minutes * 60,
    )


def workspace_folders(jobs: tuple[Job, ...], spec_file: str) -> tuple[str, ...]:
    """The project's folders the tasks hand on (each mounted from the workspace claim)."""
    folders = sorted({artifact.directory for job in jobs for artifact in (*job.inputs, *job.outputs)})
    if "." in folders:
        raise UserError(
            f"{spec_file}: the Argo Workflows target passes artifacts between its steps in folders of the "
            "project, and one lies at the project's top (training.outputs.model or evaluation.metrics_file): "
            "put it in a folder such as artifacts/"
        )
    return tuple(f for f in folders if not any(f.startswith(other + "/") for other in folders if other != f))


def _strings(value: Any, path: tuple[str | int, ...] = ()) -> Iterator[tuple[tuple[str | int, ...], str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, child in value.items():
            yield from _strings(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _strings(child, (*path, index))


def _refuse_argo_expressions(files: list[RenderedFile], context: dict[str, Any]) -> None:
    """Argo evaluates {{...}} in what it runs, with no way to escape it: a spec value spelling one
    would be an expression (reading the workflow's secrets and parameters), so it is refused."""
    for rendered in files:
        for number, line in enumerate(rendered.body.splitlines(), 1):
            if "{{" not in line:
                continue
            for path, text in _strings(context["spec"]):
                if "{{" in text and any(part in line for part in _printed_forms(text)):
                    field = "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in path)[1:]
                    raise InputError(
                        context["locate"](path),
                        f"{field}: Argo Workflows evaluates {{{{...}}}} in this value ({rendered.path}), and has "
                        "no way to escape it; write the value without '{{'",
                    )
            raise UserError(
                f"{context['spec_file']}: {rendered.path} line {number} would hold '{{{{', which Argo Workflows "
                "evaluates; write the spec's values without '{{'"
            )


def _printed_forms(text: str) -> tuple[str, ...]:
    """How a string can appear in the YAML: as is, or escaped inside a JSON or YAML string."""
    escaped = json.dumps(text)[1:-1]
    return (text, escaped, json.dumps(escaped)[1:-1])


@dataclass(frozen=True)
class ArgoWorkflowsRenderer:
    name: str = "argo"
    description: str = "Argo Workflows: the training chain in the cluster (WorkflowTemplate, CronWorkflow)"

    def render(self, context: dict[str, Any]) -> list[RenderedFile]:
        pipeline: Pipeline = context["pipeline"]
        jobs = cluster_jobs(pipeline)
        chosen = {job.name for job in jobs}
        spec_file = context["spec_file"]
        schedule = pipeline.trigger(Event.TRAINING_SCHEDULE)
        project = context["project"]["name"]
        argo = {
            "tasks": [_task(job, chosen, context) for job in jobs],
            "workspace_folders": workspace_folders(jobs, spec_file),
            "schedule": schedule.cron if schedule else None,
            "project_root": PROJECT_ROOT,
            "tools": TOOLS,
            "workspace_size": WORKSPACE_SIZE,
            "finished_ttl": FINISHED_TTL_SECONDS,
            "deadline": sum(job.timeout_minutes for job in jobs) * 60,
            "registry_secret": project + REGISTRY_SECRET_SUFFIX,
            "name": f"{project[:44]}-retrain",
            "workflow_account": f"{project[:54]}-workflow",
            "executor_account": f"{project[:54]}-executor",
        }
        local = [d for d in context["datasets"] if "://" not in d["uri"] and not d["uri"].startswith("/")]
        context = {**context, "argo": argo, "local_datasets": local}
        names = ["rbac.yaml", "workflowtemplate.yaml", *(["cronworkflow.yaml"] if schedule else [])]
        files = [RenderedFile(f"k8s/argo/{name}", render_template(f"argo/{name}.j2", context)) for name in names]
        kustomization = render_template("argo/kustomization.yaml.j2", {**context, "resources": names})
        files += [
            RenderedFile("k8s/argo/kustomizeconfig.yaml", render_template("argo/kustomizeconfig.yaml.j2", context)),
            RenderedFile("k8s/argo/kustomization.yaml", kustomization),
        ]
        _refuse_argo_expressions(files, context)
        return files


ARGO_WORKFLOWS = ArgoWorkflowsRenderer()
