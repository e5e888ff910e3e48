"""The rendered GitLab pipeline of the scikit-learn example runs for real (gitlab-ci-local, shell
executor) on the drift schedule. Retraining starts a new pipeline only when `mlci drift` itself
exited 1 (drift over the threshold): data that does not drift starts nothing, and neither does a
drift check that could not decide (its live data missing: exit 2).

The retrain job starts the pipeline through GitLab's trigger API; CI_API_V4_URL points it at a
local HTTP server that records each call (the `pipeline` it would start, with its ref)."""

from __future__ import annotations

import csv
import io
import json
import urllib.parse
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

import pytest

from tests import judges
from tests.conftest import require_tool
from tests.real_opa import serving
from tests.test_gitlab_run import _host_path, _job_results, _rendered_copy

pytestmark = pytest.mark.judges

LIVE = "data/live.csv"
JOB_TOKEN = "job-token-of-this-run"


class _TriggerApi(BaseHTTPRequestHandler):
    calls: list[dict[str, object]]

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0)).decode()
        self.calls.append({"path": self.path, "form": urllib.parse.parse_qs(body)})
        answer = json.dumps({"id": 2, "web_url": "https://gitlab.example.invalid/group/project/-/pipelines/2"})
        self.send_response(201)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(answer)))
        self.end_headers()
        self.wfile.write(answer.encode())

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.fixture
def trigger_api() -> Iterator[tuple[str, list[dict[str, object]]]]:
    calls: list[dict[str, object]] = []
    with serving(type("Handler", (_TriggerApi,), {"calls": calls})) as url:
        yield f"{url}/api/v4", calls


@pytest.fixture(autouse=True)
def _gitlab_ci_local() -> None:
    require_tool(judges.tool("gitlab-ci-local"), "gitlab-ci-local")


def _drifted(reference: str) -> str:
    """The reference rows with every measurement 5 cm larger: far over any PSI threshold."""
    rows = list(csv.reader(io.StringIO(reference)))
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(rows[0])
    for row in rows[1:]:
        writer.writerow([f"{float(cell) + 5:.1f}" for cell in row[:-1]] + row[-1:])
    return out.getvalue()


def _drift_schedule(tmp_path: Path, api: str, live: str | None) -> judges.Verdict:
    """The example with its live data in the project (`monitoring.drift.current`), rendered,
    run as the drift schedule; `live`: the live data's content, None for no file at all."""
    reference = "    reference: data/iris.csv\n"
    project = _rendered_copy(tmp_path, edit=(reference, f"{reference}    current: {LIVE}\n"))
    if live is not None:
        (project / LIVE).write_text(live)
    variables = {
        "CI_PIPELINE_SOURCE": "schedule",
        "MLCI_SCHEDULE": "drift",
        "CI_API_V4_URL": api,
        "CI_JOB_TOKEN": JOB_TOKEN,
    }
    return judges.gitlab_ci_local(project, variables, jobs=["retrain-on-drift"], merge_request=False, path=_host_path())


def test_drift_found_starts_a_retraining_pipeline(tmp_path: Path, trigger_api: tuple[str, list]) -> None:
    api, calls = trigger_api
    reference = (Path(__file__).parent.parent / "examples/iris-classifier/data/iris.csv").read_text()
    verdict = _drift_schedule(tmp_path, api, _drifted(reference))
    results = _job_results(verdict.output)
    assert results == {"monitor-drift": "FAIL", "retrain-on-drift": "PASS"}, verdict.output[-6000:]
    (call,) = calls
    assert str(call["path"]).endswith("/trigger/pipeline") and "/projects/" in str(call["path"])
    assert call["form"] == {"token": [JOB_TOKEN], "ref": ["main"]}
    assert "retraining: started https://gitlab.example.invalid/group/project/-/pipelines/2" in verdict.output


def test_no_drift_starts_nothing(tmp_path: Path, trigger_api: tuple[str, list]) -> None:
    api, calls = trigger_api
    reference = (Path(__file__).parent.parent / "examples/iris-classifier/data/iris.csv").read_text()
    verdict = _drift_schedule(tmp_path, api, reference)
    assert verdict.ok, verdict.output[-6000:]
    # On success the retrain job is not even created (when: on_failure).
    assert _job_results(verdict.output) == {"monitor-drift": "PASS"}, verdict.output[-6000:]
    assert calls == []


def test_a_drift_check_that_cannot_decide_starts_nothing(tmp_path: Path, trigger_api: tuple[str, list]) -> None:
    """No live data: `mlci drift` exits 2 and monitor-drift fails, but mlci decided nothing, so
    the retrain job says why and starts no pipeline."""
    api, calls = trigger_api
    verdict = _drift_schedule(tmp_path, api, None)
    results = _job_results(verdict.output)
    assert results == {"monitor-drift": "FAIL", "retrain-on-drift": "PASS"}, verdict.output[-6000:]
    assert "monitor-drift: mlci drift exited 2, not 1 (findings): nothing to act on" in verdict.output
    assert calls == []
