"""GitHub Actions, as GitHub reads it: the workflow's `on:`, each job's `needs:`, `if:` and
`environment:`, and the environment protection rules mlci renders for the REST API."""

from __future__ import annotations

import fnmatch
import json
import re
from pathlib import Path
from typing import Any

from ruamel.yaml import YAML

from mlci.pipeline import Event, Pipeline
from mlci.render.github import CAPABILITIES
from tests.conformance import expressions
from tests.conformance.graph import EnvironmentView, JobGraph, JobView
from tests.conformance.outcomes import OUTCOMES, Sandbox

TARGET = "github"
capabilities = CAPABILITIES


def _context(event: Event, pipeline: Pipeline) -> dict[str, Any]:
    branch = f"refs/heads/{pipeline.default_branch}"
    cron = {t.event: t.cron for t in pipeline.triggers}.get(event)
    return {
        Event.PULL_REQUEST: {"github.event_name": "pull_request", "github.ref": "refs/pull/1/merge"},
        Event.DEFAULT_BRANCH: {"github.event_name": "push", "github.ref": branch},
        Event.RELEASE_TAG: {"github.event_name": "push", "github.ref": f"refs/tags/{pipeline.release_tag_prefix}1.0.0"},
        Event.TRAINING_SCHEDULE: {"github.event_name": "schedule", "github.ref": branch, "github.event.schedule": cron},
        Event.DRIFT_SCHEDULE: {"github.event_name": "schedule", "github.ref": branch, "github.event.schedule": cron},
        Event.MANUAL: {"github.event_name": "workflow_dispatch", "github.ref": branch},
    }[event]


def _matches(patterns: list[str] | None, name: str) -> bool:
    return patterns is None or any(fnmatch.fnmatchcase(name, pattern) for pattern in patterns)


def _triggered(on: dict[str, Any], event: Event, context: dict[str, Any]) -> bool:
    name = context["github.event_name"]
    if name not in on:
        return False
    if name == "schedule":
        return any(entry["cron"] == context["github.event.schedule"] for entry in on["schedule"])
    if name != "push":
        return True
    filters = on["push"] or {}
    ref = context["github.ref"]
    if ref.startswith("refs/tags/"):
        # Only branch filters: no tag starts the workflow.
        return "tags" in filters and _matches(filters["tags"], ref.removeprefix("refs/tags/"))
    if "tags" in filters and "branches" not in filters:
        return False
    return _matches(filters.get("branches"), ref.removeprefix("refs/heads/"))


_RUNS_MLCI = re.compile(r"^\s*mlci \w", re.M)
_STEP_OUTPUT = re.compile(r"^\$\{\{\s*steps\.([\w-]+)\.outputs\.([\w-]+)\s*\}\}$")


def _ended(job: dict[str, Any], outcome: str, sandbox: Sandbox) -> tuple[str, dict[str, str]]:
    """(success | failure, the job's outputs) of a job whose mlci command ended with `outcome`:
    each step that has an id and runs mlci is run for real; a broken job ran none of them."""
    written: dict[str, dict[str, str]] = {}
    # A job without such a step ends as its mlci commands did.
    status = "failure" if outcome != "passed" else "success"
    for step in job.get("steps", []):
        script = step.get("run")
        if outcome == "broken" or "id" not in step or not isinstance(script, str) or not _RUNS_MLCI.search(script):
            continue
        output_file = sandbox.root / f"output-{step['id']}"
        output_file.write_text("")
        result = sandbox.run(script, outcome, {"GITHUB_OUTPUT": str(output_file), "GITHUB_STEP_SUMMARY": "/dev/null"})
        written[step["id"]] = dict(line.split("=", 1) for line in output_file.read_text().splitlines() if "=" in line)
        # The step's own exit status is the job's: a step that swallowed a failure passes it.
        status = "success" if result.status == 0 else "failure"
    outputs = {}
    for key, expression in (job.get("outputs") or {}).items():
        found = _STEP_OUTPUT.match(str(expression))
        # An output of a step that did not run, or did not write it, is the empty string.
        outputs[key] = written.get(found[1], {}).get(found[2], "") if found else ""
    return status, outputs


def read(folder: Path, pipeline: Pipeline) -> JobGraph:
    workflow = YAML(typ="safe").load((folder / ".github" / "workflows" / f"mlci-{pipeline.project}.yml").read_text())
    on = workflow["on"]
    settings_file = folder / ".github" / "mlci" / "environments" / f"{pipeline.project}.json"
    settings = json.loads(settings_file.read_text())["environments"] if settings_file.exists() else {}
    jobs = workflow["jobs"]

    def needs(name: str) -> list[str]:
        raw = jobs[name].get("needs", [])
        return [raw] if isinstance(raw, str) else list(raw)

    triggers = frozenset(e for e in Event if pipeline.trigger(e) and _triggered(on, e, _context(e, pipeline)))
    ended: dict[tuple[str, str], tuple[str, dict[str, str]]] = {}

    def end(name: str, outcome: str) -> tuple[str, dict[str, str]]:
        key = (name, outcome)
        if key not in ended:
            ended[key] = _ended(jobs[name], outcome, sandbox)
        return ended[key]

    def runs_after(name: str, event: Event, outcome: str) -> bool:
        """Does the job's `if:` let it run on `event` when its needs ended with `outcome`?"""
        context = dict(_context(event, pipeline))
        status = "success"
        for need in needs(name):
            need_status, outputs = end(need, outcome)
            status = "failure" if need_status == "failure" else status
            context |= {f"needs.{need}.outputs.{key}": value for key, value in outputs.items()}
        return expressions.github(str(jobs[name].get("if", "success()")), context, status)

    runs: dict[tuple[str, Event], bool] = {}

    def run(name: str, event: Event) -> bool:
        key = (name, event)
        if key not in runs:
            outcomes = OUTCOMES if needs(name) else ("passed",)
            runs[key] = (
                event in triggers
                and all(run(need, event) for need in needs(name))
                and any(runs_after(name, event, outcome) for outcome in outcomes)
            )
        return runs[key]

    views = {}
    with Sandbox() as sandbox:
        for name, job in jobs.items():
            environment = job.get("environment")
            environment = environment.get("name") if isinstance(environment, dict) else environment
            events = frozenset(e for e in triggers if run(name, e))
            reviewers = settings.get(environment, {}).get("request", {}).get("reviewers", []) if environment else []
            after = frozenset(
                outcome for outcome in OUTCOMES for event in events if needs(name) and runs_after(name, event, outcome)
            )
            views[name] = JobView(
                needs=frozenset(needs(name)),
                events=events,
                held=events if reviewers else frozenset(),
                after=after,
                environment=environment,
            )
    environments = {
        name: EnvironmentView(
            approvals=1 if entry["request"]["reviewers"] else 0,
            approvers=tuple(reviewer["login"] for reviewer in entry["request"]["reviewers"]),
            separation_of_duties=entry["request"]["prevent_self_review"],
            wait_timer_minutes=entry["request"]["wait_timer"],
        )
        for name, entry in settings.items()
    }
    return JobGraph(
        jobs=views,
        triggers=triggers,
        crons=frozenset(entry["cron"] for entry in on.get("schedule") or []),
        environments=environments,
    )
