"""Values echoed into CI logs cannot issue log commands.

The Azure agent acts on `##vso[` (and `##[`) anywhere in a line, the GitHub runner on
`::command::` at the start of a line, after blanks. Messages and paths come from the spec,
the policies and folder names; every report printed to stdout must keep them inert,
whatever line break or spelling they try, and the machine-readable formats must still
read back the exact value."""

from __future__ import annotations

import json
import re
import shutil
import unicodedata
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

from tests.conftest import ROOT

IRIS = ROOT / "examples" / "iris-classifier" / "mlproject.yaml"
FORMATS = ("text", "github", "markdown", "json", "sarif", "gitlab", "junit")

PAYLOADS = {
    "lf": "ok\n::stop-commands::pwned",
    "cr": "ok\r::add-mask::secret",
    "crlf": "ok\r\n::set-env name=NODE_OPTIONS::--require=/tmp/x.js",
    "leading blanks": "ok\n   \t::warning file=a::forged",
    "line separator": "ok\u2028::error::forged",
    "paragraph separator": "ok\u2029::add-path::/tmp/evil",
    "next line": "ok\u0085::set-output name=a::b",
    "form feed": "ok\x0c::debug::x",
    "bom": "ok\n\ufeff::add-mask::x",
    "azure": "ok ##vso[task.setvariable variable=PATH]/tmp/evil",
    "azure mixed case": "ok ##VsO[task.prependpath]/tmp/evil",
    "azure format": "ok\n##[group]forged",
    "azure spaced": "ok ## vso [task.complete result=Succeeded]",
    "tripled": "ok ###vso[task.setvariable variable=A]1",
}

# What the agents would act on, generously: any line break splits, blanks and format
# characters before `::` are skipped, `##vso[` / `##[` count anywhere, in any case.
_BREAKS = re.compile("\r\n|[\r\n\v\f\x1c\x1d\x1e\x85\u2028\u2029]")
_AZURE = re.compile(r"##\s*(vso\s*)?\[", re.IGNORECASE)
# mlci's own GitHub annotations: properties escaped, the message one line.
_ANNOTATION = re.compile(r"^::(error|warning|notice) file=[^,:]*,line=\d+,col=\d+,title=[^,:]+::[^\r\n]*$")

POLICY = """package mlci.echo
import rego.v1

# METADATA
# title: Echoes the description
# custom:
#   id: ORG-ECHO-001
#   severity: high
#   remediation: Nothing to fix.
echo contains {"msg": input.project.description, "path": ["project", "description"]} if {
  input.project.description
}
"""


def _command_lines(report: str, own_annotations: bool = False) -> list[str]:
    """Lines of `report` that an Azure agent or a GitHub runner would execute."""
    bad = []
    for line in _BREAKS.split(report):
        if _AZURE.search(line):
            bad.append(line)
            continue
        start = next(
            (i for i, c in enumerate(line) if not (c.isspace() or unicodedata.category(c) in ("Cc", "Cf"))),
            len(line),
        )
        if line.startswith("::", start) and not (own_annotations and _ANNOTATION.match(line)):
            bad.append(line)
    return bad


@pytest.fixture
def echo_policy(tmp_path: Path) -> Path:
    folder = tmp_path / "policies"
    folder.mkdir()
    (folder / "echo.rego").write_text(POLICY)
    return folder


def _spec_with_description(folder: Path, description: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    spec = folder / "mlproject.yaml"
    # JSON strings are YAML double-quoted scalars: every escape survives as written.
    text = IRIS.read_text().replace(
        "  description: Classifies iris flowers from four measurements; the reference example for mlci.\n",
        f"  description: {json.dumps(description)}\n",
    )
    assert json.dumps(description) in text
    spec.write_text(text)
    return spec


def _reports(cli, tmp_path: Path, command: str, *args: str, expect: int) -> dict[str, str]:
    """Run `command` once, writing every format to its own file (the same text stdout would get)."""
    out = tmp_path / "reports"
    options = [opt for fmt in FORMATS for opt in ("-o", f"{fmt}={out / fmt}")]
    result = cli(command, *args, *options)
    assert result.exit_code == expect, result.stdout + result.stderr
    return {fmt: (out / fmt).read_text(encoding="utf-8") for fmt in FORMATS}


@pytest.fixture(params=["embedded", "opa"])
def engine(request: pytest.FixtureRequest) -> str:
    if request.param == "opa":
        from tests.conftest import require_tool, validators_prefix

        require_tool(validators_prefix() / "go" / "bin" / "opa", "opa")
    return str(request.param)


@pytest.mark.parametrize("name", PAYLOADS)
def test_a_policy_message_cannot_issue_log_commands_in_any_format(
    cli, tmp_path: Path, echo_policy: Path, engine: str, name: str
) -> None:
    payload = PAYLOADS[name]
    spec = _spec_with_description(tmp_path / "project", payload)
    args = (str(spec), "--now", "2026-11-22", "--engine", engine, "--policies", str(echo_policy))
    reports = _reports(cli, tmp_path, "check", *args, expect=1)
    for fmt, report in reports.items():
        assert "ok" in report, fmt
        assert _command_lines(report, own_annotations=fmt == "github") == [], (fmt, report)
    echoed = [line for line in reports["github"].splitlines() if "title=ORG-ECHO-001" in line]
    assert len(echoed) == 1 and _ANNOTATION.match(echoed[0]), reports["github"]
    assert len([line for line in reports["text"].splitlines() if "ORG-ECHO-001" in line]) == 1

    # The machine-readable formats read back the exact message.
    findings = json.loads(reports["json"])["findings"]
    assert [f["message"] for f in findings if f["rule_id"] == "ORG-ECHO-001"] == [payload]
    results = json.loads(reports["sarif"])["runs"][0]["results"]
    assert [r["message"]["text"] for r in results if r["ruleId"] == "ORG-ECHO-001"] == [payload]
    issues = json.loads(reports["gitlab"])
    assert [i["description"] for i in issues if i["check_name"] == "ORG-ECHO-001"] == [payload]
    failures = [f for f in ET.fromstring(reports["junit"].encode()).iter("failure") if "ORG-ECHO-001" in (f.text or "")]
    assert len(failures) == 1
    # Exactly, but for what XML 1.0 cannot carry at all (a form feed), shown as U+FFFD.
    in_xml = re.sub("[\x00-\x08\x0b\x0c\x0e-\x1f]", "\ufffd", payload)
    assert failures[0].get("message") == in_xml
    assert in_xml in (failures[0].text or "")


def test_github_annotations_still_work_around_an_injected_message(cli, tmp_path: Path, echo_policy: Path) -> None:
    from tests.conftest import require_tool, validators_prefix

    opa = require_tool(validators_prefix() / "go" / "bin" / "opa", "opa")
    spec = _spec_with_description(tmp_path / "project", "first\nsecond, with 100% : and ##vso[x]")
    args = ("--now", "2026-11-22", "--engine", "opa", "--policies", str(echo_policy), "-o", "github")
    result = cli("check", str(spec), *args)
    assert result.exit_code == 1, (opa, result.stderr)
    line = next(line for line in result.stdout.splitlines() if "title=ORG-ECHO-001" in line)
    properties, _, message = line.partition("::")[2].partition("::")
    assert properties.startswith("error file=")
    assert ",line=" in properties and ",col=" in properties
    # The runner percent-decodes the message: a two-line annotation, not a second command.
    decoded = message.replace("%0A", "\n").replace("%0D", "\r").replace("%25", "%")
    assert decoded.startswith("first\nsecond, with 100% : and ")
    assert "##vso[" not in decoded


@pytest.mark.parametrize(
    "folder_name",
    [
        "::add-mask::folder",
        "##vso[task.setvariable variable=A]1",
        "x\n::stop-commands::token",
        "x\r##[error]forged",
        "x\u2028::set-env name=A::B",
    ],
)
def test_a_folder_name_cannot_issue_log_commands(cli, tmp_path: Path, monkeypatch, folder_name: str) -> None:
    """The path of a spec starts each line of the text report: a folder name is attacker-controlled."""
    folder = tmp_path / folder_name
    folder.mkdir()
    shutil.copy(IRIS, folder / "mlproject.yaml")
    with (folder / "mlproject.yaml").open("a") as handle:
        handle.write("unknown_key: 1\n")  # one schema finding, reported at the spec's path
    monkeypatch.chdir(tmp_path)
    for fmt, report in _reports(cli, tmp_path, "validate", folder_name, expect=2).items():
        assert "unknown_key" in report, fmt
        assert _command_lines(report, own_annotations=fmt == "github") == [], (fmt, report)
    result = cli("validate", folder_name)  # and on stdout, as CI shows it
    assert result.exit_code == 2
    assert _command_lines(result.stdout) == [], result.stdout
