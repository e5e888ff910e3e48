"""A rendered Jenkinsfile read back as Jenkins reads a declarative pipeline: its triggers, its
stages in the order they run (a stage of stages flattened, its `when` carried down), each
stage's `when` as a condition tree, timeout, agent, the mlci commands its shell steps run, the
stashes it passes on, its `sleep` (the wait timer), and its approval: how many distinct people,
who may submit, and who is barred."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from tests.conformance.groovy_blocks import Block, Statement, parse

# A condition: ("all"|"any", [conditions]) | ("not", condition) | (kind, argument), where kind is
# expression, tag, changeset, triggeredBy, buildingTag or branch.
Condition = tuple[Any, ...]
ALWAYS: Condition = ("all", [])
_UNIT_MINUTES = {"SECONDS": 1 / 60, "MINUTES": 1, "HOURS": 60, "DAYS": 24 * 60}
_MLCI_COMMAND = re.compile(r"^\s*(mlci \w+.*?)\s*\\?$", re.M)


@dataclass
class Approval:
    required: int
    submitters: tuple[str, ...]  # empty: anyone with the Job/Build permission
    barred: tuple[str, ...]  # user ids refused after `input`, case-folded (owners and authors)
    bars_starter: bool  # the build's starter (UserIdCause) is refused too


@dataclass
class Stage:
    name: str
    condition: Condition
    timeout_minutes: float | None
    agent: str | None  # None: no executor (waiting stages)
    commands: list[str] = field(default_factory=list)  # the mlci commands its shell steps run
    stashes: list[str] = field(default_factory=list)
    unstashes: list[str] = field(default_factory=list)
    credentials: list[str] = field(default_factory=list)
    approval: Approval | None = None
    sleep_minutes: float = 0
    builds: list[str] = field(default_factory=list)  # jobs the stage starts (`build job: ...`)
    # env variable -> the script of the `sh(returnStatus: true, ...)` whose status it keeps,
    # for the variables the stage fails on (an `if (env.X != '0') { error(...) }`).
    status_variables: dict[str, str] = field(default_factory=dict)

    @property
    def events(self) -> frozenset[str]:
        """The lifecycle events its `when` names (`mlciEvent() == ...` / `in [...]`)."""
        found = [atom for atom in _atoms(self.condition) if atom[0] == "expression" and "mlciEvent()" in atom[1]]
        if len(found) != 1:
            raise ValueError(f"stage {self.name}: {len(found)} event conditions")
        return frozenset(re.findall(r"'([a-z_]+)'", found[0][1].split("mlciEvent()")[1].split("&&")[0]))

    @property
    def on_failure(self) -> bool:
        """Runs when an earlier stage failed (its needs were caught with catchError)."""
        return any(
            "currentBuild.currentResult == 'FAILURE'" in atom[1]
            for atom in _atoms(self.condition)
            if atom[0] == "expression"
        )

    @property
    def variable_checks(self) -> list[tuple[str, str]]:
        """(variable, value) for each `env.<variable> == '<value>'` its `when` asks."""
        return [
            (name, value)
            for atom in _atoms(self.condition)
            if atom[0] == "expression"
            for name, value in re.findall(r"env\.(\w+) == '([^']*)'", atom[1])
        ]

    @property
    def changesets(self) -> list[str]:
        return [atom[1] for atom in _atoms(self.condition) if atom[0] == "changeset"]


@dataclass
class Schedule:
    cron: str
    parameters: dict[str, str]  # what the timer sets (Parameterized Scheduler's %NAME=value)


@dataclass
class JenkinsPipeline:
    timeout_minutes: float | None
    schedules: list[Schedule]
    schedules_on_primary_branch_only: bool
    parameters: list[str]
    stages: list[Stage]

    def stage(self, name: str) -> Stage:
        return next(stage for stage in self.stages if stage.name == name)


def _timeout(block: Block | None) -> float | None:
    options = block.block("options") if block else None
    for statement in options.statements() if options else []:
        found = re.search(r"timeout\(time: (\d+), unit: \x00(\d+)\x00\)", statement.text)
        if found:
            return int(found[1]) * _UNIT_MINUTES[statement.strings[int(found[2])]]
    return None


def _atoms(condition: Condition) -> list[Condition]:
    if condition[0] in ("all", "any"):
        return [atom for part in condition[1] for atom in _atoms(part)]
    if condition[0] == "not":
        return _atoms(condition[1])
    return [condition]


def _simplified(condition: Condition) -> Condition:
    """allOf inside allOf flattened, an allOf of one condition unwrapped: the same condition."""
    if condition[0] in ("all", "any"):
        parts: list[Condition] = []
        for part in map(_simplified, condition[1]):
            parts += part[1] if part[0] == condition[0] else [part]
        if not parts:
            return ALWAYS
        return parts[0] if len(parts) == 1 else (condition[0], parts)
    if condition[0] == "not":
        return ("not", _simplified(condition[1]))
    return condition


def _condition(item: Block | Statement) -> Condition:
    if isinstance(item, Block):
        if item.name in ("allOf", "when"):
            return ("all", [_condition(child) for child in item.body])
        if item.name == "anyOf":
            return ("any", [_condition(child) for child in item.body])
        if item.name == "not":
            (only,) = item.body
            return ("not", _condition(only))
        if item.name == "expression":
            return ("expression", " ".join(statement.plain().replace("\n", " ") for statement in item.statements()))
        raise ValueError(f"unknown when condition block {item.name!r}")
    word = item.text.split()[0].split("(")[0]
    values = item.values()
    if word in ("tag", "changeset", "branch", "triggeredBy"):
        return (word, values[0])
    if word == "buildingTag":
        return ("buildingTag",)
    if word in ("beforeAgent", "beforeInput", "beforeOptions"):
        return ALWAYS  # when the condition is evaluated, not what it is
    raise ValueError(f"unknown when condition {item.plain()!r}")


def _approval(steps: Block) -> Approval | None:
    script = steps.block("script")
    if script is None:
        return None
    items = script.walk()
    inputs = [item for item in items if isinstance(item, Statement) and re.search(r"\binput\(", item.text)]
    if not inputs:
        return None
    (call,) = inputs
    arguments = dict(re.findall(r"(\w+): \x00(\d+)\x00", call.text))
    submitters = tuple(call.strings[int(arguments["submitter"])].split(",")) if "submitter" in arguments else ()
    loop = next(item for item in items if isinstance(item, Block) and item.name == "while")
    required = int(re.search(r"\.size\(\) < (\d+)", loop.header.text)[1])  # type: ignore[index]
    barred: tuple[str, ...] = ()
    bars_starter = False
    checks = [
        item for item in items if isinstance(item, Block) and item.name == "if" and " in barred" in item.header.text
    ]
    if checks and any("error(" in statement.text for statement in checks[0].statements()):
        declared = next(item for item in items if isinstance(item, Statement) and "Set<String> barred" in item.text)
        barred = tuple(declared.values())
        bars_starter = any(
            isinstance(item, Block)
            and item.name == "for"
            and "getBuildCauses(" in item.header.text
            and "hudson.model.Cause$UserIdCause" in item.header.values()
            and any("barred << cause.userId.toLowerCase()" in s.text for s in item.statements())
            for item in items
        )
    return Approval(required, submitters, barred, bars_starter)


def mlci_commands(script: str) -> list[str]:
    """The mlci commands a shell script runs (continued lines joined)."""
    return _MLCI_COMMAND.findall(re.sub(r"\\\n\s*", "", script))


def _fails_on(steps: Block, variable: str) -> bool:
    """The steps fail the stage when the variable is not '0': `if (env.X != '0') { error(...) }`."""
    return any(
        isinstance(item, Block)
        and item.name == "if"
        and re.fullmatch(rf"if \(env\.{variable} != \x00(\d+)\x00\)", item.header.text.strip()) is not None
        and item.header.values() == ["0"]
        and any(statement.text.startswith("error(") for statement in item.statements())
        for item in steps.walk()
    )


def _stage(block: Block, inherited: Condition) -> list[Stage]:
    (name,) = block.header.values()
    when = block.block("when")
    own = _condition(when) if when else ALWAYS
    condition = _simplified(("all", [inherited, own]))
    nested = block.block("stages")
    if nested is not None:
        return [stage for child in nested.blocks("stage") for stage in _stage(child, condition)]
    agent = next((s.plain() for s in block.statements() if s.text.startswith("agent")), None)
    stage = Stage(name, condition, _timeout(block), agent)
    steps = block.block("steps")
    for item in steps.walk() if steps else []:
        if not isinstance(item, Statement):
            if item.name == "withCredentials":
                stage.credentials += [v for v in item.header.values() if not v.isupper()]
            continue
        if item.text.startswith(("sh ", "sh(")) or "sh(returnStatus" in item.text:
            for script in item.values():
                stage.commands += _MLCI_COMMAND.findall(re.sub(r"\\\n\s*", "", script))
            kept = re.match(r"env\.(\w+) = sh\(returnStatus: true, script: \x00(\d+)\x00\)", item.text)
            if kept and _fails_on(steps, kept[1]):
                stage.status_variables[kept[1]] = item.strings[int(kept[2])]
        elif item.text.startswith("stash "):
            stage.stashes.append(item.values()[0])
        elif item.text.startswith("unstash "):
            stage.unstashes.append(item.values()[0])
        elif item.text.startswith("build(job:"):
            stage.builds.append(item.text)
        elif found := re.match(r"sleep\(time: (\d+), unit: \x00(\d+)\x00\)", item.text):
            stage.sleep_minutes += int(found[1]) * _UNIT_MINUTES[item.strings[int(found[2])]]
    stage.approval = _approval(steps) if steps else None
    return [stage]


def _schedules(pipeline: Block) -> tuple[list[Schedule], bool]:
    triggers = pipeline.block("triggers")
    if triggers is None:
        return [], False
    schedules: list[Schedule] = []
    primary_only = True
    for statement in triggers.statements():
        primary_only &= "env.BRANCH_NAME == \x00" in statement.text
        # The ternary's `then` part: the literals between '?' and ':' (the `else` is '').
        lines = "".join(value for value in statement.values() if "*" in value or value.startswith("TZ="))
        for line in lines.splitlines():
            if line.startswith("TZ=") or not line.strip():
                continue
            cron, _, parameters = line.partition(" %")
            pairs = dict(pair.split("=", 1) for pair in parameters.split(";") if pair)
            schedules.append(Schedule(cron.strip(), pairs))
    return schedules, primary_only


def read(text: str) -> JenkinsPipeline:
    root = parse(text)
    pipeline = root.block("pipeline")
    if pipeline is None:
        raise ValueError("no pipeline block: not a declarative Jenkinsfile")
    schedules, primary_only = _schedules(pipeline)
    parameters_block = pipeline.block("parameters")
    parameters = [
        re.search(r"name: \x00(\d+)\x00", s.text) and s.strings[int(re.search(r"name: \x00(\d+)\x00", s.text)[1])]  # type: ignore[index]
        for s in (parameters_block.statements() if parameters_block else [])
    ]
    stages_block = pipeline.block("stages")
    stages = [
        stage for block in (stages_block.blocks("stage") if stages_block else []) for stage in _stage(block, ALWAYS)
    ]
    return JenkinsPipeline(_timeout(pipeline), schedules, primary_only, [p for p in parameters if p], stages)
