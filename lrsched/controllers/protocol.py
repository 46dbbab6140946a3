"""The controller protocol: signals, the ``Controller`` base class and the config registry.

A controller is a frozen dataclass value (hashable, picklable, ``==``, a repr like the call) with a pure
``init``/``update``: ``state = c.init(lr)``, ``state = c.update(state, signals)``, the LR for the next update is
``c.lr(state)``. ``State`` is a NamedTuple of numbers (a JAX pytree) with at least the fields ``lr`` and ``step``.
The rule is written once against an array namespace ``xp`` (:mod:`lrsched._core.backend`) with no Python ``if``
on values, so it runs on Python numbers, NumPy, JAX (``jit``/``vmap``/``scan``) and torch tensors (on their
device), and :func:`lrsched.control` compiles it into straight-line Python for the stateful closure.

Example (a test-sized controller; see :mod:`lrsched.greedy` for a real one):
    >>> import dataclasses
    >>> from typing import NamedTuple
    >>> class S(NamedTuple):
    ...     lr: float
    ...     step: int
    >>> @dataclasses.dataclass(frozen=True)
    ... class Halve(Controller):
    ...     name = "halve_doc"
    ...     def init(self, lr=None, *, like=None):
    ...         return S(1.0 if lr is None else lr, 0)
    ...     def rule(self, state, signals, xp):
    ...         worse = signals["loss"] > 1.0
    ...         return S(xp.where(worse, state.lr * 0.5, state.lr), state.step + 1)
    >>> c = Halve()
    >>> c.lr(c.update(c.init(0.1), 2.0))
    0.05
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from typing import Any, ClassVar

from lrsched._core.backend import PYTHON, Namespace, namespace_for
from lrsched._core.config import register_config_builder
from lrsched.controllers.knobs import check_knobs

__all__ = ["SIGNALS", "Controller", "apply", "register_controller", "registry", "select", "signal_values"]


class _Signals(dict[str, str]):
    """The signals a controller may declare (name -> meaning); measured at ``theta_t`` before update ``t``."""


SIGNALS: Mapping[str, str] = _Signals(
    loss="the monitored value f(theta_t): a loss, or a metric with mode='max' where the controller supports it",
    grad_norm="||g_t||_2 over all parameters, g_t the gradient at theta_t",
    param_norm="||theta_t||_2 over all parameters",
    grad_dot_prev_direction=(
        "g_t . d_{t-1}, d_{t-1} = (theta_t - theta_{t-1}) / lr_{t-1} the previous parameter change per unit LR "
        "(0 at t = 0; SGD: d = -g, Adam: d = -m_hat / (sqrt(v_hat) + eps)); the hypergradient "
        "d f(theta_t) / d lr_{t-1} of Baydin et al."
    ),
    prev_direction_norm="||d_{t-1}||_2 (0 at t = 0)",
)


def signal_values(owner: str, declared: tuple[str, ...], signals: Any) -> dict[str, Any]:
    """``signals`` (a number meaning the loss, or a mapping) as a dict holding every declared signal."""
    if not isinstance(signals, Mapping):
        if declared != ("loss",):
            raise TypeError(f"{owner}: pass a mapping with the signals {', '.join(declared)}, got {signals!r}")
        return {"loss": signals}
    missing = [name for name in declared if name not in signals]
    if missing:
        raise KeyError(f"{owner}: the signals {', '.join(map(repr, missing))} are missing (got {sorted(signals)})")
    return {name: signals[name] for name in declared}


class Controller:
    """Base class of controllers (subclasses are frozen dataclasses).

    Subclasses set ``name`` (registered with ``register_controller``), ``signals`` (the signal names their
    rule reads, see :data:`SIGNALS`), implement ``init(lr=None, *, like=None)`` and either ``rule(state,
    signals, xp)`` (preferred: written once against ``xp``; the base ``update`` finds ``xp`` and the stateful
    closure compiles it) or ``update(state, signals)`` directly.
    ``vector_fields`` names state fields holding a fixed-length vector (e.g. a ring buffer): one leaf for the
    scalar compiler, selected with ``xp.where_vector``.
    """

    name: ClassVar[str] = "controller"
    signals: ClassVar[tuple[str, ...]] = ("loss",)
    vector_fields: ClassVar[frozenset[str]] = frozenset()

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        """Refuse an unknown keyword with lrsched's name for it (``window_size=`` -> ``window=``)."""
        if kwargs and dataclasses.is_dataclass(cls):
            check_knobs(cls.__name__, cls, kwargs)
        return super().__new__(cls)

    def init(self, lr: Any = None, *, like: Any = None) -> Any:
        raise NotImplementedError

    def rule(self, state: Any, signals: dict[str, Any], xp: Namespace) -> Any:
        """The new state from ``state`` and the declared ``signals``, with ``xp``'s operations only."""
        raise NotImplementedError

    def update(self, state: Any, signals: Any) -> Any:
        """The state after one update's ``signals`` (a number is the loss).

        A state of Python numbers reads concrete scalar signals (NumPy scalars, torch tensors) as floats; a
        state of arrays (``init(like=...)``) is updated with its backend's operations, on its device.
        """
        values = signal_values(type(self).__name__, self.signals, signals)
        xp: Namespace = PYTHON
        for value in values.values():
            if type(value) is not float and type(value) is not int:
                xp = namespace_for(value)
                break
        if type(state.step) is int:  # a state of Python numbers
            scalar = all(getattr(v, "ndim", 0) == 0 for v in values.values())
            if xp is PYTHON or (xp.reads_as_float and scalar):
                values, xp = {k: float(v) for k, v in values.items()}, PYTHON
        elif xp is PYTHON:
            xp = namespace_for(state.step)
        return self.rule(state, values, xp)

    def lr(self, state: Any) -> Any:
        """The LR for the next update (default: ``state.lr``)."""
        return state.lr

    def select(self, cond: Any, a: Any, b: Any, xp: Namespace) -> Any:
        """Field by field ``a if cond else b`` of two states (per-group tuples elementwise)."""
        return select(cond, a, b, xp, self.vector_fields)

    def to_config(self) -> dict[str, Any]:
        """``{"name": ..., fields...}`` (tuples as lists); :func:`lrsched.from_config` rebuilds an equal value."""
        config: dict[str, Any] = {"name": self.name}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            config[f.name] = list(value) if isinstance(value, tuple) else value
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any]) -> Any:
        fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        unknown = sorted(str(k) for k in config if k != "name" and k not in fields)
        if unknown:
            raise ValueError(f"config: unknown key(s) {', '.join(map(repr, unknown))} for {cls.name!r}")
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in config.items() if k != "name"})


def select(cond: Any, a: Any, b: Any, xp: Namespace, vector_fields: frozenset[str] = frozenset()) -> Any:
    """Field by field ``a if cond else b`` of two NamedTuple states; tuples and ``vector_fields`` as a whole."""
    if cond is True or cond is False:
        return a if cond else b
    return type(a)._make(
        xp.where_vector(cond, x, y) if (name in vector_fields or isinstance(y, tuple)) else xp.where(cond, x, y)
        for name, x, y in zip(a._fields, a, b)
    )


def apply(fn: Callable[[Any], Any], x: Any) -> Any:
    """``fn(x)``; the scalar compiler records it as a call when ``x`` is symbolic (e.g. a schedule of ``step``)."""
    hook = getattr(type(x), "lrsched_apply", None)
    return fn(x) if hook is None else hook(x, fn)


_CONTROLLERS: dict[str, type] = {}


def registry() -> dict[str, type]:
    """Every registered controller class by config name (a copy): what tests sweep, so a new one is covered."""
    return dict(_CONTROLLERS)


def register_controller(name: str) -> Callable[[type], type]:
    """Class decorator: set ``cls.name`` and let :func:`lrsched.from_config` rebuild ``{"name": name, ...}``."""

    def register(cls: type) -> type:
        cls.name = name  # type: ignore[attr-defined]
        _CONTROLLERS[name] = cls
        register_config_builder(name, cls.from_config)  # type: ignore[attr-defined]
        return cls

    return register
