"""What train.py, evaluate.py and serve.py share: column names, paths, params, CSV I/O.

mlci runs each command with the project folder as working directory and passes
MLCI_PARAMS, MLCI_MODEL_PATH and MLCI_METRICS_FILE; every value has a default that
matches mlproject.yaml, so the scripts also run by hand.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from pathlib import Path
from typing import Any, NoReturn

import numpy as np

DATA_PATH = "data/iris.csv"  # datasets[0].uri in mlproject.yaml
FEATURES = ["sepal_length_cm", "sepal_width_cm", "petal_length_cm", "petal_width_cm"]
TARGET = "species"
DEFAULT_PARAMS: dict[str, Any] = {"n_estimators": 100, "max_depth": 4, "random_state": 42}


def fail(message: str) -> NoReturn:
    print(f"error: {message}", file=sys.stderr)
    sys.exit(2)


def model_path() -> Path:
    return Path(os.environ.get("MLCI_MODEL_PATH") or "artifacts/model.joblib")


def metrics_path() -> Path:
    return Path(os.environ.get("MLCI_METRICS_FILE") or "artifacts/metrics.json")


def test_split_path() -> Path:
    # Next to the model, so a CI job that passes the model directory on also passes the split.
    return model_path().parent / "test.csv"


def load_params() -> dict[str, Any]:
    params = dict(DEFAULT_PARAMS)
    raw = os.environ.get("MLCI_PARAMS", "").strip()
    if raw:
        try:
            given = json.loads(raw)
        except json.JSONDecodeError as exc:
            fail(f"MLCI_PARAMS is not valid JSON: {exc}")
        if not isinstance(given, dict):
            fail("MLCI_PARAMS must be a JSON object")
        params.update(given)
    return params


def read_csv(path: Path | str) -> tuple[np.ndarray, np.ndarray]:
    """Return (X, y) from a CSV with the FEATURES columns and the TARGET column."""
    path = Path(path)
    if not path.is_file():
        fail(f"{path} not found (run make_data.py or train.py first)")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [name for name in [*FEATURES, TARGET] if name not in (reader.fieldnames or [])]
        if missing:
            fail(f"{path} lacks the columns {', '.join(missing)}")
        rows = list(reader)
    X = np.array([[float(row[name]) for name in FEATURES] for row in rows], dtype=float)
    y = np.array([row[TARGET] for row in rows])
    return X, y


def write_csv(path: Path, X: np.ndarray, y: np.ndarray) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*FEATURES, TARGET])
        for row, label in zip(X, y, strict=True):
            writer.writerow([*(repr(float(value)) for value in row), label])


class LatencyHistogram:
    """Request latency in Prometheus's text format, with the standard library only.

    mlci's rendered canary analysis and alerts query `mlci_request_duration_seconds`
    (p95 from the buckets); Prometheus adds namespace, service and pod labels itself.
    """

    BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

    def __init__(self) -> None:
        import threading

        self._lock = threading.Lock()
        self._counts = [0] * len(self.BUCKETS)
        self._sum = 0.0
        self._total = 0

    def observe(self, seconds: float) -> None:
        with self._lock:
            for index, bound in enumerate(self.BUCKETS):
                if seconds <= bound:
                    self._counts[index] += 1
            self._sum += seconds
            self._total += 1

    def exposition(self) -> str:
        with self._lock:
            lines = [
                "# HELP mlci_request_duration_seconds Latency of prediction requests.",
                "# TYPE mlci_request_duration_seconds histogram",
            ]
            lines += [
                f'mlci_request_duration_seconds_bucket{{le="{bound}"}} {count}'
                for bound, count in zip(self.BUCKETS, self._counts, strict=True)
            ]
            lines += [
                f'mlci_request_duration_seconds_bucket{{le="+Inf"}} {self._total}',
                f"mlci_request_duration_seconds_sum {self._sum:.6f}",
                f"mlci_request_duration_seconds_count {self._total}",
            ]
        return "\n".join(lines) + "\n"
