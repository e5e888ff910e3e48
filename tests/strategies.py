"""Hypothesis strategies for mlci's untrusted input: whole YAML documents, raw
text mutations of the example specs, and schema-aware edits of one field.

Everything here builds *input*; what mlci must do with it is asserted in
tests/test_properties.py.
"""

from __future__ import annotations

import functools
import io
import json
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import strategies as st
from ruamel.yaml import YAML

ROOT = Path(__file__).resolve().parent.parent
EXAMPLE_SPECS = sorted((ROOT / "examples").glob("*/mlproject.yaml"))
SCHEMA = json.loads((ROOT / "schemas" / "mlproject.schema.json").read_text(encoding="utf-8"))

PathKey = str | int
DataPath = tuple[PathKey, ...]

# Pieces that have broken some emitter, shell, CI expression language or log
# parser somewhere: line breaks of every Unicode flavour, control characters,
# quotes, and the interpolation and log-command syntaxes of each CI target.
ADVERSARIAL_FRAGMENTS = (
    "\n",
    "\r",
    "\r\n",
    "\u2028",
    "\u2029",
    "\x85",
    "\x7f",
    "\x80",
    "\x9b",
    "\x00",
    "\x1b[31m",
    "\t",
    "\x0b",
    "\x0c",
    "'",
    '"',
    "`",
    "'''",
    '"""',
    "\\",
    "\\n",
    "\\u0000",
    "${{ github.token }}",
    "${{ secrets.GITHUB_TOKEN }}",
    "$(id)",
    "`id`",
    "$[variables.secret]",
    "$(System.AccessToken)",
    "${env.SECRET}",
    "${X}",
    "$X",
    "%{x}",
    "{{ x }}",
    "{% raw %}",
    "#{x}",
    "##vso[task.setvariable variable=x]y",
    "##[error]boom",
    "::error::boom",
    "::add-mask::x",
    "::stop-commands::end",
    "# comment",
    ": ",
    "- ",
    "? ",
    "{",
    "}",
    "[",
    "]",
    ",",
    "&anchor ",
    "*alias",
    "!!python/object:os.system",
    "!tag ",
    "%YAML 1.1",
    "|",
    ">",
    "---",
    "...",
    "@",
    "~",
    "null",
    "true",
    "no",
    "0x1F",
    "1e3",
    ".inf",
    "0o17",
    "2026-01-01",
    "; rm -rf /",
    "&& id",
    "| id",
    "> /etc/passwd",
    "../",
    "/etc/passwd",
    "<script>",
    "]]>",
    "&amp;",
    "é",
    "日本語",
    "\U0001f600",
    "\u202e",
    "\ufeff",
    "\u200b",
    "\ufffd",
    "Ω",
)

# The characters a YAML parser cares about, to build random near-YAML text.
YAML_ALPHABET = st.sampled_from(list(" \n\t:-?,[]{}#&*!|>'\"%@`\\~.0123456789abcxyz\r\x00\x85\u2028é"))


def adversarial_strings() -> st.SearchStrategy[str]:
    fragment_soup = st.lists(
        st.one_of(st.sampled_from(ADVERSARIAL_FRAGMENTS), st.text(max_size=4)), min_size=1, max_size=6
    ).map("".join)
    very_long = st.builds(
        lambda fragment, times: fragment * times,
        st.sampled_from(("a", "é", "${{ x }}", "\n", "'\"", "x y ")),
        st.integers(min_value=300, max_value=20_000),
    )
    return st.one_of(
        fragment_soup,
        fragment_soup,
        st.text(max_size=40),
        st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=20),
        very_long,
    )


def plain_values(max_leaves: int = 12) -> st.SearchStrategy[Any]:
    """Any value a YAML document can hold: scalars of every type, lists and maps of them."""
    scalars = st.one_of(
        st.none(),
        st.booleans(),
        st.integers(),
        st.integers(min_value=-(10**40), max_value=10**40),
        st.floats(),
        adversarial_strings(),
        st.sampled_from(["", "0", "yes", "1.0", "null", "~", "2026-02-30", "P2Y", "10m"]),
    )
    return st.recursive(
        scalars,
        lambda inner: st.one_of(
            st.lists(inner, max_size=4),
            st.dictionaries(st.one_of(adversarial_strings(), st.sampled_from(_schema_keys())), inner, max_size=4),
        ),
        max_leaves=max_leaves,
    )


@functools.cache
def _schema_keys() -> list[str]:
    """Every property name the schema knows, so random maps sometimes look like a spec."""
    keys: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            keys.update(k for k in node.get("properties", {}) if isinstance(k, str))
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(SCHEMA)
    return sorted(keys)


# ---------------------------------------------------------------- the examples


@dataclass(frozen=True)
class Example:
    name: str
    text: str
    data: dict[str, Any]


@functools.cache
def examples() -> tuple[Example, ...]:
    return tuple(
        Example(path.parent.name, path.read_text(encoding="utf-8"), YAML(typ="safe").load(path.read_text("utf-8")))
        for path in EXAMPLE_SPECS
    )


def dump(data: Any) -> str:
    """YAML text for `data`, as a user could have written it (strings escaped as YAML needs)."""
    yaml = YAML(typ="safe", pure=True)
    yaml.default_flow_style = False
    yaml.allow_unicode = True
    yaml.width = 4096
    stream = io.StringIO()
    yaml.dump(data, stream)
    return stream.getvalue()


def walk_paths(data: Any, path: DataPath = ()) -> Iterator[tuple[DataPath, Any]]:
    yield path, data
    if isinstance(data, dict):
        for key, value in data.items():
            yield from walk_paths(value, (*path, key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from walk_paths(value, (*path, index))


def replaced(data: Any, path: DataPath, value: Any) -> Any:
    """A deep copy of `data` with the node at `path` set to `value`."""
    copy = json.loads(json.dumps(data))
    if not path:
        return value
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    parent[path[-1]] = value
    return copy


def renamed_key(data: Any, path: DataPath, new_key: str) -> Any:
    """A deep copy of `data` with the key at `path` renamed, keeping the order of keys."""
    copy = json.loads(json.dumps(data))
    parent = copy
    for key in path[:-1]:
        parent = parent[key]
    items = [(new_key if k == path[-1] else k, v) for k, v in parent.items()]
    parent.clear()
    parent.update(items)
    return copy


def _resolve(node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        node = SCHEMA["$defs"][node["$ref"].rsplit("/", 1)[-1]]
    return node


def schema_at(path: DataPath) -> list[dict[str, Any]]:
    """The schema alternatives that may describe the value at `path` (empty when unknown)."""
    nodes = [SCHEMA]
    for key in path:
        following: list[dict[str, Any]] = []
        for node in nodes:
            for option in _alternatives(node):
                if isinstance(key, int) and isinstance(option.get("items"), dict):
                    following.append(option["items"])
                elif isinstance(key, str) and key in option.get("properties", {}):
                    following.append(option["properties"][key])
                elif isinstance(key, str) and isinstance(option.get("additionalProperties"), dict):
                    following.append(option["additionalProperties"])
        nodes = following
    return [option for node in nodes for option in _alternatives(node)]


def _alternatives(node: dict[str, Any]) -> list[dict[str, Any]]:
    node = _resolve(node)
    options = [node]
    for keyword in ("oneOf", "anyOf", "allOf"):
        for sub in node.get(keyword, []):
            options.extend(_alternatives(sub))
    return options


def _python_pattern(pattern: str) -> str:
    return pattern.replace("\\z", "\\Z")


def valid_strings_for(path: DataPath) -> st.SearchStrategy[str] | None:
    """Strings the schema accepts at `path` that are not the obvious ones: they reach the renderers."""
    for option in schema_at(path):
        if option.get("type") == "string" and "pattern" in option:
            max_length = option.get("maxLength", 255)
            return st.from_regex(re.compile(_python_pattern(option["pattern"])), fullmatch=True).filter(
                lambda s, n=max_length: len(s) <= n
            )
        if option.get("type") == "string" and "enum" not in option and "format" not in option:
            longest = option.get("maxLength", 10**9)
            return adversarial_strings().filter(lambda s, n=longest: len(s) <= n)
    return None


# ------------------------------------------------------------ spec strategies


@dataclass(frozen=True)
class Mutation:
    """A spec text plus what was done to it, which hypothesis prints on failure."""

    example: str
    how: str
    text: bytes
    path: DataPath = ()
    old: Any = None
    new: Any = None

    def __repr__(self) -> str:
        return f"Mutation({self.example}: {self.how} at {list(self.path)}: {self.old!r} -> {self.new!r})"


@st.composite
def string_field_edits(draw: st.DrawFn, schema_valid_only: bool = False) -> Mutation:
    """One example spec with one string (a value, or a key of a free-form map) replaced.

    Half the time the new string is what the schema accepts at that place, so
    it travels on to the policies and the renderers; otherwise it is hostile.
    """
    example = draw(st.sampled_from(examples()))
    paths = [p for p, v in walk_paths(example.data) if isinstance(v, str)]
    free_keys = [p for p, v in walk_paths(example.data) if p and isinstance(p[-1], str) and _is_free_form_key(p)]
    path = draw(st.sampled_from(paths + free_keys))
    valid = valid_strings_for(path)
    options = [valid] if valid is not None else []
    if not schema_valid_only:
        options.append(adversarial_strings())
    if not options:
        options.append(st.just("x"))
    new = draw(st.one_of(*options))
    if path in free_keys and not isinstance(_get(example.data, path), str):
        return Mutation(
            example.name, "rename key", dump(renamed_key(example.data, path, new)).encode(), path, path[-1], new
        )
    old = _get(example.data, path)
    return Mutation(example.name, "set string", dump(replaced(example.data, path, new)).encode(), path, old, new)


def _is_free_form_key(path: DataPath) -> bool:
    parents = schema_at(path[:-1])
    return any(isinstance(option.get("additionalProperties"), dict) for option in parents) or any(
        option.get("additionalProperties") is True for option in parents
    )


def _get(data: Any, path: DataPath) -> Any:
    for key in path:
        data = data[key]
    return data


@st.composite
def type_confusions(draw: st.DrawFn) -> Mutation:
    """One node of an example spec (scalar, list or map, or the root) replaced by a value of any type."""
    example = draw(st.sampled_from(examples()))
    path = draw(st.sampled_from([p for p, _ in walk_paths(example.data)]))
    new = draw(plain_values())
    old = _get(example.data, path)
    return Mutation(example.name, "set value", dump(replaced(example.data, path, new)).encode(), path, _short(old), new)


def _short(value: Any) -> Any:
    return value if not isinstance(value, dict | list) else type(value).__name__


@st.composite
def text_mutations(draw: st.DrawFn) -> Mutation:
    """An example spec's bytes after a few edits a fuzzer (or a confused editor) would make."""
    example = draw(st.sampled_from(examples()))
    lines = example.text.encode().split(b"\n")
    done = []
    for _ in range(draw(st.integers(min_value=1, max_value=4))):
        kind = draw(st.sampled_from(_LINE_EDITS))
        # Earlier edits may have deleted every line; each edit needs one to work on.
        lines = lines or [b""]
        index = draw(st.integers(min_value=0, max_value=max(len(lines) - 1, 0)))
        lines = kind(draw, lines, index)
        done.append(f"{kind.__name__.strip('_')}@{index + 1}")
    return Mutation(example.name, ", ".join(done), b"\n".join(lines))


def _flip_byte(draw: st.DrawFn, lines: list[bytes], index: int) -> list[bytes]:
    line = lines[index]
    if not line:
        return lines
    at = draw(st.integers(min_value=0, max_value=len(line) - 1))
    new = draw(
        st.one_of(
            st.binary(min_size=1, max_size=1), st.sampled_from([bytes([b]) for b in b":-? \t&*!|>'\"{}[]#%@`\\\x00"])
        )
    )
    return [*lines[:index], line[:at] + new + line[at + 1 :], *lines[index + 1 :]]


def _delete_line(draw: st.DrawFn, lines: list[bytes], index: int) -> list[bytes]:
    return [*lines[:index], *lines[index + 1 :]]


def _duplicate_line(draw: st.DrawFn, lines: list[bytes], index: int) -> list[bytes]:
    return [*lines[: index + 1], *lines[index:]]


def _indent_line(draw: st.DrawFn, lines: list[bytes], index: int) -> list[bytes]:
    shift = draw(st.sampled_from([b" ", b"  ", b"\t", b"- ", b"? "]))
    return [*lines[:index], shift + lines[index], *lines[index + 1 :]]


def _dedent_line(draw: st.DrawFn, lines: list[bytes], index: int) -> list[bytes]:
    return [*lines[:index], lines[index].lstrip(b" "), *lines[index + 1 :]]


def _anchor_and_alias(draw: st.DrawFn, lines: list[bytes], index: int) -> list[bytes]:
    """Anchor a value and alias it elsewhere (sometimes to itself, or to a name never defined)."""
    name = draw(st.sampled_from([b"a", b"b", b"x"]))
    line = lines[index]
    key, colon, rest = line.partition(b": ")
    if colon:
        line = key + b": &" + name + b" " + rest
    other = draw(st.integers(min_value=0, max_value=len(lines) - 1))
    target = lines[other]
    okey, ocolon, _ = target.partition(b": ")
    alias = okey + b": *" + name if ocolon else target + b" *" + name
    out = list(lines)
    out[index] = line
    out[other] = alias
    return out


def _merge_key(draw: st.DrawFn, lines: list[bytes], index: int) -> list[bytes]:
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip(b" "))]
    target = draw(st.sampled_from([b"*a", b"{x: 1}", b"[1, 2]", b"1", b"*b"]))
    return [*lines[:index], indent + b"<<: " + target, *lines[index:]]


def _insert_text(draw: st.DrawFn, lines: list[bytes], index: int) -> list[bytes]:
    text = draw(st.text(YAML_ALPHABET, max_size=30)).encode()
    return [*lines[:index], text, *lines[index:]]


def _swap_lines(draw: st.DrawFn, lines: list[bytes], index: int) -> list[bytes]:
    other = draw(st.integers(min_value=0, max_value=len(lines) - 1))
    out = list(lines)
    out[index], out[other] = out[other], out[index]
    return out


def _truncate(draw: st.DrawFn, lines: list[bytes], index: int) -> list[bytes]:
    return lines[: index + 1]


def _document_marker(draw: st.DrawFn, lines: list[bytes], index: int) -> list[bytes]:
    marker = draw(st.sampled_from([b"---", b"...", b"%YAML 1.1", b"%TAG ! tag:x,2000:", b"--- !!map", b"--- |"]))
    return [*lines[:index], marker, *lines[index:]]


def _tag_value(draw: st.DrawFn, lines: list[bytes], index: int) -> list[bytes]:
    """An explicit YAML tag on a value: standard ones with values they cannot construct, and unknown ones."""
    tag = draw(
        st.sampled_from(
            [
                b"!!timestamp 2026-02-30",
                b"!!int 0x_",
                b"!!float abc",
                b"!!bool maybe",
                b"!!timestamp x",
                b"!!binary aGk=",
                b"!!python/name:os.system",
                b"!custom x",
                b"!!str",
                b"!!null",
                b"!!set",
                b"!<tag:x>",
                b"2026-02-30",
                b"2026-13-01 10:00:00",
            ]
        )
    )
    key, colon, rest = lines[index].partition(b": ")
    line = key + b": " + tag + b" " + rest if colon else lines[index] + b" " + tag
    return [*lines[:index], line, *lines[index + 1 :]]


_LINE_EDITS = (
    _tag_value,
    _flip_byte,
    _delete_line,
    _duplicate_line,
    _indent_line,
    _dedent_line,
    _anchor_and_alias,
    _merge_key,
    _insert_text,
    _swap_lines,
    _truncate,
    _document_marker,
)


def any_documents() -> st.SearchStrategy[bytes]:
    """Any file at all: dumped random structures, near-YAML text, and raw bytes."""
    return st.one_of(
        plain_values(max_leaves=30).map(lambda v: dump(v).encode()),
        st.dictionaries(st.sampled_from(_schema_keys()), plain_values(), max_size=8).map(lambda v: dump(v).encode()),
        st.text(YAML_ALPHABET, max_size=200).map(str.encode),
        st.binary(max_size=200),
    )


# A folder name on disk is part of the input too: it lands in rendered paths and commands.
folder_names = (
    st.one_of(
        st.lists(
            st.sampled_from([f for f in ADVERSARIAL_FRAGMENTS if "/" not in f and "\x00" not in f]),
            min_size=1,
            max_size=4,
        ).map("".join),
        st.text(
            st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="/\x00"),
            min_size=1,
            max_size=30,
        ),
    )
    .map(lambda name: name.strip() or "_")
    .filter(lambda name: name not in (".", "..") and len(name.encode()) < 200)
)
