"""How a job's needs ended, and the shell that tells: a CI that acts on findings reads the
exit status of the need's mlci command, which the need's own script publishes (a step output,
a file, a variable). The parsers run that script for real, with `mlci` (and the install's
`python`) replaced by stand-ins that end as each outcome says, and read what it published.

Outcomes: the need's mlci command exited 0 (passed), 1 (findings), 2 (invalid input) or
3 (undecided), or the job broke before it ran (an install that failed).
"""

from __future__ import annotations

import os
import subprocess
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from mlci.pipeline import When

OUTCOMES = ("passed", "findings", "invalid", "undecided", "broken")
EXIT_CODES = {"passed": 0, "findings": 1, "invalid": 2, "undecided": 3}
FAILED = frozenset(OUTCOMES) - {"passed"}
# The outcomes of its needs after which a job runs, as the model says.
AFTER = {
    When.SUCCESS: frozenset({"passed"}),
    When.FAILURE: FAILED,
    When.FINDINGS: frozenset({"findings"}),
    When.ALWAYS: frozenset(OUTCOMES),
}
# Printed by the harness after the script's last line: the script ran to its end.
END = "mlci-conformance: the script ran to its end"

_MLCI = '#!/bin/sh\nexit "$MLCI_FAKE_EXIT"\n'
# The install (`python -m pip ...`) fails when the outcome is `broken`; any other python runs.
_PYTHON = '#!/bin/sh\nif [ "$1 $2" = "-m pip" ] && [ -n "$MLCI_FAKE_BROKEN" ]; then exit 1; fi\nexit 0\n'


@dataclass(frozen=True)
class Run:
    status: int  # the script's exit status
    output: str
    reached_end: bool


class Sandbox:
    """A folder to run scripts in, as CI_PROJECT_DIR (and the workspace), with the stand-ins
    first on PATH. Files a script writes stay for the next script (artifacts handed on)."""

    def __init__(self) -> None:
        self._folder = tempfile.TemporaryDirectory(prefix="mlci-conformance-")
        self.root = Path(self._folder.name)
        (self.root / ".bin").mkdir()
        for name, text in (("mlci", _MLCI), ("python", _PYTHON)):
            path = self.root / ".bin" / name
            path.write_text(text)
            path.chmod(0o755)

    def __enter__(self) -> Sandbox:
        return self

    def __exit__(self, *_: object) -> None:
        self._folder.cleanup()

    def run(self, script: str, outcome: str, env: Mapping[str, str] | None = None) -> Run:
        """Run `script` with bash -eo pipefail (as GitHub and GitLab do), `mlci` exiting as
        `outcome` says (127, not found, when the job broke before its install)."""
        environment = {
            "PATH": f"{self.root / '.bin'}{os.pathsep}{os.environ.get('PATH', '')}",
            "HOME": str(self.root),
            "MLCI_FAKE_EXIT": str(EXIT_CODES.get(outcome, 127)),
            **({"MLCI_FAKE_BROKEN": "1"} if outcome == "broken" else {}),
            **(env or {}),
        }
        wrapped = f"{script}\necho '{END}'\n"
        proc = subprocess.run(
            ["bash", "-eo", "pipefail", "-c", wrapped],
            cwd=self.root,
            env=environment,
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        output = proc.stdout + proc.stderr
        return Run(proc.returncode, output, END in proc.stdout)
