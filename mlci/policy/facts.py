"""Facts about a project's repository that its spec alone cannot tell a policy.

The facts reach the policies as `input.mlci_facts`, next to the spec: the input is the
one per-project channel every engine (embedded, opa binary, OPA server) already carries,
so the three stay identical, and the decision cache keys on the facts (cache.spec_key)
because a decision depends on them. The schema allows no `mlci_facts` key in
mlproject.yaml, so a pull request cannot forge them; mlci adds them after validation.

Only booleans and line numbers, never text from the files: a rule that walks the whole
input (the secret scan) sees nothing a pull request wrote there.

- `documents`: for each document the spec references as a file of the project (see
  DOCUMENTS), by its dotted key (`governance.model_card`), whether a regular, non-empty file
  is there (not a link, a folder or a path outside the project);
- `requirements.unpinned_lines`: the lines of training.requirements that do not pin an
  exact version (`name==1.2.3`), 1-based, and `unreadable` when mlci may not read it
  (a link, a folder, not UTF-8); absent when the file is missing.
"""

from __future__ import annotations

import re
from typing import Any

from mlci.loader import Spec

# The spec's document references, as the path of keys to them and whether the field holds a
# path only (the schema's relativePath) or a path or some other reference (a DPIA register id
# such as DPIA-2026-031, a URL), which is a file of the project only when it looks like one.
DOCUMENTS: tuple[tuple[tuple[str, ...], bool], ...] = (
    (("governance", "model_card"), True),
    (("governance", "erasure_procedure"), True),
    (("governance", "dpia"), False),
    (("governance", "ai_act", "stop_procedure"), False),
    (("governance", "ai_act", "post_market_monitoring"), False),
)
# A reference that is a file path: a folder in it, or a file extension (`dpia.pdf`), and no scheme.
_URL = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*:")
_FILE_LIKE = re.compile(r"/|\.[A-Za-z][A-Za-z0-9]{0,5}$")
# `name[extras] == 1.2.3 ; markers`: an exact version, no wildcard.
_PINNED = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(\[[^\]]*\])?\s*===?\s*[A-Za-z0-9][A-Za-z0-9.+!_-]*\s*(;.*)?$")
_EDITABLE = ("-e", "--editable")
# Enough of a document to tell it from an empty or blank file.
_SOME_TEXT = 256


def spec_facts(spec: Spec) -> dict[str, Any]:
    """The facts of a spec the schema accepted (only those reach the policies)."""
    from mlci.safe_fs import SafeTree

    typed = spec.typed
    tree = SafeTree(spec.directory)
    documents: dict[str, bool] = {}
    for keys, path_only in DOCUMENTS:
        value = _value_at(spec.data, keys)
        if isinstance(value, str) and (path_only or document_path(value)):
            documents[".".join(keys)] = _exists(tree, value.strip())
    facts: dict[str, Any] = {"documents": documents}
    # The schema's default fills the name when the spec gives none: the file is checked either way.
    requirements = typed.training.requirements
    if requirements:
        text = _read(tree, requirements)
        if text == "":
            # A link, a folder, not UTF-8 or too big: not checkable, which is not a pass.
            facts["requirements"] = {"unreadable": True, "unpinned_lines": []}
        elif text is not None:
            facts["requirements"] = {"unreadable": False, "unpinned_lines": unpinned_lines(text)}
    return facts


def with_facts(spec: Spec) -> dict[str, Any]:
    """The policy input of a spec: its data and, beside it, the repository facts."""
    return {**spec.data, "mlci_facts": spec_facts(spec)}


def document_path(reference: str) -> bool:
    """Whether a free-form document reference names a file of the project, not a URL or an id."""
    text = reference.strip()
    return bool(text) and not _URL.match(text) and bool(_FILE_LIKE.search(text))


def _value_at(data: Any, keys: tuple[str, ...]) -> Any:
    for key in keys:
        if not isinstance(data, dict):
            return None
        data = data.get(key)
    return data


def unpinned_lines(text: str) -> list[int]:
    """1-based numbers of the requirement lines without an exact `==` pin. A line continued
    with a trailing backslash is judged whole, at its first line; comments, blank lines and
    pip options (`-r`, `--index-url`, `--hash`) are not requirements, but an editable install is."""
    out: list[int] = []
    logical = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        if not logical:
            start = number
        line = raw.rstrip()
        if line.endswith("\\"):
            logical += line[:-1] + " "
            continue
        logical += line
        requirement = re.split(r"(^|\s)#", logical, maxsplit=1)[0].strip()
        logical = ""
        if not requirement:
            continue
        first = requirement.split()[0]
        if first in _EDITABLE or first.startswith("--editable="):
            out.append(start)
            continue
        if requirement.startswith("-"):
            continue
        # Hash options after the pin (`pkg==1.0 --hash=sha256:...`) leave the pin as it is.
        requirement = requirement.split(" --", 1)[0].strip()
        if not _PINNED.match(requirement):
            out.append(start)
    return out


def _exists(tree: Any, rel: str) -> bool:
    """A regular file with something in it: an empty file documents nothing."""
    from mlci.errors import UserError

    while rel.startswith("./"):
        rel = rel[2:]
    try:
        data = tree.read_bytes(rel, limit=_SOME_TEXT)
    except (UserError, ValueError):
        return False  # a link, a folder or a path mlci may not follow: no document there
    return data is not None and data.strip() != b""


def _read(tree: Any, rel: str) -> str | None:
    """The file's text; None when it is missing; "" when mlci may not or cannot read it."""
    from mlci.errors import UserError

    try:
        text = tree.read_text(rel)
    except (UserError, ValueError):
        return ""
    return None if text is None else str(text) or " "  # an empty file is readable, with no lines
