from __future__ import annotations

from mlci.render.base import TemplateRenderer

DOCKER = TemplateRenderer(
    name="docker",
    description="Dockerfile and .dockerignore",
    files=(("docker/Dockerfile.j2", "Dockerfile"), ("docker/dockerignore.j2", ".dockerignore")),
)
