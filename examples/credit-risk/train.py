"""Train the credit-risk model: standardised features into a logistic regression.

Uses the FEATURES columns only (no identifiers, no gender). Splits 70/30,
stratified on the label, with the `random_state` param as seed; writes the model to
MLCI_MODEL_PATH and the held-out rows, without identifiers, next to it (test.csv).
"""

from __future__ import annotations

import joblib
from sklearn.linear_model import LogisticRegression
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from common import DATA_PATH, fail, load_params, model_path, read_csv, test_split_path, write_test_split


def main() -> None:
    params = load_params()
    test_size = float(params.pop("test_size", 0.3))
    seed = params.get("random_state", 7)
    X, y, gender = read_csv(DATA_PATH)
    X_train, X_test, y_train, y_test, _, gender_test = train_test_split(
        X, y, gender, test_size=test_size, stratify=y, random_state=seed
    )
    try:
        model = make_pipeline(StandardScaler(), LogisticRegression(**params))
        model.fit(X_train, y_train)
    except (TypeError, ValueError) as exc:  # scikit-learn validates params in fit()
        fail(f"training failed, check training.params: {exc}")

    out = model_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out)
    write_test_split(test_split_path(), X_test, y_test, gender_test)
    shown = ", ".join(f"{key}={value}" for key, value in sorted(params.items()))
    print(
        f"trained StandardScaler + LogisticRegression({shown}) on {len(y_train)} rows; "
        f"model -> {out}, held-out {len(y_test)} rows -> {test_split_path()}"
    )


if __name__ == "__main__":
    main()
