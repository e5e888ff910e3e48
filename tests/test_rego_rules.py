"""mlci's rule-head scanner agrees with OPA's own parser (`opa parse`) on every
module it reads: which rules a module defines, where, and of what shape. A head the
scanner misread would be a rule silently dropped from the decision."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from mlci.policy.rules import RegoScanError, scan_module
from tests import judges
from tests.conftest import FIXTURES, ROOT, require_tool

TRICKY = {
    "strings_and_comments.rego": """package main

import rego.v1

# a comment with { and " in it
msg := "hello { # not a comment"

deny contains m if { m := msg } # trailing } comment

raw := `a raw
string with } and {` if true

warn if {
	input.x == "}"
}
""",
    "multi_line_heads.rego": """package org.k8s

import rego.v1

deny_multi contains {
	"msg": "a head over three lines",
} if {
	true
}

violation contains msg
	if {
	msg := "if on the next line"
}

p := 1 if {
	false
} else := 2

default allow := false

allow if input.user == "admin"

deny_obj[name] := reason if {
	some name, reason in {"a": "b"}
}

deny_keys[name] if {
	some name in ["a"]
}

helper(x) := y if {
	y := x
}

deny.nested.path contains x if {
	x := 1
}

values := [
	1,
	2,
]

deny_after_array contains "x" if true
""",
}


def _corpus() -> dict[str, str]:
    sources = dict(TRICKY)
    for folder in (ROOT / "policies", FIXTURES / "policies"):
        for path in sorted(folder.rglob("*.rego")):
            sources[str(path.relative_to(ROOT))] = path.read_text()
    return sources


CORPUS = _corpus()


def _opa_heads(opa: str, path: Path) -> list[tuple[str, str, int, int]]:
    proc = subprocess.run(
        [opa, "parse", "--format", "json", "--json-include", "locations,-comments", str(path)],
        capture_output=True,
        text=True,
        check=True,
    )
    heads = []
    for rule in json.loads(proc.stdout).get("rules", []):
        head = rule["head"]
        ref = head["ref"]
        if "args" in head:
            kind = "function"
        elif len(ref) > 2 or (len(ref) == 2 and ref[1]["type"] == "string"):
            kind = "ref"
        elif len(ref) == 2:
            kind = "object"
        elif "key" in head:
            kind = "set"
        elif rule.get("default") or head.get("assign") or head["value"] != {"type": "boolean", "value": True}:
            kind = "value"
        else:
            kind = "boolean"
        heads.append((ref[0]["value"], kind, head["location"]["row"], head["location"]["col"]))
    return heads


@pytest.mark.parametrize("name", sorted(CORPUS))
def test_scanner_finds_the_heads_opa_finds(name: str, tmp_path: Path) -> None:
    opa = require_tool(judges.tool("opa"), "opa")
    path = tmp_path / Path(name).name
    path.write_text(CORPUS[name])
    scan = scan_module(CORPUS[name])
    ours = [(h.name, "value" if h.is_default else h.kind, h.line, h.column) for h in scan.heads]
    assert ours == _opa_heads(opa, path)


def test_metadata_attaches_across_blank_lines_like_opa() -> None:
    source = "package main\n\n# METADATA\n# custom:\n#   id: X-1\n\n\nrule_a contains 1 if true\n"
    (head,) = scan_module(source).heads
    assert [c.line for c in head.metadata] == [3, 4, 5]


def test_unbalanced_braces_are_reported_at_their_line() -> None:
    with pytest.raises(RegoScanError) as raised:
        scan_module("package main\n\ndeny contains x if {\n\tx := 1\n}\n}\n")
    assert (raised.value.line, raised.value.column) == (6, 1)


# Pieces a generated module is made of: heads of every shape, bodies, and the noise
# (comments, strings and raw strings with braces, blank lines) that a scanner could trip on.
_HEADS = [
    "deny contains msg if",
    "deny_{n} contains msg if",
    'violation contains {{\n\t"msg": msg,\n}} if',
    "warn if",
    "warn_{n} := msg if",
    "deny_{n}[msg] := true if",
    "default deny_{n} := false\n\ndeny_{n} if",
    "helper_{n}(x) := msg if",
    "value_{n} := msg if",
    "deny_{n}.nested contains msg if",
    "deny_{n}\n\tcontains msg\n\tif",
]
_BODIES = [
    ' {{\n\tmsg := "a {{ brace"\n}}',
    " {{\n\tmsg := `raw }} {{\n}}`\n\tinput.x == {n} # a }} comment\n}}",
    ' {{\n\tmsg := concat("", [\n\t\t"multi",\n\t\t"line",\n\t])\n}}',
    ' {{\n\tsome x in input.items\n\tmsg := sprintf("%v", [x])\n}}',
]
_NOISE = ["", "\n", "# just a comment { with a brace\n", '# "a string in a comment\n', "\n\n"]


def _module(choices: list[tuple[int, int, int]]) -> str:
    parts = ["package main\n\nimport rego.v1\n"]
    for n, (head, body, noise) in enumerate(choices):
        parts.append(_NOISE[noise] + _HEADS[head].format(n=n) + _BODIES[body].format(n=n) + "\n")
    return "\n".join(parts)


def test_generated_modules_agree_with_opa(tmp_path: Path) -> None:
    from hypothesis import HealthCheck, given, settings
    from hypothesis import strategies as st

    opa = require_tool(judges.tool("opa"), "opa")
    piece = st.tuples(
        st.integers(0, len(_HEADS) - 1), st.integers(0, len(_BODIES) - 1), st.integers(0, len(_NOISE) - 1)
    )

    @settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
    @given(st.lists(piece, min_size=1, max_size=6))
    def check(choices: list[tuple[int, int, int]]) -> None:
        source = _module(choices)
        path = tmp_path / "generated.rego"
        path.write_text(source)
        ours = [(h.name, "value" if h.is_default else h.kind, h.line, h.column) for h in scan_module(source).heads]
        assert ours == _opa_heads(opa, path), source

    check()
