"""Bounded resources: a spec cannot make mlci eat the machine. Large strings repeated
through aliases, oversized files and arrays too large for the policy engine are refused
early with exit 2 and a position; a rendered ConfigMap too large for Kubernetes is a finding."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from mlci.errors import InputError
from mlci.loader import MAX_EXPANDED_CHARS, MAX_FILE_BYTES, load_spec
from tests.conftest import ROOT, copy_spec

IRIS = (ROOT / "examples" / "iris-classifier" / "mlproject.yaml").read_text()
PARAMS = "    random_state: 42\n"


def _with_params(extra: str) -> str:
    assert PARAMS in IRIS
    return IRIS.replace(PARAMS, PARAMS + extra)


def _alias_bomb(size: int, copies: int) -> str:
    """A schema-valid spec: one `size`-character string in training.params, aliased `copies` times."""
    refs = ", ".join(["*big"] * copies)
    return _with_params(f'    blob: &big "{"x" * size}"\n    copies: [{refs}]\n')


_MEASURE = textwrap.dedent(
    """
    import json, resource, sys, time
    from mlci.cli import main
    # CPU seconds, not wall-clock: the bound is on mlci's work, whatever else the machine runs.
    started = time.process_time()
    try:
        main(sys.argv[1:])
        code = 0
    except SystemExit as exc:
        code = exc.code
    elapsed = time.process_time() - started
    # Linux carries ru_maxrss across exec from the forking parent (pytest, hundreds of MB):
    # the peak of this process's own memory is VmHWM.
    try:
        status = open("/proc/self/status").read()
        rss_kb = int(status.split("VmHWM:")[1].split()[0])
    except (OSError, IndexError):
        rss_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    print(json.dumps({"code": code, "seconds": elapsed, "rss_mb": rss_kb / 1024}), file=sys.stderr)
    """
)


def _measure(*args: str, cwd: Path) -> tuple[dict[str, float], str]:
    """Run mlci in a fresh interpreter; its exit code, the seconds mlci took and its peak RSS."""
    proc = subprocess.run(
        [sys.executable, "-c", _MEASURE, *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )
    measured = json.loads(proc.stderr.strip().splitlines()[-1])
    return measured, proc.stdout + proc.stderr


@pytest.mark.parametrize("command", [("validate",), ("check", "--now", "2026-11-22"), ("render", "--out", "out")])
def test_an_alias_bomb_of_large_strings_is_refused_in_under_a_second(tmp_path: Path, command: tuple[str, ...]) -> None:
    spec = tmp_path / "mlproject.yaml"
    spec.write_text(_alias_bomb(1_000_000, 1_500))
    assert MAX_FILE_BYTES > spec.stat().st_size > 1_000_000  # the file itself is allowed
    copies_line = next(n for n, line in enumerate(spec.read_text().splitlines(), 1) if "copies:" in line)
    measured, output = _measure(*command, str(spec), cwd=tmp_path)
    assert measured["code"] == 2, output
    assert f"mlproject.yaml:{copies_line}:13: critical syntax the document expands to more than" in output
    assert measured["seconds"] < 1.0, measured
    assert measured["rss_mb"] < 200, measured
    assert not (tmp_path / "out").exists()


def test_expanded_text_budget_on_both_sides(tmp_path: Path) -> None:
    spec = tmp_path / "mlproject.yaml"
    size = 1_000_000
    below = MAX_EXPANDED_CHARS // size - 1  # the string once, plus this many aliases, fits
    spec.write_text(_alias_bomb(size, below))
    params = load_spec(spec).data["training"]["params"]
    assert len(params["copies"]) == below and params["copies"][0] == params["blob"]

    spec.write_text(_alias_bomb(size, below + 1))
    with pytest.raises(InputError, match=f"more than {MAX_EXPANDED_CHARS} characters"):
        load_spec(spec)


def test_a_spec_file_over_the_size_limit_is_exit_2(cli, tmp_path: Path) -> None:
    spec = tmp_path / "mlproject.yaml"
    padding = "# " + "p" * 98 + "\n"
    spec.write_text(IRIS + padding * ((MAX_FILE_BYTES - len(IRIS)) // len(padding)))
    assert spec.stat().st_size <= MAX_FILE_BYTES
    assert cli("validate", str(spec)).exit_code == 0

    spec.write_text(IRIS + padding * (MAX_FILE_BYTES // len(padding) + 1))
    result = cli("validate", str(spec))
    assert result.exit_code == 2
    assert f"mlproject.yaml:1:1: critical syntax file is {spec.stat().st_size} bytes;" in result.stdout
    assert f"mlci reads specs up to {MAX_FILE_BYTES} bytes" in result.stdout


DATASETS = IRIS[IRIS.index("datasets:\n") : IRIS.index("training:\n")]
DATASET = DATASETS.removeprefix("datasets:\n")


def _with_datasets(count: int) -> str:
    """The iris spec with `count` copies of its dataset, each under its own name."""
    copies = "".join(DATASET.replace("name: iris", f"name: iris-{n}") for n in range(count))
    return IRIS.replace(DATASETS, "datasets:\n" + copies)


def _datasets_line(text: str) -> int:
    return text.splitlines().index("datasets:") + 1


def test_the_dataset_limit_on_both_sides(cli, tmp_path: Path) -> None:
    from mlci.schema import load_schema

    limit = load_schema()["properties"]["datasets"]["maxItems"]
    assert "at most 100" in load_schema()["properties"]["datasets"]["description"]
    spec = copy_spec(ROOT / "examples" / "iris-classifier" / "mlproject.yaml", tmp_path, _with_datasets(limit))
    result = cli("check", str(spec), "--now", "2026-11-22", "-o", "json")
    assert result.exit_code == 0, result.stdout + result.stderr  # decided, and clean

    spec.write_text(_with_datasets(limit + 1))
    result = cli("check", str(spec), "--now", "2026-11-22")
    assert result.exit_code == 2, result.stdout + result.stderr
    line = _datasets_line(spec.read_text())
    expected = f"mlproject.yaml:{line}:1: high schema datasets has {limit + 1} items; at most {limit} are allowed"
    assert expected in result.stdout


def test_fifteen_thousand_datasets_are_refused_with_a_clear_message(cli, tmp_path: Path) -> None:
    """Through aliases the file stays small; the embedded engine used to end in exit 3 after 23 s."""
    spec = tmp_path / "mlproject.yaml"
    small = '  - &d {name: iris, uri: data/iris.csv, version: "1", personal_data: false}\n'
    text = IRIS.replace(DATASETS, "datasets:\n" + small + "  - *d\n" * 14_999)
    spec.write_text(text)
    result = cli("check", str(spec), "--now", "2026-11-22")
    assert result.exit_code == 2, result.stdout + result.stderr
    line = _datasets_line(text)
    assert f"mlproject.yaml:{line}:1: high schema datasets has 15000 items; at most 100" in result.stdout
    assert len(result.stdout) < 2_000  # one line, not the list repeated back


def test_every_list_in_the_schema_is_bounded() -> None:
    from mlci.schema import load_schema

    def unbounded(node: object, where: str) -> list[str]:
        found = []
        if isinstance(node, dict):
            if node.get("type") == "array" and "maxItems" not in node:
                found.append(where)
            for key, value in node.items():
                found += unbounded(value, f"{where}/{key}")
        elif isinstance(node, list):
            for index, value in enumerate(node):
                found += unbounded(value, f"{where}/{index}")
        return found

    assert unbounded(load_schema(), "#") == []


@pytest.mark.parametrize("check_only", [False, True])
def test_a_configmap_over_one_mebibyte_is_refused_and_nothing_is_written(cli, tmp_path: Path, check_only: bool) -> None:
    from mlci.render.kubernetes import CONFIGMAP_MAX_BYTES

    spec = tmp_path / "mlproject.yaml"
    # Within every input budget, but training.params reaches the ConfigMap twice over 600 kB.
    spec.write_text(_alias_bomb(600_000, 1))
    out = tmp_path / "out"
    result = cli("render", str(spec), "--out", str(out), *(["--check"] if check_only else []))
    assert result.exit_code == 2, result.stdout + result.stderr
    assert "mlci: mlproject.yaml: the ConfigMap 'iris-classifier-config' in k8s/base/configmap.yaml" in result.stderr
    assert f"stores at most {CONFIGMAP_MAX_BYTES} (1 MiB)" in result.stderr
    assert "MLCI_PARAMS (1200" in result.stderr
    assert "Traceback" not in result.stderr
    assert not out.exists()


def test_a_configmap_just_under_one_mebibyte_renders(cli, tmp_path: Path) -> None:
    from mlci.render.base import RenderedFile
    from mlci.render.kubernetes import CONFIGMAP_MAX_BYTES, configmap_sizes

    spec = tmp_path / "mlproject.yaml"
    spec.write_text(_with_params(f'    blob: "{"x" * 1_000_000}"\n'))
    out = tmp_path / "out"
    result = cli("render", str(spec), "--out", str(out))
    assert result.exit_code == 0, result.stdout + result.stderr
    configmap = out / "k8s" / "base" / "configmap.yaml"
    [(_, _, size, _)] = configmap_sizes([RenderedFile("configmap.yaml", configmap.read_text())])
    assert 1_000_000 < size <= CONFIGMAP_MAX_BYTES
