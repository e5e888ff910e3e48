"""Kubernetes manifests: a Kustomize base and one overlay per environment."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlci.render.base import RenderedFile
from mlci.render.jinja import render_template

BASE_FILES = (
    "serviceaccount.yaml",
    "configmap.yaml",
    "deployment.yaml",
    "service.yaml",
    "networkpolicy.yaml",
    "job.yaml",
    "kustomization.yaml",
)
OVERLAY_FILES = ("kustomization.yaml",)


@dataclass(frozen=True)
class KubernetesRenderer:
    name: str = "kubernetes"
    description: str = "Kubernetes manifests (Kustomize base and overlays)"

    def render(self, context: dict[str, Any]) -> list[RenderedFile]:
        files = [
            RenderedFile(f"k8s/base/{name}", render_template(f"kubernetes/base/{name}.j2", context))
            for name in BASE_FILES
        ]
        for environment in context["environments"]:
            env_context = {**context, "env": environment}
            files += [
                RenderedFile(
                    f"k8s/overlays/{environment['name']}/{name}",
                    render_template(f"kubernetes/overlay/{name}.j2", env_context),
                )
                for name in OVERLAY_FILES
            ]
        return files


KUBERNETES = KubernetesRenderer()
