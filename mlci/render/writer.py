"""Write rendered files safely, or compare them with what is on disk.

Nothing the user wrote is overwritten: a file without mlci's marker, or one
whose body no longer matches the hash in its marker (edited by hand), stops
the write before any file is touched, unless --force. A file rendered from
another spec is never overwritten, --force or not. A per-project manifest lists
what was generated so files from an earlier render that are no longer produced
(orphans) are removed.

The manifest is committed, so a pull request can edit it: it is untrusted input.
Its entries must be normalised relative paths inside the output folder, and an
orphan is removed only when the file itself proves mlci generated it from this
spec and nobody edited it since (marker, spec and body hash; for JSON, which has
no comments, its `$comment`, its project and the recorded hash). Any other entry
stops the render (exit 2) before anything is touched. Every read, write and
delete goes through `SafeTree`, which refuses links below the trusted root.
"""

from __future__ import annotations

import contextlib
import json
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath
from typing import Any

from mlci import __version__
from mlci.discover import SPEC_NAME, display_path
from mlci.errors import GeneratedFileConflict, InputError, Location, UserError
from mlci.render.marker import comment_prefix, json_project, read_marker, sha256_text
from mlci.safe_fs import SafeTree, relative_parts

MANIFEST_DIR = ".mlci"
MANIFEST_SUFFIX = ".manifest.json"
_SHA256 = re.compile(r"^[0-9a-f]{64}$")


class SpecCollision(UserError):
    """Two specs would render to the same file: neither may overwrite the other's."""

    def __init__(self, path: str, ours: str, theirs: str, how: str) -> None:
        super().__init__(
            f"{path}: {how} {theirs}, and {ours} renders it too; two projects never share a generated file "
            "(give each its own --out folder, or move the other project's file away)"
        )


@dataclass
class FilePlan:
    out_dir: Path  # where the files go, as the user named it
    project: str
    spec_ref: str  # the spec's path relative to out_dir, as the marker names it
    files: dict[str, str]  # relative path -> full content with marker ("" when recalled: see `recalled`)
    spec_display: str = ""  # the spec as the user sees it, for messages
    root: Path | None = None  # trusted folder: no link below it is followed; default out_dir
    prefix: PurePosixPath = field(default_factory=PurePosixPath)  # out_dir relative to root
    # relative path -> sha256 of its content. Given (with `files` empty) for a plan recalled from
    # the render memo (mlci/render/memo.py): `render --check` compares hashes, so it needs no content.
    digests: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.spec_display = self.spec_display or self.spec_ref
        self.recalled = bool(self.digests) and not self.files
        if self.recalled:
            self.files = dict.fromkeys(self.digests, "")
        else:
            self.digests = {rel: sha256_text(content) for rel, content in self.files.items()}
        for rel in self.files:
            relative_parts(rel)  # renderers produce normalised relative paths; fail loudly if one does not

    @property
    def manifest_rel(self) -> str:
        return f"{MANIFEST_DIR}/{self.project}{MANIFEST_SUFFIX}"

    @property
    def manifest_path(self) -> Path:
        return self.out_dir / self.manifest_rel

    def tree(self) -> SafeTree:
        return SafeTree(self.root or self.out_dir)

    def in_tree(self, rel: str) -> str:
        # `rel` is normalised (checked above), so joining strings is what PurePosixPath would do.
        prefix = self.prefix.as_posix()
        return rel if prefix == "." else f"{prefix}/{rel}"

    def manifest(self) -> str:
        document = {
            "generated_by": f"mlci {__version__}",
            "spec": self.spec_ref,
            "files": dict(sorted(self.digests.items())),
        }
        return json.dumps(document, indent=2, sort_keys=True) + "\n"


@dataclass
class WriteReport:
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)
    removed: list[Path] = field(default_factory=list)
    kept_orphans: list[Path] = field(default_factory=list)


@dataclass
class CheckReport:
    out_of_date: list[tuple[Path, str]] = field(default_factory=list)  # (path, why)
    in_the_way: list[Path] = field(default_factory=list)  # files `render` refuses to overwrite without --force

    @property
    def clean(self) -> bool:
        return not self.out_of_date


@dataclass
class Decision:
    """What a render of the plan would do, decided once for `write_plan` and `check_plan`."""

    write: dict[str, str] = field(default_factory=dict)
    unchanged: list[str] = field(default_factory=list)
    stale: list[tuple[str, str]] = field(default_factory=list)  # (rel, why) of files to write
    conflicts: list[tuple[str, str]] = field(default_factory=list)  # (rel, why): only --force overwrites them
    remove: list[str] = field(default_factory=list)
    keep: list[tuple[str, str]] = field(default_factory=list)  # orphans edited by hand
    manifest_current: bool = True


def decide(plan: FilePlan, manifests: ManifestIndex | None = None) -> Decision:
    """Read the tree and the manifest and decide every action; raises (exit 2) before
    anything is touched when the manifest lists what mlci may not remove, when a link
    lies on a path, or when a file belongs to another spec. Files are compared by their
    sha256, so a plan recalled from the render memo (hashes, no content) is decided alike.
    `manifests`: one index of the manifests in each folder, shared by the plans of one run."""
    tree = plan.tree()
    previous = _previous_files(plan, tree)
    (manifests or ManifestIndex()).refuse_files_of_others(plan, tree)
    decision = Decision()
    planned = sorted(plan.files)
    with contextlib.closing(tree.read_texts(plan.in_tree(rel) for rel in planned)) as texts:
        for rel, (_, current) in zip(planned, texts, strict=True):
            _decide_file(plan, decision, rel, current, previous)
    problems = []
    for rel in sorted(set(previous) - set(plan.files)):
        current = tree.read_text(plan.in_tree(rel))
        if current is None:
            continue
        verdict = _orphan_verdict(plan, rel, current, previous[rel])
        if verdict == "remove":
            decision.remove.append(rel)
        elif verdict == "keep":
            decision.keep.append((rel, "no longer generated, but edited by hand: `mlci render` keeps it"))
        else:
            problems.append(f"{_manifest_location(plan, rel)}: lists {rel!r}, which {verdict}")
    if problems:
        raise UserError(
            "\n".join(problems) + "\nmlci removes only files it generated from this spec and nobody edited since; "
            "nothing was touched (restore the manifest, or delete it to start over)"
        )
    decision.manifest_current = tree.read_text(plan.in_tree(plan.manifest_rel)) == plan.manifest()
    return decision


def _decide_file(plan: FilePlan, decision: Decision, rel: str, current: str | None, previous: dict[str, str]) -> None:
    content = plan.files[rel]
    if current is None:
        decision.write[rel] = content
        decision.stale.append((rel, "missing"))
    elif sha256_text(current) == plan.digests[rel]:
        decision.unchanged.append(rel)
    else:
        why = _why_different(plan, rel, current, previous.get(rel))
        decision.write[rel] = content
        if why == "out of date":
            decision.stale.append((rel, why))
        else:
            decision.conflicts.append((rel, why))


def _why_different(plan: FilePlan, rel: str, current: str, recorded: str | None) -> str:
    """Why a file at a planned path differs: "out of date" (mlci's, untouched: overwrite),
    or why only --force may overwrite it. Another spec's file raises."""
    shown = display_path(plan.out_dir / rel)
    if comment_prefix(rel) is None:
        project = json_project(current)
        if project is None:
            return "exists and was not generated by mlci"
        if project != plan.project:
            raise SpecCollision(shown, plan.spec_display, f"project {project!r}", "was generated by mlci for")
        if recorded is None or sha256_text(current) != recorded:
            return "was generated by mlci but edited by hand since"
        return "out of date"
    marker, body = read_marker(current)
    if marker is None:
        return "exists and was not generated by mlci"
    if marker.spec != plan.spec_ref:
        raise SpecCollision(shown, plan.spec_display, _spec_shown(plan, marker.spec), "was generated by mlci from")
    if sha256_text(body) != marker.body:
        return "was generated by mlci but edited by hand since"
    return "out of date"


def _orphan_verdict(plan: FilePlan, rel: str, current: str, recorded: str) -> str:
    """The fate of a file the manifest lists but the plan no longer has: "remove" when the file
    proves mlci generated it from this spec and nobody edited it since, "keep" when someone
    edited it, else why the manifest may not name it."""
    nested = _nested_spec(plan, rel, current)
    if nested is not None:
        return f"lies in the folder of another project ({display_path(nested)})"
    if comment_prefix(rel) is None:
        project = json_project(current)
        if project is None:
            return "does not carry mlci's marker: mlci did not generate it"
        if project != plan.project:
            return f"mlci generated for project {project!r}, not {plan.project!r}"
        if rel != json_home(plan.project):
            # A JSON document names its project, not its spec: the same name in another folder
            # (a project whose spec has another file name) is another project's file.
            return f"is not where mlci writes the JSON of project {plan.project!r} ({json_home(plan.project)})"
        return "remove" if sha256_text(current) == recorded else "keep"
    marker, body = read_marker(current)
    if marker is None:
        return "does not carry mlci's marker: mlci did not generate it"
    if marker.spec != plan.spec_ref:
        return f"mlci generated from {_spec_shown(plan, marker.spec)}, not from {plan.spec_display}"
    return "remove" if sha256_text(body) == marker.body else "keep"


def json_home(project: str) -> str:
    """The one JSON document mlci writes for a project (GitHub's environment settings)."""
    return f".github/mlci/environments/{project}.json"


def _nested_spec(plan: FilePlan, rel: str, current: str) -> Path | None:
    """A spec in a folder between the output folder and the file: the file is that project's.

    The marker names the spec relative to the folder it was rendered into, so `Jenkinsfile`
    of a project in `sub/` reads "from mlproject.yaml" just like ours; where it lies tells them apart."""
    marker, _ = read_marker(current)
    names = {SPEC_NAME} | ({marker.spec} if marker is not None else set())
    folders = rel.split("/")[:-1]
    for depth in range(len(folders), 0, -1):
        for name in names:
            candidate = plan.out_dir.joinpath(*folders[:depth], name)
            if candidate.is_file():
                return candidate
    return None


def _spec_shown(plan: FilePlan, spec_ref: str) -> str:
    return display_path(plan.out_dir / spec_ref) if "\0" not in spec_ref else repr(spec_ref)


def _previous_files(plan: FilePlan, tree: SafeTree) -> dict[str, str]:
    """The files the manifest says the last render of this spec generated, checked entry by entry."""
    text = tree.read_text(plan.in_tree(plan.manifest_rel))
    if text is None:
        return {}
    shown = display_path(plan.manifest_path)
    document = _parse_manifest(text, shown)
    recorded_spec = document.get("spec")
    if recorded_spec != plan.spec_ref:
        theirs = _spec_shown(plan, recorded_spec) if isinstance(recorded_spec, str) else repr(recorded_spec)
        raise SpecCollision(shown, plan.spec_display, theirs, "is the manifest of")
    files = document.get("files")
    if not isinstance(files, dict):
        raise InputError(Location(shown), "'files' must map each generated path to its sha256")
    for rel, digest in files.items():
        try:
            relative_parts(rel)
        except ValueError as exc:
            raise InputError(
                _manifest_location(plan, rel, text),
                f"entry {rel!r} must be a path inside the output folder, but {exc}; nothing was touched",
            ) from None
        if not isinstance(digest, str) or not _SHA256.match(digest):
            raise InputError(_manifest_location(plan, rel, text), f"entry {rel!r}: expected a sha256 hex digest")
    return dict(files)


def _parse_manifest(text: str, shown: str) -> dict[str, Any]:
    try:
        document = json.loads(text)
    except RecursionError:  # nested past the parser's stack: not a manifest mlci wrote
        raise InputError(
            Location(shown), "not a valid mlci manifest (nested too deeply); delete it to start over"
        ) from None
    except ValueError as exc:
        where = Location(shown, exc.lineno, exc.colno) if isinstance(exc, json.JSONDecodeError) else Location(shown)
        raise InputError(where, "not a valid mlci manifest (invalid JSON); delete it to start over") from None
    if not isinstance(document, dict):
        raise InputError(Location(shown), "not a valid mlci manifest (expected a JSON object)")
    return document


def _manifest_location(plan: FilePlan, rel: str, text: str | None = None) -> Location:
    """Where the manifest names `rel`, for messages."""
    shown = display_path(plan.manifest_path)
    if text is None:
        text = plan.tree().read_text(plan.in_tree(plan.manifest_rel)) or ""
    at = text.find(json.dumps(rel) + ":")
    if at < 0:
        return Location(shown)
    line = text.count("\n", 0, at) + 1
    return Location(shown, line, at - (text.rfind("\n", 0, at) + 1) + 1)


@dataclass(frozen=True)
class _ListedManifest:
    name: str
    spec: Any  # as the manifest says: usually the spec's path, but anything JSON can hold
    files: frozenset[str]


class ManifestIndex:
    """The manifests in each `.mlci` folder, read once per run: a monorepo's root folder holds
    one per project, and checking every project's plan against every other manifest read
    each of them once per project (N² reads and parses for N projects)."""

    def __init__(self) -> None:
        # (tree root, folder) -> the folder's manifests (sorted by name) and, per listed file,
        # the positions of the manifests listing it.
        self._folders: dict[tuple[str, str], tuple[list[_ListedManifest], dict[str, list[int]]]] = {}

    def _folder(self, tree: SafeTree, folder: str) -> tuple[list[_ListedManifest], dict[str, list[int]]]:
        key = (str(tree.root), folder)
        if key not in self._folders:
            listed: list[_ListedManifest] = []
            by_file: dict[str, list[int]] = {}
            for name in tree.list_folder(folder):
                if not name.endswith(MANIFEST_SUFFIX):
                    continue
                try:
                    document = json.loads(tree.read_text(f"{folder}/{name}") or "")
                except (ValueError, RecursionError):
                    continue  # not a manifest of ours to honour; its own project's render reports it
                if not isinstance(document, dict) or not isinstance(document.get("files"), dict):
                    continue
                for rel in document["files"]:
                    by_file.setdefault(rel, []).append(len(listed))
                listed.append(_ListedManifest(name, document.get("spec"), frozenset(document["files"])))
            self._folders[key] = (listed, by_file)
        return self._folders[key]

    def refuse_files_of_others(self, plan: FilePlan, tree: SafeTree) -> None:
        """Another spec's manifest in the same folder listing a file of ours: two projects collide.
        The first such manifest by name is named, with the first shared file."""
        listed, by_file = self._folder(tree, plan.in_tree(MANIFEST_DIR))
        ours = plan.manifest_rel.rsplit("/", 1)[1]
        first: int | None = None
        for rel in plan.files:
            for position in by_file.get(rel, ()):
                other = listed[position]
                # This spec's own manifest under an earlier project name lists our files rightly.
                if other.name != ours and other.spec != plan.spec_ref:
                    first = position if first is None else min(first, position)
                    break
        if first is None:
            return
        other = listed[first]
        shared = sorted(other.files & set(plan.files))
        theirs = _spec_shown(plan, other.spec) if isinstance(other.spec, str) else f"the manifest {other.name}"
        raise SpecCollision(
            display_path(plan.out_dir / shared[0]), plan.spec_display, theirs, "is listed as generated from"
        )


def check_plan(plan: FilePlan, decision: Decision | None = None) -> CheckReport:
    decision = decision or decide(plan)
    report = CheckReport()
    for rel, why in decision.stale:
        report.out_of_date.append((plan.out_dir / rel, why))
    for rel, why in decision.conflicts:
        shown = "not generated by mlci" if why.startswith("exists") else "edited by hand"
        report.out_of_date.append((plan.out_dir / rel, shown))
        report.in_the_way.append(plan.out_dir / rel)
    for rel in decision.remove:
        report.out_of_date.append((plan.out_dir / rel, "no longer generated (orphan)"))
    for rel, why in decision.keep:
        report.out_of_date.append((plan.out_dir / rel, why))
    if plan.files and not decision.manifest_current:
        report.out_of_date.append((plan.manifest_path, "manifest out of date"))
    report.out_of_date.sort(key=lambda item: item[0].as_posix())
    return report


def refuse_conflicts(plan: FilePlan, decision: Decision, force: bool) -> None:
    """Files in the way (not mlci's, or edited by hand) stop the render unless --force."""
    if decision.conflicts and not force:
        rel, reason = decision.conflicts[0]
        more = f" (and {len(decision.conflicts) - 1} more)" if len(decision.conflicts) > 1 else ""
        raise GeneratedFileConflict(display_path(plan.out_dir / rel), reason + more)


def write_plan(plan: FilePlan, force: bool = False, decision: Decision | None = None) -> WriteReport:
    if plan.recalled:
        raise RuntimeError(f"{plan.spec_display}: a plan recalled from the render memo has no content to write")
    decision = decision or decide(plan)
    refuse_conflicts(plan, decision, force)
    tree = plan.tree()
    report = WriteReport(unchanged=[plan.out_dir / rel for rel in decision.unchanged])
    for rel, content in sorted(decision.write.items()):
        tree.write_text(plan.in_tree(rel), content)
        report.written.append(plan.out_dir / rel)
    for rel in decision.remove:
        if tree.remove(plan.in_tree(rel)):
            report.removed.append(plan.out_dir / rel)
    report.kept_orphans = [plan.out_dir / rel for rel, _ in decision.keep]
    if not decision.manifest_current:
        tree.write_text(plan.in_tree(plan.manifest_rel), plan.manifest())
    return report
