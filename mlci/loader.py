"""Load mlproject.yaml safely and keep every node's position.

The spec is parsed twice: first as a stream of events, which is iterative and
cheap, to reject absurd nesting before the recursive composer can overflow;
then round-trip, so that every key and item keeps its line and column. The
plain copy handed to the schema and the policies is built with a node budget,
so an alias bomb ("billion laughs") stops with a message instead of eating
the machine.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci.errors import InputError, Location, UserError
from mlci.findings import JsonPath

MAX_FILE_BYTES = 5 * 1024 * 1024
MAX_DEPTH = 64
MAX_NODES = 100_000


@dataclass
class Spec:
    """A loaded mlproject.yaml: the plain data plus a map back to positions."""

    path: Path
    display_path: str
    data: dict[str, Any]
    _tree: Any  # the ruamel round-trip tree, used only to look up positions
    text: str

    @property
    def directory(self) -> Path:
        return self.path.parent

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON form: the same spec gives the same hash."""
        canonical = json.dumps(self.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def location(self, path: JsonPath) -> Location:
        """Line and column of the node at `path`; a missing node points at its parent."""
        line, column = _position(self._tree, path)
        return Location(self.display_path, line, column)


def load_spec(path: Path, display_path: str | None = None) -> Spec:
    """Read, check and parse one mlproject.yaml. Raises InputError with file:line:col."""
    shown = display_path or str(path)
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{shown}: no such file") from None
    except IsADirectoryError:
        raise UserError(f"{shown}: is a directory, expected a file") from None
    except OSError as exc:
        raise UserError(f"{shown}: cannot read: {exc.strerror}") from None
    if len(raw) > MAX_FILE_BYTES:
        raise InputError(Location(shown), f"file is {len(raw)} bytes; mlci reads specs up to {MAX_FILE_BYTES}")
    text = _decode(raw, shown)
    return parse_spec_text(text, path, shown)


def parse_spec_text(text: str, path: Path, shown: str) -> Spec:
    if not text.strip() or all(_is_blank_or_comment(line) for line in text.splitlines()):
        raise InputError(Location(shown), "the file is empty; expected a mapping starting with 'apiVersion: mlci/v1'")
    _check_events(text, shown)
    tree = _compose(text, shown)
    if tree is None:
        raise InputError(
            Location(shown), "the document is empty; expected a mapping starting with 'apiVersion: mlci/v1'"
        )
    if not isinstance(tree, dict):
        kind = "a list" if isinstance(tree, list) else f"a single value ({type(tree).__name__})"
        line, col = _node_start(tree) if hasattr(tree, "lc") else (_first_content_line(text), 1)
        raise InputError(Location(shown, line, col), f"expected a mapping at the top of the file, found {kind}")
    budget = _Budget(shown)
    data = _to_plain(tree, budget, ())
    return Spec(path=path, display_path=shown, data=data, _tree=tree, text=text)


def _first_content_line(text: str) -> int:
    for number, line in enumerate(text.splitlines(), start=1):
        if not _is_blank_or_comment(line):
            return number
    return 1


def _is_blank_or_comment(line: str) -> bool:
    stripped = line.strip()
    return not stripped or stripped.startswith("#") or stripped in ("---", "...")


def _decode(raw: bytes, shown: str) -> str:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        before = raw[: exc.start]
        line = before.count(b"\n") + 1
        column = len(before) - (before.rfind(b"\n") + 1) + 1
        problem = f"not valid UTF-8 (byte 0x{raw[exc.start]:02x}); save the file as UTF-8"
        raise InputError(Location(shown, line, column), problem) from None


def _yaml(typ: str) -> Any:
    from ruamel.yaml import YAML

    yaml = YAML(typ=typ)
    yaml.allow_duplicate_keys = False
    return yaml


def _mark_location(shown: str, mark: Any) -> Location:
    if mark is None:
        return Location(shown)
    return Location(shown, mark.line + 1, mark.column + 1)


def _yaml_error(shown: str, exc: Exception) -> InputError:
    from ruamel.yaml.error import MarkedYAMLError

    if isinstance(exc, MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        problem = exc.problem or exc.context or "invalid YAML"
        if "duplicate key" in str(exc):
            key = _duplicate_key_name(str(exc))
            problem = f"duplicate key {key!r}; each key may appear once in a mapping" if key else problem
        elif exc.context and exc.problem:
            started = exc.context_mark
            where = (
                f" started at line {started.line + 1}, column {started.column + 1}"
                if started and mark and started.line != mark.line
                else ""
            )
            problem = f"{exc.problem} ({exc.context}{where})"
        return InputError(_mark_location(shown, mark), f"invalid YAML: {problem}")
    return InputError(Location(shown), f"invalid YAML: {exc}")


def _duplicate_key_name(text: str) -> str | None:
    marker = 'found duplicate key "'
    start = text.find(marker)
    if start < 0:
        return None
    start += len(marker)
    end = text.find('"', start)
    return text[start:end] if end > start else None


def _check_events(text: str, shown: str) -> None:
    """Reject multiple documents and absurd nesting from the iterative event stream."""
    from ruamel.yaml import events
    from ruamel.yaml.error import YAMLError

    depth = 0
    documents = 0
    try:
        for event in _yaml("safe").parse(text):
            if isinstance(event, events.DocumentStartEvent):
                documents += 1
                if documents > 1:
                    raise InputError(
                        _mark_location(shown, event.start_mark),
                        "a second YAML document; mlproject.yaml holds exactly one",
                    )
            elif isinstance(event, events.MappingStartEvent | events.SequenceStartEvent):
                depth += 1
                if depth > MAX_DEPTH:
                    raise InputError(
                        _mark_location(shown, event.start_mark),
                        f"nesting deeper than {MAX_DEPTH} levels; a spec never needs that",
                    )
            elif isinstance(event, events.MappingEndEvent | events.SequenceEndEvent):
                depth -= 1
    except YAMLError as exc:
        raise _yaml_error(shown, exc) from None


def _compose(text: str, shown: str) -> Any:
    from ruamel.yaml.error import YAMLError

    try:
        return _yaml("rt").load(text)
    except YAMLError as exc:
        raise _yaml_error(shown, exc) from None
    except RecursionError:  # belt and braces: the depth check should have caught it
        raise InputError(Location(shown), f"nesting deeper than {MAX_DEPTH} levels") from None


class _Budget:
    def __init__(self, shown: str) -> None:
        self.shown = shown
        self.left = MAX_NODES

    def spend(self, node: Any, container: Any) -> None:
        self.left -= 1
        if self.left < 0:
            line, col = _node_start(node if hasattr(node, "lc") else container)
            raise InputError(
                Location(self.shown, line, col),
                f"the document expands to more than {MAX_NODES} nodes (anchors and aliases repeated too often)",
            )


def _to_plain(node: Any, budget: _Budget, path: JsonPath, container: Any = None) -> Any:
    budget.spend(node, container)
    if isinstance(node, dict):
        out: dict[str, Any] = {}
        for key, value in node.items():
            if not isinstance(key, str | int | float | bool) or key is None:
                line, col = _key_position(node, key)
                raise InputError(Location(budget.shown, line, col), "keys must be plain strings")
            out[str(key)] = _to_plain(value, budget, (*path, str(key)), node)
        return out
    if isinstance(node, list):
        return [_to_plain(item, budget, (*path, i), node) for i, item in enumerate(node)]
    if isinstance(node, bool) or node is None:
        return node
    if isinstance(node, int):
        return int(node)
    if isinstance(node, float):
        return float(node)
    if isinstance(node, str):
        return str(node)
    if isinstance(node, dt.datetime | dt.date):
        # YAML timestamps become ISO strings so the schema and Rego see one type.
        return node.isoformat()
    return str(node)


def _node_start(node: Any) -> tuple[int, int]:
    lc = getattr(node, "lc", None)
    if lc is not None and lc.line is not None:
        return lc.line + 1, lc.col + 1
    return 1, 1


def _key_position(mapping: Any, key: Any) -> tuple[int, int]:
    try:
        line, col = mapping.lc.key(key)
        return line + 1, col + 1
    except (AttributeError, KeyError, TypeError):
        return _node_start(mapping)


def _position(tree: Any, path: JsonPath) -> tuple[int, int]:
    """Walk the round-trip tree along `path`; stop at the deepest node that exists."""
    node = tree
    best = _first_key_position(tree)
    for part in path:
        if isinstance(node, dict) and part in node:
            best = _key_position(node, part)
            node = node[part]
        elif isinstance(node, list) and isinstance(part, int) and 0 <= part < len(node):
            try:
                line, col = node.lc.item(part)
                best = (line + 1, col + 1)
            except (AttributeError, KeyError, TypeError):
                best = _node_start(node[part])
            node = node[part]
        else:
            break
    return best


def _first_key_position(tree: Any) -> tuple[int, int]:
    if isinstance(tree, dict) and tree:
        return _key_position(tree, next(iter(tree)))
    return 1, 1
