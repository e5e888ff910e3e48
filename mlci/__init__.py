"""mlci: one declarative mlproject.yaml in, governed ML delivery out."""

from __future__ import annotations

__version__ = "0.1.0"
