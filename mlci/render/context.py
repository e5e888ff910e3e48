"""The data every template sees: the spec with its documented defaults filled
in, plus the few facts about where files land. Templates never compute
defaults themselves, so all targets agree on them."""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

from mlci import __version__
from mlci.errors import InputError, Location
from mlci.loader import Spec

DEFAULT_PYTHON = "3.11"
DEFAULT_MODEL_PATH = "artifacts/model.joblib"
DEFAULT_METRICS_FILE = "artifacts/metrics.json"
DEFAULT_REQUIREMENTS = "requirements.txt"
BLESSING_FILE = "artifacts/blessing.json"
# The CI targets rendered when the spec names no ci.providers; other CI renderers are opt-in.
CI_TARGETS = ("github", "gitlab", "jenkins")
# A canary without steps of its own: a fifth, then half, ten minutes each, then everything.
DEFAULT_CANARY_STEPS = ({"weight": 20, "pause": "10m"}, {"weight": 50, "pause": "10m"})
# Pushing a tag that starts with this deploys through to production (behind its approvals).
RELEASE_TAG_PREFIX = "v"
# Added to a canary's pauses for its pods to start and for the last step to complete.
ROLLOUT_MARGIN_MINUTES = 15
# One folder or file name of a path that rendered files name (the spec's folder, its file, the
# output folder): what is safe bare in a shell word, a YAML scalar, a Groovy string, a path
# filter and a CI expression, and that no command reads as an option (no leading '-'). Folder
# names are chosen by whoever opens a pull request; others are refused rather than escaped.
_SAFE_PATH_PART = re.compile(r"[A-Za-z0-9._][A-Za-z0-9._-]*")
# What Azure Pipelines expands wherever it finds it in a value, with no escape: macros $( ),
# runtime expressions $[ ] and template expressions ${{ }}.
_AZURE_EXPRESSION = re.compile(r"\$(\(|\[|\{\{)")


def as_argv(command: str | list[str] | None) -> list[str]:
    if command is None:
        return []
    return shlex.split(command) if isinstance(command, str) else [str(c) for c in command]


def build_context(spec: Spec, out_dir: Path, targets: tuple[str, ...]) -> dict[str, Any]:
    data = spec.data
    project = data["project"]
    training = data["training"]
    evaluation = data["evaluation"]
    ci = data.get("ci", {})
    serving = data.get("serving")
    mlci_version = ci.get("mlci_version", __version__)
    project_dir = Path(os.path.relpath(spec.directory.resolve(), out_dir.resolve())).as_posix()
    spec_file = spec.path.name
    out_from_project = Path(os.path.relpath(out_dir.resolve(), spec.directory.resolve())).as_posix()
    for path in (project_dir, spec_file, out_from_project):
        require_safe_path(path, spec)
    if "azure" in targets:
        refuse_azure_expressions(spec)
    python_version = ci.get("python_version", DEFAULT_PYTHON)
    training_image = training.get("image", f"python:{python_version}-slim")
    registry = ci.get("image_registry", f"registry.example.com/{project.get('team', 'ml')}")
    repository = f"{registry}/{project['name']}"
    # One image serves and trains unless serving names a base of its own: then training gets
    # an image of its own too (templates/docker).
    separate_training_image = serving is not None and serving.get("image", training_image) != training_image

    # Pipeline jobs run mlci from the project folder, so the check re-renders from there.
    render_args = [spec_file]
    if project_dir != ".":
        render_args += ["--out", out_from_project]
    for target in targets:
        render_args += ["--target", target]

    return {
        "mlci": {
            "version": mlci_version,
            "pip_spec": f"mlci=={mlci_version}",
            "rendered_by": __version__,
        },
        "spec": data,
        "spec_file": spec_file,
        "project_dir": project_dir,
        # Where the project's Dockerfile and k8s/ lie, from the folder the pipeline runs in: beside
        # the pipeline, except in a monorepo rendered from its root (mlci/render/monorepo.py).
        "generated_dir": ".",
        "render_check_args": render_args,
        "targets": list(targets),
        "project": {
            "name": project["name"],
            "description": project.get("description", ""),
            "team": project.get("team", ""),
            "owners": project.get("owners", []),
            "authors": project.get("authors", []),
        },
        "image": {
            "repository": repository,
            "training_repository": f"{repository}-training" if separate_training_image else repository,
            "training_dockerfile": "training.Dockerfile" if separate_training_image else "Dockerfile",
        },
        "gitops": {
            "repository_url": ci.get(
                "repository_url", f"https://git.example.com/{project.get('team', 'ml')}/{project['name']}.git"
            ),
            "repository_path": ci.get("repository_path", "."),
        },
        "python_version": python_version,
        "ci_image": ci.get("image"),
        "runner_labels": ci.get("runner_labels", []),
        "ci_env": dict(sorted(ci.get("env", {}).items())),
        "datasets": data["datasets"],
        "training": {
            "image": training_image,
            "requirements": training.get("requirements", DEFAULT_REQUIREMENTS),
            "schedule": training.get("schedule"),
            "retrain_on_drift": training.get("retrain_on_drift", False),
            "timeout_minutes": training.get("timeout_minutes", 60),
            "resources": _resources(training.get("resources", {}), "1", "2Gi"),
            "model_path": training.get("outputs", {}).get("model", DEFAULT_MODEL_PATH),
            "command": as_argv(training["command"]),
            "params": training.get("params", {}),
        },
        "evaluation": {
            "metrics_file": evaluation.get("metrics_file", DEFAULT_METRICS_FILE),
            "gates": evaluation.get("gates", []),
            "command": as_argv(evaluation["command"]),
        },
        "blessing_file": BLESSING_FILE,
        "model": data["model"],
        "serving": _serving(serving, training_image),
        "environments": [_environment(env) for env in data.get("environments", [])],
        "monitoring": data.get("monitoring"),
        "drift": _drift(data.get("monitoring", {}).get("drift")),
        # Monorepos: CI runs this project's pipeline only when its folder (or the pipeline) changed.
        "path_filters": [f"{project_dir}/**"] if project_dir != "." and not project_dir.startswith("..") else [],
        "release_tag_prefix": RELEASE_TAG_PREFIX,
        "governance": data.get("governance", {}),
    }


def require_safe_path(path: str, spec: Spec) -> None:
    """Refuse a path that rendered files would name, unless every part of it is a plain name."""
    if not all(_SAFE_PATH_PART.fullmatch(part) for part in path.split("/")):
        # ascii(): the refused name itself must not break the line it is reported on. The spec's
        # first line stands for its path, which no line of the file can point at.
        raise InputError(
            Location(ascii(spec.display_path)[1:-1], 1, 1),
            f"cannot render with the path {path!a} in the pipelines: folder and "
            "file names there may use only letters, digits, '.', '_' and '-', and may not start with '-'; "
            "rename the folder (or choose another --out)",
        )


def refuse_azure_expressions(spec: Spec) -> None:
    """ci.env values are data; Azure Pipelines cannot carry `$(`, `$[` or `${{` as data."""
    for key, value in spec.data.get("ci", {}).get("env", {}).items():
        if isinstance(value, str) and _AZURE_EXPRESSION.search(value):
            raise InputError(
                spec.location(("ci", "env", key)),
                f"ci.env.{key}: Azure Pipelines would expand the $(...), $[...] or ${{{{...}}}} in this value, "
                "and has no way to escape them; write the value without them, or leave azure out of ci.providers",
            )


def _resources(raw: dict[str, Any], cpu: str, memory: str) -> dict[str, Any]:
    return {"cpu": str(raw.get("cpu", cpu)), "memory": str(raw.get("memory", memory)), "gpu": int(raw.get("gpu", 0))}


def _serving(serving: dict[str, Any] | None, training_image: str) -> dict[str, Any] | None:
    if serving is None:
        return None
    return {
        "image": serving.get("image", training_image),
        "command": as_argv(serving["command"]),
        "port": serving.get("port", 8080),
        "health_path": serving.get("health_path", "/healthz"),
        "latency_slo_ms": serving.get("latency_slo_ms"),
        "resources": _resources(serving.get("resources", {}), "500m", "512Mi"),
    }


def _drift(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    """The scheduled drift check, when the spec gives it a schedule and reference data."""
    if not raw or "schedule" not in raw or "reference" not in raw:
        return None
    return {
        "schedule": raw["schedule"],
        "method": raw.get("method", "psi"),
        "threshold": raw.get("threshold", 0.1),
        "reference": raw["reference"],
        "current": raw.get("current"),
        # A URI is not read by `mlci drift`: CI then names a local copy in MLCI_DRIFT_CURRENT.
        "current_is_local": "current" in raw and "://" not in raw["current"],
    }


def _seconds(duration: str) -> int:
    """A schema duration (10m, 1h, 30s) in seconds."""
    return int(duration[:-1]) * {"s": 1, "m": 60, "h": 3600}[duration[-1]]


def _canary_steps(strategy: dict[str, Any]) -> list[dict[str, Any]]:
    if strategy.get("type") != "canary":
        return []
    return [
        {
            "weight": step["weight"],
            "pause": step.get("pause"),
            "pause_seconds": _seconds(step["pause"]) if "pause" in step else 0,
        }
        for step in strategy.get("steps", DEFAULT_CANARY_STEPS)
    ]


def _autoscaling(raw: dict[str, Any] | None) -> dict[str, Any] | None:
    if raw is None:
        return None
    return {**raw, "target_cpu_utilization": raw.get("target_cpu_utilization", 70)}


def _environment(env: dict[str, Any]) -> dict[str, Any]:
    strategy = env.get("strategy", {})
    approvals = env.get("approvals", {})
    canary = _canary_steps(strategy)
    return {
        "name": env["name"],
        "tier": env["tier"],
        "cluster": env["cluster"],
        "namespace": env["namespace"],
        "region": env["region"],
        "replicas": env.get("replicas", 1),
        "autoscaling": _autoscaling(env.get("autoscaling")),
        "strategy": {
            "type": strategy.get("type", "rolling"),
            "steps": strategy.get("steps", list(DEFAULT_CANARY_STEPS) if strategy.get("type") == "canary" else []),
            "provider": strategy.get("provider", "argo-rollouts"),
            "canary_steps": canary,
            # How long a deploy job may wait for the rollout: every pause, plus the margin.
            "timeout_minutes": -(-sum(step["pause_seconds"] for step in canary) // 60) + ROLLOUT_MARGIN_MINUTES,
        },
        "approvals": {
            "required": approvals.get("required", 0),
            "approvers": approvals.get("approvers", []),
            "separation_of_duties": approvals.get("separation_of_duties", True),
            "wait_timer_minutes": approvals.get("wait_timer_minutes", 0),
        },
    }
