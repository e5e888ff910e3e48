"""Schedules the schema accepts are schedules GitHub accepts: actionlint (which reads them
with GitHub's parser) is the judge of what mlci lets through."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from mlci.cron_checks import cron_problem
from tests import judges
from tests.conftest import ROOT, require_tool, run_cli

ACCEPTED = ["0 3 * * 1", "*/15 * * * *", "0 9 * * MON-FRI", "5-5 * * * *", "20/10 * * * *", "0 0 * JUL-JUL/5 *"]
REFUSED = ["26-22 * * * *", "0 0 * * SAT-MON", "0 20-3 * * *", "* * * * *", "*/2 * * * *", "0,1 3 * * *"]


@pytest.mark.parametrize("cron", ACCEPTED)
def test_schedules_github_runs_pass(cron: str) -> None:
    assert cron_problem(cron) is None


@pytest.mark.parametrize("cron", REFUSED)
def test_backward_ranges_and_schedules_under_five_minutes_are_refused(cron: str) -> None:
    assert cron_problem(cron)


def test_the_wrap_from_one_hour_to_the_next_counts() -> None:
    assert cron_problem("0,58 * * * *")  # 58 -> next hour's 0 is two minutes
    assert cron_problem("0,58 3 * * *") is None  # one hour only: 58 -> 0 is a day later


@pytest.mark.judges
@pytest.mark.parametrize("cron", [*ACCEPTED, *REFUSED, "0 0 * * 7"])
def test_mlci_and_actionlint_agree(cron: str, tmp_path: Path) -> None:
    actionlint = require_tool(judges.tool("actionlint"), "actionlint")
    spec = tmp_path / "mlproject.yaml"
    text = (ROOT / "examples" / "iris-classifier" / "mlproject.yaml").read_text(encoding="utf-8")
    spec.write_text(text.replace('schedule: "0 3 * * 1"', f'schedule: "{cron}"'), encoding="utf-8")
    validated = run_cli("validate", str(spec))
    workflow = tmp_path / "wf.yml"
    job = "jobs:\n  a:\n    runs-on: ubuntu-latest\n    steps:\n      - run: echo\n"
    workflow.write_text(f'on:\n  schedule:\n    - cron: "{cron}"\n{job}')

    linted = subprocess.run([actionlint, "-no-color", str(workflow)], capture_output=True, text=True, check=False)
    assert (validated.exit_code == 0) == (linted.returncode == 0), validated.stdout + linted.stdout
