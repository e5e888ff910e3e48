"""`mlci drift` reads current data from remote URIs (streamed through fsspec) and publishes
its scores to a Pushgateway under the names and labels the rendered PrometheusRule queries.

No Pushgateway binary can be installed here (the Go module proxy refuses
github.com/prometheus/pushgateway), so the peer is a real HTTP server on 127.0.0.1 that
speaks the Pushgateway's push API and parses each body with prometheus_client's parser
of the text exposition format, refusing what it cannot parse, as the Pushgateway does."""

from __future__ import annotations

import csv
import json
import shutil
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ROOT
from tests.promql import alert_expressions, selectors
from tests.remote_data import https_files, memory_store

pytest.importorskip("numpy")


@pytest.fixture
def memory_fs() -> Iterator[object]:
    yield from memory_store()


@pytest.fixture
def project(tmp_path: Path) -> Path:
    folder = tmp_path / "iris-classifier"
    shutil.copytree(ROOT / "examples" / "iris-classifier", folder, ignore=shutil.ignore_patterns("artifacts"))
    return folder


def _shifted_iris(project: Path, feature: str = "petal_length_cm", by: float = 2.0) -> bytes:
    """The reference data with one feature shifted: that feature drifts, the others do not."""
    rows = list(csv.DictReader((project / "data" / "iris.csv").open(newline="")))
    for row in rows:
        row[feature] = str(float(row[feature]) + by)
    lines = [",".join(rows[0])] + [",".join(row.values()) for row in rows]
    return ("\n".join(lines) + "\n").encode()


# Remote current data -------------------------------------------------------------------------------------------


def test_current_data_from_https(cli, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    served = tmp_path / "served"
    served.mkdir()
    (served / "today.csv").write_bytes(_shifted_iris(project))
    with https_files(served, monkeypatch, tmp_path / "tls") as base:
        url = f"{base}/today.csv"
        result = cli("drift", str(project), "--current", url, "-o", "json")
    assert result.exit_code == 1, result.stderr
    report = json.loads(result.stdout)["drift"]
    assert report["current"] == {"file": url, "rows": 150}
    assert report["drifted"] == ["petal_length_cm"]


def test_current_data_from_the_spec_uri_through_fsspec(cli, project: Path, memory_fs: Any) -> None:
    memory_fs.pipe("/live/today.csv", (project / "data" / "iris.csv").read_bytes())
    spec = project / "mlproject.yaml"
    spec.write_text(
        spec.read_text().replace(
            "    reference: data/iris.csv\n", "    reference: data/iris.csv\n    current: memory://live/today.csv\n"
        )
    )
    result = cli("drift", str(project), "-o", "json")
    assert result.exit_code == 0, result.stderr
    assert json.loads(result.stdout)["drift"]["current"]["file"] == "memory://live/today.csv"


def test_a_scheme_mlci_cannot_read_is_exit_2(cli, project: Path) -> None:
    result = cli("drift", str(project), "--current", "ftp://example.com/today.csv")
    assert result.exit_code == 2
    assert "does not read ftp:// data" in result.stderr


def test_a_missing_protocol_library_is_exit_2_naming_the_extra(
    cli, project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "s3fs", None)  # as when it is not installed
    result = cli("drift", str(project), "--current", "s3://bucket/today.csv")
    assert result.exit_code == 2
    assert "s3fs" in result.stderr and "pip install 'mlci[remote]'" in result.stderr


# Publishing ------------------------------------------------------------------------------------------------------


class Pushgateway:
    """What the test's Pushgateway received: (method, path, content type, parsed families)."""

    def __init__(self) -> None:
        self.pushes: list[tuple[str, str, str, list[Any]]] = []


@contextmanager
def pushgateway() -> Iterator[tuple[str, Pushgateway]]:
    from prometheus_client.parser import text_string_to_metric_families

    received = Pushgateway()

    class Handler(BaseHTTPRequestHandler):
        def _push(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
            if not self.path.startswith("/metrics/job/"):
                self.send_error(404)
                return
            try:
                families = list(text_string_to_metric_families(body))
            except Exception as exc:  # what the Pushgateway answers to a body it cannot parse
                self.send_error(400, f"text format parsing error: {exc}")
                return
            received.pushes.append((self.command, self.path, self.headers.get("Content-Type", ""), families))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        do_PUT = do_POST = _push

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", received
    finally:
        server.shutdown()
        server.server_close()


def _rendered_drift_alert(project: Path, tmp_path: Path) -> tuple[str, dict[str, str]]:
    """The metric and label matchers the rendered production PrometheusRule's drift alert queries."""
    from tests.conftest import run_cli

    out = tmp_path / "rendered"
    assert run_cli("render", str(project), "--target", "kubernetes", "--out", str(out)).exit_code == 0
    expressions = alert_expressions(out / "k8s" / "overlays" / "production" / "prometheusrule.yaml")
    drift_selectors = [s for expr in expressions.values() for s in selectors(expr) if "drift" in s[0]]
    assert len(drift_selectors) == 1, expressions
    return drift_selectors[0]


def test_scores_reach_the_pushgateway_under_the_names_the_alert_queries(cli, project: Path, tmp_path: Path) -> None:
    metric, matchers = _rendered_drift_alert(project, tmp_path)
    current = tmp_path / "today.csv"
    current.write_bytes(_shifted_iris(project))
    with pushgateway() as (url, gateway):
        result = cli("drift", str(project), "--current", str(current), "--pushgateway", url, "-o", "json")
    assert result.exit_code == 1, result.stderr  # drift found, and published
    assert "published drift scores to" in result.stderr
    [(method, path, content_type, families)] = gateway.pushes
    assert method == "PUT"  # replaces the group: features no longer compared leave no stale score
    assert path == "/metrics/job/mlci-drift/project/iris-classifier"
    assert content_type.startswith("text/plain; version=0.0.4")
    by_name = {family.name: family for family in families}
    assert by_name[metric].type == "gauge"
    report = {f["feature"]: f for f in json.loads(result.stdout)["drift"]["features"]}
    scores = {s.labels["feature"]: s for s in by_name[metric].samples}
    assert set(scores) == set(report)
    for feature, sample in scores.items():
        assert matchers.items() <= sample.labels.items()  # the alert's selector picks every score
        assert set(sample.labels) == {"project", "feature", "method"}
        assert sample.value == pytest.approx(report[feature]["psi"])
    [overall] = by_name["mlci_drift_overall_score"].samples
    assert overall.value == pytest.approx(max(f["psi"] for f in report.values()))
    assert by_name["mlci_drift_features_drifted"].samples[0].value == 1


def test_the_pushgateway_url_comes_from_the_environment_and_odd_names_stay_intact(
    cli, project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Column names are data: quotes, backslashes and newlines must not break the exposition."""
    odd = 'size "cm"\\raw\nline'
    reference, current = tmp_path / "reference.csv", tmp_path / "current.csv"
    for path, shift in ((reference, 0.0), (current, 100.0)):
        with path.open("w", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow([odd, "other"])
            writer.writerows([[i + shift, i % 3] for i in range(200)])
    with pushgateway() as (url, gateway):
        monkeypatch.setenv("MLCI_PUSHGATEWAY_URL", url)
        result = cli("drift", str(project), "--reference", str(reference), "--current", str(current))
    assert result.exit_code == 1, result.stderr
    [(_, _, _, families)] = gateway.pushes
    scores = {s.labels["feature"] for f in families if f.name == "mlci_drift_score" for s in f.samples}
    assert scores == {odd, "other"}


def test_a_pushgateway_that_is_down_fails_the_job_after_the_report(cli, project: Path, tmp_path: Path) -> None:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    result = cli("drift", str(project), "--current", str(project / "data" / "iris.csv"), "--pushgateway",
                 f"http://user:secret@127.0.0.1:{port}")  # fmt: skip
    assert result.exit_code == 3
    assert "drift rule: psi > 0.1; 0 of 5 feature(s) drifted" in result.stdout  # the report came first
    assert f"cannot reach the Pushgateway at http://127.0.0.1:{port}/metrics/job/mlci-drift" in result.stderr
    assert "secret" not in result.stderr


def test_publishing_needs_the_spec_that_names_the_project(cli, project: Path) -> None:
    data = str(project / "data" / "iris.csv")
    result = cli("drift", "--reference", data, "--current", data, "--pushgateway", "http://127.0.0.1:9")
    assert result.exit_code == 2
    assert "--pushgateway needs the project's spec" in result.stderr
