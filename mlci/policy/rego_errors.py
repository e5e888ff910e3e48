"""Whose fault is an engine's error about a Rego module, and where is it?

Every engine names the module it failed on in its own way (regopy: the name given
to `add_module` and a byte offset; `opa eval`: the path of a temporary copy; an OPA
server: the policy id). Each engine maps that back to the pack's module name, and
this module turns the problem into the error the owner of the file can act on:

- a syntax or compile error in the user's own policy is their input: exit 2 with
  *their* file, line and column;
- the same in mlci's built-in pack or the generated decision module is mlci's
  problem: exit 3;
- a built-in function that failed while a rule was evaluated (`to_number("x")`,
  division by zero) leaves the rule undecided: exit 3 naming the rule, never read
  as "no violation".
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mlci.errors import MlciError, PolicyEngineError, UserError
from mlci.policy.pack import PolicyPack


@dataclass(frozen=True)
class ModuleProblem:
    """One error an engine reported, already mapped to the pack's module name."""

    message: str
    module: str | None = None  # a key of pack.modules, when the engine named one
    line: int = 0
    column: int = 0
    file: str = ""  # what the engine called the file, when it is no module of the pack


def is_mlci_module(name: str) -> bool:
    """The built-in pack and the generated decision module are mlci's; `--policies`
    folders are the user's (pack.py refuses a user module with a built-in's name)."""
    from mlci.policy.decision import DECISION_MODULE
    from mlci.resources import data_dir

    if name == DECISION_MODULE:
        return True
    if not name.startswith("mlci/"):
        return False
    return (data_dir("policies") / name.removeprefix("mlci/")).is_file()


def compile_error(engine: str, pack: PolicyPack, problems: Sequence[ModuleProblem]) -> MlciError:
    """The error for policies an engine could not parse or compile."""
    shown = [_where(p) for p in problems[:5]]
    if problems and all(p.module is not None and not is_mlci_module(p.module) for p in problems):
        return UserError("\n".join(shown))
    return PolicyEngineError(engine, "cannot load policies:\n" + "\n".join(shown))


def evaluation_error(engine: str, pack: PolicyPack, problem: ModuleProblem, rule: str | None = None) -> MlciError:
    """A rule that failed while evaluating (a built-in error): undecided, naming the rule."""
    rule = rule or rule_at(pack, problem.module, problem.line)
    named = f"rule {rule}" if rule else "a rule"
    if problem.module or problem.file:
        where = f" ({_where(problem, with_message=False)})"
    elif rule in pack.decision_rules:  # the engine gave no position: point at the rule's head
        where = f" ({pack.decision_rules[rule].location})"
    else:
        where = ""
    return PolicyEngineError(engine, f"{named}{where} could not be evaluated: {problem.message}")


def rule_at(pack: PolicyPack, module: str | None, line: int) -> str | None:
    """`package.rule` of the rule whose statement holds `line` of a module of the pack."""
    if module is None or module not in pack.modules:
        return None
    return rule_in_source(pack.modules[module], line)


def rule_in_source(source: str, line: int) -> str | None:
    """`package.rule` of the rule whose statement holds `line` of a Rego source."""
    from mlci.policy.rules import RegoScanError, scan_module

    if line < 1:
        return None
    try:
        scan = scan_module(source)
    except RegoScanError:
        return None
    heads = [head for head in scan.heads if head.line <= line]
    return f"{scan.package}.{heads[-1].name}" if heads else None


def line_column(source: str, offset: int) -> tuple[int, int]:
    """1-based line and column of a byte offset into a UTF-8 source."""
    before = source.encode("utf-8")[:offset]
    line = before.count(b"\n") + 1
    column = len(before) - (before.rfind(b"\n") + 1) + 1
    return line, column


def _where(problem: ModuleProblem, with_message: bool = True) -> str:
    file = problem.module or problem.file
    if not file:
        return problem.message
    where = f"{file}:{problem.line or 1}:{problem.column or 1}"
    return f"{where}: {problem.message}" if with_message else where
