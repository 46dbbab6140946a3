"""The error an adapter raises when its framework is not installed."""

from __future__ import annotations

__all__ = ["missing"]


def missing(extra: str, error: ImportError) -> ImportError:
    """An ``ImportError`` naming ``pip install "lrsched[extra]"`` for a failed framework import."""
    return ImportError(
        f"lrsched.adapters.{extra if extra != 'jax' else 'optax'} needs {error.name or 'a framework'!r}, "
        f'which is not installed; install it with: pip install "lrsched[{extra}]"'
    )
