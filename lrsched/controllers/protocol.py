"""The controller protocol: the signals, the ``Controller`` base class that owns the shared rules, and the registry.

A controller is a frozen dataclass value (hashable, picklable, ``==``, a repr like the call, keyword-only settings)
with a pure ``init``/``update``: ``state = c.init(lr)``, ``state = c.update(state, signals)``, the LR for the next
update is ``c.lr(state)``. A state is a NamedTuple of numbers (a JAX pytree) with at least the fields ``lr`` and
``step`` (``step`` counts optimizer updates).

**Writing one** takes fields, an initial state and a rule -- nothing else. The base class owns the rest, once for
every controller: ``init(lr=None, *, like=None)`` (the initial LR from ``lr`` or the ``init_lr`` field,
range-checked when it is a number, passed through when it is a traced scalar, cast to ``like``'s backend),
``update`` (reads the declared signals, picks the backend, decides in the state's dtype), ``cast``, ``to_config`` /
``from_config`` (strict JSON, nested schedules and controllers included), keyword checks naming lrsched's
equivalent of torch/transformers names, and refusing positional settings. The rule is written once against an array
namespace ``xp`` (:mod:`lrsched._core.backend`) with no Python ``if`` on values, so it runs on Python numbers, NumPy,
JAX (``jit``/``vmap``/``scan``) and torch tensors (on their device), and :func:`lrsched.control` compiles it into
straight-line Python for the stateful closure.

Example (a complete controller: halve the LR whenever the loss exceeds 1):
    >>> from lrsched import Controller
    >>> from lrsched.controllers.protocol import register_controller
    >>> import dataclasses
    >>> from typing import NamedTuple
    >>> class HalveState(NamedTuple):
    ...     lr: float
    ...     step: int
    >>> @register_controller("halve_doc")
    ... @dataclasses.dataclass(frozen=True, kw_only=True)
    ... class Halve(Controller):
    ...     init_lr: float | None = None
    ...     def initial_state(self, lr):
    ...         return HalveState(lr, 0)
    ...     def rule(self, state, signals, xp):
    ...         worse = signals["loss"] > 1.0
    ...         return HalveState(xp.where(worse, state.lr * 0.5, state.lr), state.step + 1)
    >>> c = Halve(init_lr=0.1)
    >>> c.lr(c.update(c.init(), 2.0))
    0.05
"""

from __future__ import annotations

import dataclasses
import numbers
from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any, ClassVar, Generic, TypeVar, Union

from lrsched._core.backend import PYTHON, Array, Namespace, namespace_for
from lrsched._core.config import build, check_keys, register_config_builder, required_fields
from lrsched._core.validate import MAX_GROUPS, number, shown
from lrsched.controllers.knobs import check_knobs
from lrsched.controllers.ops import apply, select
from lrsched.controllers.state import cast_state

if TYPE_CHECKING:
    import numpy as np

__all__ = [
    "SIGNALS",
    "Controller",
    "LR",
    "Signals",
    "TIMINGS",
    "apply",
    "register_controller",
    "registry",
    "select",
    "signal_values",
]

#: A controller's state: a NamedTuple with at least the fields ``lr`` and ``step`` (see the module docstring).
S = TypeVar("S")

#: An LR: a number, a scalar array (NumPy, JAX -- maybe traced --, torch), or a tuple of them, one per param group.
LR = Union[float, "np.ndarray", tuple[Any, ...], Any]
#: An update's signals: the loss (a number or scalar array), or a mapping from signal names to values.
Signals = float | Mapping[str, Any] | Any


class _Signals(dict[str, str]):
    """The signals a controller may declare (name -> meaning); measured at ``theta_t`` before update ``t``."""


SIGNALS: Mapping[str, str] = _Signals(
    loss="the monitored value f(theta_t): a loss, or a metric with mode='max' where the controller supports it",
    grad_norm=(
        "||g_t||_2 over all parameters, g_t the gradient the optimizer applies at theta_t (the torch adapter adds "
        "an SGD's or Adam's coupled weight decay)"
    ),
    param_norm="||theta_t||_2 over all parameters",
    grad_dot_prev_direction=(
        "g_t . d_{t-1}, d_{t-1} = (theta_t - theta_{t-1}) / lr_{t-1} the previous parameter change per unit LR "
        "(0 at t = 0; SGD: d = -g, Adam: d = -m_hat / (sqrt(v_hat) + eps); the optimizer's own direction when "
        "lr_{t-1} = 0); the hypergradient "
        "d f(theta_t) / d lr_{t-1} of Baydin et al."
    ),
    prev_direction_norm="||d_{t-1}||_2 (0 at t = 0)",
)


class _Timings(dict[str, str]):
    """When an update's signals take effect (name -> meaning): the adapters' ``timing=`` (Optax
    ``scale_by_controller`` / ``controlled``, torch ``ControllerScheduler``), one definition for both."""


TIMINGS: Mapping[str, str] = _Timings(
    {
        "next": (
            "the default: update t applies the LR decided from the signals of the updates before it, and its own "
            "signals decide the LR from update t + 1 on (torch's scheduler.step(loss) after optimizer.step())"
        ),
        "paper": (
            "the order of Baydin et al.'s algorithms: the controller observes update t's signals first and update t "
            "applies the LR it then holds, controller.lr(controller.update(state, signals_t)) (for on_schedule: "
            "base(t) * g_{t+1}, the base on update t's clock); the signals, the loss included, must be known before "
            "the update is applied"
        ),
    }
)


def signal_values(owner: str, declared: tuple[str, ...], signals: Signals) -> dict[str, Any]:
    """``signals`` (a number meaning the loss, or a mapping) as a dict holding every declared signal.

    A controller that declares no signal (its rule reads none) takes anything a loop passes and reads nothing."""
    if not declared:
        return {}
    if not isinstance(signals, Mapping):
        if declared != ("loss",):
            raise TypeError(f"{owner}: pass a mapping with the signals {', '.join(declared)}, got {shown(signals)}")
        return {"loss": signals}
    missing = [name for name in declared if name not in signals]
    if missing:
        raise KeyError(f"{owner}: the signals {', '.join(map(repr, missing))} are missing (got {sorted(signals)})")
    return {name: signals[name] for name in declared}


def _is_array(value: Any) -> bool:
    """A NumPy/JAX/torch array or tracer (not a Python or NumPy scalar number)."""
    return not isinstance(value, numbers.Number) and hasattr(value, "shape")


class Controller(Generic[S]):
    """Base class of controllers; subclasses are frozen dataclasses (``kw_only=True``) declaring ``S``, their state.

    A subclass supplies:

    * its settings as dataclass fields (validated in ``__post_init__`` with ``lrsched._core.validate``, then
      ``super().__post_init__()``), among them ``init_lr`` (``None``: the LR is given to ``init`` or by an adapter);
    * ``initial_state(lr) -> S``: the state before the first update, in Python numbers (``int`` leaves are counters);
    * ``rule(state, signals, xp) -> S``: one update, written against ``xp``;
    * optionally ``lr_bounds(group)`` (the valid initial LRs), ``signals`` (the signal names its rule reads, see
      :data:`SIGNALS`; default the loss), ``vector_fields`` (state fields holding one fixed-length vector),
      ``needs`` (capabilities beyond signals an adapter must provide, e.g. ``"lookahead"``), ``lr(state)``.

    Declared members that adapters read directly: ``init_lr``, ``groups`` (0: one LR; ``n``: per-group LRs),
    ``signals``, ``signal_interval``, ``needs``, ``per_group`` (whether the state may hold one LR per parameter group).
    """

    name: ClassVar[str] = "controller"
    signals: ClassVar[tuple[str, ...]] = ("loss",)
    vector_fields: ClassVar[frozenset[str]] = frozenset()
    #: Capabilities beyond signals that a driver must provide (``"lookahead"``: runs training steps to compare LRs).
    needs: ClassVar[frozenset[str]] = frozenset()
    #: Whether the state may hold one LR per parameter group (a tuple ``init_lr``).
    per_group: ClassVar[bool] = False
    #: Whether an initial LR must be > 0 (not only >= 0), e.g. a rule that takes ``log(lr)``.
    positive_lr: ClassVar[bool] = False
    #: The initial LR (a number; a tuple per parameter group where ``per_group``), or ``None``: given to ``init``.
    init_lr: Any = None

    @property
    def signal_interval(self) -> int:
        """The rule reads its measured signals only at updates whose ``state.step`` (before the update) satisfies
        ``(step + 1) % signal_interval == 0``, the last update of each interval (default 1: every update). On the
        other updates an adapter may skip measuring them and pass NaN: the rule's result does not depend on them
        there (ABEL: its ``interval``)."""
        return 1

    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        """Refuse settings given by position and unknown keywords (with lrsched's name for torch's)."""
        if dataclasses.is_dataclass(cls):
            positional = [f.name for f in dataclasses.fields(cls) if not f.kw_only]
            if len(args) > len(positional):
                raise TypeError(
                    f"{cls.__name__}: settings are keyword-only (e.g. {cls.__name__}(init_lr=0.1)), got "
                    f"{len(args)} positional argument(s)"
                )
            if kwargs:
                check_knobs(cls.__name__, cls, kwargs)
        return super().__new__(cls)

    def __post_init__(self) -> None:
        """Check ``init_lr`` against ``lr_bounds`` (subclasses validate their own fields first, then call this)."""
        if self.init_lr is not None:
            object.__setattr__(self, "init_lr", self._start_lr(self.init_lr, "init_lr"))

    # -- hooks -----------------------------------------------------------------------------------------------------
    def initial_state(self, lr: Any) -> S:
        """The state before the first update, in Python numbers (``lr`` may be a scalar array)."""
        raise NotImplementedError(f"{type(self).__name__} must define initial_state(lr)")

    def rule(self, state: S, signals: dict[str, Any], xp: Namespace) -> S:
        """The new state from ``state`` and the declared ``signals``, with ``xp``'s operations only."""
        raise NotImplementedError(f"{type(self).__name__} must define rule(state, signals, xp)")

    def lr_bounds(self, group: int) -> tuple[float, float | None]:
        """``(low, high)``: the valid initial LRs of parameter group ``group`` (``high=None``: no bound)."""
        return 0.0, None

    def upgrade_state_dict(self, data: dict[str, Any]) -> dict[str, Any]:
        """A ``state_dict`` written by an earlier version, in this version's terms (default: unchanged)."""
        return data

    # -- derived -----------------------------------------------------------------------------------------------------
    @property
    def groups(self) -> int:
        """The number of parameter groups the settings hold per-group values for (0: one LR for all)."""
        return len(self.init_lr) if isinstance(self.init_lr, tuple) else 0

    @property
    def monitor_mode(self) -> str:
        """``"min"`` when lower monitored values are better (a loss), ``"max"`` for a metric to maximise."""
        return "min"

    @property
    def owner(self) -> str:
        """The name messages start with (the class name)."""
        return type(self).__name__

    def _one_lr(self, value: Any, field: str, group: int) -> Any:
        if _is_array(value):  # an array (a batch of runs), maybe traced: its values cannot be read here
            return value
        low, high = self.lr_bounds(group)
        value = float(number(self.owner, field, value))
        low_open = self.positive_lr and low == 0.0
        if not ((value > low if low_open else value >= low) and (high is None or value <= high)):
            bounds = f"{'(' if low_open else '['}{low!r}, {'inf)' if high is None else repr(high) + ']'}"
            raise ValueError(f"{self.owner}: {field} must lie in the controller's LR bounds {bounds}, got {value!r}")
        return value

    def _start_lr(self, lr: Any, field: str) -> Any:
        """``lr`` checked: a number in ``lr_bounds``, a scalar array, or (``per_group``) one value per group."""
        if isinstance(lr, (list, tuple)):
            if not self.per_group:
                raise ValueError(
                    f"{self.owner}: {field} must be one LR ({self.owner} steers one LR for all parameter groups), "
                    f"got {len(lr)} values"
                )
            if not lr or len(lr) > MAX_GROUPS:
                raise ValueError(
                    f"{self.owner}: {field} must hold one value per parameter group (1 to MAX_GROUPS = {MAX_GROUPS}), "
                    f"got {len(lr)}"
                )
            if self.groups and len(lr) != self.groups:
                raise ValueError(f"{self.owner}: {field} must have {self.groups} per-group values, got {len(lr)}")
            return tuple(self._one_lr(v, f"{field}[{i}]", i) for i, v in enumerate(lr))
        if self.groups and field != "init_lr":  # one number for every group (``init_lr`` keeps it as given)
            return tuple(self._one_lr(lr, f"{field}[{i}]", i) for i in range(self.groups))
        return self._one_lr(lr, field, 0)

    # -- the pure controller ---------------------------------------------------------------------------------------
    def init(self, lr: LR | None = None, *, like: Any = None) -> S:
        """The state before the first update.

        ``lr`` overrides ``init_lr``: a number (range-checked against ``lr_bounds``), a tuple (one per parameter
        group, where the controller has them), or an array -- a traced starting LR under ``jax.vmap`` (one run
        per starting LR), or a NumPy array whose leading axis runs over controllers -- passed through unchecked
        (its values cannot be read while tracing); without
        ``like`` the state then takes that array's backend and dtype. ``like`` (a NumPy/JAX array or torch
        tensor) makes every leaf an array of its backend and device: values in its dtype, counters int32.
        """
        lr = self.init_lr if lr is None else lr
        if lr is None:
            raise ValueError(f"{self.owner}: no initial LR: pass init_lr= to {self.owner} or lr= to init()")
        lr = self._start_lr(lr, "lr")
        if like is None and _is_array(lr):
            like = lr
        state = self.initial_state(lr)
        return state if like is None else self.cast(state, like)

    def cast(self, state: S, like: Any) -> S:
        """``state`` as arrays of ``like``'s backend, dtype and device (``controllers.state.cast_state``)."""
        return cast_state(state, like, self.vector_fields, f"{self.owner}.init")

    def update(self, state: S, signals: Signals) -> S:
        """The state after one update's ``signals`` (a number is the loss).

        A state of Python numbers reads concrete scalar signals (NumPy scalars, torch tensors) as floats; a state of
        arrays (``init(like=...)``) is updated with its backend's operations, on its device, in its dtype.
        """
        st: Any = state
        values = signal_values(self.owner, self.signals, signals)
        xp: Namespace = PYTHON
        for value in values.values():
            if type(value) is not float and type(value) is not int:
                xp = namespace_for(value)
                break
        if type(st.step) is int:  # a state of Python numbers
            scalar = all(getattr(v, "ndim", 0) == 0 for v in values.values())
            if xp is PYTHON or (xp.reads_as_float and scalar):
                return self.rule(state, {k: float(v) for k, v in values.items()}, PYTHON)
        else:
            xp = namespace_for(st.step)
        lr = st.lr[0] if isinstance(st.lr, tuple) else st.lr
        if hasattr(lr, "dtype"):
            xp = xp.in_dtype_of(lr)  # type: ignore[attr-defined]
        return self.rule(state, values, xp)

    def lr(self, state: S) -> LR:
        """The LR for the next update (default: ``state.lr``)."""
        return state.lr  # type: ignore[attr-defined]

    def select(self, cond: Array, a: S, b: S, xp: Namespace) -> S:
        """Field by field ``a if cond else b`` of two states (per-group tuples elementwise)."""
        return select(cond, a, b, xp, self.vector_fields)

    # -- config ----------------------------------------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """``{"name": ..., fields...}`` as strict JSON data; :func:`lrsched.from_config` rebuilds an equal value."""
        config: dict[str, Any] = {"name": self.name}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            config[f.name] = _config_value(getattr(self, f.name))
        return config

    @classmethod
    def from_config(cls, config: dict[str, Any], where: str = "config", depth: int = 0) -> Controller[Any]:
        """The controller of ``config`` (unknown and missing keys refused; nested configs built at ``depth + 1``)."""
        if not isinstance(config, Mapping):
            raise TypeError(f"{where}: a config must be a dict, got {type(config).__name__}")
        fields = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
        check_keys(where, cls.name, dict(config), fields, required_fields(cls))
        kwargs = {k: _from_config_value(v, f"{where}.{k}", depth) for k, v in config.items() if k != "name"}
        try:
            return cls(**kwargs)
        except (TypeError, ValueError) as err:  # the message names the field; say where in the config it is
            raise type(err)(f"{where}: {err}") from None


def _config_value(value: Any) -> Any:
    if hasattr(value, "to_config"):
        return value.to_config()
    if isinstance(value, tuple):
        return [_config_value(v) for v in value]
    return value


def _from_config_value(value: Any, where: str, depth: int) -> Any:
    """A config value as a setting: a dict is a nested schedule or controller, a list a tuple."""
    if isinstance(value, dict):
        return build(value, where, depth + 1)
    if isinstance(value, list):
        return tuple(_from_config_value(v, f"{where}[{i}]", depth) for i, v in enumerate(value))
    return value


_CONTROLLERS: dict[str, type[Controller[Any]]] = {}


def registry() -> dict[str, type[Controller[Any]]]:
    """Every registered controller class by config name (a copy): what tests sweep, so a new one is covered."""
    return dict(_CONTROLLERS)


C = TypeVar("C", bound=type)


def register_controller(name: str) -> Callable[[C], C]:
    """Class decorator: set ``cls.name`` and let :func:`lrsched.from_config` rebuild ``{"name": name, ...}``."""

    def register(cls: C) -> C:
        cls.name = name  # type: ignore[attr-defined]
        _CONTROLLERS[name] = cls  # type: ignore[assignment]
        register_config_builder(name, cls.from_config)  # type: ignore[attr-defined]
        return cls

    return register
