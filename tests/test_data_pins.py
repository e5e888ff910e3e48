"""The data pins hold before training: `mlci run --stage train` hashes every dataset
(local, DVC-tracked, or remote through fsspec) and stops at the dataset's line, before
the training command runs, when the data is not what the spec or dvc.lock pins."""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from mlci.loader import load_spec
from mlci.runtime.dvc import dir_md5
from mlci.runtime.pins import verify_pins
from tests.conftest import EXAMPLES, ROOT
from tests.remote_data import https_files, memory_store

# The training command of every test project: it leaves a mark when it runs at all.
MARKER_TRAIN = (
    "import pathlib; pathlib.Path('artifacts').mkdir(exist_ok=True); pathlib.Path('artifacts/TRAINED').touch()"
)


@pytest.fixture
def memory_fs() -> Iterator[object]:
    yield from memory_store()


def _copy(example: Path, tmp_path: Path) -> Path:
    folder = tmp_path / example.name
    shutil.copytree(example, folder, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    return folder


def _dataset_line(spec: Path, name: str) -> int:
    """The line of `- name: <name>` in the datasets list, read from the text itself."""
    for number, line in enumerate(spec.read_text().splitlines(), start=1):
        if re.fullmatch(rf"\s*-\s+name:\s+{re.escape(name)}\s*", line):
            return number
    raise AssertionError(f"no dataset {name} in {spec}")


def _flip_one_byte(path: Path, offset: int = 200) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _first_dataset(folder: Path) -> tuple[str, Path]:
    spec = load_spec(folder / "mlproject.yaml")
    dataset = spec.data["datasets"][0]
    return dataset["name"], folder / dataset["uri"]


def _train_marks_only(folder: Path) -> None:
    """Replace the training command by one that only leaves a mark, so a test sees whether it ran."""
    spec = folder / "mlproject.yaml"
    text = spec.read_text()
    assert "  command: [python, train.py]\n" in text
    spec.write_text(
        text.replace("  command: [python, train.py]\n", f"  command: [python, -c, {json.dumps(MARKER_TRAIN)}]\n")
    )


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_a_one_byte_change_stops_training_at_the_dataset_line(cli, tmp_path: Path, example: Path) -> None:
    folder = _copy(example, tmp_path)
    name, data = _first_dataset(folder)
    _flip_one_byte(data)
    result = cli("run", str(folder), "--stage", "train")
    assert result.exit_code == 1, result.stdout + result.stderr
    line = _dataset_line(folder / "mlproject.yaml", name)
    assert re.search(rf"mlproject\.yaml:{line}:\d+: high data-pin/sha256 dataset '{name}'", result.stdout), (
        result.stdout
    )
    actual = hashlib.sha256(data.read_bytes()).hexdigest()
    assert actual in result.stdout  # the hash the data has now, next to the pin
    # Nothing was trained, so nothing can be gated, blessed or recorded.
    assert not (folder / "artifacts" / "model.joblib").exists()
    assert not (folder / "artifacts" / "lineage.json").exists()
    assert "failed at train" in result.stderr


@pytest.mark.parametrize("example", EXAMPLES, ids=[p.name for p in EXAMPLES])
def test_intact_data_passes_the_pins_and_training_runs(cli, tmp_path: Path, example: Path) -> None:
    folder = _copy(example, tmp_path)
    _train_marks_only(folder)
    result = cli("run", str(folder), "--stage", "train", "--no-lineage")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "sha256 pin verified" in result.stderr
    assert (folder / "artifacts" / "TRAINED").exists()


def _dvc_lock(folder: Path, path: str, md5: str, stage: str = "fetch") -> None:
    (folder / "dvc.lock").write_text(
        f"schema: '2.0'\nstages:\n  {stage}:\n    cmd: python make_data.py\n    outs:\n"
        f"    - path: {path}\n      hash: md5\n      md5: '{md5}'\n"
    )


def test_a_dvc_lock_mismatch_stops_training(cli, tmp_path: Path) -> None:
    folder = _copy(ROOT / "examples" / "iris-classifier", tmp_path)
    _train_marks_only(folder)
    spec = folder / "mlproject.yaml"
    # DVC pins the data instead of sha256: no sha256 in the spec, the lock is the only pin.
    spec.write_text(re.sub(r"    sha256: [0-9a-f]{64}\n", "", spec.read_text()))
    md5 = hashlib.md5((folder / "data" / "iris.csv").read_bytes()).hexdigest()
    _dvc_lock(folder, "data/iris.csv", md5)
    assert cli("run", str(folder), "--stage", "train", "--no-lineage").exit_code == 0

    (folder / "artifacts" / "TRAINED").unlink()
    _flip_one_byte(folder / "data" / "iris.csv")
    result = cli("run", str(folder), "--stage", "train", "--no-lineage")
    assert result.exit_code == 1, result.stdout + result.stderr
    line = _dataset_line(spec, "iris")
    assert re.search(
        rf"mlproject\.yaml:{line}:\d+: high data-pin/dvc .*dvc\.lock \(stage fetch\) pins {md5}", result.stdout
    )
    assert not (folder / "artifacts" / "TRAINED").exists()


def test_every_dvc_entry_of_a_dataset_must_hold(tmp_path: Path) -> None:
    """A stale lock pins one file twice (out of one stage, dep of the next): both count."""
    folder = _copy(ROOT / "examples" / "iris-classifier", tmp_path)
    md5 = hashlib.md5((folder / "data" / "iris.csv").read_bytes()).hexdigest()
    stale = "1" * 32
    (folder / "dvc.lock").write_text(
        "schema: '2.0'\nstages:\n"
        f"  fetch:\n    cmd: a\n    outs:\n    - path: data/iris.csv\n      md5: {md5}\n"
        f"  train:\n    cmd: b\n    deps:\n    - path: data/iris.csv\n      md5: '{stale}'\n"
    )
    outcome = verify_pins(load_spec(folder / "mlproject.yaml"))
    assert [f.rule_id for f in outcome.findings] == ["data-pin/dvc"]
    assert "stage train" in outcome.findings[0].message


def test_a_folder_dataset_is_held_against_dvc_dir_hash(tmp_path: Path) -> None:
    folder = _copy(ROOT / "examples" / "iris-classifier", tmp_path)
    shards = folder / "data" / "shards"
    (shards / "b").mkdir(parents=True)
    (shards / "a.csv").write_text("x\n1\n")
    (shards / "b" / "c.csv").write_text("x\n2\n")
    spec = folder / "mlproject.yaml"
    text = re.sub(r"    sha256: [0-9a-f]{64}\n", "", spec.read_text()).replace("uri: data/iris.csv", "uri: data/shards")
    spec.write_text(text)
    # DVC's .dir hash: md5 of the JSON list of {md5, relpath}, as `dvc add` writes it.
    listing = [
        {"md5": hashlib.md5(b"x\n1\n").hexdigest(), "relpath": "a.csv"},
        {"md5": hashlib.md5(b"x\n2\n").hexdigest(), "relpath": "b/c.csv"},
    ]
    pinned = hashlib.md5(json.dumps(listing, sort_keys=True).encode()).hexdigest() + ".dir"
    assert dir_md5([("b/c.csv", listing[1]["md5"]), ("a.csv", listing[0]["md5"])]) == pinned
    _dvc_lock(folder, "data/shards", pinned)
    assert verify_pins(load_spec(spec)).findings == []
    (shards / "b" / "c.csv").write_text("x\n3\n")
    findings = verify_pins(load_spec(spec)).findings
    assert [f.rule_id for f in findings] == ["data-pin/dvc"]


def test_a_pinned_dataset_that_is_missing_stops_training(cli, tmp_path: Path) -> None:
    folder = _copy(ROOT / "examples" / "iris-classifier", tmp_path)
    _train_marks_only(folder)
    (folder / "data" / "iris.csv").unlink()
    result = cli("run", str(folder), "--stage", "train")
    assert result.exit_code == 1
    assert "data-pin/missing" in result.stdout
    assert not (folder / "artifacts" / "TRAINED").exists()


# Remote data ----------------------------------------------------------------------------------------------------


def _remote_spec(folder: Path, uri: str, sha256: str | None) -> Path:
    spec = folder / "mlproject.yaml"
    text = spec.read_text().replace("uri: data/iris.csv", f"uri: {uri}")
    pin = f"    sha256: {sha256}\n" if sha256 else ""
    spec.write_text(re.sub(r"    sha256: [0-9a-f]{64}\n", pin, text))
    return spec


def test_remote_data_through_fsspec_is_hashed_and_held_against_its_pin(cli, tmp_path: Path, memory_fs) -> None:
    folder = _copy(ROOT / "examples" / "iris-classifier", tmp_path)
    _train_marks_only(folder)
    data = (folder / "data" / "iris.csv").read_bytes()
    memory_fs.pipe("/bucket/iris.csv", data)
    spec = _remote_spec(folder, "memory://bucket/iris.csv", hashlib.sha256(data).hexdigest())
    result = cli("run", str(folder), "--stage", "train")
    assert result.exit_code == 0, result.stdout + result.stderr
    lineage = json.loads((folder / "artifacts" / "lineage.json").read_text())
    assert lineage["datasets"][0]["sha256"] == hashlib.sha256(data).hexdigest()
    assert lineage["datasets"][0]["size"] == len(data)

    changed = bytearray(data)
    changed[300] ^= 0x01
    memory_fs.pipe("/bucket/iris.csv", bytes(changed))
    (folder / "artifacts" / "TRAINED").unlink()
    result = cli("run", str(folder), "--stage", "train")
    assert result.exit_code == 1
    line = _dataset_line(spec, "iris")
    assert re.search(rf"mlproject\.yaml:{line}:\d+: high data-pin/sha256", result.stdout), result.stdout
    assert hashlib.sha256(bytes(changed)).hexdigest() in result.stdout
    assert not (folder / "artifacts" / "TRAINED").exists()


def test_https_data_is_streamed_from_a_real_server(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    folder = _copy(ROOT / "examples" / "iris-classifier", tmp_path)
    _train_marks_only(folder)
    served = tmp_path / "served"
    served.mkdir()
    data = (folder / "data" / "iris.csv").read_bytes()
    (served / "iris.csv").write_bytes(data)
    with https_files(served, monkeypatch, tmp_path / "tls") as base:
        _remote_spec(folder, f"{base}/iris.csv", hashlib.sha256(data).hexdigest())
        result = cli("run", str(folder), "--stage", "train")
        assert result.exit_code == 0, result.stdout + result.stderr
        recorded = json.loads((folder / "artifacts" / "lineage.json").read_text())["datasets"][0]
        assert recorded["sha256"] == hashlib.sha256(data).hexdigest()
        assert cli("lineage", "verify", str(folder)).exit_code == 0

        _flip_one_byte(served / "iris.csv")
        result = cli("run", str(folder), "--stage", "train")
        assert result.exit_code == 1
        assert "data-pin/sha256" in result.stdout
        verify = cli("lineage", "verify", str(folder))
        assert verify.exit_code == 1
        assert "changed since the lineage was recorded" in verify.stdout

        (served / "iris.csv").unlink()  # the server answers 404: the data is missing
        result = cli("run", str(folder), "--stage", "train")
        assert result.exit_code == 1
        assert "data-pin/missing" in result.stdout


def test_unreachable_remote_data_is_exit_3_never_a_pass(cli, tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]  # closed again: nothing listens there
    folder = _copy(ROOT / "examples" / "iris-classifier", tmp_path)
    _train_marks_only(folder)
    _remote_spec(folder, f"http://127.0.0.1:{port}/iris.csv", "a" * 64)
    result = cli("run", str(folder), "--stage", "train")
    assert result.exit_code == 3, result.stdout + result.stderr
    assert f"cannot read http://127.0.0.1:{port}/iris.csv" in result.stderr
    assert not (folder / "artifacts" / "TRAINED").exists()


def test_data_mlci_cannot_read_is_never_recorded_as_verified(cli, tmp_path: Path) -> None:
    folder = _copy(ROOT / "examples" / "iris-classifier", tmp_path)
    _train_marks_only(folder)
    _remote_spec(folder, "ftp://data.example.com/iris.csv", "a" * 64)
    result = cli("run", str(folder), "--stage", "train")
    assert result.exit_code == 1
    assert "data-pin/unverifiable" in result.stdout
    assert not (folder / "artifacts" / "TRAINED").exists()

    # Unpinned, it trains, and the lineage says it could not be hashed; verify reports it.
    _remote_spec(folder, "ftp://data.example.com/iris.csv", None)
    result = cli("run", str(folder), "--stage", "train")
    assert result.exit_code == 0, result.stdout + result.stderr
    recorded = json.loads((folder / "artifacts" / "lineage.json").read_text())["datasets"][0]
    assert recorded["sha256"] is None and "cannot read ftp:// data" in recorded["unverifiable"]
    verify = cli("lineage", "verify", str(folder))
    assert verify.exit_code == 1
    assert "lineage/unverifiable" in verify.stdout


def test_a_lineage_that_recorded_no_hash_of_remote_data_fails_verify(cli, tmp_path: Path, memory_fs) -> None:
    """Lineage files written before remote data was hashed hold `sha256: null`: not a proof."""
    folder = _copy(ROOT / "examples" / "iris-classifier", tmp_path)
    _train_marks_only(folder)
    memory_fs.pipe("/bucket/iris.csv", b"x\n1\n")
    _remote_spec(folder, "memory://bucket/iris.csv", None)
    assert cli("run", str(folder), "--stage", "train").exit_code == 0
    path = folder / "artifacts" / "lineage.json"
    lineage = json.loads(path.read_text())
    lineage["datasets"][0]["sha256"] = None
    path.write_text(json.dumps(lineage))
    verify = cli("lineage", "verify", str(folder))
    assert verify.exit_code == 1
    assert "lineage/unverifiable" in verify.stdout and "recorded no hash" in verify.stdout


@pytest.mark.parametrize(
    ("hidden", "uri"), [("fsspec", "memory://bucket/iris.csv"), ("aiohttp", "https://127.0.0.1:9/x.csv")]
)
def test_without_the_remote_extra_it_is_exit_2_naming_it(
    cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, hidden: str, uri: str
) -> None:
    folder = _copy(ROOT / "examples" / "iris-classifier", tmp_path)
    _train_marks_only(folder)
    _remote_spec(folder, uri, "a" * 64)
    monkeypatch.setitem(sys.modules, hidden, None)  # what importlib sees when the package is not installed
    result = cli("run", str(folder), "--stage", "train")
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "pip install 'mlci[remote]'" in result.stderr
    assert hidden in result.stderr
    assert "Traceback" not in result.stderr
    assert not (folder / "artifacts" / "TRAINED").exists()


def test_a_dvc2_lock_entry_of_a_crlf_text_file_holds(tmp_path: Path) -> None:
    """DVC 2 took a text file's md5 with CRLF read as LF, and wrote no `hash: md5`: a Windows
    CSV it pinned is the same data, while a real change still fails."""
    folder = _copy(ROOT / "examples" / "iris-classifier", tmp_path)
    spec = folder / "mlproject.yaml"
    spec.write_text(re.sub(r"    sha256: [0-9a-f]{64}\n", "", spec.read_text()))
    data = folder / "data" / "iris.csv"
    data.write_bytes(data.read_bytes().replace(b"\n", b"\r\n"))
    dvc2 = hashlib.md5(data.read_bytes().replace(b"\r\n", b"\n")).hexdigest()
    lock = f"schema: '2.0'\nstages:\n  fetch:\n    cmd: a\n    outs:\n    - path: data/iris.csv\n      md5: {dvc2}\n"
    (folder / "dvc.lock").write_text(lock)
    assert verify_pins(load_spec(spec)).findings == []
    # The same md5 written by DVC 3 (`hash: md5`) is of the bytes as they are: CRLF differs.
    (folder / "dvc.lock").write_text(lock + "      hash: md5\n")
    assert [f.rule_id for f in verify_pins(load_spec(spec)).findings] == ["data-pin/dvc"]
    (folder / "dvc.lock").write_text(lock)
    _flip_one_byte(data)
    assert [f.rule_id for f in verify_pins(load_spec(spec)).findings] == ["data-pin/dvc"]
