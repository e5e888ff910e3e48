"""Time `mlci drift`'s statistics against a straightforward pandas + scipy version of the same.

    python benchmarks/drift_benchmark.py [--rows 1000000] [--numeric 16] [--categorical 4] [--csv]

Both sides get the same in-memory columns (numpy arrays; text columns as arrays of
Python strings) and compute, per numeric feature, PSI over ten reference quantile
bins and the two-sample KS test, and per categorical feature PSI and the chi-square
test. The comparison uses `pd.qcut`/`pd.cut`/`value_counts`, `scipy.stats.ks_2samp`
and `scipy.stats.chi2_contingency`; it needs pandas (optional: without it only mlci
is timed). `--csv` also times reading the data from CSV files. The script prints
the times, their ratio and the largest difference between the two sides' results.
It is a tool to run by hand, never a test.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

from mlci.runtime.drift import EPSILON, columns_from_arrays, compare_columns

CATEGORIES = [f"cat{i:02d}" for i in range(12)]


def _numeric(rng: np.random.Generator, kind: int, shift: float, rows: int) -> np.ndarray:
    if kind == 0:
        return rng.normal(50 + 10 * shift, 10, rows)
    if kind == 1:
        return rng.lognormal(3 + shift, 0.5, rows)
    if kind == 2:
        return rng.poisson(4 + 4 * shift, rows).astype(np.float64)  # few distinct values: many ties
    return rng.uniform(0, 1 + shift, rows)


def generate(rows: int, numeric: int, categorical: int, seed: int = 20261122) -> tuple[dict, dict]:
    """Reference and current data; every third column of the current data is shifted."""
    rng = np.random.default_rng(seed)
    reference: dict[str, np.ndarray] = {}
    current: dict[str, np.ndarray] = {}
    for i in range(numeric):
        reference[f"num{i:02d}"] = _numeric(rng, i % 4, 0.0, rows)
        current[f"num{i:02d}"] = _numeric(rng, i % 4, 0.15 if i % 3 == 0 else 0.0, rows)
    labels = np.array(CATEGORIES, dtype=object)
    for i in range(categorical):
        weights = rng.dirichlet(np.ones(len(CATEGORIES)))
        shifted = weights if i % 3 else np.roll(weights, 1) * 0.2 + weights * 0.8
        reference[f"cat{i:02d}"] = labels[rng.choice(len(CATEGORIES), rows, p=weights)]
        current[f"cat{i:02d}"] = labels[rng.choice(len(CATEGORIES), rows, p=shifted)]
    return reference, current


def run_mlci(reference: dict[str, np.ndarray], current: dict[str, np.ndarray]) -> dict[str, dict[str, Any]]:
    results = compare_columns(columns_from_arrays(reference), columns_from_arrays(current), "psi", 0.1)
    return {r.name: {"psi": r.psi, "statistic": r.statistic, "p_value": r.p_value} for r in results}


def _psi(expected: np.ndarray, actual: np.ndarray) -> float:
    expected = expected / expected.sum()
    actual = actual / actual.sum()
    expected = np.where(expected == 0, EPSILON, expected)
    actual = np.where(actual == 0, EPSILON, actual)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def run_pandas(reference: Any, current: Any) -> dict[str, dict[str, float]]:
    """The textbook version: one pandas/scipy call per statistic."""
    import pandas as pd
    from scipy import stats

    out = {}
    for name in reference.columns:
        ref, cur = reference[name], current[name]
        if pd.api.types.is_numeric_dtype(ref):
            _, edges = pd.qcut(ref, 10, retbins=True, duplicates="drop")
            edges[0], edges[-1] = -np.inf, np.inf
            expected = pd.cut(ref, edges).value_counts(sort=False).to_numpy()
            actual = pd.cut(cur, edges).value_counts(sort=False).to_numpy()
            test = stats.ks_2samp(ref, cur)
            out[name] = {"psi": _psi(expected, actual), "statistic": test.statistic, "p_value": test.pvalue}
        else:
            counts = pd.concat([ref.value_counts(), cur.value_counts()], axis=1).fillna(0).to_numpy().T
            test = stats.chi2_contingency(counts, correction=False)
            out[name] = {"psi": _psi(counts[0], counts[1]), "statistic": test.statistic, "p_value": test.pvalue}
    return out


def timed(function: Any, *args: Any, repeat: int = 1) -> tuple[float, Any]:
    best, result = float("inf"), None
    for _ in range(repeat):
        started = time.perf_counter()
        result = function(*args)
        best = min(best, time.perf_counter() - started)
    return best, result


def largest_differences(ours: dict, theirs: dict) -> dict[str, float]:
    return {
        key: max(abs(ours[name][key] - theirs[name][key]) for name in ours) for key in ("psi", "statistic", "p_value")
    }


def time_csv(reference: dict[str, np.ndarray], current: dict[str, np.ndarray], pandas: Any) -> None:
    from mlci.runtime.tables import read_table

    with tempfile.TemporaryDirectory() as folder:
        paths = []
        for label, columns in (("reference", reference), ("current", current)):
            path = Path(folder, f"{label}.csv")
            started = time.perf_counter()
            if pandas is not None:
                pandas.DataFrame(columns).to_csv(path, index=False)
            else:
                _write_csv(path, columns)
            print(f"  wrote {path.name}: {path.stat().st_size / 1e6:.0f} MB in {time.perf_counter() - started:.1f}s")
            paths.append(path)
        ours, _ = timed(lambda: [read_table(p, p.name) for p in paths])
        print(f"  read CSV, mlci (str.split + numpy):  {ours:7.2f}s")
        if pandas is not None:
            theirs, _ = timed(lambda: [pandas.read_csv(p) for p in paths])
            print(f"  read CSV, pandas.read_csv:           {theirs:7.2f}s   (mlci / pandas = {ours / theirs:.2f})")


def _write_csv(path: Path, columns: dict[str, np.ndarray]) -> None:
    import csv

    with path.open("w", newline="") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(zip(*(c.tolist() for c in columns.values()), strict=True))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--numeric", type=int, default=16)
    parser.add_argument("--categorical", type=int, default=4)
    parser.add_argument("--repeat", type=int, default=1, help="Best of this many runs.")
    parser.add_argument("--csv", action="store_true", help="Also time reading the data from CSV files.")
    args = parser.parse_args()

    print(f"generating {args.rows:,} rows x {args.numeric + args.categorical} columns "
          f"({args.numeric} numeric, {args.categorical} categorical), reference and current")  # fmt: skip
    reference, current = generate(args.rows, args.numeric, args.categorical)
    try:
        import pandas
    except ImportError:
        pandas = None

    ours, our_results = timed(run_mlci, reference, current, repeat=args.repeat)
    print(f"mlci drift (numpy):         {ours:7.2f}s")
    if pandas is None:
        print("pandas is not installed: skipping the pandas/scipy comparison (pip install pandas)")
    else:
        frames = pandas.DataFrame(reference), pandas.DataFrame(current)
        theirs, their_results = timed(run_pandas, *frames, repeat=args.repeat)
        print(f"pandas + scipy.stats:       {theirs:7.2f}s")
        print(f"ratio (pandas+scipy / mlci): {theirs / ours:6.2f}x")
        differences = largest_differences(our_results, their_results)
        print("largest difference between the two: " + ", ".join(f"{k} {v:.2g}" for k, v in differences.items()))
        drifted = sorted(n for n, r in our_results.items() if r["psi"] > 0.1)
        print(f"features over PSI 0.1: {len(drifted)} ({', '.join(drifted)})")
    if args.csv:
        time_csv(reference, current, pandas)
    return 0


if __name__ == "__main__":
    sys.exit(main())
