"""Every file under fixtures/specs/valid must validate; every file under
fixtures/specs/invalid states on its first line where mlci must point and what
it must say (`# expect: LINE:COL: message`), and must exit 2 without a traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.conftest import FIXTURES

VALID = sorted((FIXTURES / "specs" / "valid").glob("*.yaml"))
INVALID = sorted((FIXTURES / "specs" / "invalid").glob("*.yaml"))
EXPECT = re.compile(rb"^# expect: (\d+):(\d+): (.+)$")


def _expectation(path: Path) -> tuple[int, int, str]:
    first_line = path.read_bytes().split(b"\n", 1)[0]
    match = EXPECT.match(first_line)
    assert match, f"{path.name} must start with '# expect: LINE:COL: message'"
    return int(match[1]), int(match[2]), match[3].decode()


@pytest.mark.parametrize("path", VALID, ids=[p.name for p in VALID])
def test_valid_fixture_validates(cli, path: Path) -> None:
    result = cli("validate", str(path))
    assert result.exit_code == 0, result.stdout + result.stderr
    assert "no findings" in result.stdout


@pytest.mark.parametrize("path", INVALID, ids=[p.name for p in INVALID])
def test_invalid_fixture_points_at_its_line(cli, path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    line, column, message = _expectation(path)
    monkeypatch.chdir(path.parent)
    result = cli("validate", path.name)
    assert result.exit_code == 2
    assert "Traceback" not in result.stdout + result.stderr
    located = [row for row in result.stdout.splitlines() if row.startswith(f"{path.name}:{line}:{column}: ")]
    assert located, f"nothing reported at {line}:{column}:\n{result.stdout}"
    assert any(message in row for row in located), f"{message!r} not in:\n" + "\n".join(located)


def test_every_kind_of_broken_input_has_a_fixture() -> None:
    names = {p.stem for p in INVALID}
    for kind in (
        "syntax",
        "duplicate_key",
        "empty",
        "top_level_list",
        "invalid_utf8",
        "alias_bomb",
        "deep_nesting",
        "unknown",
        "missing_required",
    ):
        assert any(kind in name for name in names), kind
