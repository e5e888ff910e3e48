"""Renderers, one per target; `RENDERERS` is the registry the CLI's `--target`
choices come from. A new target is one module, one template folder and one
golden test."""

from __future__ import annotations

from mlci.render.argo import ARGO_WORKFLOWS
from mlci.render.azure import AZURE_PIPELINES
from mlci.render.base import Renderer
from mlci.render.docker import DOCKER
from mlci.render.github import GITHUB_ACTIONS
from mlci.render.gitlab import GITLAB_CI
from mlci.render.jenkins import JENKINS
from mlci.render.kubernetes import KUBERNETES

RENDERERS: dict[str, Renderer] = {
    renderer.name: renderer
    for renderer in (
        GITHUB_ACTIONS,
        GITLAB_CI,
        JENKINS,
        AZURE_PIPELINES,
        DOCKER,
        KUBERNETES,
        ARGO_WORKFLOWS,
    )
}
