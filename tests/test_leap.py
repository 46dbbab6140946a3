"""LEAP: each coordinate's learning rate is eta_t * (1 + sigma * xi), as an Optax transformation and a torch hook.

The rule, written out here: an update ``u`` (already scaled by the LR) becomes ``u * (1 + sigma * xi)`` with
``xi ~ N(0, 1)`` per coordinate and update. So ``(u_leap / u - 1) / sigma`` must be standard normal draws, the noise
must vanish where the update does, and its scale must follow the schedule.
"""

from __future__ import annotations

import numpy as np
import pytest

import lrsched
from lrsched.adapters import leap


def _standardised(leap_updates: np.ndarray, plain: np.ndarray, sigma: float) -> np.ndarray:
    return (leap_updates / plain - 1.0) / sigma


def _assert_standard_normal(xi: np.ndarray) -> None:
    assert abs(xi.mean()) < 0.03 and xi.std() == pytest.approx(1.0, abs=0.03)
    assert np.mean(xi**4) == pytest.approx(3.0, abs=0.25)  # Gaussian kurtosis


def test_optax_each_coordinates_lr_is_perturbed_and_the_noise_follows_the_schedule() -> None:
    jax = pytest.importorskip("jax")
    jnp, optax = jax.numpy, pytest.importorskip("optax")
    from lrsched.adapters.leap import leap_optax

    sched = lrsched.step_decay(0.1, 2, 0.1)  # 0.1, 0.1, 0.01, 0.01
    sigma = 0.5
    opt = optax.chain(optax.sgd(sched), leap_optax(sigma=sigma))
    rng = np.random.default_rng(0)
    grads = {"w": jnp.asarray(rng.uniform(0.5, 2.0, 20_000)), "b": jnp.asarray(rng.uniform(-2.0, -0.5, 20_000))}
    state = opt.init(grads)
    stds = []
    for step in range(4):
        updates, state = jax.jit(opt.update)(grads, state, grads)
        for k in ("w", "b"):
            plain = -float(sched(step)) * np.asarray(grads[k])
            _assert_standard_normal(_standardised(np.asarray(updates[k]), plain, sigma))
        stds.append(float(jnp.std(updates["w"] + float(sched(step)) * grads["w"])))  # the noise alone
    # its scale is sigma * lr * |g|: follows the schedule down by 10x
    assert stds[2] / stds[0] == pytest.approx(0.1, rel=0.05) and stds[3] / stds[1] == pytest.approx(0.1, rel=0.05)
    first = opt.update(grads, opt.init(grads), grads)[0]
    again = opt.update(grads, opt.init(grads), grads)[0]
    assert bool(jnp.all(again["w"] == first["w"]))  # a seeded key: reproducible
    xi_w = _standardised(np.asarray(first["w"]), -0.1 * np.asarray(grads["w"]), sigma)
    xi_b = _standardised(np.asarray(first["b"]), -0.1 * np.asarray(grads["b"]), sigma)
    assert abs(np.corrcoef(xi_w, xi_b)[0, 1]) < 0.03  # leaves get independent noise


def test_optax_no_update_means_no_noise_and_sigma_zero_is_the_plain_optimizer() -> None:
    jax = pytest.importorskip("jax")
    jnp = jax.numpy
    from lrsched.adapters.leap import leap_optax

    t = leap_optax(sigma=2.0)
    zeros, _ = t.update(jnp.zeros(1000), t.init(None))
    assert bool(jnp.all(zeros == 0.0))  # a learning-rate perturbation moves nothing where the gradient is 0
    u = jnp.linspace(-1.0, 1.0, 101)
    plain = leap_optax(sigma=0.0)
    assert bool(jnp.all(plain.update(u, plain.init(None))[0] == u))


def test_torch_hook_rescales_each_coordinates_step_and_can_be_removed() -> None:
    torch = pytest.importorskip("torch")
    from lrsched.adapters.leap import leap_torch_hook

    sigma = 0.3
    p = torch.nn.Parameter(torch.ones(40_000, dtype=torch.float64))
    frozen = torch.nn.Parameter(torch.ones(10, dtype=torch.float64))  # no gradient: not touched
    opt = torch.optim.SGD([p, frozen], lr=0.05)
    handle = leap_torch_hook(opt, sigma=sigma, generator=torch.Generator().manual_seed(0))
    g = torch.linspace(0.5, 2.0, 40_000, dtype=torch.float64)
    p.grad = g.clone()
    opt.step()
    step = (p.detach() - 1.0).numpy()
    _assert_standard_normal(_standardised(step, -0.05 * g.numpy(), sigma))
    assert torch.equal(frozen.detach(), torch.ones(10, dtype=torch.float64))
    handle.remove()
    before = p.detach().clone()
    opt.step()
    assert torch.allclose(p.detach(), before - 0.05 * g, rtol=0, atol=1e-15)  # plain SGD again


def test_torch_hook_works_on_adams_step() -> None:
    torch = pytest.importorskip("torch")
    from lrsched.adapters.leap import leap_torch_hook

    torch.manual_seed(0)
    g = torch.rand(40_000, dtype=torch.float64) + 0.5
    plain_p = torch.nn.Parameter(torch.zeros(40_000, dtype=torch.float64))
    leap_p = torch.nn.Parameter(torch.zeros(40_000, dtype=torch.float64))
    plain, leaped = torch.optim.Adam([plain_p], lr=0.01), torch.optim.Adam([leap_p], lr=0.01)
    leap_torch_hook(leaped, sigma=0.5, generator=torch.Generator().manual_seed(1))
    plain_p.grad, leap_p.grad = g.clone(), g.clone()
    plain.step()
    leaped.step()
    _assert_standard_normal(_standardised(leap_p.detach().numpy(), plain_p.detach().numpy(), 0.5))


def test_sgd_with_leap_still_learns_least_squares() -> None:
    """Mini-batch SGD on a least-squares problem, cosine-decayed LR: with sigma = 0.5 the final loss is within 5% of
    the plain run's (the perturbation anneals with the schedule and vanishes with the gradient)."""
    torch = pytest.importorskip("torch")
    from lrsched.adapters.leap import leap_torch_hook

    gen = torch.Generator().manual_seed(0)
    X = torch.randn(512, 20, generator=gen, dtype=torch.float64)
    y = X @ torch.randn(20, generator=gen, dtype=torch.float64) + 0.1 * torch.randn(512, generator=gen).double()

    def run(sigma: float | None) -> float:
        w = torch.nn.Parameter(torch.zeros(20, dtype=torch.float64))
        opt = torch.optim.SGD([w], lr=0.05)
        if sigma is not None:
            leap_torch_hook(opt, sigma=sigma, generator=torch.Generator().manual_seed(2))
        sched = lrsched.cosine_decay(0.05, 600)
        batches = torch.Generator().manual_seed(3)
        for t in range(600):
            idx = torch.randint(0, 512, (32,), generator=batches)
            for group in opt.param_groups:
                group["lr"] = float(sched(t))
            opt.zero_grad()
            ((X[idx] @ w - y[idx]) ** 2).mean().backward()
            opt.step()
        return float(((X @ w.detach() - y) ** 2).mean())

    plain, noisy = run(None), run(0.5)
    assert plain < 0.05 and noisy == pytest.approx(plain, rel=0.05)


@pytest.mark.parametrize("sigma", [-1.0, float("nan"), float("inf"), True, "0.1"])
def test_bad_sigma_raises(sigma) -> None:
    pytest.importorskip("torch")
    from lrsched.adapters.leap import leap_torch_hook

    with pytest.raises(ValueError, match="sigma must be a finite number >= 0"):
        leap_torch_hook(None, sigma=sigma)


def test_every_public_entry_point_says_its_noise_is_one_reading_of_the_paper() -> None:
    """The parameterisation (per coordinate, relative sigma) is a reading: each entry point says so, not only the
    module docstring (help() and IDEs show the function's)."""
    for name in leap.__all__:
        obj = getattr(leap, name)
        if callable(obj) and not isinstance(obj, type):
            doc = " ".join((obj.__doc__ or "").split())
            assert "One reading of LEAP" in doc and "relative ``sigma``" in doc, name
            assert "could not be read offline" in doc, name
