"""Mark rendered files `linguist-generated` in `.gitattributes`, so code review collapses them.

mlci owns one delimited block in each output folder's `.gitattributes` and nothing else:
lines outside the block are kept byte for byte, the file is created when absent, and a
symlinked `.gitattributes` is refused rather than followed. The block lists the files of
every plan rendered into that folder, sorted, so the same plans give the same bytes.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from pathlib import Path

from mlci.errors import InputError, Location, UserError
from mlci.render.writer import CheckReport, FilePlan, WriteReport

GITATTRIBUTES = ".gitattributes"
BEGIN = "# BEGIN mlci: generated files (managed by `mlci render`; edits inside this block are overwritten)"
END = "# END mlci: generated files"
ATTRIBUTE = "linguist-generated=true"

_GLOB = re.compile(r"([*?\[\\])")
_NEEDS_QUOTES = re.compile(r'[\s"]|[^\x20-\x7e]')


def pattern_for(relative: str) -> str:
    """A gitattributes pattern matching exactly `relative` (a path from the folder of .gitattributes)."""
    pattern = "/" + _GLOB.sub(r"\\\1", relative)  # anchored, and glob characters taken literally
    if not _NEEDS_QUOTES.search(pattern):
        return pattern
    # Git reads a pattern that starts with a double quote in C style: spaces, quotes, newlines.
    quoted = "".join(
        {"\\": "\\\\", '"': '\\"'}.get(c, c) if 0x20 <= ord(c) <= 0x7E else "".join(f"\\{b:03o}" for b in c.encode())
        for c in pattern
    )
    return f'"{quoted}"'


def block_for(paths: Iterable[str]) -> str:
    lines = [BEGIN, *(f"{pattern_for(p)} {ATTRIBUTE}" for p in sorted(set(paths))), END]
    return "\n".join(lines) + "\n"


def plans_by_folder(plans: list[FilePlan]) -> dict[Path, list[str]]:
    """Every generated path (the manifest too), grouped by the output folder it is relative to."""
    folders: dict[Path, list[str]] = {}
    for plan in plans:
        manifest = plan.manifest_path.relative_to(plan.out_dir).as_posix()
        folders.setdefault(plan.out_dir, []).extend([*plan.files, *([manifest] if plan.files else [])])
    return folders


def updated_text(current: str | None, block: str, shown: str) -> str:
    """`current` with mlci's block replaced (or appended); everything outside the block is kept as is."""
    if current is None or current == "":
        return block
    lines = current.splitlines(keepends=True)
    begins = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == BEGIN]
    ends = [i for i, line in enumerate(lines) if line.rstrip("\r\n") == END]
    if not begins and not ends:
        separator = "" if current.endswith("\n") else "\n"
        return current + separator + block
    if len(begins) != 1 or len(ends) != 1 or ends[0] < begins[0]:
        where = min(begins + ends) + 1
        raise InputError(
            Location(shown, where, 1),
            f"mlci's block in .gitattributes is damaged (needs exactly one {BEGIN!r} line and one {END!r} "
            "line after it); fix or remove it by hand",
        )
    return "".join(lines[: begins[0]]) + block + "".join(lines[ends[0] + 1 :])


def _read(plan: FilePlan, shown: str) -> str | None:
    # Through the plan's SafeTree: a symlinked .gitattributes (or folder above it) is refused, never followed.
    data = plan.tree().read_bytes(plan.in_tree(GITATTRIBUTES))
    if data is None:
        return None
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        raise UserError(f"{shown}: not valid UTF-8; mlci will not rewrite it") from None


def _folders(plans: list[FilePlan]) -> list[tuple[Path, FilePlan, list[str]]]:
    """(folder, a plan rendered into it, every generated path there), sorted by folder."""
    first: dict[Path, FilePlan] = {}
    for plan in plans:
        first.setdefault(plan.out_dir, plan)
    return [(folder, first[folder], paths) for folder, paths in sorted(plans_by_folder(plans).items())]


def check_gitattributes(plans: list[FilePlan]) -> list[CheckReport]:
    """For `render --check`: a report per folder whose block is missing or stale."""
    from mlci.discover import display_path

    reports = []
    for folder, plan, paths in _folders(plans):
        path = folder / GITATTRIBUTES
        current = _read(plan, display_path(path))
        if current is None or updated_text(current, block_for(paths), display_path(path)) != current:
            why = "missing" if current is None else "mlci's linguist-generated block is out of date"
            reports.append(CheckReport(out_of_date=[(path, why)]))
    return reports


def write_gitattributes(plans: list[FilePlan]) -> list[WriteReport]:
    """Write each folder's block; a report per folder, saying whether the file changed."""
    from mlci.discover import display_path

    reports = []
    for folder, plan, paths in _folders(plans):
        path = folder / GITATTRIBUTES
        current = _read(plan, display_path(path))
        wanted = updated_text(current, block_for(paths), display_path(path))
        if wanted == current:
            reports.append(WriteReport(unchanged=[path]))
        else:
            # Atomic, exclusive random temporary name, never through a link (parallel renders are safe).
            plan.tree().write_text(plan.in_tree(GITATTRIBUTES), wanted)
            reports.append(WriteReport(written=[path]))
    return reports


def sync_gitattributes(
    plans: list[FilePlan], check: bool, checks: list[CheckReport], writes: list[WriteReport]
) -> None:
    """The render command's one hook: compare (`--check`) or write every folder's block."""
    if check:
        checks.extend(check_gitattributes(plans))
    else:
        writes.extend(write_gitattributes(plans))
