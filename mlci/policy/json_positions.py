"""Read a JSON file and remember where each key and value starts, so that an
error in a settings or data file is reported at its line and column.

`json` keeps no positions, and JSON read as YAML (which does) breaks on tabs; so
the text is parsed by `json` (its errors carry their own position) and then
walked once more by a tiny scanner that only records positions.
"""

from __future__ import annotations

import bisect
import json
import math
import re
from dataclasses import dataclass, field
from json.decoder import scanstring  # type: ignore[attr-defined]
from typing import Any

_SCALAR = re.compile(r"-?(?:Infinity|[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)|true|false|null|NaN")
_SPACE = re.compile(r"[ \t\n\r]*")

Path = tuple[str | int, ...]


@dataclass
class PositionedJson:
    value: Any
    values: dict[Path, tuple[int, int]] = field(default_factory=dict)  # path -> (line, column) of the value
    keys: dict[Path, tuple[int, int]] = field(default_factory=dict)  # path -> (line, column) of its key

    def value_at(self, path: Path) -> tuple[int, int]:
        """Where the value at path starts; for a missing one, where its nearest parent does."""
        for end in range(len(path), -1, -1):
            if path[:end] in self.values:
                return self.values[path[:end]]
        return (1, 1)

    def key_at(self, path: Path) -> tuple[int, int]:
        return self.keys.get(path) or self.value_at(path)


def load_json(text: str) -> PositionedJson:
    """Raises json.JSONDecodeError (with lineno and colno) for invalid JSON, and for what
    Python's json accepts but policy data must not hold: a key twice in one object (the
    last would silently win over a value a reviewer reads first), NaN and infinities
    (no engine can carry them)."""
    value = json.loads(text)
    result = PositionedJson(value)
    _Walker(text, result).walk(())
    return result


class _Walker:
    def __init__(self, text: str, result: PositionedJson) -> None:
        self.text = text
        self.result = result
        self.i = 0
        self.line_starts = [0] + [m.end() for m in re.finditer("\n", text)]

    def position(self, index: int) -> tuple[int, int]:
        line = bisect.bisect_right(self.line_starts, index)
        return line, index - self.line_starts[line - 1] + 1

    def skip_space(self) -> None:
        match = _SPACE.match(self.text, self.i)
        self.i = match.end() if match else self.i

    def walk(self, path: Path) -> None:
        self.skip_space()
        self.result.values[path] = self.position(self.i)
        char = self.text[self.i]
        if char == "{":
            self.i += 1
            self.skip_space()
            seen: set[str] = set()
            while self.text[self.i] != "}":
                self.skip_space()
                key_start = self.i
                key, self.i = scanstring(self.text, self.i + 1)
                if key in seen:
                    raise json.JSONDecodeError(f"duplicate key {key!r}; each key may appear once", self.text, key_start)
                seen.add(key)
                self.result.keys[(*path, key)] = self.position(key_start)
                self.skip_space()
                self.i += 1  # ':'
                self.walk((*path, key))
                self.skip_space()
                if self.text[self.i] == ",":
                    self.i += 1
                    self.skip_space()
            self.i += 1
        elif char == "[":
            self.i += 1
            self.skip_space()
            index = 0
            while self.text[self.i] != "]":
                self.walk((*path, index))
                index += 1
                self.skip_space()
                if self.text[self.i] == ",":
                    self.i += 1
                    self.skip_space()
            self.i += 1
        elif char == '"':
            _, self.i = scanstring(self.text, self.i + 1)
        else:
            match = _SCALAR.match(self.text, self.i)
            if match and match.group()[0] in "-0123456789NI" and not math.isfinite(float(match.group())):
                raise json.JSONDecodeError("numbers must be finite (no NaN, Infinity or overflow)", self.text, self.i)
            self.i = match.end() if match else self.i + 1
