"""STAND-IN (helper K) for helper G's controller protocol: the names of ``CONTROLLER_PROTOCOL.md`` only.

The lead replaces this file with G's ``protocol.py`` when merging; nothing here is meant to survive.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from lrsched._core.config import register_config_builder

__all__ = ["SIGNALS", "Controller", "register_controller"]

SIGNALS: tuple[str, ...] = ("loss", "grad_norm", "param_norm", "grad_dot_prev_direction", "prev_direction_norm")


class Controller:
    """A frozen dataclass value with a pure ``init``/``update`` (see CONTROLLER_PROTOCOL.md)."""

    name: ClassVar[str]
    signals: ClassVar[tuple[str, ...]] = ("loss",)

    def init(self, lr: Any = None, *, like: Any = None) -> Any:
        raise NotImplementedError

    def update(self, state: Any, signals: Any) -> Any:
        raise NotImplementedError

    def lr(self, state: Any) -> Any:
        return state.lr

    def to_config(self) -> dict[str, Any]:
        raise NotImplementedError


def register_controller(name: str) -> Callable[[Any], Any]:
    """Register ``cls`` under ``name`` so :func:`lrsched.from_config` rebuilds it."""

    def decorate(cls: Any) -> Any:
        cls.name = name
        register_config_builder(name, cls.from_config)
        return cls

    return decorate
