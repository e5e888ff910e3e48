"""The data every template sees: the spec with its documented defaults filled
in, plus the few facts about where files land. Templates never compute
defaults themselves, so all targets agree on them."""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any

from mlci import __version__
from mlci.errors import InputError, Location
from mlci.loader import Spec
from mlci.pipeline import Placement, build_pipeline
from mlci.spec import CanaryStep, Environment, MLProject, Resources, as_argv, schema_default, thaw

__all__ = ["CI_TARGETS", "as_argv", "build_context", "refuse_azure_expressions", "require_safe_path"]

# The CI targets rendered when the spec names no ci.providers (the schema's default); other
# CI renderers are opt-in.
CI_TARGETS: tuple[str, ...] = tuple(schema_default("ci", "providers"))
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


def build_context(
    spec: Spec,
    out_dir: Path,
    targets: tuple[str, ...],
    *,
    generated_dir: str = ".",
    render_args: tuple[str, ...] | None = None,
    path_filtered: bool = True,
) -> dict[str, Any]:
    """The templates' data, read from the typed spec (every default is filled in there).
    A monorepo rendered from its root (mlci/render/monorepo.py) places the project itself:
    where its Dockerfile and k8s/ lie (`generated_dir`), the render check's arguments and
    whether the pipeline filters on its folder's changes (see mlci.pipeline.Placement)."""
    data = spec.data
    typed = spec.typed
    project = typed.project
    training = typed.training
    evaluation = typed.evaluation
    ci = typed.ci
    mlci_version = typed.mlci_version
    project_dir = Path(os.path.relpath(spec.directory.resolve(), out_dir.resolve())).as_posix()
    spec_file = spec.path.name
    out_from_project = Path(os.path.relpath(out_dir.resolve(), spec.directory.resolve())).as_posix()
    for path in (project_dir, spec_file, out_from_project):
        require_safe_path(path, spec)
    if "azure" in targets:
        refuse_azure_expressions(spec)
    separate_training_image = typed.separate_training_image

    # Pipeline jobs run mlci from the project folder, so the check re-renders from there.
    if render_args is None:
        args = [spec_file]
        if project_dir != ".":
            args += ["--out", out_from_project]
        for target in targets:
            args += ["--target", target]
        render_args = tuple(args)
    pipeline = build_pipeline(spec, Placement(project_dir, render_args, generated_dir, path_filtered))

    return {
        # The lifecycle, decided once (mlci/pipeline); CI printers print it.
        "pipeline": pipeline,
        "mlci": {
            "version": mlci_version,
            "pip_spec": f"mlci=={mlci_version}",
            "rendered_by": __version__,
        },
        "spec": data,
        # Where a value of the spec is written (file:line:col), for what a printer must refuse.
        "locate": spec.location,
        "spec_file": spec_file,
        "project_dir": project_dir,
        "render_check_args": list(render_args),
        "targets": list(targets),
        "project": {
            "name": project.name,
            "description": project.description or "",
            "team": project.team or "",
            "owners": list(project.owners),
            "authors": list(project.authors),
        },
        "image": {
            "repository": typed.image_repository,
            "training_repository": typed.training_image_repository,
            "training_dockerfile": "training.Dockerfile" if separate_training_image else "Dockerfile",
        },
        "gitops": {
            "repository_url": typed.repository_url,
            "repository_path": ci.repository_path,
        },
        "python_version": ci.python_version,
        "ci_image": ci.image,
        "runner_labels": list(ci.runner_labels),
        "ci_env": dict(sorted(ci.env.items())),
        # Templates test optional keys with `is defined`: the datasets, model and monitoring
        # sections are handed over as written.
        "datasets": data["datasets"],
        "training": {
            "image": typed.training_image,
            "requirements": training.requirements,
            "schedule": training.schedule,
            "retrain_on_drift": training.retrain_on_drift,
            "timeout_minutes": training.timeout_minutes,
            "resources": _resources(training.resources),
            "model_path": typed.model_path,
            "command": training.argv,
            "params": thaw(training.params),
        },
        "evaluation": {
            "metrics_file": evaluation.metrics_file,
            "gates": [thaw(gate) for gate in evaluation.gates],
            "command": evaluation.argv,
        },
        "blessing_file": typed.blessing_file,
        "model": data["model"],
        "serving": _serving(typed),
        "environments": [_environment(env) for env in typed.environments],
        "monitoring": data.get("monitoring"),
        "drift": _drift(typed),
        "latency_p95_ms": typed.monitoring.latency.p95_ms if typed.monitoring and typed.monitoring.latency else None,
        # Monorepos: CI runs this project's pipeline only when its folder (or the pipeline) changed.
        "path_filters": list(pipeline.path_filters),
        "release_tag_prefix": RELEASE_TAG_PREFIX,
        "governance": thaw(typed.governance),
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
    for key, value in spec.typed.ci.env.items():
        if isinstance(value, str) and _AZURE_EXPRESSION.search(value):
            raise InputError(
                spec.location(("ci", "env", key)),
                f"ci.env.{key}: Azure Pipelines would expand the $(...), $[...] or ${{{{...}}}} in this value, "
                "and has no way to escape them; write the value without them, or leave azure out of ci.providers",
            )


def _resources(resources: Resources) -> dict[str, Any]:
    return {"cpu": str(resources.cpu), "memory": str(resources.memory), "gpu": int(resources.gpu)}


def _serving(typed: MLProject) -> dict[str, Any] | None:
    serving = typed.serving
    if serving is None:
        return None
    return {
        "image": typed.serving_image,
        "command": serving.argv,
        "port": serving.port,
        "health_path": serving.health_path,
        "latency_slo_ms": serving.latency_slo_ms,
        "resources": _resources(serving.resources),
    }


def _drift(typed: MLProject) -> dict[str, Any] | None:
    """The scheduled drift check, when the spec gives it a schedule and reference data."""
    drift = typed.scheduled_drift
    if drift is None:
        return None
    return {
        "schedule": drift.schedule,
        "method": drift.method,
        "threshold": drift.threshold,
        "reference": drift.reference,
        "current": drift.current,
        # A URI is not read by `mlci drift`: CI then names a local copy in MLCI_DRIFT_CURRENT.
        "current_is_local": drift.current_is_local,
    }


def _step(step: CanaryStep) -> dict[str, Any]:
    """A canary step as the spec writes it (templates test `pause is defined`)."""
    return {"weight": step.weight, **({"pause": step.pause} if step.pause is not None else {})}


def _environment(env: Environment) -> dict[str, Any]:
    strategy = env.strategy
    approvals = env.approvals
    canary = [
        {"weight": step.weight, "pause": step.pause, "pause_seconds": step.pause_seconds}
        for step in strategy.canary_steps
    ]
    return {
        "name": env.name,
        "tier": env.tier,
        "cluster": env.cluster,
        "namespace": env.namespace,
        "region": env.region,
        "replicas": env.replicas,
        "autoscaling": thaw(env.autoscaling),
        "strategy": {
            "type": strategy.type,
            "steps": [_step(step) for step in strategy.effective_steps],
            "provider": strategy.provider,
            "canary_steps": canary,
            # How long a deploy job may wait for the rollout: every pause, plus the margin.
            "timeout_minutes": -(-sum(step.pause_seconds for step in strategy.canary_steps) // 60)
            + ROLLOUT_MARGIN_MINUTES,
        },
        "approvals": {
            "required": approvals.required,
            "approvers": list(approvals.approvers),
            "separation_of_duties": approvals.separation_of_duties,
            "wait_timer_minutes": approvals.wait_timer_minutes,
        },
    }
