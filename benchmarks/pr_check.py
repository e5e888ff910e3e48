#!/usr/bin/env python3
"""The cost of the pull-request check, P0-P4, each side by side with its reference in one run.

P0  the PR-check job itself: a fresh venv, `pip install mlci` from a local wheelhouse (no
    network), `mlci check` and `mlci render --check` on one project; seconds and MB added.
P1  `mlci check` of one project, cold process, against conftest on the same Rego and data;
    without the decision cache and with it warm.
P2  the same on a tree of --projects projects.
P3  `mlci render` of that tree against the bare-Jinja2 floor: the same templates, rendered
    in-process from contexts built beforehand, on a plain (unsandboxed) jinja2 Environment.
P4  `mlci render --check` of the unchanged tree, rendered by this checkout (its renders in the
    memo, as a CI cache restored from the default branch holds them), and without the memo.

Times are medians of --repeat runs (P0: one run, it builds a venv). Ratios are mlci / reference.
The decision cache lives in a temporary MLCI_CACHE_DIR, never the user's.

Usage: python benchmarks/pr_check.py [--projects 1000] [--repeat 3] [--wheelhouse DIR] [--skip P0,P3]
Needs `conftest` (and `opa` for the --engine opa row): scripts/install-validators, or PATH.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from check_vs_conftest import ADAPTER, make_tree  # the same tree and adapter as the older benchmark

ROOT = Path(__file__).resolve().parent.parent
TODAY = "2026-11-22"
GOALS = {
    "P0 time": 4.0,
    "P0 MB": 45.0,
    "P1 cold": 2.0,
    "P1 warm": 1.0,
    "P2 cold": 1.0,
    "P2 warm": 0.25,
    "P3": 2.0,
    "P4": 1.0,
}


def find_tool(name: str) -> str | None:
    candidates = [Path(os.environ.get("MLCI_VALIDATORS", ROOT / ".validators")) / "go" / "bin" / name]
    candidates.append(ROOT / ".bench-tools" / name)
    found = [str(c) for c in candidates if c.exists()]
    return found[0] if found else shutil.which(name)


def run(command: list[str], env: dict[str, str] | None = None, ok: tuple[int, ...] = (0, 1)) -> float:
    start = time.perf_counter()
    proc = subprocess.run(command, capture_output=True, text=True, env=env, check=False)
    elapsed = time.perf_counter() - start
    if proc.returncode not in ok:
        sys.exit(f"{' '.join(command[:4])} ... failed ({proc.returncode}): {proc.stderr[-2000:]}")
    return elapsed


def median(repeat: int, step: Callable[[], float]) -> float:
    return statistics.median(step() for _ in range(repeat))


def folder_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink()) / 1e6


def build_wheelhouse(wheelhouse: Path) -> None:
    """mlci's wheel from this checkout, and its dependencies (from the pip cache or the index)."""
    wheelhouse.mkdir(parents=True, exist_ok=True)
    for old in wheelhouse.glob("mlci-*.whl"):
        old.unlink()
    pip = [sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", str(wheelhouse)]
    subprocess.run([*pip, "--no-deps", str(ROOT)], check=True)
    offline = subprocess.run([*pip, "--no-index", "--find-links", str(wheelhouse), str(ROOT)], capture_output=True)
    if offline.returncode != 0:
        subprocess.run([*pip, "--find-links", str(wheelhouse), str(ROOT)], check=True)


def p0(work: Path, wheelhouse: Path, project: Path) -> dict[str, float]:
    """The PR-check job on a fresh runner: it has Python; it installs mlci and runs two commands."""
    venv = work / "p0-venv"
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "MLCI_CACHE_DIR": str(work / "p0-cache")}
    # A CI runner's Python already has pip: the venv gets none of its own (ensurepip would
    # add seconds the job never spends) and this Python's pip installs into it.
    created = run([sys.executable, "-m", "venv", "--without-pip", str(venv)])
    before = folder_mb(venv)
    bin_dir = venv / "bin"
    pip = [sys.executable, "-m", "pip", "--python", str(bin_dir / "python"), "install", "-q", "--no-index"]
    install = run([*pip, "--find-links", str(wheelhouse), "mlci"], env, ok=(0,))
    added = folder_mb(venv) - before
    check = run([str(bin_dir / "mlci"), "check", str(project / "mlproject.yaml"), "--now", TODAY], env)
    render = run([str(bin_dir / "mlci"), "render", str(project / "mlproject.yaml"), "--check"], env, ok=(0,))
    return {"venv": created, "install": install, "check": check, "render": render, "MB": added}


def bare_jinja_floor(tree: Path) -> float:
    """Seconds to render every file of the tree's projects with a plain jinja2 Environment
    (same templates, options and filters; compiled once, as in a cold process) from contexts
    built beforehand: what rendering costs with no loading, validation, hashing or writing."""
    import jinja2

    import mlci.render.jinja as jinja_module
    from mlci.commands.common import load_and_validate
    from mlci.commands.render import default_targets
    from mlci.render import RENDERERS
    from mlci.render.context import build_context
    from mlci.resources import data_dir

    specs = load_and_validate((str(tree),)).specs
    jobs = [(build_context(spec, spec.directory, default_targets(spec)), default_targets(spec)) for spec in specs]
    original = jinja_module.environment
    start = time.perf_counter()
    bare = jinja2.Environment(
        loader=jinja2.FileSystemLoader(str(data_dir("templates"))),
        undefined=jinja2.StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,
    )
    bare.filters.update(jinja_module.FILTERS)
    jinja_module.environment = lambda: bare  # type: ignore[assignment]
    try:
        for context, targets in jobs:
            for target in targets:
                RENDERERS[target].render(context)
    finally:
        jinja_module.environment = original  # type: ignore[assignment]
    return time.perf_counter() - start


def row(label: str, reference: float, ours: float, goal: str | None) -> str:
    ratio = ours / reference
    target = f"<= {GOALS[goal]:.2f}x" if goal else ""
    verdict = ("ok" if ratio <= GOALS[goal] else "MISSED") if goal else ""
    return f"{label:<34} {reference:>8.2f}s {ours:>8.2f}s {ratio:>7.2f}x  {target:<9} {verdict}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--projects", type=int, default=1000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--wheelhouse", type=Path, default=None, help="Reuse this wheelhouse (built if missing).")
    parser.add_argument("--skip", default="", help="Comma-separated parts to skip, e.g. P0,P3.")
    args = parser.parse_args()
    skip = {part.strip().upper() for part in args.skip.split(",") if part.strip()}
    conftest, opa = find_tool("conftest"), find_tool("opa")
    if not conftest:
        sys.exit("conftest not found: run scripts/install-validators")
    mlci = [sys.executable, "-m", "mlci"]
    help_text = subprocess.run([*mlci, "check", "--help"], capture_output=True, text=True).stdout
    has_cache = "--no-cache" in help_text
    print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs, {platform.system()} {platform.release()}")
    print(f"python {platform.python_version()}; {args.projects} projects; medians of {args.repeat}")
    print(f"{'case':<34} {'ref':>9} {'mlci':>9} {'ratio':>8}  {'goal':<9}")

    with tempfile.TemporaryDirectory(prefix="mlci-pr-bench-") as tmp:
        work = Path(tmp)
        cache = work / "cache"
        env = {**os.environ, "MLCI_CACHE_DIR": str(cache)}
        # As installed by pip (which byte-compiles): without .pyc files every run compiles mlci again.
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        subprocess.run([sys.executable, "-m", "compileall", "-q", str(ROOT / "mlci")], capture_output=True, check=False)
        if opa:
            env["MLCI_OPA"] = opa
        policy = work / "policy"
        policy.mkdir()
        for rego in sorted((ROOT / "policies").glob("*.rego")):
            if not rego.name.endswith("_test.rego"):
                shutil.copy(rego, policy / rego.name)
        (policy / "main.rego").write_text(ADAPTER)
        import json

        settings = json.loads((ROOT / "policies" / "settings.json").read_text())
        data = work / "data.json"
        data.write_text(json.dumps({"mlci_settings": settings, "mlci_runtime": {"today": TODAY}}))
        tree = work / "tree"
        specs = make_tree(tree, args.projects)
        one = str(specs[1])
        conftest_cmd = [conftest, "test", "--no-color", "--data", str(data), "--policy", str(policy)]
        no_cache = ["--no-cache"] if has_cache else []

        # A loaded machine must not turn a slow opa eval (chosen for large trees) into exit 3.
        patient = ["--opa-timeout", "900"]

        def cold(target: str, *extra: str) -> float:
            shutil.rmtree(cache, ignore_errors=True)
            return run([*mlci, "check", target, "--now", TODAY, *no_cache, *patient, *extra], env)

        def warm(target: str) -> float:
            return run([*mlci, "check", target, "--now", TODAY, *patient], env)

        if "P0" not in skip:
            wheelhouse = args.wheelhouse or work / "wheelhouse"
            build_wheelhouse(wheelhouse)
            project = work / "p0-project"
            shutil.copytree(ROOT / "examples" / "iris-classifier", project, ignore=shutil.ignore_patterns("artifacts"))
            run([*mlci, "render", str(project / "mlproject.yaml")], env, ok=(0,))
            costs = p0(work, wheelhouse, project)
            job = costs["install"] + costs["check"] + costs["render"]
            print(
                f"P0 PR-check job: install {costs['install']:.2f}s + check {costs['check']:.2f}s + "
                f"render --check {costs['render']:.2f}s = {job:.2f}s (goal <= {GOALS['P0 time']:.0f}s: "
                f"{'ok' if job <= GOALS['P0 time'] else 'MISSED'}); creating the venv {costs['venv']:.2f}s more"
            )
            print(
                f"P0 added to a fresh venv: {costs['MB']:.1f} MB (goal <= {GOALS['P0 MB']:.0f} MB: "
                f"{'ok' if costs['MB'] <= GOALS['P0 MB'] else 'MISSED'})"
            )

        if "P1" not in skip:
            base_one = median(args.repeat, lambda: run([*conftest_cmd, one]))
            print(row("P1 1 project, cold", base_one, median(args.repeat, lambda: cold(one)), "P1 cold"))
            warm(one)
            print(row("P1 1 project, warm cache", base_one, median(args.repeat, lambda: warm(one)), "P1 warm"))
            if opa:
                opa_one = median(args.repeat, lambda: cold(one, "--engine", "opa"))
                print(row("   1 project, --engine opa", base_one, opa_one, None))

        if "P2" not in skip:
            base_tree = median(args.repeat, lambda: run([*conftest_cmd, *map(str, specs)]))
            label = f"P2 {args.projects} projects"
            print(row(f"{label}, cold", base_tree, median(args.repeat, lambda: cold(str(tree))), "P2 cold"))
            warm(str(tree))
            print(row(f"{label}, warm cache", base_tree, median(args.repeat, lambda: warm(str(tree))), "P2 warm"))
            if opa:
                # Without --engine, mlci picks opa for a tree this large when it is installed (above).
                embedded_tree = median(args.repeat, lambda: cold(str(tree), "--engine", "embedded"))
                print(row(f"   {args.projects} projects, --engine embedded", base_tree, embedded_tree, None))

        if "P3" not in skip:
            floor = median(args.repeat, lambda: bare_jinja_floor(tree))

            def fresh_render() -> float:
                copy = work / "render-tree"
                shutil.rmtree(copy, ignore_errors=True)
                shutil.copytree(tree, copy)
                return run([*mlci, "render", str(copy)], env, ok=(0,))

            rendering = median(args.repeat, fresh_render)
            print(row(f"P3 render {args.projects} (floor: bare Jinja2)", floor, rendering, "P3"))
        if "P4" not in skip:
            # The tree P3 rendered last (or rendered now), by this very checkout: `mlci render`
            # stores each spec's render in the memo (MLCI_CACHE_DIR), which the check recalls.
            rendered = work / "render-tree"
            if not rendered.exists():
                shutil.copytree(tree, rendered)
                run([*mlci, "render", str(rendered)], env, ok=(0,))
            check = [*mlci, "render", str(rendered), "--check"]
            seconds = median(args.repeat, lambda: run(check, env, ok=(0,)))
            verdict = "ok" if seconds <= GOALS["P4"] else "MISSED"
            goal = GOALS["P4"]
            print(f"P4 render --check, unchanged {args.projects}: {seconds:.2f}s (goal <= {goal:.0f}s: {verdict})")
            # The same check on a runner whose cache holds no render of these specs: every spec
            # is parsed, validated and rendered (the full check).
            full = median(args.repeat, lambda: run(check, {**env, "MLCI_RENDER_MEMO": "0"}, ok=(0,)))
            print(f"   render --check, unchanged {args.projects}, no memo: {full:.2f}s")
    print("(ratio = mlci / reference: conftest for P1-P2, the bare-Jinja2 floor for P3)")


if __name__ == "__main__":
    main()
