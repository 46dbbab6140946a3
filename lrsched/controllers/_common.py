"""What the single-LR controllers (hypergradient, ABEL, gap-aware, LRTuner) share on top of the protocol.

Each is a frozen dataclass inheriting :class:`PureController` and :class:`lrsched.controllers.Controller`; it
implements ``_initial(lr) -> State`` (Python numbers) and ``_step(state, signals, xp) -> State`` written once
against the array namespace ``xp`` (no Python ``if`` on values). The protocol's ``update`` reads the declared
signals and picks ``xp``; this mixin adds ``init`` (the initial-LR check for numbers, ``like=`` casting).
"""

from __future__ import annotations

import math
import numbers
from typing import Any, ClassVar

from lrsched._core.backend import Namespace, namespace_for
from lrsched._core.validate import choice, integer, real_in

__all__ = ["PureController", "check_real", "check_optional_real", "check_int", "check_choice"]


def check_real(owner: str, field: str, value: Any, **bounds: Any) -> float:
    return real_in(owner, field, value, **bounds)


def check_optional_real(owner: str, field: str, value: Any, **bounds: Any) -> float | None:
    return None if value is None else real_in(owner, field, value, **bounds)


def check_int(owner: str, field: str, value: Any, low: int) -> int:
    return integer(owner, field, value, low)


check_choice = choice


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
        """The state before the first update; ``like`` (NumPy/JAX array or torch tensor) sets backend and dtype.

        A number ``lr`` is range-checked; a scalar array (e.g. a traced starting LR under ``jax.vmap``, one run
        per starting LR) is taken as is, since its value cannot be read while tracing; without ``like`` the state
        then takes that array's backend and dtype.
        """
        lr = getattr(self, "init_lr", None) if lr is None else lr
        if lr is None:
            raise ValueError(f"{self._owner}: no initial LR: pass init_lr= or lr= to init()")
        if isinstance(lr, numbers.Number) or not hasattr(lr, "shape"):  # a number (NumPy scalars too): checked
            lr = check_real(self._owner, "lr", lr, low=0.0)
            self._check_lr(lr)
        elif tuple(lr.shape) != ():  # an array (NumPy, JAX, torch), maybe traced: passed through unchecked
            raise ValueError(f"{self._owner}: lr must be a scalar, got an array of shape {tuple(lr.shape)}")
        else:
            like = lr if like is None else like  # a state of lr's backend, not Python numbers around an array
        state = self._initial(lr)
        return state if like is None else self._cast(state, like)

    def _cast(self, state: Any, like: Any) -> Any:
        xp = namespace_for(like)
        return type(state)(*(xp.asarray(v, like, integer=n in self._int_fields) for n, v in zip(state._fields, state)))

    def rule(self, state: Any, signals: dict[str, Any], xp: Namespace) -> Any:
        """The protocol's rule (:class:`lrsched.controllers.Controller` reads the signals and picks ``xp``)."""
        return self._step(state, signals, xp)


def finite_or(value: Any, fallback: Any, xp: Namespace) -> Any:
    """``value`` where finite, else ``fallback`` (NaN/inf signals change nothing)."""
    finite = (value - value) == 0
    return xp.where(finite, value, fallback), finite


LOG = math.log
