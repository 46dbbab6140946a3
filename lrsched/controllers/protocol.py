"""Minimal stand-in of the controller protocol (docs/CONTROLLER_PROTOCOL); helper G's module replaces it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, ClassVar

from lrsched._core.config import register_config_builder

__all__ = ["SIGNALS", "Controller", "register_controller"]

SIGNALS: tuple[str, ...] = ("loss", "grad_norm", "param_norm", "grad_dot_prev_direction", "prev_direction_norm")


class Controller:
    """Base of controllers: ``init(lr=None, *, like=None)``, ``update(state, signals)``, ``lr(state)``, config."""

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


def register_controller(name: str) -> Callable[[type], type]:
    """Class decorator: ``lrsched.from_config({"name": name, ...})`` rebuilds the controller."""

    def deco(cls: type) -> type:
        cls.name = name  # type: ignore[attr-defined]
        register_config_builder(name, cls.from_config)  # type: ignore[attr-defined]
        return cls

    return deco
