"""Every constructor rejects bad arguments at construction, naming the parameter and the value."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import numpy as np
import pytest

import lrsched as L

ONE = L.constant(1.0)

# (builder, error type, regex that must name the parameter and the bad value)
CASES: list[tuple[str, Callable[[], Any], type[Exception], str]] = [
    ("negative rate", lambda: L.linear(-1.0, 0, 10), ValueError, r"linear: init_value must be >= 0, got -1\.0"),
    ("nan rate", lambda: L.cosine_decay(math.nan, 10), ValueError, r"cosine_decay: init_value must be finite, got nan"),
    ("inf rate", lambda: L.polynomial(1.0, math.inf, 10), ValueError, r"end_value must be finite, got inf"),
    ("bool rate", lambda: L.linear(True, 0, 10), TypeError, r"linear: init_value must be a real number, got True"),
    ("str length", lambda: L.linear(1, 0, "10"), TypeError, r"transition_steps must be a real number, got '10'"),
    ("zero length", lambda: L.linear(1.0, 0, 0), ValueError, r"transition_steps must be > 0, got 0"),
    ("negative length", lambda: L.cosine_decay(1.0, -5), ValueError, r"decay_steps must be > 0, got -5"),
    ("infinite length", lambda: L.rex(1.0, math.inf), ValueError, r"total_steps must be finite, got inf"),
    ("zero power", lambda: L.polynomial(1.0, 0, 10, power=0), ValueError, r"power must be > 0, got 0"),
    ("drop 0", lambda: L.step_decay(1.0, 10, 0), ValueError, r"drop must be in \(0, 1\], got 0"),
    ("drop > 1", lambda: L.multistep_decay(1.0, (5,), 1.5), ValueError, r"drop must be in \(0, 1\], got 1\.5"),
    ("step_size 0", lambda: L.step_decay(1.0, 0, 0.5), ValueError, r"step_size must be > 0, got 0"),
    ("unsorted", lambda: L.multistep_decay(1, (10, 5), 0.5), ValueError, r"milestones must be strictly increasing"),
    ("no milestones", lambda: L.multistep_decay(1, (), 0.5), ValueError, r"milestones must not be empty"),
    ("lengths", lambda: L.piecewise_constant((1, 2), (1.0, 2.0)), ValueError, r"values must have .* = 3 .*got 2"),
    (
        "unsorted boundaries",
        lambda: L.piecewise_constant((2, 1), (1, 2, 3)),
        ValueError,
        r"boundaries must be strictly",
    ),
    ("boundary 0", lambda: L.piecewise_constant((0,), (1, 2)), ValueError, r"boundaries\[0\] must be > 0, got 0"),
    ("negative value", lambda: L.piecewise_constant((1,), (1, -2)), ValueError, r"values\[1\] must be >= 0, got -2"),
    ("bool in tuple", lambda: L.piecewise_constant((1,), (1, True)), TypeError, r"values\[1\] must be a real number"),
    ("not a sequence", lambda: L.piecewise_constant(3, (1,)), TypeError, r"boundaries must be a sequence, got 3"),
    (
        "points pair",
        lambda: L.piecewise_linear(((0, 1, 2),)),
        ValueError,
        r"points\[0\] must be a \(step, value\) pair",
    ),
    ("points order", lambda: L.piecewise_linear(((1, 1), (1, 2))), ValueError, r"strictly increasing"),
    ("points empty", lambda: L.piecewise_linear(()), ValueError, r"points must not be empty"),
    ("points negative step", lambda: L.piecewise_linear(((-1, 1),)), ValueError, r"step must be >= 0, got -1"),
    ("decay_rate 0", lambda: L.exponential_decay(1.0, 0), ValueError, r"decay_rate must be > 0, got 0"),
    ("exp end above", lambda: L.exponential_decay(1, 0.5, end_value=2), ValueError, r"end_value must be <= .*got 2"),
    ("exp end below", lambda: L.exponential_decay(1, 2.0, end_value=0.5), ValueError, r"end_value must be >= .*0\.5"),
    ("nat end", lambda: L.natural_exp_decay(1, 0.5, end_value=2), ValueError, r"end_value must be <= init.*got 2"),
    ("k < 0", lambda: L.natural_exp_decay(1, -0.5), ValueError, r"decay_constant must be >= 0, got -0\.5"),
    ("inverse time", lambda: L.inverse_time_decay(1, -0.5), ValueError, r"decay_rate must be >= 0, got -0\.5"),
    ("staircase str", lambda: L.inverse_time_decay(1, 1, staircase="y"), TypeError, r"staircase must be True or False"),
    ("noam warmup 0", lambda: L.inverse_sqrt(1.0, 0), ValueError, r"warmup_steps must be > 0, got 0"),
    ("exponent 0", lambda: L.cosine_decay(1, 10, exponent=0), ValueError, r"exponent must be > 0, got 0"),
    ("period_mult < 1", lambda: L.cosine_restarts(1, 10, 0.5), ValueError, r"period_mult must be >= 1, got 0\.5"),
    ("restart decay", lambda: L.cosine_restarts(1, 10, decay=1.5), ValueError, r"decay must be in \(0, 1\], got 1\.5"),
    ("restart mode", lambda: L.cosine_restarts(1, 10, decay_mode="x"), ValueError, r"decay_mode must be .*got 'x'"),
    ("first period 0", lambda: L.cosine_restarts(1, 0), ValueError, r"first_period must be > 0, got 0"),
    ("pct_start", lambda: L.one_cycle(1, 100, pct_start=1.0), ValueError, r"pct_start must be in \(0, 1\.0\), got 1"),
    ("pct 3 phase", lambda: L.one_cycle(1, 9, 0.5, three_phase=True), ValueError, r"pct_start must be in \(0, 0\.5\)"),
    (
        "anneal",
        lambda: L.one_cycle(1, 100, anneal="exp"),
        ValueError,
        r"anneal must be 'cosine' or 'linear', got 'exp'",
    ),
    ("div 0", lambda: L.one_cycle(1, 100, div_factor=0), ValueError, r"div_factor must be > 0, got 0"),
    ("cyclic order", lambda: L.cyclic(1, 0.5, 10), ValueError, r"max_value must be >= base_value, got 0\.5"),
    ("cyclic gamma", lambda: L.cyclic(0.1, 0.5, 10, gamma=1.5), ValueError, r"gamma must be in \(0, 1\], got 1\.5"),
    ("cyclic mode", lambda: L.cyclic(0.1, 0.5, 10, mode="sine"), ValueError, r"mode must be .*got 'sine'"),
    ("cyclic down", lambda: L.cyclic(0.1, 1, 10, step_size_down=0), ValueError, r"step_size_down must be > 0, got 0"),
    ("wsd too long", lambda: L.wsd(1, 100, 60, warmup_steps=50), ValueError, r"warmup_steps \+ decay_steps .*50 \+ 60"),
    ("wsd shape", lambda: L.wsd(1, 100, 60, decay_shape="exp"), ValueError, r"decay_shape must be .*got 'exp'"),
    ("warmup 0", lambda: L.warmup(ONE, 0), ValueError, r"warmup: warmup_steps must be > 0, got 0"),
    ("warmup shape", lambda: L.warmup(ONE, 5, shape="cos"), ValueError, r"shape must be .*got 'cos'"),
    ("warmup clock", lambda: L.warmup(ONE, 5, clock="local"), ValueError, r"clock must be .*got 'local'"),
    ("exp warmup 0", lambda: L.warmup(ONE, 5, shape="exponential"), ValueError, r"init_value must be > 0 .*got 0"),
    ("exp target 0", lambda: L.warmup(L.constant(0.0), 5, 0.1, shape="exponential"), ValueError, r"target .*got 0"),
    ("warmup init", lambda: L.warmup(ONE, 5, -0.1), ValueError, r"init_value must be >= 0, got -0\.1"),
    ("not a schedule", lambda: L.warmup("x", 5), TypeError, r"schedule must be a schedule, a number or a callable"),
    ("cycle period", lambda: L.cycle(ONE, 0), ValueError, r"cycle: period must be > 0, got 0"),
    ("cycle decay", lambda: L.cycle(ONE, 5, -1), ValueError, r"cycle: decay must be > 0, got -1"),
    ("shift nan", lambda: L.shift(ONE, math.nan), ValueError, r"shift: offset must be finite, got nan"),
    ("clip none", lambda: L.clip(ONE), ValueError, r"clip: give min_value, max_value or both"),
    ("clip order", lambda: L.clip(ONE, 2, 1), ValueError, r"min_value must be <= max_value, got 2 > 1"),
    ("quantize", lambda: L.quantize(ONE, 0), ValueError, r"steps_per_epoch must be > 0, got 0"),
    ("amplitude", lambda: L.perturb(ONE, 1.0), ValueError, r"amplitude must be in \[0, 1\), got 1\.0"),
    ("seed range", lambda: L.perturb(ONE, 0.1, seed=-1), ValueError, r"seed must be in \[0, 2\*\*31\), got -1"),
    ("seed type", lambda: L.perturb(ONE, 0.1, seed=1.5), TypeError, r"seed must be an integer, got 1\.5"),
    ("seed bool", lambda: L.perturb(ONE, 0.1, seed=True), TypeError, r"seed must be an integer, got True"),
    ("every", lambda: L.perturb(ONE, 0.1, every=0), ValueError, r"every must be > 0, got 0"),
    ("join empty", lambda: L.join((), ()), ValueError, r"schedules must not be empty"),
    ("join lengths", lambda: L.join((ONE,), (5,)), ValueError, r"boundaries must have .* = 0 entries, got 1"),
    ("join order", lambda: L.join((ONE,) * 3, (5, 3)), ValueError, r"boundaries must be strictly increasing"),
    ("join boundary", lambda: L.join((ONE,) * 2, (0,)), ValueError, r"boundaries\[0\] must be > 0, got 0"),
    ("join names", lambda: L.join((ONE,) * 2, (5,), names=("a",)), ValueError, r"names must have one entry .*got 1"),
    ("join name type", lambda: L.join((ONE,), (), names=(1,)), TypeError, r"names\[0\] must be a string, got 1"),
    ("divide by 0", lambda: ONE / 0, ZeroDivisionError, r"divided by zero"),
    ("huge integer", lambda: L.constant(10**400), ValueError, r"constant: value must be at most"),
]


@pytest.mark.parametrize(("builder", "error", "match"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_constructors_reject_bad_arguments(builder: Callable[[], Any], error: type[Exception], match: str) -> None:
    with pytest.raises(error, match=match):
        builder()


def test_numpy_numbers_are_accepted_and_normalised() -> None:
    s = L.linear(np.float32(1.0), np.int64(0), np.int32(10))
    assert s == L.linear(1.0, 0, 10)
    assert type(s.init_value) is float and type(s.transition_steps) is int
    assert L.piecewise_constant(np.array([1, 2]), [1.0, 0.5, 0.25]).boundaries == (1, 2)


def test_arguments_are_never_mutated_and_stored_as_tuples() -> None:
    boundaries, values = [3, 7], [1.0, 0.5, 0.1]
    s = L.piecewise_constant(boundaries, values)
    assert s.boundaries == (3, 7) and s.values == (1.0, 0.5, 0.1)
    boundaries.append(9)
    assert s(8) == 0.1 and s.boundaries == (3, 7)
