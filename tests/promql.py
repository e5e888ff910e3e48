"""The metric selectors of the PromQL in rendered manifests, read back from the files:
tests compare what the monitoring queries with what the programs export and push."""

from __future__ import annotations

import re
from pathlib import Path

from ruamel.yaml import YAML

_QUOTED = r'"(?:[^"\\]|\\.)*"'
_SELECTOR = re.compile(rf"([a-zA-Z_:][a-zA-Z0-9_:]*)\{{((?:[^\"}}]|{_QUOTED})*)\}}")
_MATCHER = re.compile(rf"([a-zA-Z_][a-zA-Z0-9_]*)\s*(=~|!=|!~|=)\s*({_QUOTED})")


def selectors(expression: str) -> list[tuple[str, dict[str, str]]]:
    """(metric name, {label: value} of its `=` matchers) for each `name{...}` in a PromQL expression."""
    found = []
    for match in _SELECTOR.finditer(expression):
        labels = {m[1]: m[3][1:-1] for m in _MATCHER.finditer(match[2]) if m[2] == "="}
        found.append((match[1], labels))
    return found


def _documents(path: Path) -> list[dict]:
    return [d for d in YAML(typ="safe").load_all(path.read_text()) if isinstance(d, dict)]


def analysis_queries(path: Path) -> list[str]:
    """The Prometheus queries of an Argo Rollouts AnalysisTemplate."""
    return [
        metric["provider"]["prometheus"]["query"]
        for document in _documents(path)
        if document.get("kind") == "AnalysisTemplate"
        for metric in document["spec"]["metrics"]
    ]


def alert_expressions(path: Path) -> dict[str, str]:
    """alert name -> expression, from a PrometheusRule."""
    return {
        rule["alert"]: rule["expr"]
        for document in _documents(path)
        if document.get("kind") == "PrometheusRule"
        for group in document["spec"]["groups"]
        for rule in group["rules"]
    }


def histogram_base(name: str) -> str:
    """`x_bucket` / `x_sum` / `x_count` are the series of the histogram `x`."""
    return re.sub(r"_(bucket|sum|count)$", "", name)
