"""Local dataset URIs stay inside the project, and mlci never reads a device or a pipe."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlci.spec_checks import dataset_uri_problem
from tests.conftest import ROOT

IRIS = ROOT / "examples" / "iris-classifier"
URI_LINE = "    uri: data/iris.csv\n"

REFUSED = [
    "../../etc/passwd",
    "data/../../secrets.csv",
    "..",
    "data\\..\\..\\x.csv",
    "/etc/passwd",
    "/dev/zero",
    "\\\\server\\share\\x.csv",
    "file:///etc/passwd",
    "file://localhost/etc/passwd",
    "FILE:///etc/passwd",
    "file:data/iris.csv",
    "C:/data/x.csv",
    "c:\\data\\x.csv",
    "~/data.csv",
    "dvc://../outside.csv",
    "dvc:///etc/passwd",
]
ALLOWED = [
    "data/iris.csv",
    "./data/iris.csv",
    "data/v1..v2/x.csv",
    "s3://bucket/iris.csv",
    "gs://bucket/iris.csv",
    "https://example.com/iris.csv",
    "hdfs://namenode/data/iris.csv",
    "dvc://data/iris.csv",
    "dvc://https://github.com/org/repo/data/iris.csv",
]


def _project(tmp_path: Path, uri: str | None = None) -> Path:
    folder = tmp_path / "p"
    shutil.copytree(IRIS, folder, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    if uri is not None:
        spec = folder / "mlproject.yaml"
        text = spec.read_text()
        assert URI_LINE in text
        spec.write_text(text.replace(URI_LINE, f"    uri: '{uri.replace(chr(39), chr(39) * 2)}'\n"))
    return folder


def _uri_position(folder: Path) -> str:
    lines = (folder / "mlproject.yaml").read_text().splitlines()
    line = next(n for n, text in enumerate(lines, 1) if text.startswith("    uri: "))
    return f"mlproject.yaml:{line}:5"


@pytest.mark.parametrize("uri", REFUSED)
def test_a_local_uri_outside_the_project_is_refused_at_its_line(cli, tmp_path: Path, uri: str, monkeypatch) -> None:
    folder = _project(tmp_path, uri)
    monkeypatch.chdir(folder)
    for args in (("validate", "."), ("lineage", "record", "."), ("check", "."), ("render", "--check", ".")):
        result = cli(*args)
        assert result.exit_code == 2, (args, result.stdout, result.stderr)
        assert f"{_uri_position(folder)}:" in result.stdout + result.stderr
        assert "datasets[0].uri" in result.stdout + result.stderr
    assert not (folder / "artifacts").exists(), "nothing is recorded for a refused spec"


@pytest.mark.parametrize("uri", ALLOWED)
def test_remote_and_inside_uris_stay_allowed(cli, tmp_path: Path, uri: str) -> None:
    assert dataset_uri_problem(uri) is None
    folder = _project(tmp_path, uri)
    result = cli("validate", str(folder))
    assert result.exit_code == 0, result.stdout + result.stderr


def _record(folder: Path) -> subprocess.CompletedProcess[str]:
    """`mlci lineage record` in a child process: on a device or a pipe the old code never returned."""
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
    try:
        return subprocess.run(
            [sys.executable, "-m", "mlci", "lineage", "record", str(folder)],
            env=env,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("mlci lineage record hung reading a special file")


@pytest.mark.parametrize("kind", ["device link", "fifo", "fifo link"])
def test_a_dataset_that_is_a_device_or_a_pipe_is_never_read(tmp_path: Path, kind: str) -> None:
    folder = _project(tmp_path, "data/special.csv")
    special = folder / "data" / "special.csv"
    if kind == "device link":
        special.symlink_to("/dev/zero")
    elif kind == "fifo":
        os.mkfifo(special)
    else:
        os.mkfifo(tmp_path / "pipe")
        special.symlink_to(tmp_path / "pipe")
    result = _record(folder)
    assert result.returncode == 2, result.stderr
    assert "data/special.csv" in result.stderr and "device, pipe or socket" in result.stderr
    assert f"{_uri_position(folder).split(':', 1)[1]}" in result.stderr


def test_a_model_that_is_a_device_is_never_read(tmp_path: Path) -> None:
    folder = _project(tmp_path)
    (folder / "artifacts").mkdir()
    (folder / "artifacts" / "model.joblib").symlink_to("/dev/zero")
    result = _record(folder)
    assert result.returncode == 2, result.stderr
    assert "device, pipe or socket" in result.stderr


def test_a_pipe_inside_a_dataset_folder_is_skipped(cli, tmp_path: Path) -> None:
    folder = _project(tmp_path, "data")
    os.mkfifo(folder / "data" / "pipe.csv")
    result = _record(folder)
    assert result.returncode == 0, result.stderr


def test_a_spec_that_is_a_pipe_is_never_read(cli, tmp_path: Path) -> None:
    folder = _project(tmp_path)
    (folder / "sub").mkdir()
    os.mkfifo(folder / "sub" / "mlproject.yaml")
    assert cli("validate", str(folder)).exit_code == 0  # the walk skips it
    result = cli("validate", str(folder / "sub" / "mlproject.yaml"))
    assert result.exit_code == 2
    assert "is not a regular file" in result.stderr
