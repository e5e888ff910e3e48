"""`mlci lineage record` and `verify`: streamed hashes, DVC pins, every difference named."""

from __future__ import annotations

import hashlib
import json
import shutil
import uuid
from pathlib import Path

import pytest

from mlci.runtime.hashing import CHUNK, digest_file, digest_tree
from tests.conftest import ROOT


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """The iris example with a stand-in model: lineage needs files, not a trained forest."""
    folder = tmp_path / "iris"
    shutil.copytree(ROOT / "examples" / "iris-classifier", folder, ignore=shutil.ignore_patterns("artifacts"))
    (folder / "artifacts").mkdir()
    (folder / "artifacts" / "model.joblib").write_bytes(b"model bytes v1")
    return folder


def _flip_one_byte(path: Path, offset: int = 100) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def _record(cli, project: Path, *extra: str) -> dict:
    result = cli("lineage", "record", str(project), *extra)
    assert result.exit_code == 0, result.stderr
    return json.loads((project / "artifacts" / "lineage.json").read_text())


def test_digest_streams_files_larger_than_a_chunk(tmp_path: Path) -> None:
    data = bytes(range(256)) * (3 * CHUNK // 256) + b"tail"
    path = tmp_path / "big.bin"
    path.write_bytes(data)
    digest = digest_file(path, with_md5=True)
    assert digest.sha256 == hashlib.sha256(data).hexdigest()
    assert digest.md5 == hashlib.md5(data).hexdigest()
    assert digest.size == len(data)


def test_folder_digest_depends_on_content_and_names_only(tmp_path: Path) -> None:
    for name in ("b.csv", "a.csv", "sub/c.csv"):
        (tmp_path / "one" / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / "one" / name).write_text(name)
    shutil.copytree(tmp_path / "one", tmp_path / "two")
    assert digest_tree(tmp_path / "one") == digest_tree(tmp_path / "two")
    (tmp_path / "two" / "sub" / "c.csv").write_text("changed")
    assert digest_tree(tmp_path / "one").sha256 != digest_tree(tmp_path / "two").sha256


def test_record_holds_data_model_params_and_environment(cli, project: Path) -> None:
    lineage = _record(cli, project)
    spec_pin = "b6b8efc86732bc48c9fbddba53e2c191fd4f263c0ee98e2b1b7d3543e8d2121d"
    [iris] = lineage["datasets"]
    assert iris["path"] == "data/iris.csv"
    assert iris["sha256"] == iris["declared_sha256"] == spec_pin
    assert lineage["model"]["sha256"] == hashlib.sha256(b"model bytes v1").hexdigest()
    assert lineage["training"]["params"] == {"n_estimators": 100, "max_depth": 4, "random_state": 42}
    assert {"commit", "dirty"} <= set(lineage["git"])
    packages = lineage["environment"]["packages"]
    assert packages["numpy"] and packages["scikit-learn"] and packages["mlci"]
    assert lineage["environment"]["python"].count(".") == 2


def test_verify_passes_when_nothing_changed(cli, project: Path) -> None:
    _record(cli, project)
    result = cli("lineage", "verify", str(project))
    assert result.exit_code == 0, result.stdout
    assert "no findings" in result.stdout


def test_verify_catches_a_one_byte_change_in_a_dataset(cli, project: Path) -> None:
    _record(cli, project)
    _flip_one_byte(project / "data" / "iris.csv")
    result = cli("lineage", "verify", str(project))
    assert result.exit_code == 1
    assert "dataset 'iris' (data/iris.csv): changed since the lineage was recorded" in result.stdout
    # ...and it no longer matches the sha256 the spec pins, reported at that line of the spec.
    assert "lineage/spec-sha256" in result.stdout
    assert "mlproject.yaml:16:" in result.stdout


def test_verify_names_a_changed_model_and_changed_params(cli, project: Path) -> None:
    _record(cli, project)
    (project / "artifacts" / "model.joblib").write_bytes(b"model bytes v2")
    spec = project / "mlproject.yaml"
    spec.write_text(spec.read_text().replace("max_depth: 4", "max_depth: 5"))
    result = cli("lineage", "verify", str(project))
    assert result.exit_code == 1
    assert "model artifacts/model.joblib: sha256" in result.stdout
    assert "training.params changed since the lineage was recorded: max_depth 4 -> 5" in result.stdout


def test_verify_reports_a_deleted_dataset(cli, project: Path) -> None:
    _record(cli, project)
    (project / "data" / "iris.csv").unlink()
    result = cli("lineage", "verify", str(project), "-o", "json")
    assert result.exit_code == 1
    messages = [f["message"] for f in json.loads(result.stdout)["findings"]]
    assert any("data/iris.csv): no longer exists" in m for m in messages)


def test_environment_differences_are_informational(cli, project: Path) -> None:
    _record(cli, project)
    path = project / "artifacts" / "lineage.json"
    lineage = json.loads(path.read_text())
    lineage["environment"]["packages"]["numpy"] = "0.0.1"
    path.write_text(json.dumps(lineage))
    result = cli("lineage", "verify", str(project))
    assert result.exit_code == 0
    assert "package numpy" in result.stdout and "0.0.1 recorded" in result.stdout
    assert cli("lineage", "verify", str(project), "--fail-on", "info").exit_code == 1


def _dvc_lock(project: Path, md5: str) -> None:
    (project / "dvc.lock").write_text(
        "schema: '2.0'\n"
        "stages:\n"
        "  fetch:\n"
        "    cmd: python make_data.py\n"
        "    outs:\n"
        "    - path: data/iris.csv\n"
        "      hash: md5\n"
        f"      md5: '{md5}'\n"
        "      size: 3870\n"
    )


def test_dataset_hashes_are_read_from_dvc_lock(cli, project: Path) -> None:
    md5 = hashlib.md5((project / "data" / "iris.csv").read_bytes()).hexdigest()
    _dvc_lock(project, md5)
    lineage = _record(cli, project)
    assert lineage["datasets"][0]["dvc"] == {"lock": "dvc.lock", "stage": "fetch", "md5": md5}
    assert cli("lineage", "verify", str(project)).exit_code == 0

    _dvc_lock(project, "0" * 32)  # dvc.lock now pins other data than the model was trained on
    result = cli("lineage", "verify", str(project))
    assert result.exit_code == 1
    assert "dvc.lock pins md5 000000000000 now, the lineage recorded" in result.stdout
    assert "does not match the 000000000000 that dvc.lock pins" in result.stdout


def test_broken_dvc_lock_is_exit_2_with_position(cli, project: Path) -> None:
    (project / "dvc.lock").write_text("stages:\n  fetch: [unclosed\n")
    result = cli("lineage", "record", str(project))
    assert result.exit_code == 2
    assert "dvc.lock:3:1: invalid YAML" in result.stderr


def test_openlineage_export(cli, project: Path) -> None:
    first = cli("lineage", "record", str(project), "--format", "openlineage")
    assert first.exit_code == 0, first.stderr
    event = json.loads((project / "artifacts" / "openlineage.json").read_text())
    assert event["eventType"] == "COMPLETE"
    assert event["schemaURL"].startswith("https://openlineage.io/spec/")
    assert event["job"] == {**event["job"], "namespace": "mlci/ml-platform", "name": "iris-classifier.train"}
    [dataset] = event["inputs"]
    assert dataset["namespace"] == "file" and dataset["name"].endswith("data/iris.csv")
    assert dataset["facets"]["mlci_hashes"]["sha256"].startswith("b6b8efc8")
    assert dataset["facets"]["version"]["datasetVersion"] == "2026.11.1"
    assert event["outputs"][0]["facets"]["mlci_hashes"]["sha256"] == hashlib.sha256(b"model bytes v1").hexdigest()
    assert event["run"]["facets"]["mlci_training"]["params"]["max_depth"] == 4
    for facet in [*event["run"]["facets"].values(), *dataset["facets"].values()]:
        assert {"_producer", "_schemaURL"} <= set(facet)
    uuid.UUID(event["run"]["runId"])
    # The same inputs and outputs give the same run id.
    cli("lineage", "record", str(project), "--format", "openlineage", "--out", str(project / "again.json"))
    assert json.loads((project / "again.json").read_text())["run"]["runId"] == event["run"]["runId"]


def test_verify_without_a_lineage_or_with_a_broken_one_is_exit_2(cli, project: Path) -> None:
    missing = cli("lineage", "verify", str(project))
    assert missing.exit_code == 2
    assert "no lineage recorded here" in missing.stderr
    (project / "artifacts" / "lineage.json").write_text('{"lineage_version": 1,\n  oops}')
    broken = cli("lineage", "verify", str(project))
    assert broken.exit_code == 2
    assert "lineage.json:2:3: invalid JSON" in broken.stderr
    cli("lineage", "record", str(project), "--format", "openlineage", "--out", str(project / "ol.json"))
    wrong = cli("lineage", "verify", str(project), "--lineage", str(project / "ol.json"))
    assert wrong.exit_code == 2
    assert "an OpenLineage event, not an mlci lineage file" in wrong.stderr
