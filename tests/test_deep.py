"""Flat n-ary arithmetic and one set of size limits for schedules and configs (issue 10 item 11).

``+``, ``*``, ``minimum`` and ``maximum`` flatten as they are built, so long sums stay one level deep; and every
schedule whose construction succeeds has a ``to_config()`` that :func:`lrsched.from_config` accepts, because both
check the same ``MAX_DEPTH`` and ``MAX_NODES``.
"""

from __future__ import annotations

import json
import math
import pickle
from typing import Any

import numpy as np
import pytest
from conftest import ALL_SCHEDULES, assert_close, evaluate

import lrsched as L
from lrsched._core.config import MAX_DEPTH, MAX_NODES


def _measure(config: Any) -> tuple[int, int]:
    """(schedule nesting depth, values counted as from_config counts them), walking the config itself."""
    depth, count = 0, 0
    stack = [(config, 0)]
    while stack:
        node, d = stack.pop()
        if isinstance(node, dict) and "name" in node:
            depth = max(depth, d)
            d += 1
        if isinstance(node, (dict, list)):
            count += 1 + len(node)
            stack.extend((v, d) for v in (node.values() if isinstance(node, dict) else node))
    return depth, count


def _terms(n: int) -> list[L.Schedule]:
    return [L.linear(0.0, float(k % 7 + 1), 10 + k % 5) if k % 2 else L.constant(0.001 * k) for k in range(n)]


@pytest.mark.parametrize("n", [600, 2000])
def test_long_sums_are_flat_values(n: int) -> None:
    terms = _terms(n)
    s = terms[0]
    for t in terms[1:]:
        s = s + t
    assert isinstance(s, L.Sum) and len(s.terms) == n and s.terms == tuple(terms)
    assert hash(s) == hash(pickle.loads(pickle.dumps(s)))
    assert pickle.loads(pickle.dumps(s)) == s
    assert repr(s).startswith("(constant(value=0.0) + linear(") and repr(s).count(" + ") == n - 1
    config = json.loads(json.dumps(s.to_config()))
    assert config["name"] == "sum" and len(config["terms"]) == n
    assert L.from_config(config) == s
    steps = np.array([0.0, 3.0, 12.5, 100.0])
    expected = np.array([math.fsum(float(t(k)) for t in terms) for k in steps])
    for backend in ("python", "numpy"):
        np.testing.assert_allclose(evaluate(s, steps, backend), expected, rtol=1e-12)


def test_flattening_folds_numbers_and_keeps_minus_and_divide() -> None:
    a, b, c = L.cosine_decay(1.0, 10), L.linear(0.0, 2.0, 20), L.constant(0.25)
    assert a + b + c == a + (b + c) == L.Sum((a, b, c)) and repr(a + b + c) == f"({a!r} + {b!r} + {c!r})"
    assert (a + 1 + 2) == L.Sum((a,), 3.0) and (a * 2 * b * 3) == L.Product((a, b), 6.0)
    assert a - b == L.Sum((a, L.Product((b,), -1.0))) and a / 4 == L.Product((a,), 0.25)
    assert L.minimum(a, L.minimum(b, 0.5), 0.3) == L.Minimum((a, b), 0.3)
    assert L.maximum(L.maximum(a, 0.1), b, 0.2) == L.Maximum((a, b), 0.2)
    for t in (0, 3, 7.5, 30):
        assert (a - b)(t) == pytest.approx(a(t) - b(t)) and (2 - a / 4)(t) == pytest.approx(2 - a(t) / 4)
        assert L.minimum(a, b, 0.3)(t) == min(a(t), b(t), 0.3)
        assert L.maximum(a, b, 0.2)(t) == max(a(t), b(t), 0.2)
    named = L.phases(("up", L.linear(0.0, 1.0, 5), 5), ("hold", L.constant(1.0), None))
    for s in (named + a + b, named * 0.5 * a, L.minimum(named, a, 0.5), L.maximum(named, b)):
        assert [s.phase_at(t) for t in (0, 6)] == ["up", "hold"]  # the first term's phase


def test_every_catalogued_schedule_measures_its_config_exactly_or_more() -> None:
    for s in ALL_SCHEDULES:
        depth, count = s._config_shape()
        measured = _measure(s.to_config())
        assert depth == measured[0] and measured[1] <= count <= measured[1] + 1, s  # +1: an omitted constant


def test_nesting_deeper_than_the_config_limit_is_refused_when_built() -> None:
    s = L.constant(1.0)
    for _ in range(MAX_DEPTH):
        s = L.warmup(s, 2)
    config = json.loads(json.dumps(s.to_config()))
    assert _measure(config)[0] == MAX_DEPTH and L.from_config(config) == s  # the deepest allowed round-trips
    with pytest.raises(ValueError, match=f"warmup: schedules nest at most MAX_DEPTH = {MAX_DEPTH} levels"):
        L.warmup(s, 2)
    deeper = {"name": "warmup", "schedule": config, "warmup_steps": 2}
    with pytest.raises(ValueError, match=f"MAX_DEPTH = {MAX_DEPTH}"):
        L.from_config(deeper)
    s70 = L.constant(1.0)
    with pytest.raises(ValueError, match="MAX_DEPTH"):
        for _ in range(70):
            s70 = L.warmup(s70, 2)


def test_configs_larger_than_the_limit_are_refused_when_built() -> None:
    p = L.linear(0.0, 1.0, 3) * L.constant(1.0)
    with pytest.raises(ValueError, match=f"more than MAX_NODES = {MAX_NODES}"):
        for _ in range(40):
            p = p * p  # 2**40 terms: refused before any of them is copied
    with pytest.raises(ValueError, match="MAX_NODES"):
        L.piecewise_constant(tuple(range(1, MAX_NODES)), (1.0,) * MAX_NODES)


def test_version_0_1_configs_load() -> None:
    a = {"name": "cosine_decay", "init_value": 1.0, "decay_steps": 10}
    b = {"name": "linear", "init_value": 0.0, "end_value": 2.0, "transition_steps": 20}
    ca, cb = L.from_config(a), L.from_config(b)
    old = {"name": "sum", "left": {"name": "sum", "left": a, "right": b}, "right": 0.5}
    assert L.from_config(old) == ca + cb + 0.5 == L.from_config((ca + cb + 0.5).to_config())
    assert L.from_config({"name": "product", "left": a, "right": {"name": "product", "left": b, "right": -1.0}}) == (
        ca * -cb
    )
    assert L.from_config({"name": "minimum", "left": a, "right": 0.3}) == L.minimum(ca, 0.3)
    assert L.from_config({"name": "maximum", "left": a, "right": b}) == L.maximum(ca, cb)
    with pytest.raises(ValueError, match=r"missing required key.*right"):
        L.from_config({"name": "sum", "left": a})
    with pytest.raises(ValueError, match=r"unknown key.*'extra'"):
        L.from_config({"name": "sum", "left": a, "right": b, "extra": 1})


def test_n_ary_sums_stack_in_joins() -> None:
    pieces = tuple(L.linear(0.0, 1.0 + k, 10) + L.constant(0.1 * k) + 0.5 * k for k in range(50))
    s = L.join(pieces, tuple(10.0 * (k + 1) for k in range(49)))
    assert len(s._groups()[0]) == 1  # one structure: the terms and constants became columns
    steps = np.arange(0.0, 520.0, 0.75)
    expected = evaluate(s, steps, "python")
    for backend in ("numpy", "jax_jit", "torch64"):
        assert_close(evaluate(s, steps, backend), expected, float32=backend == "jax_jit")
