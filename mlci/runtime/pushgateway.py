"""Publish the drift check's scores to a Prometheus Pushgateway, where the rendered
PrometheusRule's `mlci_drift_score` alert reads them.

A scheduled drift job ends before Prometheus could scrape it, so it pushes: one PUT of
the text exposition format to `/metrics/job/mlci-drift/project/<name>`. PUT replaces
the whole group, so a feature that is no longer compared leaves no stale score behind.
Standard library only: the drift job needs no HTTP client package for this.
"""

from __future__ import annotations

import base64
import math
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterable
from dataclasses import dataclass

from mlci.errors import MlciError, UserError

JOB = "mlci-drift"
TIMEOUT_SECONDS = 10
CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"
# Metric names: the rendered PrometheusRule (mlci/render/kubernetes.py, alert_rules) queries SCORE.
SCORE = "mlci_drift_score"
OVERALL = "mlci_drift_overall_score"
DRIFTED = "mlci_drift_features_drifted"
LAST_RUN = "mlci_drift_last_run_timestamp_seconds"


class PublishError(MlciError):
    """The scores could not be delivered: the alert would have no data, so the job fails (exit 3)."""


@dataclass(frozen=True)
class Score:
    feature: str
    value: float  # what the drift rule holds against the threshold: PSI, or a test's p-value
    drifted: bool


def _label_value(value: str) -> str:
    """A label value in the exposition format: backslash, double quote and newline escaped."""
    return value.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n")


def _labels(**labels: str) -> str:
    return "{" + ",".join(f'{name}="{_label_value(value)}"' for name, value in labels.items()) + "}"


def _number(value: float) -> str:
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    return repr(float(value))


def overall(scores: Iterable[Score], method: str) -> float | None:
    """The score of the whole data set: the largest PSI, or the smallest p-value (the same
    aggregate the rendered alert applies to the per-feature scores)."""
    values = [s.value for s in scores if math.isfinite(s.value)]
    if not values:
        return None
    return max(values) if method == "psi" else min(values)


def exposition(project: str, method: str, scores: list[Score], now: float | None = None) -> str:
    """The scores in Prometheus's text exposition format (version 0.0.4)."""
    lines = [
        f"# HELP {SCORE} The latest drift check's statistic per feature: PSI, or the ks / chi2 test's p-value.",
        f"# TYPE {SCORE} gauge",
    ]
    lines += [f"{SCORE}{_labels(project=project, feature=s.feature, method=method)} {_number(s.value)}" for s in scores]
    whole = overall(scores, method)
    if whole is not None:
        lines += [
            f"# HELP {OVERALL} The largest PSI (or the smallest p-value) of the latest drift check.",
            f"# TYPE {OVERALL} gauge",
            f"{OVERALL}{_labels(project=project, method=method)} {_number(whole)}",
        ]
    lines += [
        f"# HELP {DRIFTED} How many features drifted in the latest drift check.",
        f"# TYPE {DRIFTED} gauge",
        f"{DRIFTED}{_labels(project=project, method=method)} {sum(s.drifted for s in scores)}",
        f"# HELP {LAST_RUN} When the latest drift check ran (Unix time), to alert on a check that stopped running.",
        f"# TYPE {LAST_RUN} gauge",
        f"{LAST_RUN}{_labels(project=project)} {_number(time.time() if now is None else now)}",
    ]
    return "\n".join(lines) + "\n"


def _path_segment(name: str, value: str) -> str:
    """One `/name/value` of the grouping key; a value with a slash (or none) goes base64-encoded."""
    if value and "/" not in value:
        return f"/{name}/{urllib.parse.quote(value, safe='')}"
    encoded = base64.urlsafe_b64encode(value.encode()).decode() or "="
    return f"/{name}@base64/{encoded}"


def group_url(base: str, project: str) -> str:
    return base.rstrip("/") + "/metrics" + _path_segment("job", JOB) + _path_segment("project", project)


def _redacted(url: str) -> str:
    parts = urllib.parse.urlsplit(url)
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def push(base: str, project: str, body: str) -> str:
    """PUT `body` as the group of `project`; returns the group's URL (without credentials).

    `base` may carry user:password for a Pushgateway behind basic authentication; they
    become the Authorization header and never appear in a message."""
    parts = urllib.parse.urlsplit(base)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise UserError(f"--pushgateway {_redacted(base)!r}: expected an http:// or https:// URL of a Pushgateway")
    netloc = parts.hostname if parts.port is None else f"{parts.hostname}:{parts.port}"
    if ":" in (parts.hostname or ""):
        netloc = f"[{parts.hostname}]" + (f":{parts.port}" if parts.port else "")
    url = group_url(urllib.parse.urlunsplit((parts.scheme, netloc, parts.path, "", "")), project)
    headers = {"Content-Type": CONTENT_TYPE}
    if parts.username is not None:
        token = f"{urllib.parse.unquote(parts.username)}:{urllib.parse.unquote(parts.password or '')}"
        headers["Authorization"] = "Basic " + base64.b64encode(token.encode()).decode()
    request = urllib.request.Request(url, data=body.encode(), headers=headers, method="PUT")
    try:
        with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
            response.read()
    except urllib.error.HTTPError as exc:
        detail = exc.read(500).decode("utf-8", "replace").strip()
        raise PublishError(
            f"the Pushgateway at {_redacted(url)} refused the drift scores: HTTP {exc.code} {detail}"
        ) from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise PublishError(f"cannot reach the Pushgateway at {_redacted(url)}: {reason}") from None
    return _redacted(url)
