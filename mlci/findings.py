"""The one model for every problem mlci reports: schema, policy and gate alike."""

from __future__ import annotations

import enum
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from typing import Any

from mlci.errors import Location


class Severity(enum.IntEnum):
    """Ordered so that `severity >= threshold` decides failing."""

    INFO = 0
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4

    @classmethod
    def parse(cls, text: str) -> Severity:
        try:
            return cls[text.strip().upper()]
        except KeyError:
            names = ", ".join(s.label for s in cls)
            raise ValueError(f"unknown severity {text!r} (one of {names})") from None

    @property
    def label(self) -> str:
        return self.name.lower()


class Status(str, enum.Enum):
    FAILED = "failed"
    WAIVED = "waived"


JsonPath = tuple[str | int, ...]


def format_json_path(path: JsonPath) -> str:
    """`("datasets", 0, "sha256")` -> `$.datasets[0].sha256`."""
    out = "$"
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else f".{part}"
    return out


@dataclass(frozen=True)
class Finding:
    rule_id: str
    severity: Severity
    message: str
    file: str
    line: int = 1
    column: int = 1
    path: JsonPath = ()
    remediation: str = ""
    status: Status = Status.FAILED
    title: str = ""
    controls: tuple[str, ...] = ()
    source: str = "policy"  # schema | policy | gate | waiver
    extra: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)

    @property
    def json_path(self) -> str:
        return format_json_path(self.path)

    def sort_key(self) -> tuple[Any, ...]:
        return (self.file, self.line, self.column, self.rule_id, self.message)

    @classmethod
    def at(cls, location: Location, **fields: Any) -> Finding:
        """A finding at a position in a file (every source points at one)."""
        return cls(file=location.file, line=location.line, column=location.column, **fields)

    def waived(self, **extra: Any) -> Finding:
        return replace(self, status=Status.WAIVED, extra={**self.extra, **extra})

    def to_dict(self) -> dict[str, Any]:
        return {
            "rule_id": self.rule_id,
            "severity": self.severity.label,
            "message": self.message,
            "file": self.file,
            "line": self.line,
            "column": self.column,
            "path": self.json_path,
            "remediation": self.remediation,
            "status": self.status.value,
            "title": self.title,
            "controls": list(self.controls),
            "source": self.source,
            **({"extra": self.extra} if self.extra else {}),
        }


def sort_findings(findings: Iterable[Finding]) -> list[Finding]:
    return sorted(findings, key=Finding.sort_key)


def failing(findings: Iterable[Finding], threshold: Severity) -> list[Finding]:
    """Findings that make the run fail: not waived and at or above the threshold."""
    return [f for f in findings if f.status is Status.FAILED and f.severity >= threshold]
