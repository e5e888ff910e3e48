"""Train the iris classifier: a random forest on a stratified 80/20 split.

Writes the model to MLCI_MODEL_PATH and the held-out 20 % next to it (test.csv),
which evaluate.py scores, so the metrics never come from training rows. The split
seed is the `random_state` param; an optional `test_size` param overrides 0.2.
"""

from __future__ import annotations

import joblib
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import train_test_split

from common import DATA_PATH, fail, load_params, model_path, read_csv, test_split_path, write_csv


def main() -> None:
    params = load_params()
    test_size = float(params.pop("test_size", 0.2))
    seed = params.get("random_state", 42)
    X, y = read_csv(DATA_PATH)
    X_train, X_test, y_train, y_test = train_test_split(
        X, y, test_size=test_size, stratify=y, random_state=seed
    )
    try:
        model = RandomForestClassifier(**params)
        model.fit(X_train, y_train)
    except (TypeError, ValueError) as exc:  # scikit-learn validates params in fit()
        fail(f"training failed, check training.params: {exc}")

    out = model_path()
    out.parent.mkdir(parents=True, exist_ok=True)
    joblib.dump(model, out)
    write_csv(test_split_path(), X_test, y_test)
    shown = ", ".join(f"{key}={value}" for key, value in sorted(params.items()))
    print(
        f"trained RandomForestClassifier({shown}) on {len(y_train)} rows; "
        f"model -> {out}, held-out {len(y_test)} rows -> {test_split_path()}"
    )


if __name__ == "__main__":
    main()
