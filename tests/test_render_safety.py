"""Writes stay inside the output tree and never follow links (render, gate, lineage,
reports): the manifest and every folder name are a pull request's to edit."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT

IRIS = ROOT / "examples" / "iris-classifier"
CREDIT = ROOT / "examples" / "credit-risk"
MANIFEST = ".mlci/iris-classifier.manifest.json"


def _copy(example: Path, folder: Path) -> Path:
    shutil.copytree(example, folder, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    return folder


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _snapshot(folder: Path) -> dict[str, bytes]:
    """Every file and link below `folder`, by relative path (links by their target)."""
    out: dict[str, bytes] = {}
    for path in sorted(folder.rglob("*")):
        rel = path.relative_to(folder).as_posix()
        if path.is_symlink():
            out[rel] = b"-> " + os.readlink(path).encode()
        elif path.is_file():
            out[rel] = path.read_bytes()
    return out


@pytest.fixture
def tree(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A monorepo: iris rendered at the root of `repo`, credit-risk rendered in `repo/credit`,
    and an unrelated project next to it; the current folder is `repo`."""
    repo = _copy(IRIS, tmp_path / "repo")
    _copy(CREDIT, repo / "credit")
    _copy(CREDIT, tmp_path / "other")
    (tmp_path / "outside.txt").write_text("not mlci's\n")
    monkeypatch.chdir(repo)
    for folder in (".", "credit", str(tmp_path / "other")):
        assert cli("render", folder).exit_code == 0
    return repo


def _tamper(repo: Path, *entries: str, digests: dict[str, str] | None = None) -> None:
    """Add entries to iris's manifest, each with the current hash of the file it names (as an attacker would)."""
    manifest = repo / MANIFEST
    document = json.loads(manifest.read_text())
    for entry in entries:
        target = Path(entry) if os.path.isabs(entry) else repo / entry
        document["files"][entry] = _sha(target) if target.is_file() else "0" * 64
    document["files"].update(digests or {})
    manifest.write_text(json.dumps(document, indent=2))


MANIFEST_ATTACKS = {
    "a user file of the project": "train.py",
    "a file outside the output folder": "../outside.txt",
    "a normalised-away climb": "k8s/../../outside.txt",
    "a nested project's pipeline": "credit/Jenkinsfile",
    "a nested project's JSON": ".github/../credit/.github/mlci/environments/credit-risk.json",
    "a nested project's JSON, normalised": "credit/.github/mlci/environments/credit-risk.json",
    "a non-normalised user file": "./train.py",
    "a backslash path": "credit\\Jenkinsfile",
}


@pytest.mark.parametrize("entry", list(MANIFEST_ATTACKS.values()), ids=list(MANIFEST_ATTACKS))
def test_a_tampered_manifest_removes_nothing(cli, tree: Path, entry: str) -> None:
    _tamper(tree, entry)
    before = _snapshot(tree.parent)
    check = cli("render", "--check", ".")
    assert check.exit_code == 2, check.stderr
    assert "run `mlci render`" not in check.stderr, "--check must not advise a render that deletes foreign files"
    result = cli("render", ".")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert f"{MANIFEST}:" in result.stderr and repr(entry) in result.stderr
    assert "nothing was touched" in result.stderr
    assert _snapshot(tree.parent) == before


def test_an_absolute_manifest_entry_removes_nothing(cli, tree: Path) -> None:
    for victim in (tree.parent / "outside.txt", tree.parent / "other" / "Jenkinsfile"):
        _tamper(tree, str(victim))
        before = _snapshot(tree.parent)
        result = cli("render", ".")
        assert result.exit_code == 2
        assert "is absolute" in result.stderr
        assert _snapshot(tree.parent) == before
        assert cli("render", "--check", ".").exit_code == 2


def test_a_manifest_claiming_a_foreign_file_names_its_line(cli, tree: Path) -> None:
    _tamper(tree, "train.py")
    line = next(n for n, text in enumerate((tree / MANIFEST).read_text().splitlines(), 1) if '"train.py"' in text)
    result = cli("render", ".")
    assert result.exit_code == 2
    assert f"{MANIFEST}:{line}:" in result.stderr
    assert "does not carry mlci's marker" in result.stderr
    assert (tree / "train.py").exists()


@pytest.mark.parametrize(
    "content",
    ["not json", "[]", '{"spec": "mlproject.yaml", "files": []}', '{"spec": "mlproject.yaml", "files": {"x": 1}}'],
)
def test_a_malformed_manifest_is_exit_2(cli, tree: Path, content: str) -> None:
    (tree / MANIFEST).write_text(content)
    before = _snapshot(tree)
    assert cli("render", ".").exit_code == 2
    assert cli("render", "--check", ".").exit_code == 2
    assert _snapshot(tree) == before


def test_a_manifest_of_another_spec_is_exit_2_naming_both(cli, tree: Path) -> None:
    document = json.loads((tree / MANIFEST).read_text())
    document["spec"] = "credit/mlproject.yaml"
    (tree / MANIFEST).write_text(json.dumps(document))
    result = cli("render", ".")
    assert result.exit_code == 2
    assert "credit/mlproject.yaml" in result.stderr and "mlproject.yaml renders it too" in result.stderr


def test_genuine_orphans_are_still_removed(cli, tree: Path) -> None:
    result = cli("render", "mlproject.yaml", "--target", "github", "--target", "docker", "--target", "kubernetes")
    assert result.exit_code == 0, result.stderr
    assert not (tree / "Jenkinsfile").exists() and not (tree / ".gitlab-ci.yml").exists()
    assert (tree / "credit" / "Jenkinsfile").exists()


def test_json_orphans_are_removed_only_when_mlci_generated_them(cli, tree: Path) -> None:
    settings = tree / ".github/mlci/environments/iris-classifier.json"
    original = settings.read_text()
    settings.write_text('{"mine": true}\n')
    _tamper(tree, digests={".github/mlci/environments/iris-classifier.json": _sha(settings)})
    result = cli("render", ".", "--target", "docker", "--target", "kubernetes")
    assert result.exit_code == 2
    assert settings.read_text() == '{"mine": true}\n'
    settings.write_text(original)
    _tamper(tree, digests={".github/mlci/environments/iris-classifier.json": _sha(settings)})
    assert cli("render", ".", "--target", "docker", "--target", "kubernetes").exit_code == 0
    assert not settings.exists()


# Links ----------------------------------------------------------------------------------------------------------


def test_a_link_at_the_old_temporary_name_is_not_written_through(cli, tmp_path: Path) -> None:
    folder = _copy(IRIS, tmp_path / "p")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    for name in (".Dockerfile.mlci-tmp", ".Jenkinsfile.mlci-tmp", ".mlci/.iris-classifier.manifest.json.mlci-tmp"):
        (folder / name).parent.mkdir(exist_ok=True)
        (folder / name).symlink_to(victim)
    result = cli("render", str(folder))
    assert result.exit_code == 0, result.stderr
    assert victim.read_text() == "precious\n"
    assert cli("render", "--check", str(folder)).exit_code == 0


@pytest.mark.parametrize("link", ["k8s", "k8s/base", ".github", ".github/workflows", ".mlci", "Dockerfile"])
def test_a_linked_output_path_is_refused_naming_it(cli, tmp_path: Path, link: str, monkeypatch) -> None:
    folder = _copy(IRIS, tmp_path / "p")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "base").mkdir()
    (folder / link).parent.mkdir(parents=True, exist_ok=True)
    (folder / link).symlink_to(outside / "file" if link == "Dockerfile" else outside, link != "Dockerfile")
    monkeypatch.chdir(folder)
    for args in (("render", "."), ("render", "--check", ".")):
        result = cli(*args)
        assert result.exit_code == 2, result.stdout + result.stderr
        assert f"{link}: is a symbolic link" in result.stderr
    assert [p.name for p in outside.rglob("*")] == ["base"]
    assert not (folder / "Jenkinsfile").exists(), "nothing is written when a path is refused"


def test_a_link_in_the_out_folder_is_refused(cli, tmp_path: Path, monkeypatch) -> None:
    _copy(IRIS, tmp_path / "p")
    (tmp_path / "outside").mkdir()
    (tmp_path / "build").symlink_to(tmp_path / "outside", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    result = cli("render", "p", "--out", "build/gen")
    assert result.exit_code == 2
    assert "build: is a symbolic link" in result.stderr
    assert not any((tmp_path / "outside").iterdir())


def test_gate_does_not_write_or_delete_through_a_linked_artifacts_folder(cli, tmp_path: Path) -> None:
    folder = _copy(IRIS, tmp_path / "p")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "metrics.json").write_text(json.dumps({"accuracy": 0.99, "f1_macro": 0.99, "roc_auc_ovr": 0.99}))
    (folder / "artifacts").symlink_to(outside, target_is_directory=True)
    passing = cli("gate", str(folder), "--metrics", str(outside / "metrics.json"))
    assert passing.exit_code == 2, passing.stdout + passing.stderr
    assert "artifacts: is a symbolic link" in passing.stderr
    assert not (outside / "blessing.json").exists()
    (outside / "blessing.json").write_text("someone else's\n")
    (outside / "metrics.json").write_text(json.dumps({"accuracy": 0.1, "f1_macro": 0.1, "roc_auc_ovr": 0.1}))
    failing = cli("gate", str(folder), "--metrics", str(outside / "metrics.json"))
    assert failing.exit_code == 2
    assert (outside / "blessing.json").read_text() == "someone else's\n"


def test_gate_replaces_a_linked_blessing_never_its_target(cli, tmp_path: Path) -> None:
    folder = _copy(IRIS, tmp_path / "p")
    victim = tmp_path / "victim.txt"
    victim.write_text("precious\n")
    (folder / "artifacts").mkdir()
    (folder / "artifacts" / "blessing.json").symlink_to(victim)
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"accuracy": 0.99, "f1_macro": 0.99, "roc_auc_ovr": 0.99}))
    result = cli("gate", str(folder), "--metrics", str(metrics))
    assert result.exit_code == 2
    assert "blessing.json: is a symbolic link" in result.stderr
    assert victim.read_text() == "precious\n"


@pytest.mark.parametrize("link", ["artifacts", "artifacts/lineage.json"])
def test_lineage_record_does_not_write_through_a_link(cli, tmp_path: Path, link: str) -> None:
    folder = _copy(IRIS, tmp_path / "p")
    outside = tmp_path / "outside"
    outside.mkdir()
    (outside / "lineage.json").write_text("precious\n")
    (folder / "artifacts").mkdir(exist_ok=link != "artifacts")
    if link == "artifacts":
        (folder / "artifacts").rmdir()
        (folder / link).symlink_to(outside, target_is_directory=True)
    else:
        (folder / link).symlink_to(outside / "lineage.json")
    result = cli("lineage", "record", str(folder))
    assert result.exit_code == 2, result.stdout + result.stderr
    assert f"{link}: is a symbolic link" in result.stderr
    assert (outside / "lineage.json").read_text() == "precious\n"
    assert sorted(p.name for p in outside.iterdir()) == ["lineage.json"]


def test_a_report_is_not_written_through_a_link_in_the_tree(cli, tmp_path: Path, monkeypatch) -> None:
    _copy(IRIS, tmp_path / "p")
    (tmp_path / "outside").mkdir()
    (tmp_path / "reports").symlink_to(tmp_path / "outside", target_is_directory=True)
    monkeypatch.chdir(tmp_path)
    result = cli("validate", "p", "-o", "json=reports/mlci.json")
    assert result.exit_code == 2
    assert "reports: is a symbolic link" in result.stderr
    assert not any((tmp_path / "outside").iterdir())
    assert cli("validate", "p", "-o", "json=out/mlci.json").exit_code == 0
    assert json.loads((tmp_path / "out" / "mlci.json").read_text())


def test_init_does_not_write_through_a_dangling_link(cli, tmp_path: Path) -> None:
    folder = tmp_path / "new"
    folder.mkdir()
    (folder / "mlproject.yaml").symlink_to(tmp_path / "victim.yaml")
    result = cli("init", str(folder))
    assert result.exit_code == 2
    assert not (tmp_path / "victim.yaml").exists()


# Parallel renders -----------------------------------------------------------------------------------------------


def test_eight_parallel_renders_of_one_tree_all_finish_consistently(tmp_path: Path) -> None:
    folder, single = _copy(IRIS, tmp_path / "p"), _copy(IRIS, tmp_path / "single")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    command = [sys.executable, "-m", "mlci", "render"]
    assert subprocess.run([*command, str(single)], env=env, capture_output=True, check=False).returncode == 0
    for _round in range(2):  # the second round overwrites nothing: all unchanged, still no crash
        renders = [
            subprocess.Popen([*command, str(folder)], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
            for _ in range(8)
        ]
        outputs = [render.communicate(timeout=120) for render in renders]
        assert [render.returncode for render in renders] == [0] * 8, [err.decode() for _, err in outputs]
    assert _snapshot(folder) == _snapshot(single)


# Two projects, one path -----------------------------------------------------------------------------------------


def test_two_specs_rendered_into_one_folder_do_not_overwrite_each_other(cli, tmp_path: Path, monkeypatch) -> None:
    _copy(IRIS, tmp_path / "a")
    _copy(CREDIT, tmp_path / "b")
    monkeypatch.chdir(tmp_path)
    assert cli("render", "a", "--out", ".").exit_code == 0
    before = _snapshot(tmp_path)
    for args in (("render", "b", "--out", "."), ("render", "b", "--out", ".", "--force")):
        result = cli(*args)
        assert result.exit_code == 2, result.stdout + result.stderr
        assert "a/mlproject.yaml" in result.stderr and "b/mlproject.yaml" in result.stderr
        assert _snapshot(tmp_path) == before
    assert cli("render", "--check", "b", "--out", ".").exit_code == 2


def test_two_specs_with_one_name_are_exit_2_naming_both(cli, tmp_path: Path, monkeypatch) -> None:
    _copy(IRIS, tmp_path / "a")
    _copy(IRIS, tmp_path / "c")
    monkeypatch.chdir(tmp_path)
    result = cli("render", "a", "c", "--out", "out")
    assert result.exit_code == 2
    assert "a/mlproject.yaml" in result.stderr and "c/mlproject.yaml" in result.stderr
    assert not (tmp_path / "out").exists()
    assert cli("render", "a", "--out", ".").exit_code == 0
    before = _snapshot(tmp_path)
    again = cli("render", "c", "--out", ".")
    assert again.exit_code == 2
    assert "a/mlproject.yaml" in again.stderr and "c/mlproject.yaml" in again.stderr
    assert _snapshot(tmp_path) == before


def test_two_specs_in_one_folder_are_exit_2_naming_both(cli, tmp_path: Path, monkeypatch) -> None:
    folder = _copy(IRIS, tmp_path / "p")
    text = (folder / "mlproject.yaml").read_text().replace("name: iris-classifier\n", "name: iris-two\n", 1)
    (folder / "second.yaml").write_text(text)
    monkeypatch.chdir(tmp_path)
    result = cli("render", "p/mlproject.yaml", "p/second.yaml")
    assert result.exit_code == 2
    assert "p/mlproject.yaml" in result.stderr and "p/second.yaml" in result.stderr
    assert not (folder / "Dockerfile").exists()


def test_examples_still_render_into_their_own_folder(cli, tmp_path: Path) -> None:
    folders = [_copy(example, tmp_path / example.name) for example in EXAMPLES]
    assert cli("render", *map(str, folders)).exit_code == 0
    assert cli("render", "--check", *map(str, folders)).exit_code == 0


def test_a_refusal_in_one_project_leaves_every_project_untouched(cli, tree: Path) -> None:
    spec = tree / "mlproject.yaml"
    spec.write_text(spec.read_text().replace('python_version: "3.11"', 'python_version: "3.12"'))
    manifest = tree / "credit" / ".mlci" / "credit-risk.manifest.json"
    document = json.loads(manifest.read_text())
    document["files"]["train.py"] = _sha(tree / "credit" / "train.py")
    manifest.write_text(json.dumps(document))
    before = _snapshot(tree)
    result = cli("render", ".")
    assert result.exit_code == 2
    assert _snapshot(tree) == before, "iris is rendered after credit-risk's refusal, or not at all"


def test_a_linked_folder_between_the_current_folder_and_the_project_is_refused(
    cli, tmp_path: Path, monkeypatch
) -> None:
    _copy(IRIS, tmp_path / "elsewhere" / "iris")
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "projects").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    monkeypatch.chdir(repo)
    result = cli("render", "projects/iris")
    assert result.exit_code == 2
    assert "projects: is a symbolic link" in result.stderr
    assert not (tmp_path / "elsewhere" / "iris" / "Dockerfile").exists()
