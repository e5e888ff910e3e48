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

_SAFE_WORD = re.compile(r"^[A-Za-z0-9_./:@=+-]+$")


def shell_quote(value: Any) -> str:
    """POSIX-shell quoting; plain words stay readable."""
    text = str(value)
    return text if _SAFE_WORD.match(text) else shlex.quote(text)


def yaml_string(value: Any) -> str:
    """A double-quoted YAML scalar (JSON strings are valid YAML)."""
    return json.dumps(str(value), ensure_ascii=False)


def groovy_string(value: Any) -> str:
    """A single-quoted Groovy string: no interpolation of `$`, backslashes escaped."""
    text = str(value).replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return f"'{text}'"


def to_json(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


def k8s_name(value: Any) -> str:
    """Lower-case DNS-1123 form, for names derived from spec values."""
    text = re.sub(r"[^a-z0-9-]+", "-", str(value).lower()).strip("-")
    return text[:63].rstrip("-") or "x"


FILTERS = {
    "shq": shell_quote,
    "yamlstr": yaml_string,
    "groovystr": groovy_string,
    "tojson_sorted": to_json,
    "k8s_name": k8s_name,
}


@functools.cache
def environment() -> Any:
    from jinja2 import FileSystemLoader, StrictUndefined
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(
        loader=FileSystemLoader(str(data_dir("templates"))),
        undefined=StrictUndefined,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
        autoescape=False,  # we render YAML, Groovy and Dockerfiles, never HTML
    )
    env.filters.update(FILTERS)
    return env


def render_template(name: str, context: dict[str, Any]) -> str:
    return str(environment().get_template(name).render(**context))
