"""Reporters turn findings into one output format each; `REPORTERS` is the registry
the CLI's `-o` choices come from."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from mlci.findings import Finding, Severity


@dataclass(frozen=True)
class ReportContext:
    command: str  # "check", "validate", "gate"
    fail_on: Severity = Severity.LOW
    tool_version: str = ""
    rules: dict[str, dict[str, object]] = field(default_factory=dict)  # rule id -> metadata for SARIF
    files: tuple[str, ...] = ()  # every file checked, also those without findings (JUnit lists them)


class Reporter(Protocol):
    def __call__(self, findings: list[Finding], context: ReportContext) -> str: ...


Render = Callable[[list[Finding], ReportContext], str]

# Format name -> module under mlci.reporters; each module has `render(findings, context) -> str`.
_MODULES = {
    "text": "text",
    "json": "json_report",
    "sarif": "sarif",
    "junit": "junit",
    "github": "github",
    "gitlab": "gitlab",
    "markdown": "markdown",
}


def _lazy(module: str) -> Render:
    """Import a reporter only when it is used: `mlci check` should not pay for XML or SARIF."""

    def render(findings: list[Finding], context: ReportContext) -> str:
        from importlib import import_module

        reporter: Render = import_module(f"mlci.reporters.{module}").render
        return reporter(findings, context)

    render.__name__ = render.__qualname__ = f"render_{module}"
    return render


REPORTERS: dict[str, Render] = {name: _lazy(module) for name, module in _MODULES.items()}
