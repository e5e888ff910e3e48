"""Rewrite each governance corpus case's expect.json from the markers in its files.

A line that must give a finding carries `# expect: RULE-ID[, RULE-ID]`; a finding of a rule
another branch is adding carries `# expect-pending(<branch>): RULE-ID what`. The "about"
(the spec's opening comment) and any "why" (the reason an expectation was corrected) are kept.

    python tests/corpus/update_expectations.py
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

CORPUS = Path(__file__).resolve().parent / "governance"
MARK = re.compile(r"#\s*expect:\s*([A-Z0-9, -]+?)\s*(?:\(|#|$)")
PENDING = re.compile(r"#\s*expect-pending\(([^)]+)\):\s*(.+?)\s*$")


def expectations(case: Path) -> dict[str, Any]:
    path = case / "expect.json"
    old: dict[str, Any] = json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}
    findings: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    for file in sorted(p for p in case.rglob("*") if p.is_file() and p.name != "expect.json"):
        name = file.relative_to(case).as_posix()
        for number, line in enumerate(file.read_text(encoding="utf-8").splitlines(), 1):
            if mark := MARK.search(line):
                findings += [
                    {"rule": rule.strip(), "file": name, "line": number} for rule in mark[1].split(",") if rule.strip()
                ]
            if mark := PENDING.search(line):
                rule, _, what = mark[2].partition(" ")
                pending.append({"rule": rule, "branch": mark[1], "what": what, "file": name, "line": number})
    opening = (case / "mlproject.yaml").read_text(encoding="utf-8").splitlines()[:6]
    about = " ".join(line.lstrip("# ").strip() for line in opening if line.startswith("#")).strip()
    out: dict[str, Any] = {"about": old.get("about", about), "findings": findings}
    if pending:
        out["pending"] = pending
    if old.get("why"):
        out["why"] = old["why"]
    return out


def main() -> None:
    for case in sorted(p.parent for p in CORPUS.glob("*/*/mlproject.yaml")):
        (case / "expect.json").write_text(json.dumps(expectations(case), indent=2) + "\n", encoding="utf-8")


if __name__ == "__main__":
    main()
