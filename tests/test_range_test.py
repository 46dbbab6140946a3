"""LR range test: sweeps, smoothing, early stop, and suggestions inside an independently measured good range."""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest

import lrsched as L

BATCH = 64


def _least_squares(seed: int = 0, d: int = 10, n: int = 2048, lam_max: float = 2.0):
    """Linear regression whose Hessian X^T X / n has eigenvalues geomspace(lam_max / 20, lam_max)."""
    rng = np.random.default_rng(seed)
    q, _ = np.linalg.qr(rng.normal(size=(d, d)))
    x = rng.normal(size=(n, d))
    x = x @ np.linalg.inv(np.linalg.cholesky(x.T @ x / n)).T  # whiten exactly
    x = x @ (q * np.sqrt(np.geomspace(lam_max / 20, lam_max, d))).T
    y = x @ rng.normal(size=d) + 0.1 * rng.normal(size=n)
    return x, y


X, Y = _least_squares()


def _sgd(seed: int):
    """``train_step(lr)``: one minibatch SGD step on the least-squares model; returns the batch loss."""
    rng = np.random.default_rng(seed)
    w = np.zeros(X.shape[1])

    def train_step(lr: float) -> float:
        nonlocal w
        idx = rng.integers(0, len(X), BATCH)
        r = X[idx] @ w - Y[idx]
        w = w - lr * X[idx].T @ r / BATCH
        return float(0.5 * np.mean(r**2))

    return train_step


def _good_range(steps: int = 300) -> tuple[float, float]:
    """LRs with which plain constant-LR SGD from scratch gets within 3x of the best final loss."""
    lrs = np.geomspace(1e-3, 3.0, 40)
    finals = np.asarray([_full_loss_after(lr, steps) for lr in lrs])
    good = lrs[finals <= 3 * np.nanmin(finals)]
    return float(good.min()), float(good.max())


def _full_loss_after(lr: float, steps: int) -> float:
    """Full-data loss after ``steps`` minibatch SGD steps at a constant ``lr`` (inf if it blew up)."""
    rng = np.random.default_rng(1)
    w = np.zeros(X.shape[1])
    for _ in range(steps):
        idx = rng.integers(0, len(X), BATCH)
        w = w - lr * X[idx].T @ (X[idx] @ w - Y[idx]) / BATCH
        if not np.all(np.abs(w) < 1e6):
            return math.inf
    return float(0.5 * np.mean((X @ w - Y) ** 2))


@pytest.fixture(scope="module")
def good_range():
    lo, hi = _good_range()
    assert 0.01 < lo < hi < 2 / 2.0 * 1.01  # sanity: stability needs lr < 2 / lam_max = 1
    return lo, hi


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_suggestions_fall_inside_the_good_range(good_range, seed):
    lo, hi = good_range
    result = L.lr_range_test(_sgd(seed), min_lr=1e-4, max_lr=10.0, num_steps=100)
    assert result.stopped_early  # lrs above 1 diverge
    assert lo <= result.steepest_lr <= hi
    assert lo <= result.min_loss_lr <= hi
    assert result.suggestions == {"steepest": result.steepest_lr, "min_loss/10": result.min_loss_lr}
    assert result.suggested_lr == result.min_loss_lr


def test_linear_sweep_suggestions_fall_inside_the_good_range(good_range):
    lo, hi = good_range
    result = L.lr_range_test(_sgd(0), min_lr=1e-3, max_lr=3.0, num_steps=100, mode="linear")
    np.testing.assert_allclose(np.diff(result.lrs), (3.0 - 1e-3) / 99)
    assert lo <= result.steepest_lr <= hi and lo <= result.min_loss_lr <= hi


def test_exponential_sweep_and_bias_corrected_smoothing():
    losses = [5.0, 4.0, 4.5, 3.0, 2.0, 2.5, 1.0, 1.2]
    it = iter(losses)
    result = L.lr_range_test(lambda lr: next(it), min_lr=1e-3, max_lr=1e-1, num_steps=8, beta=0.5)
    np.testing.assert_allclose(result.lrs, [1e-3 * 100 ** (i / 7) for i in range(8)])
    expected, m = [], 0.0
    for i, loss in enumerate(losses):
        m = 0.5 * m + 0.5 * loss
        expected.append(m / (1 - 0.5 ** (i + 1)))
    np.testing.assert_allclose(result.ema, expected)
    np.testing.assert_array_equal(result.losses, losses)
    # The suggestions read a centred mean of width 2 * round(0.5 / (1 - beta)) + 1 = 3, cut at the ends.
    centred = [np.mean(losses[max(i - 1, 0) : i + 2]) for i in range(len(losses))]
    np.testing.assert_allclose(result.smoothed, centred)
    assert not result.stopped_early and result.stop_reason == "completed"
    assert result.min_loss_lr == pytest.approx(result.lrs[int(np.argmin(centred))] / 10)


def test_stops_early_on_divergence_and_on_non_finite_loss():
    seen = []

    def exploding(lr):
        seen.append(lr)
        return 1.0 if lr < 1.0 else 100.0

    result = L.lr_range_test(exploding, 1e-3, 1e3, 61, beta=0.0)
    assert result.stopped_early and "4 x its minimum" in result.stop_reason
    assert len(seen) == len(result.lrs) < 61 and seen[-1] >= 1.0  # stopped at the first blown-up step
    assert np.isnan(result.smoothed[-1]) and result.ema[-1] == 100.0  # the diverged point is left out
    assert result.min_loss_lr < 0.1
    nan_at = iter([1.0, 0.5, float("nan"), 0.1])
    result = L.lr_range_test(lambda lr: next(nan_at), 1e-3, 1.0, 4)
    assert result.stop_reason == "loss is not finite" and len(result.lrs) == 3


def test_train_step_may_return_arrays_or_tensors():
    torch = pytest.importorskip("torch")
    result = L.lr_range_test(lambda lr: torch.tensor(1.0 / (1.0 + lr)), 1e-3, 1.0, 10)
    assert result.losses.dtype == np.float64 and len(result.losses) == 10


def test_torch_model_range_test_finds_a_stable_lr():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    xt, yt = torch.tensor(X, dtype=torch.float32), torch.tensor(Y, dtype=torch.float32)
    model = torch.nn.Linear(X.shape[1], 1, bias=False)
    torch.nn.init.zeros_(model.weight)
    opt = torch.optim.SGD(model.parameters(), lr=0.0)
    gen = torch.Generator().manual_seed(0)

    def train_step(lr):
        for group in opt.param_groups:
            group["lr"] = lr
        idx = torch.randint(0, len(xt), (BATCH,), generator=gen)
        loss = 0.5 * torch.mean((model(xt[idx]).squeeze(1) - yt[idx]) ** 2)
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.item()

    result = L.lr_range_test(train_step, 1e-4, 10.0, 100)
    assert result.stopped_early
    assert 0.01 < result.min_loss_lr < 1.0 and 0.01 < result.steepest_lr < 1.0


def test_result_plots_itself():
    it = iter(np.linspace(3.0, 1.0, 20))
    result = L.lr_range_test(lambda lr: next(it), 1e-4, 1.0, 20)
    ax = result.plot()
    assert ax.get_xscale() == "log"
    labels = ax.get_legend_handles_labels()[1]
    assert labels[:2] == ["loss", "smoothed loss"] and labels[2].startswith("steepest")
    plt.close("all")


def test_bad_arguments_raise():
    step = lambda lr: 1.0  # noqa: E731
    with pytest.raises(ValueError, match="min_lr"):
        L.lr_range_test(step, 1.0, 0.1, 10)
    with pytest.raises(ValueError, match="num_steps"):
        L.lr_range_test(step, 1e-3, 1.0, 1)
    with pytest.raises(ValueError, match="mode"):
        L.lr_range_test(step, 1e-3, 1.0, 10, mode="cubic")
    with pytest.raises(ValueError, match="beta"):
        L.lr_range_test(step, 1e-3, 1.0, 10, beta=1.0)
    with pytest.raises(TypeError, match="callable"):
        L.lr_range_test(3, 1e-3, 1.0, 10)
