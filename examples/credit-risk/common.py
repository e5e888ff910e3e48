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

DATA_PATH = "data/applications.csv"  # datasets[0].uri in mlproject.yaml
# The model's inputs. customer_id and postcode are identifiers, gender is the sensitive
# attribute: none of them is a feature. age is personal data but a legitimate risk factor.
FEATURES = ["age", "income", "loan_amount", "term_months", "credit_history_years", "n_late_payments"]
SENSITIVE = "gender"
TARGET = "default"
COLUMNS = ["customer_id", "age", "postcode", "gender", "income", "loan_amount", "term_months",
           "credit_history_years", "n_late_payments", "default"]  # fmt: skip
DEFAULT_PARAMS: dict[str, Any] = {"C": 1.0, "max_iter": 500, "random_state": 7}


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


def read_csv(path: Path | str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Return (X, y, gender) from a CSV with the FEATURES, SENSITIVE and TARGET columns."""
    path = Path(path)
    if not path.is_file():
        fail(f"{path} not found (run make_data.py or train.py first)")
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        needed = [*FEATURES, SENSITIVE, TARGET]
        missing = [name for name in needed if name not in (reader.fieldnames or [])]
        if missing:
            fail(f"{path} lacks the columns {', '.join(missing)}")
        rows = list(reader)
    X = np.array([[float(row[name]) for name in FEATURES] for row in rows], dtype=float)
    y = np.array([int(row[TARGET]) for row in rows])
    gender = np.array([row[SENSITIVE] for row in rows])
    return X, y, gender


def write_test_split(path: Path, X: np.ndarray, y: np.ndarray, gender: np.ndarray) -> None:
    """Write the held-out rows without identifiers: evaluation needs features, gender, label."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*FEATURES, SENSITIVE, TARGET])
        for row, label, group in zip(X, y, gender, strict=True):
            writer.writerow([*(repr(float(value)) for value in row), group, int(label)])
