"""Commands are the user's input: one that cannot be split or run is exit 2 at its line,
never exit 3 ("internal error") and never an exit code the command did not return."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tests.conftest import ROOT

IRIS = ROOT / "examples" / "iris-classifier"
FIELDS = {  # command field -> (the line it stands on in the example, what it says there)
    "training": (24, "  command: [python, train.py]\n"),
    "evaluation": (39, "  command: [python, evaluate.py]\n"),
    "serving": (59, "  command: [python, serve.py]\n"),
}


def _project(tmp_path: Path, field: str = "training", command: str | None = None) -> Path:
    folder = tmp_path / "iris"
    shutil.copytree(IRIS, folder, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    if command is not None:
        spec = folder / "mlproject.yaml"
        line, original = FIELDS[field]
        text = spec.read_text()
        assert text.splitlines(keepends=True)[line - 1] == original
        spec.write_text(text.replace(original, f"  command: {command}\n"))
    return folder


UNSPLITTABLE = {
    "unbalanced single quote": json.dumps("python 'train.py"),
    "unbalanced double quote": "'python \"train.py'",
    "trailing backslash": json.dumps("python train.py \\"),
    "only blanks": json.dumps("   "),
    "empty program": json.dumps("'' train.py"),
    "empty program in a list": '["", train.py]',
}


@pytest.mark.parametrize("field", FIELDS)
@pytest.mark.parametrize("name", UNSPLITTABLE)
def test_a_command_that_cannot_be_split_is_exit_2_at_its_line(cli, tmp_path: Path, field: str, name: str) -> None:
    folder = _project(tmp_path, field, UNSPLITTABLE[name])
    line = FIELDS[field][0]
    for command in (("validate",), ("check", "--now", "2026-11-22"), ("render", "--out", str(tmp_path / "out"))):
        result = cli(*command, str(folder))
        assert result.exit_code == 2, (command, result.stdout, result.stderr)
        assert "internal error" not in result.stderr
        assert f"mlproject.yaml:{line}:3: high schema {field}.command: " in result.stdout, (command, result.stdout)
    assert not (tmp_path / "out").exists()


def test_a_command_string_that_splits_still_validates_and_renders(cli, tmp_path: Path) -> None:
    folder = _project(tmp_path, "training", json.dumps("python 'train.py' --seed \"4 2\""))
    assert cli("validate", str(folder)).exit_code == 0
    result = cli("render", str(folder), "--out", str(tmp_path / "out"))
    assert result.exit_code == 0, result.stderr


def _run(cli, folder: Path):
    return cli("run", str(folder), "--stage", "train", "--no-lineage")


def _write(path: Path, text: str, mode: int) -> None:
    path.write_text(text)
    path.chmod(mode)


NOT_RUNNABLE = {
    # name: (command, files to create {name: (text, mode)}, words the message must hold)
    "missing on PATH": ("[no-such-program-mlci]", {}, ["no-such-program-mlci", "not found on PATH"]),
    "missing in the project": ("[./no-such-script.sh]", {}, ["./no-such-script.sh", "not found"]),
    "missing absolute": ("[/nonexistent/mlci/bin]", {}, ["/nonexistent/mlci/bin", "not found"]),
    "a local file named without ./": (
        "[train.sh]",
        {"train.sh": ("#!/bin/sh\nexit 0\n", 0o755)},
        ["not found on PATH", "./train.sh"],
    ),
    "not executable": ("[./train.sh]", {"train.sh": ("#!/bin/sh\nexit 0\n", 0o644)}, ["not executable"]),
    "a directory": ("[./data]", {}, ["is a directory"]),
    "no #! line": (json.dumps("./train.sh --fast"), {"train.sh": ("exit 0\n", 0o755)}, ["#! line"]),
    "missing interpreter": (
        "[./train.sh]",
        {"train.sh": ("#!/nonexistent/mlci-shell\nexit 0\n", 0o755)},
        ["interpreter"],
    ),
}


@pytest.mark.parametrize("name", NOT_RUNNABLE)
def test_run_with_a_command_that_cannot_run_is_exit_2_at_the_spec_line(cli, tmp_path: Path, name: str) -> None:
    command, files, words = NOT_RUNNABLE[name]
    folder = _project(tmp_path, "training", command)
    for file, (text, mode) in files.items():
        _write(folder / file, text, mode)
    result = _run(cli, folder)
    assert result.exit_code == 2, (result.stdout, result.stderr)
    assert "internal error" not in result.stderr
    assert "Traceback" not in result.stderr
    message = next(line for line in result.stderr.splitlines() if line.startswith("mlci: "))
    # A list points at its program (column 13), a string at its key (column 3).
    assert message.startswith(f"mlci: {folder / 'mlproject.yaml'}:24:"), message
    for word in words:
        assert word in message, message


@pytest.mark.parametrize("code", [1, 2, 3, 7])
def test_a_command_that_runs_and_fails_keeps_its_own_exit_code(cli, tmp_path: Path, code: int) -> None:
    folder = _project(tmp_path, "training", "[./train.sh]")
    _write(folder / "train.sh", f"#!/bin/sh\necho training >&2\nexit {code}\n", 0o755)
    result = _run(cli, folder)
    assert result.exit_code == code, result.stderr
    assert f"<== [1/1] train: failed (exit {code})" in result.stderr
    assert "mlci run: failed at train" in result.stderr


def test_a_bare_name_resolves_on_path_like_a_shell(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _project(tmp_path, "training", "[mlci-test-trainer, --fast]")
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    _write(bin_dir / "mlci-test-trainer", '#!/bin/sh\n[ "$1" = --fast ] || exit 9\nexit 0\n', 0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:{Path('/usr/bin')}:{Path('/bin')}")
    result = _run(cli, folder)
    assert result.exit_code == 0, result.stderr
    assert "<== [1/1] train: ok" in result.stderr


def test_the_announced_command_cannot_issue_log_commands(cli, tmp_path: Path) -> None:
    folder = _project(tmp_path, "training", json.dumps(["./train.sh", "x\n::stop-commands::t", "##vso[task.complete]"]))
    _write(folder / "train.sh", "#!/bin/sh\nexit 0\n", 0o755)
    result = _run(cli, folder)
    assert result.exit_code == 0, result.stderr
    announced = next(line for line in result.stderr.splitlines() if line.startswith("==> "))
    assert "x\\n::stop-commands::t" in announced
    assert "##vso[" not in result.stderr
    assert not any(line.lstrip().startswith("::") for line in result.stderr.splitlines())


def test_an_error_quoting_the_command_cannot_issue_log_commands(cli, tmp_path: Path) -> None:
    folder = _project(tmp_path, "training", json.dumps(["##vso[task.setvariable variable=A]1"]))
    result = _run(cli, folder)
    assert result.exit_code == 2, result.stderr
    assert "not found on PATH" in result.stderr
    assert "##vso[" not in result.stderr.lower()
