"""The repository's mlci configuration: `.mlci.yaml`, or `[tool.mlci]` in pyproject.toml.

Found at the root of the repository holding the current folder (the nearest parent with
`.git`; the current folder itself outside a repository). It sets the defaults of
`mlci check` (and of `mlci policy test` for the policy folders); an option given on the
command line always wins, and replaces the configured value rather than adding to it.

A pull request can edit this file like any other, so it is untrusted input: it is
validated against a small schema (exit 2 at file:line:col), every path in it must stay
inside the repository, and it can only set what the command-line options could set.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from mlci.errors import InputError, Location, UserError
from mlci.findings import JsonPath, Severity
from mlci.loader import MAX_FILE_BYTES

Locate = Callable[[JsonPath], Location]

CONFIG_NAME = ".mlci.yaml"
PYPROJECT_NAME = "pyproject.toml"
MAX_CONFIG_BYTES = 256 * 1024
MAX_PATHS = 100

_PATHS = {
    "description": "A path relative to the repository root, or a list of them.",
    "oneOf": [
        {"type": "string", "minLength": 1},
        {"type": "array", "maxItems": MAX_PATHS, "items": {"type": "string", "minLength": 1}},
    ],
}

CONFIG_SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "mlci configuration (.mlci.yaml or [tool.mlci] in pyproject.toml)",
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "policies": {
            **_PATHS,
            "description": "Your own Rego policies (--policies): folders, OPA bundles (bundle.tar.gz#sha256=HEX, "
            "or signed and verified with --policy-key) or git+https://...@COMMIT#subdirectory=DIR.",
        },
        "data": {**_PATHS, "description": "JSON policy data files (--data)."},
        "waivers": {**_PATHS, "description": "YAML files with a 'waivers:' list (--waivers)."},
        "fail-on": {"enum": [s.label for s in Severity], "description": "Lowest failing severity (--fail-on)."},
        "engine": {"enum": ["embedded", "opa"], "description": "Policy engine (--engine)."},
    },
}

# Config key -> (the click parameter it sets, what the path must be: "dir", "file", "any",
# "policy-source" (a folder, bundle or pinned git URL) or None).
_CHECK_PARAMETERS: dict[str, tuple[str, str | None]] = {
    "policies": ("policy_dirs", "policy-source"),
    "data": ("data_files", "file"),
    "waivers": ("waiver_files", "file"),
    "fail-on": ("fail_on", None),
    "engine": ("engine", None),
}


@dataclass(frozen=True)
class Config:
    """Validated settings, paths resolved inside the repository, each with where it was set."""

    file: str  # as shown to the user
    root: Path
    check: dict[str, Any] = field(default_factory=dict)  # click parameter name -> value
    origins: dict[str, Location] = field(default_factory=dict)  # click parameter name -> where it was set

    def default_map(self) -> dict[str, Any]:
        """click's default_map: the command line overrides every value in it."""
        defaults: dict[str, Any] = {"check": dict(self.check)}
        if "policy_dirs" in self.check:
            defaults["policy"] = {"test": {"policy_dirs": self.check["policy_dirs"]}}
        return defaults


def find_root(start: Path) -> Path:
    """The repository holding `start`: the nearest folder with `.git` (a folder, or a worktree's file)."""
    start = start.resolve()
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return start


def discover_config(start: Path | None = None) -> Config | None:
    """The configuration at the root of the repository holding `start` (default: the current folder)."""
    from mlci.discover import display_path

    root = find_root(start or Path.cwd())
    yaml_file, pyproject = root / CONFIG_NAME, root / PYPROJECT_NAME
    from_pyproject = load_config(pyproject, root) if _is_present(pyproject) else None
    if _is_present(yaml_file):
        if from_pyproject is not None:
            raise UserError(
                f"{display_path(yaml_file)} and [tool.mlci] in {display_path(pyproject)} both configure mlci; keep one"
            )
        return load_config(yaml_file, root)
    return from_pyproject


def load_config(path: Path, root: Path | None = None) -> Config | None:
    """Read and validate one configuration file; None for a pyproject.toml without [tool.mlci]."""
    from mlci.discover import display_path

    shown = display_path(path)
    root = (root or path.parent).resolve()
    text = _read(path, shown, root)
    if path.suffix == ".toml":
        if not _may_have_tool_mlci(text):
            return None
        parsed = _parse_toml(text, shown)
        if parsed is None:
            return None
        data, locate = parsed
    else:
        data, locate = _parse_yaml(text, path, shown)
    _validate(data, locate)
    config = Config(file=shown, root=root)
    for key, (parameter, kind) in _CHECK_PARAMETERS.items():
        if key not in data:
            continue
        value = data[key]
        if kind is not None:
            entries = [value] if isinstance(value, str) else list(value)
            value = [
                _inside_root(entry, kind, root, locate((key,) if isinstance(data[key], str) else (key, i)))
                for i, entry in enumerate(entries)
            ]
        config.check[parameter] = value
        config.origins[parameter] = locate((key,))
    return config


def _is_present(path: Path) -> bool:
    return path.is_symlink() or path.exists()


def _read(path: Path, shown: str, root: Path) -> str:
    # A pull request can add a symlink named .mlci.yaml pointing anywhere on the runner.
    if path.is_symlink() and not path.resolve().is_relative_to(root):
        raise UserError(f"{shown}: is a symbolic link leading out of the repository; mlci will not read it")
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise UserError(f"{shown}: no such file") from None
    except OSError as exc:
        raise UserError(f"{shown}: cannot read: {exc.strerror}") from None
    limit = MAX_FILE_BYTES if path.suffix == ".toml" else MAX_CONFIG_BYTES
    if len(raw) > limit:
        raise InputError(Location(shown), f"file is {len(raw)} bytes; mlci reads configurations up to {limit}")
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise InputError(Location(shown), "not valid UTF-8; save the file as UTF-8") from None


def _may_have_tool_mlci(text: str) -> bool:
    """Cheap pre-test, so a pyproject.toml without mlci's table is not parsed on the check's hot path."""
    return re.search(r"^\s*(\[\s*tool\s*\.\s*mlci\b|tool\s*\.\s*mlci\b|mlci\s*[.=])", text, re.M) is not None


def _parse_yaml(text: str, path: Path, shown: str) -> tuple[dict[str, Any], Locate]:
    from mlci.loader import parse_spec_text

    if all(not line.strip() or line.lstrip().startswith("#") for line in text.splitlines()):
        return {}, lambda _path: Location(shown)
    # The spec loader's parser: positions for every key, and the same limits on nesting and aliases.
    try:
        document = parse_spec_text(text, path, shown)
    except RecursionError:  # an alias that contains itself
        raise InputError(Location(shown), "a YAML alias refers to itself; mlci reads plain mappings only") from None
    return document.data, document.location


def _parse_toml(text: str, shown: str) -> tuple[dict[str, Any], Locate] | None:
    try:
        import tomllib
    except ModuleNotFoundError:  # Python 3.10
        import tomli as tomllib  # type: ignore[no-redef]

    try:
        document = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        found = re.search(r"at line (\d+), column (\d+)", str(exc))
        line, column = (int(found.group(1)), int(found.group(2))) if found else (1, 1)
        problem = re.sub(r"\s*\(at line \d+, column \d+\)", "", str(exc)) or "invalid TOML"
        raise InputError(Location(shown, line, column), problem) from None
    tool = document.get("tool")
    if not isinstance(tool, dict) or "mlci" not in tool:
        return None
    table = tool["mlci"]
    if not isinstance(table, dict):
        raise InputError(_toml_location(text, shown, ()), "tool.mlci must be a table")
    return table, lambda path: _toml_location(text, shown, path)


def _toml_location(text: str, shown: str, path: JsonPath) -> Location:
    """TOML keeps no positions: find the [tool.mlci] header, then the key's line below it."""
    lines = text.splitlines()
    header = next((i for i, line in enumerate(lines) if re.match(r"\s*\[\s*tool\s*\.\s*mlci\s*\]", line)), None)
    if header is None:
        return Location(shown)
    if path:
        key = re.escape(str(path[0]))
        for i in range(header + 1, len(lines)):
            if re.match(r"\s*\[", lines[i]):
                break
            found = re.match(rf"(\s*)[\"']?{key}[\"']?\s*=", lines[i])
            if found:
                return Location(shown, i + 1, len(found.group(1)) + 1)
    return Location(shown, header + 1, 1)


def _validate(data: Any, locate: Locate) -> None:
    from jsonschema import Draft202012Validator

    from mlci.schema import _explain

    problems = [
        (path, message)
        for error in Draft202012Validator(CONFIG_SCHEMA).iter_errors(data)
        for path, message in _explain(error)
    ]
    if problems:
        located = sorted(
            ((locate(path), message) for path, message in problems), key=lambda p: (p[0].line, p[0].column)
        )
        location, message = located[0]
        more = f" (and {len(located) - 1} more problem(s))" if len(located) > 1 else ""
        raise InputError(location, f"{message}{more}")


def _policy_source(entry: str, root: Path, location: Location) -> str:
    """A policy source: a pinned git URL as written (https or ssh only: a repository's config
    may not reach into the runner's disk), or a folder or bundle inside the repository (its pin kept)."""
    from mlci.policy.sources import split_pin
    from mlci.policy.sources.git import CONFIG_SCHEMES, is_git_url, parse_git_url

    try:
        if is_git_url(entry):
            parse_git_url(entry, CONFIG_SCHEMES)
            return entry
        path, pin = split_pin(entry)
    except UserError as exc:
        raise InputError(location, exc.message) from None
    resolved = _inside_root(path, "any", root, location)
    return f"{resolved}#sha256={pin}" if pin else resolved


def _inside_root(entry: str, kind: str, root: Path, location: Location) -> str:
    """The entry resolved against the repository root; it must exist and stay inside the root."""
    from mlci.discover import display_path

    if kind == "policy-source":
        return _policy_source(entry, root, location)
    if "\0" in entry:
        raise InputError(location, f"{entry!r}: a path cannot contain a NUL character")
    relative = Path(entry)
    if relative.is_absolute() or entry.startswith(("~", "\\")) or re.match(r"[A-Za-z]:", entry):
        raise InputError(location, f"{entry!r}: write a path relative to the repository root")
    try:
        resolved = (root / relative).resolve()  # symlinks followed: where it really points must be inside
    except (OSError, RuntimeError) as exc:  # RuntimeError: a symlink loop on Python < 3.13
        raise InputError(location, f"{entry!r}: cannot be resolved ({exc})") from None
    if not resolved.is_relative_to(root):
        raise InputError(
            location, f"{entry!r}: points outside the repository ({root}); mlci reads only files inside it"
        )
    if not resolved.exists():
        what = {"file": "file", "dir": "folder"}.get(kind, "file or folder")
        raise InputError(location, f"{entry!r}: no such {what}")
    if kind == "dir" and not resolved.is_dir():
        raise InputError(location, f"{entry!r}: is not a folder")
    if kind == "file" and not resolved.is_file():
        raise InputError(location, f"{entry!r}: is not a regular file")
    return display_path(resolved)
