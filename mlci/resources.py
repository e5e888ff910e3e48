"""Locate the data files (schemas, policies, templates) that ship with mlci.

In a built wheel they live in ``mlci/_data/``; in a source checkout they are at
the repository's top level. Both are found the same way, so tests run against
the very files that get packaged.
"""

from __future__ import annotations

import functools
from pathlib import Path

_KINDS = ("schemas", "policies", "templates")


@functools.cache
def data_dir(kind: str) -> Path:
    """The directory holding the packaged `kind` files."""
    if kind not in _KINDS:
        raise ValueError(f"unknown data kind {kind!r}")
    # The package's folder, as importlib.resources.files("mlci") gives it for a package on disk,
    # without importing importlib.resources (the start-up of `mlci check` on a cache hit).
    packaged = Path(__file__).parent / "_data" / kind
    if packaged.is_dir():
        return packaged
    source_checkout = Path(__file__).resolve().parent.parent / kind
    if source_checkout.is_dir():
        return source_checkout
    raise FileNotFoundError(f"mlci's {kind} are missing from this installation ({packaged})")


def schema_path() -> Path:
    return data_dir("schemas") / "mlproject.schema.json"
