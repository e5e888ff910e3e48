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
from mlci.render.context import build_context, require_safe_path
from mlci.render.gitattributes import sync_gitattributes
from mlci.render.marker import with_marker
from mlci.render.monorepo import (
    MonorepoProject,
    aggregator_plan,
    check_args,
    monorepo_root,
    project_folder,
    refuse_partial_render,
)
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
# Where scheduled retraining lives (an Argo CronWorkflow): rendered whenever the spec schedules
# retraining (training.schedule), otherwise on request (--target argo).
RETRAINING_TARGETS = ("argo",)


@dataclass
class RenderResult:
    outcome: Outcome
    plans: list[FilePlan] = field(default_factory=list)
    writes: list[WriteReport] = field(default_factory=list)
    checks: list[CheckReport] = field(default_factory=list)
    hints: list[str] = field(default_factory=list)  # what the user must add by hand (monorepo includes)
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
    scheduled = spec.typed.training.schedule is not None
    return tuple(
        t for t in RENDERERS if t in providers or t in ALWAYS_TARGETS or (scheduled and t in RETRAINING_TARGETS)
    )


def plan_for(spec: Spec, out_dir: Path, targets: tuple[str, ...], root: Path | None = None) -> FilePlan:
    context = build_context(spec, out_dir, targets)
    files: dict[str, str] = {}
    for target in targets:
        for rendered in RENDERERS[target].render(context):
            files[rendered.path] = _marked(spec, out_dir, target, rendered.path, rendered.body)
    return _file_plan(spec, out_dir, files, root or out_dir)


def _marked(spec: Spec, out_dir: Path, target: str, path: str, body: str, layout: str = "") -> str:
    spec_ref = _spec_ref(spec, out_dir)
    inputs = hashlib.sha256(f"{spec.digest}\0{__version__}\0{target}\0{path}{layout}".encode()).hexdigest()
    return with_marker(path, body, spec_ref, inputs, __version__)


def _spec_ref(spec: Spec, out_dir: Path) -> str:
    return Path(os.path.relpath(spec.path.resolve(), out_dir.resolve())).as_posix()


def _file_plan(spec: Spec, out_dir: Path, files: dict[str, str], root: Path) -> FilePlan:
    prefix = PurePosixPath(Path(os.path.normpath(out_dir.absolute())).relative_to(_absolute(root)).as_posix())
    return FilePlan(
        out_dir=out_dir,
        project=spec.data["project"]["name"],
        spec_ref=_spec_ref(spec, out_dir),
        files=files,
        spec_display=spec.display_path,
        root=root,
        prefix=prefix,
    )


def monorepo_plans(
    spec: Spec, root: Path, targets: tuple[str, ...], paths: tuple[str, ...], explicit: tuple[str, ...]
) -> tuple[MonorepoProject, list[FilePlan]]:
    """A project of a monorepo: the pipelines run from the repository root (the context's
    `project_dir` is the project's folder, as for `--out`); GitHub's files go to the root, where
    GitHub reads them, everything else to the project's folder (mlci/render/monorepo.py)."""
    folder = project_folder(spec.directory, root, spec.display_path)
    render_args = tuple(check_args(paths, root, spec.directory, explicit))
    for arg in render_args:
        if not arg.startswith("--"):
            require_safe_path(arg, spec)  # the pipelines name these paths too
    # The Dockerfile and k8s/ stay in the project's folder (mlci.pipeline.Placement.generated_dir).
    context = build_context(spec, root, targets, generated_dir=folder, render_args=render_args)
    # The root pipeline's `rules: changes:` starts a GitLab child only when its folder changed:
    # the child itself runs unfiltered.
    unfiltered = build_context(spec, root, targets, generated_dir=folder, render_args=render_args, path_filtered=False)
    at_root: dict[str, str] = {}
    in_project: dict[str, str] = {}
    for target in targets:
        target_context = unfiltered if target == "gitlab" else context
        if spec.typed.ci.repository_path == ".":
            # Where Argo CD finds k8s/: the project's folder, unless the spec says otherwise.
            target_context = {**target_context, "gitops": {**target_context["gitops"], "repository_path": folder}}
        for rendered in RENDERERS[target].render(target_context):
            if target == "github":
                at_root[rendered.path] = _marked(spec, root, target, rendered.path, rendered.body, "\0monorepo")
            else:
                in_project[rendered.path] = _marked(
                    spec, spec.directory, target, rendered.path, rendered.body, "\0monorepo"
                )
    project = MonorepoProject(spec.data["project"]["name"], folder, targets)
    # The root plan exists even without a file: its manifest records that the project belongs to
    # the monorepo, so rendering the project alone later is recognised (mlci/render/monorepo.py).
    return project, [
        _file_plan(spec, spec.directory, in_project, safe_fs.trusted_base(spec.directory)),
        _file_plan(spec, root, at_root, safe_fs.trusted_base(root)),
    ]


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
    root: Path | None = None,
) -> RenderResult:
    outcome = load_and_validate(paths)
    result = RenderResult(outcome=outcome)
    if outcome.invalid_input:
        return result
    for target in targets:
        if target not in RENDERERS:
            raise UserError(f"--target {target!r}: unknown target (one of {', '.join(RENDERERS)})")
    repository = monorepo_root(paths, [spec.directory for spec in outcome.specs], out, root)
    if repository is not None:
        _plan_monorepo(result, paths, repository, targets)
    else:
        _plan_per_folder(result, out, targets)
    refuse_collisions(result.plans)
    _write_or_check(result, check, force)
    return result


def _plan_per_folder(result: RenderResult, out: Path | None, targets: tuple[str, ...]) -> None:
    """Each project into its own folder, or everything into `--out`."""
    outcome = result.outcome
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


def _plan_monorepo(result: RenderResult, paths: tuple[str, ...], root: Path, targets: tuple[str, ...]) -> None:
    specs = result.outcome.specs
    refuse_partial_render(root, [spec.path for spec in specs])
    names = [spec.data["project"]["name"] for spec in specs]
    projects = []
    for spec in progress.counted("rendering", specs):
        name = spec.data["project"]["name"]
        if names.count(name) > 1:
            others = [s.display_path for s in specs if s is not spec and s.data["project"]["name"] == name]
            raise UserError(
                f"{spec.display_path} and {', '.join(others)}: both name the project {name!r}, so both would "
                f"write {display_path(root / '.github' / 'workflows' / f'mlci-{name}.yml')}; rename one"
            )
        chosen = targets or default_targets(spec)
        project, plans = monorepo_plans(spec, root, chosen, paths, targets)
        result.unenforced += unenforced_findings(spec, chosen)
        projects.append(project)
        result.plans.extend(plans)
    aggregator, result.hints = aggregator_plan(projects, root)
    if aggregator is not None:
        result.plans.append(aggregator)


def _write_or_check(result: RenderResult, check: bool, force: bool) -> None:
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
