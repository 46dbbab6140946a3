"""Hypergradient descent: the paper's update equations written out independently, and the quadratic behaviour.

The paper loops below follow the algorithm boxes of Baydin et al. (ICLR 2018) with the raw formulas
(``alpha_t = alpha_{t-1} + beta g_t . g_{t-1}`` for SGD-HD, ``- beta g_t . u_{t-1}`` for SGDN-HD and Adam-HD).
The controller loops compute the protocol's signal from parameter differences only,
``h_t = g_t . (theta_t - theta_{t-1}) / lr_{t-1}``, and let :class:`Hypergradient` update the LR.
"""

from __future__ import annotations

import numpy as np
import pytest

from lrsched.controllers import Hypergradient

# A smooth non-quadratic test function: logistic regression on fixed synthetic data (+ small L2).
_RNG = np.random.default_rng(3)
_X = _RNG.normal(size=(64, 5))
_Y = (_X @ np.array([1.0, -2.0, 0.5, 0.0, 1.5]) + 0.3 * _RNG.normal(size=64) > 0).astype(float)


def _grad(w: np.ndarray) -> np.ndarray:
    p = 1.0 / (1.0 + np.exp(-_X @ w))
    return _X.T @ (p - _Y) / len(_Y) + 1e-3 * w


# -- the paper's loops (raw formulas) ---------------------------------------------------------------
def paper_sgd_hd(alpha: float, beta: float, steps: int) -> list[float]:
    w, g_prev, alphas = np.zeros(5), np.zeros(5), []
    for _ in range(steps):
        g = _grad(w)
        alpha = alpha + beta * float(g @ g_prev)
        w = w - alpha * g
        g_prev = g
        alphas.append(alpha)
    return alphas


def paper_sgdn_hd(alpha: float, beta: float, mu: float, steps: int) -> list[float]:
    w, v, u_prev, alphas = np.zeros(5), np.zeros(5), np.zeros(5), []
    for _ in range(steps):
        g = _grad(w)
        alpha = alpha - beta * float(g @ u_prev)
        v = mu * v + g
        u = -(g + mu * v)
        w = w + alpha * u
        u_prev = u
        alphas.append(alpha)
    return alphas


def paper_adam_hd(alpha: float, beta: float, steps: int, b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
    w, m, v, u_prev, alphas = np.zeros(5), np.zeros(5), np.zeros(5), np.zeros(5), []
    for t in range(1, steps + 1):
        g = _grad(w)
        alpha = alpha - beta * float(g @ u_prev)
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        u = -(m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        w = w + alpha * u
        u_prev = u
        alphas.append(alpha)
    return alphas


# -- the same optimizers steered by the controller through the protocol's signal ---------------------
def controller_run(hd: Hypergradient, direction, steps: int) -> list[float]:
    """``direction(g, t) -> d`` is the optimizer's update per unit LR; the signal comes from parameter changes."""
    state, w, w_prev, lr_prev, alphas = hd.init(), np.zeros(5), np.zeros(5), None, []
    for t in range(1, steps + 1):
        g = _grad(w)
        d_prev = np.zeros(5) if lr_prev is None else (w - w_prev) / lr_prev
        signals = {
            "grad_dot_prev_direction": float(g @ d_prev),
            "grad_norm": float(np.linalg.norm(g)),
            "prev_direction_norm": float(np.linalg.norm(d_prev)),
        }
        state = hd.update(state, signals)  # the paper's order: new LR first, then the step with it
        lr = hd.lr(state)
        w_prev, w, lr_prev = w, w + lr * direction(g, t), lr
        alphas.append(lr)
    return alphas


def _sgd():
    return lambda g, t: -g


def _sgdn(mu: float):
    v = np.zeros(5)

    def direction(g, t):
        nonlocal v
        v = mu * v + g
        return -(g + mu * v)

    return direction


def _adam(b1: float = 0.9, b2: float = 0.999, eps: float = 1e-8):
    m, v = np.zeros(5), np.zeros(5)

    def direction(g, t):
        nonlocal m, v
        m = b1 * m + (1 - b1) * g
        v = b2 * v + (1 - b2) * g * g
        return -(m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)

    return direction


@pytest.mark.parametrize(
    ("variant", "paper", "direction", "alpha", "beta"),
    [
        ("SGD-HD", lambda a, b: paper_sgd_hd(a, b, 300), _sgd, 0.1, 0.05),
        ("SGDN-HD", lambda a, b: paper_sgdn_hd(a, b, 0.9, 300), lambda: _sgdn(0.9), 0.01, 0.01),
        ("Adam-HD", lambda a, b: paper_adam_hd(a, b, 300), _adam, 0.01, 1e-4),
    ],
)
def test_the_controller_reproduces_the_papers_variants(variant, paper, direction, alpha, beta) -> None:
    expected = paper(alpha, beta)
    got = controller_run(Hypergradient(init_lr=alpha, beta=beta), direction(), 300)
    assert max(expected) > 1.2 * alpha or min(expected) < alpha / 1.2, f"{variant}: the LR must move"
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def paper_sgd_hd_multiplicative(alpha: float, beta: float, steps: int) -> list[float]:
    """The paper's multiplicative rule: alpha_t = alpha_{t-1} (1 + beta cos(g_t, g_{t-1}))."""
    w, g_prev, alphas = np.zeros(5), None, []
    for _ in range(steps):
        g = _grad(w)
        if g_prev is not None:
            alpha = alpha * (1 + beta * float(g @ g_prev) / (np.linalg.norm(g) * np.linalg.norm(g_prev)))
        w = w - alpha * g
        g_prev = g
        alphas.append(alpha)
    return alphas


def test_the_multiplicative_rule_is_the_papers_normalised_update() -> None:
    expected = paper_sgd_hd_multiplicative(0.1, 0.02, 300)
    got = controller_run(Hypergradient(init_lr=0.1, beta=0.02, mode="multiplicative"), _sgd(), 300)
    assert max(expected) > 0.15
    np.testing.assert_allclose(got, expected, rtol=1e-9)


# -- behaviour on a noiseless quadratic f = 0.5 x^T A x, driven by hand with GD (d = -g) ----------------
def _gd_on_quadratic(hd: Hypergradient, lam: np.ndarray, x0: np.ndarray, steps: int):
    state, x, d, lrs, losses = hd.init(), x0.copy(), np.zeros_like(x0), [], []
    for _ in range(steps):
        g = lam * x
        signals = {
            "grad_dot_prev_direction": float(g @ d),
            "grad_norm": float(np.linalg.norm(g)),
            "prev_direction_norm": float(np.linalg.norm(d)),
        }
        state = hd.update(state, signals)
        d = -g
        x = x + hd.lr(state) * d
        lrs.append(hd.lr(state))
        losses.append(0.5 * float(lam * x @ x))
    return np.array(lrs), np.array(losses)


@pytest.mark.parametrize("lam", [0.5, 4.0])
def test_isotropic_quadratic_the_multiplicative_lr_converges_to_the_best_constant_lr(lam: float) -> None:
    """With A = lam * I the best constant LR is 1/lam (= 2/(L+mu)). The multiplicative (normalised) rule is
    scale-free: from 10x too small it ends within its step band (1 +- beta)^2 of 1/lam."""
    beta, x0 = 0.1, np.array([1.0, -2.0, 0.5])
    hd = Hypergradient(init_lr=0.1 / lam, beta=beta, mode="multiplicative")
    lrs, _ = _gd_on_quadratic(hd, np.full(3, lam), x0, 60)
    assert (1 - beta) ** 2 / lam <= lrs[-1] <= (1 + beta) ** 2 / lam


@pytest.mark.parametrize("lam", [0.5, 4.0])
def test_isotropic_quadratic_the_additive_lr_rises_toward_it_without_overshoot(lam: float) -> None:
    """The additive rule with beta * lam * ||g_0||^2 = 0.5 rises monotonically toward 1/lam, never passes it, and
    closes more than half the gap (measured: 73 %); it stalls short of 1/lam because the noiseless hypergradient
    (1 - alpha lam) ||g||^2 vanishes as fast as the gradient does."""
    x0 = np.array([1.0, -2.0, 0.5])
    hd = Hypergradient(init_lr=0.1 / lam, beta=0.5 / (lam * lam**2 * float(x0 @ x0)))
    lrs, _ = _gd_on_quadratic(hd, np.full(3, lam), x0, 60)
    assert np.all(np.diff(lrs) >= 0) and lrs.max() < 1 / lam
    assert 1 - lrs[-1] * lam < 0.5 * (1 - 0.1)


@pytest.mark.parametrize("seed", range(3))
def test_ill_conditioned_quadratic_the_additive_lr_rises_into_the_stable_region(seed: int) -> None:
    """Eigenvalues in [mu, L] = [1, 10] (best constant LR 2/(L+mu) = 0.18, divergence beyond 2/L = 0.2),
    from alpha_0 = 0.1 * 2/(L+mu), beta = 0.3 * (2/(L+mu)) / ||g_0||^2, 500 GD steps. Checked: the LR never
    leaves the stable region (< 2/L), ends at >= 0.8/L (measured 0.86-0.98/L, i.e. 0.47-0.54 of the best
    constant LR: the noiseless hypergradient vanishes with g, so the LR stalls below 2/(L+mu)), and the loss
    ends at least 1e10 below the run at the constant alpha_0."""
    rng = np.random.default_rng(seed)
    lam = np.sort(np.concatenate([[1.0, 10.0], rng.uniform(1.0, 10.0, 6)]))
    mu, L = lam[0], lam[-1]
    best = 2 / (L + mu)
    x0 = rng.normal(size=lam.size)
    g0 = lam * x0
    hd = Hypergradient(init_lr=0.1 * best, beta=0.3 * best / float(g0 @ g0))
    lrs, losses = _gd_on_quadratic(hd, lam, x0, 500)
    assert lrs.max() < 2 / L
    assert lrs[-1] >= 0.8 / L
    x_const = x0 * (1 - 0.1 * best * lam) ** 500
    assert losses[-1] < 1e-10 * 0.5 * float(lam * x_const @ x_const)


# -- the paper's rule is unclipped ---------------------------------------------------------------------------------
def test_the_default_is_the_papers_unclipped_rule_and_min_lr_zero_is_the_documented_clip() -> None:
    """Hand-computed: alpha_0 = 0.1, beta = 1, h = 0.3, 0.2, -0.5 gives 0.1 - 0.3 = -0.2, -0.2 - 0.2 = -0.4,
    -0.4 + 0.5 = 0.1 by the paper's rule (no clip); with min_lr=0.0: 0.0, 0.0, 0.5."""
    hs = [0.3, 0.2, -0.5]

    def run(hd: Hypergradient) -> list[float]:
        state, out = hd.init(), []
        for h in hs:
            state = hd.update(state, {"grad_dot_prev_direction": h})
            out.append(hd.lr(state))
        return out

    assert Hypergradient().min_lr is None
    np.testing.assert_allclose(run(Hypergradient(init_lr=0.1, beta=1.0)), [-0.2, -0.4, 0.1], rtol=1e-12)
    assert run(Hypergradient(init_lr=0.1, beta=1.0, min_lr=0.0)) == [0.0, 0.0, 0.5]
    with pytest.raises(ValueError, match="lr"):
        Hypergradient(init_lr=-0.1)  # the initial LR is still >= 0
