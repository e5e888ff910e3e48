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
