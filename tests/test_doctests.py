"""Every docstring example in the lrsched package runs as written and shows what it says.

Each docstring's examples run in an empty namespace, as when a reader pastes them: they import what they use.
"""

from __future__ import annotations

import doctest
import importlib
import pkgutil

import pytest

import lrsched

MODULES = sorted(
    name for _, name, _ in pkgutil.walk_packages(lrsched.__path__, prefix="lrsched.") if name != "lrsched.__main__"
)


def test_the_core_modules_are_collected() -> None:
    core = {
        "_core.schedule", "_core.backend", "_core.config", "schedules.basic", "schedules.decay",
        "schedules.annealing", "schedules.combinators", "schedules.joins", "schedules.curves", "greedy.core",
    }  # fmt: skip
    assert {f"lrsched.{m}" for m in core} <= set(MODULES)


@pytest.mark.parametrize("name", ["lrsched", *MODULES])
def test_docstring_examples(name: str) -> None:
    module = importlib.import_module(name)
    result = doctest.testmod(
        module,
        globs={},  # nothing predefined: an example imports what it uses, as pasted
        optionflags=doctest.ELLIPSIS | doctest.NORMALIZE_WHITESPACE,
        verbose=False,
        report=False,
    )
    assert result.failed == 0, f"{result.failed} of {result.attempted} doctest examples failed in {name}"
