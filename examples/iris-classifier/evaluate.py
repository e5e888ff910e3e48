"""Score the trained model on the held-out split and write the metrics file.

The metrics file is one flat JSON object of numbers (sorted keys, 6 decimals)
that mlci's evaluation gates read: accuracy, f1_macro, roc_auc_ovr, n_test.
"""

from __future__ import annotations

import json

import joblib
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score

from common import fail, metrics_path, model_path, read_csv, test_split_path


def main() -> None:
    if not model_path().is_file():
        fail(f"{model_path()} not found (run train.py first)")
    model = joblib.load(model_path())
    X_test, y_test = read_csv(test_split_path())
    predicted = model.predict(X_test)
    probabilities = model.predict_proba(X_test)
    metrics = {
        "accuracy": round(float(accuracy_score(y_test, predicted)), 6),
        "f1_macro": round(float(f1_score(y_test, predicted, average="macro")), 6),
        "roc_auc_ovr": round(
            float(roc_auc_score(y_test, probabilities, multi_class="ovr", labels=model.classes_)), 6
        ),
        "n_test": len(y_test),
    }
    out = metrics_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    print(f"metrics -> {out}: " + ", ".join(f"{k}={v}" for k, v in sorted(metrics.items())))


if __name__ == "__main__":
    main()
