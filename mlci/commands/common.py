"""Shared steps of the commands: find and load specs, validate them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from mlci import progress
from mlci.discover import display_path, find_specs
from mlci.errors import EXIT_FINDINGS, EXIT_OK, EXIT_USER_ERROR, InputError, UserError
from mlci.findings import Finding, Severity, failing, sort_findings
from mlci.loader import Spec, load_spec
from mlci.reporters.output import CommandResult


@dataclass
class Outcome:
    """What a checking command found, and the exit code that follows from it."""

    findings: list[Finding] = field(default_factory=list)
    invalid_input: bool = False
    specs: list[Spec] = field(default_factory=list)

    def exit_code(self, fail_on: Severity) -> int:
        if self.invalid_input:
            return EXIT_USER_ERROR
        return EXIT_FINDINGS if failing(self.findings, fail_on) else EXIT_OK

    def sorted(self) -> list[Finding]:
        return sort_findings(self.findings)


def input_error_finding(error: InputError) -> Finding:
    return Finding.at(
        error.location, rule_id="syntax", severity=Severity.CRITICAL, message=error.problem, source="input"
    )


def load_and_validate(paths: tuple[str, ...]) -> Outcome:
    """Load every spec under `paths`; broken files and schema errors become findings."""
    return load_and_validate_files(find_specs(paths))


def load_and_validate_files(found: list[Path]) -> Outcome:
    """Load these spec files (as `find_specs` found them); broken files and schema errors become findings."""
    # Here, not at the top: `mlci check` answered by the decision cache imports this module
    # (parse_today) but never the schema validator.
    from mlci.command_checks import command_findings
    from mlci.cron_checks import cron_findings
    from mlci.schema import validate_spec
    from mlci.spec_checks import check_spec

    outcome = Outcome()
    for path in progress.counted("loading specs", found):
        try:
            spec = load_spec(path, display_path(path))
        except InputError as exc:
            outcome.findings.append(input_error_finding(exc))
            outcome.invalid_input = True
            continue
        problems = validate_spec(spec) or [*check_spec(spec), *command_findings(spec), *cron_findings(spec)]
        if problems:
            outcome.findings.extend(problems)
            outcome.invalid_input = True
            continue
        outcome.specs.append(spec)
    return outcome


def parse_today(value: str | None) -> str:
    """The date policies see as today: `--now` (YYYY-MM-DD or RFC 3339) or the UTC date."""
    if not value:
        return dt.datetime.now(dt.timezone.utc).date().isoformat()
    try:
        if len(value) == 10:
            return dt.date.fromisoformat(value).isoformat()
        parsed = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        raise UserError(f"--now {value!r}: expected YYYY-MM-DD or an RFC 3339 timestamp") from None
    if parsed.tzinfo is not None:
        parsed = parsed.astimezone(dt.timezone.utc)
    return parsed.date().isoformat()


def validate_result(paths: tuple[str, ...]) -> CommandResult:
    """`mlci validate`: the schema and spec checks of every spec, as one result."""
    with progress.shown():
        outcome = load_and_validate(paths)
    return outcome_result(outcome, "validate", Severity.INFO)


def outcome_result(
    outcome: Outcome, command: str, fail_on: Severity, rules: dict[str, dict[str, object]] | None = None
) -> CommandResult:
    """A spec command's result: its sorted findings, the files it read, its exit code."""
    return CommandResult(
        command,
        outcome.sorted(),
        exit_code=outcome.exit_code(fail_on),
        fail_on=fail_on,
        rules=rules or {},
        files=tuple(s.display_path for s in outcome.specs),
    )
