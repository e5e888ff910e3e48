"""What a person at a terminal sees besides the report: a progress line and colour.

Progress is one line on stderr, redrawn at most ten times a second, for runs over
more than one project, and only when stderr is a terminal outside CI: logs and pipes
never see it. Colour follows the usual conventions: on when stdout is a terminal,
off when NO_COLOR is set (to anything non-empty), forced on by FORCE_COLOR.
"""

from __future__ import annotations

import contextlib
import os
import re
import sys
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TextIO, TypeVar

T = TypeVar("T")

REDRAW_SECONDS = 0.1
_CLEAR_LINE = "\r\x1b[K"


def interactive(stream: TextIO) -> bool:
    """A person is watching `stream`: a terminal, not a CI log, not a dumb terminal."""
    if os.environ.get("CI", "").strip().lower() not in ("", "0", "false"):
        return False
    if os.environ.get("TERM") == "dumb":
        return False
    try:
        return stream.isatty()
    except (AttributeError, ValueError):  # a closed or replaced stream
        return False


def colour_enabled(stream: TextIO) -> bool:
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    try:
        return stream.isatty() and os.environ.get("TERM") != "dumb"
    except (AttributeError, ValueError):
        return False


class Progress:
    """`phase(label, total)` starts a step, `advance()` moves it, `close()` clears the line.

    Drawn only once some counted phase has more than one item: a single project never
    shows a progress line.
    """

    def __init__(self, stream: TextIO, clock: Callable[[], float] = time.monotonic) -> None:
        self._stream = stream
        self._clock = clock
        self._label = ""
        self._done = 0
        self._total: int | None = None
        self._drawn_at: float | None = None
        self._visible = False
        self._many = False

    def phase(self, label: str, total: int | None = None) -> None:
        self._label, self._done, self._total = label, 0, total
        self._many = self._many or (total is not None and total > 1)
        self._draw(force=True)

    def advance(self, steps: int = 1) -> None:
        self._done += steps
        self._draw(force=self._total is not None and self._done >= self._total)

    def close(self) -> None:
        if self._visible:
            self._stream.write(_CLEAR_LINE)
            self._stream.flush()
            self._visible = False

    def _draw(self, force: bool) -> None:
        if not self._many:
            return
        now = self._clock()
        if not force and self._drawn_at is not None and now - self._drawn_at < REDRAW_SECONDS:
            return
        count = f" {self._done}/{self._total}" if self._total is not None else " …"
        self._stream.write(f"{_CLEAR_LINE}mlci: {self._label}{count}")
        self._stream.flush()
        self._drawn_at, self._visible = now, True


class _Silent(Progress):
    """What the core sees when nobody watches: every call is a no-op."""

    def __init__(self) -> None:
        super().__init__(sys.stderr)

    def phase(self, label: str, total: int | None = None) -> None:
        return

    def advance(self, steps: int = 1) -> None:
        return


_SILENT = _Silent()
_current: Progress = _SILENT


def current() -> Progress:
    """The progress line of this run; a silent one unless `shown` activated a visible one."""
    return _current


def counted(label: str, items: Sequence[T]) -> Iterator[T]:
    """`items`, advancing the progress line past each one."""
    line = current()
    line.phase(label, len(items))
    for item in items:
        yield item
        line.advance()


@contextlib.contextmanager
def silenced() -> Iterator[None]:
    """No progress line inside the block: for worker processes, whose parent draws it."""
    global _current
    previous, _current = _current, _SILENT
    try:
        yield
    finally:
        _current = previous


@contextlib.contextmanager
def shown(stream: TextIO | None = None) -> Iterator[Progress]:
    """A visible progress line while the block runs, when a person watches `stream` (default stderr)."""
    global _current
    stream = stream or sys.stderr
    if not interactive(stream):
        yield _SILENT
        return
    progress, previous = Progress(stream), _current
    _current = progress
    try:
        yield progress
    finally:
        progress.close()
        _current = previous


# -- colour -------------------------------------------------------------------------------------

_STYLES = {
    "critical": "\x1b[1;31m",
    "high": "\x1b[31m",
    "medium": "\x1b[33m",
    "low": "\x1b[36m",
    "info": "\x1b[2m",
    "dim": "\x1b[2m",
    "bad": "\x1b[1;31m",
    "good": "\x1b[32m",
}
_RESET = "\x1b[0m"
_FINDING = re.compile(r"^(?P<where>\S.*?:\d+:\d+: )(?P<severity>critical|high|medium|low|info)(?P<rest> .*)$")
_SUMMARY = re.compile(r"^mlci [\w ]+: (?P<what>.*)$")


def paint(text: str, style: str) -> str:
    return f"{_STYLES[style]}{text}{_RESET}"


def colour_text_report(report: str) -> str:
    """The text report (file:line:col: severity id message) with severities and the summary in colour."""
    out = []
    for line in report.splitlines(keepends=True):
        body, newline = line.rstrip("\n"), line[len(line.rstrip("\n")) :]
        finding, summary = _FINDING.match(body), _SUMMARY.match(body)
        if finding:
            waived = re.match(r" \S+ \(waived\)", finding["rest"]) is not None
            severity = paint(finding["severity"], "dim" if waived else finding["severity"])
            body = f"{finding['where']}{severity}{finding['rest']}"
        elif body.startswith("    fix: "):
            body = paint(body, "dim")
        elif summary:
            failing = re.match(r"(\d+) failing", summary["what"])
            good = summary["what"] == "no findings" or (failing is not None and failing.group(1) == "0")
            body = paint(body, "good" if good else "bad")
        out.append(body + newline)
    return "".join(out)
