"""Rendered Argo Workflows manifests read back as the Argo controller reads them: the
WorkflowTemplate's entrypoint DAG as a job graph (each task's dependencies, or its `depends`
expression, the template it runs, that template's deadline, the mlci commands its container
runs, what its init container installs, the secrets it reads and the workspace folders it
mounts), and the CronWorkflow's schedule and the template it starts."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass
from typing import Any

from ruamel.yaml import YAML

_PIP_PACKAGE = re.compile(r"^mlci(?:\[(?P<extras>[^\]]*)\])?==\S+$")
_DEPENDS_OUTCOME = re.compile(r"(?P<task>[a-z0-9-]+)\.(?P<outcome>Succeeded|Failed|Errored)")


@dataclass(frozen=True)
class ArgoTask:
    name: str
    needs: tuple[str, ...]
    when: str  # success | failure | always, as the model's When values
    timeout_minutes: float
    commands: tuple[tuple[str, ...], ...]  # each mlci command's arguments after `mlci`
    installs: tuple[str, ...] | None  # mlci's extras, None when nothing is installed
    installs_requirements: bool
    secrets: tuple[tuple[str, str, bool], ...]  # (variable, secret, optional)
    workspace_folders: tuple[str, ...]  # project folders mounted from the run's volume claim
    working_dir: str


@dataclass(frozen=True)
class ArgoWorkflow:
    name: str
    tasks: tuple[ArgoTask, ...]
    schedule: str | None
    timezone: str | None

    def task(self, name: str) -> ArgoTask:
        return next(task for task in self.tasks if task.name == name)

    def edges(self) -> tuple[tuple[str, str], ...]:
        return tuple((need, task.name) for task in self.tasks for need in task.needs)


def _needs(task: dict[str, Any]) -> tuple[tuple[str, ...], str]:
    """A DAG task's needs and when it runs after them, from `dependencies` or `depends`."""
    if "depends" not in task:
        return tuple(task.get("dependencies", ())), "success"
    groups = []
    for group in task["depends"].split(" && "):
        terms = [_DEPENDS_OUTCOME.fullmatch(term.strip()) for term in group.strip().strip("()").split(" || ")]
        if not all(terms):
            raise ValueError(f"depends expression not understood: {task['depends']!r}")
        groups.append([(m["task"], m["outcome"]) for m in terms if m])
    every_outcome = {"Succeeded", "Failed", "Errored"}
    if all(len({t for t, _ in g}) == 1 and {o for _, o in g} == every_outcome for g in groups):
        return tuple(g[0][0] for g in groups), "always"
    if len(groups) == 1 and all(outcome == "Failed" for _, outcome in groups[0]):
        return tuple(t for t, _ in groups[0]), "failure"
    if all(len(g) == 1 and g[0][1] == "Succeeded" for g in groups):
        return tuple(g[0][0] for g in groups), "success"
    raise ValueError(f"depends expression not understood: {task['depends']!r}")


def _shell_lines(container: dict[str, Any]) -> list[list[str]]:
    command = container.get("command", [])
    if command[:1] != ["sh"]:
        return [[*command, *container.get("args", [])]]
    script = container["args"][0]
    return [shlex.split(part) for line in script.splitlines() for part in line.split(" && ") if line.strip()]


def _mlci_commands(container: dict[str, Any]) -> tuple[tuple[str, ...], ...]:
    commands = []
    for words in _shell_lines(container):
        if words[:3] == ["python", "-m", "mlci"]:
            commands.append(tuple(words[3:]))
    return tuple(commands)


def _install(template: dict[str, Any]) -> tuple[tuple[str, ...] | None, bool]:
    for init in template.get("initContainers", []):
        for words in _shell_lines(init):
            if "pip" in words and "install" in words:
                packages = [w for w in words if _PIP_PACKAGE.match(w)]
                extras = _PIP_PACKAGE.match(packages[0])["extras"] if packages else None  # type: ignore[index]
                return tuple(extras.split(",")) if extras else (), "-r" in words
    return None, False


def _secrets(container: dict[str, Any]) -> tuple[tuple[str, str, bool], ...]:
    found = []
    for variable in container.get("env", []):
        reference = variable.get("valueFrom", {}).get("secretKeyRef")
        if reference:
            found.append((variable["name"], reference["name"], bool(reference.get("optional", False))))
    return tuple(found)


def _workspace_folders(container: dict[str, Any], working_dir: str) -> tuple[str, ...]:
    folders = []
    for mount in container.get("volumeMounts", []):
        if mount["name"] == "workspace":
            assert mount["mountPath"] == f"{working_dir}/{mount['subPath']}", mount
            folders.append(mount["subPath"])
    return tuple(folders)


def parse(documents: list[dict[str, Any]]) -> ArgoWorkflow:
    """The job graph of the WorkflowTemplate among `documents`, with its CronWorkflow's schedule."""
    template = next(d for d in documents if d.get("kind") == "WorkflowTemplate")
    spec = template["spec"]
    templates = {t["name"]: t for t in spec["templates"]}
    entry = templates[spec["entrypoint"]]
    tasks = []
    for task in entry["dag"]["tasks"]:
        runs = templates[task["template"]]
        container = runs["container"]
        needs, when = _needs(task)
        extras, requirements = _install(runs)
        working_dir = container.get("workingDir", "")
        tasks.append(
            ArgoTask(
                name=task["name"],
                needs=needs,
                when=when,
                timeout_minutes=runs["activeDeadlineSeconds"] / 60,
                commands=_mlci_commands(container),
                installs=extras,
                installs_requirements=requirements,
                secrets=_secrets(container),
                workspace_folders=_workspace_folders(container, working_dir),
                working_dir=working_dir,
            )
        )
    crons = [d for d in documents if d.get("kind") == "CronWorkflow"]
    schedule = timezone = None
    if crons:
        cron = crons[0]["spec"]
        assert cron["workflowSpec"]["workflowTemplateRef"]["name"] == template["metadata"]["name"]
        (schedule,) = cron["schedules"]
        timezone = cron.get("timezone")
    return ArgoWorkflow(template["metadata"]["name"], tuple(tasks), schedule, timezone)


def load(*texts: str) -> list[dict[str, Any]]:
    yaml = YAML(typ="safe")
    return [d for text in texts for d in yaml.load_all(text) if isinstance(d, dict)]
