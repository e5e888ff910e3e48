"""Serve the credit-risk model over HTTP with the standard library only.

    GET  /healthz   -> 200 {"status": "ok"}
    GET  /metrics   -> request latency and counts (metrics.py) for Prometheus
    POST /predict   {"instances": [{"age": 35, "income": 42000, "loan_amount": 12000,
                                    "term_months": 36, "credit_history_years": 6.5,
                                    "n_late_payments": 0}, ...]}
                    -> 200 {"scores": [0.18, ...], "predictions": [0, ...]}

A score is the probability of default; a prediction is 1 when the score is at
least 0.5. PORT (default 8080) and HOST (default 0.0.0.0) choose the address,
MLCI_MODEL_PATH the model, or MLCI_MODEL_VERSION with MLFLOW_TRACKING_URI the registered
version (registered.py).

Logging follows serving.log_fields in mlproject.yaml: each scored instance logs
request_id, score and latency_ms, nothing else. Inputs (age is personal data) are
never logged, and error messages name fields, never their values. Fields that are
not model inputs (customer_id, postcode, gender, ...) are refused so that callers
stop sending personal data the model does not need.
"""

from __future__ import annotations

import json
import math
import os
import re
import signal
import sys
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import joblib

from common import FEATURES, fail, model_path
from metrics import ServerMetrics
from registered import registered_model_file

HEALTH_PATH = "/healthz"  # serving.health_path in mlproject.yaml
PREDICT_PATH = "/predict"
METRICS_PATH = "/metrics"  # Prometheus scrapes request latency here
THRESHOLD = 0.5  # the same cut-off evaluate.py measures
MAX_BODY_BYTES = 1 << 20
MAX_INSTANCES = 1000
# A caller's X-Request-ID is echoed and logged only when it is a harmless token.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class BadRequest(Exception):
    """The request body is not a valid prediction request (the message never quotes input)."""


def log(**fields: Any) -> None:
    print(json.dumps(fields), file=sys.stderr, flush=True)


def parse_instances(body: bytes) -> list[list[float]]:
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("body is not valid JSON") from None
    instances = payload.get("instances") if isinstance(payload, dict) else None
    if not isinstance(instances, list) or not instances:
        raise BadRequest('expected {"instances": [{...}, ...]} with at least one instance')
    if len(instances) > MAX_INSTANCES:
        raise BadRequest(f"at most {MAX_INSTANCES} instances per request")
    return [_row(index, instance) for index, instance in enumerate(instances)]


def _row(index: int, instance: Any) -> list[float]:
    if not isinstance(instance, dict):
        raise BadRequest(f"instance {index} must be an object with the fields {', '.join(FEATURES)}")
    missing = [name for name in FEATURES if name not in instance]
    unexpected = sorted(str(name) for name in instance if name not in FEATURES)
    if missing or unexpected:
        problems = [f"missing {', '.join(missing)}"] if missing else []
        problems += [f"not model inputs, do not send: {', '.join(unexpected)}"] if unexpected else []
        raise BadRequest(f"instance {index}: {'; '.join(problems)}")
    row = []
    for name in FEATURES:
        value = instance[name]
        try:
            number = float(value) if isinstance(value, (int, float)) and not isinstance(value, bool) else None
        except OverflowError:  # an integer too large for a float
            number = None
        if number is None or not math.isfinite(number):
            raise BadRequest(f"instance {index}: {name} must be a finite number")
        row.append(number)
    return row


class Handler(BaseHTTPRequestHandler):
    model: Any = None
    metrics = ServerMetrics()

    def version_string(self) -> str:
        return "credit-risk"  # no Python version in the Server header

    def log_message(self, format: str, *args: Any) -> None:
        # The default access log prints the client address and request line; we log our own line.
        pass

    def _request_id(self) -> str:
        given = self.headers.get("X-Request-ID", "")
        return given if SAFE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex

    def _reply(self, status: int, body: dict[str, Any], request_id: str, started: float) -> float:
        data = json.dumps(body).encode()
        self.metrics.count(self.path, status)  # before the answer: a scrape that follows must see it
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-ID", request_id)
        self.end_headers()
        self.wfile.write(data)
        return round((time.perf_counter() - started) * 1000, 3)

    def _reply_and_log(self, status: int, body: dict[str, Any], request_id: str, started: float) -> None:
        log(request_id=request_id, latency_ms=self._reply(status, body, request_id, started))

    def _send_metrics(self) -> None:
        data = self.metrics.exposition().encode()
        self.send_response(200)
        self.send_header("Content-Type", "text/plain; version=0.0.4")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        started, request_id = time.perf_counter(), self._request_id()
        if self.path == METRICS_PATH:
            self._send_metrics()
        elif self.path == HEALTH_PATH:
            self._reply_and_log(200, {"status": "ok"}, request_id, started)
        else:
            self._reply_and_log(404, {"error": "not found"}, request_id, started)

    def do_POST(self) -> None:
        started, request_id = time.perf_counter(), self._request_id()
        if self.path != PREDICT_PATH:
            self._reply_and_log(404, {"error": "not found"}, request_id, started)
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._reply_and_log(411, {"error": "Content-Length required"}, request_id, started)
            return
        if not 0 < length <= MAX_BODY_BYTES:
            error = {"error": f"body must be 1..{MAX_BODY_BYTES} bytes"}
            self._reply_and_log(413, error, request_id, started)
            return
        try:
            rows = parse_instances(self.rfile.read(length))
        except BadRequest as exc:
            self._reply_and_log(400, {"error": str(exc)}, request_id, started)
            return
        scores = [round(float(p), 6) for p in self.model.predict_proba(rows)[:, 1]]
        body = {"scores": scores, "predictions": [int(s >= THRESHOLD) for s in scores]}
        # Counted before the answer is written: a scrape that follows the response must see it.
        self.metrics.observe(time.perf_counter() - started)
        latency_ms = self._reply(200, body, request_id, started)
        for score in scores:
            log(request_id=request_id, score=score, latency_ms=latency_ms)


def main() -> None:
    path = registered_model_file() or model_path()
    if not path.is_file():
        fail(f"{path} not found (run train.py first or set MLCI_MODEL_PATH)")
    Handler.model = joblib.load(path)
    try:
        port = int(os.environ.get("PORT") or 8080)
    except ValueError:
        fail("PORT must be a number")
    host = os.environ.get("HOST") or "0.0.0.0"
    server = ThreadingHTTPServer((host, port), Handler)
    # Kubernetes stops pods with SIGTERM: leave serve_forever() and close the socket cleanly.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(0))
    log(event="listening", host=host, port=port)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
