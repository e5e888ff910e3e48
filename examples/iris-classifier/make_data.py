"""Write data/iris.csv from the copy of the Iris data that scikit-learn ships.

No download: load_iris reads a file inside the scikit-learn package. The output
is byte-for-byte deterministic, so its sha256 can be pinned in mlproject.yaml.
"""

from __future__ import annotations

import csv
import hashlib
from pathlib import Path

from sklearn.datasets import load_iris

from common import DATA_PATH, FEATURES, TARGET


def main() -> None:
    iris = load_iris()
    out = Path(DATA_PATH)
    out.parent.mkdir(parents=True, exist_ok=True)
    with out.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow([*FEATURES, TARGET])
        for row, label in zip(iris.data, iris.target, strict=True):
            # The source values have one decimal; fixed formatting keeps the bytes stable.
            writer.writerow([*(f"{value:.1f}" for value in row), iris.target_names[label]])
    digest = hashlib.sha256(out.read_bytes()).hexdigest()
    print(f"wrote {out} ({len(iris.data)} rows), sha256 {digest}")


if __name__ == "__main__":
    main()
