"""`mlci gate`: thresholds with direction, allowed change vs production, the blessing."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from mlci.runtime.gate import evaluate_gates
from mlci.spec import Gate, typed_spec
from tests.conftest import ROOT


def typed_gates(*gates: dict[str, object]) -> tuple[Gate, ...]:
    """Gates as the spec's evaluation section gives them, with the schema's defaults."""
    spec = {
        "apiVersion": "mlci/v1",
        "project": {"name": "gates", "owners": ["alice"]},
        "datasets": [{"name": "data", "uri": "data.csv"}],
        "training": {"command": "true"},
        "evaluation": {"command": "true", "gates": list(gates)},
        "model": {"name": "gates"},
    }
    return typed_spec(spec).evaluation.gates


GATES = typed_gates(
    {"metric": "accuracy", "threshold": 0.9, "direction": "higher", "max_regression": 0.02},
    {"metric": "latency_ms", "threshold": 100, "direction": "lower", "max_regression_relative": 0.1},
)


def test_thresholds_respect_direction() -> None:
    results = evaluate_gates(GATES, {"accuracy": 0.95, "latency_ms": 120})
    assert [r.passed for r in results] == [True, False]
    assert results[1].margin == pytest.approx(-20)
    assert "misses the threshold 100 by 20" in results[1].reason


def test_allowed_change_against_production() -> None:
    base = {"accuracy": 0.99, "latency_ms": 50}
    results = evaluate_gates(GATES, {"accuracy": 0.96, "latency_ms": 56}, base)
    # accuracy dropped 0.03 > 0.02 allowed; latency rose 6 > 10 % of 50 = 5.
    assert [r.passed for r in results] == [False, False]
    assert results[0].margin == pytest.approx(-0.01)
    assert "worse than the baseline" in results[0].reason
    ok = evaluate_gates(GATES, {"accuracy": 0.975, "latency_ms": 54}, base)
    assert all(r.passed for r in ok)


def test_missing_metric_fails_unless_optional() -> None:
    results = evaluate_gates(
        typed_gates({"metric": "f1", "threshold": 0.5}, {"metric": "auc", "threshold": 0.5, "required": False}),
        {"accuracy": 1.0, "groups": {"a": 1}},
    )
    assert [r.passed for r in results] == [False, True]


@pytest.fixture
def iris(tmp_path: Path) -> Path:
    folder = tmp_path / "iris"
    shutil.copytree(ROOT / "examples" / "iris-classifier", folder, ignore=shutil.ignore_patterns("artifacts"))
    return folder


def _metrics(folder: Path, **values: float) -> Path:
    path = folder / "artifacts" / "metrics.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(values))
    return path


def test_gate_blesses_a_passing_model(cli, iris: Path) -> None:
    _metrics(iris, accuracy=0.97, f1_macro=0.96, roc_auc_ovr=0.99)
    result = cli("gate", str(iris))
    assert result.exit_code == 0, result.stdout
    blessing = json.loads((iris / "artifacts" / "blessing.json").read_text())
    assert blessing["blessed"] is True
    assert blessing["metrics"]["accuracy"] == 0.97
    assert len(blessing["spec_sha256"]) == 64


def test_gate_failure_names_metric_and_margin_and_removes_blessing(cli, iris: Path) -> None:
    (iris / "artifacts").mkdir()
    (iris / "artifacts" / "blessing.json").write_text('{"blessed": true}')
    _metrics(iris, accuracy=0.85, f1_macro=0.96, roc_auc_ovr=0.99)
    result = cli("gate", str(iris))
    assert result.exit_code == 1
    assert "accuracy = 0.85 misses the threshold 0.9 by 0.05" in result.stdout
    assert "mlproject.yaml:" in result.stdout  # the finding points at the gate in the spec
    assert not (iris / "artifacts" / "blessing.json").exists()


def test_gate_with_baseline(cli, iris: Path, tmp_path: Path) -> None:
    _metrics(iris, accuracy=0.95, f1_macro=0.96, roc_auc_ovr=0.99)
    baseline = tmp_path / "production.json"
    baseline.write_text(json.dumps({"accuracy": 0.98}))
    result = cli("gate", str(iris), "--baseline", str(baseline))
    assert result.exit_code == 1
    assert f"0.03 worse than the --baseline file {baseline}" in result.stdout


def _table_header(stdout: str) -> list[str]:
    header = next(line for line in stdout.splitlines() if line.split()[:3] == ["metric", "value", "threshold"])
    return header.split()


def test_every_format_names_the_baseline_file_it_compared_with(cli, iris: Path, tmp_path: Path) -> None:
    """A --baseline file is not what serves in production: no report may call it so."""
    _metrics(iris, accuracy=0.95, f1_macro=0.96, roc_auc_ovr=0.99)
    baseline = tmp_path / "last-week.json"
    baseline.write_text(json.dumps({"accuracy": 0.98}))
    summary = tmp_path / "summary.md"
    result = cli("gate", str(iris), "--baseline", str(baseline), "-o", "text", "-o", f"markdown={summary}")
    assert result.exit_code == 1, result.stdout + result.stderr
    assert _table_header(result.stdout)[3:5] == ["--baseline", "file"]
    markdown = summary.read_text()
    assert "| metric | value | threshold | --baseline file | margin | result |" in markdown
    for text in (result.stdout, markdown):
        assert "production" not in text


def test_without_a_champion_the_table_says_there_is_no_baseline(cli, iris: Path, tmp_path: Path) -> None:
    """The embedded store holds no champion: thresholds only, and the heading says so."""
    _metrics(iris, accuracy=0.95, f1_macro=0.96, roc_auc_ovr=0.99)
    summary = tmp_path / "summary.md"
    result = cli("gate", str(iris), "-o", "text", "-o", f"markdown={summary}")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "No champion" in result.stdout
    assert _table_header(result.stdout)[3:5] == ["no", "baseline"]
    assert "| metric | value | threshold | no baseline | margin | result |" in summary.read_text()
    assert "production" not in result.stdout + summary.read_text()


def test_gate_on_broken_metrics_is_exit_2(cli, iris: Path) -> None:
    path = _metrics(iris)
    path.write_text("{not json")
    result = cli("gate", str(iris))
    assert result.exit_code == 2
    assert "metrics.json:1:2: invalid JSON" in result.stderr
