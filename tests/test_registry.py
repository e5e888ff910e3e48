"""The model registry, for real: a `mlflow server` on 127.0.0.1 (tests/mlflow_server.py),
mlci's runs, registrations, promotions and gates against it, read back through MLflow's
own client. No mocks of MLflow."""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT, run_cli
from tests.mlflow_server import free_port, mlflow_server

IRIS = ROOT / "examples" / "iris-classifier"


@pytest.fixture(autouse=True)
def _no_ambient_registry(monkeypatch: pytest.MonkeyPatch) -> None:
    """Only the registry a test names: never one from the machine's environment."""
    monkeypatch.delenv("MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.delenv("MLCI_CHAMPION_ALIAS", raising=False)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with mlflow_server(tmp_path_factory.mktemp("mlflow-server")) as url:
        yield url


def _client(url: str) -> Any:
    from mlflow.tracking import MlflowClient

    return MlflowClient(tracking_uri=url, registry_uri=url)


def _copy(tmp_path: Path, model_name: str | None = None) -> Path:
    folder = tmp_path / "iris"
    shutil.copytree(IRIS, folder, ignore=shutil.ignore_patterns("artifacts", "__pycache__", ".mlci"))
    if model_name:
        spec = folder / "mlproject.yaml"
        text = spec.read_text(encoding="utf-8").replace(
            "  name: iris-classifier\n  framework", f"  name: {model_name}\n  framework"
        )
        spec.write_text(text, encoding="utf-8")
    return folder


def _metrics(tmp_path: Path, name: str, **values: float) -> Path:
    path = tmp_path / name
    path.write_text(json.dumps(values), encoding="utf-8")
    return path


@pytest.fixture(scope="module")
def champion(server: str, tmp_path_factory: pytest.TempPathFactory) -> tuple[str, Path]:
    """One full `mlci run` against the server, then `mlci promote production`: version 1 is champion."""
    folder = _copy(tmp_path_factory.mktemp("champion"))
    ran = run_cli("run", str(folder), "--registry", server)
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    # A first model: no champion yet, and the report says so instead of a silent "production -".
    assert "No champion: no version of iris-classifier holds the 'champion' alias" in ran.stdout
    promoted = run_cli("promote", "production", str(folder), "--registry", server)
    assert promoted.exit_code == 0, promoted.stdout + promoted.stderr
    return server, folder


def test_a_pipeline_run_is_one_tracked_run_and_a_registered_blessed_version(champion: tuple[str, Path]) -> None:
    server, folder = champion
    client = _client(server)
    registered = json.loads((folder / "artifacts" / "registered.json").read_text())
    run_id = json.loads((folder / "artifacts" / "run.json").read_text())["run_id"]
    assert (
        registered["name"] == "iris-classifier"
        and registered["uri"] == f"models:/iris-classifier/{registered['version']}"
    )
    version = client.get_model_version("iris-classifier", registered["version"])
    assert version.run_id == run_id == registered["run_id"]
    blessing = (folder / "artifacts" / "blessing.json").read_bytes()
    import hashlib

    assert version.tags["mlci.blessing_sha256"] == hashlib.sha256(blessing).hexdigest()
    assert version.tags["mlci.blessed"] == "true"
    assert version.tags["mlci.spec_sha256"] == json.loads(blessing)["spec_sha256"]
    assert version.tags["mlci.dataset.iris.sha256"] == json.loads(blessing)["datasets"]["iris"]["sha256"]
    run = client.get_run(run_id)
    # Train, evaluate, gate and register all wrote to this one run.
    assert run.data.params["n_estimators"] == "100"
    metrics = json.loads((folder / "artifacts" / "metrics.json").read_text())
    assert run.data.metrics["accuracy"] == pytest.approx(metrics["accuracy"])
    assert run.data.tags["mlci.project"] == "iris-classifier"
    assert run.data.tags["mlci.gate"] == "passed"
    assert run.data.tags["mlci.dataset.iris.sha256"] == version.tags["mlci.dataset.iris.sha256"]
    artifacts = {a.path for a in client.list_artifacts(run_id, "model")}
    assert artifacts == {"model/model.joblib"}
    # promote production moved champion; register gave the version challenger.
    assert client.get_model_version_by_alias("iris-classifier", "champion").version == registered["version"]
    assert "challenger" in client.get_registered_model("iris-classifier").aliases


def test_the_gate_compares_with_the_champion(champion: tuple[str, Path], tmp_path: Path) -> None:
    server, folder = champion
    champ = json.loads((folder / "artifacts" / "metrics.json").read_text())
    # Above every absolute threshold, but 0.05 below the champion where 0.02 is allowed.
    worse = _metrics(tmp_path, "worse.json", accuracy=champ["accuracy"] - 0.05, f1_macro=0.99, roc_auc_ovr=0.99)
    blessing = tmp_path / "blessing.json"
    failed = run_cli(
        "gate", str(folder), "--metrics", str(worse), "--blessing", str(blessing), "--registry", server, "-o", "json"
    )
    assert failed.exit_code == 1, failed.stdout + failed.stderr
    report = json.loads(failed.stdout)
    assert report["baseline"]["source"] == "champion" and report["baseline"]["version"] == "1"
    accuracy = next(g for g in report["gates"] if g["metric"] == "accuracy")
    assert accuracy["passed"] is False and accuracy["baseline"] == pytest.approx(champ["accuracy"])
    assert "accuracy" in accuracy["reason"] and "worse than the champion (version 1)" in accuracy["reason"]
    assert "allowed 0.02, over by 0.03" in accuracy["reason"]
    assert accuracy["margin"] == pytest.approx(-0.03)
    assert not blessing.exists()

    better = _metrics(tmp_path, "better.json", accuracy=1.0, f1_macro=1.0, roc_auc_ovr=1.0)
    report_file = tmp_path / "pr-evaluation.md"
    passed = run_cli("gate", str(folder), "--metrics", str(better), "--blessing", str(blessing),
                     "--registry", server, "--report", str(report_file))  # fmt: skip
    assert passed.exit_code == 0, passed.stdout + passed.stderr
    assert "Baseline: the champion, iris-classifier version 1" in passed.stdout
    # The table's baseline column is the champion it read, by alias and version, not "production".
    header = next(line for line in passed.stdout.splitlines() if line.startswith("metric"))
    assert header.split()[:5] == ["metric", "value", "threshold", "champion", "v1"], header
    assert "production" not in passed.stdout
    assert blessing.is_file()
    page = report_file.read_text()
    assert "**Verdict: PASS" in page
    assert "| metric | candidate | champion v1 | change |" in page
    assert f"| accuracy | 1 | {champ['accuracy']:.6g} |" in page
    assert "| dataset iris |" in page and "| param n_estimators | 100 | 100 |" in page


def test_a_better_model_is_registered_and_promoted_and_champion_moves(champion: tuple[str, Path]) -> None:
    server, folder = champion
    client = _client(server)
    before = client.get_model_version_by_alias("iris-classifier", "champion").version
    ran = run_cli("run", str(folder), "--registry", server, "--stage", "gate", "--stage", "register")
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    new = json.loads((folder / "artifacts" / "registered.json").read_text())["version"]
    assert new != before
    assert client.get_model_version_by_alias("iris-classifier", "challenger").version == new
    assert client.get_model_version_by_alias("iris-classifier", "champion").version == before
    staged = run_cli("promote", "staging", str(folder), "--registry", server)
    assert staged.exit_code == 0, staged.stderr
    assert client.get_model_version_by_alias("iris-classifier", "staging").version == new
    promoted = run_cli("promote", "production", str(folder), "--registry", server)
    assert promoted.exit_code == 0, promoted.stderr
    assert f"is now 'champion' (was version {before})" in promoted.stdout
    assert client.get_model_version_by_alias("iris-classifier", "champion").version == new


def test_promote_refuses_a_version_without_a_matching_blessing(champion: tuple[str, Path]) -> None:
    server, folder = champion
    client = _client(server)
    champion_before = client.get_model_version_by_alias("iris-classifier", "champion").version
    registered = client.get_model_version("iris-classifier", champion_before)
    # Registered by hand, outside `mlci register`: no blessing at all.
    bare = client.create_model_version("iris-classifier", source=registered.source, run_id=registered.run_id)
    # A forged tag: says blessed, names a blessing that is not the one stored with its run.
    forged = client.create_model_version(
        "iris-classifier",
        source=registered.source,
        run_id=registered.run_id,
        tags={**registered.tags, "mlci.blessing_sha256": "0" * 64},
    )
    for version, why in ((bare.version, "carries no blessing"), (forged.version, "not the one its tag names")):
        refused = run_cli("promote", "production", str(folder), "--registry", server, "--version", version)
        assert refused.exit_code == 1, refused.stdout + refused.stderr
        assert why in refused.stderr
    assert client.get_model_version_by_alias("iris-classifier", "champion").version == champion_before
    unknown = run_cli("promote", "production", str(folder), "--registry", server, "--version", "999")
    assert unknown.exit_code == 1 and "has no version 999" in unknown.stderr
    no_env = run_cli("promote", "qa", str(folder), "--registry", server, "--version", "1")
    assert no_env.exit_code == 2 and "no environment 'qa'" in no_env.stderr


def test_a_champion_without_metrics_is_exit_3_never_a_pass(server: str, tmp_path: Path) -> None:
    folder = _copy(tmp_path, "iris-no-metrics")
    client = _client(server)
    experiment = client.create_experiment("no-metrics")
    run = client.create_run(experiment)
    client.create_registered_model("iris-no-metrics")
    version = client.create_model_version(
        "iris-no-metrics", source=f"{run.info.artifact_uri}/model", run_id=run.info.run_id
    )
    client.set_registered_model_alias("iris-no-metrics", "champion", version.version)
    good = _metrics(tmp_path, "good.json", accuracy=1.0, f1_macro=1.0, roc_auc_ovr=1.0)
    blessing = tmp_path / "blessing.json"
    blessing.write_text("{}")  # a stale blessing from before must not survive an undecided gate
    result = run_cli("gate", str(folder), "--metrics", str(good), "--blessing", str(blessing), "--registry", server)
    assert result.exit_code == 3, result.stdout + result.stderr
    assert f"the champion iris-no-metrics version {version.version}" in result.stderr
    assert "has no metrics" in result.stderr and "Traceback" not in result.stderr
    assert not blessing.exists()
    # Metrics, but not the one a gate compares with production: the gate cannot decide either.
    client.log_metric(run.info.run_id, "f1_macro", 0.9)
    result = run_cli("gate", str(folder), "--metrics", str(good), "--blessing", str(blessing), "--registry", server)
    assert result.exit_code == 3 and "has no accuracy metric" in result.stderr


def test_an_unreachable_registry_is_exit_3_in_seconds(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    pytest.importorskip("mlflow", reason="needs the mlflow client (pip install 'mlci[mlflow]')")
    import mlflow  # noqa: F401  (imported first, so the clock measures the registry, not the import)

    folder = _copy(tmp_path)
    closed = f"http://127.0.0.1:{free_port()}"  # nothing listens there
    monkeypatch.setenv("MLFLOW_TRACKING_URI", closed)
    good = _metrics(tmp_path, "good.json", accuracy=1.0, f1_macro=1.0, roc_auc_ovr=1.0)
    started = time.monotonic()
    result = run_cli("gate", str(folder), "--metrics", str(good), "--blessing", str(tmp_path / "b.json"))
    elapsed = time.monotonic() - started
    assert result.exit_code == 3, result.stdout + result.stderr
    assert f"model registry {closed} is unreachable" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1 and "Traceback" not in result.stderr
    assert elapsed < 30, f"took {elapsed:.0f}s: MLflow's retries were not bounded"
    assert not (tmp_path / "b.json").exists()
    # `mlci run` stops before training rather than train a model nobody records.
    ran = run_cli("run", str(folder), "--stage", "train")
    assert ran.exit_code == 3 and "is unreachable" in ran.stderr
    assert not (folder / "artifacts" / "model.joblib").exists()


def test_register_refuses_a_model_the_gate_did_not_bless(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    missing = run_cli("register", str(folder))
    assert missing.exit_code == 1 and "the gate has not blessed this model" in missing.stderr
    (folder / "artifacts").mkdir()
    (folder / "artifacts" / "model.joblib").write_bytes(b"a model")
    (folder / "artifacts" / "blessing.json").write_text(
        json.dumps({"blessed": True, "project": "iris-classifier", "model_sha256": "0" * 64})
    )
    changed = run_cli("register", str(folder))
    assert changed.exit_code == 1 and "the model file changed since the gate blessed it" in changed.stderr
    assert not (folder / ".mlci").exists()  # refused before any registry was touched


def test_no_champion_is_said_in_every_report_format(tmp_path: Path) -> None:
    """A first model: absolute thresholds only, said in text, Markdown and JSON (no registry
    exists yet, so nothing is created and mlflow is not even imported)."""
    folder = _copy(tmp_path)
    good = _metrics(tmp_path, "good.json", accuracy=1.0, f1_macro=1.0, roc_auc_ovr=1.0)
    outputs = {"text": tmp_path / "gate.txt", "markdown": tmp_path / "gate.md", "json": tmp_path / "gate.json"}
    args = [arg for fmt, path in outputs.items() for arg in ("-o", f"{fmt}={path}")]
    result = run_cli("gate", str(folder), "--metrics", str(good), "--blessing", str(tmp_path / "b.json"), *args)
    assert result.exit_code == 0, result.stdout + result.stderr
    statement = "No champion: no version of iris-classifier holds the 'champion' alias"
    for fmt, path in outputs.items():
        assert statement in path.read_text(), fmt
        assert "the gates compare with the absolute thresholds only" in path.read_text(), fmt
    assert json.loads(outputs["json"].read_text())["baseline"]["source"] == "none"
    assert not (folder / ".mlci").exists()


def test_registry_location_precedence(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlci.registry.location import resolve_location

    embedded = resolve_location(tmp_path, None)
    assert embedded.uri == f"sqlite:///{tmp_path / '.mlci' / 'registry.db'}" and embedded.source == "embedded"
    assert embedded.artifact_root == (tmp_path / ".mlci" / "artifacts").as_uri()
    assert resolve_location(tmp_path, "https://mlflow.acme.io").uri == "https://mlflow.acme.io"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://tracking:5000")
    assert resolve_location(tmp_path, "https://mlflow.acme.io").source == "MLFLOW_TRACKING_URI"
    assert resolve_location(tmp_path, "https://mlflow.acme.io", "http://cli:1").uri == "http://cli:1"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    # The spec's value is the pull request's: only an http(s) server on a real host, never a file or database.
    for untrusted in ("https://mlflow.example.com", "http://x.test", "sqlite:////etc/registry.db", "file:///tmp",
                      "s3://bucket/models", "oci://registry/models"):  # fmt: skip
        assert resolve_location(tmp_path, untrusted).source == "embedded", untrusted
    # Credentials never reach a log line.
    shown = resolve_location(tmp_path, None, "https://bot:s3cret@mlflow.acme.io/path").describe()
    assert "s3cret" not in shown and "mlflow.acme.io/path" in shown


def test_a_committed_link_does_not_move_the_embedded_registry(tmp_path: Path) -> None:
    folder = _copy(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (folder / ".mlci").symlink_to(elsewhere)
    result = run_cli("run", str(folder), "--stage", "train")
    assert result.exit_code == 2 and "is a symbolic link" in result.stderr
    assert list(elsewhere.iterdir()) == []


def test_the_example_server_loads_the_registered_version(champion: tuple[str, Path]) -> None:
    """What a deployed image does: MLCI_MODEL_VERSION and MLFLOW_TRACKING_URI set, no local model file."""
    import os
    import subprocess
    import sys
    import urllib.request

    server, folder = champion
    version = json.loads((folder / "artifacts" / "registered.json").read_text())["version"]
    port = free_port()
    env = {
        **os.environ,
        "PORT": str(port),
        "HOST": "127.0.0.1",
        "MLCI_MODEL_VERSION": version,
        "MLFLOW_TRACKING_URI": server,
        "MLCI_MODEL_PATH": str(folder / "no-such-model.joblib"),
    }
    proc = subprocess.Popen([sys.executable, "serve.py"], cwd=folder, env=env, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 120
        while True:
            try:
                urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2).read()
                break
            except OSError:
                if proc.poll() is not None or time.monotonic() > deadline:
                    proc.kill()
                    pytest.fail(f"serve.py did not start: {proc.communicate()[1][-2000:]}")
                time.sleep(0.2)
        request = urllib.request.Request(
            f"http://127.0.0.1:{port}/predict",
            data=json.dumps({"instances": [[5.1, 3.5, 1.4, 0.2]]}).encode(),
            headers={"Content-Type": "application/json"},
        )
        answer = json.loads(urllib.request.urlopen(request, timeout=10).read())
        assert answer["predictions"] == ["setosa"]
    finally:
        proc.terminate()
        _, stderr = proc.communicate(timeout=10)
    assert f'"uri": "models:/iris-classifier/{version}"' in stderr


def test_a_version_registered_without_the_training_run_still_carries_its_metrics(server: str, tmp_path: Path) -> None:
    """A register job that did not get artifacts/run.json: the version's run still holds the
    metrics that blessed it, so once it is champion the gate can compare with it."""
    folder = _copy(tmp_path, "iris-no-run-file")
    ran = run_cli(
        "run", str(folder), "--registry", server, "--stage", "train", "--stage", "evaluate", "--stage", "gate"
    )
    assert ran.exit_code == 0, ran.stdout + ran.stderr
    training_run = json.loads((folder / "artifacts" / "run.json").read_text())["run_id"]
    (folder / "artifacts" / "run.json").unlink()
    registered = run_cli("register", str(folder), "--registry", server)
    assert registered.exit_code == 0, registered.stderr
    version = _client(server).get_model_version("iris-no-run-file", "1")
    assert version.run_id != training_run
    metrics = json.loads((folder / "artifacts" / "metrics.json").read_text())
    assert _client(server).get_run(version.run_id).data.metrics["accuracy"] == pytest.approx(metrics["accuracy"])
    assert run_cli("promote", "production", str(folder), "--registry", server).exit_code == 0
    good = _metrics(tmp_path, "good.json", accuracy=1.0, f1_macro=1.0, roc_auc_ovr=1.0)
    gated = run_cli(
        "gate", str(folder), "--metrics", str(good), "--registry", server, "--blessing", str(tmp_path / "b")
    )
    assert gated.exit_code == 0 and "Baseline: the champion, iris-no-run-file version 1" in gated.stdout
