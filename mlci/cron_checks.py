"""Cron schedules the schema's pattern accepts but CI systems refuse.

The pattern checks each field's shape and each value's range; what a regular expression
cannot say is checked here, the way GitHub's parser (robfig/cron, as actionlint runs it)
reads a schedule: a range's start may not lie beyond its end (`26-22`, `SAT-MON`), and
GitHub runs nothing more often than every five minutes.
"""

from __future__ import annotations

import itertools
from typing import Any

from mlci.findings import Finding
from mlci.loader import Spec
from mlci.spec_checks import input_finding

SCHEDULES = (("training", "schedule"), ("monitoring", "drift", "schedule"))
_BOUNDS = ((0, 59), (0, 23), (1, 31), (1, 12), (0, 6))
_MONTHS = ["JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"]
_DAYS = ["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"]
_NAMES = {**{m: i for i, m in enumerate(_MONTHS, 1)}, **{d: i for i, d in enumerate(_DAYS)}}
SHORTEST_MINUTES = 5


def _value(text: str) -> int:
    return _NAMES[text] if text in _NAMES else int(text)


def _expand(field: str, low: int, high: int) -> tuple[set[int], str | None]:
    """The values a field matches, or a problem."""
    values: set[int] = set()
    for item in field.split(","):
        span, _, step_text = item.partition("/")
        step = int(step_text) if step_text else 1
        if span == "*":
            start, end = low, high
        elif "-" in span:
            first, last = span.split("-", 1)
            start, end = _value(first), _value(last)
            if start > end:
                return values, f"the range {span} starts after it ends"
        else:
            start = _value(span)
            end = high if step_text else start
        values.update(range(start, end + 1, step))
    return values, None


def cron_problem(expression: str) -> str | None:
    fields = expression.split()
    if len(fields) != len(_BOUNDS):
        return None  # the schema's finding
    expanded = []
    for field, (low, high) in zip(fields, _BOUNDS, strict=True):
        try:
            values, problem = _expand(field, low, high)
        except (ValueError, KeyError):
            return None  # the schema's finding
        if problem:
            return problem
        expanded.append(values)
    minutes, hours = sorted(expanded[0]), expanded[1]
    gaps = [b - a for a, b in itertools.pairwise(minutes)]
    if any((hour + 1) % 24 in hours for hour in hours) and minutes:
        gaps.append(60 - minutes[-1] + minutes[0])  # from the last minute of an hour to the next hour's first
    if gaps and min(gaps) < SHORTEST_MINUTES:
        return f"it would run more often than every {SHORTEST_MINUTES} minutes, which GitHub does not run"
    return None


def cron_findings(spec: Spec) -> list[Finding]:
    findings: list[Finding] = []
    for path in SCHEDULES:
        value: Any = spec.data
        for key in path:
            value = value.get(key) if isinstance(value, dict) else None
        if not isinstance(value, str):
            continue
        problem = cron_problem(value)
        if problem:
            findings.append(
                input_finding(
                    spec,
                    path,
                    f"{'.'.join(path)}: {value!r}: {problem}",
                    "Write a five-field cron schedule whose ranges run forwards, e.g. '0 3 * * 1-5'.",
                )
            )
    return findings
