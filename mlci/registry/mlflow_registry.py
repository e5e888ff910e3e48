"""The MLflow implementation of `Registry`: tracking runs, registered models, aliases.

Imported only when a command needs the registry; `mlflow` (the skinny client, plus
SQLAlchemy for the embedded store) is the `mlci[mlflow]` extra. Every call goes through
`_call`, which turns the client's failures into mlci's: a server that does not answer
is exit 3 in one line, never a traceback, and never a pass.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any, TypeVar

from mlci.errors import UndecidedError
from mlci.extras import require_extra
from mlci.registry import ModelVersion
from mlci.registry.location import RegistryLocation
from mlci.reporters.log_safety import one_line

T = TypeVar("T")

# MLflow retries an unreachable server for minutes by default (7 retries, growing
# backoff, 120 s timeout). A CI job must learn in seconds that the registry is down.
HTTP_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_BACKOFF_JITTER": "0",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "10",
}
NOT_FOUND = ("RESOURCE_DOES_NOT_EXIST",)


def _client(location: RegistryLocation) -> Any:
    require_extra("mlflow", "the model registry")
    for name, value in HTTP_DEFAULTS.items():
        os.environ.setdefault(name, value)
    if location.database is not None:
        location.database.parent.mkdir(parents=True, exist_ok=True)
    from mlflow.tracking import MlflowClient

    # The embedded store announces its schema migrations on every first use; mlci says what it does
    # itself. After the import: importing mlflow configures its loggers.
    for logger in ("mlflow", "alembic"):
        logging.getLogger(logger).setLevel(logging.WARNING)

    return MlflowClient(tracking_uri=location.uri, registry_uri=location.uri)


def _error_code(exc: BaseException) -> str | None:
    return getattr(exc, "error_code", None)


class MlflowRegistry:
    def __init__(self, location: RegistryLocation) -> None:
        self.location = location
        self._client = _client(location)

    def _call(self, what: str, action: Callable[[], T]) -> T:
        try:
            return action()
        except Exception as exc:
            raise self._failure(what, exc) from None

    def _maybe(self, what: str, action: Callable[[], T]) -> T | None:
        """`action`, or None when the registry says the thing does not exist."""
        try:
            return action()
        except Exception as exc:
            if _error_code(exc) in NOT_FOUND:
                return None
            raise self._failure(what, exc) from None

    def _failure(self, what: str, exc: Exception) -> UndecidedError:
        message = one_line(str(exc))
        if _unreachable(exc, message):
            reason = _CONNECTION_REASON.search(message)
            shown = reason.group(0).strip() if reason else "no answer"
            return UndecidedError(f"model registry {self.location.shown} is unreachable ({shown}); {what} failed")
        if len(message) > 300:
            message = message[:300] + "..."
        return UndecidedError(f"model registry {self.location.shown}: {what} failed: {message}")

    # -- tracking -------------------------------------------------------------------------

    def start_run(self, experiment: str, tags: Mapping[str, str]) -> str:
        client = self._client
        found = self._maybe("reading the experiment", lambda: client.get_experiment_by_name(experiment))
        if found is None:
            experiment_id = self._call(
                "creating the experiment",
                lambda: client.create_experiment(experiment, artifact_location=self.location.artifact_root),
            )
        else:
            experiment_id = found.experiment_id
        run = self._call("starting the run", lambda: client.create_run(experiment_id, tags=dict(tags)))
        return str(run.info.run_id)

    def run_tags(self, run_id: str) -> dict[str, str] | None:
        """The run's tags, or None when there is no such (live) run."""
        run = self._maybe("reading the run", lambda: self._client.get_run(run_id))
        if run is None or run.info.lifecycle_stage != "active":
            return None
        return dict(run.data.tags)

    def set_run_tags(self, run_id: str, tags: Mapping[str, str]) -> None:
        from mlflow.entities import RunTag

        batch = [RunTag(str(k), str(v)) for k, v in tags.items()]
        if batch:
            self._call("tagging the run", lambda: self._client.log_batch(run_id, tags=batch))

    def log_params(self, run_id: str, params: Mapping[str, Any]) -> None:
        from mlflow.entities import Param

        batch = [Param(str(k), str(v)[:6000]) for k, v in params.items()]
        if batch:
            self._call("logging the params", lambda: self._client.log_batch(run_id, params=batch))

    def log_metrics(self, run_id: str, metrics: Mapping[str, float]) -> None:
        import time

        from mlflow.entities import Metric

        now = int(time.time() * 1000)
        batch = [Metric(str(k), float(v), now, 0) for k, v in metrics.items()]
        if batch:
            self._call("logging the metrics", lambda: self._client.log_batch(run_id, metrics=batch))

    def log_artifact(self, run_id: str, path: Path, folder: str) -> str:
        self._call(f"uploading {path.name}", lambda: self._client.log_artifact(run_id, str(path), folder))
        run = self._call("reading the run", lambda: self._client.get_run(run_id))
        return f"{run.info.artifact_uri}/{folder}"

    def end_run(self, run_id: str, succeeded: bool) -> None:
        status = "FINISHED" if succeeded else "FAILED"
        # update_run, not set_terminated: that one prints links to the UI on stdout, where a JSON report may be.
        self._call("closing the run", lambda: self._client.update_run(run_id, status=status))

    def run_metrics(self, run_id: str) -> dict[str, float]:
        run = self._maybe("reading the run", lambda: self._client.get_run(run_id))
        return {} if run is None else dict(run.data.metrics)

    def run_params(self, run_id: str) -> dict[str, str]:
        run = self._maybe("reading the run", lambda: self._client.get_run(run_id))
        return {} if run is None else dict(run.data.params)

    def download_artifact(self, run_id: str, path: str, destination: Path) -> Path:
        destination.mkdir(parents=True, exist_ok=True)
        local = self._call(
            f"downloading {path}", lambda: self._client.download_artifacts(run_id, path, str(destination))
        )
        return Path(local)

    # -- registry -------------------------------------------------------------------------

    def register(self, name: str, source: str, run_id: str | None, tags: Mapping[str, str]) -> ModelVersion:
        client = self._client
        if self._maybe("reading the registered model", lambda: client.get_registered_model(name)) is None:
            self._call("creating the registered model", lambda: client.create_registered_model(name))
        created = self._call(
            "registering the version",
            lambda: client.create_model_version(name, source=source, run_id=run_id, tags=dict(tags)),
        )
        return self._version(created)

    def version(self, name: str, version: str) -> ModelVersion | None:
        found = self._maybe("reading the version", lambda: self._client.get_model_version(name, version))
        return None if found is None else self._version(found)

    def version_by_alias(self, name: str, alias: str) -> ModelVersion | None:
        model = self._maybe("reading the registered model", lambda: self._client.get_registered_model(name))
        if model is None:
            return None
        aliases = dict(getattr(model, "aliases", {}) or {})
        if alias not in aliases:
            return None
        return self.version(name, str(aliases[alias]))

    def set_alias(self, name: str, alias: str, version: str) -> None:
        self._call(f"moving {alias}", lambda: self._client.set_registered_model_alias(name, alias, version))

    def _version(self, found: Any) -> ModelVersion:
        return ModelVersion(
            name=str(found.name),
            version=str(found.version),
            run_id=found.run_id or None,
            source=str(found.source),
            tags=dict(found.tags or {}),
            aliases=tuple(getattr(found, "aliases", ()) or ()),
        )


_CONNECTION_REASON = re.compile(r"\[Errno -?\d+\] [^'\")\]]+|timed out|Name or service not known|Connection refused")


def _unreachable(exc: BaseException, message: str) -> bool:
    """The server did not answer (refused, timed out, no such host), as opposed to answering no."""
    chain: BaseException | None = exc
    while chain is not None:
        if type(chain).__name__ in ("ConnectionError", "ConnectTimeout", "ReadTimeout", "Timeout", "MaxRetryError"):
            return True
        chain = chain.__cause__ or chain.__context__
    return "Max retries exceeded" in message or ("failed with exception" in message and "Connection" in message)
