"""Hypergradient through the torch and Optax adapters against the paper's SGD-HD recursion, written in NumPy.

Baydin et al. (ICLR 2018), SGD-HD: ``g_t = grad f(theta_t) + wd * theta_t`` (the authors' optimizers add the
coupled weight decay first), ``h_t = -g_t . g_{t-1}`` (``g_{-1} = 0``), ``alpha_t = alpha_{t-1} - beta h_t``,
``theta_{t+1} = theta_t - alpha_t g_t``: the new alpha steps at once ("paper" timing). The adapters' default steps
update ``t`` with ``alpha_{t-1}`` ("late" timing: the LR is decided after the update). Both are written out here;
``clip`` is the documented ``min_lr=0.0`` option (the paper has none). Adam-HD likewise: ``h_t = -g_t . m_hat_{t-1} /
(sqrt(v_hat_{t-1}) + eps)``, then ``theta_t = theta_{t-1} - alpha_t m_hat_t / (sqrt(v_hat_t) + eps)``.
"""

from __future__ import annotations

import dataclasses
from typing import Any

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


@dataclasses.dataclass(frozen=True)
class HD:
    """One hypergradient run: alpha_0, beta, updates, the features' scale, the coupled weight decay, SGD or Adam."""

    alpha: float
    beta: float
    steps: int
    scale: float = 1.0
    wd: float = 0.0
    adam: bool = False


def paper_hd(run: HD, *, timing: str, clip: bool = False) -> tuple[list[float], np.ndarray]:
    """SGD-HD or Adam-HD (Baydin et al., Algorithms 1 and 3): the LR each update steps with, and the final w."""
    alpha, beta, adam = run.alpha, run.beta, run.adam
    w, d_prev, applied = np.zeros(5), np.zeros(5), []
    m, v, b1, b2, eps = np.zeros(5), np.zeros(5), 0.9, 0.999, 1e-8
    for t in range(1, run.steps + 1):
        g = _grad(w, run.scale) + run.wd * w
        new = alpha - beta * float(g @ d_prev)  # h_t = g_t . d_{t-1}: SGD d = -g, Adam d = -m_hat / (sqrt(v_hat) + eps)
        new = max(new, 0.0) if clip else new
        if timing == "paper":
            alpha = new
        if adam:
            m, v = b1 * m + (1 - b1) * g, b2 * v + (1 - b2) * g * g
            d = -(m / (1 - b1**t)) / (np.sqrt(v / (1 - b2**t)) + eps)
        else:
            d = -g
        applied.append(alpha)
        w = w + alpha * d
        alpha, d_prev = new, d
    return applied, w


def paper_sgd_hd(
    alpha: float, beta: float, steps: int, *, scale: float, wd: float = 0.0, clip: bool = False, timing: str
) -> list[float]:
    """The LR each update of SGD-HD steps with."""
    return paper_hd(HD(alpha, beta, steps, scale, wd), timing=timing, clip=clip)[0]


def torch_hd(
    run: HD, *, timing: str = "next", closure: bool = False, base: lrsched.Schedule | None = None, **kw
) -> tuple[list[float], np.ndarray]:
    """SGD or Adam in float64 under ``ControllerScheduler(Hypergradient)``: the LR each update applied (read right
    after ``optimizer.step()``) and the final w."""
    torch = pytest.importorskip("torch")
    from lrsched.adapters.torch import ControllerScheduler

    x, y = torch.tensor(run.scale * _X), torch.tensor(_Y)
    w = torch.zeros(5, dtype=torch.float64, requires_grad=True)
    opt = (torch.optim.Adam if run.adam else torch.optim.SGD)([w], lr=run.alpha, weight_decay=run.wd)
    sched = ControllerScheduler(opt, lrsched.Hypergradient(beta=run.beta, **kw), base=base, timing=timing)
    applied = []
    for _ in range(run.steps):

        def loss_fn():
            opt.zero_grad()
            loss = torch.nn.functional.binary_cross_entropy_with_logits(x @ w, y)
            loss.backward()
            return loss

        loss = opt.step(loss_fn) if closure else (loss_fn(), opt.step())[0]
        applied.append(float(opt.param_groups[0]["lr"]))
        sched.step(loss.item())
    return applied, w.detach().numpy()


def torch_run(alpha: float, beta: float, steps: int, *, scale: float, wd: float = 0.0, **kw) -> list[float]:
    return torch_hd(HD(alpha, beta, steps, scale, wd), **kw)[0]


@pytest.mark.parametrize(("timing", "beta", "scale", "least"), [("next", 100.0, 5.0, 5), ("paper", 400.0, 3.0, 2)])
def test_torch_lr_zero_is_not_absorbing_it_recovers_as_the_papers_recursion(
    timing: str, beta: float, scale: float, least: int
) -> None:
    """alpha_0 = 10, min_lr = 0.0: the recursion clips to 0 at some of 200 updates and leaves 0 each time (timing
    "next": 13 times, alpha_200 = 3.17; "paper": twice, the LR set to 0 inside the step); torch used to measure
    0/0 there and stay at 0 for good. rtol 1e-6: torch reads the direction from parameter differences, and the
    clipped dynamics amplify their rounding (measured 4.7e-7)."""
    expected = paper_sgd_hd(10.0, beta, 200, scale=scale, clip=True, timing="late" if timing == "next" else timing)
    zeros = sum(a == 0.0 for a in expected)
    assert least <= zeros <= 20 and expected[-1] > 1.0
    got = torch_run(10.0, beta, 200, scale=scale, min_lr=0.0, timing=timing)
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


def optax_trajectory(run: HD, *, timing: str, base: lrsched.Schedule | None = None) -> tuple[list[Any], np.ndarray]:
    """``chain(add_decayed_weights(wd), controlled(identity() or scale_by_adam(), Hypergradient))`` under ``jax.jit``
    (float32: ``controlled`` measures in float32): per update ``(lr_of before, lr_of after, update, g_t)`` (float64,
    ``g_t`` with the decay), and the final w."""
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    import jax.numpy as jnp

    from lrsched.adapters.optax import controlled, lr_of

    x, y = jnp.asarray(run.scale * _X, jnp.float32), jnp.asarray(_Y, jnp.float32)
    hd: lrsched.Controller = lrsched.Hypergradient(init_lr=run.alpha, beta=run.beta)
    if base is not None:
        hd = lrsched.on_schedule(base, hd)
    inner = optax.scale_by_adam() if run.adam else optax.identity()
    opt = optax.chain(optax.add_decayed_weights(run.wd), controlled(inner, hd, timing=timing))

    def loss_fn(w):
        return jnp.mean(optax.sigmoid_binary_cross_entropy(x @ w, y))

    @jax.jit
    def step(w, state):
        loss, grads = jax.value_and_grad(loss_fn)(w)
        updates, state = opt.update(grads, state, w, value=loss)
        return optax.apply_updates(w, updates), state, updates, grads

    w = jnp.zeros(5, jnp.float32)
    state, rows = opt.init(w), []
    for _ in range(run.steps):
        before, w64 = float(lr_of(state)), np.asarray(w, np.float64)
        w, state, updates, grads = step(w, state)
        g = np.asarray(grads, np.float64) + run.wd * w64
        rows.append((before, float(lr_of(state)), np.asarray(updates, np.float64), g))
    return rows, np.asarray(w, np.float64)


def optax_run(alpha: float, beta: float, steps: int, *, scale: float, wd: float = 0.0, timing: str) -> list[float]:
    """SGD-HD through Optax: the LR each update applied, read from the update itself (``-u . g / g . g``)."""
    rows, _ = optax_trajectory(HD(alpha, beta, steps, scale, wd), timing=timing)
    return [float(-u @ g / (g @ g)) for _, _, u, g in rows]


def optax_hd(run: HD, *, timing: str, base: lrsched.Schedule | None = None) -> tuple[list[float], np.ndarray]:
    """The LR each update applied (:func:`lr_of`: after the update under "paper", before it under "next") and the
    final w."""
    rows, w = optax_trajectory(run, timing=timing, base=base)
    return [after if timing == "paper" else before for before, after, _, _ in rows], w


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


@pytest.mark.parametrize("timing", ["paper", "next"])
@pytest.mark.parametrize("adam", [False, True], ids=["SGD-HD", "Adam-HD"])
def test_torch_timing_equals_the_papers_algorithm_and_optax(adam: bool, timing: str) -> None:
    """Logistic regression, coupled weight decay 0.1, 60 updates: torch ``ControllerScheduler(timing=...)`` in
    float64 follows the hand-written SGD-HD / Adam-HD with the new alpha at once ("paper") or one update late
    ("next", unchanged) to 1e-9, LRs and final parameters, with or without a closure; Optax's ``controlled`` with
    the same ``timing`` (float32) agrees to 1e-4. The two timings differ by more than 1% somewhere."""
    run = HD(0.02, 0.002, 60, wd=0.1, adam=True) if adam else HD(0.5, 5.0, 60, wd=0.1)
    lrs, w = paper_hd(run, timing="paper" if timing == "paper" else "late")
    other, _ = paper_hd(run, timing="late" if timing == "paper" else "paper")
    assert max(abs(a / b - 1) for a, b in zip(lrs, other)) > 0.01
    assert max(lrs) > 1.2 * run.alpha  # the LR moves
    for closure in (False, True):
        got, got_w = torch_hd(run, timing=timing, closure=closure)
        np.testing.assert_allclose(got, lrs, rtol=1e-9)
        np.testing.assert_allclose(got_w, w, rtol=1e-9)
    optax_lrs, optax_w = optax_hd(run, timing=timing)
    np.testing.assert_allclose(optax_lrs, lrs, rtol=1e-4)
    np.testing.assert_allclose(optax_w, w, rtol=1e-4, atol=1e-6)


def test_torch_paper_timing_on_a_schedule_is_optaxs() -> None:
    """``on_schedule(base, Hypergradient)`` under ``timing="paper"``: torch applies what Optax applies,
    base(t) * g_{t+1}: the controller's new multiplier on update t's own clock, so the warmup's first value is
    applied (one definition, :data:`lrsched.controllers.TIMINGS`)."""
    base = lrsched.warmup(lrsched.cosine_decay(1.0, 40), warmup_steps=5)
    got, got_w = torch_hd(HD(1.0, 2.0, 40, wd=0.1), timing="paper", base=base)
    want, want_w = optax_hd(HD(1.0, 2.0, 40, wd=0.1), timing="paper", base=base)
    assert got[0] == base(0) != base(1) and len(set(got)) > 30  # h_0 = 0: g_1 = g_0 = 1
    np.testing.assert_allclose(got, want, rtol=1e-4, atol=1e-7)
    np.testing.assert_allclose(got_w, want_w, rtol=1e-4, atol=1e-6)


def test_torch_paper_timing_resumes_bit_for_bit(tmp_path) -> None:
    """Adam-HD under ``timing="paper"``: a checkpoint after 25 updates, loaded with ``weights_only=True`` into a
    fresh model, optimizer and scheduler, continues with the LRs and parameters of the uninterrupted run."""
    torch = pytest.importorskip("torch")
    from lrsched.adapters.torch import ControllerScheduler

    x, y = torch.tensor(_X), torch.tensor(_Y)

    def setup():
        w = torch.zeros(5, dtype=torch.float64, requires_grad=True)
        opt = torch.optim.Adam([w], lr=0.02, weight_decay=0.1)
        return w, opt, ControllerScheduler(opt, lrsched.Hypergradient(beta=0.002), timing="paper")

    def run(w, opt, sched, steps):
        applied = []
        for _ in range(steps):
            opt.zero_grad()
            torch.nn.functional.binary_cross_entropy_with_logits(x @ w, y).backward()
            opt.step()
            sched.step()  # optional under "paper": the controller decided inside opt.step()
            applied.append(float(opt.param_groups[0]["lr"]))
        return applied

    w, opt, sched = setup()
    whole = run(w, opt, sched, 50)
    w, opt, sched = setup()
    run(w, opt, sched, 25)
    torch.save({"w": w.detach().clone(), "opt": opt.state_dict(), "sched": sched.state_dict()}, tmp_path / "ckpt.pt")
    data = torch.load(tmp_path / "ckpt.pt", weights_only=True)
    w2, opt2, sched2 = setup()
    with torch.no_grad():
        w2.copy_(data["w"])
    opt2.load_state_dict(data["opt"])
    sched2.load_state_dict(data["sched"])
    assert run(w2, opt2, sched2, 25) == whole[25:] and len(set(whole)) > 40
    theta = w.detach().clone()
    run(w, opt, sched, 25)
    assert torch.equal(w2.detach(), w.detach()) and not torch.equal(theta, w.detach())


def test_torch_paper_timing_refuses_a_loss_reader_and_bad_values_at_construction() -> None:
    """Every registered controller: ``timing="paper"`` is refused, naming the loss, for those that read it (torch
    gets the loss after the update); the others are accepted. A bad value names the parameter and the choices."""
    torch = pytest.importorskip("torch")
    from lrsched.adapters.torch import ControllerScheduler

    def opt():
        return torch.optim.SGD([torch.zeros(2, requires_grad=True)], lr=0.1)

    with pytest.raises(ValueError, match=r"timing must be one of 'next', 'paper', got 'now'"):
        ControllerScheduler(opt(), lrsched.Hypergradient(), timing="now")
    from test_controller_matrix import NAMES, make

    accepted = []
    for c in [make(name) for name in NAMES] + [lrsched.on_schedule(0.1, lrsched.Hypergradient())]:
        if c.needs:
            continue  # refused on any timing (LRTuner's look-ahead)
        accepted.append("loss" not in c.signals)
        if "loss" in c.signals:
            with pytest.raises(ValueError, match=r"timing='paper'.*reads the 'loss'"):
                ControllerScheduler(opt(), c, timing="paper")
        else:
            ControllerScheduler(opt(), c, timing="paper")
    assert 2 <= sum(accepted) < len(accepted)


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
