"""Held-out probe of issue 9, sections 2-4, with payloads other than the issue's: each test is an
attack a pull request can mount (a manifest, a link, a folder, a spec value) against whoever runs
`mlci render`, `check`, `gate` or `lineage record`, and the promise it must not break: exit 2 with
a message (never 3, a hang or unbounded memory), nothing touched or read outside the project, and
every rendered file keeping its structure for the judges."""

from __future__ import annotations

import hashlib
import json
import os
import resource
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests import judges
from tests.conftest import ROOT, run_cli

CREDIT = ROOT / "examples" / "credit-risk"
MANIFEST = ".mlci/credit-risk.manifest.json"


def _copy(folder: Path) -> Path:
    shutil.copytree(CREDIT, folder, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    return folder


def _rendered(folder: Path) -> Path:
    project = _copy(folder)
    result = run_cli("render", str(project))
    assert result.exit_code == 0, result.stdout + result.stderr
    return project


def _bounded_mlci(*args: str, cwd: Path, seconds: int = 30, memory: int = 1 << 30) -> subprocess.CompletedProcess[str]:
    """mlci in a child process that may use at most `memory` bytes of address space and
    `seconds` of wall time: what a hang or an unbounded read would otherwise cost the run."""

    def limit() -> None:  # pragma: no cover - runs in the child
        resource.setrlimit(resource.RLIMIT_AS, (memory, memory))

    return subprocess.run(
        [sys.executable, "-m", "mlci", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=seconds,
        preexec_fn=limit,
        check=False,
    )


def _spec_edit(project: Path, old: str, new: str) -> None:
    spec = project / "mlproject.yaml"
    text = spec.read_text()
    assert old in text
    spec.write_text(text.replace(old, new, 1))


# Section 2: the manifest and the tree are the pull request's ---------------------------------------------


def test_a_manifest_entry_naming_a_folder_is_exit_2_and_nothing_is_touched(tmp_path: Path) -> None:
    project = _rendered(tmp_path / "p")
    manifest = project / MANIFEST
    document = json.loads(manifest.read_text())
    document["files"]["data"] = "0" * 64
    manifest.write_text(json.dumps(document, indent=2))
    for args in (("render", str(project)), ("render", "--check", str(project))):
        result = run_cli(*args)
        assert result.exit_code == 2, result.stdout + result.stderr
        assert "internal error" not in result.stderr
    assert (project / "data" / "applications.csv").is_file()


@pytest.mark.parametrize("check", [False, True], ids=["render", "check"])
def test_a_folder_where_a_generated_file_goes_is_exit_2(tmp_path: Path, check: bool) -> None:
    project = _rendered(tmp_path / "p")
    (project / "Dockerfile").unlink()
    (project / "Dockerfile").mkdir()
    (project / "Dockerfile" / "keep.txt").write_text("mine\n")
    result = run_cli("render", *(["--check"] if check else []), str(project))
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "Dockerfile" in result.stderr and "internal error" not in result.stderr
    assert (project / "Dockerfile" / "keep.txt").read_text() == "mine\n"


def test_a_manifest_nested_past_the_json_parser_is_exit_2(tmp_path: Path) -> None:
    project = _rendered(tmp_path / "p")
    (project / MANIFEST).write_text("[" * 100_000 + "]" * 100_000)
    for args in (("render", str(project)), ("render", "--check", str(project))):
        result = run_cli(*args)
        assert result.exit_code == 2, result.stdout + result.stderr
        assert MANIFEST in result.stderr and "internal error" not in result.stderr


def test_a_deeply_nested_manifest_of_another_project_in_the_folder_is_exit_2(tmp_path: Path) -> None:
    project = _rendered(tmp_path / "p")
    (project / ".mlci" / "other.manifest.json").write_text("{" + '"a":[' * 50_000)
    result = run_cli("render", str(project))
    assert result.exit_code in (0, 2), result.stdout + result.stderr
    assert "internal error" not in result.stderr


# Section 2: gate and lineage read only what lies in the project ------------------------------------------


@pytest.mark.parametrize("kind", ["dev-zero", "fifo"])
def test_a_metrics_file_that_is_a_device_or_a_pipe_is_exit_2_without_reading_it(tmp_path: Path, kind: str) -> None:
    project = _copy(tmp_path / "p")
    (project / "artifacts").mkdir()
    metrics = project / "artifacts" / "metrics.json"
    if kind == "fifo":
        os.mkfifo(metrics)
    else:
        metrics.symlink_to("/dev/zero")
    result = _bounded_mlci("gate", ".", cwd=project, seconds=30)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "metrics.json" in result.stderr and "internal error" not in result.stderr


def test_a_metrics_file_nested_past_the_json_parser_is_exit_2(tmp_path: Path) -> None:
    project = _copy(tmp_path / "p")
    (project / "artifacts").mkdir()
    (project / "artifacts" / "metrics.json").write_text("[" * 100_000 + "]" * 100_000)
    result = run_cli("gate", str(project))
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "internal error" not in result.stderr


@pytest.mark.parametrize("target", ["/etc/passwd", "/etc", "/"])
def test_a_dataset_linked_out_of_the_project_is_refused_not_hashed(tmp_path: Path, target: str) -> None:
    project = _copy(tmp_path / "p")
    data = project / "data" / "applications.csv"
    data.unlink()
    data.symlink_to(target)
    result = _bounded_mlci("lineage", "record", ".", cwd=project, seconds=60)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "applications" in result.stderr and "internal error" not in result.stderr
    assert not (project / "artifacts" / "lineage.json").exists()


def test_a_model_linked_to_the_root_folder_is_never_walked(tmp_path: Path) -> None:
    project = _copy(tmp_path / "p")
    (project / "artifacts").mkdir()
    (project / "artifacts" / "model.joblib").symlink_to("/")
    result = _bounded_mlci("lineage", "record", ".", cwd=project, seconds=30)
    assert result.returncode == 2, result.stdout + result.stderr
    assert "model.joblib" in result.stderr and "internal error" not in result.stderr


# Section 3: a command argument keeps the Dockerfile's exec form --------------------------------------------


@pytest.mark.parametrize("argument", ["C:\\models\\", 'quote\\"', "trailing\\"])
def test_a_backslash_in_a_command_keeps_cmd_in_json_notation_for_hadolint(tmp_path: Path, argument: str) -> None:
    hadolint = judges.tool("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed (scripts/test installs it)")
    project = _copy(tmp_path / "p")
    _spec_edit(project, "command: [python, serve.py]", f"command: [python, serve.py, {json.dumps(argument)}]")
    result = run_cli("render", str(project), "--target", "docker")
    assert result.exit_code == 0, result.stdout + result.stderr
    dockerfile = project / "Dockerfile"
    cmd = next(line for line in dockerfile.read_text().splitlines() if line.startswith("CMD "))
    assert json.loads(cmd.removeprefix("CMD ")) == ["python", "serve.py", argument]
    verdict = subprocess.run(
        [str(hadolint), "--no-color", "--failure-threshold", "warning", str(dockerfile)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert verdict.returncode == 0, verdict.stdout + verdict.stderr


# Section 4: aliases and open objects are bounded like the rest ---------------------------------------------


@pytest.mark.parametrize(
    "params",
    [
        "    me: &me [*me]\n",
        "    me: &me {a: *me}\n",
        "    me: &me {<<: *me, a: 1}\n",
        "".join(f"    x{i}: &a{i} " + "[" * 50 + (f"*a{i - 1}" if i else "1") + "]" * 50 + "\n" for i in range(25)),
    ],
    ids=["recursive-sequence", "recursive-mapping", "recursive-merge", "alias-chain-1250-deep"],
)
@pytest.mark.parametrize("command", ["check", "render"])
def test_aliases_nesting_past_the_depth_limit_are_exit_2_at_their_line(
    tmp_path: Path, params: str, command: str
) -> None:
    project = _copy(tmp_path / "p")
    _spec_edit(project, "  params:\n", "  params:\n" + params)
    result = run_cli(command, "--no-cache" if command == "check" else "--check", str(project))
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "internal error" not in result.stderr
    assert "mlproject.yaml:" in result.stderr + result.stdout


def test_a_list_in_params_follows_the_documented_limit_of_100_items(tmp_path: Path) -> None:
    """README: 'every list at most 100 items ... unless the schema says less'; params is no exception,
    or 90,000 numbers (a 360 KB spec, no alias) cost `check` 19 s and 500 MB."""
    project = _copy(tmp_path / "p")
    _spec_edit(project, "  params:\n", "  params:\n    grid: [" + ",".join(["1"] * 15_000) + "]\n")
    result = run_cli("check", "--no-cache", str(project))
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "params" in result.stdout + result.stderr


# Logs and terminals -----------------------------------------------------------------------------------------


def test_the_markdown_report_carries_no_terminal_escape_sequences(tmp_path: Path) -> None:
    project = _copy(tmp_path / "p")
    spec = project / "mlproject.yaml"
    lines = spec.read_text().split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("  description:"))
    lines[at] = '  description: "\\e]8;;https://evil.example\\e\\\\click here\\e]8;;\\e\\\\ \\e[2J"'
    spec.write_text("\n".join(lines))
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "echo.rego").write_text(
        "package org.echo\nimport rego.v1\n\n"
        'deny contains {"msg": input.project.description} if { input.project.description }\n'
    )
    result = run_cli("check", "--no-cache", "--policies", str(policies), "-o", "markdown", str(project))
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "click here" in result.stdout
    assert "\x1b" not in result.stdout


@pytest.mark.parametrize("control", ["\x01", "\x1b", "\x7f", "\x9b"], ids=["soh", "esc", "del", "csi"])
def test_a_policy_message_holding_a_control_character_is_a_finding_not_an_engine_error(
    tmp_path: Path, control: str
) -> None:
    """The embedded engine hands back JSON with the character raw; that is still a decision (exit 1)."""
    project = _copy(tmp_path / "p")
    spec = project / "mlproject.yaml"
    lines = spec.read_text().split("\n")
    at = next(i for i, line in enumerate(lines) if line.startswith("  description:"))
    lines[at] = f"  description: {json.dumps('before' + control + 'after')}"
    spec.write_text("\n".join(lines))
    policies = tmp_path / "policies"
    policies.mkdir()
    (policies / "echo.rego").write_text(
        "package org.echo\nimport rego.v1\n\n"
        'deny contains {"msg": input.project.description} if { input.project.description }\n'
    )
    result = run_cli("check", "--no-cache", "--policies", str(policies), str(project))
    assert result.exit_code == 1, result.stdout + result.stderr
    assert "before" in result.stdout and "after" in result.stdout


def test_a_manifest_cannot_remove_the_json_of_a_same_named_project_in_a_subfolder(tmp_path: Path) -> None:
    """JSON has no marker naming its spec; a project in sub/ whose spec is sub/b.yaml, named like
    ours, is still another project: its file stays, whatever hash the manifest records for it."""
    root = _copy(tmp_path / "repo")
    sub = _copy(tmp_path / "repo" / "sub")
    (sub / "mlproject.yaml").rename(sub / "b.yaml")
    assert run_cli("render", str(sub / "b.yaml")).exit_code == 0
    assert run_cli("render", str(root / "mlproject.yaml")).exit_code == 0
    theirs = sub / ".github" / "mlci" / "environments" / "credit-risk.json"
    manifest = root / MANIFEST
    document = json.loads(manifest.read_text())
    document["files"]["sub/.github/mlci/environments/credit-risk.json"] = hashlib.sha256(
        theirs.read_bytes()
    ).hexdigest()
    manifest.write_text(json.dumps(document, indent=2))
    result = run_cli("render", str(root / "mlproject.yaml"))
    assert result.exit_code == 2, result.stdout + result.stderr
    assert theirs.is_file()
