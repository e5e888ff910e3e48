"""Monorepos: several projects in one repository, each CI's files where that CI reads them.

GitHub reads workflows only from the repository root's `.github/workflows/`, GitLab only the
root `.gitlab-ci.yml`, a Jenkins Multibranch job the root `Jenkinsfile`. Rendering several
projects (or naming `--root`) therefore lays the files out relative to the repository root
(`--root`, else git's top level, else the folder the named paths share):

- GitHub: each project's workflow in the root `.github/workflows/`, filtered on its folder;
- GitLab: the root `.gitlab-ci.yml` triggers one child pipeline per project, the project's own
  `.gitlab-ci.yml` in its folder;
- Jenkins: the root `Jenkinsfile` has a stage per project, which builds the project's own job;
- Azure, Docker, Kubernetes: in the project's folder (Azure's pipeline names any file).

The per-project pipelines run from the repository root with the project's folder as working
directory (`project_dir`), as they do for `--out`. This module makes the root files that list
every project (the aggregators); `mlci/commands/render.py` places each project's files.

A repository whose root `.gitlab-ci.yml` or `Jenkinsfile` someone wrote by hand keeps it: the
aggregator goes to a file of mlci's own, and render says the one line that includes it.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from mlci import __version__
from mlci.discover import display_path, find_specs
from mlci.errors import UserError
from mlci.render.context import RELEASE_TAG_PREFIX
from mlci.render.jinja import render_template
from mlci.render.marker import read_marker, with_marker
from mlci.render.writer import MANIFEST_DIR, MANIFEST_SUFFIX, FilePlan
from mlci.safe_fs import SafeTree, trusted_base

# The aggregators' manifest: `.mlci/_monorepo.manifest.json`. Project names cannot start with
# '_' (schema), so no project's manifest takes this name.
AGGREGATOR_PROJECT = "_monorepo"
# What the aggregators' marker names as their source: every project of the render.
AGGREGATOR_SOURCE = "the mlproject.yaml files of this repository"


@dataclass(frozen=True)
class MonorepoProject:
    name: str
    folder: str  # relative to the repository root, POSIX separators
    targets: tuple[str, ...]


@dataclass(frozen=True)
class Aggregator:
    """One root file that lists the projects, and the file mlci writes instead when the
    repository's own stands there."""

    target: str
    file: str
    side_file: str
    template: str
    side_template: str
    include_line: str  # how the repository's own file takes in the side file; {file} is replaced


AGGREGATORS = (
    Aggregator(
        "gitlab",
        ".gitlab-ci.yml",
        ".gitlab-ci.mlci.yml",
        "monorepo/gitlab-ci.yml.j2",
        "monorepo/gitlab-ci.yml.j2",
        "include: {file}",
    ),
    Aggregator(
        "jenkins",
        "Jenkinsfile",
        "Jenkinsfile.mlci.groovy",
        "monorepo/Jenkinsfile.j2",
        "monorepo/Jenkinsfile.mlci.groovy.j2",
        "script {{ load('{file}').runChangedProjects() }}",
    ),
)


def monorepo_root(paths: tuple[str, ...], spec_folders: list[Path], out: Path | None, root: Path | None) -> Path | None:
    """The repository root when the CIs' files go where each CI reads them: `--root` named;
    several projects rendered in place, all in folders below the root (a project at the root
    keeps each project's files in its own folder, as before); or a project an earlier render
    laid out so (its manifest at the root). None otherwise; `--out` keeps its meaning
    (everything in that folder)."""
    if out is not None:
        if root is not None:
            raise UserError("--root and --out: choose one (--root places each CI's files where that CI reads them)")
        return None
    if root is not None:
        return repository_root(paths, root)
    found = repository_root(paths, None)
    if any(_absolute(folder) == found for folder in spec_folders):
        return None
    if len(spec_folders) > 1 or (spec_folders and _rendered_from(found, spec_folders[0])):
        return found
    return None


def _rendered_from(root: Path, spec_folder: Path) -> bool:
    """Whether a monorepo render at `root` listed this project (a root manifest names its spec)."""
    tree = SafeTree(trusted_base(root))
    prefix = _prefix(root)
    folder = (
        _absolute(spec_folder).relative_to(root).as_posix() if _absolute(spec_folder).is_relative_to(root) else None
    )
    if folder is None:
        return False
    for name in tree.list_folder((prefix / MANIFEST_DIR).as_posix()):
        if name.endswith(MANIFEST_SUFFIX) and name != f"{AGGREGATOR_PROJECT}{MANIFEST_SUFFIX}":
            try:
                document = json.loads(tree.read_text((prefix / MANIFEST_DIR / name).as_posix()) or "")
            except (ValueError, RecursionError):
                continue
            spec = document.get("spec") if isinstance(document, dict) else None
            if isinstance(spec, str) and spec.rsplit("/", 1)[0] == folder:
                return True
    return False


def refuse_partial_render(root: Path, spec_paths: list[Path]) -> None:
    """The root's CI files list every project below the root: rendering only some of them
    would drop the others from those files."""
    rendered = {_absolute(path) for path in spec_paths}
    left_out = [path for path in find_specs([str(root)]) if _absolute(path) not in rendered]
    if left_out:
        shown = ", ".join(display_path(path) for path in left_out[:5]) + (" ..." if len(left_out) > 5 else "")
        raise UserError(
            f"{display_path(root)}: this render leaves out projects of the monorepo ({shown}), and the repository "
            f"root's CI files list every project; render them together: mlci render {display_path(root)}"
        )


def repository_root(paths: tuple[str, ...], root: Path | None) -> Path:
    """`--root`, else the top level of the git repository holding the named paths, else the
    folder they share. Found by looking for `.git` upwards: no git command runs on a checkout
    a pull request may have configured."""
    if root is not None:
        if not root.is_dir():
            raise UserError(f"--root {root}: is not a folder")
        return _absolute(root)
    folders = [_absolute(Path(p)) if Path(p).is_dir() else _absolute(Path(p)).parent for p in paths or (".",)]
    shared = Path(os.path.commonpath([str(f) for f in folders]))
    for candidate in (shared, *shared.parents):
        if (candidate / ".git").exists():
            return candidate
    return shared


def project_folder(spec_directory: Path, root: Path, shown: str) -> str:
    """The project's folder relative to the root; a project must lie below it, not at it (the
    root's CI files list the projects)."""
    try:
        rel = _absolute(spec_directory).relative_to(root)
    except ValueError:
        raise UserError(
            f"{shown}: lies outside the repository root {root}; render it from its own repository (or name --root)"
        ) from None
    if not rel.parts:
        raise UserError(
            f"{shown}: a project at the repository root shares its folder with the files that list every project "
            "(.gitlab-ci.yml, Jenkinsfile); move it into a folder of its own, or render it alone"
        )
    return PurePosixPath(rel.as_posix()).as_posix()


def check_args(paths: tuple[str, ...], root: Path, spec_directory: Path, targets: tuple[str, ...]) -> list[str]:
    """The arguments of the pipelines' `mlci render ... --check`, run from the project's folder:
    the same paths and root as this render, so it checks every project's files, the root's too."""
    base = _absolute(spec_directory)
    args = [Path(os.path.relpath(_absolute(Path(p)), base)).as_posix() for p in paths or (".",)]
    args += ["--root", Path(os.path.relpath(root, base)).as_posix()]
    for target in targets:
        args += ["--target", target]
    return args


def aggregator_plan(projects: list[MonorepoProject], root: Path) -> tuple[FilePlan | None, list[str]]:
    """The root files listing the projects, and the lines to add to a hand-written root file."""
    files: dict[str, str] = {}
    hints: list[str] = []
    tree = SafeTree(trusted_base(root))
    prefix = _prefix(root)
    for aggregator in AGGREGATORS:
        members = [p for p in projects if aggregator.target in p.targets]
        if not members:
            continue
        current = tree.read_text((prefix / aggregator.file).as_posix())
        hand_written = current is not None and read_marker(current)[0] is None
        path = aggregator.side_file if hand_written else aggregator.file
        context = {
            "projects": [{"name": p.name, "folder": p.folder, "job": f"mlci-{p.name}"} for p in members],
            "standalone": not hand_written,
            "file": path,
            "release_tag_prefix": RELEASE_TAG_PREFIX,
        }
        body = render_template(aggregator.side_template if hand_written else aggregator.template, context)
        listed = "\0".join(f"{p.name}={p.folder}" for p in members)
        inputs = hashlib.sha256(f"{listed}\0{__version__}\0{aggregator.target}\0{path}".encode()).hexdigest()
        files[path] = with_marker(path, body, AGGREGATOR_SOURCE, inputs, __version__)
        if hand_written:
            line = aggregator.include_line.format(file=path)
            shown = aggregator.file
            hints.append(f"{shown} is not mlci's: mlci wrote {path} instead; add this line to {shown}: {line}")
    manifest = (prefix / MANIFEST_DIR / f"{AGGREGATOR_PROJECT}{MANIFEST_SUFFIX}").as_posix()
    if not files and tree.read_text(manifest) is None:
        return None, hints
    # With no file left to list, the plan still removes what an earlier render wrote.
    plan = FilePlan(
        out_dir=root,
        project=AGGREGATOR_PROJECT,
        spec_ref=AGGREGATOR_SOURCE,
        files=files,
        spec_display="the monorepo's projects",
        root=trusted_base(root),
        prefix=prefix,
    )
    return plan, hints


def _prefix(folder: Path) -> PurePosixPath:
    return PurePosixPath(_absolute(folder).relative_to(_absolute(trusted_base(folder))).as_posix())


def _absolute(path: Path) -> Path:
    return Path(os.path.normpath(path.absolute()))
