"""Hypergradient through the torch and Optax adapters against the paper's SGD-HD recursion, written in NumPy.

Baydin et al. (ICLR 2018), SGD-HD: ``g_t = grad f(theta_t) + wd * theta_t`` (the authors' optimizers add the
coupled weight decay first), ``h_t = -g_t . g_{t-1}`` (``g_{-1} = 0``), ``alpha_t = alpha_{t-1} - beta h_t``,
``theta_{t+1} = theta_t - alpha_t g_t``: the new alpha steps at once ("paper" timing). The adapters' default steps
update ``t`` with ``alpha_{t-1}`` ("late" timing: the LR is decided after the update). Both are written out here;
``clip`` is the documented ``min_lr=0.0`` option (the paper has none).
"""

from __future__ import annotations

import numpy as np
import pytest

import lrsched

# Logistic regression on fixed synthetic data; features scaled by 5, so alpha_0 = 10 overshoots.
_RNG = np.random.default_rng(3)
_X = _RNG.normal(size=(64, 5))
_Y = (_X @ np.array([1.0, -2.0, 0.5, 0.0, 1.5]) + 0.3 * _RNG.normal(size=64) > 0).astype(float)


def _grad(w: np.ndarray, scale: float) -> np.ndarray:
    x = scale * _X
    return x.T @ (0.5 + 0.5 * np.tanh(0.5 * (x @ w)) - _Y) / len(_Y)  # the sigmoid, without overflow


def paper_sgd_hd(
    alpha: float, beta: float, steps: int, *, scale: float, wd: float = 0.0, clip: bool = False, timing: str
) -> list[float]:
    """The LR each update steps with."""
    w, g_prev, applied = np.zeros(5), np.zeros(5), []
    for _ in range(steps):
        g = _grad(w, scale) + wd * w
        h = -float(g @ g_prev)
        new = alpha - beta * h
        new = max(new, 0.0) if clip else new
        if timing == "paper":
            alpha = new
        applied.append(alpha)
        w = w - alpha * g
        alpha, g_prev = new, g
    return applied


def torch_run(alpha: float, beta: float, steps: int, *, scale: float, wd: float = 0.0, **kw) -> list[float]:
    torch = pytest.importorskip("torch")
    from lrsched.adapters.torch import ControllerScheduler

    x, y = torch.tensor(scale * _X), torch.tensor(_Y)
    w = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    opt = torch.optim.SGD([w], lr=alpha, weight_decay=wd)
    sched = ControllerScheduler(opt, lrsched.Hypergradient(beta=beta, **kw))
    applied = []
    for _ in range(steps):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w, y)
        loss.backward()
        applied.append(float(opt.param_groups[0]["lr"]))
        opt.step()
        sched.step(loss.item())
    return applied


def test_torch_lr_zero_is_not_absorbing_it_recovers_as_the_papers_recursion() -> None:
    """alpha_0 = 10, beta = 100, min_lr = 0.0: the recursion clips to 0 at 13 of 200 updates and leaves 0 each
    time (alpha_200 = 3.17); torch used to measure 0/0 there and stay at 0 for good. rtol 1e-6: torch reads the
    direction from parameter differences, and the clipped dynamics amplify their rounding (measured 4.7e-7)."""
    expected = paper_sgd_hd(10.0, 100.0, 200, scale=5.0, clip=True, timing="late")
    zeros = sum(a == 0.0 for a in expected)
    assert 5 <= zeros <= 20 and expected[-1] > 1.0
    got = torch_run(10.0, 100.0, 200, scale=5.0, min_lr=0.0)
    assert sum(a == 0.0 for a in got) == zeros
    np.testing.assert_allclose(got, expected, rtol=1e-6)


def test_torch_unclipped_lr_goes_negative_and_follows_the_papers_recursion() -> None:
    """The default (no min_lr): 6 of the first 100 LRs are negative, as the recursion's."""
    expected = paper_sgd_hd(10.0, 100.0, 100, scale=5.0, timing="late")
    assert sum(a < 0.0 for a in expected) == 6
    got = torch_run(10.0, 100.0, 100, scale=5.0)
    np.testing.assert_allclose(got, expected, rtol=1e-9)


def test_torch_signal_includes_sgds_coupled_weight_decay() -> None:
    """SGD(weight_decay=0.5): the recursion with g_t + wd theta_t; the one without the decay differs by > 1%."""
    expected = paper_sgd_hd(0.5, 5.0, 100, scale=1.0, wd=0.5, timing="late")
    without = paper_sgd_hd(0.5, 5.0, 100, scale=1.0, timing="late")
    assert abs(expected[-1] / without[-1] - 1) > 0.01
    got = torch_run(0.5, 5.0, 100, scale=1.0, wd=0.5)
    np.testing.assert_allclose(got, expected, rtol=1e-9)


@pytest.mark.parametrize(
    ("name", "kw", "coupled"),
    [
        ("SGD", {}, 0.0),
        ("SGD", {"momentum": 0.9, "nesterov": True, "weight_decay": 0.1}, 0.1),
        ("SGD", {"momentum": 0.9, "dampening": 0.3, "maximize": True}, 0.0),
        ("Adam", {"weight_decay": 0.1, "amsgrad": True}, 0.1),
        ("AdamW", {"weight_decay": 0.1}, 0.0),
    ],
)
def test_torch_direction_after_an_update_at_lr_zero_is_the_optimizers_own(name: str, kw: dict, coupled: float) -> None:
    """Three updates at LR 0.1, one at LR 0, then the signal: h = g . d with d the change per unit LR that the same
    optimizer (a copy, its own code) makes at LR 1 from the state before the LR-0 update; g includes SGD's and
    Adam's coupled weight decay (not AdamW's)."""
    import copy

    torch = pytest.importorskip("torch")
    from lrsched.adapters._torch_device import measure

    wanted = ("grad_dot_prev_direction", "prev_direction_norm")
    p = torch.linspace(-1.0, 2.0, 7, dtype=torch.float64).requires_grad_()
    opt = getattr(torch.optim, name)([p], lr=0.1, **kw)
    prev = None
    for lr in (0.1, 0.1, 0.1, 0.0):
        p.grad = p.detach() ** 3 - 1.0
        opt.param_groups[0]["lr"] = lr
        if lr == 0.0:
            twin_p, twin = copy.deepcopy([p, opt])
            twin.param_groups[0]["lr"] = 1.0
            before = twin_p.detach().clone()
            twin.step()
            d = (twin_p.detach() - before).numpy()
        _, prev = measure(wanted, [p], prev, opt)
        opt.step()
    p.grad = p.detach() ** 3 - 1.0
    signals, _ = measure(wanted, [p], prev, opt)
    g = (p.grad + coupled * p.detach()).numpy()
    assert np.abs(d).max() > 0.1
    np.testing.assert_allclose(float(signals["grad_dot_prev_direction"]), g @ d, rtol=1e-12)
    np.testing.assert_allclose(float(signals["prev_direction_norm"]), np.linalg.norm(d), rtol=1e-12)


def optax_run(alpha: float, beta: float, steps: int, *, scale: float, wd: float = 0.0, timing: str) -> list[float]:
    """SGD-HD as ``chain(add_decayed_weights(wd), controlled(identity(), Hypergradient))`` under ``jax.jit``."""
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    import jax.numpy as jnp

    from lrsched.adapters.optax import controlled

    x, y = jnp.asarray(scale * _X, jnp.float32), jnp.asarray(_Y, jnp.float32)
    hd = lrsched.Hypergradient(init_lr=alpha, beta=beta)
    opt = optax.chain(optax.add_decayed_weights(wd), controlled(optax.identity(), hd, timing=timing))

    def loss_fn(w):
        return jnp.mean(optax.sigmoid_binary_cross_entropy(x @ w, y))

    @jax.jit
    def step(w, state):
        loss, grads = jax.value_and_grad(loss_fn)(w)
        updates, state = opt.update(grads, state, w, value=loss)
        return optax.apply_updates(w, updates), state, updates

    w = jnp.zeros(5, jnp.float32)
    state, applied = opt.init(w), []
    for _ in range(steps):
        g = np.asarray(jax.grad(loss_fn)(w), np.float64) + wd * np.asarray(w, np.float64)
        w, state, updates = step(w, state)
        applied.append(float(-np.asarray(updates, np.float64) @ g / (g @ g)))  # the LR this update applied
    return applied


@pytest.mark.parametrize("timing", ["paper", "next"])
def test_optax_timing_paper_is_the_papers_sgd_hd_and_next_is_one_update_late(timing: str) -> None:
    """alpha_0 = 0.5, beta = 5, weight decay 0.5 (add_decayed_weights before controlled), 60 jitted float32
    updates: the LRs applied follow the recursion with the new alpha at once ("paper") or one update late
    ("next"), within float32's 1e-4; the two recursions differ by more than that."""
    paper = paper_sgd_hd(0.5, 5.0, 60, scale=1.0, wd=0.5, timing="paper")
    late = paper_sgd_hd(0.5, 5.0, 60, scale=1.0, wd=0.5, timing="late")
    assert max(abs(a / b - 1) for a, b in zip(paper, late)) > 0.05
    assert max(paper) > 0.75  # the LR moves
    got = optax_run(0.5, 5.0, 60, scale=1.0, wd=0.5, timing=timing)
    np.testing.assert_allclose(got, paper if timing == "paper" else late, rtol=1e-4)


def test_optax_timing_is_checked() -> None:
    pytest.importorskip("optax")
    import optax

    from lrsched.adapters.optax import controlled

    with pytest.raises(ValueError, match=r"timing must be one of 'next', 'paper', got 'now'"):
        controlled(optax.identity(), lrsched.Hypergradient(init_lr=0.1), timing="now")


def test_torch_resume_right_after_an_update_at_lr_zero_continues_bit_for_bit(tmp_path) -> None:
    """The checkpoint after an update at LR 0 holds d_{t-1} itself (not theta_{t-1}) with lr 0: a fresh model,
    optimizer and scheduler loaded from it with ``weights_only=True`` give the same next 40 LRs, bit for bit."""
    torch = pytest.importorskip("torch")
    from lrsched.adapters.torch import ControllerScheduler

    x, y = torch.tensor(5.0 * _X), torch.tensor(_Y)

    def setup():
        w = torch.zeros(5, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.SGD([w], lr=10.0)
        return w, opt, ControllerScheduler(opt, lrsched.Hypergradient(beta=100.0, min_lr=0.0))

    def run(w, opt, sched, steps):
        applied = []
        for _ in range(steps):
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w, y)
            loss.backward()
            applied.append(float(opt.param_groups[0]["lr"]))
            opt.step()
            sched.step(loss.item())
        return applied

    w, opt, sched = setup()
    first = run(w, opt, sched, 60)
    cut = max(i for i, a in enumerate(first) if a == 0.0) + 1  # just after an update at LR 0
    w, opt, sched = setup()
    run(w, opt, sched, cut)
    path = tmp_path / "ckpt.pt"
    torch.save({"w": w.detach().clone(), "opt": opt.state_dict(), "sched": sched.state_dict()}, path)
    assert sched.state_dict()["previous_update"]["lr"] == 0.0
    expected = run(w, opt, sched, 40)
    data = torch.load(path, weights_only=True)
    w2, opt2, sched2 = setup()
    with torch.no_grad():
        w2.copy_(data["w"])
    opt2.load_state_dict(data["opt"])
    sched2.load_state_dict(data["sched"])
    assert run(w2, opt2, sched2, 40) == expected


def test_measuring_the_direction_with_a_tensor_lr_reads_nothing_on_the_host(monkeypatch: pytest.MonkeyPatch) -> None:
    """A tensor LR (capturable/fused optimizers) is never read with float()/item() inside optimizer.step(): the
    LR-0 check applies to float LRs only, so measuring the signals costs no device sync."""
    torch = pytest.importorskip("torch")
    from lrsched.adapters.torch import ControllerScheduler

    torch.manual_seed(0)
    model = torch.nn.Linear(3, 1)
    opt = torch.optim.SGD(model.parameters(), lr=torch.tensor(0.1))
    sched = ControllerScheduler(opt, lrsched.Hypergradient(beta=0.01, mode="multiplicative"))
    x = torch.randn(16, 3)

    def no_sync(*args: object) -> float:
        raise AssertionError("a host sync while measuring the signals")

    for _ in range(3):
        loss = model(x).pow(2).mean()
        opt.zero_grad()
        loss.backward()
        with monkeypatch.context() as m:
            m.setattr(torch.Tensor, "item", no_sync)
            m.setattr(torch.Tensor, "__float__", no_sync)
            opt.step()
        sched.step(float(loss))
