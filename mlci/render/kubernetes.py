"""Kubernetes manifests: a Kustomize base and one overlay per environment."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from mlci.render.base import RenderedFile
from mlci.render.jinja import render_template

Condition = Callable[[dict[str, Any]], bool]


def _always(context: dict[str, Any]) -> bool:
    return True


def _serving(context: dict[str, Any]) -> bool:
    return context["serving"] is not None


def _scheduled(context: dict[str, Any]) -> bool:
    return context["training"]["schedule"] is not None


def _autoscaled(context: dict[str, Any]) -> bool:
    return context["serving"] is not None and context["env"]["autoscaling"] is not None


# (file name, when it is rendered); each kustomization.yaml lists the files rendered beside it.
BASE_FILES: tuple[tuple[str, Condition], ...] = (
    ("serviceaccount.yaml", _always),
    ("configmap.yaml", _always),
    ("networkpolicy.yaml", _always),
    ("deployment.yaml", _serving),
    ("service.yaml", _serving),
    ("poddisruptionbudget.yaml", _serving),
    # In-cluster training is a CronJob, not a Job: a Job's pod template is immutable, so a
    # Job in the applied set would break the next deploy (or retrain on every deploy).
    ("cronjob.yaml", _scheduled),
)
OVERLAY_FILES: tuple[tuple[str, Condition], ...] = (("horizontalpodautoscaler.yaml", _autoscaled),)


def _render_folder(
    folder: str, templates: str, files: tuple[tuple[str, Condition], ...], context: dict[str, Any]
) -> list[RenderedFile]:
    names = [name for name, condition in files if condition(context)]
    rendered = [RenderedFile(f"{folder}/{name}", render_template(f"{templates}/{name}.j2", context)) for name in names]
    kustomization = render_template(f"{templates}/kustomization.yaml.j2", {**context, "resources": names})
    return [*rendered, RenderedFile(f"{folder}/kustomization.yaml", kustomization)]


@dataclass(frozen=True)
class KubernetesRenderer:
    name: str = "kubernetes"
    description: str = "Kubernetes manifests (Kustomize base and overlays)"

    def render(self, context: dict[str, Any]) -> list[RenderedFile]:
        files = _render_folder("k8s/base", "kubernetes/base", BASE_FILES, context)
        for environment in context["environments"]:
            env_context = {**context, "env": environment}
            folder = f"k8s/overlays/{environment['name']}"
            files += _render_folder(folder, "kubernetes/overlay", OVERLAY_FILES, env_context)
        return files


KUBERNETES = KubernetesRenderer()
