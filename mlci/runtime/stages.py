"""`mlci run`: the stages of the pipeline, run locally with the same commands CI runs."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mlci.errors import MlciError, UserError
from mlci.loader import Spec
from mlci.render.context import DEFAULT_METRICS_FILE, DEFAULT_MODEL_PATH, as_argv

STAGES = ("train", "evaluate", "gate")


@dataclass(frozen=True)
class StageResult:
    stage: str
    exit_code: int
    seconds: float


def stage_environment(spec: Spec) -> dict[str, str]:
    """What a stage command sees besides the user's environment."""
    training = spec.data["training"]
    evaluation = spec.data["evaluation"]
    return {
        "MLCI_PROJECT": spec.data["project"]["name"],
        "MLCI_PARAMS": json.dumps(training.get("params", {}), sort_keys=True),
        "MLCI_MODEL_PATH": training.get("outputs", {}).get("model", DEFAULT_MODEL_PATH),
        "MLCI_METRICS_FILE": evaluation.get("metrics_file", DEFAULT_METRICS_FILE),
        "MLCI_DATASETS": json.dumps({d["name"]: d["uri"] for d in spec.data["datasets"]}, sort_keys=True),
    }


def resolve_argv(argv: list[str]) -> list[str]:
    """Run `python` as the interpreter mlci runs on, so a venv's packages are seen."""
    if argv and argv[0] in ("python", "python3"):
        return [sys.executable, *argv[1:]]
    return argv


def run_command(spec: Spec, argv: list[str]) -> int:
    argv = resolve_argv(argv)
    if shutil.which(argv[0], path=os.environ.get("PATH")) is None and not Path(spec.directory, argv[0]).exists():
        raise UserError(f"{spec.display_path}: command {argv[0]!r} not found")
    env = {**os.environ, **stage_environment(spec)}
    # No shell: the spec's command is an argv list, so nothing in it is interpreted.
    code = subprocess.run(argv, cwd=spec.directory, env=env, check=False).returncode
    return 128 - code if code < 0 else code  # killed by a signal: the shell's convention, 128 + signal


def stage_command(spec: Spec, stage: str) -> list[str]:
    section = "training" if stage == "train" else "evaluation"
    return as_argv(spec.data[section]["command"])


def run_stages(
    spec: Spec,
    stages: tuple[str, ...],
    run_gate: Callable[[Spec], int],
    announce: Callable[[str], None],
    after_train: Callable[[Spec], str] | None = None,
) -> list[StageResult]:
    """Run `stages` in order and stop at the first that fails; `after_train` (the lineage
    record) is part of the train stage, so its failure is the stage's failure."""
    results: list[StageResult] = []
    for number, stage in enumerate(stages, start=1):
        started = time.perf_counter()
        prefix = f"[{number}/{len(stages)}] {stage}"
        if stage == "gate":
            announce(f"==> {prefix}: {spec.display_path}")
            code = run_gate(spec)
        else:
            argv = stage_command(spec, stage)
            announce(f"==> {prefix}: {' '.join(argv)}")
            code = run_command(spec, argv)
            if code == 0 and stage == "train" and after_train is not None:
                try:
                    announce(f"    {after_train(spec)}")
                except MlciError as exc:
                    announce(f"    lineage: {exc.message}")
                    code = exc.exit_code
        elapsed = time.perf_counter() - started
        results.append(StageResult(stage, code, elapsed))
        announce(f"<== {prefix}: {'ok' if code == 0 else f'failed (exit {code})'} in {elapsed:.1f}s")
        if code != 0:
            break
    return results
