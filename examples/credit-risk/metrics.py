"""The model server's online metrics in Prometheus's text format, with the standard library only.

mlci's rendered canary analysis (AnalysisTemplate) and alerts (PrometheusRule) query
`mlci_request_duration_seconds` (the p95 of prediction latency, from the buckets);
`mlci_requests_total{status}` counts prediction requests by HTTP status, for an error
rate. Prometheus adds namespace, service and pod labels itself when it scrapes.
"""

from __future__ import annotations

import threading

PREDICT_PATH = "/predict"
LATENCY = "mlci_request_duration_seconds"
REQUESTS = "mlci_requests_total"


class ServerMetrics:
    BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0)

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._counts = [0] * len(self.BUCKETS)
        self._sum = 0.0
        self._total = 0
        self._by_status: dict[int, int] = {}

    def observe(self, seconds: float) -> None:
        """The latency of one answered prediction."""
        with self._lock:
            for index, bound in enumerate(self.BUCKETS):
                if seconds <= bound:
                    self._counts[index] += 1
            self._sum += seconds
            self._total += 1

    def count(self, path: str, status: int) -> None:
        """One reply; only prediction requests count (not health checks or scrapes)."""
        if path != PREDICT_PATH:
            return
        with self._lock:
            self._by_status[status] = self._by_status.get(status, 0) + 1

    def exposition(self) -> str:
        with self._lock:
            lines = [
                f"# HELP {LATENCY} Latency of prediction requests.",
                f"# TYPE {LATENCY} histogram",
            ]
            lines += [
                f'{LATENCY}_bucket{{le="{bound}"}} {count}'
                for bound, count in zip(self.BUCKETS, self._counts, strict=True)
            ]
            lines += [
                f'{LATENCY}_bucket{{le="+Inf"}} {self._total}',
                f"{LATENCY}_sum {self._sum:.6f}",
                f"{LATENCY}_count {self._total}",
                f"# HELP {REQUESTS} Prediction requests by HTTP status.",
                f"# TYPE {REQUESTS} counter",
            ]
            lines += [f'{REQUESTS}{{status="{status}"}} {n}' for status, n in sorted(self._by_status.items())]
        return "\n".join(lines) + "\n"
