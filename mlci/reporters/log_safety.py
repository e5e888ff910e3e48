"""Reports land in CI logs, and CI agents act on commands printed there.

The Azure Pipelines agent acts on `##vso[...]` anywhere in a line and on
`##[group]`-style formats; the GitHub Actions runner acts on `::command::`
at the start of a line, after leading blanks, and on the legacy `##[...]` form.
Messages, file paths and rule ids come from the spec, the policies and folder
names, all attacker-controlled, so no report may let them start a line or
spell an agent's command.

Two layers, so that one missed field cannot open a hole:
- `one_line` makes a value a single visible line (text and GitHub reporters).
- `defuse` rewrites whole reports: every `##` that would open an Azure or a
  legacy command, and every `::` that would start a line, loses its first
  character to an escape that the report's own format reads back as the same
  character (JSON `\\u0023`, XML `&#35;`) or that a human reads as one
  (text `\\#`, Markdown backslash escapes, which render as the bare character).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

# Every character some reader treats as the end of a line: CR and LF (what the agents split
# on), plus VT, FF, the C0 separators, NEL and the Unicode line and paragraph separators
# (what str.splitlines and some log viewers split on).
LINE_BREAKS = "\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029"
_SEGMENT = re.compile(f"([^{LINE_BREAKS}]*)([{LINE_BREAKS}]?)")

# `##vso[`, `##[`, with any case and blanks between (a superset of what the agents accept).
_AZURE_COMMAND = re.compile(r"#(?=#\s*(?:vso\s*)?\[)", re.IGNORECASE)

# Control characters (except tab), line breaks and the bidirectional overrides that can
# make a log line read differently from what it holds.
_INVISIBLE = re.compile("[\x00-\x08\x0a-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]")


@dataclass(frozen=True)
class Escapes:
    """How a report format writes `#` and `:` so that they no longer read as a command."""

    hash: str
    colon: str


TEXT = Escapes(hash="#\\", colon="\\:")  # `#\#vso[`, `\::set-env`
MARKDOWN = TEXT  # CommonMark renders `\#` and `\:` as the bare characters
JSON = Escapes(hash="\\u0023", colon="\\u003a")
XML = Escapes(hash="&#35;", colon="&#58;")


def one_line(text: str) -> str:
    """`text` as one visible line: line breaks and other control characters become escapes
    (`\\n`, `\\r`, `\\u2028`...), so a value can never start a line of the log."""
    return _INVISIBLE.sub(_visible, text)


def _visible(match: re.Match[str]) -> str:
    char = match.group()
    return {"\n": "\\n", "\r": "\\r"}.get(char, f"\\u{ord(char):04x}")


def defuse(report: str, escapes: Escapes) -> str:
    """The report with no line that a CI agent would read as a log command."""
    out: list[str] = []
    for match in _SEGMENT.finditer(report):
        line, end = match.groups()
        if not line and not end:
            continue
        line = defuse_inline(line, escapes)
        start = _first_visible(line)
        if line.startswith("::", start):
            line = line[:start] + escapes.colon + line[start + 1 :]
        out.append(line + end)
    return "".join(out)


def defuse_inline(text: str, escapes: Escapes) -> str:
    """`text` with every `##` that would open an Azure (or legacy GitHub) command escaped; for
    values placed after the start of a line, such as the message of a GitHub annotation."""
    return _AZURE_COMMAND.sub(lambda _: escapes.hash, text)


def _first_visible(line: str) -> int:
    """Index of the first character an agent does not trim away (blanks and format characters
    such as a byte-order mark or a zero-width space count as trimmed, to be safe)."""
    for index, char in enumerate(line):
        if not (char.isspace() or unicodedata.category(char) in ("Cc", "Cf", "Zs", "Zl", "Zp")):
            return index
    return len(line)


def log_safe_json(document: object) -> str:
    """`document` as indented JSON that reads back the same and holds no log command: NEL and
    U+2028/U+2029, which json.dumps leaves raw, become escapes too."""
    import json

    text = json.dumps(document, indent=2, ensure_ascii=False) + "\n"
    text = text.replace("\x85", "\\u0085").replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return defuse(text, JSON)


def escape_raw_line_breaks_xml(text: str) -> str:
    """XML text whose content holds no raw CR, NEL or U+2028/U+2029: character references
    instead, which an XML parser reads back as the same characters. (Raw LF stays: it is the
    document's own layout; `defuse` takes care of what follows it.)"""
    for char in "\r\x85\u2028\u2029":
        text = text.replace(char, f"&#{ord(char)};")
    return text
