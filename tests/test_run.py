"""`mlci run` on copies of the examples: real training, evaluation and the gate,
then a stricter gate that must fail and say which metric missed and by how much."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest

from tests.conftest import EXAMPLES, ROOT

# One gate per example made stricter than the trained model can pass; the credit-risk one
# is the fairness gate, so the whole chain from per-group metrics to the gate is exercised.
STRICTER = {
    "iris-classifier": ("metric: accuracy\n      threshold: 0.9\n", "metric: accuracy\n      threshold: 0.995\n"),
    "credit-risk": (
        "metric: demographic_parity_difference\n      threshold: 0.1\n",
        "metric: demographic_parity_difference\n      threshold: 0.001\n",
    ),
}
MISSED = {"iris-classifier": "accuracy", "credit-risk": "demographic_parity_difference"}


@pytest.fixture(scope="module", params=EXAMPLES, ids=[p.name for p in EXAMPLES])
def trained(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory):
    """A copy of the example after one full `mlci run`, and that run's result."""
    from tests.conftest import run_cli

    folder = tmp_path_factory.mktemp("run") / request.param.name
    shutil.copytree(request.param, folder, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    return folder, run_cli("run", str(folder))


def test_run_trains_evaluates_and_passes_the_gate(trained) -> None:
    folder, result = trained
    assert result.exit_code == 0, result.stdout + result.stderr
    for number, stage in enumerate(("train", "evaluate", "gate", "register"), start=1):
        assert re.search(rf"<== \[{number}/4\] {stage}: ok in \d+\.\ds", result.stderr), result.stderr
    assert "mlci run: all stages passed (train " in result.stderr
    metrics = json.loads((folder / "artifacts" / "metrics.json").read_text())
    assert {"accuracy", "n_test"} <= set(metrics)
    blessing = json.loads((folder / "artifacts" / "blessing.json").read_text())
    assert blessing["blessed"] is True
    assert blessing["metrics"] == metrics
    assert len(blessing["spec_sha256"]) == 64 and len(blessing["model_sha256"]) == 64
    # The data hashes come from the lineage recorded right after training.
    lineage = json.loads((folder / "artifacts" / "lineage.json").read_text())
    assert lineage["model"]["sha256"] == blessing["model_sha256"]
    for dataset in lineage["datasets"]:
        expected = {"uri": dataset["uri"], "sha256": dataset["sha256"], "source": "lineage"}
        assert blessing["datasets"][dataset["name"]] == expected
    assert blessing["lineage"]["file"] == "artifacts/lineage.json"


def test_credit_risk_writes_per_group_metrics_for_the_fairness_gate(trained) -> None:
    folder, _ = trained
    if folder.name != "credit-risk":
        pytest.skip("only credit-risk declares a sensitive attribute")
    metrics = json.loads((folder / "artifacts" / "metrics.json").read_text())
    assert set(metrics["groups"]) == {"F", "M"}
    rates = [group["positive_rate"] for group in metrics["groups"].values()]
    assert metrics["demographic_parity_difference"] == pytest.approx(max(rates) - min(rates), abs=1e-6)
    assert {"roc_auc", "f1", "accuracy"} <= set(metrics)


def test_a_stricter_threshold_fails_and_names_the_metric_and_margin(trained) -> None:
    from tests.conftest import run_cli

    folder, _ = trained
    spec = folder / "mlproject.yaml"
    original = spec.read_text()
    old, new = STRICTER[folder.name]
    assert old in original
    spec.write_text(original.replace(old, new))
    try:
        result = run_cli("run", str(folder))
    finally:
        spec.write_text(original)
    assert result.exit_code == 1
    metric = MISSED[folder.name]
    threshold = re.search(r"threshold: ([\d.]+)", new).group(1)
    found = re.search(rf"{metric} = ([\d.]+) \S+ the threshold {threshold} by ([\d.]+)", result.stdout)
    assert found, result.stdout
    value, margin = float(found.group(1)), float(found.group(2))
    assert margin == pytest.approx(abs(value - float(threshold)), abs=1e-6)
    assert re.search(rf"{metric}\s.*FAIL", result.stdout)
    assert "mlci run: failed at gate" in result.stderr
    assert not (folder / "artifacts" / "blessing.json").exists()


def test_run_stops_at_the_first_failing_stage_with_its_exit_code(tmp_path: Path, cli) -> None:
    folder = tmp_path / "iris"
    shutil.copytree(ROOT / "examples" / "iris-classifier", folder, ignore=shutil.ignore_patterns("artifacts"))
    spec = folder / "mlproject.yaml"
    spec.write_text(spec.read_text().replace("max_depth: 4", "max_depth: -3"))
    result = cli("run", str(folder))
    assert result.exit_code == 2  # train.py's exit code for unusable params
    assert "<== [1/4] train: failed (exit 2)" in result.stderr
    assert "evaluate" not in result.stderr
    assert "mlci run: failed at train" in result.stderr
    assert not (folder / "artifacts" / "lineage.json").exists()


def test_run_has_champion_and_challenger_on_a_laptop_with_no_server(trained) -> None:
    """The embedded registry (.mlci/registry.db): the run is tracked and registered there, a
    promotion makes it champion, and the next gate compares with it."""
    from tests.conftest import run_cli

    folder, result = trained
    name = folder.name  # model.name of both examples
    assert (folder / ".mlci" / "registry.db").is_file()
    assert "(embedded store, no server)" in result.stderr
    assert f"No champion: no version of {name} holds the 'champion' alias" in result.stdout
    registered = json.loads((folder / "artifacts" / "registered.json").read_text())
    assert registered["uri"] == f"models:/{name}/{registered['version']}"
    promoted = run_cli("promote", "production", str(folder))
    assert promoted.exit_code == 0, promoted.stderr
    gated = run_cli("run", str(folder), "--stage", "gate")
    assert gated.exit_code == 0, gated.stdout + gated.stderr
    assert f"Baseline: the champion, {name} version {registered['version']}" in gated.stdout
