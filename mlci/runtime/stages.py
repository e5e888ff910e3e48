"""`mlci run`: the stages of the pipeline, run locally with the same commands CI runs."""

from __future__ import annotations

import errno
import json
import os
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from mlci.command_checks import split_command
from mlci.errors import InputError, MlciError
from mlci.findings import JsonPath
from mlci.loader import Spec
from mlci.reporters.log_safety import TEXT, defuse, one_line
from mlci.spec import thaw

if TYPE_CHECKING:
    from mlci.registry.tracking import Tracker

STAGES = ("train", "evaluate", "gate", "register")


@dataclass(frozen=True)
class StageResult:
    stage: str
    exit_code: int
    seconds: float


def stage_environment(spec: Spec) -> dict[str, str]:
    """What a stage command sees besides the user's environment."""
    typed = spec.typed
    return {
        "MLCI_PROJECT": typed.project.name,
        "MLCI_PARAMS": json.dumps(thaw(typed.training.params), sort_keys=True),
        "MLCI_MODEL_PATH": typed.model_path,
        "MLCI_METRICS_FILE": typed.evaluation.metrics_file,
        "MLCI_DATASETS": json.dumps({d.name: d.uri for d in typed.datasets}, sort_keys=True),
    }


def resolve_argv(argv: list[str]) -> list[str]:
    """Run `python` as the interpreter mlci runs on, so a venv's packages are seen."""
    if argv and argv[0] in ("python", "python3"):
        return [sys.executable, *argv[1:]]
    return argv


def run_command(spec: Spec, argv: list[str], where: JsonPath = ()) -> int:
    """Run one stage's command in the project folder and return its exit code.

    A program that is missing or cannot be executed is the spec's mistake, reported at
    `where` (the command's path in the spec) with exit 2: never mlci's internal error,
    nor an exit code the command never returned."""
    argv = resolve_argv(argv)
    env = {**os.environ, **stage_environment(spec)}
    problem = program_problem(argv[0], spec.directory, env)
    if problem:
        raise InputError(spec.location((*where, 0)), problem)
    try:
        # No shell: the spec's command is an argv list, so nothing in it is interpreted.
        code = subprocess.run(argv, cwd=spec.directory, env=env, check=False).returncode
    except OSError as exc:
        # What the check above cannot see: a script whose interpreter (#!) is missing, a file
        # the kernel cannot execute (no #! line), a program removed in between.
        raise InputError(spec.location((*where, 0)), f"cannot run {argv[0]!r}: {_exec_failure(exc)}") from None
    return 128 - code if code < 0 else code  # killed by a signal: the shell's convention, 128 + signal


def program_problem(program: str, directory: Path, env: dict[str, str]) -> str:
    """Why `program` cannot be run from `directory`, or ''. Resolved the way subprocess does:
    a name with a slash is a path (relative to the project folder, the command's working
    directory); a bare name is looked up on PATH (relative entries, too, from that folder)."""
    if not program:
        return "the command names no program"
    if "/" in program or (os.altsep and os.altsep in program):
        candidates = [Path(directory, program)]
        where = "" if Path(program).is_absolute() else "in the project folder"
    else:
        candidates = [Path(directory, entry, program) for entry in os.get_exec_path(env)]
        where = "on PATH"
    runnable = [c for c in candidates if c.is_file() and os.access(c, os.X_OK)]
    if runnable:
        return ""
    present = [c for c in candidates if c.exists()]
    if not present:
        local = ""
        if where == "on PATH" and Path(directory, program).is_file():
            local = f" (to run the file in the project folder, write ./{program})"
        return f"command {program!r} not found {where}".rstrip() + local
    shown = present[0]
    kind = "is a directory" if shown.is_dir() else "is not executable (chmod +x, or run it with its interpreter)"
    return f"command {program!r}: {shown} {kind}"


def _exec_failure(exc: OSError) -> str:
    if exc.errno == errno.ENOENT:
        return "its interpreter (the #! line) or the program itself was not found"
    if exc.errno == errno.ENOEXEC:
        return "the system cannot execute it (a script needs a #! line naming its interpreter)"
    return (exc.strerror or str(exc)).lower()


def stage_command(spec: Spec, stage: str) -> tuple[list[str], JsonPath]:
    """The argv of a stage and where its command stands in the spec."""
    section = "training" if stage == "train" else "evaluation"
    return split_command(spec.data[section]["command"]), (section, "command")


def run_stages(
    spec: Spec,
    stages: tuple[str, ...],
    run_gate: Callable[[Spec], int],
    announce: Callable[[str], None],
    after_train: Callable[[Spec], str] | None = None,
    before_train: Callable[[Spec], int] | None = None,
    tracker: Tracker | None = None,
    run_register: Callable[[Spec], int] | None = None,
) -> list[StageResult]:
    """Run `stages` in order and stop at the first that fails; `before_train` (the data pins'
    check, an exit code) and `after_train` (the lineage record) are part of the train stage,
    so their failure is the stage's failure, and a failed check means the command never runs.
    With a `tracker`, the stages log to one tracked run: train starts it (params, data hashes,
    the model), evaluate adds the metrics, gate its verdict; a registry that cannot be
    reached fails the stage (exit 3) rather than losing the record."""
    results: list[StageResult] = []
    for number, stage in enumerate(stages, start=1):
        started = time.perf_counter()
        prefix = f"[{number}/{len(stages)}] {stage}"
        if stage in ("gate", "register"):
            announce(f"==> {prefix}: {spec.display_path}")
            if stage == "gate":
                code = run_gate(spec)
                if tracker is not None:
                    code = _step(announce, partial(_tag_gate, tracker, code == 0), code)
            else:
                code = run_register(spec) if run_register is not None else 0
        else:
            argv, where = stage_command(spec, stage)
            # The command comes from the spec and lands in the CI log: one line, no log command.
            announce(defuse(f"==> {prefix}: {one_line(' '.join(argv))}", TEXT))
            # Pinned data is checked before a tracked run starts: a mismatch records nothing.
            code = before_train(spec) if stage == "train" and before_train is not None else 0
            if code == 0 and stage == "train" and tracker is not None:
                code = _step(announce, lambda: f"tracking run {tracker.start()} in {tracker.location.describe()}")
            if code == 0:
                code = run_command(spec, argv, where)
            if code == 0 and stage == "train" and after_train is not None:
                code = _step(announce, lambda: after_train(spec))
            if code == 0 and tracker is not None:
                code = _step(announce, partial(_log_stage, tracker, stage))
        elapsed = time.perf_counter() - started
        results.append(StageResult(stage, code, elapsed))
        announce(f"<== {prefix}: {'ok' if code == 0 else f'failed (exit {code})'} in {elapsed:.1f}s")
        if code != 0:
            break
    if tracker is not None:
        succeeded = all(r.exit_code == 0 for r in results)
        closed = _step(announce, lambda: _finish(tracker, succeeded))
        if closed and succeeded:
            results.append(StageResult("tracking", closed, 0.0))
    return results


def _step(announce: Callable[[str], None], action: Callable[[], str], code: int = 0) -> int:
    """Run one bookkeeping step of a stage; its failure is the stage's failure."""
    try:
        line = action()
    except MlciError as exc:
        announce(f"    {exc.message}")
        return exc.exit_code
    if line:
        announce(f"    {line}")
    return code


def _log_stage(tracker: Tracker, stage: str) -> str:
    if stage == "train":
        return f"logged params, data hashes and the model to run {tracker.after_train()}"
    return f"logged metrics to run {tracker.after_evaluate()}"


def _tag_gate(tracker: Tracker, passed: bool) -> str:
    tracker.after_gate(passed)
    return ""


def _finish(tracker: Tracker, succeeded: bool) -> str:
    tracker.finish(succeeded)
    return ""
