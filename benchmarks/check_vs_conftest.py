#!/usr/bin/env python3
"""Time `mlci check` against conftest on the same specs with the same policies.

conftest runs mlci's own pack through a thin `package main` adapter that turns
every rule's violations into `deny` messages, with the same settings data, so
both tools evaluate identical Rego. Prints median wall-clock times and ratios
(mlci / conftest; below 1.0 means mlci is faster).

Usage: python benchmarks/check_vs_conftest.py [--projects 1000] [--repeat 3]
Needs `conftest` and `opa` (scripts/install-validators puts them in .validators/go/bin).
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
ADAPTER = """package main
import rego.v1

deny contains violation.msg if {
  some package_name, rules in data.mlci
  some rule_name, violations in rules
  some violation in violations
}
"""


def tool(name: str) -> str:
    prefix = Path(os.environ.get("MLCI_VALIDATORS", ROOT / ".validators"))
    for candidate in (prefix / "go" / "bin" / name, shutil.which(name)):
        if candidate and Path(candidate).exists():
            return str(candidate)
    sys.exit(f"{name} not found: run scripts/install-validators")


def make_tree(root: Path, count: int) -> list[Path]:
    """`count` realistic, varied projects: names, versions, regions, and about one in
    four with a violation, so no two inputs are identical."""
    rng = random.Random(7)
    sources = [(ROOT / "examples" / name / "mlproject.yaml").read_text() for name in ("iris-classifier", "credit-risk")]
    paths = []
    for index in range(count):
        text = sources[index % 2].replace("name: iris-classifier", f"name: iris-{index}")
        text = text.replace("name: credit-risk", f"name: credit-{index}")
        text = text.replace("replicas: 2", f"replicas: {rng.randint(2, 9)}")
        if rng.random() < 0.25:
            text = text.replace("    source: ", "    sourcex: ", 1).replace("    sourcex: ", "    # source: ", 1)
        folder = root / f"team-{index % 17:02d}" / f"project-{index:04d}"
        folder.mkdir(parents=True)
        (folder / "mlproject.yaml").write_text(text)
        paths.append(folder / "mlproject.yaml")
    return paths


def timed(command: list[str], repeat: int, env: dict[str, str] | None = None) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
        samples.append(time.perf_counter() - start)
        if proc.returncode not in (0, 1):
            sys.exit(f"{command[0]} failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    conftest, opa = tool("conftest"), tool("opa")
    mlci = [sys.executable, "-m", "mlci"]
    env = {**os.environ, "MLCI_OPA": opa}
    with tempfile.TemporaryDirectory(prefix="mlci-bench-") as tmp:
        work = Path(tmp)
        policy = work / "policy"
        policy.mkdir()
        for rego in sorted((ROOT / "policies").glob("*.rego")):
            if not rego.name.endswith("_test.rego"):
                shutil.copy(rego, policy / rego.name)
        (policy / "main.rego").write_text(ADAPTER)
        settings = json.loads((ROOT / "policies" / "settings.json").read_text())
        data = work / "data.json"
        data.write_text(json.dumps({"mlci_settings": settings, "mlci_runtime": {"today": "2026-11-22"}}))
        specs = make_tree(work / "tree", args.projects)
        one = str(specs[1])
        conftest_args = [conftest, "test", "--no-color", "--data", str(data), "--policy", str(policy)]
        rows = [
            (
                "1 project",
                [*mlci, "check", one, "--now", "2026-11-22"],
                [*mlci, "check", one, "--now", "2026-11-22", "--engine", "opa"],
                [*conftest_args, one],
            ),
            (
                f"{args.projects} projects",
                [*mlci, "check", str(work / "tree"), "--now", "2026-11-22"],
                [*mlci, "check", str(work / "tree"), "--now", "2026-11-22", "--engine", "opa"],
                [*conftest_args, *map(str, specs)],
            ),
        ]
        print(f"{'case':<16} {'conftest':>9} {'mlci':>9} {'ratio':>6} {'mlci --engine opa':>18} {'ratio':>6}")
        for label, embedded, binary, reference in rows:
            base = timed(reference, args.repeat)
            ours = timed(embedded, args.repeat, env)
            ours_opa = timed(binary, args.repeat, env)
            ratio, ratio_opa = ours / base, ours_opa / base
            print(f"{label:<16} {base:>8.2f}s {ours:>8.2f}s {ratio:>6.2f} {ours_opa:>17.2f}s {ratio_opa:>6.2f}")
        print("(ratio = mlci / conftest; goals: 1 project <= 1.0, 1000 projects <= 0.5)")


if __name__ == "__main__":
    main()
