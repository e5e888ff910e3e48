"""`mlci init` writes a starter spec that passes schema and policies, and never overwrites."""

from __future__ import annotations

from pathlib import Path


def test_init_writes_a_spec_that_checks_clean(cli, tmp_path: Path) -> None:
    folder = tmp_path / "Fraud_Detector"
    result = cli("init", str(folder), "--team", "Risk Team")
    assert result.exit_code == 0, result.stderr
    text = (folder / "mlproject.yaml").read_text()
    assert "name: fraud-detector" in text and "team: risk-team" in text
    checked = cli("check", str(folder), "--now", "2026-11-22")
    assert checked.exit_code == 0, checked.stdout
    assert cli("render", str(folder)).exit_code == 0


def test_init_never_overwrites(cli, tmp_path: Path) -> None:
    (tmp_path / "mlproject.yaml").write_text("# mine\n")
    result = cli("init", str(tmp_path))
    assert result.exit_code == 2
    assert "already exists" in result.stderr
    assert (tmp_path / "mlproject.yaml").read_text() == "# mine\n"


def test_init_names_the_published_schema_for_editors(cli, tmp_path: Path) -> None:
    import json

    from referencing import Registry, Resource

    from mlci.resources import schema_path

    assert cli("init", str(tmp_path)).exit_code == 0
    first = (tmp_path / "mlproject.yaml").read_text().splitlines()[0]
    prefix = "# yaml-language-server: $schema="
    assert first.startswith(prefix)
    url = first.removeprefix(prefix)
    # The packaged schema (what `mlci schema` prints and the wheel ships) is the document the URL names.
    packaged = json.loads(schema_path().read_text())
    assert url == packaged["$id"] and url.startswith("https://")
    registry = Resource.from_contents(packaged) @ Registry()
    assert registry.resolver().lookup(url).contents == packaged
    assert cli("validate", str(tmp_path)).exit_code == 0
