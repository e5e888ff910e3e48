"""`mlci render` marks its files linguist-generated in a delimited block of .gitattributes,
never touching the user's lines; `render --check` reports a missing or stale block."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from mlci.render.gitattributes import BEGIN, END, block_for
from tests.conftest import ROOT

EXAMPLE = ROOT / "examples" / "iris-classifier"


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "repo"
    shutil.copytree(EXAMPLE, folder, ignore=shutil.ignore_patterns("artifacts", "mlruns", "__pycache__"))
    subprocess.run(["git", "init", "-q", str(folder)], check=True)
    for generated in [".gitattributes", ".mlci", ".github", "k8s", "Dockerfile", ".dockerignore", "Jenkinsfile"]:
        path = folder / generated
        if path.is_dir():
            shutil.rmtree(path)
        elif path.exists():
            path.unlink()
    for name in (".gitlab-ci.yml", "azure-pipelines.yml"):
        (folder / name).unlink(missing_ok=True)
    return folder


def _attribute(folder: Path, path: str) -> str:
    out = subprocess.run(
        ["git", "check-attr", "linguist-generated", "--", path], cwd=folder, capture_output=True, text=True, check=True
    )
    return out.stdout.rsplit(": ", 1)[-1].strip()


def test_render_marks_every_generated_file_and_nothing_else(cli, project: Path) -> None:
    result = cli("render", str(project))
    assert result.exit_code == 0, result.stderr
    text = (project / ".gitattributes").read_text()
    assert text.startswith(BEGIN + "\n") and text.endswith(END + "\n")
    manifest = next((project / ".mlci").glob("*.manifest.json"))
    import json

    generated = list(json.loads(manifest.read_text())["files"])
    assert generated and "Dockerfile" in generated
    for rel in [*generated, manifest.relative_to(project).as_posix()]:
        assert _attribute(project, rel) == "true", rel
    assert _attribute(project, "mlproject.yaml") == "unspecified"
    assert _attribute(project, "train.py") == "unspecified"
    assert cli("render", "--check", str(project)).exit_code == 0


def test_the_users_lines_are_kept_byte_for_byte(cli, project: Path) -> None:
    mine_before = "*.csv filter=lfs diff=lfs merge=lfs -text\r\n# keep\r\n*.parquet binary"  # CRLF, no final newline
    (project / ".gitattributes").write_bytes(mine_before.encode())
    assert cli("render", str(project)).exit_code == 0
    first = (project / ".gitattributes").read_bytes()
    assert first.startswith(mine_before.encode() + b"\n" + BEGIN.encode())
    # The user adds lines after the block; mlci rewrites only the block, in place.
    (project / ".gitattributes").write_bytes(first + b"*.bin binary\r\n")
    assert cli("render", "--check", str(project)).exit_code == 0
    (project / "mlproject.yaml").write_text(
        (project / "mlproject.yaml")
        .read_text()
        .replace("providers: [github, gitlab, jenkins, azure]", "providers: [github]")
    )
    assert cli("render", "--check", str(project)).exit_code == 4
    result = cli("render", str(project))
    assert result.exit_code == 0, result.stderr
    after = (project / ".gitattributes").read_bytes()
    assert after.startswith(mine_before.encode() + b"\n" + BEGIN.encode())
    assert after.endswith(END.encode() + b"\n*.bin binary\r\n")
    assert b"Jenkinsfile" not in after
    rerun = cli("render", str(project))
    assert "wrote" not in rerun.stdout and (project / ".gitattributes").read_bytes() == after


def test_render_check_reports_a_missing_or_edited_block(cli, project: Path) -> None:
    assert cli("render", str(project)).exit_code == 0
    path = project / ".gitattributes"
    good = path.read_text()
    path.write_text(good.replace("/Dockerfile linguist-generated=true\n", ""))
    result = cli("render", "--check", str(project))
    assert result.exit_code == 4
    assert ".gitattributes: mlci's linguist-generated block is out of date" in result.stderr
    path.unlink()
    result = cli("render", "--check", str(project))
    assert result.exit_code == 4 and ".gitattributes: missing" in result.stderr
    assert not path.exists()  # --check writes nothing


def test_a_symlinked_gitattributes_is_refused_not_followed(cli, project: Path, tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_text("do not touch\n")
    (project / ".gitattributes").symlink_to(victim)
    result = cli("render", str(project))
    assert result.exit_code == 2
    assert "symbolic link" in result.stderr and "Traceback" not in result.stderr
    assert victim.read_text() == "do not touch\n"
    assert cli("render", "--check", str(project)).exit_code == 2


@pytest.mark.parametrize(
    "damaged, line",
    [
        (f"* text=auto\n{BEGIN}\n/x linguist-generated=true\n", 2),
        (f"{END}\n{BEGIN}\n", 1),
        (f"{BEGIN}\n{BEGIN}\n{END}\n", 1),
    ],
)
def test_a_damaged_block_is_exit_2_and_left_alone(cli, project: Path, damaged: str, line: int) -> None:
    (project / ".gitattributes").write_text(damaged)
    result = cli("render", str(project))
    assert result.exit_code == 2
    assert f".gitattributes:{line}:1: mlci's block in .gitattributes is damaged" in result.stderr
    assert (project / ".gitattributes").read_text() == damaged


@pytest.mark.parametrize("name", ["plain.yml", "with space.yml", "star*.yml", "q?[a].yml", 'quote".yml', "é.yml"])
def test_each_pattern_matches_exactly_its_file(tmp_path: Path, name: str) -> None:
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    (tmp_path / ".gitattributes").write_text(block_for([f"sub/{name}"]))
    assert _attribute(tmp_path, f"sub/{name}") == "true"
    for other in ["sub/plain2.yml", "sub/starX.yml", "sub/qxa.yml", f"other/sub/{name}", "sub/x.yml"]:
        if other != f"sub/{name}":
            assert _attribute(tmp_path, other) == "unspecified", other


def test_block_is_deterministic() -> None:
    assert (
        block_for(["b", "a", "a"])
        == block_for(["a", "b"])
        == f"{BEGIN}\n/a linguist-generated=true\n/b linguist-generated=true\n{END}\n"
    )
