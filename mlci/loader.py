"""Load mlproject.yaml safely and keep every node's position.

The spec is parsed twice: first as a stream of events, which is iterative and
cheap, to reject absurd nesting before the recursive composer can overflow;
then round-trip, so that every key and item keeps its line and column. The
plain copy handed to the schema and the policies is built with a budget of
nodes and of text, so an alias bomb ("billion laughs", or one large string
repeated through aliases) stops with a message instead of eating the machine.

Limits (documented in the README): a spec file is at most MAX_FILE_BYTES; once
aliases are expanded it holds at most MAX_NODES values and MAX_EXPANDED_CHARS
characters of keys and scalars. An ordinary spec is a few kilobytes.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import math
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from mlci.errors import InputError, Location, UserError
from mlci.findings import JsonPath

if TYPE_CHECKING:
    from mlci.spec import MLProject

MAX_FILE_BYTES = 1024 * 1024  # 1 MiB: hundreds of times the size of a real spec
MAX_DEPTH = 64
MAX_NODES = 100_000
# The schema, the policy engines and the renderers all work on the expanded document; without
# this budget, one 1 MB string referenced 1,500 times passes the node budget and becomes 1.5 GB.
MAX_EXPANDED_CHARS = 4 * MAX_FILE_BYTES


@dataclass
class Spec:
    """A loaded mlproject.yaml: the plain data plus a map back to positions."""

    path: Path
    display_path: str
    data: dict[str, Any]
    positions: dict[JsonPath, tuple[int, int]]  # JSON path -> (line, column) of its key or item
    text: str

    @functools.cached_property
    def typed(self) -> MLProject:
        """The spec as frozen, typed objects with every schema default filled in. Only for a
        spec the schema accepted (commands read it after validation); `data` stays raw."""
        from mlci.spec import typed_spec

        return typed_spec(self.data)

    @property
    def directory(self) -> Path:
        return self.path.parent

    @property
    def digest(self) -> str:
        """sha256 of the canonical JSON form: the same spec gives the same hash."""
        canonical = json.dumps(self.data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
        return hashlib.sha256(canonical.encode()).hexdigest()

    def location(self, path: JsonPath) -> Location:
        """Line and column of the node at `path`; a missing node points at its deepest existing parent."""
        for end in range(len(path), 0, -1):
            found = self.positions.get(tuple(path[:end]))
            if found:
                return Location(self.display_path, *found)
        return Location(self.display_path, *self.positions.get((), (1, 1)))


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
        raise InputError(
            Location(shown), f"file is {len(raw)} bytes; mlci reads specs up to {MAX_FILE_BYTES} bytes (1 MiB)"
        )
    text = _decode(raw, shown)
    return parse_spec_text(text, path, shown)


def parse_spec_text(text: str, path: Path, shown: str) -> Spec:
    if not text.strip() or all(_is_blank_or_comment(line) for line in text.splitlines()):
        raise InputError(Location(shown), "the file is empty; expected a mapping starting with 'apiVersion: mlci/v1'")
    yaml = _yaml()  # one instance per document: creating one scans for plug-ins
    if _may_be_deep_or_multi_document(text):
        _check_events(yaml, text, shown)
    root = _compose(yaml, text, shown)
    if root is None:
        raise InputError(
            Location(shown), "the document is empty; expected a mapping starting with 'apiVersion: mlci/v1'"
        )
    from ruamel.yaml.nodes import MappingNode, SequenceNode

    if not isinstance(root, MappingNode):
        kind = "a list" if isinstance(root, SequenceNode) else "a single value"
        raise InputError(
            _mark_location(shown, root.start_mark), f"expected a mapping at the top of the file, found {kind}"
        )
    builder = _PlainBuilder(shown, yaml.constructor)
    data = builder.build(root, ())
    return Spec(path=path, display_path=shown, data=data, positions=builder.positions, text=text)


def _may_be_deep_or_multi_document(text: str) -> bool:
    """False when the text provably nests at most MAX_DEPTH levels in one document.

    In block style every level of nesting costs at least one more leading space,
    `-` or `?` (a sequence under a key may share its column, hence the factor 2),
    and in flow style one bracket; so this bound is safe and lets ordinary specs
    skip the extra event pass.
    """
    lead = 0
    for line in text.splitlines():
        if line.startswith(("---", "...", "%")):
            return True
        lead = max(lead, len(line) - len(line.lstrip(" -?\t")))
    return 2 * lead + text.count("[") + text.count("{") + 4 > MAX_DEPTH


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


def _yaml() -> Any:
    from ruamel.yaml import YAML

    # pure=False picks libyaml's C parser (ruamel.yaml.clib) when installed: several
    # times faster than the pure-Python one, which stays the fallback.
    return YAML(typ="safe", pure=False)


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


def _check_events(yaml: Any, text: str, shown: str) -> None:
    """Reject multiple documents and absurd nesting from the iterative event stream."""
    from ruamel.yaml import events
    from ruamel.yaml.error import YAMLError

    depth = 0
    documents = 0
    try:
        for event in yaml.parse(text):
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


def _compose(yaml: Any, text: str, shown: str) -> Any:
    from ruamel.yaml.error import YAMLError

    try:
        return yaml.compose(text)
    except YAMLError as exc:
        raise _yaml_error(shown, exc) from None
    except RecursionError:  # belt and braces: the depth check should have caught it
        raise InputError(Location(shown), f"nesting deeper than {MAX_DEPTH} levels") from None


_MERGE_TAG = "tag:yaml.org,2002:merge"
_COLLECTION_TAGS = ("tag:yaml.org,2002:map", "tag:yaml.org,2002:seq")


class _PlainBuilder:
    """Nodes -> plain data, recording where every key and item stands.

    Aliases share nodes, so the expanded document can be far larger than the
    file: a budget of nodes and one of characters (every key and scalar counted
    each time an alias reaches it), spent while building, stop an alias bomb
    before anything is copied.
    """

    def __init__(self, shown: str, constructor: Any) -> None:
        self.shown = shown
        self.left = MAX_NODES
        self.chars_left = MAX_EXPANDED_CHARS
        self.positions: dict[JsonPath, tuple[int, int]] = {}
        self.constructor = constructor
        self.depth = 0  # of the expanded document: an alias can nest a collection inside itself

    def build(self, node: Any, path: JsonPath, container: Any = None) -> Any:
        from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

        self.left -= 1
        if self.left < 0:
            # Point at the collection being expanded, not at one of its scalars.
            where = container if isinstance(node, ScalarNode) and container is not None else node
            raise InputError(
                _mark_location(self.shown, where.start_mark),
                f"the document expands to more than {MAX_NODES} nodes (anchors and aliases repeated too often)",
            )
        if isinstance(node, ScalarNode):
            self._spend_text(node, container)
        elif node.tag not in _COLLECTION_TAGS:
            # `!!python/object/apply:...`, `!!set`, `!custom [...]`: never built, never silently dropped.
            raise InputError(_mark_location(self.shown, node.start_mark), f"cannot read this value ({node.tag})")
        if isinstance(node, MappingNode):
            return self._mapping(node, path)
        if isinstance(node, SequenceNode):
            self._enter(node)
            out = []
            for index, item in enumerate(node.value):
                self.positions[(*path, index)] = _start(item)
                out.append(self.build(item, (*path, index), node))
            self.depth -= 1
            return out
        return self._scalar(node)

    def _enter(self, node: Any) -> None:
        """One level deeper; the event pass bounds the text's nesting, this the nesting once
        aliases are expanded (`&a [*a]`, or chains of anchors each nested a little)."""
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise InputError(
                _mark_location(self.shown, node.start_mark),
                f"nesting deeper than {MAX_DEPTH} levels once anchors and aliases are expanded",
            )

    def _mapping(self, node: Any, path: JsonPath) -> dict[str, Any]:
        self._enter(node)
        try:
            return self._mapping_items(node, path)
        finally:
            self.depth -= 1

    def _mapping_items(self, node: Any, path: JsonPath) -> dict[str, Any]:
        from ruamel.yaml.nodes import MappingNode, ScalarNode, SequenceNode

        out: dict[str, Any] = {}
        merged: list[tuple[Any, Any]] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                # `<<: *map` or `<<: [*a, *b]`; anything else (a scalar) is refused below, at the
                # `<<` itself: an alias's node stands where its anchor is, not where it is used.
                sources = value_node.value if isinstance(value_node, SequenceNode) else [value_node]
                merged += [(key_node, source) for source in sources]
                continue
            if not isinstance(key_node, ScalarNode):
                raise InputError(_mark_location(self.shown, key_node.start_mark), "keys must be plain strings")
            self._spend_text(key_node, node)
            key = self._scalar(key_node)
            if key is None or isinstance(key, list | dict):
                raise InputError(_mark_location(self.shown, key_node.start_mark), "keys must be plain strings")
            key = str(key)
            if key in out:
                raise InputError(
                    _mark_location(self.shown, key_node.start_mark),
                    f"invalid YAML: duplicate key {key!r}; each key may appear once in a mapping",
                )
            self.positions[(*path, key)] = _start(key_node)
            out[key] = self.build(value_node, (*path, key), node)
        for merge_key, source in merged:  # YAML merge keys: explicit keys win
            if not isinstance(source, MappingNode):
                raise InputError(_mark_location(self.shown, merge_key.start_mark), "'<<' must merge mappings")
            for key, value in self._mapping(source, path).items():
                out.setdefault(key, value)
        if not path:
            self.positions[()] = _start(node.value[0][0]) if node.value else (1, 1)
        return out

    def _spend_text(self, node: Any, container: Any) -> None:
        self.chars_left -= len(node.value)
        if self.chars_left < 0:
            where = container if container is not None else node
            raise InputError(
                _mark_location(self.shown, where.start_mark),
                f"the document expands to more than {MAX_EXPANDED_CHARS} characters of text "
                "(anchors and aliases repeat large values too often)",
            )

    def _scalar(self, node: Any) -> Any:
        try:
            value = self.constructor.construct_object(node, deep=True)
        except Exception as exc:  # an explicit tag the safe constructor refuses: !custom, !!timestamp 2026-02-30
            problem = str(getattr(exc, "problem", "") or exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise InputError(
                _mark_location(self.shown, node.start_mark), f"cannot read this value ({node.tag}): {problem}"
            ) from None
        if isinstance(value, float) and not math.isfinite(value):
            # .inf and .nan have no JSON form: policy engines and reports could not carry them.
            raise InputError(_mark_location(self.shown, node.start_mark), "numbers must be finite (not .inf or .nan)")
        if isinstance(value, bool) or value is None or isinstance(value, int | float | str):
            return value
        if isinstance(value, dt.datetime | dt.date):
            # YAML timestamps become ISO strings so the schema and Rego see one type.
            return value.isoformat()
        if isinstance(value, bytes):
            return value.decode("utf-8", "replace")
        return str(value)


def _start(node: Any) -> tuple[int, int]:
    return node.start_mark.line + 1, node.start_mark.column + 1
