"""Which registry a command talks to.

Precedence: `--registry URI` > `MLFLOW_TRACKING_URI` > the spec's `model.registry` when
it is an MLflow tracking server (http or https on a real host) > the embedded store,
a SQLite-backed MLflow store in the project (`.mlci/registry.db`, artifacts in
`.mlci/artifacts`), so the local loop has champion and challenger with no server.

The spec's value is attacker-controlled in a pull request; it is used only as an
http(s) address, never as a file or database path, and placeholders on the reserved
example domains (RFC 2606: `mlflow.example.com`, `*.test`, `*.invalid`, ...) that
`mlci init` writes are not servers: they leave the embedded store in charge.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from mlci.errors import UserError

EMBEDDED_FOLDER = ".mlci"
EMBEDDED_DB = "registry.db"
EMBEDDED_ARTIFACTS = "artifacts"
RESERVED_DOMAINS = ("example.com", "example.net", "example.org", "example", "invalid", "test")


@dataclass(frozen=True)
class RegistryLocation:
    uri: str  # as the client needs it, credentials included
    source: str  # --registry, MLFLOW_TRACKING_URI, model.registry, embedded
    kind: str = "mlflow"
    artifact_root: str | None = None  # where new experiments keep artifacts (embedded store only)
    database: Path | None = None  # the embedded store's file

    @property
    def embedded(self) -> bool:
        return self.database is not None

    @property
    def shown(self) -> str:
        """The URI without any user:password@ (it lands in logs and reports)."""
        return redact(self.uri)

    def describe(self) -> str:
        origin = {"embedded": "embedded store, no server"}.get(self.source, f"from {self.source}")
        return f"{self.shown} ({origin})"


def redact(uri: str) -> str:
    parts = urlsplit(uri)
    if parts.username is None and parts.password is None:
        return uri
    host = parts.hostname or ""
    netloc = f"{host}:{parts.port}" if parts.port else host
    return urlunsplit((parts.scheme, netloc, parts.path, "", ""))


def is_tracking_server(value: str) -> bool:
    """An http(s) address on a host that can exist (not a reserved placeholder)."""
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        return False
    host = parts.hostname.rstrip(".").lower()
    return not any(host == domain or host.endswith("." + domain) for domain in RESERVED_DOMAINS)


def resolve_location(project: Path, spec_registry: str | None, option: str | None = None) -> RegistryLocation:
    if option:
        return _given(option, "--registry")
    environment = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if environment:
        return _given(environment, "MLFLOW_TRACKING_URI")
    if spec_registry and is_tracking_server(spec_registry):
        return RegistryLocation(spec_registry, "model.registry")
    return embedded_location(project)


def _given(uri: str, source: str) -> RegistryLocation:
    """A URI the user gave (option or environment): any scheme MLflow accepts is theirs to choose."""
    if uri.startswith(("sagemaker:", "vertex:", "azureml:")):
        raise UserError(f"{source}: {redact(uri)}: only MLflow registries are supported so far")
    return RegistryLocation(uri, source)


def embedded_location(project: Path) -> RegistryLocation:
    folder = project.absolute() / EMBEDDED_FOLDER
    # The project folder is the pull request's: a committed `.mlci -> /elsewhere` must not
    # move the store (and the artifacts MLflow writes) out of it.
    for path in (folder, folder / EMBEDDED_DB, folder / EMBEDDED_ARTIFACTS):
        if path.is_symlink():
            raise UserError(f"{path}: is a symbolic link; the embedded registry lives in the project, not elsewhere")
    database = folder / EMBEDDED_DB
    return RegistryLocation(
        f"sqlite:///{database}",
        "embedded",
        artifact_root=(folder / EMBEDDED_ARTIFACTS).as_uri(),
        database=database,
    )
