"""`mlci drift`: PSI, KS and chi-square per feature, on generated data with a known shift."""

from __future__ import annotations

import csv
import gzip
import json
import shutil
from pathlib import Path

import numpy as np
import pytest

from mlci.runtime.drift import bin_counts, bin_edges, chi2_test, ks_p_value, ks_statistic, psi, quantiles
from tests.conftest import ROOT

ROWS = 4000


def _write_csv(path: Path, columns: dict[str, np.ndarray]) -> Path:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(columns)
        writer.writerows(zip(*columns.values(), strict=True))
    return path


def _sample(rng: np.random.Generator, shift: float = 0.0, share_a: float = 0.5) -> dict[str, np.ndarray]:
    return {
        "shifted": np.round(rng.normal(10 + shift, 2, ROWS), 4),
        "stable": np.round(rng.exponential(3, ROWS), 4),
        "count": rng.poisson(2, ROWS),
        "segment": rng.choice(["a", "b", "c"], ROWS, p=[share_a, 0.3, 0.7 - share_a]),
        "region": rng.choice(["eu", "us"], ROWS),
    }


@pytest.fixture
def data(tmp_path: Path) -> tuple[Path, Path]:
    rng = np.random.default_rng(20261122)
    reference = _write_csv(tmp_path / "reference.csv", _sample(rng))
    current = _write_csv(tmp_path / "current.csv", _sample(rng, shift=1.0, share_a=0.3))
    return reference, current


def _features(stdout: str) -> dict[str, dict]:
    return {f["feature"]: f for f in json.loads(stdout)["drift"]["features"]}


# The statistics against scipy's ----------------------------------------------------------------------------------


def test_ks_statistic_and_p_value_match_scipy() -> None:
    stats = pytest.importorskip("scipy.stats")
    rng = np.random.default_rng(1)
    for a, b in [
        (rng.normal(0, 1, 3000), rng.normal(0.1, 1, 2500)),
        (rng.poisson(3, 5000).astype(float), rng.poisson(3.2, 4000).astype(float)),  # many ties
        (rng.normal(0, 1, 20000), rng.normal(0, 1, 30000)),
    ]:
        expected = stats.ks_2samp(a, b, method="asymp")
        statistic = ks_statistic(np.sort(a), np.sort(b))
        assert statistic == pytest.approx(expected.statistic, abs=1e-12)
        assert ks_p_value(statistic, len(a), len(b)) == pytest.approx(expected.pvalue, abs=0.01)


def test_chi2_matches_scipy_without_yates_correction() -> None:
    stats = pytest.importorskip("scipy.stats")
    reference = np.array([500.0, 300, 200, 0])
    current = np.array([420.0, 330, 240, 10])
    statistic, dof, p_value = chi2_test(reference, current)
    expected = stats.chi2_contingency(np.vstack([reference, current]), correction=False)
    assert statistic == pytest.approx(expected.statistic)
    assert dof == expected.dof
    assert p_value == pytest.approx(expected.pvalue)


def test_quantiles_match_numpy() -> None:
    values = np.sort(np.random.default_rng(2).normal(size=1001))
    probabilities = np.linspace(0, 1, 11)
    np.testing.assert_allclose(quantiles(values, probabilities), np.quantile(values, probabilities), rtol=0, atol=0)


def test_psi_by_hand() -> None:
    # Shares 0.5/0.5 against 0.8/0.2: (0.3 ln 1.6) + (-0.3 ln 0.4).
    assert psi(np.array([50, 50]), np.array([80, 20])) == pytest.approx(0.3 * np.log(1.6) - 0.3 * np.log(0.4))
    assert psi(np.array([10, 10]), np.array([10, 10])) == 0
    # An empty bin counts as a tiny share instead of making PSI infinite.
    assert np.isfinite(psi(np.array([10, 0]), np.array([5, 5])))


def test_quantile_bins_of_discrete_data_merge_repeated_edges() -> None:
    reference = np.sort(np.array([1.0] * 60 + [2.0] * 40))
    edges = bin_edges(reference)
    # Deciles 0 to 0.5 are all 1 (the minimum), 0.7 to 1 all 2 (the maximum): one inner edge is left.
    assert edges == pytest.approx([1.4])
    assert list(bin_counts(reference, edges)) == [60, 40]
    assert list(bin_counts(np.array([0.0, 1.0, 1.5, 2.0, 9.0]), edges)) == [2, 3]


# The command ----------------------------------------------------------------------------------------------------


def test_a_shifted_column_is_flagged_and_unshifted_ones_are_not(cli, data: tuple[Path, Path]) -> None:
    reference, current = data
    result = cli("drift", "--reference", str(reference), "--current", str(current))
    assert result.exit_code == 1, result.stdout + result.stderr
    lines = {line.split()[0]: line for line in result.stdout.splitlines() if line and not line.startswith(" ")}
    assert lines["shifted"].endswith("DRIFT")
    assert lines["segment"].endswith("DRIFT")
    for name in ("stable", "count", "region"):
        assert lines[name].endswith("ok"), lines[name]
    assert "drift/shifted" in result.stdout and "shifted drifted: PSI" in result.stdout
    assert "drift rule: psi > 0.1; 2 of 5 feature(s) drifted" in result.stdout


def test_json_report_has_every_feature(cli, data: tuple[Path, Path]) -> None:
    reference, current = data
    result = cli("drift", "--reference", str(reference), "--current", str(current), "-o", "json")
    assert result.exit_code == 1
    document = json.loads(result.stdout)  # nothing else on stdout
    features = _features(result.stdout)
    assert document["drift"]["drifted"] == ["shifted", "segment"]
    assert features["shifted"]["kind"] == "numeric" and features["shifted"]["test"] == "ks"
    assert features["shifted"]["psi"] > 0.1 > features["stable"]["psi"]
    assert features["segment"]["kind"] == "categorical" and features["segment"]["test"] == "chi2"
    assert features["region"]["p_value"] > 0.05
    assert [f["rule_id"] for f in document["findings"]] == ["drift/shifted", "drift/segment"]
    assert "feature" in result.stderr  # the table went to stderr, for the log


def test_statistical_tests_at_a_significance_level(cli, data: tuple[Path, Path]) -> None:
    reference, current = data
    args = ("drift", "--reference", str(reference), "--current", str(current), "-o", "json")
    result = cli(*args, "--method", "ks", "--threshold", "0.001")
    assert result.exit_code == 1
    assert json.loads(result.stdout)["drift"]["drifted"] == ["shifted", "segment"]
    unshifted = cli("drift", "--reference", str(reference), "--current", str(reference), "--method", "chi2")
    assert unshifted.exit_code == 0
    assert "0 of 5 feature(s) drifted" in unshifted.stdout


def test_no_drift_between_two_samples_of_the_same_distribution(cli, tmp_path: Path) -> None:
    rng = np.random.default_rng(7)
    reference = _write_csv(tmp_path / "a.csv", _sample(rng))
    current = _write_csv(tmp_path / "b.csv", _sample(rng))
    result = cli("drift", "--reference", str(reference), "--current", str(current))
    assert result.exit_code == 0, result.stdout
    assert "no findings" in result.stdout


def test_settings_come_from_the_spec(cli, data: tuple[Path, Path], tmp_path: Path) -> None:
    reference, current = data
    folder = tmp_path / "project"
    shutil.copytree(ROOT / "examples" / "credit-risk", folder, ignore=shutil.ignore_patterns("artifacts"))
    shutil.copy(reference, folder / "data" / "reference.csv")
    shutil.copy(current, folder / "data" / "current.csv")
    spec = folder / "mlproject.yaml"
    text = spec.read_text().replace("reference: data/applications.csv", "reference: data/reference.csv")
    text = text.replace("\n    threshold: 0.1\n", "\n    threshold: 5.0\n    current: data/current.csv\n")
    spec.write_text(text)
    result = cli("drift", str(folder), "-o", "json")
    assert result.exit_code == 0, result.stderr  # a PSI threshold of 5 tolerates the shift
    assert json.loads(result.stdout)["drift"]["threshold"] == 5.0
    assert cli("drift", str(folder), "--threshold", "0.1").exit_code == 1  # the command line wins


def test_missing_values_identifiers_and_excluded_columns(cli, tmp_path: Path) -> None:
    rng = np.random.default_rng(3)
    values = rng.normal(size=ROWS).round(3).astype(str)
    values[::10] = ""
    values[5::10] = "NA"
    columns = {"id": np.array([f"c{i:06d}" for i in range(ROWS)]), "x": values, "noise": rng.normal(size=ROWS)}
    reference = _write_csv(tmp_path / "r.csv", columns)
    result = cli(
        "drift", "--reference", str(reference), "--current", str(reference), "-o", "json", "--exclude", "noise"
    )
    assert result.exit_code == 0, result.stderr
    features = _features(result.stdout)
    assert "noise" not in features
    assert features["id"]["skipped"].startswith("looks like an identifier")
    assert features["x"]["kind"] == "numeric"
    assert features["x"]["missing_reference"] == ROWS // 5
    assert features["x"]["n_reference"] == ROWS - ROWS // 5


def test_gzip_csv(cli, data: tuple[Path, Path], tmp_path: Path) -> None:
    reference, current = data
    packed = tmp_path / "current.csv.gz"
    packed.write_bytes(gzip.compress(current.read_bytes()))
    result = cli("drift", "--reference", str(reference), "--current", str(packed), "--column", "stable")
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "0 of 1 feature(s) drifted" in result.stdout


def test_parquet_when_pyarrow_is_installed(cli, data: tuple[Path, Path], tmp_path: Path) -> None:
    pa = pytest.importorskip("pyarrow")
    pq = pytest.importorskip("pyarrow.parquet")
    reference, current = data
    with current.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    table = pa.table(
        {
            "shifted": [float(r["shifted"]) for r in rows],
            "stable": [float(r["stable"]) for r in rows],
            "count": [int(r["count"]) for r in rows],
            "segment": pa.array([r["segment"] for r in rows]).dictionary_encode(),
            "region": [r["region"] if i % 50 else None for i, r in enumerate(rows)],
        }
    )
    pq.write_table(table, tmp_path / "current.parquet")
    from_csv = cli("drift", "--reference", str(reference), "--current", str(current), "-o", "json")
    from_parquet = cli(
        "drift", "--reference", str(reference), "--current", str(tmp_path / "current.parquet"), "-o", "json"
    )
    assert from_parquet.exit_code == 1, from_parquet.stderr
    csv_features, parquet_features = _features(from_csv.stdout), _features(from_parquet.stdout)
    for name in ("shifted", "stable", "count", "segment"):
        assert parquet_features[name]["psi"] == pytest.approx(csv_features[name]["psi"])
    assert parquet_features["region"]["missing_current"] == len(rows) // 50


def _columns(path: Path) -> dict:
    from mlci.runtime.tables import read_table

    table = read_table(path, path.name)
    return {
        name: (column.values.tolist(), column.missing) if column.kind == "numeric" else (column.counts, column.missing)
        for name, column in table.columns.items()
    }


@pytest.mark.parametrize(
    "variant",
    [
        lambda text: text.replace("\n", "\r\n"),  # Windows line ends
        lambda text: "\ufeff" + text,  # a byte order mark
        lambda text: text.rstrip("\n"),  # no newline at the end
        lambda text: '"x"' + text[1:],  # a quoted header cell: read by the csv module
        lambda text: text.replace("\n", "\n\n", 3),  # blank lines: read by the csv module
    ],
    ids=["crlf", "bom", "no-final-newline", "quoted", "blank-lines"],
)
def test_every_way_of_writing_the_same_csv_reads_the_same(tmp_path: Path, variant) -> None:
    rng = np.random.default_rng(5)
    values = rng.normal(size=300).round(6).astype(str)
    values[::7] = ""
    plain = _write_csv(tmp_path / "plain.csv", {"x": values, "k": rng.choice(["p", "q", "NA"], 300)})
    other = tmp_path / "other.csv"
    other.write_bytes(variant(plain.read_text()).encode())
    assert _columns(other) == _columns(plain)


def test_a_column_that_turns_to_text_late_is_categorical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from mlci.runtime import tables

    monkeypatch.setattr(tables, "BLOCK_BYTES", 4096)  # many blocks: the text comes after the first
    rows = 5000
    path = tmp_path / "late.csv"
    path.write_text("code,n\n" + "".join(f"{i % 9},{i}\n" for i in range(rows - 1)) + "X9,1\n")
    table = tables.read_table(path, "late.csv")
    assert table.columns["code"].kind == "categorical"
    assert table.columns["code"].counts["X9"] == 1 and sum(table.columns["code"].counts.values()) == rows
    assert table.columns["code"].counts["0"] == len(range(0, rows - 1, 9))
    assert table.columns["n"].kind == "numeric"


@pytest.mark.parametrize(
    ("content", "where", "problem"),
    [
        ("a,b\n1,x\n\n2,y,3\n", ":4:", "3 fields, but the header has 2 columns"),
        ("a,b\n1,x\n2\n3,y\n", ":3:", "1 fields, but the header has 2 columns"),
        ("a,b\n1,x\n2,y\nlots,z\n", ":4:", "column 'a' (field 1): 'lots' is not a number"),
        ("b\nx\n", ":1:", "lacks the column(s) a"),
        ("", ":1:", "the file is empty"),
        ("a,b\n", ":2:", "no data rows"),
        ('a,b\n1,"x\n', ":2:", "invalid CSV"),
        ("a,a\n1,2\n", ":1:", "column 'a' appears twice"),
    ],
)
def test_bad_current_data_is_exit_2_with_file_and_line(
    cli, tmp_path: Path, content: str, where: str, problem: str
) -> None:
    reference = tmp_path / "reference.csv"
    reference.write_text("a,b\n1,x\n2,y\n3,x\n")
    current = tmp_path / "current.csv"
    current.write_text(content)
    result = cli("drift", "--reference", str(reference), "--current", str(current))
    assert result.exit_code == 2
    assert f"current.csv{where}" in result.stderr
    assert problem in result.stderr
    assert "Traceback" not in result.stderr


def test_missing_files_and_settings_are_exit_2(cli, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)  # no mlproject.yaml here: the defaults apply
    result = cli("drift", "--reference", "nowhere.csv", "--current", "nowhere.csv")
    assert result.exit_code == 2
    assert "nowhere.csv: no such file" in result.stderr
    assert cli("drift", "--current", "x.csv").exit_code == 2
    (tmp_path / "r.csv").write_text("a\n1\n")
    bad_column = cli("drift", "--reference", "r.csv", "--current", "r.csv", "--column", "zz")
    assert bad_column.exit_code == 2
    assert "has no column(s) zz" in bad_column.stderr
    parquet = cli("drift", "--reference", "r.csv", "--current", "x.parquet")
    assert parquet.exit_code == 2
