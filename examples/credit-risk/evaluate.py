"""Score the trained model on the held-out split and write the metrics file.

Top-level keys are numbers that mlci's gates read: roc_auc, f1, accuracy,
demographic_parity_difference (the absolute gap between the genders' rates of
predicted default) and n_test. Per-gender metrics sit under "groups", for the
model card and for review, not for gates. Sorted keys, floats to 6 decimals.
"""

from __future__ import annotations

import json
from typing import Any

import joblib
import numpy as np
from sklearn.metrics import accuracy_score, f1_score, recall_score, roc_auc_score

from common import fail, metrics_path, model_path, read_csv, test_split_path

THRESHOLD = 0.5  # a score at or above it is a predicted default; serve.py uses the same


def group_metrics(y: np.ndarray, score: np.ndarray, predicted: np.ndarray) -> dict[str, Any]:
    return {
        "n": len(y),
        "base_rate": round(float(y.mean()), 6),
        "positive_rate": round(float(predicted.mean()), 6),
        "true_positive_rate": round(float(recall_score(y, predicted, zero_division=0)), 6),
        "accuracy": round(float(accuracy_score(y, predicted)), 6),
        "roc_auc": round(float(roc_auc_score(y, score)), 6) if len(set(y)) == 2 else None,
    }


def main() -> None:
    if not model_path().is_file():
        fail(f"{model_path()} not found (run train.py first)")
    model = joblib.load(model_path())
    X_test, y_test, gender = read_csv(test_split_path())
    score = model.predict_proba(X_test)[:, 1]
    predicted = (score >= THRESHOLD).astype(int)

    groups = {
        name: group_metrics(y_test[gender == name], score[gender == name], predicted[gender == name])
        for name in sorted(set(gender))
    }
    positive_rates = [group["positive_rate"] for group in groups.values()]
    tprs = [group["true_positive_rate"] for group in groups.values()]
    metrics = {
        "roc_auc": round(float(roc_auc_score(y_test, score)), 6),
        "f1": round(float(f1_score(y_test, predicted)), 6),
        "accuracy": round(float(accuracy_score(y_test, predicted)), 6),
        "demographic_parity_difference": round(max(positive_rates) - min(positive_rates), 6),
        "equal_opportunity_difference": round(max(tprs) - min(tprs), 6),
        "n_test": len(y_test),
        "groups": groups,
    }
    out = metrics_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(
        f"metrics -> {out}: "
        + ", ".join(f"{k}={v}" for k, v in sorted(metrics.items()) if not isinstance(v, dict))
    )


if __name__ == "__main__":
    main()
