"""The block structure of a declarative Jenkinsfile, read the way Jenkins' own parser nests it:
`header { body }` blocks holding statements and further blocks. Not a Groovy parser: enough of
the lexical grammar (comments, the four string forms, parentheses, braces) to find the blocks
and the string values inside them, never confusing a brace or a quote inside a string for one
outside it."""

from __future__ import annotations

import re
from dataclasses import dataclass, field

# String literals become placeholders in the text around them; Text.strings holds their values.
_PLACEHOLDER = re.compile(r"\x00(\d+)\x00")
_ESCAPES = {"n": "\n", "r": "\r", "t": "\t", "b": "\b", "f": "\f", "\\": "\\", "'": "'", '"': '"', "$": "$", "\n": ""}


# A line ending in one of these goes on on the next (a named argument list, a concatenation).
_CONTINUED = (",", "+", "&&", "||", "?", ":")


class GroovySyntaxError(ValueError):
    pass


@dataclass
class Statement:
    text: str  # source text with each string literal as a placeholder
    strings: list[str]  # the literals' values, in order

    def values(self) -> list[str]:
        return [self.strings[int(index)] for index in _PLACEHOLDER.findall(self.text)]

    def plain(self) -> str:
        """The text with each literal written back in single quotes (values, not source)."""
        return _PLACEHOLDER.sub(lambda match: repr(self.strings[int(match[1])]), self.text).strip()


@dataclass
class Block:
    header: Statement
    body: list[Statement | Block] = field(default_factory=list)

    @property
    def name(self) -> str:
        """The header's first word: `stage`, `when`, `steps`, `allOf`, `if`, ..."""
        words = re.findall(r"[A-Za-z_][\w.]*", self.header.text)
        return words[0] if words else ""

    def blocks(self, name: str | None = None) -> list[Block]:
        return [item for item in self.body if isinstance(item, Block) and (name is None or item.name == name)]

    def block(self, name: str) -> Block | None:
        found = self.blocks(name)
        return found[0] if found else None

    def statements(self) -> list[Statement]:
        return [item for item in self.body if isinstance(item, Statement)]

    def walk(self) -> list[Statement | Block]:
        """Every statement and block inside, depth first, in source order."""
        items: list[Statement | Block] = []
        for item in self.body:
            items.append(item)
            if isinstance(item, Block):
                items.extend(item.walk())
        return items


def _decode(body: str) -> str:
    out, index = [], 0
    while index < len(body):
        char = body[index]
        if char == "\\" and index + 1 < len(body):
            following = body[index + 1]
            if following == "u":
                out.append(chr(int(body[index + 2 : index + 6], 16)))
                index += 6
                continue
            out.append(_ESCAPES.get(following, following))
            index += 2
            continue
        out.append(char)
        index += 1
    return "".join(out)


def _string_end(source: str, start: int, quote: str) -> int:
    """The index just past the literal that starts at `start` with `quote`."""
    index = start + len(quote)
    while index < len(source):
        if source[index] == "\\":
            index += 2
            continue
        if source.startswith(quote, index):
            return index + len(quote)
        if len(quote) == 1 and source[index] == "\n":
            raise GroovySyntaxError(f"line break inside a {quote}-string at offset {start}")
        index += 1
    raise GroovySyntaxError(f"unterminated string at offset {start}")


def parse(source: str) -> Block:
    """The file as one root block whose body holds the top-level statements and blocks."""
    strings: list[str] = []
    root = Block(Statement("", strings))
    stack = [root]
    text: list[str] = []
    depth = 0  # parentheses and brackets: a line break inside them does not end a statement

    def flush() -> None:
        chunk = "".join(text).strip()
        text.clear()
        if chunk:
            stack[-1].body.append(Statement(chunk, strings))

    index = 0
    while index < len(source):
        char = source[index]
        if source.startswith("//", index):
            index = source.find("\n", index) if "\n" in source[index:] else len(source)
            continue
        if source.startswith("/*", index):
            end = source.find("*/", index + 2)
            if end < 0:
                raise GroovySyntaxError("unterminated comment")
            index = end + 2
            continue
        if char in "'\"":
            quote = char * 3 if source.startswith(char * 3, index) else char
            end = _string_end(source, index, quote)
            strings.append(_decode(source[index + len(quote) : end - len(quote)]))
            text.append(f"\x00{len(strings) - 1}\x00")
            index = end
            continue
        if char in "([":
            depth += 1
        elif char in ")]":
            depth -= 1
        if char == "{":
            header = "".join(text).strip()
            text.clear()
            block = Block(Statement(header, strings))
            stack[-1].body.append(block)
            stack.append(block)
        elif char == "}":
            flush()
            if len(stack) == 1:
                raise GroovySyntaxError(f"unbalanced '}}' at offset {index}")
            stack.pop()
        elif char == "\n" and depth == 0 and not "".join(text).rstrip().endswith(_CONTINUED):
            flush()
        else:
            text.append(char)
        index += 1
    flush()
    if len(stack) != 1 or depth:
        raise GroovySyntaxError("unbalanced braces or parentheses at the end of the file")
    return root
