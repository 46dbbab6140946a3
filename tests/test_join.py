"""Joins: local clocks, phase names, and a cost and graph that do not grow with the pieces."""

from __future__ import annotations

import math
import re

import numpy as np
import pytest
from conftest import CATALOGUE, assert_close, evaluate

import lrsched as L


def test_each_phase_sees_its_local_step() -> None:
    s = L.join((L.linear(0.0, 1.0, 10), L.cosine_decay(1.0, 20), L.constant(0.05)), (10, 30))

    def ref(t: float) -> float:
        if t < 10:
            return t / 10
        if t < 30:
            return (1 + math.cos(math.pi * (t - 10) / 20)) / 2
        return 0.05

    steps = np.arange(0.0, 50.0, 0.5)
    expected = np.array([ref(t) for t in steps])
    for backend in ("python", "numpy", "jax_jit", "torch64"):
        assert_close(evaluate(s, steps, backend), expected, float32=backend == "jax_jit")
    assert s(10) == 1.0 and s(30) == 0.05


def test_phase_at_and_names() -> None:
    s = L.phases(
        ("warmup", L.linear(0.0, 1.0, 5), 5), ("stable", L.constant(1.0), 80), ("anneal", L.linear(1.0, 0.0, 15), None)
    )
    assert s.boundaries == (5, 85) and s.names == ("warmup", "stable", "anneal")
    assert [s.phase_at(t) for t in (0, 4.9, 5, 84.99, 85, 10**9)] == [
        "warmup",
        "warmup",
        "stable",
        "stable",
        "anneal",
        "anneal",
    ]
    assert s(85 + 7.5) == 0.5
    unnamed = L.join((L.constant(1.0), L.constant(0.5)), (3,))
    assert unnamed.phase_at(5) is None
    # Names of nested joins and warmups come through, with the inner clock.
    inner = L.join((L.constant(1.0), L.constant(0.5)), (3,), names=("a", "b"))
    outer = L.join((L.constant(2.0), inner), (10,))
    assert [outer.phase_at(t) for t in (12, 13)] == ["a", "b"]
    assert L.warmup(inner, 4).phase_at(2) == "warmup" and L.warmup(inner, 4).phase_at(7.5) == "b"
    assert L.shift(inner, 2).phase_at(4.5) == "a"
    assert [L.cycle(inner, 10).phase_at(t) for t in (2, 3, 12.5, 13)] == ["a", "b", "a", "b"]
    assert [L.quantize(inner, 2).phase_at(t) for t in (2.5, 3.5, 4)] == ["a", "a", "b"]
    assert L.perturb(inner, 0.1).phase_at(3) == "b" and L.clip(inner, 0.1).phase_at(0) == "a"


def test_phases_validation() -> None:
    with pytest.raises(ValueError, match="at least one"):
        L.phases()
    with pytest.raises(ValueError, match=r"phase 0 \('a'\) needs a length > 0, got 0"):
        L.phases(("a", L.constant(1.0), 0), ("b", L.constant(1.0), None))
    with pytest.raises(TypeError, match="phase 0 must be a"):
        L.phases(("a", L.constant(1.0)))  # type: ignore[arg-type]


@pytest.mark.parametrize("key", sorted(CATALOGUE))
def test_stacked_pieces_agree_with_scalar_evaluation(key: str) -> None:
    """A join of alternating pieces of one structure (stacked numbers) equals the scalar path."""
    a, b = CATALOGUE[key]
    s = L.join((a, b, a, b, b), (7, 13.5, 20, 31))
    steps = np.arange(0.0, 50.0, 0.5)
    reference = evaluate(s, steps, "python")
    for backend in ("numpy", "torch64", "jax_jit"):
        assert_close(evaluate(s, steps, backend), reference, float32=backend == "jax_jit")


def test_nested_joins_agree() -> None:
    a, b = CATALOGUE["join"]
    s = L.join((a, b, L.join((b, a), (4,)), a), (6, 12, 25))
    steps = np.arange(0.0, 40.0, 0.5)
    reference = evaluate(s, steps, "python")
    for backend in ("numpy", "torch32", "jax_jit", "jax_vmap"):
        assert_close(evaluate(s, steps, backend), reference, float32=backend in ("torch32", "jax_jit", "jax_vmap"))


def _big_join(n: int) -> L.Join:
    pieces = []
    for i in range(n):
        if i % 3 == 0:
            pieces.append(L.cosine_decay(1.0 + i % 7, 40.0 + i % 5, end_value=0.01 * (i % 4)))
        elif i % 3 == 1:
            pieces.append(L.linear(0.5 + (i % 11) / 10, 0.1, 10 + i % 9))
        else:
            pieces.append(L.constant(0.001 * (i % 13)))
    return L.join(tuple(pieces), tuple(float(25 * k) for k in range(1, n)))


def test_a_join_of_10000_pieces_is_exact_on_arrays() -> None:
    import jax
    import jax.numpy as jnp
    import torch

    s = _big_join(10_000)
    rng = np.random.default_rng(0)
    steps = np.concatenate([rng.uniform(0, 25 * 10_000 + 100, 300), 25.0 * rng.integers(0, 10_000, 50)])
    steps = np.round(steps * 4) / 4  # exact in float32 too
    expected = np.array([s(float(t)) for t in steps])
    np.testing.assert_allclose(s(steps), expected, rtol=1e-12)
    np.testing.assert_allclose(s(torch.tensor(steps)).numpy(), expected, rtol=1e-12)
    got = np.asarray(jax.jit(s)(jnp.asarray(steps, dtype=jnp.float32)), dtype=np.float64)
    assert_close(got, expected, float32=True)


def _hlo_ops(sched: L.Schedule) -> int:
    import jax
    import jax.numpy as jnp

    text = jax.jit(sched).lower(jnp.zeros(128, dtype=jnp.float32)).as_text()
    return len(re.findall(r"=\s*\"?[a-z_]+\.[a-z_]+", text))


def test_jitted_graph_does_not_grow_with_the_number_of_pieces() -> None:
    # Up to 32 bounds each step is compared with every bound; beyond, a guided search of a few rounds (as many for
    # 10 000 evenly spread bounds as for 100): the graph is the same from there on.
    small, large, larger = _hlo_ops(_big_join(10)), _hlo_ops(_big_join(1_000)), _hlo_ops(_big_join(10_000))
    assert small > 20  # the count sees the formula's ops
    assert small <= large == larger
    pc = [L.piecewise_constant(tuple(range(1, n)), tuple(1.0 / k for k in range(1, n + 1))) for n in (10, 1000, 10_000)]
    assert _hlo_ops(pc[0]) <= _hlo_ops(pc[1]) == _hlo_ops(pc[2])
    pl = [L.piecewise_linear(tuple((float(k), 1.0 / (k + 1)) for k in range(n))) for n in (10, 1000, 10_000)]
    assert _hlo_ops(pl[0]) <= _hlo_ops(pl[1]) == _hlo_ops(pl[2])


@pytest.mark.parametrize(
    "kind", ["even", "random", "repeated", "geometric", "clustered", "past_2_24", "few", "float64"]
)
def test_the_jax_search_of_a_step_among_bounds_is_exactly_jnp_searchsorted(kind: str) -> None:
    """The guided search behind joins and piecewise schedules under JAX (lrsched._core.search) gives the index
    ``jnp.searchsorted(bounds, step, side="right")`` gives, at and next to every bound, for NaN and infinities."""
    import jax
    import jax.numpy as jnp

    from lrsched._core.search import guided_searchsorted

    rng = np.random.default_rng(3)
    bounds = {
        "even": np.arange(1, 5001) * 100.0,
        "random": np.sort(rng.uniform(0, 1e6, 3000)),
        "repeated": np.sort(rng.integers(1, 300, 2000)).astype(float),  # equal bounds
        "geometric": np.cumsum(2.0 ** np.arange(40)),  # bunched: the plain search
        "clustered": np.sort(np.concatenate([rng.uniform(0, 1, 2000), rng.uniform(1e5, 1e6, 100)])),
        "past_2_24": 2.0**24 + np.arange(1, 2000) * 1.0,  # bounds that round together in float32
        "few": np.array([5.0, 15.0, 40.0]),
        "float64": np.sort(rng.uniform(0, 1e9, 3000)),
    }[kind]
    dtype = jnp.float64 if kind == "float64" else jnp.float32
    with jax.enable_x64(kind == "float64"):
        steps = np.concatenate(
            [
                rng.uniform(bounds[0] - 10, bounds[-1] + 10, 5000),
                bounds,
                np.nextafter(bounds, -np.inf),
                np.nextafter(bounds, np.inf),
                [np.nan, np.inf, -np.inf, 0.0, -0.0],
            ]
        )
        x = jnp.asarray(steps, dtype=dtype)
        expected = np.asarray(jnp.searchsorted(jnp.asarray(bounds, dtype=dtype), x, side="right"))
        for values in (bounds, tuple(bounds.tolist())):
            eager = guided_searchsorted(jnp, values, x)
            jitted = jax.jit(lambda s, v=values: guided_searchsorted(jnp, v, s))(x)
            assert eager.dtype == expected.dtype
            np.testing.assert_array_equal(np.asarray(eager), expected)
            np.testing.assert_array_equal(np.asarray(jitted), expected)


def test_a_scalar_step_evaluates_only_its_own_piece() -> None:
    calls: list[int] = []

    def piece(k: int):  # type: ignore[no-untyped-def]
        def fn(t):  # type: ignore[no-untyped-def]
            calls.append(k)
            return 0.001 * k + 0.0 * t

        return fn

    n = 5_000
    s = L.join(tuple(L.FunctionSchedule(piece(k)) for k in range(n)), tuple(float(k) for k in range(1, n)))
    for step in (0.0, 17.5, 2500.0, 4999.0, 10**6):
        calls.clear()
        expected = min(int(step), n - 1)
        assert s(step) == pytest.approx(0.001 * expected) and calls == [expected]


def _distinct_pieces() -> dict[str, list[L.Schedule]]:
    """Pieces of one class whose numeric settings -- those that select code paths included -- all differ."""
    n = 6
    return {
        "exponential_decay": [L.exponential_decay(1.0, 0.5 + 0.05 * i, 7, end_value=0.1) for i in range(n)],
        "exponential_growth": [L.exponential_decay(0.1, 1.1 + 0.1 * i, 7, end_value=2.0) for i in range(n)],
        "cosine_decay": [L.cosine_decay(1.0, 9, 0.1, exponent=1.0 + 0.5 * i) for i in range(n)],
        "cycle": [L.cycle(L.linear(1.0, 0.0, 4), 4, decay=0.5 + 0.1 * i) for i in range(n)],
        "cosine_restarts": [L.cosine_restarts(1.0, 3, 1.2 + 0.3 * i, decay=0.9) for i in range(n)],
        "warmup": [L.warmup(L.cosine_decay(1.0 + i, 9), 2 + i) for i in range(n)],
        # every setting differs; the phase constants are stacked, the settings behind them are not gathered
        "one_cycle": [
            L.one_cycle(1.0 + i, 8 + i, 0.2 + 0.05 * i, div_factor=5.0 + i, final_div_factor=9 + i) for i in range(n)
        ],
        "one_cycle_three_phase": [
            L.one_cycle(1.0 + i, 8 + i, 0.2 + 0.04 * i, "linear", 5.0 + i, 9 + i, three_phase=True) for i in range(n)
        ],
    }


@pytest.mark.parametrize("key", sorted(_distinct_pieces()))
def test_distinct_numbers_stack_into_one_group(key: str) -> None:
    pieces = _distinct_pieces()[key]
    s = L.join(tuple(pieces), tuple(10.0 * (i + 1) for i in range(len(pieces) - 1)))
    groups = s._groups()[0]
    assert len(groups) == 1, [g.structure for g in groups]
    steps = np.arange(0.0, 75.0, 0.5)
    np.testing.assert_allclose(s(steps), [s(float(x)) for x in steps], rtol=1e-12)
    # Restart structure still splits where it changes the formula: period_mult == 1 against != 1.
    mixed = L.join((L.cosine_restarts(1.0, 3), L.cosine_restarts(1.0, 3, 2.0)), (10,))
    assert len(mixed._groups()[0]) == 2


def test_nested_warmups_in_a_join_evaluate_their_schedule_once() -> None:
    calls = []

    def base(t):
        if not isinstance(t, (int, float)):
            calls.append(1)
        return t * 0.0 + 1.0

    def nest(depth: int, w: float) -> L.Schedule:
        s: L.Schedule = L.FunctionSchedule(base)
        for level in range(depth):
            s = L.warmup(s, w + level)
        return s

    s = L.join((nest(12, 1.0), nest(12, 2.0)), (100,))
    s(np.arange(300.0))
    assert len(calls) == 1  # one stacked group, each warmup evaluates its schedule once (was 2**12)
