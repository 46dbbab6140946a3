"""``LearnedLR``: a learning-rate controller whose rule is a tiny neural network trained on past runs.

Each update reads the monitored loss and turns the recent training signal into a handful of
*features*, all computed in log-loss space (so the policy does not depend on the loss's scale),
relative to the initial LR ``lr0`` (so it does not depend on the LR's scale) and in units of the run's
length ``H`` (the budget when known, else ``default_horizon``; so a policy trained on short runs
acts the same way, stretched, on long ones). ``x`` is the log of the loss; ``fast``, ``mid``,
``slow`` are EMAs of ``x`` with rates ``25/H``, ``6.4/H`` and ``1.6/H`` per step (about 4%, 16%
and 60% of the run; 10, 40 and 160 steps when ``H = 256``):

==============  ==========================================================  =======
feature         definition                                                   scale
==============  ==========================================================  =======
``log_lr``      ``log(lr / lr0)`` (the policy's own LR, before the base)        1/3
``slope_fast``  ``fast - mid`` (< 0 while the loss falls)                       3
``slope_slow``  ``mid - slow``                                                  3
``rel_start``   ``mid - x_0`` (progress since the first loss)                 1/3
``rel_best``    ``fast - min_t mid`` (> 0 after the loss rose above its best)   3
``noise``       ``sqrt(EMA_fast of (x - fast)^2)`` (noise in log units)         3
``budget``      ``step / budget``, clipped to 1 (0 when no budget is known)     1
``has_budget``  1 when a budget is known, else 0                                1
``lr_change``   EMA_fast of the applied change of ``log lr`` per step, as a     1
                fraction of the largest allowed change
==============  ==========================================================  =======

The policy is a one-hidden-layer MLP, ``z = b2 + sum_j w2[j] tanh(b1[j] + sum_i w1[j][i] f_i)``
(``f_i`` = feature times its scale), and the LR moves by a bounded factor every update::

    lr_{t+1} = clip(lr_t * exp(max_change * (100 / H) * tanh(z)), lr0 * min_scale, lr0 * max_scale)

(``max_change``: the largest change of ``log lr`` over 1% of the run).

**Budget-aware base.** With a known budget the LR applied at update ``t`` (0-based) is the policy's LR
times a fixed base schedule of ``u = t / H`` (``warmup`` and ``anneal`` are fractions of the run)::

    base(t) = min(1, (t + 1) / (warmup * H)) * clip((1 - u) / anneal, 0, 1)

(a factor is 1 when its fraction is 0): a linear warmup and a linear anneal to 0 over the last
``anneal`` of the run, the shape of a warmup-stable-decay schedule. The final anneal then comes for
free and the policy only has to correct a mis-set LR and react to stalls. Without a known budget the
base is 1. The policy's features see its own LR (``lr / base``), not the applied one.

A non-finite loss leaves the EMAs alone and halves the LR. Losses are taken as positive (values
below 1e-30 count as 1e-30). ``step`` counts updates (one per optimizer step).

The network's weights are fields of the frozen value, so it saves (``to_config``), loads
(``lrsched.from_config``), hashes and pickles like every lrsched value. The update is written once
against the array namespace ``xp`` with explicit sums over constant weights (``tanh`` from ``exp``),
so it runs on Python floats, NumPy, JAX (``jit``/``vmap``/``scan``) and torch tensors alike.
The same rule, with the weights as arrays, is what :mod:`lrsched.learn` meta-trains (evolution
strategies over a distribution of small training tasks; in the spirit of Xu, Dai, Kemp & Metz,
"Learning an Adaptive Learning Rate Schedule", arXiv 1909.09712).

Example:
    >>> import lrsched
    >>> ctrl = lrsched.LearnedLR.default(budget=100)
    >>> s = ctrl.init(lr=0.1)
    >>> for loss in (2.0, 1.8, 1.7):
    ...     s = ctrl.update(s, loss)
    >>> 0.0 < ctrl.lr(s) < 1.0
    True
"""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

from lrsched._core.backend import PYTHON, Namespace, namespace_for
from lrsched._core.validate import is_number, shown
from lrsched.controllers.closure import Control, control
from lrsched.controllers.protocol import Controller, register_controller

__all__ = [
    "FEATURES",
    "FEATURE_SCALES",
    "LearnedLR",
    "LearnedState",
    "learned",
    "policy_step",
    "initial_state",
]

_OWNER = "LearnedLR"
#: Feature name -> the constant it is multiplied by before entering the network.
FEATURE_SCALES: dict[str, float] = {
    "log_lr": 1.0 / 3.0,
    "slope_fast": 3.0,
    "slope_slow": 3.0,
    "rel_start": 1.0 / 3.0,
    "rel_best": 3.0,
    "noise": 3.0,
    "budget": 1.0,
    "has_budget": 1.0,
    "lr_change": 1.0,
}
FEATURES: tuple[str, ...] = tuple(FEATURE_SCALES)
_RATES = (25.0, 6.4, 1.6)  # EMA rates per step, times the horizon H
_TINY = 1e-30
_NONFINITE_FACTOR = 0.5
_FLOAT_FIELDS = ("lr", "lr0", "horizon", "known", "loss0", "fast", "mid", "slow", "var", "best", "dlr", "ctl")


class LearnedState(NamedTuple):
    """The controller's state: numbers (or arrays of one backend; a JAX pytree)."""

    lr: Any  #: the LR for the next update (the policy's LR ``ctl`` times the base schedule)
    step: Any  #: updates so far
    lr0: Any  #: the initial LR (the policy sees ``lr / lr0``)
    horizon: Any  #: the run's length H in updates: the budget, or ``default_horizon`` when unknown
    known: Any  #: 1.0 when the budget is known, else 0.0
    loss0: Any  #: log of the first finite loss
    fast: Any  #: EMA of the log loss, ~10 steps
    mid: Any  #: ~40 steps
    slow: Any  #: ~160 steps
    var: Any  #: EMA of the squared deviation from ``fast``
    best: Any  #: lowest ``mid`` so far
    dlr: Any  #: EMA of the applied change of log lr
    ctl: Any  #: the policy's own LR, before the base schedule


def _tanh(z: Any, xp: Namespace) -> Any:
    """``tanh`` from ``exp`` (every backend has it): ``1 - 2 / (exp(2z) + 1)``, exact limits at +-inf."""
    return 1.0 - 2.0 / (xp.exp(2.0 * xp.minimum(z, 40.0)) + 1.0)


def features_of(state: LearnedState, xp: Namespace) -> dict[str, Any]:
    """Every feature (unscaled) of a state whose EMAs hold the latest loss."""
    frac = xp.minimum(state.step / state.horizon, 1.0)
    return {
        "log_lr": xp.log(state.ctl / state.lr0),
        "slope_fast": state.fast - state.mid,
        "slope_slow": state.mid - state.slow,
        "rel_start": state.mid - state.loss0,
        "rel_best": state.fast - state.best,
        "noise": xp.sqrt(state.var),
        "budget": frac * state.known,
        "has_budget": state.known,
        "lr_change": state.dlr,
    }


def base_factor(step: Any, horizon: Any, known: Any, schedule: tuple[float, float], xp: Namespace) -> Any:
    """The base schedule at update ``step``: ``min(1, (step+1)/(warmup H)) * clip((1 - step/H)/anneal, 0, 1)``.

    ``schedule`` = ``(warmup, anneal)``, fractions of the run (static numbers); 1 where the budget is unknown.
    """
    warmup, anneal = schedule
    factor: Any = 1.0
    if warmup > 0:
        factor = xp.minimum((step + 1.0) / (warmup * horizon), 1.0)
    if anneal > 0:
        factor = factor * xp.minimum(xp.maximum((1.0 - step / horizon) / anneal, 0.0), 1.0)
    if warmup > 0 or anneal > 0:
        factor = xp.where(known > 0.5, factor, 1.0)
    return factor


def mlp(inputs: Sequence[Any], w1: Any, b1: Any, w2: Any, b2: Any, xp: Namespace) -> Any:
    """``b2 + sum_j w2[j] * tanh(b1[j] + sum_i w1[j][i] * inputs[i])`` as explicit sums (any backend)."""
    z = b2
    for j in range(len(b1)):
        h = b1[j]
        row = w1[j]
        for i, f in enumerate(inputs):
            h = h + row[i] * f
        z = z + w2[j] * _tanh(h, xp)
    return z


def policy_step(
    state: LearnedState,
    loss: Any,
    net: tuple[Any, Any, Any, Any],
    features: tuple[str, ...],
    max_change: float,
    log_bounds: tuple[float, float],
    xp: Namespace,
    schedule: tuple[float, float] = (0.0, 0.0),
) -> LearnedState:
    """One update of the learned controller: the single rule, shared by :class:`LearnedLR` and meta-training.

    ``net`` = ``(w1, b1, w2, b2)``: nested sequences of numbers or arrays (traced, when meta-training).
    ``log_bounds``: ``(log min_scale, log max_scale)``. ``schedule``: ``(warmup, anneal)`` of the base.
    """
    finite = xp.isfinite(loss)
    x = xp.log(xp.maximum(xp.where(finite, loss, 1.0), _TINY))
    first = state.step == 0
    new_first = first & finite
    x = xp.where(finite, x, state.fast)  # a non-finite loss leaves the EMAs where they are
    loss0 = xp.where(new_first, x, state.loss0)

    a_fast, a_mid, a_slow = (xp.minimum(r / state.horizon, 1.0) for r in _RATES)

    def ema(a: Any, old: Any, new: Any) -> Any:
        return xp.where(finite, old + a * (new - old), old)

    fast, mid, slow = (
        xp.where(new_first, x, ema(a, old, x))
        for a, old in zip((a_fast, a_mid, a_slow), (state.fast, state.mid, state.slow))
    )
    dev = x - fast
    var = xp.where(new_first, 0.0, ema(a_fast, state.var, dev * dev))
    best = xp.where(new_first, mid, xp.minimum(state.best, mid))
    # ``step`` stays 0 until a finite loss has been seen (the EMAs start from it).
    step = xp.where(xp.where(finite, False, first), state.step, state.step + 1)
    seen = state._replace(step=step, loss0=loss0, fast=fast, mid=mid, slow=slow, var=var, best=best)
    feats = features_of(seen, xp)
    inputs = [feats[name] * FEATURE_SCALES[name] for name in features]
    z = mlp(inputs, *net, xp)
    per_step = max_change * 100.0 / state.horizon
    delta = xp.where(finite, per_step * _tanh(z, xp), math.log(_NONFINITE_FACTOR))
    lo, hi = log_bounds
    log_rel = xp.minimum(xp.maximum(xp.log(state.ctl / state.lr0) + delta, lo), hi)
    ctl = state.lr0 * xp.exp(log_rel)
    applied = xp.log(ctl / state.ctl)
    dlr = state.dlr + a_fast * (applied / per_step - state.dlr)
    lr = ctl * base_factor(step, state.horizon, state.known, schedule, xp)
    return seen._replace(lr=lr, dlr=dlr, ctl=ctl)


def initial_state(lr: Any, horizon: float, known: bool, schedule: tuple[float, float] = (0.0, 0.0)) -> LearnedState:
    """The state before the first loss, in Python numbers (``lr`` may be an array)."""
    k = 1.0 if known else 0.0
    first = lr * base_factor(0, float(horizon), k, schedule, PYTHON) if any(schedule) and known else lr
    return LearnedState(first, 0, lr, float(horizon), k, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0, lr)


def _cast(state: LearnedState, like: Any) -> LearnedState:
    """``state`` with leaves of ``like``'s backend and device (floats in its dtype, ``step`` int32)."""
    xp = namespace_for(like)
    if "float" not in str(getattr(like, "dtype", "")):  # float16/32/64, bfloat16 on every backend
        raise TypeError(f"{_OWNER}.init: like must be an array with a floating dtype, got {shown(like)}")
    return LearnedState(
        *(xp.asarray(v, like, integer=n not in _FLOAT_FIELDS) for n, v in zip(LearnedState._fields, state))
    )


def _floats(field: str, value: Any, shape: tuple[int, ...]) -> Any:
    """``value`` as nested tuples of finite floats of exactly ``shape``."""
    if not shape:
        if not is_number(value):
            raise TypeError(f"{_OWNER}: {field} must hold real numbers, got {shown(value)}")
        v = float(value)
        if not math.isfinite(v):
            raise ValueError(f"{_OWNER}: {field} must hold finite numbers, got {v!r}")
        return v
    if hasattr(value, "tolist"):
        value = value.tolist()
    if not isinstance(value, (list, tuple)) or len(value) != shape[0]:
        got = f"length {len(value)}" if isinstance(value, (list, tuple)) else type(value).__name__
        raise ValueError(f"{_OWNER}: {field} must have shape {shape}, got {got} at this level")
    return tuple(_floats(f"{field}[{i}]", v, shape[1:]) for i, v in enumerate(value))


def _positive(field: str, value: Any, optional: bool = False) -> Any:
    if value is None and optional:
        return None
    if not is_number(value):
        raise TypeError(f"{_OWNER}: {field} must be a positive number, got {shown(value)}")
    if not (0 < value < math.inf):
        raise ValueError(f"{_OWNER}: {field} must be finite and > 0, got {value!r}")
    return value if field in ("budget", "default_horizon") else float(value)


@register_controller("learned")
@dataclasses.dataclass(frozen=True)
class LearnedLR(Controller):
    """A learned LR controller: a tiny MLP on features of the loss signal (see the module docstring).

    Args:
        w1: hidden-layer weights, ``hidden`` rows of ``len(features)`` numbers.
        b1: hidden biases (``hidden`` numbers).
        w2: output weights (``hidden`` numbers).
        b2: output bias.
        features: the input features, names from ``FEATURES`` (order = columns of ``w1``).
        max_change: the largest change of ``log lr`` over 1% of the run (per update: ``max_change * 100 / H``).
        min_scale, max_scale: the LR stays in ``[lr0 * min_scale, lr0 * max_scale]``.
        init_lr: the initial LR ``lr0`` (or pass ``init(lr=...)``).
        budget: the number of updates of the run, if known (the ``budget`` feature); ``None``: unknown.
        default_horizon: the time scale ``H`` (in updates) assumed when no budget is known.
        warmup, anneal: the base schedule's linear warmup and final linear anneal to 0, as fractions of a
            known budget (0: none; ``warmup + anneal <= 1``); see the module docstring.

    Use :meth:`default` for the shipped policy and ``lrsched.learn.train`` to train your own.
    """

    w1: tuple[tuple[float, ...], ...]
    b1: tuple[float, ...]
    w2: tuple[float, ...]
    b2: float
    features: tuple[str, ...] = FEATURES
    max_change: float = 0.1
    min_scale: float = 1e-4
    max_scale: float = 100.0
    init_lr: float | None = None
    budget: int | None = None
    default_horizon: int = 1000
    warmup: float = 0.0
    anneal: float = 0.0

    def __post_init__(self) -> None:
        put = object.__setattr__
        feats = self.features
        if isinstance(feats, str) or not isinstance(feats, (list, tuple)):
            raise TypeError(f"{_OWNER}: features must be a sequence of feature names, got {shown(feats)}")
        unknown = [f for f in feats if f not in FEATURE_SCALES]
        if unknown:
            raise ValueError(
                f"{_OWNER}: unknown feature name(s) {', '.join(map(shown, unknown))}; known: {', '.join(FEATURES)}"
            )
        if len(set(feats)) != len(feats) or not feats:
            raise ValueError(f"{_OWNER}: features must be distinct and non-empty, got {shown(feats)}")
        put(self, "features", tuple(feats))
        b1 = self.b1.tolist() if hasattr(self.b1, "tolist") else self.b1
        if not isinstance(b1, (list, tuple)) or not b1:
            raise ValueError(f"{_OWNER}: b1 must be a non-empty sequence (one bias per hidden unit), got {shown(b1)}")
        hidden = len(b1)
        put(self, "w1", _floats("w1", self.w1, (hidden, len(feats))))
        put(self, "b1", _floats("b1", b1, (hidden,)))
        put(self, "w2", _floats("w2", self.w2, (hidden,)))
        put(self, "b2", _floats("b2", self.b2, ()))
        put(self, "max_change", _positive("max_change", self.max_change))
        put(self, "min_scale", _positive("min_scale", self.min_scale))
        put(self, "max_scale", _positive("max_scale", self.max_scale))
        if not self.min_scale <= 1.0 <= self.max_scale:
            raise ValueError(
                f"{_OWNER}: need min_scale <= 1 <= max_scale, got min_scale={self.min_scale!r}, "
                f"max_scale={self.max_scale!r}"
            )
        put(self, "init_lr", _positive("init_lr", self.init_lr, optional=True))
        if self.budget is not None and (isinstance(self.budget, bool) or not isinstance(self.budget, int)):
            raise TypeError(f"{_OWNER}: budget must be a positive integer or None, got {shown(self.budget)}")
        put(self, "budget", _positive("budget", self.budget, optional=True))
        if isinstance(self.default_horizon, bool) or not isinstance(self.default_horizon, int):
            raise TypeError(f"{_OWNER}: default_horizon must be a positive integer, got {shown(self.default_horizon)}")
        put(self, "default_horizon", _positive("default_horizon", self.default_horizon))
        for name in ("warmup", "anneal"):
            value = getattr(self, name)
            if not is_number(value):
                raise TypeError(f"{_OWNER}: {name} must be a fraction of the budget in [0, 1), got {shown(value)}")
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{_OWNER}: {name} must be a fraction of the budget in [0, 1), got {value!r}")
            put(self, name, float(value))
        if self.warmup + self.anneal > 1.0:
            raise ValueError(f"{_OWNER}: need warmup + anneal <= 1, got warmup={self.warmup!r}, anneal={self.anneal!r}")

    # -- construction ------------------------------------------------------------
    @classmethod
    def default(cls, **overrides: Any) -> LearnedLR:
        """The shipped policy (``lrsched/controllers/policies/default.json``), with ``overrides`` applied."""
        from importlib import resources

        text = resources.files("lrsched.controllers").joinpath("policies/default.json").read_text(encoding="utf-8")
        policy = cls.from_config(json.loads(text)["config"])
        return dataclasses.replace(policy, **overrides) if overrides else policy

    @property
    def hidden(self) -> int:
        return len(self.b1)

    @property
    def net(self) -> tuple[Any, Any, Any, Any]:
        return self.w1, self.b1, self.w2, self.b2

    @property
    def log_bounds(self) -> tuple[float, float]:
        return math.log(self.min_scale), math.log(self.max_scale)

    # -- pure controller ---------------------------------------------------------
    def init(self, lr: Any = None, *, like: Any = None) -> LearnedState:
        """The state before the first loss; ``like`` (or an array ``lr``) sets the leaves' backend and dtype."""
        lr = self.init_lr if lr is None else lr
        if lr is None:
            raise ValueError(f"{_OWNER}: no initial LR: pass init_lr= to LearnedLR or lr= to init()")
        if isinstance(lr, (int, float)) and not isinstance(lr, bool):
            lr = _positive("lr", lr)
        elif like is None:
            like = lr
        state = initial_state(lr, self.budget or self.default_horizon, self.budget is not None, self.schedule)
        return state if like is None else _cast(state, like)

    def rule(self, state: LearnedState, signals: dict[str, Any], xp: Namespace) -> LearnedState:
        """One policy step on the loss (the protocol's ``update`` reads the signal and picks ``xp``)."""
        return policy_step(
            state, signals["loss"], self.net, self.features, self.max_change, self.log_bounds, xp, self.schedule
        )

    @property
    def schedule(self) -> tuple[float, float]:
        """``(warmup, anneal)`` of the base schedule."""
        return self.warmup, self.anneal

    # -- config --------------------------------------------------------------------
    def to_config(self) -> dict[str, Any]:
        """Plain JSON data; :func:`lrsched.from_config` rebuilds an equal value (weights bit for bit)."""
        return {
            "name": "learned",
            "features": list(self.features),
            "w1": [list(r) for r in self.w1],
            "b1": list(self.b1),
            "w2": list(self.w2),
            "b2": self.b2,
            "max_change": self.max_change,
            "min_scale": self.min_scale,
            "max_scale": self.max_scale,
            "init_lr": self.init_lr,
            "budget": self.budget,
            "default_horizon": self.default_horizon,
            "warmup": self.warmup,
            "anneal": self.anneal,
        }

    @classmethod
    def from_config(cls, config: Mapping[str, Any]) -> LearnedLR:
        if not isinstance(config, Mapping):
            raise TypeError(f"{_OWNER}: a config must be a dict, got {type(config).__name__}")
        fields = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(str(k) for k in config if k != "name" and k not in fields)
        if unknown:
            raise ValueError(f"config: unknown key(s) {', '.join(map(repr, unknown))} for 'learned'")
        missing = [k for k in ("w1", "b1", "w2", "b2") if k not in config]
        if missing:
            raise ValueError(f"config: 'learned' is missing required key(s): {', '.join(missing)}")
        return cls(**{k: v for k, v in config.items() if k != "name"})


def learned(policy: LearnedLR | None = None, lr: Any = None, **overrides: Any) -> Control:
    """The shipped learned controller (or ``policy``) as a stateful closure, like :func:`lrsched.greedy`.

    ``overrides`` replace settings, e.g. ``budget=total_steps`` (recommended: the policy anneals toward
    the end of a known budget). Example: ``sched = lrsched.learned(lr=3e-4, budget=10_000)``, then
    ``lr = sched(loss)`` after each step.
    """
    ctrl = LearnedLR.default() if policy is None else policy
    if overrides:
        ctrl = dataclasses.replace(ctrl, **overrides)
    return control(ctrl, lr)
