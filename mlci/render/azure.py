"""Azure Pipelines: the fourth CI target, and the proof that one is a module, a
template folder and a golden test."""

from __future__ import annotations

from mlci.render.base import TemplateRenderer

AZURE_PIPELINES = TemplateRenderer(
    name="azure",
    description="Azure Pipelines pipeline",
    files=(("azure/azure-pipelines.yml.j2", "azure-pipelines.yml"),),
)
