"""The one Jinja2 environment every renderer uses.

Sandboxed (templates are data, not code), StrictUndefined (a typo in a template
is an error, not an empty string), and the quoting filters in one place: any
value from the spec that lands in a shell line, a YAML scalar or a Groovy string
goes through one of them.
"""

from __future__ import annotations

import functools
import json
import re
import shlex
from typing import Any

from mlci.resources import data_dir

_SAFE_WORD = re.compile(r"[A-Za-z0-9_./:@=+-]+")
# Characters no rendered string holds raw, whatever the target: C0 and C1 controls and DEL (not
# printable in YAML: the parser stops; a raw CR or LF ends a Groovy string), the Unicode line and
# paragraph separators and NEL (line breaks to YAML 1.1 parsers), the byte-order mark, invisible
# and bidirectional format characters (text that reads otherwise than it parses), surrogates and
# non-characters. Fixed ranges rather than unicodedata: the same spec gives the same bytes on
# every Python.
_UNPRINTABLE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u00ad\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u206f\ufeff\ufff9-\uffff\ud800-\udfff]"
)
# Groovy's own short escapes; other unprintable characters become \uXXXX.
_GROOVY_ESCAPES = {"\\": "\\\\", "'": "\\'", "\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}
_GROOVY_SPECIAL = re.compile("[\\\\'\n\r\t\b\f]")


def _unicode_escape(match: re.Match[str]) -> str:
    return f"\\u{ord(match[0]):04x}"


def _escape_unprintable(text: str) -> str:
    """\\uXXXX for every unprintable character: an escape YAML, JSON and Groovy strings share."""
    return _UNPRINTABLE.sub(_unicode_escape, text)


def shell_quote(value: Any) -> str:
    """POSIX-shell quoting; plain words stay readable."""
    text = str(value)
    return text if _SAFE_WORD.fullmatch(text) else shlex.quote(text)


def yaml_string(value: Any) -> str:
    """A double-quoted YAML scalar that parses back to exactly `value`, on one line: a JSON
    string (valid YAML) with every unprintable character escaped as well."""
    return _escape_unprintable(json.dumps(str(value), ensure_ascii=False))


def groovy_string(value: Any) -> str:
    """A single-quoted Groovy string: no interpolation of `$`, on one line, every quote,
    backslash, line break and unprintable character escaped."""
    text = _GROOVY_SPECIAL.sub(lambda match: _GROOVY_ESCAPES[match[0]], str(value))
    return f"'{_escape_unprintable(text)}'"


def github_literal(value: Any) -> str:
    """Text GitHub Actions takes as it is: it evaluates `${{ ... }}` in almost every value
    (`env:`, `run:`, `with:`), so each `${{` becomes an expression that yields it."""
    return str(value).replace("${{", "${{ '${{' }}")


def to_json(value: Any) -> str:
    """JSON on one line, with every unprintable character escaped (it often sits in YAML)."""
    return _escape_unprintable(json.dumps(value, sort_keys=True, ensure_ascii=False))


_JSON_ESCAPE = re.compile(r"\\(.)")


def dockerfile_json(value: Any) -> str:
    """JSON for a Dockerfile's exec form (`CMD [...]`), with backslashes and quotes written as
    `\\u005c` and `\\u0022`: Docker's JSON parser reads them the same, while hadolint's reads
    `\\\\"` as an escaped quote and takes the whole instruction for the shell form."""
    plain = {"\\": "\\u005c", '"': "\\u0022"}
    return _JSON_ESCAPE.sub(lambda match: plain.get(match[1], match[0]), to_json(value))


def k8s_name(value: Any) -> str:
    """Lower-case DNS-1123 form, for names derived from spec values."""
    text = re.sub(r"[^a-z0-9-]+", "-", str(value).lower()).strip("-")
    return text[:63].rstrip("-") or "x"


FILTERS = {
    "shq": shell_quote,
    "yamlstr": yaml_string,
    "groovystr": groovy_string,
    "github_literal": github_literal,
    "tojson_sorted": to_json,
    "dockerfile_json": dockerfile_json,
    "k8s_name": k8s_name,
}


@functools.cache
def environment() -> Any:
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    class Sandbox(ImmutableSandboxedEnvironment):
        """The sandbox, with its verdict on each attribute remembered per (type, name).

        Jinja2's verdict depends only on the object's type and the attribute's name
        (isinstance tests against fixed types and ABCs, and the name), so remembering it is
        exact; it spared most of the time a render spent in the sandbox (a profile of 200
        projects: 667,100 attribute lookups, each running a dozen isinstance tests)."""

        def __init__(self, **options: Any) -> None:
            super().__init__(**options)
            self.attribute_verdicts: dict[tuple[type, str], bool] = {}

        def is_safe_attribute(self, obj: Any, attr: str, value: Any) -> bool:
            key = (type(obj), attr)
            verdict = self.attribute_verdicts.get(key)
            if verdict is None:
                verdict = self.attribute_verdicts[key] = bool(super().is_safe_attribute(obj, attr, value))
            return verdict

    env = Sandbox(
        loader=FileSystemLoader(str(data_dir("templates"))),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # we render YAML, Groovy and Dockerfiles, never HTML
        auto_reload=False,  # the templates ship with mlci: no stat of the file at every render
    )
    env.filters.update(FILTERS)
    return env


def render_template(name: str, context: dict[str, Any]) -> str:
    return str(environment().get_template(name).render(**context))
