"""The example model servers answer health checks and predictions, and export the
latency histogram that mlci's rendered canary analysis and alerts query."""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.conftest import ROOT

INSTANCES = {
    "iris-classifier": [[5.1, 3.5, 1.4, 0.2]],
    "credit-risk": [{"age": 35, "income": 42000, "loan_amount": 12000, "term_months": 36,
                     "credit_history_years": 6.5, "n_late_payments": 0}],
}  # fmt: skip


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(params=sorted(INSTANCES))
def server(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str]]:
    name = request.param
    folder = tmp_path / name
    shutil.copytree(ROOT / "examples" / name, folder, ignore=shutil.ignore_patterns("artifacts", "__pycache__"))
    trained = subprocess.run([sys.executable, "train.py"], cwd=folder, capture_output=True, text=True)
    assert trained.returncode == 0, trained.stderr
    port = _free_port()
    env = {**os.environ, "PORT": str(port), "HOST": "127.0.0.1"}
    proc = subprocess.Popen([sys.executable, "serve.py"], cwd=folder, env=env, stderr=subprocess.PIPE, text=True)
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            urllib.request.urlopen(f"{base}/healthz", timeout=1).read()
            break
        except OSError:
            time.sleep(0.1)
    else:
        proc.kill()
        pytest.fail("the example server did not answer /healthz within 30 s")
    yield name, base
    proc.terminate()
    proc.wait(timeout=10)


def _metrics(base: str) -> dict[str, float]:
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
        assert response.headers["Content-Type"].startswith("text/plain")
        text = response.read().decode()
    assert "# TYPE mlci_request_duration_seconds histogram" in text
    return {line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1]) for line in text.splitlines() if line[:1] != "#"}


def test_predictions_are_counted_in_the_latency_histogram(server: tuple[str, str]) -> None:
    name, base = server
    before = _metrics(base)
    assert before["mlci_request_duration_seconds_count"] == 0  # health checks are not counted
    body = json.dumps({"instances": INSTANCES[name]}).encode()
    for _ in range(3):
        post = urllib.request.Request(f"{base}/predict", data=body, headers={"Content-Type": "application/json"})
        with urllib.request.urlopen(post, timeout=10) as response:
            assert response.status == 200
            assert json.loads(response.read())
    after = _metrics(base)
    assert after["mlci_request_duration_seconds_count"] == 3
    assert after['mlci_request_duration_seconds_bucket{le="+Inf"}'] == 3
    assert after["mlci_request_duration_seconds_sum"] > 0
    buckets = [value for key, value in after.items() if key.startswith("mlci_request_duration_seconds_bucket")]
    assert buckets == sorted(buckets), "histogram buckets are cumulative"


def _rendered_queries(example: str, out: Path) -> list[str]:
    """Every PromQL expression of the rendered canary analyses and alerts of `example`."""
    from tests.conftest import run_cli
    from tests.promql import alert_expressions, analysis_queries

    rendered = run_cli("render", str(ROOT / "examples" / example), "--target", "kubernetes", "--out", str(out))
    assert rendered.exit_code == 0, rendered.stderr
    queries = []
    for path in sorted((out / "k8s" / "overlays").glob("*/*.yaml")):
        queries += analysis_queries(path) + list(alert_expressions(path).values())
    assert queries
    return queries


def test_the_server_exports_what_the_rendered_analysis_and_alerts_query(
    server: tuple[str, str], tmp_path: Path
) -> None:
    from prometheus_client.parser import text_string_to_metric_families

    from tests.promql import histogram_base, selectors

    name, base = server
    post = urllib.request.Request(
        f"{base}/predict", data=b'{"instances": []}', headers={"Content-Type": "application/json"}
    )
    with pytest.raises(urllib.error.HTTPError):
        urllib.request.urlopen(post, timeout=10)  # a 400, counted by status
    with urllib.request.urlopen(f"{base}/metrics", timeout=5) as response:
        families = {f.name: f for f in text_string_to_metric_families(response.read().decode())}
    queried = {histogram_base(metric) for query in _rendered_queries(name, tmp_path) for metric, _ in selectors(query)}
    # Published by others: the drift job pushes mlci_drift_score (tests/test_drift_publish.py); a model's
    # quality online needs labelled outcomes, which the job that scores predictions against labels
    # publishes as mlci_model_metric (the AnalysisTemplate's contract), not the model server.
    from_the_server = queried - {"mlci_drift_score", "mlci_model_metric"}
    assert from_the_server, queried
    assert from_the_server <= set(families), (from_the_server, set(families))
    for metric in from_the_server:
        assert families[metric].type == "histogram"  # queried through _bucket
    statuses = {s.labels["status"]: s.value for s in families["mlci_requests"].samples if s.name.endswith("_total")}
    assert statuses == {"400": 1.0}
