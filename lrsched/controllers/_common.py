"""What helper K's controllers share: reading signals, backend choice, state casting, validation, configs.

Each controller is a frozen dataclass that inherits :class:`PureController` and implements
``_initial(lr) -> State`` (Python numbers) and ``_step(state, signals, xp) -> State`` written once against the
array namespace ``xp`` (no Python ``if`` on values). This mixin turns those into the protocol's ``init``/``update``.
"""

from __future__ import annotations

import dataclasses
import math
import sys
from collections.abc import Mapping
from typing import Any, ClassVar

from lrsched._core.backend import PYTHON, Namespace, namespace_for
from lrsched._core.validate import is_number, number, shown

__all__ = ["PureController", "check_real", "check_optional_real", "check_int", "check_choice"]


def check_real(
    owner: str,
    field: str,
    value: Any,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """A finite real in the given range; the message names field, value and range."""
    value = float(number(owner, field, value))
    lo_ok = low is None or (value > low if low_open else value >= low)
    hi_ok = high is None or (value < high if high_open else value <= high)
    if not (lo_ok and hi_ok):
        left = "(-inf" if low is None else ("(" if low_open else "[") + repr(low)
        right = "inf)" if high is None else repr(high) + (")" if high_open else "]")
        raise ValueError(f"{owner}: {field} must be in {left}, {right}, got {value!r}")
    return value


def check_optional_real(owner: str, field: str, value: Any, **bounds: Any) -> float | None:
    return None if value is None else check_real(owner, field, value, **bounds)


def check_int(owner: str, field: str, value: Any, low: int) -> int:
    if not is_number(value) or int(value) != value or isinstance(value, float):
        raise TypeError(f"{owner}: {field} must be an integer, got {shown(value)}")
    if value < low:
        raise ValueError(f"{owner}: {field} must be >= {low}, got {value!r}")
    return int(value)


def check_choice(owner: str, field: str, value: Any, choices: tuple[str, ...]) -> str:
    if value not in choices:
        raise ValueError(f"{owner}: {field} must be one of {', '.join(map(repr, choices))}, got {shown(value)}")
    return str(value)


def _backend_of(values: tuple[Any, ...]) -> Namespace:
    """The namespace of the first array among ``values`` (Python numbers: :data:`PYTHON`)."""
    for v in values:
        if type(v) is not float and type(v) is not int and type(v) is not bool:
            return namespace_for(v)
    return PYTHON


class PureController:
    """Mixin: protocol ``init``/``update``/``lr``/``to_config``/``from_config`` from ``_initial``/``_step``."""

    _owner: ClassVar[str]
    _int_fields: ClassVar[frozenset[str]] = frozenset({"step"})
    name: ClassVar[str]
    signals: ClassVar[tuple[str, ...]]

    # -- hooks ---------------------------------------------------------------
    def _initial(self, lr: float) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _step(self, state: Any, s: dict[str, Any], xp: Namespace) -> Any:  # pragma: no cover - abstract
        raise NotImplementedError

    def _check_lr(self, lr: float) -> None:
        """Refuse an initial LR outside the controller's bounds (override where there are bounds)."""

    # -- protocol ------------------------------------------------------------
    def init(self, lr: Any = None, *, like: Any = None) -> Any:
        """The state before the first update; ``like`` (NumPy/JAX array or torch tensor) sets backend and dtype."""
        lr = getattr(self, "init_lr", None) if lr is None else lr
        if lr is None:
            raise ValueError(f"{self._owner}: no initial LR: pass init_lr= or lr= to init()")
        lr = check_real(self._owner, "lr", lr, low=0.0)
        self._check_lr(lr)
        state = self._initial(lr)
        return state if like is None else self._cast(state, like)

    def _cast(self, state: Any, like: Any) -> Any:
        xp = namespace_for(like)
        if xp.name == "torch":
            torch = sys.modules["torch"]

            def leaf(name: str, v: Any) -> Any:
                dtype = torch.int32 if name in self._int_fields else like.dtype
                return torch.as_tensor(v, dtype=dtype, device=like.device)

        else:
            mod = sys.modules["jax.numpy"] if xp.name == "jax" else sys.modules["numpy"]

            def leaf(name: str, v: Any) -> Any:
                return mod.asarray(v, dtype=mod.int32 if name in self._int_fields else like.dtype)

        return type(state)(*(leaf(n, v) for n, v in zip(state._fields, state)))

    def read_signals(self, signals: Any) -> dict[str, Any]:
        """``signals`` (a number: the loss; or a mapping) as a dict of the declared names."""
        if not isinstance(signals, Mapping):
            signals = {"loss": signals}
        missing = [n for n in self.signals if n not in signals]
        if missing:
            raise KeyError(
                f"{self._owner}.update: missing signal(s) {', '.join(map(repr, missing))}; it declares {self.signals}"
            )
        return {n: signals[n] for n in self.signals}

    def update(self, state: Any, signals: Any) -> Any:
        """The state after one optimizer update's ``signals`` (see the class docstring for the rule)."""
        s = self.read_signals(signals)
        python_state = type(state.lr) is float
        for k, v in s.items():  # numbers (also NumPy float64) and, with a Python state, NumPy 0-d arrays: floats
            if type(v) is float:
                continue
            if isinstance(v, (int, float)) and not isinstance(v, bool):
                s[k] = float(v)
            elif python_state and getattr(v, "ndim", None) == 0 and namespace_for(v).name == "numpy":
                s[k] = float(v)
        xp = _backend_of((*state, *s.values()))
        return self._step(state, s, xp)

    def lr(self, state: Any) -> Any:
        return state.lr

    # -- config ----------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        config: dict[str, Any] = {"name": self.name}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            config[f.name] = list(value) if isinstance(value, tuple) else value
        return config

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> Any:
        fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(str(k) for k in config if k != "name" and k not in fields)
        if unknown:
            raise ValueError(f"config: unknown key(s) {', '.join(map(repr, unknown))} for {cls.name!r}")
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k != "name"}
        return cls(**kwargs)


def finite_or(value: Any, fallback: Any, xp: Namespace) -> Any:
    """``value`` where finite, else ``fallback`` (NaN/inf signals change nothing)."""
    finite = (value - value) == 0
    return xp.where(finite, value, fallback), finite


LOG = math.log
