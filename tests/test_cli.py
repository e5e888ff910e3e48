"""Exit codes and streams of the CLI, as PRODUCT.md fixes them."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from tests.conftest import EXAMPLES, ROOT


def test_version(cli) -> None:
    result = cli("--version")
    assert result.exit_code == 0
    assert result.stdout.startswith("mlci, version ")


def test_missing_file_is_exit_2(cli, tmp_path: Path) -> None:
    result = cli("validate", str(tmp_path / "nope.yaml"))
    assert result.exit_code == 2
    assert "no such file or folder" in result.stderr
    assert result.stdout == ""


def test_folder_without_spec_is_exit_2(cli, tmp_path: Path) -> None:
    result = cli("check", str(tmp_path))
    assert result.exit_code == 2
    assert "no mlproject.yaml found" in result.stderr


def test_unknown_option_is_exit_2(cli) -> None:
    result = cli("check", "--no-such-option")
    assert result.exit_code == 2
    assert "No such option" in result.stderr


def test_unknown_output_format_is_exit_2(cli) -> None:
    result = cli("check", str(EXAMPLES[0]), "-o", "yamlish")
    assert result.exit_code == 2
    assert "unknown format 'yamlish'" in result.stderr


def test_validate_examples_folder_finds_every_project(cli) -> None:
    result = cli("validate", str(ROOT / "examples"), "-o", "json")
    assert result.exit_code == 0, result.stdout
    assert json.loads(result.stdout)["summary"]["total"] == 0


def test_schema_command_prints_the_packaged_schema(cli) -> None:
    result = cli("schema")
    assert result.exit_code == 0
    schema = json.loads(result.stdout)
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
    assert schema["properties"]["apiVersion"]["const"] == "mlci/v1"


def test_json_output_to_a_file(cli, tmp_path: Path) -> None:
    out = tmp_path / "reports" / "validate.json"
    result = cli("validate", str(EXAMPLES[0]), "-o", f"json={out}", "-o", "text")
    assert result.exit_code == 0
    assert json.loads(out.read_text())["command"] == "validate"
    assert "no findings" in result.stdout


def test_console_script_and_module_entry_point_agree(tmp_path: Path) -> None:
    broken = tmp_path / "mlproject.yaml"
    broken.write_text("apiVersion: mlci/v1\nproject: [\n")
    proc = subprocess.run([sys.executable, "-m", "mlci", "validate", str(broken)], capture_output=True, text=True)
    assert proc.returncode == 2
    assert f"{broken}:3:1: critical syntax invalid YAML" in proc.stdout
    assert "Traceback" not in proc.stderr
