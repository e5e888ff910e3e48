"""`mlci render`: spec -> pipelines, Dockerfile and manifests; `--check` compares."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from mlci import __version__, progress, safe_fs
from mlci.commands.common import Outcome, load_and_validate
from mlci.discover import display_path
from mlci.errors import UserError
from mlci.findings import Finding
from mlci.loader import Spec
from mlci.render import RENDERERS
from mlci.render.context import build_context
from mlci.render.gitattributes import sync_gitattributes
from mlci.render.marker import with_marker
from mlci.render.writer import (
    CheckReport,
    FilePlan,
    SpecCollision,
    WriteReport,
    check_plan,
    decide,
    refuse_conflicts,
    write_plan,
)

ALWAYS_TARGETS = ("docker", "kubernetes")


@dataclass
class RenderResult:
    outcome: Outcome
    plans: list[FilePlan] = field(default_factory=list)
    writes: list[WriteReport] = field(default_factory=list)
    checks: list[CheckReport] = field(default_factory=list)
    # What the spec asks that a rendered CI cannot enforce (each printer's Capabilities).
    unenforced: list[Finding] = field(default_factory=list)


def unenforced_findings(spec: Spec, targets: tuple[str, ...]) -> list[Finding]:
    """Per CI target, what of the spec's lifecycle its CI will not enforce, at the spec's line."""
    from mlci.pipeline import build_pipeline, gaps

    pipeline = build_pipeline(spec)
    findings: list[Finding] = []
    for target in targets:
        capabilities = getattr(RENDERERS[target], "capabilities", None)
        if capabilities is not None:
            findings += gaps(pipeline, capabilities, spec)
    return findings


def default_targets(spec: Spec) -> tuple[str, ...]:
    providers = spec.typed.ci.providers
    return tuple(t for t in RENDERERS if t in providers or t in ALWAYS_TARGETS)


def plan_for(spec: Spec, out_dir: Path, targets: tuple[str, ...], root: Path | None = None) -> FilePlan:
    context = build_context(spec, out_dir, targets)
    spec_ref = Path(os.path.relpath(spec.path.resolve(), out_dir.resolve())).as_posix()
    files: dict[str, str] = {}
    for target in targets:
        for rendered in RENDERERS[target].render(context):
            inputs = hashlib.sha256(f"{spec.digest}\0{__version__}\0{target}\0{rendered.path}".encode()).hexdigest()
            files[rendered.path] = with_marker(rendered.path, rendered.body, spec_ref, inputs, __version__)
    root = root or out_dir
    prefix = PurePosixPath(Path(os.path.normpath(out_dir.absolute())).relative_to(_absolute(root)).as_posix())
    return FilePlan(
        out_dir=out_dir,
        project=spec.data["project"]["name"],
        spec_ref=spec_ref,
        files=files,
        spec_display=spec.display_path,
        root=root,
        prefix=prefix,
    )


def _absolute(path: Path) -> Path:
    return Path(os.path.normpath(path.absolute()))


def refuse_collisions(plans: list[FilePlan]) -> None:
    """Two specs of one command that would write the same file (or manifest): exit 2 naming both."""
    owner: dict[Path, FilePlan] = {}
    for plan in plans:
        for rel in [*sorted(plan.files), plan.manifest_rel]:
            target = _absolute(plan.out_dir / rel)
            other = owner.setdefault(target, plan)
            if other is not plan:
                shown = display_path(plan.out_dir / rel)
                raise SpecCollision(shown, plan.spec_display, other.spec_display, "is rendered from")


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
            name = spec.data["project"]["name"]
            if names.count(name) > 1:
                others = [s.display_path for s in outcome.specs if s is not spec and s.data["project"]["name"] == name]
                raise UserError(
                    f"{spec.display_path} and {', '.join(others)}: both name the project {name!r}, "
                    f"so both would render into {display_path(out / name)}; rename one"
                )
            out_dir = out / name
        # No link below the current folder (or below the output folder outside it) is followed.
        root = safe_fs.trusted_base(out_dir)
        chosen = targets or default_targets(spec)
        result.plans.append(plan_for(spec, out_dir, chosen, root))
        result.unenforced += unenforced_findings(spec, chosen)
    refuse_collisions(result.plans)
    # Check or write only once every plan rendered: a template error leaves no half-written tree.
    # Decide every plan before touching anything: a refusal in one project leaves all projects as they were.
    decisions = [decide(plan) for plan in result.plans]
    if not check:
        for plan, decision in zip(result.plans, decisions, strict=True):
            refuse_conflicts(plan, decision, force)
    pairs = list(zip(result.plans, decisions, strict=True))
    for plan, decision in progress.counted("comparing" if check else "writing", pairs):
        if check:
            result.checks.append(check_plan(plan, decision))
        else:
            result.writes.append(write_plan(plan, force, decision))
    # Mark the generated files linguist-generated in a managed .gitattributes block (review collapses them).
    sync_gitattributes(result.plans, check, result.checks, result.writes)
    return result
