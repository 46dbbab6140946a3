"""GreedyLR on top of a schedule: ``lr_t = base(t) * g_t``, acting from ``start_step``."""

from __future__ import annotations

import json

import pytest
from test_greedy_streams import streams

import lrsched

BASE = lrsched.warmup(lrsched.cosine_decay(1e-3, 200, end_value=1e-5), warmup_steps=20)
CONTROLLER = lrsched.GreedyLR(patience=2, factor=0.8, min_lr=0.25, max_lr=2.0, window=3)


def _independent(values: list[float], start: int) -> list[float]:
    """base(t) times a separate GreedyLR multiplier fed only the values of steps >= start."""
    g = lrsched.greedy(CONTROLLER, init_lr=1.0)
    lrs = []
    for t, v in enumerate(values):
        if t >= start:
            g(v)
        lrs.append(BASE(t + 1) * g.lr)
    return lrs


@pytest.mark.parametrize("stream", ["noisy", "oscillating", "monotone"])
def test_lr_is_base_times_a_multiplier_that_starts_after_warmup(stream: str) -> None:
    values = streams(200)[stream]
    sched = lrsched.greedy_on(BASE, CONTROLLER, start_step=20)
    assert sched.lr == BASE(0)
    lrs = [sched(v) for v in values]
    assert lrs == _independent(values, start=20)
    assert lrs[:20] == [BASE(t) for t in range(1, 21)]  # the warmup is untouched
    assert sched.t == len(values)


def test_pure_form_equals_the_closure_and_round_trips_its_config() -> None:
    on = lrsched.GreedyOn(BASE, CONTROLLER, start_step=20)
    assert lrsched.from_config(json.loads(json.dumps(on.to_config()))) == on
    values = streams(120)["noisy"]
    sched = lrsched.GreedyOnScheduler(on)
    state = on.init()
    for v in values:
        state = on.update(state, v)
        assert on.lr(state) == sched(v)
    assert state == sched.state


def test_jitted_scan_matches_python() -> None:
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    on = lrsched.GreedyOn(BASE, CONTROLLER, start_step=20)
    values = streams(120)["noisy"]
    sched = lrsched.GreedyOnScheduler(on)
    expected = [sched(v) for v in values]

    def body(s: lrsched.GreedyState, v: object) -> tuple[lrsched.GreedyState, object]:
        s = on.update(s, v)
        return s, on.lr(s)

    with jax.enable_x64(True):
        _, lrs = jax.jit(lambda s, xs: jax.lax.scan(body, s, xs))(
            on.init(like=jnp.zeros((), jnp.float64)), jnp.asarray(values)
        )
        assert jnp.allclose(lrs, jnp.asarray(expected), rtol=1e-12, atol=0)


def test_resume_from_state_dict_continues_identically() -> None:
    values = streams(150)["oscillating"]
    full = lrsched.greedy_on(BASE, CONTROLLER, start_step=20)
    expected = [full(v) for v in values]
    first = lrsched.greedy_on(BASE, CONTROLLER, start_step=20)
    out = [first(v) for v in values[:15]]  # cut inside the warmup
    second = lrsched.GreedyOnScheduler(lrsched.from_config(first.to_config()))
    second.load_state_dict(json.loads(json.dumps(first.state_dict())))
    out += [second(v) for v in values[15:77]]
    third = lrsched.GreedyOnScheduler(lrsched.from_config(second.to_config()))
    third.load_state_dict(second.state_dict())
    out += [third(v) for v in values[77:]]
    assert out == expected


def test_per_group_multipliers() -> None:
    controller = lrsched.GreedyLR(init_lr=(1.0, 0.5), min_lr=(0.1, 0.1), max_lr=(4.0, 0.5), patience=0, factor=0.5)
    sched = lrsched.greedy_on(lrsched.constant(0.1), controller)
    assert sched.lr == (0.1, 0.05)
    assert sched(1.0) == (0.1 * 2.0, 0.05)  # the second group sits at its max multiplier
    assert sched(2.0) == (0.1, 0.1 * 0.25)


def test_errors() -> None:
    with pytest.raises(ValueError, match=r"start_step must be in \[0, 2147483647\], got -1"):
        lrsched.greedy_on(BASE, start_step=-1)
    with pytest.raises(TypeError, match="controller must be a GreedyLR"):
        lrsched.GreedyOn(BASE, {"patience": 1})  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="unknown key"):
        lrsched.from_config({**lrsched.GreedyOn(BASE).to_config(), "start": 3})


def test_pickle_round_trip() -> None:
    import pickle

    values = streams(80)["noisy"]
    sched = lrsched.greedy_on(BASE, CONTROLLER, start_step=20)
    for v in values[:50]:
        sched(v)
    clone = pickle.loads(pickle.dumps(sched))
    assert [clone(v) for v in values[50:]] == [sched(v) for v in values[50:]]


@pytest.mark.parametrize("bad", [[], "", 3, None])
def test_a_greedy_on_config_with_a_bad_controller_names_the_field(bad: object) -> None:
    config = {"name": "greedy_on", "base": {"name": "constant", "value": 0.1}, "controller": bad}
    with pytest.raises((TypeError, ValueError), match=r"config: greedy_on: controller must be"):
        lrsched.from_config(config)
