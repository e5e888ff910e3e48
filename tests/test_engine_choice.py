"""With no --engine, `mlci check` evaluates large trees on the opa binary when it is installed,
says so, and --engine (or the settings file) overrides the choice."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from mlci.commands.check import AUTO_OPA_PROJECTS, CheckOptions, choose_engine
from tests.conftest import ROOT

OPA = shutil.which("opa") or os.environ.get("MLCI_OPA")


def test_a_large_tree_goes_to_opa_when_it_is_installed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    fake = tmp_path / "opa"
    fake.write_text("#!/bin/sh\n", encoding="utf-8")
    monkeypatch.setenv("MLCI_OPA", str(fake))
    assert choose_engine(CheckOptions(engine=None), AUTO_OPA_PROJECTS)[0] == "opa"
    assert choose_engine(CheckOptions(engine=None), AUTO_OPA_PROJECTS - 1)[0] == "embedded"
    # A choice the user made wins, whatever the tree's size.
    assert choose_engine(CheckOptions(engine="embedded"), 10_000) == ("embedded", "chosen")
    assert choose_engine(CheckOptions(engine=None, opa_url="http://127.0.0.1:8181"), 10_000)[0] == "opa-server"


def test_without_opa_a_large_tree_stays_embedded(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MLCI_OPA", raising=False)
    monkeypatch.setenv("PATH", "")
    assert choose_engine(CheckOptions(engine=None), 10_000)[0] == "embedded"


@pytest.mark.skipif(OPA is None, reason="needs the opa binary")
def test_the_automatic_choice_is_shown_and_gives_the_same_findings(tmp_path: Path) -> None:
    spec = (ROOT / "examples" / "iris-classifier" / "mlproject.yaml").read_text(encoding="utf-8")
    for index in range(AUTO_OPA_PROJECTS):
        folder = tmp_path / "tree" / f"p{index:02d}"
        folder.mkdir(parents=True)
        # Every other project lacks a dataset source: findings to compare.
        text = spec if index % 2 else spec.replace("    source: ", "    # source: ", 1)
        (folder / "mlproject.yaml").write_text(text.replace("name: iris-classifier", f"name: p{index}"), "utf-8")
    command = [sys.executable, "-m", "mlci", "--debug", "check", str(tmp_path / "tree"), "--now", "2026-11-22"]
    env = {**os.environ, "MLCI_OPA": str(OPA)}
    auto = subprocess.run([*command, "--no-cache"], capture_output=True, text=True, env=env, check=False)
    assert f"mlci: engine opa ({AUTO_OPA_PROJECTS} projects" in auto.stderr
    assert auto.returncode == 1
    chosen = subprocess.run(
        [*command, "--no-cache", "--engine", "embedded"], capture_output=True, text=True, env=env, check=False
    )
    assert "mlci: engine" not in chosen.stderr
    assert chosen.returncode == 1 and chosen.stdout == auto.stdout
