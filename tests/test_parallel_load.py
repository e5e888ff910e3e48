"""A large tree is loaded in worker processes: the same specs, findings, policy inputs and
recorded reads as loading it in one process."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from mlci.commands import check as check_module
from tests.conftest import ROOT

_QUIETLY = check_module._prepare_quietly


def _marked(chunk: list[Path], hits: set[Path]) -> check_module._Prepared:
    """The worker's function, leaving a mark named by the process that ran it (module-level: picklable)."""
    (Path(os.environ["MLCI_TEST_MARKS"]) / str(os.getpid())).touch()
    return _QUIETLY(chunk, hits)


def test_loading_in_workers_equals_loading_in_one_process(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    source = (ROOT / "examples" / "iris-classifier" / "mlproject.yaml").read_text(encoding="utf-8")
    files = []
    for index in range(6):
        folder = tmp_path / f"p{index}"
        folder.mkdir()
        text = source.replace("name: iris-classifier", f"name: p{index}")
        if index == 3:
            text = "apiVersion: mlci/v1\nkind: [unclosed\n"  # a syntax error: a finding, not a spec
        if index == 4:
            (folder / "requirements.txt").write_text("numpy\n", encoding="utf-8")  # a fact to record
        (folder / "mlproject.yaml").write_text(text, encoding="utf-8")
        files.append(folder / "mlproject.yaml")
    answered = {files[5]}  # a cache hit: loaded, but not evaluated again
    serial = check_module._prepare(files, answered, workers=1)
    monkeypatch.setattr(check_module, "PARALLEL_LOAD_FILES", 2)
    marks = tmp_path / "workers"
    marks.mkdir()
    monkeypatch.setenv("MLCI_TEST_MARKS", str(marks))
    monkeypatch.setattr(check_module, "_prepare_quietly", _marked)
    parallel = check_module._prepare(files, answered, workers=2)
    workers = {int(mark.name) for mark in marks.iterdir()}
    assert len(workers) == 2 and os.getpid() not in workers  # really in two other processes
    assert parallel.findings == serial.findings and parallel.invalid_input and serial.invalid_input
    assert [s.display_path for s in parallel.specs] == [s.display_path for s in serial.specs]
    assert [s.path for s in parallel.pending] == [s.path for s in serial.pending] == [files[i] for i in (0, 1, 2, 4)]
    assert parallel.inputs == serial.inputs
    assert parallel.reads == serial.reads
    assert any(read.rel == "requirements.txt" and read.outcome.startswith("sha256:") for read in serial.reads[3])
