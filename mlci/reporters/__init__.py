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


class Reporter(Protocol):
    def __call__(self, findings: list[Finding], context: ReportContext) -> str: ...


def _registry() -> dict[str, Callable[[list[Finding], ReportContext], str]]:
    from mlci.reporters import json_report, text

    return {
        "text": text.render,
        "json": json_report.render,
    }


REPORTERS = _registry()
