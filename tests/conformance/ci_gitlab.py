"""GitLab CI, as GitLab reads it: `workflow: rules:`, each job's `rules:` (first match wins:
never, manual, delayed, on_failure), `needs:` and `environment:`. Approval rules live in the
project's protected environments, outside the file; a manual job on an environment is the hold."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from mlci.pipeline import Event, Pipeline
from mlci.render.gitlab import CAPABILITIES
from tests.conformance import expressions
from tests.conformance.graph import EnvironmentView, JobGraph, JobView
from tests.conformance.outcomes import FAILED, OUTCOMES, Sandbox

TARGET = "gitlab"
capabilities = CAPABILITIES
_KEYWORDS = {"workflow", "stages", "variables", "default", "include", "image", "services", "cache"}


def _variables(event: Event, pipeline: Pipeline) -> dict[str, str]:
    # CI_DEFAULT_BRANCH is the project's setting; the rendered file must not depend on it.
    common = {"CI_DEFAULT_BRANCH": "unrelated-default", "CI_PROJECT_PATH": "group/project"}
    branch = {"CI_COMMIT_BRANCH": pipeline.default_branch, "CI_COMMIT_REF_NAME": pipeline.default_branch}
    return (
        common
        | {
            Event.PULL_REQUEST: {
                "CI_PIPELINE_SOURCE": "merge_request_event",
                "CI_MERGE_REQUEST_IID": "1",
                "CI_COMMIT_REF_NAME": "feature",
            },
            Event.DEFAULT_BRANCH: {"CI_PIPELINE_SOURCE": "push", **branch},
            Event.RELEASE_TAG: {"CI_PIPELINE_SOURCE": "push", "CI_COMMIT_TAG": f"{pipeline.release_tag_prefix}1.0.0"},
            Event.TRAINING_SCHEDULE: {"CI_PIPELINE_SOURCE": "schedule", **branch},
            Event.DRIFT_SCHEDULE: {"CI_PIPELINE_SOURCE": "schedule", "MLCI_SCHEDULE": "drift", **branch},
            Event.MANUAL: {"CI_PIPELINE_SOURCE": "web", **branch},
        }[event]
    )


def _first_rule(rules: list[dict[str, Any]] | None, variables: dict[str, str]) -> dict[str, Any] | None:
    """The rule that decides, or None when the job is not added to the pipeline."""
    if rules is None:
        return {}
    for rule in rules:
        if "if" not in rule or expressions.gitlab(rule["if"], variables):
            return None if rule.get("when") == "never" else rule
    return None


def _minutes(text: str) -> int:
    number, unit = re.fullmatch(r"(\d+)\s*(\w+)", text.strip()).groups()  # type: ignore[union-attr]
    return int(number) * {"minute": 1, "minutes": 1, "hour": 60, "hours": 60, "day": 1440, "days": 1440}[unit]


# The outcomes of its needs after which a job's rule lets it run: `when:` on_success (None),
# on_failure or always.
_AFTER_RULE = {None: frozenset({"passed"}), "on_failure": FAILED, "always": frozenset(OUTCOMES)}


def _script(job: dict[str, Any]) -> list[str]:
    script = job.get("script", [])
    return [script] if isinstance(script, str) else [str(line) for line in script]


def read(folder: Path, pipeline: Pipeline) -> JobGraph:
    document = YAML(typ="safe").load((folder / ".gitlab-ci.yml").read_text())
    jobs = {name: job for name, job in document.items() if name not in _KEYWORDS and not name.startswith(".")}

    def rules_of(job: dict[str, Any]) -> list[dict[str, Any]] | None:
        if "rules" in job:
            return list(job["rules"])
        for parent in [job["extends"]] if isinstance(job.get("extends"), str) else job.get("extends", []):
            if "rules" in document[parent]:
                return list(document[parent]["rules"])
        return None

    def needs(name: str) -> list[str]:
        return [need if isinstance(need, str) else need["job"] for need in jobs[name].get("needs", [])]

    workflow_rules = document.get("workflow", {}).get("rules")
    triggers = frozenset(
        e for e in Event if pipeline.trigger(e) and _first_rule(workflow_rules, _variables(e, pipeline)) is not None
    )
    decided: dict[tuple[str, Event], dict[str, Any] | None] = {}

    def rule(name: str, event: Event) -> dict[str, Any] | None:
        key = (name, event)
        if key not in decided:
            chosen = _first_rule(rules_of(jobs[name]), _variables(event, pipeline)) if event in triggers else None
            if chosen is not None and not all(rule(need, event) is not None for need in needs(name)):
                chosen = None
            decided[key] = chosen
        return decided[key]

    def acts_after(name: str, outcome: str) -> bool:
        """Rules cannot see why a need failed, a script can: run the needs' scripts as the
        outcome says, then this job's (in one folder: the artifacts handed on), to its end?"""
        with Sandbox() as sandbox:
            env = {"CI_PROJECT_DIR": str(sandbox.root)}
            for line in (line for job in (name, *needs(name)) for line in _script(jobs[job])):
                # The project's folder (a monorepo's), as in the checkout.
                if line.startswith("cd ") and not line.split()[1].startswith('"$'):
                    (sandbox.root / shlex.split(line)[1]).mkdir(parents=True, exist_ok=True)
            for need in needs(name):
                sandbox.run("\n".join(_script(jobs[need])), outcome, env)
            return sandbox.run("\n".join(_script(jobs[name])), "passed", env).reached_end

    views: dict[str, JobView] = {}
    waits: dict[str, int] = {}
    for name, job in jobs.items():
        chosen = {event: rule(name, event) for event in triggers}
        events = frozenset(event for event, decision in chosen.items() if decision is not None)
        environment = job.get("environment")
        environment = environment.get("name") if isinstance(environment, dict) else environment
        whens = {chosen[e].get("when") for e in events}  # type: ignore[union-attr]
        after: frozenset[str] = frozenset()
        if needs(name) and events:
            after = _AFTER_RULE["always" if "always" in whens else "on_failure" if "on_failure" in whens else None]
            if "on_failure" in whens:
                after = frozenset(outcome for outcome in after if acts_after(name, outcome))
        views[name] = JobView(
            needs=frozenset(needs(name)),
            events=events,
            held=frozenset(e for e in events if chosen[e].get("when") == "manual"),  # type: ignore[union-attr]
            after=after,
            environment=environment,
        )
        if environment:
            delays = [_minutes(chosen[e]["start_in"]) for e in events if chosen[e].get("when") == "delayed"]  # type: ignore[index]
            # A wait after the manual start is a script line of its own (canary pauses sit in the deploy script).
            slept = sum(
                int(line.split()[1]) // 60 for line in job.get("script", []) if re.fullmatch(r"sleep \d+", line)
            )
            waits[environment] = max(delays, default=0) + slept
    return JobGraph(
        jobs=views,
        triggers=triggers,
        crons=None,
        environments={
            name: EnvironmentView(approvals=None, approvers=None, separation_of_duties=None, wait_timer_minutes=wait)
            for name, wait in waits.items()
        },
    )
