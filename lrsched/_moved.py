"""Import paths of modules that moved to the room that says what they are, kept working.

``import lrsched.plotting`` (and ``lrsched.range_test``, ``lrsched.record``, ``lrsched.search``,
``lrsched.adapters.leap``) load the module at its new home under its old name, lazily: nothing is imported until
the old path is.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.machinery
import sys
from types import ModuleType
from typing import Any

__all__ = ["MOVED", "install"]

#: old import path -> new one
MOVED: dict[str, str] = {
    "lrsched.plotting": "lrsched.tools.plotting",
    "lrsched.range_test": "lrsched.tools.lr_range",
    "lrsched.record": "lrsched.tools.record",
    "lrsched.search": "lrsched.tools.search",
    "lrsched._progress": "lrsched.tools.progress",
    "lrsched.adapters.leap": "lrsched.adapters.transforms.leap",
}


class _Loader(importlib.abc.Loader):
    def __init__(self, target: str) -> None:
        self.target = target

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> ModuleType:
        return importlib.import_module(self.target)

    def exec_module(self, module: ModuleType) -> None:
        """The module was executed at its new home."""


class _Finder(importlib.abc.MetaPathFinder):
    def find_spec(self, name: str, path: Any = None, target: Any = None) -> importlib.machinery.ModuleSpec | None:
        new = MOVED.get(name)
        return None if new is None else importlib.machinery.ModuleSpec(name, _Loader(new))


def install() -> None:
    """Let the old paths import (once per process)."""
    if not any(isinstance(f, _Finder) for f in sys.meta_path):
        sys.meta_path.insert(0, _Finder())
