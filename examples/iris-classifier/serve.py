"""Serve the iris classifier over HTTP with the standard library only.

    GET  /healthz   -> 200 {"status": "ok"}
    GET  /metrics   -> request latency and counts (metrics.py) for Prometheus
    POST /predict   {"instances": [[sepal_length, sepal_width, petal_length, petal_width], ...]}
                    -> 200 {"predictions": ["setosa", ...], "probabilities": [[...], ...], "classes": [...]}

PORT (default 8080) and HOST (default 0.0.0.0) choose the address, MLCI_MODEL_PATH the
model, or MLCI_MODEL_VERSION with MLFLOW_TRACKING_URI the registered version
(registered.py). Each request logs one JSON line to stderr with its request id, status
and latency; request bodies are never logged.
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
MAX_BODY_BYTES = 1 << 20
MAX_INSTANCES = 1000
# A caller's X-Request-ID is echoed and logged only when it is a harmless token.
SAFE_REQUEST_ID = re.compile(r"[A-Za-z0-9._-]{1,64}")


class BadRequest(Exception):
    """The request body is not a valid prediction request (the message never quotes input)."""


def parse_instances(body: bytes) -> list[list[float]]:
    try:
        payload = json.loads(body)
    except (json.JSONDecodeError, UnicodeDecodeError):
        raise BadRequest("body is not valid JSON") from None
    instances = payload.get("instances") if isinstance(payload, dict) else None
    if not isinstance(instances, list) or not instances:
        raise BadRequest('expected {"instances": [[4 numbers], ...]} with at least one instance')
    if len(instances) > MAX_INSTANCES:
        raise BadRequest(f"at most {MAX_INSTANCES} instances per request")
    rows = []
    for index, instance in enumerate(instances):
        row = _finite_numbers(instance) if isinstance(instance, list) else None
        if row is None or len(row) != len(FEATURES):
            expected = f"{len(FEATURES)} finite numbers: {', '.join(FEATURES)}"
            raise BadRequest(f"instance {index} must be {expected}")
        rows.append(row)
    return rows


def _finite_numbers(values: list[Any]) -> list[float] | None:
    if not all(isinstance(v, (int, float)) and not isinstance(v, bool) for v in values):
        return None
    try:
        floats = [float(v) for v in values]
    except OverflowError:  # an integer too large for a float
        return None
    return floats if all(math.isfinite(v) for v in floats) else None


class Handler(BaseHTTPRequestHandler):
    model: Any = None
    metrics = ServerMetrics()

    def version_string(self) -> str:
        return "iris-classifier"  # no Python version in the Server header

    def log_message(self, format: str, *args: Any) -> None:
        # The default access log prints the client address and request line; we log our own line.
        pass

    def _request_id(self) -> str:
        given = self.headers.get("X-Request-ID", "")
        return given if SAFE_REQUEST_ID.fullmatch(given) else uuid.uuid4().hex

    def _reply(self, status: int, body: dict[str, Any], request_id: str, started: float) -> None:
        data = json.dumps(body).encode()
        self.metrics.count(self.path, status)  # before the answer: a scrape that follows must see it
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.send_header("X-Request-ID", request_id)
        self.end_headers()
        self.wfile.write(data)
        latency_ms = round((time.perf_counter() - started) * 1000, 3)
        print(
            json.dumps({"request_id": request_id, "status": status, "latency_ms": latency_ms}),
            file=sys.stderr,
            flush=True,
        )

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
            self._reply(200, {"status": "ok"}, request_id, started)
        else:
            self._reply(404, {"error": "not found"}, request_id, started)

    def do_POST(self) -> None:
        started, request_id = time.perf_counter(), self._request_id()
        if self.path != PREDICT_PATH:
            self._reply(404, {"error": "not found"}, request_id, started)
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._reply(411, {"error": "Content-Length required"}, request_id, started)
            return
        if not 0 < length <= MAX_BODY_BYTES:
            self._reply(413, {"error": f"body must be 1..{MAX_BODY_BYTES} bytes"}, request_id, started)
            return
        try:
            rows = parse_instances(self.rfile.read(length))
        except BadRequest as exc:
            self._reply(400, {"error": str(exc)}, request_id, started)
            return
        probabilities = self.model.predict_proba(rows)
        classes = [str(c) for c in self.model.classes_]
        body = {
            "predictions": [classes[int(i)] for i in probabilities.argmax(axis=1)],
            "probabilities": [[round(float(p), 6) for p in row] for row in probabilities],
            "classes": classes,
        }
        # Counted before the answer is written: a scrape that follows the response must see it.
        self.metrics.observe(time.perf_counter() - started)
        self._reply(200, body, request_id, started)


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
    print(json.dumps({"event": "listening", "host": host, "port": port}), file=sys.stderr, flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
