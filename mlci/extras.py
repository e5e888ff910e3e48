"""The optional parts of mlci and the check that names the one to install.

`pip install mlci` is what the pull-request check needs (validate, check, render).
Commands that need more ask for it here, before importing it, so a missing extra is
the user's to fix (exit 2, with the pip line) rather than an internal error.
"""

from __future__ import annotations

import importlib.util

from mlci.errors import UserError

# extra -> the top-level modules it provides (checked without importing them)
EXTRAS: dict[str, tuple[str, ...]] = {
    "ml": ("numpy", "scipy"),
    "opa-server": ("opa_client", "requests"),
    "remote": ("fsspec",),  # and the protocol's library: mlci/runtime/remote.py asks for that one
    # the model registry and run tracking: the MLflow client, SQLAlchemy for the embedded store
    "mlflow": ("mlflow", "sqlalchemy", "alembic"),
    "signing": ("cryptography",),  # RS256/ES256 policy bundle signatures (HS256 needs nothing)
}


def missing_modules(extra: str) -> list[str]:
    return [module for module in EXTRAS[extra] if importlib.util.find_spec(module) is None]


def require_extra(extra: str, needed_by: str) -> None:
    """Raise UserError naming `mlci[extra]` when one of its modules is not installed."""
    missing = missing_modules(extra)
    if missing:
        raise UserError(
            f"{needed_by} needs {', '.join(missing)}, which the core install leaves out: "
            f"install the extra with `pip install 'mlci[{extra}]'`"
        )
