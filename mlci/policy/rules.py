"""A small scanner for the top-level statements of a Rego module.

mlci must know every rule a module defines, and what shape its value has, before
any engine runs: a rule it evaluates is listed in the generated decision module,
and a rule it cannot interpret is refused. A real Rego parser is not at hand
(regopy exposes none), but rule *heads* are simple: a statement at brace depth 0
that starts a line. The scanner tokenises the module (strings, raw strings and
comments included, so braces in them do not count), splits it into top-level
statements and reads each head:

    deny contains msg if { ... }          -> "set"      (multi-value rule)
    deny if { ... }   /  deny { ... }      -> "boolean"  (value true when the body holds)
    deny[k] := v if { ... } / deny[k] if   -> "object"   (one entry per k)
    deny := value if { ... }               -> "value"    (a complete rule)
    default deny := false                  -> "value"
    deny_reason(x) := ...                  -> "function" (a helper, never evaluated)
    deny.a.b contains x if                 -> "ref"      (a nested ref head)
    anything else                          -> "unknown"

Each head carries the `# METADATA` comment block right above it, if any.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_TOKEN = re.compile(
    r"""
    (?P<newline>\r\n|\r|\n)
  | (?P<space>[ \t\f]+)
  | (?P<comment>\#[^\n]*)
  | (?P<string>"(?:[^"\\\n]|\\.)*")
  | (?P<raw>`[^`]*`)
  | (?P<number>-?[0-9]+(?:\.[0-9]+)?(?:[eE][-+]?[0-9]+)?)
  | (?P<ident>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>:=|==|!=|<=|>=|\|)
  | (?P<punct>.)
    """,
    re.VERBOSE,
)
# A line that starts with one of these continues the statement above it.
_CONTINUATIONS = {"else", "if", "contains", ":=", "=", "{", "|", ",", ".", "[", "(", ")", "]", "}"}
# A statement that ends with one of these continues on the next line.
_OPEN_ENDINGS = {":=", "=", "if", "contains", "else", ",", "|", "."}
_SCALAR_LITERALS = {"null", "true", "false"}
# Keywords that join two terms inside one statement (`msg if`, `x in y`, `import a as b`).
_JOINING_KEYWORDS = {
    "if",
    "contains",
    "else",
    "in",
    "as",
    "with",
    "not",
    "some",
    "every",
    "default",
    "package",
    "import",
}


class RegoScanError(ValueError):
    def __init__(self, line: int, column: int, problem: str) -> None:
        super().__init__(f"{line}:{column}: {problem}")
        self.line = line
        self.column = column
        self.problem = problem


@dataclass(frozen=True)
class Token:
    kind: str
    text: str
    line: int
    column: int


@dataclass(frozen=True)
class Comment:
    text: str  # without the leading '#'
    line: int
    column: int  # of the '#'
    own_line: bool  # nothing but blanks before it on its line


@dataclass(frozen=True)
class RuleHead:
    name: str
    kind: str  # set | boolean | object | value | function | ref | unknown
    line: int
    column: int
    is_default: bool = False
    literal_value: str | None = None  # the scalar literal after := when the value is one
    metadata: tuple[Comment, ...] = ()  # the `# METADATA` block above the head, if any


@dataclass(frozen=True)
class ModuleScan:
    package: str  # without the "data." prefix
    package_line: int
    heads: tuple[RuleHead, ...]
    unsteady_calls: tuple[Token, ...] = ()  # calls of UNSTEADY_BUILTINS, named by their first token


# Built-ins whose answer depends on the clock, chance, the network or the engine's
# host, or that regopy lacks (trace): the same input could be decided differently
# per run or per engine. mlci passes the clock as data (data.mlci_runtime.today).
UNSTEADY_BUILTINS = frozenset(
    {
        "http.send",
        "net.lookup_ip_addr",
        "time.now_ns",
        "rand.intn",
        "opa.runtime",
        "uuid.rfc4122",
        "io.jwt.decode_verify",
        "crypto.x509.parse_and_verify_certificates",
        "crypto.x509.parse_and_verify_certificates_with_options",
        "trace",
    }
)


def scan_module(source: str) -> ModuleScan:
    """The package and every rule head of one module. Raises RegoScanError."""
    tokens, comments = _tokenise(source)
    statements = _statements(tokens)
    package = ""
    package_line = 0
    heads: list[RuleHead] = []
    blocks = _metadata_blocks(comments)
    previous_end = 0
    for statement in statements:
        first = statement[0]
        # OPA attaches a METADATA block to the statement after it, blank lines or not.
        block = _last_between(blocks, previous_end, first.line)
        previous_end = statement[-1].line
        if first.kind == "ident" and first.text == "package":
            if package:
                raise RegoScanError(first.line, first.column, "a second package declaration")
            package = _package_path(statement)
            package_line = first.line
            continue
        if first.kind == "ident" and first.text == "import":
            continue
        head = _head(statement)
        if head is None:
            continue
        if block:
            head = RuleHead(**{**head.__dict__, "metadata": block})
        heads.append(head)
    if not package:
        raise RegoScanError(1, 1, "no package declaration")
    return ModuleScan(
        package=package, package_line=package_line, heads=tuple(heads), unsteady_calls=_unsteady_calls(tokens)
    )


def _unsteady_calls(tokens: list[Token]) -> tuple[Token, ...]:
    """Calls of UNSTEADY_BUILTINS: a dotted name (not itself after a dot) followed by `(`."""
    code = [t for t in tokens if t.kind != "newline"]
    found: list[Token] = []
    for i, token in enumerate(code):
        if token.kind != "ident" or (i and code[i - 1].text == "."):
            continue
        j, name = i, token.text
        while j + 2 < len(code) and code[j + 1].text == "." and code[j + 2].kind == "ident":
            j += 2
            name += "." + code[j].text
        if name in UNSTEADY_BUILTINS and j + 1 < len(code) and code[j + 1].text == "(":
            found.append(Token(token.kind, name, token.line, token.column))
    return tuple(found)


def _tokenise(source: str) -> tuple[list[Token], list[Comment]]:
    tokens: list[Token] = []
    comments: list[Comment] = []
    line, line_start = 1, 0
    for match in _TOKEN.finditer(source):
        kind = match.lastgroup or "punct"
        text = match.group()
        column = match.start() - line_start + 1
        if kind == "newline":
            tokens.append(Token("newline", text, line, column))
            line += 1
            line_start = match.end()
        elif kind == "comment":
            own_line = not tokens or tokens[-1].kind == "newline"
            comments.append(Comment(text[1:], line, column, own_line))
        elif kind != "space":
            tokens.append(Token(kind, text, line, column))
            if kind == "raw":  # raw strings may span lines
                newlines = text.count("\n")
                if newlines:
                    line += newlines
                    line_start = match.start() + text.rfind("\n") + 1
    return tokens, comments


def _statements(tokens: list[Token]) -> list[list[Token]]:
    """Top-level statements: a new one starts on a new line at depth 0, unless the
    line (or the end of the previous one) says the statement continues."""
    statements: list[list[Token]] = []
    current: list[Token] = []
    depth = 0
    at_line_start = True
    for token in tokens:
        if token.kind == "newline":
            at_line_start = True
            continue
        starts = (
            at_line_start
            and depth == 0
            and token.text not in _CONTINUATIONS
            and not (current and current[-1].text in _OPEN_ENDINGS)
        )
        if not at_line_start and depth == 0 and current and _ends_term(current[-1]) and _starts_statement(token):
            # OPA needs no newline between two rules (`x := 1 deny contains "m" if true`), regopy
            # refuses it, and a rule hidden behind another one's head would not be seen here.
            raise RegoScanError(token.line, token.column, f"a second statement ({token.text}) on the same line")
        if starts and current:
            statements.append(current)
            current = []
        at_line_start = False
        current.append(token)
        if token.kind == "punct" and token.text in "{[(":
            depth += 1
        elif token.kind == "punct" and token.text in "}])":
            if depth == 0:
                raise RegoScanError(token.line, token.column, f"unbalanced {token.text!r}")
            depth -= 1
    if current:
        statements.append(current)
    if depth:
        last = current[-1]
        raise RegoScanError(last.line, last.column, "unclosed bracket at the end of the module")
    return statements


_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")


def _package_path(statement: list[Token]) -> str:
    """`a.b`, also written `a["b"]`, without the `data.` prefix. A segment that is not
    an identifier (`main["sub-pkg"]`) is refused: mlci names rules `package.rule`
    and could not address it, and a rule it cannot address would be skipped."""
    parts: list[str] = []
    for token in statement[1:]:
        if token.kind == "ident":
            parts.append(token.text)
        elif token.kind == "string":
            segment = token.text[1:-1]
            if not _IDENTIFIER.fullmatch(segment):
                raise RegoScanError(
                    token.line,
                    token.column,
                    f"package segment {token.text} is not an identifier, which mlci cannot address",
                )
            parts.append(segment)
        elif token.kind != "punct" or token.text not in ".[]":
            raise RegoScanError(token.line, token.column, f"unexpected {token.text!r} in the package path")
    if parts[:1] == ["data"]:
        parts = parts[1:]
    return ".".join(parts)


def _ends_term(token: Token) -> bool:
    """The token can end a complete term: a name, a literal or a closing bracket."""
    if token.kind == "ident":
        return token.text not in _JOINING_KEYWORDS
    return token.kind in ("string", "raw", "number") or token.text in (")", "]", "}")


def _starts_statement(token: Token) -> bool:
    """A name right after a complete term, with no operator between, starts the next statement."""
    return token.kind == "ident" and token.text not in _JOINING_KEYWORDS - {"default", "package", "import"}


def _head(statement: list[Token]) -> RuleHead | None:
    first = statement[0]
    is_default = first.kind == "ident" and first.text == "default"
    rest = statement[1:] if is_default else statement
    if not rest or rest[0].kind != "ident":
        return None
    name_token = rest[0]
    i = 1
    kind = ""
    # Ref heads: name.a, name["a"], name[k] ...
    while i < len(rest) and rest[i].text in (".", "["):
        if rest[i].text == ".":
            kind = "ref"
            i += 2
        else:
            end = _closing(rest, i)
            inner = rest[i + 1 : end]
            kind = "ref" if kind or any(t.text in ("[", ".") for t in inner) else "object"
            i = end + 1
    following = rest[i].text if i < len(rest) else ""
    literal = None
    after_arguments = _closing(rest, i) + 1 if following == "(" else i
    if after_arguments < len(rest) and rest[after_arguments].text == "{":
        # OPA 1.x refuses it; regopy reads it as Rego v0, so the engines would disagree.
        raise RegoScanError(
            name_token.line,
            name_token.column,
            f"{name_token.text}: a rule body without `if` is Rego v0 syntax; mlci evaluates Rego v1 "
            "(`deny contains msg if {...}`; `opa fmt --v0-v1` rewrites a module)",
        )
    if following == "(":
        kind = "function"
    elif kind in ("ref",):
        pass
    elif following == "contains":
        kind = "ref" if kind == "object" else "set"
    elif following in (":=", "="):
        value = rest[i + 1] if i + 1 < len(rest) else None
        if value is not None and _is_scalar_literal(rest, i + 1):
            literal = value.text
        kind = kind or "value"
    elif following in ("if", "{", ""):
        kind = kind or "boolean"
    else:
        kind = "unknown"  # refused when it would be a rule, ignored when a helper
    return RuleHead(
        name=name_token.text,
        kind=kind,
        line=name_token.line,
        column=name_token.column,
        is_default=is_default,
        literal_value=literal,
    )


def _is_scalar_literal(tokens: list[Token], i: int) -> bool:
    """True when the value after := is one string/number/null literal (nothing follows
    it but an `if` body)."""
    token = tokens[i]
    scalar = token.kind in ("string", "raw", "number") or (token.kind == "ident" and token.text == "null")
    after = tokens[i + 1].text if i + 1 < len(tokens) else "if"
    return scalar and after in ("if", "{")


def _closing(tokens: list[Token], start: int) -> int:
    depth = 0
    for j in range(start, len(tokens)):
        if tokens[j].kind == "punct" and tokens[j].text in "{[(":
            depth += 1
        elif tokens[j].kind == "punct" and tokens[j].text in "}])":
            depth -= 1
            if depth == 0:
                return j
    return len(tokens) - 1


def _last_between(
    blocks: dict[int, tuple[Comment, ...]], after_line: int, before_line: int
) -> tuple[Comment, ...] | None:
    """The last METADATA block that sits between two statements."""
    found = None
    for block in blocks.values():
        if after_line < block[0].line and block[-1].line < before_line:
            found = block
    return found


def _metadata_blocks(comments: list[Comment]) -> dict[int, tuple[Comment, ...]]:
    """`# METADATA` blocks keyed by the line of their last comment. A block is the
    METADATA line and the comment lines right below it."""
    blocks: dict[int, tuple[Comment, ...]] = {}
    i = 0
    while i < len(comments):
        if comments[i].text.strip() != "METADATA" or not comments[i].own_line:
            i += 1
            continue
        block = [comments[i]]
        j = i + 1
        while j < len(comments) and comments[j].own_line and comments[j].line == block[-1].line + 1:
            block.append(comments[j])
            j += 1
        blocks[block[-1].line] = tuple(block)
        i = j
    return blocks


def is_scalar_literal(text: str | None) -> bool:
    return text is not None and (text in _SCALAR_LITERALS or text[:1] in '"`-0123456789')
