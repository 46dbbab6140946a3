"""Hostile settings and configs are refused at construction, quickly and clearly, or they work everywhere.

For every controller family (GreedyLR/reduce_on_plateau, Hypergradient, ABEL, GapAware, LRTuner, LearnedLR,
on_schedule/greedy_on) at least 40 hostile settings are built programmatically: wrong types, NaN/inf, negative and
zero values, a 400-digit integer, 2**31 and 2**63, huge windows, unknown and foreign keywords, positional knobs,
per-group tuples of mismatched lengths, 20,000 parameter groups, on_schedule nested 10,000 deep (``from_config``)
and 300 deep (construction). Each case must:

* raise ``ValueError`` or ``TypeError`` at construction / ``from_config``, in under 1 s (a safety bound, not a
  benchmark), with a message under 300 characters that names the offending field -- or, where the setting may
  legitimately be accepted (``must_refuse=False``), construct and then run: ``lrsched.control`` plus 3 updates and
  3 updates under ``jax.jit`` with JAX's default int32/float32 types.

And every foreign-name hint a controller shows (``lrsched._core.hints.PEER_NAMES``) names only keywords
that controller has.
"""

from __future__ import annotations

import dataclasses
import json
import math
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

import lrsched
from lrsched._core.hints import PEER_NAMES

jax = pytest.importorskip("jax")
jnp = pytest.importorskip("jax.numpy")

ROOT = Path(__file__).resolve().parents[1]
HUGE = 10**400  # a 400-digit integer
BASE = lrsched.warmup(lrsched.cosine_decay(1e-3, 90), warmup_steps=10)
WRONG_TYPES = ("0.5", [0.5], {"v": 0.5}, b"1", True)  # for a number (a bool is not one)
NONFINITE = (math.nan, math.inf, -math.inf)


@dataclasses.dataclass(frozen=True)
class Case:
    family: str
    label: str
    make: Callable[[], Any]  # builds the controller (constructor, factory or from_config)
    names: tuple[str, ...]  # the message must contain one of these
    must_refuse: bool = True
    heavy: str | None = None  # Python source building the same controller as ``c``: its run goes to a subprocess


def _show(value: Any) -> str:
    if value is HUGE:
        return "10**400"
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) >= 2**31:
        return f"2**{value.bit_length() - 1}" if value == 2 ** (value.bit_length() - 1) else str(value)
    text = repr(value)
    return text if len(text) <= 30 else text[:27] + "..."


# -- case generators ----------------------------------------------------------------------------------------------
def _field_cases(
    family: str,
    build: Callable[..., Any],
    field: str,
    kind: str,
    out_of_range: tuple = (),
    optional: bool = False,
    also: tuple[str, ...] = (),
) -> list[Case]:
    """Hostile values of one field by its kind ('real', 'int', 'choice', 'bool', 'group' = number or tuple); the
    message names ``field`` (or one of ``also``: a bound may be reported on the value it conflicts with)."""
    refuse: list[Any] = list(out_of_range)
    either: list[Any] = []
    if kind in ("real", "group"):
        refuse += [*(WRONG_TYPES if kind == "real" else ("0.5", {"v": 0.5}, b"1", True, (), ("a",))), *NONFINITE]
        refuse += [HUGE]
        either += [2**31, 2**63]
    elif kind == "int":
        refuse += [*WRONG_TYPES, 1.5, *NONFINITE, "3"]
        either += [2**31, 2**63, HUGE]
    elif kind == "choice":
        refuse += ["", "MIN", 1, ["rel"], True]
    elif kind == "bool":
        refuse += [1, 0, "yes", "False", 1.0]
    if not optional:
        refuse.append(None)
    cases = [
        Case(family, f"{field}={_show(v)}", (lambda v=v: build(**{field: v})), (field, *also), must_refuse=True)
        for v in refuse
    ]
    cases += [
        Case(family, f"{field}={_show(v)}", (lambda v=v: build(**{field: v})), (field, *also), must_refuse=False)
        for v in either
    ]
    return cases


def _config_cases(family: str, config: dict[str, Any], fields: list[str], counters: tuple[str, ...] = ()) -> list[Case]:
    """The same settings through ``lrsched.from_config``: JSON-shaped wrong types, unknown keys. A 400-digit
    integer may work for the integer ``counters`` (as for the constructor), never for another field."""
    cases = []
    for field in fields:
        for v in ("x", [], {}, True, None, HUGE):
            if v is None and config.get(field) is None:
                continue  # None is the field's valid default
            bad = {**config, field: v}
            refuse = v is not HUGE or field not in counters
            label, make = f"config.{field}={_show(v)}", lambda bad=bad: lrsched.from_config(bad)
            cases.append(Case(family, label, make, (field,), must_refuse=refuse))
    bogus = {**config, "bogus_key": 1}
    cases.append(Case(family, "config.bogus_key", lambda: lrsched.from_config(bogus), ("bogus_key",)))
    return cases


def _common_cases(family: str, cls: type, build: Callable[..., Any]) -> list[Case]:
    """Positional knobs, unknown keywords, foreign names."""
    cases = [
        Case(family, "positional(0.5)", lambda: cls(0.5), ("positional", "keyword")),
        Case(family, "positional(0.1, 0.5)", lambda: cls(0.1, 0.5), ("positional", "keyword")),
        Case(family, "bogus=1", lambda: build(bogus=1), ("bogus",)),
    ]
    for foreign in ("window_size", "T_max", "verbose", "lr", "eta_min", "last_epoch"):
        cases.append(Case(family, f"{foreign}=", lambda f=foreign: build(**{f: 1}), (foreign,)))
    return cases


def _greedy() -> list[Case]:
    f, b = "greedy", lambda **k: lrsched.GreedyLR(**{"init_lr": 0.1, **k})
    cases = _common_cases(f, lrsched.GreedyLR, b)
    cases += _field_cases(f, b, "init_lr", "group", (-1.0,), optional=True)
    cases += _field_cases(f, b, "factor", "real", (0.0, 1.0, 1.5, -0.5))
    for field in ("patience", "cooldown", "warmup"):
        cases += _field_cases(f, b, field, "int", (-1,))
    cases += _field_cases(f, b, "threshold", "real", (-0.1, 1.0))
    cases += _field_cases(f, b, "threshold_mode", "choice")
    cases += _field_cases(f, b, "mode", "choice")
    cases += _field_cases(f, b, "nonfinite", "choice")
    cases += _field_cases(f, b, "min_lr", "group", (-1.0, 0.5), also=("init_lr",))  # 0.5 > init_lr
    cases += _field_cases(f, b, "max_lr", "group", (-1.0, 0.05), optional=True, also=("init_lr",))  # 0.05 < init_lr
    cases += _field_cases(f, b, "eps", "real", (-1e-8,))
    cases += _field_cases(f, b, "reset_start", "int", (0, -1), optional=True)
    cases += _field_cases(f, b, "increase", "bool")
    cases += _field_cases(f, b, "track_best_during_wait", "bool")
    for w in (0, -1, 10**9, 2**31, 2**63, HUGE):  # a window of 10**9 slots cannot be held: refused
        cases.append(Case(f, f"window={_show(w)}", lambda w=w: b(window=w), ("window",)))
    cases += [
        Case(f, "window=1.5", lambda: b(window=1.5), ("window",)),
        Case(f, "window=None", lambda: b(window=None), ("window",)),
        Case(f, "groups 2/3", lambda: b(init_lr=(0.1, 0.2), min_lr=(0.0, 0.0, 0.0)), ("init_lr", "min_lr")),
        Case(f, "groups 2/1 max_lr", lambda: b(init_lr=(0.1, 0.2), max_lr=(1.0,)), ("init_lr", "max_lr")),
        Case(f, "groups min>max", lambda: b(init_lr=None, min_lr=(0.1, 0.5), max_lr=(1.0, 0.2)), ("min_lr", "max_lr")),
        Case(f, "groups [None]", lambda: b(init_lr=[0.1, None]), ("init_lr",)),
        Case(
            f,
            "groups 20000",
            lambda: b(init_lr=(0.1,) * 20_000),
            ("init_lr",),
            must_refuse=False,
            heavy="c = lrsched.GreedyLR(init_lr=(0.1,) * 20_000)",
        ),
        Case(f, "reduce_on_plateau(0.5)", lambda: lrsched.reduce_on_plateau(0.5), ("positional", "keyword")),
        Case(f, "reduce_on_plateau(patience=-1)", lambda: lrsched.reduce_on_plateau(patience=-1), ("patience",)),
        Case(f, "reduce_on_plateau(factor=nan)", lambda: lrsched.reduce_on_plateau(factor=math.nan), ("factor",)),
        Case(f, "reduce_on_plateau(window_size=)", lambda: lrsched.reduce_on_plateau(window_size=3), ("window_size",)),
        Case(f, "greedy(patience='3')", lambda: lrsched.greedy(patience="3"), ("patience",)),
    ]
    config = lrsched.GreedyLR(init_lr=0.1).to_config()
    cases += _config_cases(f, config, ["factor", "patience", "window", "mode"], counters=("patience",))
    return cases


def _hypergradient() -> list[Case]:
    f, b = "hypergradient", lambda **k: lrsched.Hypergradient(**{"init_lr": 0.1, **k})
    cases = _common_cases(f, lrsched.Hypergradient, b)
    cases += _field_cases(f, b, "init_lr", "real", (-1.0,), optional=True)
    cases += _field_cases(f, b, "beta", "real", (0.0, -1e-3))
    cases += _field_cases(f, b, "mode", "choice")
    cases += _field_cases(f, b, "min_lr", "real", (-1.0, 0.5), optional=True, also=("init_lr",))  # None: no clip
    cases += _field_cases(f, b, "max_lr", "real", (-1.0, 0.05), optional=True, also=("init_lr",))
    cases += _field_cases(f, b, "eps", "real", (-1.0,))
    cases += [
        Case(f, "multiplicative beta=1", lambda: b(mode="multiplicative", beta=1.0), ("beta",)),
        Case(f, "multiplicative beta=2**31", lambda: b(mode="multiplicative", beta=2**31), ("beta",)),
        Case(f, "min_lr > max_lr", lambda: b(init_lr=None, min_lr=0.5, max_lr=0.1), ("min_lr", "max_lr")),
    ]
    cases += _config_cases(f, lrsched.Hypergradient(init_lr=0.1).to_config(), ["beta", "mode", "min_lr"])
    return cases


def _abel() -> list[Case]:
    f, b = "abel", lambda **k: lrsched.ABEL(**{"init_lr": 0.1, **k})
    cases = _common_cases(f, lrsched.ABEL, b)
    cases += _field_cases(f, b, "init_lr", "real", (-1.0,), optional=True)
    cases += _field_cases(f, b, "factor", "real", (0.0, 1.0, 2.0, -0.1))
    cases += _field_cases(f, b, "interval", "int", (0, -1))
    cases += _field_cases(f, b, "total_steps", "int", (0, -5), optional=True)
    cases += _field_cases(f, b, "final_fraction", "real", (0.0, 1.5, -0.5))
    cases += _field_cases(f, b, "min_lr", "real", (-1.0, 0.5), also=("init_lr",))
    cases += [Case(f, "window_size=5", lambda: b(window_size=5), ("window_size",))]
    config = lrsched.ABEL(init_lr=0.1).to_config()
    cases += _config_cases(f, config, ["factor", "interval", "total_steps"], counters=("interval", "total_steps"))
    return cases


def _gap_aware() -> list[Case]:
    f, b = "gap_aware", lambda **k: lrsched.GapAware(**{"init_lr": 1e-3, **k})
    cases = _common_cases(f, lrsched.GapAware, b)
    cases += _field_cases(f, b, "init_lr", "real", (-1.0,), optional=True)
    cases += _field_cases(f, b, "ideal_loss", "real")
    cases += _field_cases(f, b, "x_min", "real", (0.0, -0.1), optional=True)
    cases += _field_cases(f, b, "x_max", "real", (0.0, -0.1), optional=True)
    cases += _field_cases(f, b, "h_min", "real", (0.0, 1.5, -0.1))
    cases += _field_cases(f, b, "f_max", "real", (0.5, -1.0))
    cases += _field_cases(f, b, "ema_decay", "real", (1.0, -0.1))
    cases += [Case(f, "ideal_loss=0 without gaps", lambda: b(ideal_loss=0.0), ("x_min", "x_max", "ideal_loss"))]
    cases += _config_cases(f, lrsched.GapAware(init_lr=1e-3).to_config(), ["ideal_loss", "h_min", "ema_decay"])
    return cases


def _lrtuner() -> list[Case]:
    f, b = "lrtuner", lambda **k: lrsched.LRTuner(**{"init_lr": 0.1, **k})
    cases = _common_cases(f, lrsched.LRTuner, b)
    cases += _field_cases(f, b, "init_lr", "real", (-1.0,), optional=True)
    cases += _field_cases(f, b, "interval", "int", (0, -1))
    cases += _field_cases(f, b, "lookahead_steps", "int", (0, -1))
    cases += _field_cases(f, b, "min_lr", "real", (-1.0, 0.5), also=("init_lr",))
    cases += _field_cases(f, b, "max_lr", "real", (-1.0, 0.05), optional=True, also=("init_lr",))
    for label, v in [
        ("str", "0.5,2"), ("number", 2.0), ("None", None), ("empty", ()), ("one", (1.0,)), ("repeat", (1.0, 1.0)),
        ("negative", (0.5, -1.0)), ("zero", (0.0, 1.0)), ("nan", (0.5, math.nan)), ("inf", (0.5, math.inf)),
        ("str item", (0.5, "2")), ("dict", {"a": 1.0}), ("nested", ((0.5,), (2.0,))), ("bool", (True, 2.0)),
        ("huge item", (0.5, HUGE)),
    ]:  # fmt: skip
        cases.append(Case(f, f"factors {label}", lambda v=v: b(factors=v), ("factors",)))
    cases.append(Case(f, "min_lr > max_lr", lambda: b(init_lr=None, min_lr=0.5, max_lr=0.1), ("min_lr", "max_lr")))
    config = lrsched.LRTuner(init_lr=0.1).to_config()
    cases += _config_cases(
        f, config, ["factors", "interval", "lookahead_steps"], counters=("interval", "lookahead_steps")
    )
    return cases


def _learned() -> list[Case]:
    f = "learned"
    default = lrsched.LearnedLR.default()

    def b(**k: Any) -> Any:
        return dataclasses.replace(default, **{"init_lr": 0.1, **k})

    cases = _common_cases(f, lrsched.LearnedLR, b)
    cases += _field_cases(f, b, "init_lr", "real", (-1.0, 0.0), optional=True)
    cases += _field_cases(f, b, "max_change", "real", (0.0, -0.1))
    cases += _field_cases(f, b, "min_scale", "real", (0.0, 2.0))
    cases += _field_cases(f, b, "max_scale", "real", (0.5, -1.0))
    cases += _field_cases(f, b, "budget", "int", (0, -1), optional=True)
    cases += _field_cases(f, b, "default_horizon", "int", (0, -1))
    cases += _field_cases(f, b, "warmup", "real", (1.0, -0.1))
    cases += _field_cases(f, b, "anneal", "real", (1.0, -0.1))
    n, h = len(default.features), len(default.b1)
    for label, v in [
        ("str", "log_lr"), ("list item", ["log_lr", ["slope_fast"]]), ("dict item", ["log_lr", {"a": 1}]),
        ("unknown", ["log_lr", "momentum"]), ("empty", []), ("repeat", ["log_lr", "log_lr"]), ("None", None),
        ("ints", [1, 2]), ("None item", ["log_lr", None]),
    ]:  # fmt: skip
        cases.append(Case(f, f"features {label}", lambda v=v: b(features=v), ("feature",)))
    cases += [
        Case(f, "w1 short row", lambda: b(w1=[[0.0] * (n - 1)] * h), ("w1",)),
        Case(f, "w1 str", lambda: b(w1="0"), ("w1",)),
        Case(f, "w1 nan", lambda: b(w1=[[math.nan] * n] * h), ("w1",)),
        Case(f, "b1 empty", lambda: b(b1=[]), ("b1",)),
        Case(f, "b1 str", lambda: b(b1="abc"), ("b1",)),
        Case(f, "w2 length", lambda: b(w2=[0.0] * (h + 1)), ("w2",)),
        Case(f, "w2 inf", lambda: b(w2=[math.inf] * h), ("w2",)),
        Case(f, "b2 nan", lambda: b(b2=math.nan), ("b2",)),
        Case(f, "b2 list", lambda: b(b2=[0.0]), ("b2",)),
        Case(f, "b2 huge", lambda: b(b2=HUGE), ("b2",)),
        Case(f, "warmup+anneal>1", lambda: b(warmup=0.6, anneal=0.6), ("warmup", "anneal")),
        Case(f, "min_scale>max_scale", lambda: b(min_scale=10.0, max_scale=5.0), ("min_scale", "max_scale")),
    ]
    config = lrsched.LearnedLR.default(init_lr=0.1).to_config()
    cases += _config_cases(f, config, ["features", "max_change", "budget", "b2"], counters=("budget",))
    missing = {k: v for k, v in config.items() if k != "w1"}
    cases.append(Case(f, "config missing w1", lambda: lrsched.from_config(missing), ("w1",)))
    return cases


def _nested_config(depth: int) -> dict[str, Any]:
    config: dict[str, Any] = lrsched.GreedyLR().to_config()
    for _ in range(depth):
        config = {"name": "on_schedule", "base": {"name": "constant", "value": 1.0}, "controller": config}
    return config


NESTED_300 = """c = lrsched.GreedyLR(init_lr=1.0)
for _ in range(300):
    c = lrsched.on_schedule(lrsched.constant(1.0), c)"""


def _nested(depth: int) -> Any:
    c: Any = lrsched.GreedyLR(init_lr=1.0)
    for _ in range(depth):
        c = lrsched.on_schedule(lrsched.constant(1.0), c)
    return c


def _on_schedule() -> list[Case]:
    f, g = "on_schedule", lrsched.GreedyLR()

    def b(**k: Any) -> Any:
        return lrsched.on_schedule(**{"base": BASE, "controller": g, **k})

    def greedy_on(**k: Any) -> Any:
        return lrsched.greedy_on(BASE, **k)

    cases = [Case(f, "start_step=-1", lambda: b(start_step=-1), ("start_step",))]
    cases += [c for c in _field_cases(f, b, "start_step", "int") if c.label != "start_step=-1"]
    for v in ("cosine", None, math.nan, math.inf, [], [None], {"name": "constant"}, g, object(), True, b"1"):
        label = "base=object()" if type(v) is object else f"base={_show(v)}"  # no address: ids stable across workers
        cases.append(Case(f, label, lambda v=v: b(base=v), ("base",)))
    for v in (None, "greedy", {"name": "greedy"}, lrsched.GreedyLR, lrsched.constant(1.0), 0.5, [g], True):
        cases.append(Case(f, f"controller={_show(v)}", lambda v=v: b(controller=v), ("controller",)))
    cases += [
        Case(f, "bases 2/groups 3", lambda: b(base=(BASE, BASE), controller=lrsched.GreedyLR(init_lr=(1.0,) * 3)),
             ("base", "init_lr", "group")),
        Case(f, "greedy_on(Hypergradient)", lambda: lrsched.greedy_on(BASE, lrsched.Hypergradient()), ("controller",)),
        Case(f, "greedy_on(0.5)", lambda: lrsched.greedy_on(BASE, 0.5), ("controller",)),
        Case(f, "greedy_on(patience=-1)", lambda: greedy_on(patience=-1), ("patience",)),
        Case(f, "greedy_on(window_size=3)", lambda: greedy_on(window_size=3), ("window_size",)),
        Case(f, "greedy_on(T_max=9)", lambda: greedy_on(T_max=9), ("T_max",)),
        Case(f, "greedy_on(start_step=nan)", lambda: greedy_on(start_step=math.nan), ("start_step",)),
        Case(f, "greedy_on(base='x')", lambda: lrsched.greedy_on("x"), ("base",)),
        Case(f, "GreedyOn(controller=ABEL)", lambda: lrsched.GreedyOn(BASE, lrsched.ABEL()), ("controller",)),
        Case(f, "on_schedule(bogus=1)", lambda: b(bogus=1), ("bogus",)),
        Case(f, "Controlled(bogus=1)", lambda: type(b())(base=BASE, controller=g, bogus=1), ("bogus",)),
        Case(f, "Controlled(T_max=9)", lambda: type(b())(base=BASE, controller=g, T_max=9), ("T_max",)),
        Case(f, "nested 2", lambda: _nested(2), ("controller",), must_refuse=False),
        Case(f, "nested 300", lambda: _nested(300), ("controller", "nest", "depth", "deep"), must_refuse=False,
             heavy=NESTED_300),
        Case(f, "config nested 10000", lambda: lrsched.from_config(_nested_config(10_000)),
             ("controller", "nest", "depth", "deep")),
    ]  # fmt: skip
    config = b().to_config()
    for key in ("base", "controller"):
        less = {k: v for k, v in config.items() if k != key}
        cases.append(Case(f, f"config missing {key}", lambda less=less: lrsched.from_config(less), (key,)))
    for key, v in [
        ("controller", {"name": "no_such_controller"}), ("controller", "greedy"), ("controller", None),
        ("controller", {"name": "greedy", "patience": -1}), ("base", {"name": "no_such_schedule"}), ("base", None),
        ("base", "constant"), ("start_step", "3"), ("start_step", -1), ("start_step", 1.5),
    ]:  # fmt: skip
        bad = {**config, key: v}
        names = ("patience",) if isinstance(v, dict) and "patience" in v else (key,)
        names += (v["name"],) if isinstance(v, dict) else ()
        cases.append(Case(f, f"config.{key}={_show(v)}", lambda bad=bad: lrsched.from_config(bad), names))
    bogus = {**config, "bogus_key": 1}
    cases.append(Case(f, "config.bogus_key", lambda: lrsched.from_config(bogus), ("bogus_key",)))
    return cases


FAMILIES: dict[str, Callable[[], list[Case]]] = {
    "greedy": _greedy,
    "hypergradient": _hypergradient,
    "abel": _abel,
    "gap_aware": _gap_aware,
    "lrtuner": _lrtuner,
    "learned": _learned,
    "on_schedule": _on_schedule,
}
CASES = [case for make in FAMILIES.values() for case in make()]


def test_every_family_has_at_least_40_distinct_hostile_cases() -> None:
    ids = [f"{c.family}-{c.label}" for c in CASES]
    assert len(ids) == len(set(ids)), [i for i in ids if ids.count(i) > 1]
    for family in FAMILIES:
        assert sum(c.family == family for c in CASES) >= 40, family


# -- refused, or working ------------------------------------------------------------------------------------------
SIGNAL_VALUES = (1.0, 0.5, 0.25)


def _start_lr(c: Any) -> Any:
    """``None`` when the controller knows its initial LR, else 0.1."""
    if isinstance(getattr(c, "controller", None), lrsched.Controller) or getattr(c, "init_lr", None) is not None:
        return None
    return 0.1


def runs(c: Any) -> None:
    """``lrsched.control(c)`` plus 3 updates, and 3 updates under ``jax.jit`` with int32/float32 JAX types."""
    assert not jax.config.jax_enable_x64, "this check is about JAX's default 32-bit types"
    lr = _start_lr(c)
    sched = lrsched.control(c, lr)
    for v in SIGNAL_VALUES:
        out = sched(**{k: v for k in c.signals})
    assert all(math.isfinite(x) for x in (out if isinstance(out, tuple) else (out,))), out
    step = jax.jit(lambda s, x: c.update(s, x))
    state = c.init(lr, like=jnp.zeros((), jnp.float32))
    for v in SIGNAL_VALUES:
        state = step(state, {k: jnp.float32(v) for k in c.signals})
    jax.block_until_ready(c.lr(state))


def runs_in_subprocess(source: str, timeout: float = 30.0) -> None:
    code = "\n".join(
        ["import sys, lrsched", f"sys.path.insert(0, {str(Path(__file__).parent)!r})", "import test_controller_hostile"]
    )
    code += f"\n{source}\ntest_controller_hostile.runs(c)\nprint('ran')\n"
    try:
        out = subprocess.run(
            [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=timeout,
            env={**os.environ, "PYTHONPATH": str(ROOT), "JAX_PLATFORMS": "cpu"},
        )  # fmt: skip
    except subprocess.TimeoutExpired:
        pytest.fail(f"accepted, but control + 3 updates + jit did not finish in {timeout:g} s")
    last = [line.strip()[:200] for line in out.stderr.splitlines() if line.strip()][-3:]
    assert out.returncode == 0 and "ran" in out.stdout, "accepted, but failed to run: " + " | ".join(last)


@pytest.mark.parametrize("case", CASES, ids=[f"{c.family}-{c.label}" for c in CASES])
def test_hostile_setting_is_refused_clearly_or_works(case: Case) -> None:
    start = time.perf_counter()
    try:
        c = case.make()
    except (ValueError, TypeError) as exc:
        elapsed = time.perf_counter() - start
        message = str(exc)
        assert elapsed < 1.0, f"refused after {elapsed:.2f} s"
        assert len(message) < 300, f"message of {len(message)} characters: {message[:300]}..."
        assert any(name in message for name in case.names), f"{message!r} names none of {case.names}"
        return
    elapsed = time.perf_counter() - start
    assert elapsed < 1.0, f"constructed after {elapsed:.2f} s"
    assert isinstance(c, lrsched.Controller), f"constructed a {type(c).__name__}, not a controller"
    assert not case.must_refuse, f"accepted: {_show(c)} (it must raise ValueError or TypeError naming {case.names})"
    if case.heavy is not None:
        runs_in_subprocess(case.heavy)
    else:
        runs(c)


# -- foreign-name hints -------------------------------------------------------------------------------------------
REGISTRY = {  # the library's controllers (test files register test-only ones, e.g. test_greedy_protocol)
    name: cls for name, cls in lrsched.controllers.registry().items() if cls.__module__.startswith("lrsched.")
}


@pytest.mark.parametrize("name", sorted(REGISTRY))
def test_foreign_name_hints_name_only_keywords_the_controller_has(name: str) -> None:
    """E.g. ``ABEL(window_size=5)`` must not say "use `window=`": ABEL has no ``window``."""
    cls = REGISTRY[name]
    fields = {f.name for f in dataclasses.fields(cls)}
    wrong = {}
    for foreign in PEER_NAMES:
        if foreign in fields:
            continue
        with pytest.raises(TypeError) as info:
            cls(**{foreign: 1})
        message = str(info.value)
        assert foreign in message
        named = set(re.findall(r"`(\w+)=`", message)) - {foreign}
        if named - fields:
            wrong[foreign] = sorted(named - fields)
    assert not wrong, f"{cls.__name__}: hints name keywords it does not have: {json.dumps(wrong)}"
