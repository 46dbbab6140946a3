"""Gap-aware discriminator LR: the paper's scaling function, the ideal losses, and a small GAN trained with it."""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrsched.controllers import GapAware
from lrsched.controllers.gap_aware import IDEAL_LOSSES, gap_scale


def paper_scale(loss, ideal, x_min, x_max, h_min=0.1, f_max=2.0):
    """The scaling function as the paper states it, with clips written out."""
    x = abs(loss - ideal)
    if loss > ideal:
        return float(np.clip(f_max ** (x / x_max), 1.0, f_max))
    return float(np.clip(h_min ** (x / x_min), h_min, 1.0))


@pytest.mark.parametrize("loss", [0.0, 0.5, 1.2, 1.30, math.log(4), 1.45, 1.5, 1.6, 3.0, 100.0])
def test_scaling_function_is_the_papers(loss: float) -> None:
    ideal = math.log(4)
    assert gap_scale(loss, ideal, 0.1 * ideal, 0.1 * ideal, 0.1, 2.0) == pytest.approx(
        paper_scale(loss, ideal, 0.1 * ideal, 0.1 * ideal), rel=1e-12
    )


def test_scale_ends_and_monotonicity() -> None:
    g = GapAware(ideal_loss=1.0, x_min=0.2, x_max=0.4, h_min=0.25, f_max=3.0)
    assert g.scale(1.0) == 1.0
    assert g.scale(1.4) == pytest.approx(3.0) and g.scale(5.0) == 3.0
    assert g.scale(0.8) == pytest.approx(0.25) and g.scale(-5.0) == 0.25
    xs = np.linspace(-1, 3, 401)
    assert np.all(np.diff([g.scale(float(x)) for x in xs]) >= -1e-15)  # rises with the discriminator loss


def test_ideal_losses_are_the_losses_of_the_optimal_discriminator_of_a_matched_gan() -> None:
    """At equilibrium the optimal discriminator outputs probability 1/2 (critic value 0) for every input."""
    p, critic = 0.5, 0.0
    bce = -math.log(p) - math.log(1 - p)
    assert IDEAL_LOSSES["bce"] == pytest.approx(bce)
    assert IDEAL_LOSSES["bce_mean"] == pytest.approx(bce / 2)
    assert IDEAL_LOSSES["lsgan"] == pytest.approx((p - 1) ** 2 + p**2)
    assert IDEAL_LOSSES["hinge"] == pytest.approx(max(0, 1 - critic) + max(0, 1 + critic))
    assert IDEAL_LOSSES["wasserstein"] == critic - critic


def test_the_ema_starts_at_the_ideal_loss_and_follows_the_losses() -> None:
    g = GapAware(init_lr=1.0, ema_decay=0.9)
    s = g.init()
    assert s.ema == g.ideal_loss and s.lr == 1.0
    ema = g.ideal_loss
    for loss in (2.0, 1.0, math.nan, 0.5):
        s = g.update(s, loss)
        ema = ema if math.isnan(loss) else 0.9 * ema + 0.1 * loss
        assert s.ema == pytest.approx(ema) and s.lr == pytest.approx(g.scale(ema))


def test_a_2d_mixture_gan_trains_with_the_gap_aware_discriminator_lr() -> None:
    """Eight Gaussians on a ring, 32-unit MLPs, Adam(b1=0.5), 2000 jitted steps; the discriminator's LR (2e-3)
    is either constant or scaled by GapAware (BCE, ideal log 4); both runs in one vmap. Measured here (seed 0):
    mean discriminator loss of the last 500 steps 1.22 with GapAware vs 0.78 at the constant LR (the constant-LR
    discriminator wins), 6 of 8 modes covered by each. In unbatched runs of the same setup (seeds 0-2): 1.17-1.26
    vs 0.62-0.79, modes 7 vs 5-7, but the gap-aware samples were more diffuse (12-15 % within 0.3 of a centre vs
    41-67 %) -- the price of a weaker discriminator. Asserted: the loss is held nearer log 4, and >= 5 modes."""
    jax = pytest.importorskip("jax")
    jnp, optax = jax.numpy, pytest.importorskip("optax")
    centers = 2.0 * jnp.array([[math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)] for k in range(8)])
    gap, lr_d, batch = GapAware(init_lr=2e-3, ideal_loss=IDEAL_LOSSES["bce"]), 2e-3, 64

    def init_mlp(key, sizes):
        keys = jax.random.split(key, len(sizes))
        return [
            (jax.random.normal(k, (a, b)) * math.sqrt(2 / a), jnp.zeros(b)) for k, a, b in zip(keys, sizes, sizes[1:])
        ]

    def mlp(params, x):
        for w, b in params[:-1]:
            x = jax.nn.relu(x @ w + b)
        return x @ params[-1][0] + params[-1][1]

    def bce(logits, label):
        return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, jnp.full_like(logits, label)))

    opt_g = optax.adam(1e-3, b1=0.5)
    opt_d = optax.inject_hyperparams(optax.adam)(learning_rate=lr_d, b1=0.5)

    def train(use_gap):
        kg, kd, key = jax.random.split(jax.random.PRNGKey(0), 3)
        gen, dis = init_mlp(kg, [4, 32, 32, 2]), init_mlp(kd, [2, 32, 32, 1])
        carry = (gen, dis, opt_g.init(gen), opt_d.init(dis), gap.init(like=jnp.zeros(())), key)

        def step(carry, _):
            gen, dis, sg, sd, sc, key = carry
            key, k1, k2, k3 = jax.random.split(key, 4)
            real = centers[jax.random.randint(k1, (batch,), 0, 8)] + 0.05 * jax.random.normal(k2, (batch, 2))
            z = jax.random.normal(k3, (batch, 4))
            fake = mlp(gen, z)
            loss_d, grad_d = jax.value_and_grad(lambda d: bce(mlp(d, real), 1.0) + bce(mlp(d, fake), 0.0))(dis)
            sd.hyperparams["learning_rate"] = jnp.where(use_gap, gap.lr(sc), lr_d)
            upd, sd = opt_d.update(grad_d, sd, dis)
            dis = optax.apply_updates(dis, upd)
            sc = gap.update(sc, loss_d)
            grad_g = jax.grad(lambda g: bce(mlp(dis, mlp(g, z)), 1.0))(gen)
            upd, sg = opt_g.update(grad_g, sg, gen)
            return (optax.apply_updates(gen, upd), dis, sg, sd, sc, key), loss_d

        (gen, *_), losses = jax.lax.scan(step, carry, None, length=2000)
        samples = mlp(gen, jax.random.normal(jax.random.PRNGKey(99), (2000, 4)))
        dist = jnp.linalg.norm(samples[:, None, :] - centers[None], axis=-1)
        return losses, dist.min(1), dist.argmin(1)

    losses, near, idx = jax.jit(jax.vmap(train))(jnp.array([True, False]))
    late = np.asarray(losses[:, -500:]).mean(1)
    modes = [int((np.bincount(np.asarray(idx[i][near[i] < 0.3]), minlength=8) >= 20).sum()) for i in range(2)]
    ideal = IDEAL_LOSSES["bce"]
    print(f"late discriminator loss gap-aware {late[0]:.3f} constant {late[1]:.3f}; modes {modes}")
    assert abs(late[0] - ideal) < 0.5 * abs(late[1] - ideal)  # held nearer the equilibrium loss
    assert late[0] > 1.0 and modes[0] >= 5, (late, modes)  # and the GAN covers most modes
