"""`mlci init`: a commented starter mlproject.yaml that validates as written."""

from __future__ import annotations

import getpass
import os
import re
from pathlib import Path

from mlci.discover import SPEC_NAME
from mlci.errors import UserError
from mlci.render.jinja import render_template
from mlci.schema import load_schema

# sha256 of the empty file: honest until the real data is there, and the lineage
# check will say so.
EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"


def dns_label(text: str) -> str:
    label = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")[:63].strip("-")
    return label or "my-model"


def init_project(folder: Path, name: str | None = None, team: str | None = None) -> Path:
    target = folder / SPEC_NAME
    if target.exists():
        raise UserError(f"{target}: already exists; mlci init never overwrites a spec")
    folder.mkdir(parents=True, exist_ok=True)
    owner = re.sub(r"[^A-Za-z0-9._@-]", "", getpass.getuser()) or "owner"
    text = render_template(
        "init/mlproject.yaml.j2",
        {
            "name": dns_label(name or folder.resolve().name),
            "team": dns_label(team or "ml"),
            "owner": owner,
            "sha256": EMPTY_SHA256,
            # Editors (the YAML language server) fetch the schema from its $id: one source of truth.
            "schema_url": load_schema()["$id"],
        },
    )
    try:
        # Exclusive and without following a link: a dangling `mlproject.yaml -> elsewhere` is not written through.
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_NOFOLLOW, 0o666)
    except FileExistsError:
        raise UserError(f"{target}: already exists; mlci init never overwrites a spec") from None
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(text)
    return target
