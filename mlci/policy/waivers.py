"""Waivers: accepted, expiring exceptions to policy rules.

A waiver names a rule id, a glob over the finding's JSON path, a reason, who
approved it (never one of the project's owners or authors) and when it
expires (at most the rule's maximum, `max_waiver_days`, from today). A valid
waiver turns matching findings into `waived` ones, which stay in every report.
An expired or invalid waiver waives nothing and is reported itself, as is a
waiver that matched nothing.
"""

from __future__ import annotations

import datetime as dt
import functools
import re
from dataclasses import dataclass
from pathlib import Path

from mlci.errors import InputError, UserError
from mlci.findings import Finding, JsonPath, Severity
from mlci.loader import Spec, load_spec
from mlci.policy.metadata import RuleMeta
from mlci.spec import Waiver as WaiverEntry

DEFAULT_MAX_DAYS = 90
EXPIRED = "MLCI-WAIVER-001"
INVALID = "MLCI-WAIVER-002"
UNUSED = "MLCI-WAIVER-003"


@dataclass(frozen=True)
class Waiver:
    rule: str
    path: str
    reason: str
    approved_by: str
    expires: str
    origin: Spec  # the file it was written in, for positions
    where: JsonPath  # its JSON path in that file

    def covers(self, finding: Finding) -> bool:
        return finding.rule_id == self.rule and _glob(self.path).fullmatch(finding.json_path) is not None


@functools.cache
def _glob(pattern: str) -> re.Pattern[str]:
    """`*` is any run of characters, `?` one; everything else, `[0]` included, is literal."""
    return re.compile(re.escape(pattern).replace(r"\*", ".*").replace(r"\?", "."))


def spec_waivers(spec: Spec) -> list[Waiver]:
    entries = spec.typed.governance.waivers
    return [_waiver(entry, spec, ("governance", "waivers", i)) for i, entry in enumerate(entries)]


def file_waivers(path: Path) -> list[Waiver]:
    """Waivers from a `--waivers FILE`: a YAML mapping with a `waivers:` list."""
    from jsonschema import Draft202012Validator

    from mlci.discover import display_path
    from mlci.schema import load_schema
    from mlci.spec.build import build
    from mlci.spec.defaults import with_defaults

    document = load_spec(path, display_path(path))
    items = document.data.get("waivers")
    if not isinstance(items, list):
        raise InputError(document.location(()), "a waivers file holds a mapping with a 'waivers:' list")
    schema = {**load_schema()["$defs"]["waiver"], "$defs": load_schema()["$defs"]}
    validator = Draft202012Validator(schema)
    for index, item in enumerate(items):
        for error in validator.iter_errors(item):
            where = ("waivers", index, *error.absolute_path)
            raise InputError(document.location(where), f"invalid waiver: {error.message}")
    # The same defaults as a spec's waivers, from the same schema.
    entries = [build(WaiverEntry, with_defaults(item, schema)) for item in items]
    return [_waiver(entry, document, ("waivers", i)) for i, entry in enumerate(entries)]


def _waiver(entry: WaiverEntry, origin: Spec, where: JsonPath) -> Waiver:
    return Waiver(
        rule=entry.rule,
        path=entry.path,
        reason=entry.reason,
        approved_by=entry.approved_by,
        expires=entry.expires,
        origin=origin,
        where=where,
    )


def apply_waivers(
    spec: Spec,
    findings: list[Finding],
    waivers: list[Waiver],
    rules: dict[str, RuleMeta],
    today: str,
    default_max_days: int = DEFAULT_MAX_DAYS,
) -> list[Finding]:
    """Findings with valid waivers applied, plus findings about the waivers themselves."""
    people = {*spec.typed.project.owners, *spec.typed.project.authors}
    out: list[Finding] = []
    usable: list[Waiver] = []
    for waiver in waivers:
        problem, rule_id = _problem(waiver, people, rules, today, default_max_days)
        if problem:
            out.append(
                _about(
                    waiver,
                    rule_id,
                    Severity.MEDIUM,
                    problem,
                    "Renew the waiver through review, or fix the finding it covered.",
                )
            )
        else:
            usable.append(waiver)
    used: set[int] = set()
    for finding in findings:
        match = next((w for w in usable if w.covers(finding)), None)
        if match is None:
            out.append(finding)
            continue
        used.add(id(match))
        out.append(finding.waived(reason=match.reason, approved_by=match.approved_by, expires=match.expires))
    for waiver in usable:
        if id(waiver) not in used:
            out.append(
                _about(
                    waiver,
                    UNUSED,
                    Severity.INFO,
                    f"waiver for {waiver.rule} at {waiver.path!r} matches no finding",
                    "Remove the waiver: what it excused is fixed.",
                )
            )
    return out


def _problem(
    waiver: Waiver, people: set[str], rules: dict[str, RuleMeta], today: str, default_max_days: int
) -> tuple[str, str]:
    try:
        expires = dt.date.fromisoformat(waiver.expires)
    except ValueError:
        return f"waiver for {waiver.rule} has an invalid expiry date {waiver.expires!r}", INVALID
    now = dt.date.fromisoformat(today)
    if expires < now:
        return f"waiver for {waiver.rule} expired on {waiver.expires}; the finding fails again", EXPIRED
    if waiver.approved_by in people:
        return (
            f"waiver for {waiver.rule} is approved by {waiver.approved_by!r}, an owner or author of the project "
            "(separation of duties)"
        ), INVALID
    meta = rules.get(waiver.rule)
    limit = meta.max_waiver_days if meta and meta.max_waiver_days is not None else default_max_days
    if (expires - now).days > limit:
        return f"waiver for {waiver.rule} runs {(expires - now).days} days; the rule allows at most {limit}", INVALID
    return "", ""


def _about(waiver: Waiver, rule_id: str, severity: Severity, message: str, remediation: str) -> Finding:
    location = waiver.origin.location(waiver.where)
    return Finding.at(
        location,
        rule_id=rule_id,
        severity=severity,
        message=message,
        path=waiver.where,
        remediation=remediation,
        title="Waiver problem",
        source="waiver",
    )


def load_waiver_files(paths: tuple[Path, ...]) -> list[Waiver]:
    out: list[Waiver] = []
    for path in paths:
        if not path.is_file():
            raise UserError(f"{path}: no such waivers file")
        out += file_waivers(path)
    return out
