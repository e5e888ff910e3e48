"""Azure Pipelines: the fourth CI target, and the proof that one is a module, a
template folder and a golden test."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from mlci.render.base import RenderedFile
from mlci.render.jinja import render_template

# What the spec's ci.default_branch means when it says nothing (the schema's default).
DEFAULT_BRANCH = "main"


def expression_string(value: str) -> str:
    """A string literal of Azure's expression language: single-quoted, a quote doubled."""
    return "'" + value.replace("'", "''") + "'"


@dataclass(frozen=True)
class AzurePipelinesRenderer:
    name: str = "azure"
    description: str = "Azure Pipelines pipeline"

    def render(self, context: dict[str, Any]) -> list[RenderedFile]:
        # Azure has no variable for the repository's default branch: the spec names it.
        branch = str(context["spec"].get("ci", {}).get("default_branch", DEFAULT_BRANCH))
        azure = {"default_branch": branch, "default_branch_ref": expression_string(f"refs/heads/{branch}")}
        return [RenderedFile("azure-pipelines.yml", render_template("azure/azure-pipelines.yml.j2", {**context, **azure}))]


AZURE_PIPELINES = AzurePipelinesRenderer()
