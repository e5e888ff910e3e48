"""`mlci render`: spec -> pipelines, Dockerfile and manifests; `--check` compares."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path

from mlci import __version__, progress
from mlci.commands.common import Outcome, load_and_validate
from mlci.errors import UserError
from mlci.loader import Spec
from mlci.render import RENDERERS
from mlci.render.context import CI_TARGETS, build_context
from mlci.render.gitattributes import sync_gitattributes
from mlci.render.marker import with_marker
from mlci.render.writer import CheckReport, FilePlan, WriteReport, check_plan, write_plan

ALWAYS_TARGETS = ("docker", "kubernetes")


@dataclass
class RenderResult:
    outcome: Outcome
    plans: list[FilePlan] = field(default_factory=list)
    writes: list[WriteReport] = field(default_factory=list)
    checks: list[CheckReport] = field(default_factory=list)


def default_targets(spec: Spec) -> tuple[str, ...]:
    providers = spec.data.get("ci", {}).get("providers", list(CI_TARGETS))
    return tuple(t for t in RENDERERS if t in providers or t in ALWAYS_TARGETS)


def plan_for(spec: Spec, out_dir: Path, targets: tuple[str, ...]) -> FilePlan:
    context = build_context(spec, out_dir, targets)
    spec_ref = Path(os.path.relpath(spec.path.resolve(), out_dir.resolve())).as_posix()
    files: dict[str, str] = {}
    for target in targets:
        for rendered in RENDERERS[target].render(context):
            inputs = hashlib.sha256(f"{spec.digest}\0{__version__}\0{target}\0{rendered.path}".encode()).hexdigest()
            files[rendered.path] = with_marker(rendered.path, rendered.body, spec_ref, inputs, __version__)
    return FilePlan(out_dir=out_dir, project=spec.data["project"]["name"], spec_ref=spec_ref, files=files)


def run_render(
    paths: tuple[str, ...],
    targets: tuple[str, ...] = (),
    out: Path | None = None,
    check: bool = False,
    force: bool = False,
) -> RenderResult:
    outcome = load_and_validate(paths)
    result = RenderResult(outcome=outcome)
    if outcome.invalid_input:
        return result
    for target in targets:
        if target not in RENDERERS:
            raise UserError(f"--target {target!r}: unknown target (one of {', '.join(RENDERERS)})")
    names = [spec.data["project"]["name"] for spec in outcome.specs]
    for spec in progress.counted("rendering", outcome.specs):
        if out is None:
            out_dir = spec.directory
        elif len(outcome.specs) == 1:
            out_dir = out
        else:
            # Several projects into one folder: one subfolder each, unless names repeat.
            if names.count(spec.data["project"]["name"]) > 1:
                raise UserError(f"{spec.display_path}: project name {spec.data['project']['name']!r} is used twice")
            out_dir = out / spec.data["project"]["name"]
        plan = plan_for(spec, out_dir, targets or default_targets(spec))
        result.plans.append(plan)
    # Check or write only once every plan rendered: a template error leaves no half-written tree.
    for plan in progress.counted("comparing" if check else "writing", result.plans):
        if check:
            result.checks.append(check_plan(plan))
        else:
            result.writes.append(write_plan(plan, force=force))
    # Mark the generated files linguist-generated in a managed .gitattributes block (review collapses them).
    sync_gitattributes(result.plans, check, result.checks, result.writes)
    return result
