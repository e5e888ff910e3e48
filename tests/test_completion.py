"""Shell completion, as the README documents it: click's completion variables on the mlci script."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

MLCI = Path(sys.executable).with_name("mlci")


def _complete(words: str, cword: int) -> list[str]:
    env = {**os.environ, "COMP_WORDS": words, "COMP_CWORD": str(cword), "_MLCI_COMPLETE": "bash_complete"}
    done = subprocess.run([str(MLCI)], env=env, capture_output=True, text=True, check=True)
    return [line.split(",", 1)[1] for line in done.stdout.splitlines()]


def test_bash_source_prints_a_completion_function() -> None:
    env = {**os.environ, "_MLCI_COMPLETE": "bash_source"}
    done = subprocess.run([str(MLCI)], env=env, capture_output=True, text=True, check=True)
    assert "_mlci_completion()" in done.stdout and "complete " in done.stdout


def test_commands_and_choices_complete() -> None:
    assert _complete("mlci ch", 1) == ["check"]
    assert _complete("mlci check --fail-on ", 3) == ["info", "low", "medium", "high", "critical"]
    assert "--no-config" in _complete("mlci --no", 1)
