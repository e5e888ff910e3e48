"""Evaluators for the conditions CIs read: GitHub Actions expressions (`if:`) and GitLab
`rules: if:`. Enough of each language for what any printer may write (comparisons, regex
matches, `&&`, `||`, `!`, parentheses, the functions GitHub offers for these), evaluated
against a simulated event so the conformance tests ask the CI's question: does this job run?
Anything outside that subset raises, rather than guessing."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

_GITHUB_TOKEN = re.compile(
    r"\s*(?:(?P<str>'(?:[^']|'')*')|(?P<num>-?\d+(?:\.\d+)?)|(?P<op>==|!=|&&|\|\||!|\(|\)|,)"
    r"|(?P<name>[A-Za-z_][A-Za-z0-9_-]*(?:\.[A-Za-z_][A-Za-z0-9_-]*|\[\*\])*))"
)


class ExpressionError(ValueError):
    pass


def _tokens(pattern: re.Pattern[str], text: str) -> list[tuple[str, str]]:
    tokens, at = [], 0
    text = text.strip()
    while at < len(text):
        match = pattern.match(text, at)
        if not match or match.end() == at:
            raise ExpressionError(f"cannot read {text[at:]!r} in {text!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match.group(kind)))
        at = match.end()
        while at < len(text) and text[at].isspace():
            at += 1
    return tokens


class _Parser:
    """Recursive descent over `||`, `&&`, `!`, comparisons and primaries."""

    def __init__(self, tokens: list[tuple[str, str]], primary: Callable[[_Parser], Any], compare: Any) -> None:
        self.tokens, self.at, self.primary_fn, self.compare = tokens, 0, primary, compare

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.at] if self.at < len(self.tokens) else None

    def take(self, value: str | None = None) -> tuple[str, str]:
        token = self.peek()
        if token is None or (value is not None and token[1] != value):
            raise ExpressionError(f"expected {value!r}, found {token!r}")
        self.at += 1
        return token

    def parse(self) -> Any:
        value = self.either()
        if self.peek() is not None:
            raise ExpressionError(f"unexpected {self.peek()!r}")
        return value

    def either(self) -> Any:
        left = self.both()
        while self.peek() == ("op", "||"):
            self.take()
            right = self.both()
            left = left or right
        return left

    def both(self) -> Any:
        left = self.unary()
        while self.peek() == ("op", "&&"):
            self.take()
            right = self.unary()
            left = left and right
        return left

    def unary(self) -> Any:
        if self.peek() == ("op", "!"):
            self.take()
            return not self.unary()
        return self.comparison()

    def comparison(self) -> Any:
        left = self.primary()
        token = self.peek()
        if token is not None and token[0] == "op" and token[1] in self.compare:
            self.take()
            return self.compare[token[1]](left, self.primary())
        return left

    def primary(self) -> Any:
        if self.peek() == ("op", "("):
            self.take()
            value = self.either()
            self.take(")")
            return value
        return self.primary_fn(self)


# GitHub -------------------------------------------------------------------------------


def _github_equal(left: Any, right: Any) -> bool:
    # GitHub compares strings case-insensitively.
    if isinstance(left, str) and isinstance(right, str):
        return left.lower() == right.lower()
    return bool(left == right)


def github(expression: str, context: Mapping[str, Any], status: str = "success") -> bool:
    """Does `if: expression` let the job run? `context` maps `github.event_name` and the
    like; `status` is how its needs ended. Without a status function, GitHub adds success()."""
    text = expression.strip()
    if text.startswith("${{") and text.endswith("}}"):
        text = text[3:-2]
    functions: dict[str, Callable[..., Any]] = {
        "startsWith": lambda a, b: str(a or "").lower().startswith(str(b).lower()),
        "endsWith": lambda a, b: str(a or "").lower().endswith(str(b).lower()),
        "contains": lambda a, b: str(b).lower() in str(a or "").lower(),
        "format": lambda template, *args: re.sub(r"\{(\d+)\}", lambda m: str(args[int(m[1])]), template),
        "success": lambda: status == "success",
        "failure": lambda: status == "failure",
        "always": lambda: True,
        "cancelled": lambda: False,
    }

    def primary(parser: _Parser) -> Any:
        kind, value = parser.take()
        if kind == "str":
            return value[1:-1].replace("''", "'")
        if kind == "num":
            return float(value)
        if kind != "name":
            raise ExpressionError(f"unexpected {value!r} in {expression!r}")
        if parser.peek() == ("op", "("):
            parser.take()
            args = []
            while parser.peek() != ("op", ")"):
                args.append(parser.either())
                if parser.peek() == ("op", ","):
                    parser.take()
            parser.take(")")
            if value not in functions:
                raise ExpressionError(f"unknown function {value} in {expression!r}")
            return functions[value](*args)
        if value in ("true", "false", "null"):
            return {"true": True, "false": False, "null": None}[value]
        return context.get(value)

    compare = {"==": _github_equal, "!=": lambda a, b: not _github_equal(a, b)}
    result = bool(_Parser(_tokens(_GITHUB_TOKEN, text), primary, compare).parse())
    if not re.search(r"\b(success|failure|always|cancelled)\(", text):
        result = result and status == "success"
    return result


# GitLab -------------------------------------------------------------------------------

_GITLAB_TOKEN = re.compile(
    r'\s*(?:(?P<str>"(?:[^"\\]|\\.)*"|\'[^\']*\')|(?P<regex>/(?:[^/\\]|\\.)*/[a-z]*)'
    r"|(?P<op>==|!=|=~|!~|&&|\|\||\(|\))|(?P<var>\$[A-Za-z_][A-Za-z0-9_]*|\$\{[A-Za-z_][A-Za-z0-9_]*\})"
    r"|(?P<null>null))"
)


def _regex_match(value: Any, pattern: Any) -> bool:
    if value is None:
        return False
    body, _, flags = str(pattern)[1:].rpartition("/")
    return re.search(body, str(value), re.I if "i" in flags else 0) is not None


def gitlab(expression: str, variables: Mapping[str, str]) -> bool:
    """Does `rules: - if: expression` match, with these CI/CD variables set?"""

    def primary(parser: _Parser) -> Any:
        kind, value = parser.take()
        if kind == "str":
            return value[1:-1]
        if kind == "regex":
            return value
        if kind == "null":
            return None
        if kind == "var":
            name = value.strip("${}")
            return variables.get(name) or None  # an empty variable is as good as unset
        raise ExpressionError(f"unexpected {value!r} in {expression!r}")

    compare = {
        "==": lambda a, b: a == b,
        "!=": lambda a, b: a != b,
        "=~": _regex_match,
        "!~": lambda a, b: not _regex_match(a, b),
    }
    return bool(_Parser(_tokens(_GITLAB_TOKEN, expression), primary, compare).parse())
