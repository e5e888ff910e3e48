"""The lineage of a training run: which data, code, parameters and environment made
which model, recorded so that it can be checked again later.

Every path in a lineage file is relative to the spec's folder, so a lineage
recorded on a CI runner verifies in any other checkout.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import platform
import re
import stat
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from mlci import __version__
from mlci.errors import InputError, Location, UserError
from mlci.findings import JsonPath, Severity
from mlci.loader import Spec
from mlci.runtime.dvc import DvcIndex
from mlci.runtime.gitinfo import current_commit, is_dirty
from mlci.runtime.hashing import digest_path, sha256_file
from mlci.spec import thaw

LINEAGE_FILE = "artifacts/lineage.json"
OPENLINEAGE_FILE = "artifacts/openlineage.json"
FORMAT_VERSION = 1
# Recorded when installed, besides whatever the project's requirements file names.
KEY_PACKAGES = (
    "mlci", "numpy", "scipy", "scikit-learn", "joblib", "pandas", "pyarrow",
    "torch", "tensorflow", "xgboost", "lightgbm",
)  # fmt: skip
_REQUIREMENT_NAME = re.compile(r"^\s*([A-Za-z0-9][A-Za-z0-9._-]*)")


@dataclass(frozen=True)
class DatasetState:
    """One dataset of the spec as it is on disk now."""

    name: str
    uri: str
    version: str | None
    kind: str  # file | folder | remote | missing
    path: str | None  # relative to the spec folder; None for remote data
    sha256: str | None
    size: int | None
    declared_sha256: str | None  # datasets[].sha256 in the spec
    dvc: dict[str, Any] | None  # what dvc.lock (or a .dvc file) pins: lock, stage, md5
    md5: str | None = None  # the file's md5, computed only when DVC pins it
    files: int | None = None

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "name": self.name,
            "uri": self.uri,
            "version": self.version,
            "kind": self.kind,
            "path": self.path,
            "sha256": self.sha256,
            "size": self.size,
            "declared_sha256": self.declared_sha256,
        }
        if self.kind == "folder":
            out["files"] = self.files
        if self.dvc:
            out["dvc"] = self.dvc
            out["md5"] = self.md5
        return out


@dataclass(frozen=True)
class Difference:
    """One way the present differs from the recorded lineage."""

    rule: str  # lineage/dataset, lineage/model, ...
    severity: Severity
    message: str
    spec_path: JsonPath | None = None  # what in the spec the difference concerns; None: the lineage file


def local_path(spec: Spec, uri: str) -> Path | None:
    """The local file a dataset URI names, or None for remote data (s3://, https://...)."""
    scheme, sep, rest = uri.partition("://")
    if not sep:
        return spec.directory / uri
    if scheme == "file":
        return Path(rest)
    if scheme == "dvc" and not rest.startswith(("http", "git@")) and "://" not in rest:
        return spec.directory / rest  # a DVC-tracked path of this repository
    return None


def _relative(spec: Spec, path: Path) -> str:
    try:
        return Path(os.path.relpath(path.resolve(), spec.directory.resolve())).as_posix()
    except ValueError:  # another drive on Windows
        return path.as_posix()


def _refuse_special(spec: Spec, index: int, path: Path) -> None:
    """A dataset that is a device, pipe or socket (say `data.csv -> /dev/zero`) is never read:
    exit 2 at the dataset's uri, before anything is hashed."""
    try:
        mode = path.stat().st_mode
    except OSError:
        return
    if not stat.S_ISREG(mode) and not stat.S_ISDIR(mode):
        raise InputError(
            spec.location(("datasets", index, "uri")),
            f"dataset {spec.data['datasets'][index]['uri']!r} is a device, pipe or socket, not a file or folder; "
            "mlci does not read it",
        )


def _refuse_link_out(spec: Spec, path: Path, at: JsonPath, what: str) -> Path:
    """The root below which `path` may be read, once it proves to resolve inside it.

    A path inside the project can still lead anywhere through a committed link
    (`data.csv -> /etc/shadow`, `model.joblib -> /`): mlci reads only what resolves
    inside the repository holding the project (so DVC's cache of links at its root
    stays usable), or the project folder outside a repository; the rest is exit 2 at
    the spec's line, before anything is read."""
    from mlci.config import find_root

    root = find_root(spec.directory)
    try:
        resolved = path.resolve(strict=True)
    except (OSError, RuntimeError):  # missing, a dangling link or a loop: reported as missing
        return root
    if not resolved.is_relative_to(root):
        written = Path(os.path.relpath(path, spec.directory)).as_posix()
        raise InputError(
            spec.location(at),
            f"{what} {written!r} leads out of the project through a link (to {resolved.as_posix()!r}); "
            "mlci reads only files inside the repository that holds the project",
        )
    return root


def dataset_states(spec: Spec, dvc: DvcIndex | None = None) -> list[DatasetState]:
    dvc = dvc or DvcIndex(spec.directory)
    states = []
    for index, dataset in enumerate(spec.data["datasets"]):
        uri = dataset["uri"]
        path = local_path(spec, uri)
        common = {
            "name": dataset["name"],
            "uri": uri,
            "version": dataset.get("version"),
            "declared_sha256": dataset.get("sha256"),
        }
        if path is None:
            states.append(DatasetState(kind="remote", path=None, sha256=None, size=None, dvc=None, **common))
            continue
        _refuse_special(spec, index, path)  # before anything resolves the path: a pipe is never opened
        within = _refuse_link_out(spec, path, ("datasets", index, "uri"), f"dataset {dataset['name']!r}:")
        pin = dvc.pin(path)
        pinned = {"lock": _relative(spec, pin.lock), "stage": pin.stage, "md5": pin.md5} if pin is not None else None
        if not path.exists():
            states.append(
                DatasetState(kind="missing", path=_relative(spec, path), sha256=None, size=None, dvc=pinned, **common)
            )
            continue
        digest = digest_path(path, with_md5=pin is not None and not pin.is_folder, within=within)
        states.append(
            DatasetState(
                kind="folder" if path.is_dir() else "file",
                path=_relative(spec, path),
                sha256=digest.sha256,
                size=digest.size,
                dvc=pinned,
                md5=digest.md5,
                files=digest.files,
                **common,
            )
        )
    return states


def package_versions(spec: Spec) -> dict[str, str | None]:
    """Versions from the installed metadata (no imports): key packages and the project's requirements."""
    from importlib import metadata

    names = list(KEY_PACKAGES)
    requirements = spec.directory / spec.typed.training.requirements
    wanted = set()
    if requirements.is_file():
        for line in requirements.read_text(encoding="utf-8", errors="replace").splitlines():
            match = _REQUIREMENT_NAME.match(line.split("#", 1)[0])
            if match and not line.lstrip().startswith("-"):
                wanted.add(match.group(1))
    names += sorted(wanted - set(names))
    versions: dict[str, str | None] = {}
    for name in names:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            if name in wanted:
                versions[name] = None  # required but absent: worth recording
    return versions


def environment(spec: Spec) -> dict[str, Any]:
    return {
        "python": platform.python_version(),
        "implementation": platform.python_implementation(),
        "platform": f"{platform.system()}-{platform.machine()}".lower(),
        "packages": package_versions(spec),
    }


def model_path(spec: Spec) -> Path:
    return spec.directory / spec.typed.model_path


def model_state(spec: Spec) -> dict[str, Any]:
    path = model_path(spec)
    if not path.exists():
        return {"path": _relative(spec, path), "sha256": None, "size": None}
    mode = path.stat().st_mode
    special = not stat.S_ISREG(mode) and not stat.S_ISDIR(mode)  # refused as such by digest_path, unread
    within = None if special else _refuse_link_out(spec, path, ("training", "outputs", "model"), "the model")
    digest = digest_path(path, within=within)
    return {"path": _relative(spec, path), "sha256": digest.sha256, "size": digest.size}


def record_lineage(spec: Spec, now: dt.datetime | None = None) -> dict[str, Any]:
    """The lineage document of the project as it is now (after training)."""
    training = spec.typed.training
    moment = (now or dt.datetime.now(dt.timezone.utc)).astimezone(dt.timezone.utc)
    return {
        "lineage_version": FORMAT_VERSION,
        "recorded_at": moment.isoformat(timespec="seconds").replace("+00:00", "Z"),
        "mlci_version": __version__,
        "project": {"name": spec.data["project"]["name"], "team": spec.data["project"].get("team")},
        "spec": {"file": spec.path.name, "sha256": spec.digest},
        "git": {"commit": current_commit(spec.directory), "dirty": is_dirty(spec.directory)},
        "training": {"command": training.argv, "params": thaw(training.params)},
        "datasets": [state.to_dict() for state in dataset_states(spec)],
        "model": model_state(spec),
        "environment": environment(spec),
    }


def write_json(path: Path, document: dict[str, Any], base: Path) -> None:
    """Write atomically; no link between `base` (the project, or the current folder for a
    path the user named) and the file is followed."""
    from mlci import safe_fs

    safe_fs.write_text(path, json.dumps(document, indent=2, sort_keys=True) + "\n", base)


def read_lineage(path: Path, shown: str | None = None) -> dict[str, Any]:
    shown = shown or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise UserError(f"{shown}: no lineage recorded here (run `mlci lineage record` after training)") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise UserError(f"{shown}: cannot read: {exc}") from None
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise InputError(Location(shown, exc.lineno, exc.colno), f"invalid JSON: {exc.msg}") from None
    if isinstance(document, dict) and "eventType" in document:
        raise InputError(
            Location(shown),
            "an OpenLineage event, not an mlci lineage file; verify the file `mlci lineage record` wrote",
        )
    if not isinstance(document, dict) or document.get("lineage_version") != FORMAT_VERSION:
        raise InputError(Location(shown), f"not an mlci lineage file (expected lineage_version {FORMAT_VERSION})")
    for key, kind in (("datasets", list), ("model", dict), ("training", dict), ("git", dict)):
        if not isinstance(document.get(key), kind):
            raise InputError(Location(shown), f"not an mlci lineage file: {key!r} is missing or malformed")
    return document


def _short(digest: str | None) -> str:
    return "none" if digest is None else digest[:12]


def _dataset_differences(index: int, now: DatasetState, then: dict[str, Any]) -> list[Difference]:
    label = f"dataset {now.name!r} ({now.path or now.uri})"
    out = []
    if then.get("uri") != now.uri:
        out.append(
            Difference(
                "lineage/dataset",
                Severity.HIGH,
                f"dataset {now.name!r}: uri is {now.uri!r} now, the lineage recorded {then.get('uri')!r}",
                ("datasets", index, "uri"),
            )
        )
    if then.get("version") != now.version:
        out.append(
            Difference(
                "lineage/dataset",
                Severity.HIGH,
                f"dataset {now.name!r}: version is {now.version!r} now, the lineage recorded {then.get('version')!r}",
                ("datasets", index, "version"),
            )
        )
    recorded = then.get("sha256")
    if recorded and now.kind == "missing":
        out.append(
            Difference(
                "lineage/dataset",
                Severity.HIGH,
                f"{label}: no longer exists; the lineage recorded sha256 {_short(recorded)}",
                ("datasets", index),
            )
        )
    elif recorded and now.sha256 and recorded != now.sha256:
        sizes = f" ({now.size} bytes now, {then.get('size')} then)" if now.size != then.get("size") else ""
        out.append(
            Difference(
                "lineage/dataset",
                Severity.HIGH,
                f"{label}: changed since the lineage was recorded: sha256 {_short(now.sha256)} now, "
                f"{_short(recorded)} then{sizes}",
                ("datasets", index),
            )
        )
    if now.declared_sha256 and now.sha256 and now.kind == "file" and now.declared_sha256 != now.sha256:
        out.append(
            Difference(
                "lineage/spec-sha256",
                Severity.HIGH,
                f"{label}: sha256 is {_short(now.sha256)}, the spec pins {_short(now.declared_sha256)}",
                ("datasets", index, "sha256"),
            )
        )
    elif now.kind == "remote" and then.get("declared_sha256") != now.declared_sha256:
        out.append(
            Difference(
                "lineage/spec-sha256",
                Severity.HIGH,
                f"{label}: the spec pins sha256 {_short(now.declared_sha256)} now, "
                f"{_short(then.get('declared_sha256'))} when the lineage was recorded",
                ("datasets", index, "sha256"),
            )
        )
    then_md5 = (then.get("dvc") or {}).get("md5")
    now_md5 = (now.dvc or {}).get("md5")
    if then_md5 != now_md5 and (then_md5 or now_md5):
        lock = (now.dvc or then.get("dvc") or {}).get("lock", "dvc.lock")
        out.append(
            Difference(
                "lineage/dvc",
                Severity.HIGH,
                f"{label}: {lock} pins md5 {_short(now_md5)} now, the lineage recorded {_short(then_md5)}",
                ("datasets", index),
            )
        )
    if now_md5 and now.md5 and now.md5 != now_md5:
        lock = (now.dvc or {}).get("lock", "dvc.lock")
        out.append(
            Difference(
                "lineage/dvc",
                Severity.HIGH,
                f"{label}: md5 {_short(now.md5)} does not match the {_short(now_md5)} that {lock} pins "
                "(run `dvc checkout` or `dvc repro`)",
                ("datasets", index),
            )
        )
    return out


def _params_change(then: dict[str, Any], now: dict[str, Any]) -> str:
    changes = []
    for key in sorted(set(then) | set(now)):
        if key not in now:
            changes.append(f"{key} removed")
        elif key not in then:
            changes.append(f"{key}={json.dumps(now[key])} added")
        elif then[key] != now[key]:
            changes.append(f"{key} {json.dumps(then[key])} -> {json.dumps(now[key])}")
    return ", ".join(changes)


def verify_lineage(spec: Spec, recorded: dict[str, Any]) -> list[Difference]:
    """Everything that differs between the recorded lineage and the project now."""
    differences: list[Difference] = []
    then_sets = {d.get("name"): d for d in recorded["datasets"] if isinstance(d, dict)}
    states = dataset_states(spec)
    for index, state in enumerate(states):
        then = then_sets.pop(state.name, None)
        if then is None:
            differences.append(
                Difference(
                    "lineage/dataset",
                    Severity.HIGH,
                    f"dataset {state.name!r} is in the spec but not in the lineage",
                    ("datasets", index),
                )
            )
            continue
        differences += _dataset_differences(index, state, then)
    for name in then_sets:
        differences.append(
            Difference(
                "lineage/dataset",
                Severity.HIGH,
                f"dataset {name!r} is in the lineage but no longer in the spec",
                ("datasets",),
            )
        )

    training = spec.typed.training
    then_params = recorded["training"].get("params") or {}
    now_params = thaw(training.params)
    if then_params != now_params:
        differences.append(
            Difference(
                "lineage/params",
                Severity.HIGH,
                f"training.params changed since the lineage was recorded: {_params_change(then_params, now_params)}",
                ("training", "params"),
            )
        )
    if recorded["training"].get("command") != training.argv:
        differences.append(
            Difference(
                "lineage/params",
                Severity.HIGH,
                f"training.command is {training.argv} now, the lineage recorded {recorded['training'].get('command')}",
                ("training", "command"),
            )
        )

    model_then = recorded["model"]
    model_now = model_state(spec)
    where = ("training", "outputs", "model")
    if model_then.get("sha256") and model_now["sha256"] is None:
        differences.append(
            Difference("lineage/model", Severity.HIGH, f"model {model_now['path']}: no longer exists", where)
        )
    elif model_then.get("sha256") != model_now["sha256"]:
        differences.append(
            Difference(
                "lineage/model",
                Severity.HIGH,
                f"model {model_now['path']}: sha256 {_short(model_now['sha256'])} now, "
                f"{_short(model_then.get('sha256'))} in the lineage (retrained without recording?)",
                where,
            )
        )

    commit_then = recorded["git"].get("commit")
    commit_now = current_commit(spec.directory)
    if commit_then and commit_now and commit_then != commit_now:
        differences.append(
            Difference(
                "lineage/commit",
                Severity.HIGH,
                f"git commit is {commit_now[:12]} now, the lineage was recorded at {commit_then[:12]}",
            )
        )
    if is_dirty(spec.directory) and recorded["git"].get("dirty") is False:
        differences.append(
            Difference(
                "lineage/dirty",
                Severity.MEDIUM,
                "the work tree has uncommitted changes now; it was clean when the lineage was recorded",
            )
        )
    differences += _environment_differences(recorded.get("environment") or {}, environment(spec))
    return differences


def _environment_differences(then: dict[str, Any], now: dict[str, Any]) -> list[Difference]:
    """Informational: the same data and code on another Python may still give the same model."""
    out = []
    if then.get("python") and then.get("python") != now["python"]:
        out.append(
            Difference(
                "lineage/environment", Severity.INFO, f"Python {now['python']} now, {then.get('python')} recorded"
            )
        )
    then_packages = then.get("packages") or {}
    for name, version in sorted(now["packages"].items()):
        if name in then_packages and then_packages[name] != version:
            out.append(
                Difference(
                    "lineage/environment",
                    Severity.INFO,
                    f"package {name} {version or 'not installed'} now, "
                    f"{then_packages[name] or 'not installed'} recorded",
                )
            )
    return out


def blessing_provenance(spec: Spec, model_sha256: str | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Dataset hashes for the blessing, and the lineage they come from.

    The lineage recorded when this very model was trained (same model sha256) knows the
    hashes of the data it was trained on; without one, the blessing carries what the spec
    and DVC pin. The gate never re-reads the datasets: they may be large, or absent from
    the CI job that runs it."""
    from mlci.errors import MlciError

    path = spec.directory / LINEAGE_FILE
    record = None
    if model_sha256 and path.is_file():
        try:
            record = read_lineage(path)
        except MlciError:
            record = None
        if record is not None and record["model"].get("sha256") != model_sha256:
            record = None  # an older training run's lineage
    datasets: dict[str, Any] = {}
    if record is not None:
        for entry in record["datasets"]:
            datasets[entry["name"]] = {
                "uri": entry.get("uri"),
                "sha256": entry.get("sha256") or entry.get("declared_sha256"),
                "source": "lineage" if entry.get("sha256") else "spec",
                **({"md5": entry["dvc"].get("md5")} if entry.get("dvc") else {}),
            }
        reference = {"file": LINEAGE_FILE, "sha256": sha256_file(path), "recorded_at": record.get("recorded_at")}
        return datasets, reference
    dvc = DvcIndex(spec.directory)
    for dataset in spec.data["datasets"]:
        local = local_path(spec, dataset["uri"])
        pin = dvc.pin(local) if local is not None else None
        datasets[dataset["name"]] = {
            "uri": dataset["uri"],
            "sha256": dataset.get("sha256"),
            "source": "spec",
            **({"md5": pin.md5} if pin is not None else {}),
        }
    return datasets, None


# OpenLineage export ---------------------------------------------------------------------------------------------

OPENLINEAGE_SCHEMA = "https://openlineage.io/spec/2-0-2/OpenLineage.json#/$defs/RunEvent"
_FACETS = "https://openlineage.io/spec/facets"
# OpenLineage asks for a URI that identifies the producer; custom facets carry a schema URL under it.
PRODUCER = f"https://pypi.org/project/mlci/{__version__}/"


def _facet(schema: str, **fields: Any) -> dict[str, Any]:
    return {"_producer": PRODUCER, "_schemaURL": schema, **fields}


def _joined(prefix: str, path: str) -> str:
    return os.path.normpath(Path(prefix, path)).replace(os.sep, "/") if prefix else path


def _openlineage_dataset(spec_dir: str, dataset: dict[str, Any]) -> dict[str, Any]:
    path = dataset.get("path")
    uri = dataset.get("uri", "")
    if path is not None:
        # Local files: namespace "file", name the path from the repository root when known.
        namespace, name = "file", _joined(spec_dir, path)
    else:
        scheme, _, rest = uri.partition("://")
        host, _, key = rest.partition("/")
        namespace, name = f"{scheme}://{host}", key or rest
    facets: dict[str, Any] = {
        "mlci_hashes": _facet(
            f"{PRODUCER}#/$defs/HashesDatasetFacet",
            sha256=dataset.get("sha256") or dataset.get("declared_sha256"),
            size=dataset.get("size"),
            **({"md5": (dataset.get("dvc") or {}).get("md5")} if dataset.get("dvc") else {}),
        )
    }
    if dataset.get("version"):
        facets["version"] = _facet(
            f"{_FACETS}/1-0-1/DatasetVersionDatasetFacet.json#/$defs/DatasetVersionDatasetFacet",
            datasetVersion=str(dataset["version"]),
        )
    if path is None:
        facets["dataSource"] = _facet(
            f"{_FACETS}/1-0-1/DatasourceDatasetFacet.json#/$defs/DatasourceDatasetFacet", name=namespace, uri=uri
        )
    return {"namespace": namespace, "name": name, "facets": facets}


def run_id(record: dict[str, Any]) -> str:
    """A UUID derived from what the run consumed and produced: the same run gives the same id."""
    key = json.dumps(
        [
            record["project"]["name"],
            record["git"].get("commit"),
            record["spec"]["sha256"],
            sorted((d.get("name"), d.get("sha256") or d.get("declared_sha256")) for d in record["datasets"]),
            record["model"].get("sha256"),
            record.get("recorded_at") if not record["model"].get("sha256") else None,
        ],
        sort_keys=True,
    )
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"{PRODUCER}run/{key}"))


def openlineage_event(record: dict[str, Any], spec_dir: str = "") -> dict[str, Any]:
    """An OpenLineage RunEvent (COMPLETE) for a recorded training run: datasets in, model out.

    `spec_dir` is the spec's folder from the repository root, so that two projects of a
    monorepo never name different files alike."""
    project = record["project"]
    git = record["git"]
    job_facets: dict[str, Any] = {
        "jobType": _facet(
            f"{_FACETS}/2-0-3/JobTypeJobFacet.json#/$defs/JobTypeJobFacet",
            processingType="BATCH",
            integration="MLCI",
            jobType="TRAINING",
        )
    }
    if git.get("commit"):
        job_facets["mlci_git"] = _facet(f"{PRODUCER}#/$defs/GitJobFacet", commit=git["commit"], dirty=git.get("dirty"))
    model = record["model"]
    environment_facet = record.get("environment") or {}
    return {
        "eventType": "COMPLETE",
        "eventTime": record.get("recorded_at"),
        "producer": PRODUCER,
        "schemaURL": OPENLINEAGE_SCHEMA,
        "run": {
            "runId": run_id(record),
            "facets": {
                "processing_engine": _facet(
                    f"{_FACETS}/1-1-1/ProcessingEngineRunFacet.json#/$defs/ProcessingEngineRunFacet",
                    name="python",
                    version=environment_facet.get("python"),
                    openlineageAdapterVersion=record.get("mlci_version"),
                ),
                "mlci_training": _facet(
                    f"{PRODUCER}#/$defs/TrainingRunFacet",
                    params=record["training"].get("params", {}),
                    command=record["training"].get("command"),
                    specSha256=record["spec"]["sha256"],
                    packages=environment_facet.get("packages", {}),
                ),
            },
        },
        "job": {
            "namespace": f"mlci/{project.get('team') or project['name']}",
            "name": f"{project['name']}.train",
            "facets": job_facets,
        },
        "inputs": [_openlineage_dataset(spec_dir, d) for d in record["datasets"]],
        "outputs": [
            {
                "namespace": "file",
                "name": _joined(spec_dir, model["path"]),
                "facets": {
                    "mlci_hashes": _facet(
                        f"{PRODUCER}#/$defs/HashesDatasetFacet", sha256=model.get("sha256"), size=model.get("size")
                    )
                },
            }
        ],
    }
