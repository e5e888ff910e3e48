"""The typed spec (mlci/spec): every schema default reaches it, field names are the schema's,
it cannot be changed, and nothing in mlci re-decides a default with `.get(key, DEFAULT)`."""

from __future__ import annotations

import ast
import dataclasses
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from hypothesis import HealthCheck, assume, given, reject, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from mlci.errors import InputError
from mlci.loader import parse_spec_text
from mlci.schema import load_schema, validate_spec
from mlci.spec import MLProject, thaw, typed_spec, with_defaults
from mlci.spec.defaults import resolve
from tests.conftest import EXAMPLES
from tests.strategies import Mutation, string_field_edits, type_confusions

ROOT = Path(__file__).resolve().parent.parent
SCHEMA = load_schema()
DEFS = SCHEMA["$defs"]

# Every section present, each with only what the schema requires: every defaulted property is omitted.
EVERY_SECTION_BARE: dict[str, Any] = {
    "apiVersion": "mlci/v1",
    "project": {"name": "bare", "owners": ["alice"]},
    "datasets": [{"name": "numbers", "uri": "data/numbers.csv"}],
    "training": {"command": "python train.py"},
    "evaluation": {"command": ["python", "evaluate.py"], "gates": [{"metric": "accuracy", "threshold": 0.5}]},
    "model": {"name": "bare"},
    "serving": {"command": "python serve.py"},
    "environments": [
        {
            "name": "production",
            "tier": "production",
            "cluster": "eu-prod-1",
            "namespace": "bare",
            "region": "eu-west-1",
            "autoscaling": {"min_replicas": 1, "max_replicas": 3},
        }
    ],
    "monitoring": {"drift": {}, "latency": {}},
    "governance": {
        "waivers": [
            {"rule": "MLCI-GDPR-002", "reason": "accepted for a test", "approved_by": "bob", "expires": "2030-01-01"}
        ]
    },
    "ci": {},
}
# The smallest spec: the optional sections themselves omitted.
MINIMAL: dict[str, Any] = {
    **{key: EVERY_SECTION_BARE[key] for key in ("apiVersion", "project", "datasets", "training", "model")},
    "evaluation": {"command": "python evaluate.py"},
}


def _schema_defaults(node: Any, pointer: str = "") -> set[str]:
    """JSON pointers of every `default` in the schema."""
    found: set[str] = set()
    if isinstance(node, dict):
        if "default" in node:
            found.add(pointer)
        for key, value in node.items():
            if key not in ("default", "const", "enum"):
                found |= _schema_defaults(value, f"{pointer}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            found |= _schema_defaults(value, f"{pointer}/{index}")
    return found


def _where(node: dict[str, Any], pointer: str) -> tuple[dict[str, Any], str]:
    """The node with its $ref resolved, and the pointer of the node that holds its default."""
    if "default" not in node and isinstance(node.get("$ref"), str):
        return resolve(node, DEFS), node["$ref"].removeprefix("#")
    return resolve(node, DEFS), pointer


def _walk_defaults(node: dict[str, Any], pointer: str, typed: Any, omitted: Any, seen: set[str]) -> None:
    """Assert that every schema default below `node` is the typed value where the YAML omitted it."""
    node, pointer = _where(node, pointer)
    if dataclasses.is_dataclass(typed):
        properties = node["properties"]
        names = {field.name for field in dataclasses.fields(typed)}
        expected = set(properties) - ({"apiVersion"} if pointer == "" else set())
        assert names == expected, f"{type(typed).__name__} fields differ from the schema at {pointer or '/'}"
        for key, sub in properties.items():
            if key == "apiVersion":
                continue
            sub_pointer = f"{pointer}/properties/{key}"
            resolved, holder = _where(sub, sub_pointer)
            value = getattr(typed, key)
            given = omitted.get(key) if isinstance(omitted, dict) else None
            if "default" in resolved and given is None:
                seen.add(holder)
                default = resolved["default"]
                if isinstance(default, dict):
                    assert value is not None, f"{sub_pointer}: the default {{}} did not make an object"
                else:
                    assert thaw(value) == default, f"{sub_pointer}: typed {value!r}, schema default {default!r}"
            if value is not None:
                _walk_defaults(sub, sub_pointer, value, given, seen)
    elif isinstance(typed, tuple) and "items" in node:
        for index, item in enumerate(typed):
            given = omitted[index] if isinstance(omitted, list) and index < len(omitted) else None
            _walk_defaults(node["items"], f"{pointer}/items", item, given, seen)


def test_every_schema_default_is_the_typed_value_when_the_yaml_omits_it() -> None:
    seen: set[str] = set()
    for data in (MINIMAL, EVERY_SECTION_BARE):
        _walk_defaults(SCHEMA, "", typed_spec(data), data, seen)
    assert seen == _schema_defaults(SCHEMA), "some schema defaults were never checked (extend EVERY_SECTION_BARE)"


def test_a_minimal_spec_gets_the_documented_defaults() -> None:
    typed = typed_spec(MINIMAL)
    assert typed.serving is None and typed.monitoring is None
    assert typed.environments == () and typed.evaluation.gates == ()
    assert typed.ci.python_version == "3.11" and typed.ci.default_branch == "main"
    assert typed.ci.providers == ("github", "gitlab", "jenkins") and dict(typed.ci.env) == {}
    assert typed.training.requirements == "requirements.txt" and typed.training.timeout_minutes == 60
    assert typed.training.outputs.model == "artifacts/model.joblib" == typed.model_path
    assert typed.evaluation.metrics_file == "artifacts/metrics.json"
    assert (typed.training.resources.cpu, typed.training.resources.memory, typed.training.resources.gpu) == (
        "1",
        "2Gi",
        0,
    )
    assert typed.governance.waivers == () and typed.project.authors == ()
    # Computed defaults, in one place.
    assert typed.training_image == "python:3.11-slim"
    assert typed.image_repository == "registry.example.com/ml/bare"
    assert typed.repository_url == "https://git.example.com/ml/bare.git"
    assert typed.separate_training_image is False


def test_serving_resources_default_differently_from_training() -> None:
    typed = typed_spec({**EVERY_SECTION_BARE, "serving": {"command": "serve", "resources": {"cpu": "2"}}})
    assert typed.serving is not None
    assert (typed.serving.resources.cpu, typed.serving.resources.memory) == ("2", "512Mi")


def test_given_values_win_over_defaults() -> None:
    data = {
        **MINIMAL,
        "project": {"name": "bare", "owners": ["alice"], "team": "risk"},
        "ci": {"python_version": "3.12", "default_branch": "trunk", "env": {"A": "1"}},
        "training": {"command": "python train.py", "timeout_minutes": 5, "params": {"depth": [1, {"x": 2}]}},
    }
    typed = typed_spec(data)
    assert typed.ci.default_branch == "trunk" and typed.training_image == "python:3.12-slim"
    assert typed.image_repository == "registry.example.com/risk/bare"
    assert typed.training.timeout_minutes == 5
    assert thaw(typed.training.params) == {"depth": [1, {"x": 2}]}
    assert data["ci"] == {"python_version": "3.12", "default_branch": "trunk", "env": {"A": "1"}}, "input changed"


def test_canary_steps_default_only_for_canaries() -> None:
    env = EVERY_SECTION_BARE["environments"][0]
    canary = typed_spec({**MINIMAL, "environments": [{**env, "strategy": {"type": "canary"}}]}).environments[0]
    assert [(s.weight, s.pause_seconds) for s in canary.strategy.canary_steps] == [(20, 600), (50, 600)]
    rolling = typed_spec({**MINIMAL, "environments": [env]}).environments[0]
    assert rolling.strategy.type == "rolling" and rolling.strategy.canary_steps == ()


def test_the_typed_spec_is_frozen() -> None:
    typed = typed_spec({**MINIMAL, "training": {"command": "t", "params": {"a": [1]}}})
    with pytest.raises(dataclasses.FrozenInstanceError):
        typed.ci.default_branch = "other"  # type: ignore[misc]
    with pytest.raises(dataclasses.FrozenInstanceError):
        typed.training = typed.training  # type: ignore[misc]
    with pytest.raises(TypeError):
        typed.training.params["a"] = 2  # type: ignore[index]
    assert isinstance(typed.training.params["a"], tuple) and isinstance(typed.datasets, tuple)


def test_defaults_do_not_reach_the_raw_data_the_policies_see() -> None:
    spec = parse_spec_text(json.dumps(MINIMAL), Path("mlproject.yaml"), "mlproject.yaml")
    before = json.dumps(spec.data, sort_keys=True)
    assert spec.typed.ci.default_branch == "main"
    assert json.dumps(spec.data, sort_keys=True) == before and "ci" not in spec.data


def test_every_default_is_valid_where_it_stands() -> None:
    validator = Draft202012Validator(SCHEMA)
    for data in (MINIMAL, EVERY_SECTION_BARE):
        assert list(validator.iter_errors(with_defaults(data, SCHEMA))) == []


@pytest.mark.parametrize("example", EXAMPLES, ids=lambda p: p.name)
def test_examples_have_a_typed_form(example: Path) -> None:
    spec = parse_spec_text((example / "mlproject.yaml").read_text(), example / "mlproject.yaml", "mlproject.yaml")
    assert validate_spec(spec) == []
    assert isinstance(spec.typed, MLProject) and spec.typed.project.name == spec.data["project"]["name"]


@pytest.mark.parametrize("branch", ["main", "trunk", "release/2.x", "dev_1"])
def test_default_branch_accepts_branch_names(branch: str) -> None:
    assert list(Draft202012Validator(SCHEMA).iter_errors({**MINIMAL, "ci": {"default_branch": branch}})) == []


@pytest.mark.parametrize("branch", ["main\n", "-x", "a..b", "a b", "$(id)", "a/", "x.lock", "${{ github.ref }}", ""])
def test_default_branch_refuses_what_is_not_a_safe_ref(branch: str) -> None:
    assert list(Draft202012Validator(SCHEMA).iter_errors({**MINIMAL, "ci": {"default_branch": branch}})) != []


# --- no second copy of a default --------------------------------------------------------------


def _optional_properties(node: Any) -> set[str]:
    """Property names that are optional somewhere in the schema: the keys a reader could be
    tempted to default. Keys required wherever they appear ('name', 'metric') need no default."""
    names: set[str] = set()
    if isinstance(node, dict):
        required = set(node.get("required", ()))
        names |= {key for key in node.get("properties", {}) if key not in required}
        for value in node.values():
            names |= _optional_properties(value)
    elif isinstance(node, list):
        for value in node:
            names |= _optional_properties(value)
    return names


SPEC_KEYS = _optional_properties(SCHEMA)


def _modules() -> list[Path]:
    return sorted((ROOT / "mlci").rglob("*.py"))


# Reads of data that is not the spec, though a key shares a spec property's name.
NOT_SPEC_DATA = {
    ("mlci/policy/evaluate.py", "violation.get('path', ())"),  # a policy's violation
    ("mlci/schema.py", "error.schema.get('description', '')"),  # a schema node
    ("mlci/runtime/lineage.py", "record['training'].get('params', {})"),  # a recorded lineage file
    ("mlci/runtime/lineage.py", "recorded['training'].get('params') or {}"),  # a recorded lineage file
    ("mlci/policy/metadata.py", "self.values.get('description') or ''"),  # a rule's metadata
    ("mlci/reporters/_common.py", "meta.get('description') or ''"),  # a rule's metadata
    ("mlci/commands/check.py", "pack.settings.get('people', {})"),  # the policy settings' people directory
    ("mlci/registry/report.py", "(entry or {}).get('sha256') or ''"),  # a blessing file's dataset entry
}


def _spec_key_read(node: ast.AST) -> bool:
    """`<anything>.get('<spec key>', ...)`."""
    return (
        isinstance(node, ast.Call)
        and isinstance(node.func, ast.Attribute)
        and node.func.attr in ("get", "setdefault")
        and 1 <= len(node.args) <= 2
        and isinstance(node.args[0], ast.Constant)
        and node.args[0].value in SPEC_KEYS
    )


def _a_default(node: ast.AST) -> bool:
    """A value standing in for an absent key: a literal (not None) or a DEFAULT_* constant."""
    if isinstance(node, ast.Constant):
        return node.value is not None
    if isinstance(node, ast.Name):
        return node.id.startswith("DEFAULT")
    if isinstance(node, ast.Call):  # list(CI_TARGETS), str(...); not another lookup
        return not (isinstance(node.func, ast.Attribute) and node.func.attr == "get")
    return isinstance(node, ast.Dict | ast.List | ast.Tuple | ast.JoinedStr | ast.Attribute)


def defaulted_spec_reads(source: str) -> list[tuple[int, str]]:
    """`.get('<spec key>', <default>)` and `.get('<spec key>') or <default>`: a default decided
    again outside the schema."""
    found = []
    for node in ast.walk(ast.parse(source)):
        defaulted_get = isinstance(node, ast.Call) and _spec_key_read(node) and len(node.args) == 2
        if (defaulted_get and _a_default(node.args[1])) or (
            isinstance(node, ast.BoolOp)
            and isinstance(node.op, ast.Or)
            and _spec_key_read(node.values[0])
            and any(_a_default(value) for value in node.values[1:])
        ):
            found.append((node.lineno, ast.unparse(node)))
    return found


def test_the_checker_sees_a_defaulted_spec_read() -> None:
    assert defaulted_spec_reads('x = ci.get("python_version", "3.11")') != []
    assert defaulted_spec_reads('x = data.get("ci", {}).get("env", {})') != []
    assert defaulted_spec_reads('x = settings.get("threshold", DEFAULT_THRESHOLD)') != []
    assert defaulted_spec_reads('x = ci.get("image_registry", f"registry.example.com/{team}")') != []
    assert defaulted_spec_reads('x = serving.get("port") or 8080') != []
    assert defaulted_spec_reads('x = os.environ.get("HOME", "/")') == []  # not a spec key
    assert defaulted_spec_reads('x = raw.get("current")') == []  # absent stays None
    assert defaulted_spec_reads('x = d.get("sha256") or d.get("declared_sha256")') == []  # no default


def test_no_module_decides_a_spec_default_again() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{line}: {code}"
        for path in _modules()
        if "spec" not in path.relative_to(ROOT / "mlci").parts[:1]
        for line, code in defaulted_spec_reads(path.read_text())
        if (path.relative_to(ROOT).as_posix(), code) not in NOT_SPEC_DATA
    ]
    assert offenders == [], "read the typed spec (Spec.typed) instead:\n" + "\n".join(offenders)


def test_runtime_does_not_import_render() -> None:
    offenders = []
    for path in sorted((ROOT / "mlci" / "runtime").rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            names = []
            if isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module, *(f"{node.module}.{alias.name}" for alias in node.names)]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            if any(name == "mlci.render" or name.startswith("mlci.render.") for name in names):
                offenders.append(f"{path.relative_to(ROOT)}:{node.lineno}")
    assert offenders == []


# --- any accepted spec has the typed form the schema describes ----------------------------------


def _without_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _without_none(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_without_none(item) for item in value]
    return value


@settings(suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much])
@given(st.one_of(string_field_edits(schema_valid_only=True), type_confusions()))
def test_an_accepted_spec_is_typed_as_written_plus_the_schema_defaults(mutation: Mutation) -> None:
    """Whatever the schema accepts, the typed spec holds exactly the written values and,
    where nothing is written, the schema's defaults: no value lost, none invented."""
    try:
        spec = parse_spec_text(mutation.text.decode("utf-8", "replace"), Path("mlproject.yaml"), "mlproject.yaml")
    except InputError:
        reject()
    assume(validate_spec(spec) == [])
    filled = with_defaults(spec.data, SCHEMA)
    filled.pop("apiVersion")
    assert _without_none(thaw(spec.typed)) == _without_none(filled), mutation


def test_the_shipped_schema_is_the_one_tools_build_schema_writes() -> None:
    """The defaults live in tools/build_schema.py; a hand edit of the JSON would fork them."""
    result = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "build_schema.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
