"""The hand-fused Adam-HD of ``benchmarks/_hand_fused.py`` is the algorithm lrsched runs (issue 20's cost floor).

``bench_controllers.py`` reports lrsched's hypergradient next to this floor, so the floor must compute the same LRs
and parameters: Optax against ``controlled(optax.scale_by_adam(), Hypergradient(...))`` (the same float32 operations:
bit for bit), torch against ``torch.optim.Adam`` with ``ControllerScheduler`` (float64; torch reads the direction
from parameter differences, so equal up to rounding). No timing here: speed is measured in the benchmark.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest
from _benchmarks import use_benchmarks

import lrsched

use_benchmarks()

STEPS = 15
RULES = {"additive": 1e-3, "multiplicative": 0.05}  # beta per mode: large enough that the LR moves by > 10%
_RNG = np.random.default_rng(0)
W0, X, Y = _RNG.normal(size=(5, 3)), _RNG.normal(size=(16, 5)), _RNG.normal(size=(16, 3))


def _moved(lrs: list[float]) -> None:
    assert abs(lrs[-1] / lrs[0] - 1) > 0.1, "the LR barely moved: the comparison would prove little"


@pytest.mark.parametrize("mode", sorted(RULES))
def test_the_optax_floor_is_lrscheds_controlled_hypergradient_bit_for_bit(mode: str) -> None:
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    import jax.numpy as jnp

    from benchmarks._hand_fused import optax_adam_hd
    from lrsched.adapters.optax import controlled, lr_of

    beta = RULES[mode]
    params = {"w": jnp.asarray(W0, jnp.float32), "b": jnp.zeros(3, jnp.float32)}
    x, y = jnp.asarray(X, jnp.float32), jnp.asarray(Y, jnp.float32)

    def loss_fn(p: Any) -> Any:
        return jnp.mean((jnp.tanh(x @ p["w"] + p["b"]) - y) ** 2)

    def run(tx: Any, lr_of_state: Any) -> tuple[list[float], Any]:
        @jax.jit
        def step(p: Any, s: Any) -> Any:
            loss, grads = jax.value_and_grad(loss_fn)(p)
            updates, s = tx.update(grads, s, p, value=loss)
            return optax.apply_updates(p, updates), s

        p, s, lrs = params, tx.init(params), []
        for _ in range(STEPS):
            p, s = step(p, s)
            lrs.append(float(lr_of_state(s)))
        return lrs, p

    floor_lrs, floor_p = run(optax_adam_hd(0.01, beta, mode), lambda s: s.lr)
    ours_lrs, ours_p = run(
        controlled(optax.scale_by_adam(), lrsched.Hypergradient(init_lr=0.01, beta=beta, mode=mode)), lr_of
    )
    _moved(ours_lrs)
    assert floor_lrs == ours_lrs
    for name in params:
        np.testing.assert_array_equal(np.asarray(floor_p[name]), np.asarray(ours_p[name]))


@pytest.mark.parametrize("mode", sorted(RULES))
def test_the_torch_floor_is_adam_with_lrscheds_controller_scheduler(mode: str) -> None:
    torch = pytest.importorskip("torch")
    from benchmarks._hand_fused import torch_adam_hd
    from lrsched.adapters.torch import ControllerScheduler

    beta = RULES[mode]
    x, y = torch.tensor(X), torch.tensor(Y)

    def run(fused: bool) -> tuple[list[float], list[Any]]:
        w = torch.tensor(W0, requires_grad=True)
        b = torch.zeros(3, dtype=torch.float64, requires_grad=True)
        if fused:
            opt, sched = torch_adam_hd([w, b], 0.01, beta, mode), None
        else:
            opt = torch.optim.Adam([w, b], lr=0.01)
            sched = ControllerScheduler(opt, lrsched.Hypergradient(init_lr=0.01, beta=beta, mode=mode))
        lrs = []
        for _ in range(STEPS):
            loss = ((torch.tanh(x @ w + b) - y) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
            if sched is not None:
                sched.step(loss.item())
            lrs.append(float(opt.param_groups[0]["lr"]))
        return lrs, [w.detach().numpy(), b.detach().numpy()]

    floor_lrs, floor_p = run(True)
    ours_lrs, ours_p = run(False)
    _moved(ours_lrs)
    np.testing.assert_allclose(floor_lrs, ours_lrs, rtol=1e-12)
    for a, b in zip(floor_p, ours_p):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-15)


def test_the_floor_refuses_an_unknown_mode() -> None:
    from benchmarks import _hand_fused

    with pytest.raises(ValueError, match="mode must be one of"):
        _hand_fused.optax_adam_hd(0.01, 1e-3, "other")


def test_the_controllers_benchmark_measures_every_registered_controller() -> None:
    """``bench_controllers.py`` times each registered controller (the schedule-steering wrappers aside, which run
    another controller), so one registered later fails here until it is measured."""
    import dataclasses
    import sys
    from pathlib import Path

    from lrsched.controllers import registry

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        import bench_controllers
    finally:
        sys.path.pop(0)
    shipped = {c for c in registry().values() if c.__module__.startswith("lrsched.")}  # not other tests' own
    wrappers = {c for c in shipped if {"base", "controller"} <= {f.name for f in dataclasses.fields(c)}}
    measured = {type(c) for c in bench_controllers.CONTROLLERS.values()}
    assert len(shipped - wrappers) >= 8 and shipped - wrappers <= measured, shipped - wrappers - measured


@pytest.mark.parametrize("n", [6, 7, 20, 61, 121, 183])
def test_the_benchmarks_interval_of_a_median_is_the_binomial_order_statistics(n: int) -> None:
    """``median_ci`` (the interval of each gap to the floor) against scipy's binomial: the outermost order statistics
    whose two tails each stay within 2.5%, and the interval covers the median at least 95% of the time."""
    import sys
    from pathlib import Path

    from scipy.stats import binom  # scikit-learn's dependency

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        from bench_controllers import median_ci
    finally:
        sys.path.pop(0)
    j = max(j for j in range(n) if binom.cdf(j, n, 0.5) <= 0.025)
    values = list(np.random.default_rng(n).permutation(n).astype(float))  # the ranks, shuffled: sorting is checked
    assert median_ci(values) == (float(j), float(n - 1 - j))
    assert 1 - 2 * binom.cdf(j, n, 0.5) >= 0.95 > 1 - 2 * binom.cdf(j + 1, n, 0.5)


def test_the_benchmarks_rounds_rotate_so_each_variant_holds_each_position_equally() -> None:
    """``_common.rounds`` (every benchmark's interleaving): over ``k`` rounds each of ``k`` variants runs once at each
    position of a round, and each variant's samples come back in round order."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    try:
        from _common import rounds
    finally:
        sys.path.pop(0)
    order: list[str] = []
    counter = iter(range(1000))

    def variant(name: str) -> float:
        order.append(name)
        return float(next(counter))

    names = ["a", "b", "c", "d"]
    samples = rounds({n: (lambda n=n: variant(n)) for n in names}, 8)
    per_round = [order[i : i + 4] for i in range(0, 32, 4)]
    assert all(sorted(r) == names for r in per_round)
    for position in range(4):
        assert sorted(r[position] for r in per_round) == sorted(names * 2)
    assert all(s == sorted(s) and len(s) == 8 for s in samples.values())
