from __future__ import annotations

from mlci.render.base import TemplateRenderer

GITHUB_ACTIONS = TemplateRenderer(
    name="github",
    description="GitHub Actions workflow",
    files=(("github/workflow.yml.j2", ".github/workflows/mlci-{project}.yml"),),
)
