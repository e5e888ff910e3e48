"""One command's result, and what its `-o` options write where, decided before anything is written.

Every command ends with a `CommandResult`: its findings, the rule metadata and details the
reporters need, and its exit code. Reporters are pure functions of it (`report`); `planned_writes`
turns the `-o` options into the texts each destination receives, and the CLI writes them.

Two outputs can reach one file: `-o github` appends the Markdown report to
`$GITHUB_STEP_SUMMARY`, which `-o markdown="$GITHUB_STEP_SUMMARY"` also names. They are
planned together: the same text for one file is written once (appended when any of them
appends), whatever the order of the options; two different texts for one file are refused
(exit 2) rather than one silently replacing the other.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from mlci.errors import UserError
from mlci.findings import Finding, Severity

STEP_SUMMARY = "GITHUB_STEP_SUMMARY"


@dataclass(frozen=True)
class CommandResult:
    """What a command decided, for every reporter and for the exit code.

    `details`, `table` and `markdown` are for the runtime commands (gate, drift): JSON carries
    `details` beside the findings, text starts with `table`, Markdown ends with `markdown`."""

    command: str  # "check", "validate", "gate", ... as the reports name it
    findings: list[Finding]
    exit_code: int = 0
    fail_on: Severity = Severity.LOW
    rules: dict[str, dict[str, object]] = field(default_factory=dict)  # rule id -> metadata (SARIF)
    files: tuple[str, ...] = ()  # every file looked at, also those without findings (JUnit)
    details: dict[str, Any] | None = None
    table: str = ""
    markdown: str = ""


@dataclass(frozen=True)
class Write:
    """A text for one destination: a file, or standard output (path None)."""

    path: str | None
    text: str
    append: bool = False
    formats: tuple[str, ...] = ()  # the outputs that asked for it, for messages
    best_effort: bool = False  # the step summary: a failure to write it is a warning, not an error


def report(result: CommandResult, fmt: str, tool_version: str = "") -> str:
    """The text of one format: a pure function of the result."""
    from mlci.reporters import REPORTERS, ReportContext
    from mlci.reporters.log_safety import log_safe_json

    context = ReportContext(
        command=result.command,
        fail_on=result.fail_on,
        tool_version=tool_version,
        rules=result.rules,
        files=result.files,
    )
    text = REPORTERS[fmt](result.findings, context)
    if fmt == "json" and result.details is not None:
        return log_safe_json({**json.loads(text), **result.details})
    if fmt == "markdown" and result.markdown:
        return f"{text.rstrip()}\n\n{result.markdown}"
    if fmt == "text" and result.table:
        return result.table + text
    return text


def planned_writes(
    result: CommandResult,
    outputs: list[tuple[str, str | None]],
    environ: Mapping[str, str] | None = None,
    tool_version: str = "",
) -> list[Write]:
    """What each `-o FORMAT[=PATH]` writes, merged per destination (see the module's doc)."""
    environ = os.environ if environ is None else environ
    writes: list[Write] = []
    for fmt, path in outputs:
        writes.append(Write(path, report(result, fmt, tool_version), formats=(fmt,)))
        summary = environ.get(STEP_SUMMARY)
        if fmt == "github" and summary:
            markdown = report(result, "markdown", tool_version) + "\n"
            writes.append(Write(summary, markdown, append=True, formats=("github",), best_effort=True))
    return merge(writes)


def merge(writes: list[Write]) -> list[Write]:
    """One write per file (stdout keeps every text, in order): the same text once, different texts refused."""
    merged: list[Write] = []
    by_file: dict[str, int] = {}
    for write in writes:
        if write.path is None:
            merged.append(write)
            continue
        key = os.path.normpath(os.path.abspath(write.path))
        if key not in by_file:
            by_file[key] = len(merged)
            merged.append(write)
            continue
        earlier = merged[by_file[key]]
        if earlier.text.rstrip("\n") != write.text.rstrip("\n"):
            raise UserError(
                f"{write.path}: both -o {earlier.formats[0]} and -o {write.formats[0]} would write this file "
                "with different reports; give each its own file"
            )
        merged[by_file[key]] = Write(
            earlier.path,
            earlier.text if len(earlier.text) >= len(write.text) else write.text,
            append=earlier.append or write.append,
            formats=earlier.formats + write.formats,
            best_effort=earlier.best_effort and write.best_effort,
        )
    return merged
