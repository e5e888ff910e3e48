"""`mlci render`: spec -> pipelines, Dockerfile and manifests; `--check` compares."""

from __future__ import annotations

import contextlib
import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

from mlci import __version__, progress, safe_fs
from mlci.commands.common import Outcome, load_and_validate_files
from mlci.discover import display_path, find_specs
from mlci.errors import UserError
from mlci.findings import Finding
from mlci.loader import Spec
from mlci.render import RENDERERS
from mlci.render.context import build_context, require_safe_path
from mlci.render.gitattributes import sync_gitattributes
from mlci.render.marker import with_marker
from mlci.render.memo import Recalled, RecalledPlan, RenderMemo
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
    ManifestIndex,
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
    stamp = _Stamp.of(spec, out_dir)
    files: dict[str, str] = {}
    for target in targets:
        for rendered in RENDERERS[target].render(context):
            files[rendered.path] = stamp.mark(target, rendered.path, rendered.body)
    return _file_plan(spec, out_dir, files, root or out_dir)


@dataclass(frozen=True)
class _Stamp:
    """What the markers of one spec's files in one folder share, computed once per folder
    rather than once per file (resolving paths and hashing the spec dominated a profile)."""

    spec_ref: str
    spec_digest: str
    layout: str = ""

    @classmethod
    def of(cls, spec: Spec, out_dir: Path, layout: str = "") -> _Stamp:
        return cls(_spec_ref(spec, out_dir), spec.digest, layout)

    def mark(self, target: str, path: str, body: str) -> str:
        facts = f"{self.spec_digest}\0{__version__}\0{target}\0{path}{self.layout}"
        inputs = hashlib.sha256(facts.encode()).hexdigest()
        return with_marker(path, body, self.spec_ref, inputs, __version__)


def _spec_ref(spec: Spec, out_dir: Path) -> str:
    return Path(os.path.relpath(spec.path.resolve(), out_dir.resolve())).as_posix()


def _file_plan(spec: Spec, out_dir: Path, files: dict[str, str], root: Path) -> FilePlan:
    return _placed_plan(spec.data["project"]["name"], _spec_ref(spec, out_dir), spec.display_path, out_dir, root, files)


def _placed_plan(
    project: str,
    spec_ref: str,
    shown: str,
    out_dir: Path,
    root: Path,
    files: dict[str, str],
    digests: dict[str, str] | None = None,
) -> FilePlan:
    prefix = PurePosixPath(Path(os.path.normpath(out_dir.absolute())).relative_to(_absolute(root)).as_posix())
    return FilePlan(
        out_dir=out_dir,
        project=project,
        spec_ref=spec_ref,
        files=files,
        spec_display=shown,
        root=root,
        prefix=prefix,
        digests=digests or {},
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
    unfiltered = (
        build_context(spec, root, targets, generated_dir=folder, render_args=render_args, path_filtered=False)
        if "gitlab" in targets
        else context  # only GitLab's child pipeline reads it
    )
    at_root: dict[str, str] = {}
    in_project: dict[str, str] = {}
    root_stamp = _Stamp.of(spec, root, "\0monorepo")
    project_stamp = _Stamp.of(spec, spec.directory, "\0monorepo")
    for target in targets:
        target_context = unfiltered if target == "gitlab" else context
        if spec.typed.ci.repository_path == ".":
            # Where Argo CD finds k8s/: the project's folder, unless the spec says otherwise.
            target_context = {**target_context, "gitops": {**target_context["gitops"], "repository_path": folder}}
        for rendered in RENDERERS[target].render(target_context):
            if target == "github":
                at_root[rendered.path] = root_stamp.mark(target, rendered.path, rendered.body)
            else:
                in_project[rendered.path] = project_stamp.mark(target, rendered.path, rendered.body)
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
    owner: dict[str, FilePlan] = {}
    for plan in plans:
        # abspath normalises as _absolute does, on strings: this runs for every generated file.
        folder = os.path.abspath(plan.out_dir)
        for rel in [*sorted(plan.files), plan.manifest_rel]:
            other = owner.setdefault(os.path.join(folder, rel), plan)
            if other is not plan:
                shown = display_path(plan.out_dir / rel)
                raise SpecCollision(shown, plan.spec_display, other.spec_display, "is rendered from")


@dataclass
class _Project:
    """One spec of the command: loaded (and validated), or recalled from the render memo,
    which `render --check` trusts instead of parsing and rendering an unchanged spec."""

    path: Path  # as found
    display_path: str
    spec: Spec | None = None
    recalled: Recalled | None = None

    @property
    def directory(self) -> Path:
        return self.path.parent

    @property
    def name(self) -> str:
        if self.recalled is not None:
            return self.recalled.project
        assert self.spec is not None
        return str(self.spec.data["project"]["name"])


@dataclass
class _Run:
    """What the planning steps share: the result, the memo and the projects."""

    result: RenderResult
    projects: list[_Project]
    memo: RenderMemo | None
    layout: dict[str, object] | None

    def remember(
        self, project: _Project, targets: tuple[str, ...], plans: list[FilePlan], unenforced: list[Finding]
    ) -> None:
        """Store what a loaded spec rendered, for the next `render --check`."""
        if self.memo is None or self.layout is None or project.spec is None:
            return
        # Keyed by the text this render parsed (not what the lookup read before): a spec edited
        # meanwhile is stored under its new text.
        key = self.memo.key(project.path, project.display_path, project.spec.text, self.layout)
        placed = tuple(RecalledPlan(plan.spec_ref, plan.digests) for plan in plans)
        recalled = Recalled(project.name, targets, placed, tuple(unenforced))
        # A finding the memo does not store (ValueError): this spec is rendered again next time.
        with contextlib.suppress(ValueError):
            self.memo.remember(key, recalled)


def run_render(
    paths: tuple[str, ...],
    targets: tuple[str, ...] = (),
    out: Path | None = None,
    check: bool = False,
    force: bool = False,
    root: Path | None = None,
) -> RenderResult:
    found = find_specs(paths)
    memo = RenderMemo.from_environment()
    layout = _memo_layout(paths, found, targets, out, root) if memo is not None else None
    projects = [_Project(path, display_path(path)) for path in found]
    if check and memo is not None and layout is not None:
        for project in projects:
            text = _spec_text(project.path)
            if text is not None:
                # Only the check trusts the memo: a render needs the files' content to write it.
                project.recalled = memo.recall(memo.key(project.path, project.display_path, text, layout))
    outcome = load_and_validate_files([p.path for p in projects if p.recalled is None])
    result = RenderResult(outcome=outcome)
    if outcome.invalid_input:
        return result
    loaded = {spec.path: spec for spec in outcome.specs}
    for project in projects:
        project.spec = loaded.get(project.path)
    for target in targets:
        if target not in RENDERERS:
            raise UserError(f"--target {target!r}: unknown target (one of {', '.join(RENDERERS)})")
    run = _Run(result, projects, memo, layout)
    repository = monorepo_root(paths, [project.directory for project in projects], out, root)
    if repository is not None:
        _plan_monorepo(run, paths, repository, targets)
    else:
        _plan_per_folder(run, out, targets)
    refuse_collisions(result.plans)
    _write_or_check(result, check, force)
    if memo is not None and any(project.spec is not None for project in projects):
        memo.prune()
    return result


def _memo_layout(
    paths: tuple[str, ...], found: list[Path], targets: tuple[str, ...], out: Path | None, root: Path | None
) -> dict[str, object] | None:
    """What of the command line, besides the spec itself, shapes a spec's render: its key's
    share of the command. None when the layout is in error (the render then says why)."""
    try:
        repository = monorepo_root(paths, [path.parent for path in found], out, root)
    except UserError:
        return None

    def both(path: Path) -> list[str]:
        return [str(_absolute(path)), str(path.resolve())]

    return {
        "paths": list(paths),
        "targets": list(targets),
        "out": both(out) if out is not None else None,
        "single": len(found) == 1,  # --out with one spec renders into it, with several into subfolders
        "monorepo": both(repository) if repository is not None else None,
    }


def _spec_text(path: Path) -> str | None:
    """The spec's text as the loader reads it; None when the loader would refuse it."""
    from mlci.loader import MAX_FILE_BYTES

    try:
        raw = path.read_bytes()
        return raw.removeprefix(b"\xef\xbb\xbf").decode("utf-8") if len(raw) <= MAX_FILE_BYTES else None
    except (OSError, UnicodeDecodeError):
        return None


def _plan_per_folder(run: _Run, out: Path | None, targets: tuple[str, ...]) -> None:
    """Each project into its own folder, or everything into `--out`."""
    projects = run.projects
    names = [project.name for project in projects]
    for project in progress.counted("rendering", projects):
        if out is None:
            out_dir = project.directory
        elif len(projects) == 1:
            out_dir = out
        else:
            # Several projects into one folder: one subfolder each, unless names repeat.
            name = project.name
            _refuse_same_name(project, projects, names, f"render into {display_path(out / name)}")
            out_dir = out / name
        # No link below the current folder (or below the output folder outside it) is followed.
        root = safe_fs.trusted_base(out_dir)
        if project.recalled is not None:
            recalled = project.recalled
            (only,) = recalled.plans
            plan = _placed_plan(recalled.project, only.spec_ref, project.display_path, out_dir, root, {}, only.digests)
            run.result.plans.append(plan)
            run.result.unenforced += recalled.unenforced
            continue
        spec = project.spec
        assert spec is not None
        chosen = targets or default_targets(spec)
        plan = plan_for(spec, out_dir, chosen, root)
        unenforced = unenforced_findings(spec, chosen)
        run.result.plans.append(plan)
        run.result.unenforced += unenforced
        run.remember(project, chosen, [plan], unenforced)


def _refuse_same_name(project: _Project, projects: list[_Project], names: list[str], consequence: str) -> None:
    """Two projects of one name would share their output: exit 2 naming both specs."""
    if names.count(project.name) > 1:
        others = [p.display_path for p in projects if p is not project and p.name == project.name]
        raise UserError(
            f"{project.display_path} and {', '.join(others)}: both name the project {project.name!r}, "
            f"so both would {consequence}; rename one"
        )


def _plan_monorepo(run: _Run, paths: tuple[str, ...], root: Path, targets: tuple[str, ...]) -> None:
    projects = run.projects
    refuse_partial_render(root, [project.path for project in projects])
    names = [project.name for project in projects]
    members = []
    for project in progress.counted("rendering", projects):
        name = project.name
        workflow = root / ".github" / "workflows" / f"mlci-{name}.yml"
        _refuse_same_name(project, projects, names, f"write {display_path(workflow)}")
        if project.recalled is not None:
            member, plans = _recalled_monorepo_plans(project, project.recalled, root)
            run.result.unenforced += project.recalled.unenforced
        else:
            spec = project.spec
            assert spec is not None
            chosen = targets or default_targets(spec)
            member, plans = monorepo_plans(spec, root, chosen, paths, targets)
            unenforced = unenforced_findings(spec, chosen)
            run.result.unenforced += unenforced
            run.remember(project, chosen, plans, unenforced)
        members.append(member)
        run.result.plans.extend(plans)
    aggregator, run.result.hints = aggregator_plan(members, root)
    if aggregator is not None:
        run.result.plans.append(aggregator)


def _recalled_monorepo_plans(
    project: _Project, recalled: Recalled, root: Path
) -> tuple[MonorepoProject, list[FilePlan]]:
    """`monorepo_plans` as the memo remembers them: the project's folder, then the root."""
    folder = project_folder(project.directory, root, project.display_path)
    in_project, at_root = recalled.plans
    plans = [
        _placed_plan(
            recalled.project,
            placed.spec_ref,
            project.display_path,
            out_dir,
            safe_fs.trusted_base(out_dir),
            {},
            placed.digests,
        )
        for placed, out_dir in ((in_project, project.directory), (at_root, root))
    ]
    return MonorepoProject(recalled.project, folder, recalled.targets), plans


def _write_or_check(result: RenderResult, check: bool, force: bool) -> None:
    # Check or write only once every plan rendered: a template error leaves no half-written tree.
    # Decide every plan before touching anything: a refusal in one project leaves all projects as they were.
    manifests = ManifestIndex()  # each folder's manifests read once, not once per plan
    decisions = [decide(plan, manifests) for plan in result.plans]
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
