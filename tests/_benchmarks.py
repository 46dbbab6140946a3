"""The repository's ``benchmarks`` package, for the tests that check it.

A helper module, not a test file (pytest collects ``test_*.py`` only); the test files import it as
``from _benchmarks import ...``.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = str(Path(__file__).resolve().parents[1])
CONVERGENCE = ("jax", "optax", "sklearn")  # what ``benchmarks.convergence`` imports


def use_benchmarks(*frameworks: str) -> None:
    """Skip the calling test module unless every one of ``frameworks`` is installed; then put the repository root
    first on ``sys.path``, so ``import benchmarks`` finds this checkout's (pytest puts only ``tests/`` there)."""
    for name in frameworks:
        pytest.importorskip(name)
    if ROOT not in sys.path:
        sys.path.insert(0, ROOT)
