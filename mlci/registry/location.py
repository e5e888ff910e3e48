"""Which registry a command talks to.

Precedence: `--registry URI` > `MLFLOW_TRACKING_URI` > the spec's `model.registry` when
it is an MLflow tracking server (http or https on a real host) > the embedded store,
a SQLite-backed MLflow store in the project (`.mlci/registry.db`, artifacts in
`.mlci/artifacts`), so the local loop has champion and challenger with no server.

The spec's value is attacker-controlled in a pull request; it is used only as an
http(s) address, never as a file or database path, and placeholders on the reserved
example domains (RFC 2606: `mlflow.example.com`, `*.test`, `*.invalid`, ...) that
`mlci init` writes are not servers: they leave the embedded store in charge.

Credentials: MLflow sends what the environment holds (MLFLOW_TRACKING_TOKEN, _USERNAME and
_PASSWORD, a client certificate, SigV4 signing, an auth plugin, ~/.mlflow/credentials, a
.netrc `default` login) to
whichever server it talks to. Those belong to the CI, the spec's host does not: a pull
request that sets `model.registry: https://attacker` would receive them. So a location
taken from the spec is refused (exit 2, at `model.registry`) while such credentials are
present, unless its host is one the CI trusts, named outside the spec in MLCI_REGISTRY_HOSTS
(comma-separated `host` or `host:port`). Refusing rather than quietly dropping them: a
legitimate server named in the spec would otherwise fail later as an unexplained 401. A
location from --registry or MLFLOW_TRACKING_URI is the CI's own choice and gets them.
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

from mlci.errors import InputError, Location, UserError

EMBEDDED_FOLDER = ".mlci"
EMBEDDED_DB = "registry.db"
EMBEDDED_ARTIFACTS = "artifacts"
RESERVED_DOMAINS = ("example.com", "example.net", "example.org", "example", "invalid", "test")
# What MLflow reads from the environment and sends to (or signs for) the tracking server.
CREDENTIAL_VARIABLES = (
    "MLFLOW_TRACKING_TOKEN",
    "MLFLOW_TRACKING_USERNAME",
    "MLFLOW_TRACKING_PASSWORD",
    "MLFLOW_TRACKING_CLIENT_CERT_PATH",
    "MLFLOW_TRACKING_AWS_SIGV4",
    "MLFLOW_TRACKING_AUTH",
)
# Hosts a spec's model.registry may name while credentials are present; set by the CI, never the spec.
TRUSTED_HOSTS_VARIABLE = "MLCI_REGISTRY_HOSTS"


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


def resolve_location(
    project: Path, spec_registry: str | None, option: str | None = None, spec_position: Location | None = None
) -> RegistryLocation:
    """`spec_position`: where the spec sets model.registry (the refusal points there)."""
    if option:
        return _given(option, "--registry")
    environment = os.environ.get("MLFLOW_TRACKING_URI", "").strip()
    if environment:
        return _given(environment, "MLFLOW_TRACKING_URI")
    if spec_registry and is_tracking_server(spec_registry):
        _refuse_ambient_credentials(spec_registry, spec_position)
        return RegistryLocation(spec_registry, "model.registry")
    return embedded_location(project)


def ambient_credentials() -> list[str]:
    """The credentials MLflow would send from this environment, by name (never their values)."""
    found = [name for name in CREDENTIAL_VARIABLES if os.environ.get(name, "").strip()]
    credentials_file = Path.home() / ".mlflow" / "credentials"
    if credentials_file.is_file():
        found.append(str(credentials_file))
    # requests (under MLflow's client) logs in to any host with a .netrc `default` entry.
    netrc_file = Path(os.environ.get("NETRC") or Path.home() / ".netrc")
    if _has_default_login(netrc_file):
        found.append(f"{netrc_file} (default)")
    return found


def _has_default_login(path: Path) -> bool:
    import netrc

    try:
        return "default" in netrc.netrc(str(path)).hosts if path.is_file() else False
    except (OSError, netrc.NetrcParseError):
        return False


def trusted_hosts() -> frozenset[str]:
    """MLCI_REGISTRY_HOSTS, lower-cased: each entry a host, or a host:port."""
    entries = os.environ.get(TRUSTED_HOSTS_VARIABLE, "").split(",")
    return frozenset(entry.strip().rstrip(".").lower() for entry in entries if entry.strip())


def _host_is_trusted(uri: str) -> bool:
    parts = urlsplit(uri)
    host = (parts.hostname or "").rstrip(".").lower()
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        return False
    trusted = trusted_hosts()
    return host in trusted or f"{host}:{port}" in trusted


def _refuse_ambient_credentials(spec_registry: str, spec_position: Location | None) -> None:
    """The CI's registry credentials never go to a host only the spec names."""
    credentials = ambient_credentials()
    if not credentials or _host_is_trusted(spec_registry):
        return
    from mlci.reporters.log_safety import one_line

    host = urlsplit(spec_registry).hostname
    problem = (
        f"model.registry names {one_line(redact(spec_registry))}, and this environment holds registry credentials "
        f"({', '.join(credentials)}); mlci sends them only to a registry named outside the spec. "
        f"Set MLFLOW_TRACKING_URI (or --registry) to the registry, or list {host} in {TRUSTED_HOSTS_VARIABLE} "
        "if the CI trusts it"
    )
    raise InputError(spec_position, problem) if spec_position else UserError(problem)


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
