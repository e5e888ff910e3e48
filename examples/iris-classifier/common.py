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
