"""`pip install mlci` is the pull-request check and nothing more: a fresh venv gets no
scikit-learn, numpy, scipy or HTTP stack, validate/check/render work, and a command that
needs an extra exits 2 naming it. Set MLCI_WHEELHOUSE to install from a local wheelhouse
(no index); otherwise pip uses its cache and the configured index."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT

pytestmark = pytest.mark.slow  # a venv and a pip install: one to three minutes

HEAVY = ("sklearn", "numpy", "scipy", "aiohttp", "requests", "opa_client", "pandas", "pyarrow")


@pytest.fixture(scope="module")
def core_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    venv = tmp_path_factory.mktemp("core") / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    source = ["--no-index", "--find-links", os.environ["MLCI_WHEELHOUSE"]] if os.environ.get("MLCI_WHEELHOUSE") else []
    proc = subprocess.run(
        [str(venv / "bin" / "python"), "-m", "pip", "install", "-q", "--disable-pip-version-check", *source, str(ROOT)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    return venv


def _mlci(venv: Path, *args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "VIRTUAL_ENV")}
    return subprocess.run([str(venv / "bin" / "mlci"), *args], capture_output=True, text=True, env=env, cwd=cwd)


def test_the_core_install_has_no_heavy_packages(core_venv: Path) -> None:
    probe = f"import importlib.util; print([m for m in {HEAVY!r} if importlib.util.find_spec(m)])"
    proc = subprocess.run([str(core_venv / "bin" / "python"), "-c", probe], capture_output=True, text=True, check=True)
    assert proc.stdout.strip() == "[]"


def test_validate_check_and_render_work_on_the_core_install(core_venv: Path, tmp_path: Path) -> None:
    project = tmp_path / "iris"
    shutil.copytree(ROOT / "examples" / "iris-classifier", project, ignore=shutil.ignore_patterns("artifacts"))
    spec = str(project / "mlproject.yaml")
    assert _mlci(core_venv, "validate", spec).returncode == 0
    checked = _mlci(core_venv, "check", spec, "-o", "json")
    assert checked.returncode == 0, checked.stderr
    assert json.loads(checked.stdout)["findings"] == []
    assert _mlci(core_venv, "render", spec, "--force").returncode == 0
    assert _mlci(core_venv, "render", spec, "--check").returncode == 0


def test_gate_needs_no_extra(core_venv: Path, tmp_path: Path) -> None:
    """The gate compares a metrics file with thresholds: it runs on the core install."""
    project = tmp_path / "iris"
    shutil.copytree(ROOT / "examples" / "iris-classifier", project, ignore=shutil.ignore_patterns("artifacts"))
    metrics = tmp_path / "metrics.json"
    metrics.write_text(json.dumps({"accuracy": 0.0, "f1_macro": 0.0}), encoding="utf-8")
    gate = _mlci(core_venv, "gate", str(project), "--metrics", str(metrics), "--blessing", str(tmp_path / "b.json"))
    assert gate.returncode == 1, gate.stderr
    assert "internal error" not in gate.stderr


@pytest.mark.parametrize(
    ("args", "extra"),
    [
        (("drift", "--reference", "ref.csv", "--current", "cur.csv"), "mlci[ml]"),
        (("check", "--opa-url", "http://127.0.0.1:9"), "mlci[opa-server]"),
        (("promote", "production", ".", "--version", "1"), "mlci[mlflow]"),
        (("run", ".", "--stage", "train"), "mlci[mlflow]"),
    ],
    ids=["drift", "opa-url", "promote", "run"],
)
def test_a_command_that_needs_an_extra_exits_2_naming_it(
    core_venv: Path, tmp_path: Path, args: tuple[str, ...], extra: str
) -> None:
    project = tmp_path / "iris"
    shutil.copytree(ROOT / "examples" / "iris-classifier", project, ignore=shutil.ignore_patterns("artifacts"))
    for name in ("ref.csv", "cur.csv"):
        (project / name).write_text("x\n1\n2\n", encoding="utf-8")
    proc = _mlci(core_venv, *args, cwd=project)
    assert proc.returncode == 2, (proc.stdout, proc.stderr)
    assert f"pip install '{extra}'" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_remote_data_on_the_core_install_is_exit_2_naming_the_remote_extra(core_venv: Path, tmp_path: Path) -> None:
    """Hashing a remote dataset needs fsspec: without it, neither a null hash nor a traceback."""
    project = tmp_path / "iris"
    shutil.copytree(ROOT / "examples" / "iris-classifier", project, ignore=shutil.ignore_patterns("artifacts"))
    spec = project / "mlproject.yaml"
    spec.write_text(spec.read_text().replace("uri: data/iris.csv", "uri: s3://bucket/iris.csv"))
    for args in (("run", str(project), "--stage", "train"), ("lineage", "record", str(project))):
        proc = _mlci(core_venv, *args)
        assert proc.returncode == 2, (args, proc.stdout, proc.stderr)
        assert "pip install 'mlci[remote]'" in proc.stderr
        assert "Traceback" not in proc.stderr
    assert not (project / "artifacts" / "lineage.json").exists()
