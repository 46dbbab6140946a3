"""LEAP: parameter noise whose scale follows the LR, as an Optax transformation and a torch optimizer hook."""

from __future__ import annotations

import numpy as np
import pytest

import lrsched


def test_optax_noise_scale_follows_the_schedule() -> None:
    jax = pytest.importorskip("jax")
    jnp, optax = jax.numpy, pytest.importorskip("optax")
    from lrsched.adapters.leap import leap_optax

    sched = lrsched.step_decay(0.1, 2, 0.1)  # 0.1, 0.1, 0.01, 0.01
    opt = optax.chain(optax.sgd(sched), leap_optax(sched, sigma=2.0))
    params = {"w": jnp.zeros(20_000), "b": jnp.zeros(20_000)}
    state = opt.init(params)
    stds = []
    for _ in range(4):
        updates, state = jax.jit(opt.update)(jax.tree.map(jnp.zeros_like, params), state, params)
        stds.append(float(jnp.std(jnp.concatenate([updates["w"], updates["b"]]))))
    np.testing.assert_allclose(stds, [0.2, 0.2, 0.02, 0.02], rtol=0.03)
    again = opt.update(jax.tree.map(jnp.zeros_like, params), opt.init(params), params)[0]
    first = opt.update(jax.tree.map(jnp.zeros_like, params), opt.init(params), params)[0]
    assert bool(jnp.all(again["w"] == first["w"]))  # a seeded key: reproducible
    assert not bool(jnp.all(first["w"] == first["b"]))  # leaves get independent noise


def test_optax_exponent_half_makes_the_variance_follow_the_lr() -> None:
    jax = pytest.importorskip("jax")
    from lrsched.adapters.leap import leap_optax

    t = leap_optax(0.04, sigma=1.0, exponent=0.5)
    updates, _ = t.update(jax.numpy.zeros(40_000), t.init(None))
    assert float(jax.numpy.std(updates)) == pytest.approx(0.2, rel=0.03)


def test_torch_hook_adds_noise_after_each_step_and_can_be_removed() -> None:
    torch = pytest.importorskip("torch")
    from lrsched.adapters.leap import leap_torch_hook

    p = torch.nn.Parameter(torch.zeros(40_000, dtype=torch.float64))
    opt = torch.optim.SGD([p], lr=0.05)
    handle = leap_torch_hook(opt, sigma=3.0, generator=torch.Generator().manual_seed(0))
    p.grad = torch.zeros_like(p)
    opt.step()
    assert float(p.detach().std()) == pytest.approx(0.15, rel=0.03)
    handle.remove()
    before = p.detach().clone()
    opt.step()
    assert torch.equal(p.detach(), before)


def test_bad_settings_raise() -> None:
    pytest.importorskip("torch")
    from lrsched.adapters.leap import leap_torch_hook

    with pytest.raises(ValueError, match="sigma must be a number >= 0"):
        leap_torch_hook(None, sigma=-1.0)
