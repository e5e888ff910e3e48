"""What a renderer is: a name and the files it makes from the context."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from mlci.render.jinja import render_template


@dataclass(frozen=True)
class RenderedFile:
    path: str  # relative to the output folder, POSIX separators
    body: str  # without the marker; the writer adds it


class Renderer(Protocol):
    """A render target: `RENDERERS` maps its name to it, `--target` chooses it."""

    # Read-only, so frozen dataclasses and plain objects both satisfy the protocol.
    @property
    def name(self) -> str: ...

    @property
    def description(self) -> str: ...

    def render(self, context: dict[str, Any]) -> list[RenderedFile]: ...


@dataclass(frozen=True)
class TemplateRenderer:
    """A renderer that is just templates mapped to output paths (most are)."""

    name: str
    description: str
    files: tuple[tuple[str, str], ...]  # (template name, output path pattern with {project})

    def render(self, context: dict[str, Any]) -> list[RenderedFile]:
        return [
            RenderedFile(path.format(project=context["project"]["name"]), render_template(template, context))
            for template, path in self.files
        ]
