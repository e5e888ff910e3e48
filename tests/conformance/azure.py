"""A rendered azure-pipelines.yml read back as Azure Pipelines reads it: triggers (push, pull
request, schedules and their path filters), the variables that tell the events apart, and the
stages: `dependsOn`, the condition (outcome rule and events), the jobs (deployment jobs and
their environment, the agentless wait), the mlci commands the scripts run, and the artifacts
published and downloaded."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml import YAML

_CONDITION = re.compile(r"^and\((succeeded|failed|always)\(\), (.*)\)$")
_EVENT_ATOM = re.compile(r"eq\(variables\.(\w+), true\)")
# A need's output variable compared with a value: eq(dependencies.<stage>.outputs['<job>.<step>.<var>'], '<value>').
_OUTPUT_ATOM = re.compile(r"eq\(dependencies\.(\w+)\.outputs\['(\w+)\.(\w+)\.(\w+)'\], '([^']*)'\)")
_MLCI_COMMAND = re.compile(r"^\s*(mlci \w+.*?)\s*$", re.M)


@dataclass
class Stage:
    name: str
    depends_on: list[str]
    outcome: str  # succeeded | failed | always
    event_variables: frozenset[str]
    environment: str | None = None  # a deployment job's
    wait_minutes: int = 0  # an agentless Delay job before the deployment
    timeouts: list[int] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)
    published: list[str] = field(default_factory=list)
    downloaded: list[str] = field(default_factory=list)
    secure_files: list[str] = field(default_factory=list)
    queues_runs: bool = False  # calls the Pipelines runs API (a new run)
    # (stage, job, step, variable, value): the condition asks a need's output variable for a value.
    output_checks: list[tuple[str, str, str, str, str]] = field(default_factory=list)
    # (job, step name) -> the script of each named script step.
    named_scripts: dict[tuple[str, str], str] = field(default_factory=dict)


@dataclass
class AzurePipeline:
    push_branches: list[str]
    tags: list[str]
    push_paths: list[str]
    pr_branches: list[str]
    pr_paths: list[str]
    schedules: dict[str, str]  # display name -> cron
    schedule_branches: list[list[str]]
    variables: dict[str, Any]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        return next(stage for stage in self.stages if stage.name == name)


def _steps(job: dict[str, Any]) -> list[dict[str, Any]]:
    if "steps" in job:
        return list(job["steps"])
    return list(job["strategy"]["runOnce"]["deploy"]["steps"])


def _stage(raw: dict[str, Any]) -> Stage:
    depends = raw.get("dependsOn", [])
    found = _CONDITION.match(" ".join(str(raw["condition"]).split()))
    if not found:
        raise ValueError(f"stage {raw['stage']}: condition {raw['condition']!r} is not and(<outcome>, <events>)")
    stage = Stage(
        raw["stage"],
        [depends] if isinstance(depends, str) else list(depends),
        found[1],
        frozenset(_EVENT_ATOM.findall(found[2])),
        output_checks=_OUTPUT_ATOM.findall(found[2]),
    )
    for job in raw["jobs"]:
        stage.timeouts.append(int(job["timeoutInMinutes"]))
        if "deployment" in job:
            stage.environment = job["environment"]
        for step in _steps(job):
            if step.get("task") == "Delay@1":
                stage.wait_minutes += int(step["inputs"]["delayForMinutes"])
            elif step.get("task") == "DownloadSecureFile@1":
                stage.secure_files.append(step["inputs"]["secureFile"])
            elif "publish" in step:
                stage.published.append(step["artifact"])
            elif "download" in step:
                stage.downloaded.append(step["artifact"])
            elif "script" in step:
                if "name" in step:
                    stage.named_scripts[(job.get("job") or job.get("deployment"), step["name"])] = step["script"]
                script = re.sub(r"\\\n\s*", "", step["script"])
                stage.commands += _MLCI_COMMAND.findall(script)
                stage.queues_runs |= "/_apis/pipelines/$(System.DefinitionId)/runs" in script
    return stage


def read(text: str) -> AzurePipeline:
    doc = YAML(typ="safe").load(text)
    trigger, pr = doc["trigger"], doc["pr"]
    return AzurePipeline(
        push_branches=trigger["branches"]["include"],
        tags=trigger["tags"]["include"],
        push_paths=trigger.get("paths", {}).get("include", []),
        pr_branches=pr["branches"]["include"],
        pr_paths=pr.get("paths", {}).get("include", []),
        schedules={s["displayName"]: s["cron"] for s in doc.get("schedules", [])},
        schedule_branches=[s["branches"]["include"] for s in doc.get("schedules", [])],
        variables=doc["variables"],
        stages=[_stage(raw) for raw in doc["stages"]],
    )
