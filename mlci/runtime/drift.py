"""Data drift between a reference sample (usually the training data) and current data.

Per numeric feature: the population stability index (PSI) over ten quantile bins
of the reference, and the two-sample Kolmogorov-Smirnov test. Per categorical
feature: PSI over the categories and the chi-square test of homogeneity.

The spec's `monitoring.drift.method` decides which number is held against the threshold:

- `psi`: a feature drifts when its PSI is above the threshold (0.1 to 0.25 is customary);
- `ks` or `chi2`: the threshold is a significance level and a feature drifts when its test's
  p-value is below it: KS for numeric features, chi-square for categorical ones.

Each numeric column is sorted once; quantiles, bin counts and the KS statistic all
come from the two sorted arrays, so the work is two sorts and a few binary searches.
"""

from __future__ import annotations

import math
import os
from dataclasses import dataclass
from typing import Any

import numpy as np

from mlci.runtime.tables import CategoricalColumn, Column, NumericColumn
from mlci.runtime.tabular import markdown_table, text_table

METHODS = ("psi", "ks", "chi2")
PSI_BINS = 10
EPSILON = 1e-4  # stands in for an empty bin's share, so that PSI stays finite
# A categorical column with more distinct values than this (and than half its rows) holds
# identifiers: every value is new in fresh data, so it would always "drift".
IDENTIFIER_MIN_DISTINCT = 50
PARALLEL_MIN_VALUES = 1_000_000  # numeric values in all, before threads pay for themselves


@dataclass(frozen=True)
class FeatureDrift:
    name: str
    kind: str  # numeric | categorical
    n_reference: int
    n_current: int
    missing_reference: int
    missing_current: int
    psi: float | None = None
    test: str | None = None  # ks | chi2
    statistic: float | None = None  # the KS distance or the chi-square statistic
    p_value: float | None = None
    dof: int | None = None
    value: float | None = None  # what was held against the threshold
    drifted: bool = False
    skipped: str | None = None  # why the feature was not compared
    change: str = ""  # a short human summary: mean 41.2 -> 47.9

    def to_dict(self) -> dict[str, Any]:
        return {
            "feature": self.name,
            "kind": self.kind,
            "n_reference": self.n_reference,
            "n_current": self.n_current,
            "missing_reference": self.missing_reference,
            "missing_current": self.missing_current,
            "psi": _finite(self.psi),
            "test": self.test,
            "statistic": _finite(self.statistic),
            "p_value": _finite(self.p_value),
            "dof": self.dof,
            "value": _finite(self.value),
            "drifted": self.drifted,
            "skipped": self.skipped,
            "change": self.change,
        }


def _finite(value: float | None) -> float | None:
    return None if value is None or not math.isfinite(value) else float(value)


# Statistics ------------------------------------------------------------------------------------------------------


def quantiles(sorted_values: np.ndarray, probabilities: np.ndarray) -> np.ndarray:
    """Linear-interpolation quantiles of sorted data (numpy's and pandas' default method)."""
    position = (len(sorted_values) - 1) * probabilities
    low = np.floor(position).astype(np.intp)
    high = np.minimum(low + 1, len(sorted_values) - 1)
    below, above = sorted_values[low], sorted_values[high]
    fraction = position - low
    # numpy's _lerp: interpolate from the nearer end, so a quantile never overshoots its neighbours.
    return np.where(fraction >= 0.5, above - (above - below) * (1 - fraction), below + (above - below) * fraction)


def bin_edges(reference_sorted: np.ndarray, bins: int = PSI_BINS) -> np.ndarray:
    """Inner cut points of the reference's quantile bins; bins are (-inf, e1], (e1, e2], ..., (ek, inf)."""
    return np.unique(quantiles(reference_sorted, np.linspace(0.0, 1.0, bins + 1)))[1:-1]


def bin_counts(sorted_values: np.ndarray, edges: np.ndarray) -> np.ndarray:
    cumulative = np.searchsorted(sorted_values, edges, side="right")
    return np.diff(np.concatenate(([0], cumulative, [len(sorted_values)])))


def psi(reference_counts: np.ndarray, current_counts: np.ndarray) -> float:
    expected = reference_counts / reference_counts.sum()
    actual = current_counts / current_counts.sum()
    expected = np.where(expected == 0, EPSILON, expected)
    actual = np.where(actual == 0, EPSILON, actual)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """The largest distance between the empirical CDFs of two sorted samples.

    The distance only changes at data points, so it is evaluated just right of each
    distinct value of either sample: ranks within the own sample come from where
    each run of ties ends, ranks in the other sample from one binary search."""
    a_ends = np.flatnonzero(np.append(a[1:] != a[:-1], True))
    b_ends = np.flatnonzero(np.append(b[1:] != b[:-1], True))
    n_a, n_b = len(a), len(b)
    at_a = np.abs((a_ends + 1) / n_a - np.searchsorted(b, a[a_ends], side="right") / n_b)
    at_b = np.abs(np.searchsorted(a, b[b_ends], side="right") / n_a - (b_ends + 1) / n_b)
    return float(max(at_a.max(), at_b.max()))


def ks_p_value(statistic: float, n_a: int, n_b: int) -> float:
    """Asymptotic two-sided p-value, with Stephens' correction for moderate sample sizes."""
    from scipy.special import kolmogorov  # lazily: scipy.special takes a moment to import

    root = math.sqrt(n_a * n_b / (n_a + n_b))
    return float(min(1.0, max(0.0, kolmogorov((root + 0.12 + 0.11 / root) * statistic))))


def chi2_test(reference_counts: np.ndarray, current_counts: np.ndarray) -> tuple[float, int, float]:
    """Chi-square test of homogeneity on a 2 x k table of counts: (statistic, dof, p-value)."""
    from scipy.special import chdtrc

    observed = np.vstack([reference_counts, current_counts]).astype(np.float64)
    observed = observed[:, observed.sum(axis=0) > 0]
    if observed.shape[1] < 2:
        return 0.0, 0, 1.0
    expected = np.outer(observed.sum(axis=1), observed.sum(axis=0)) / observed.sum()
    statistic = float(np.sum((observed - expected) ** 2 / expected))
    dof = observed.shape[1] - 1
    return statistic, dof, float(chdtrc(dof, statistic))


# Per feature -----------------------------------------------------------------------------------------------------


def _decide(method: str, threshold: float, psi_value: float, p_value: float) -> tuple[float, bool]:
    if method == "psi":
        return psi_value, psi_value > threshold
    return p_value, p_value < threshold


def _counts(name: str, kind: str, reference: Any, current: Any) -> tuple[dict[str, Any], FeatureDrift | None]:
    """The sizes every result reports, and the skipped result when one side has no values."""
    counts: dict[str, Any] = dict(
        n_reference=reference.count,
        n_current=current.count,
        missing_reference=reference.missing,
        missing_current=current.missing,
    )
    if reference.count and current.count:
        return counts, None
    side = "reference" if not reference.count else "current"
    return counts, FeatureDrift(name, kind, skipped=f"no values in the {side} data", **counts)


def compare_numeric(
    name: str, reference: NumericColumn, current: NumericColumn, method: str, threshold: float
) -> FeatureDrift:
    counts, empty = _counts(name, "numeric", reference, current)
    if empty:
        return empty
    a = np.sort(reference.values)
    b = np.sort(current.values)
    edges = bin_edges(a)
    psi_value = psi(bin_counts(a, edges), bin_counts(b, edges))
    statistic = ks_statistic(a, b)
    p_value = ks_p_value(statistic, len(a), len(b))
    value, drifted = _decide(method, threshold, psi_value, p_value)
    change = f"mean {float(a.mean()):.4g} -> {float(b.mean()):.4g}"
    return FeatureDrift(
        name, "numeric", psi=psi_value, test="ks", statistic=statistic, p_value=p_value,
        value=value, drifted=drifted, change=change, **counts,
    )  # fmt: skip


def compare_categorical(
    name: str, reference: CategoricalColumn, current: CategoricalColumn, method: str, threshold: float
) -> FeatureDrift:
    counts, empty = _counts(name, "categorical", reference, current)
    if empty:
        return empty
    distinct = len(reference.counts)
    if distinct > IDENTIFIER_MIN_DISTINCT and distinct > reference.count / 2:
        return FeatureDrift(
            name,
            "categorical",
            skipped=f"looks like an identifier ({distinct} distinct values in {reference.count} rows)",
            **counts,
        )
    categories = sorted(set(reference.counts) | set(current.counts))
    r = np.array([reference.counts.get(c, 0) for c in categories], dtype=np.float64)
    c = np.array([current.counts.get(c, 0) for c in categories], dtype=np.float64)
    psi_value = psi(r, c)
    statistic, dof, p_value = chi2_test(r, c)
    value, drifted = _decide(method, threshold, psi_value, p_value)
    shares_r, shares_c = r / r.sum(), c / c.sum()
    largest = int(np.argmax(np.abs(shares_c - shares_r)))
    change = f"{categories[largest]!r} {shares_r[largest]:.1%} -> {shares_c[largest]:.1%}"
    return FeatureDrift(
        name, "categorical", psi=psi_value, test="chi2", statistic=statistic, p_value=p_value, dof=dof,
        value=value, drifted=drifted, change=change, **counts,
    )  # fmt: skip


def _compare_one(name: str, ref: Column, cur: Column | None, method: str, threshold: float) -> FeatureDrift:
    if cur is None:
        return FeatureDrift(name, ref.kind, ref.count, 0, ref.missing, 0, skipped="not comparable in the current data")
    if isinstance(ref, NumericColumn) and isinstance(cur, NumericColumn):
        return compare_numeric(name, ref, cur, method, threshold)
    if isinstance(ref, CategoricalColumn) and isinstance(cur, CategoricalColumn):
        return compare_categorical(name, ref, cur, method, threshold)
    return FeatureDrift(
        name,
        ref.kind,
        ref.count,
        cur.count,
        ref.missing,
        cur.missing,
        skipped=f"{ref.kind} in the reference data but {cur.kind} in the current data",
    )


def compare_columns(
    reference: dict[str, Column],
    current: dict[str, Column],
    method: str,
    threshold: float,
) -> list[FeatureDrift]:
    """Drift of every reference column, in the reference's order.

    Features are independent and numpy releases the GIL while it sorts and searches, so
    large columns are compared on a few threads; small ones are not worth a thread."""
    if method not in METHODS:
        raise ValueError(f"unknown drift method {method!r} (one of {', '.join(METHODS)})")
    jobs = [(name, ref, current.get(name), method, threshold) for name, ref in reference.items()]
    values = sum(ref.count for _, ref, *_ in jobs if isinstance(ref, NumericColumn))
    workers = min(os.cpu_count() or 1, 8, len(jobs))
    if workers < 2 or values < PARALLEL_MIN_VALUES:
        return [_compare_one(*job) for job in jobs]
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(max_workers=workers) as pool:
        return list(pool.map(lambda job: _compare_one(*job), jobs))


def columns_from_arrays(arrays: dict[str, np.ndarray]) -> dict[str, Column]:
    """Columns from in-memory arrays: floats are numeric (NaN is missing), anything else categorical."""
    from mlci.runtime.tables import MISSING

    columns: dict[str, Column] = {}
    for name, array in arrays.items():
        if np.issubdtype(array.dtype, np.number):
            values = np.asarray(array, dtype=np.float64)
            present = ~np.isnan(values)
            columns[name] = NumericColumn(values[present], int(len(values) - present.sum()))
        else:
            counts: dict[str, int] = {}
            for value, count in _count(array).items():
                if value is None or str(value).strip().lower() in MISSING:
                    continue
                counts[str(value)] = count
            columns[name] = CategoricalColumn(counts, int(len(array) - sum(counts.values())))
    return columns


def _count(array: np.ndarray) -> dict[Any, int]:
    from collections import Counter

    return Counter(array.tolist())


def _rows(results: list[FeatureDrift]) -> list[tuple[str, ...]]:
    rows: list[tuple[str, ...]] = [("feature", "type", "psi", "test", "statistic", "p-value", "change", "result")]
    for r in results:
        if r.skipped:
            rows.append((r.name, r.kind, "-", "-", "-", "-", r.skipped, "skipped"))
            continue
        rows.append(
            (
                r.name,
                r.kind,
                f"{r.psi:.4f}",
                r.test or "-",
                f"{r.statistic:.4g}" if r.statistic is not None else "-",
                _p(r.p_value),
                r.change,
                "DRIFT" if r.drifted else "ok",
            )
        )
    return rows


def _rule(results: list[FeatureDrift], method: str, threshold: float) -> str:
    rule = f"psi > {threshold:g}" if method == "psi" else f"p-value < {threshold:g} (ks numeric, chi2 categorical)"
    drifted = sum(r.drifted for r in results)
    compared = sum(not r.skipped for r in results)
    return f"drift rule: {rule}; {drifted} of {compared} feature(s) drifted"


def format_table(results: list[FeatureDrift], method: str, threshold: float) -> str:
    return text_table(_rows(results)) + "\n" + _rule(results, method, threshold) + "\n"


def format_markdown(results: list[FeatureDrift], method: str, threshold: float) -> str:
    return f"### Data drift\n\n{markdown_table(_rows(results))}\n\n{_rule(results, method, threshold)}\n"


def _p(value: float | None) -> str:
    if value is None:
        return "-"
    return "<1e-16" if value < 1e-16 else f"{value:.3g}"
