"""Every controller runs through the generic torch and Optax adapters with no adapter code of its own.

Each run is replayed by hand: plain SGD on a least-squares problem, the declared signals computed in the test from
their definitions (lrsched.SIGNALS), fed to ``lrsched.control(controller)``. The adapter's LR sequence must equal it.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest
from _controller_runs import torch_sgd_lrs

import lrsched

STEPS = 40
RNG = np.random.default_rng(0)
X = RNG.normal(size=(64, 5))
Y = X @ RNG.normal(size=5) + 0.1 * RNG.normal(size=64)


def _loss_and_grad(w: np.ndarray) -> tuple[float, np.ndarray]:
    r = X @ w - Y
    return float(r @ r / len(Y)), 2.0 * X.T @ r / len(Y)


CONTROLLERS = {
    "hypergradient": lrsched.Hypergradient(init_lr=0.01, beta=1e-3),
    "hypergradient_mult": lrsched.Hypergradient(init_lr=0.01, beta=0.02, mode="multiplicative"),
    "abel": lrsched.ABEL(init_lr=0.05, interval=2),
    "greedy": lrsched.GreedyLR(init_lr=0.05, patience=2, factor=0.5),
    "learned": lrsched.LearnedLR.default(),
    # With a budget: the shipped policy's base schedule (warmup, final anneal) is in play on every adapter.
    "learned_budget": lrsched.LearnedLR.default(budget=STEPS),
}


def _replay(controller: Any, lr0: float) -> list[float]:
    """SGD driven by ``lrsched.control``, with every declared signal computed here from its definition."""
    sched = lrsched.control(controller, lr=lr0)
    # The first update uses the controller's initial LR (lr0, or lr0 times a base schedule's warmup).
    w, lr, prev_w, prev_lr = np.zeros(5), float(sched.lr), None, None
    lrs = []
    for _ in range(STEPS):
        loss, g = _loss_and_grad(w)
        d_prev = np.zeros(5) if prev_w is None else (w - prev_w) / prev_lr
        every = {
            "loss": loss,
            "grad_norm": float(np.linalg.norm(g)),
            "param_norm": float(np.linalg.norm(w)),
            "grad_dot_prev_direction": float(g @ d_prev),
            "prev_direction_norm": float(np.linalg.norm(d_prev)),
        }
        prev_w, prev_lr = w, lr
        w = w - lr * g
        lrs.append(lr)
        lr = float(sched(**{k: every[k] for k in controller.signals}))  # keyword signals, the loss too
    return lrs


@pytest.mark.parametrize("name", sorted(CONTROLLERS))
def test_torch_controller_scheduler_equals_the_replay(name: str) -> None:
    pytest.importorskip("torch")
    controller, lr0 = CONTROLLERS[name], 0.05
    lrs = torch_sgd_lrs(_with_lr(controller, lr0), X, Y, lr0, STEPS)
    assert np.allclose(lrs, _replay(controller, lr0), rtol=1e-9, atol=0)
    assert len(set(lrs)) > 1 or name == "abel", "the controller never moved the LR"


@pytest.mark.parametrize("name", sorted(CONTROLLERS))
def test_optax_controlled_equals_the_replay(name: str) -> None:
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    from lrsched.adapters.optax import controlled

    controller, lr0 = CONTROLLERS[name], 0.05
    with jax.enable_x64(True):
        import jax.numpy as jnp

        tx = controlled(optax.identity(), _with_lr(controller, lr0))
        params = jnp.zeros(5)
        state = tx.init(params)
        x, y = jnp.asarray(X), jnp.asarray(Y)

        def loss_fn(p: Any) -> Any:
            return jnp.mean((x @ p - y) ** 2)

        @jax.jit
        def step(p: Any, s: Any) -> Any:
            loss, g = jax.value_and_grad(loss_fn)(p)
            updates, s = tx.update(g, s, p, value=loss)
            return optax.apply_updates(p, updates), s, updates, g

        lrs = []
        for _ in range(STEPS):
            new, state, updates, g = step(params, state)
            # The LR this update applied: -update / gradient (SGD direction).
            lrs.append(float(-updates[0] / g[0]))
            params = new
    assert np.allclose(lrs, _replay(controller, lr0), rtol=1e-6, atol=0)


def _with_lr(controller: Any, lr: float) -> Any:
    """``controller`` with its initial LR set (the Optax transform takes it from the settings)."""
    import dataclasses

    return dataclasses.replace(controller, init_lr=lr)


def test_the_replay_itself_moves_the_lr_and_learns() -> None:
    lrs = _replay(CONTROLLERS["hypergradient"], 0.01)
    assert lrs[-1] > lrs[0]  # on this well-conditioned problem the hypergradient raises a too-small LR
    assert math.isfinite(lrs[-1])


@pytest.mark.parametrize("name", sorted(CONTROLLERS))
def test_the_adapters_compute_only_the_declared_signals(name: str) -> None:
    """Issue 12: a controller's declared signals are computed, nothing more (no snapshot of theta without need)."""
    torch = pytest.importorskip("torch")
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    from lrsched.adapters._torch_device import measure
    from lrsched.adapters.optax import controlled

    controller = _with_lr(CONTROLLERS[name], 0.05)
    wanted = tuple(s for s in controller.signals if s != "loss")
    needs_direction = bool({"grad_dot_prev_direction", "prev_direction_norm"} & set(wanted))
    w = torch.ones(5, requires_grad=True)
    (w**2).sum().backward()
    opt = torch.optim.SGD([w], lr=0.1)
    signals, prev = measure(wanted, [w], None, opt)
    for _ in range(2):  # the first call and one with a previous snapshot
        assert sorted(signals) == sorted(wanted)
        assert (prev is not None) == needs_direction
        signals, prev = measure(wanted, [w], prev, opt)
    state = controlled(optax.identity(), controller).init(jax.numpy.zeros(5))
    assert bool(jax.tree_util.tree_leaves(state.prev_direction)) == needs_direction


@pytest.mark.parametrize("dtype, rtol", [("float64", 1e-12), ("float32", 1e-4)])
def test_the_dot_product_without_the_change_matches_the_change_formed(dtype: str, rtol: float) -> None:
    """The torch signal ``g_t . d_{t-1}`` alone is read as ``g . theta_t - g . theta_{t-1}`` (no pass forming the
    change); with the direction's norm also wanted the change is formed first. Over 30 Adam updates of a small
    MLP both readings agree with the direction each update really applied (saved by hand, in float64)."""
    torch = pytest.importorskip("torch")
    from lrsched.adapters._torch_device import measure

    torch.manual_seed(0)
    kind = getattr(torch, dtype)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1)).to(kind)
    x, y = torch.randn(64, 8, dtype=kind), torch.randn(64, 1, dtype=kind)
    params = list(model.parameters())
    opt = torch.optim.Adam(params, lr=1e-3)
    alone, both, applied = None, None, None
    for _ in range(30):
        opt.zero_grad()
        torch.nn.functional.mse_loss(model(x), y).backward()
        dot, alone = measure(("grad_dot_prev_direction",), params, alone, opt)
        dot_and_norm, both = measure(("grad_dot_prev_direction", "prev_direction_norm"), params, both, opt)
        if applied is not None:
            exact = sum(float((p.grad.double() * d).sum()) for p, d in zip(params, applied))
            assert float(dot["grad_dot_prev_direction"]) == pytest.approx(exact, rel=rtol)
            assert float(dot_and_norm["grad_dot_prev_direction"]) == pytest.approx(exact, rel=rtol)
        before = [p.detach().double().clone() for p in params]
        opt.step()
        applied = [(p.detach().double() - b) / 1e-3 for p, b in zip(params, before)]


@pytest.mark.parametrize("name", ["abel", "greedy", "hypergradient", "hypergradient_mult"])
def test_optax_init_lr_may_be_traced_one_vmapped_run_per_starting_lr(name: str) -> None:
    """``controlled(..., init_lr=lr0)`` with ``lr0`` a tracer of ``jax.jit(jax.vmap(...))`` over 3 starting LRs gives
    the LR sequences of 3 separate replays (the settings' own ``init_lr`` unset: the keyword is the only source)."""
    jax = pytest.importorskip("jax")
    optax = pytest.importorskip("optax")
    import dataclasses

    from lrsched.adapters.optax import controlled, greedy_lr_of

    controller = dataclasses.replace(CONTROLLERS[name], init_lr=None)
    starts = (0.01, 0.03, 0.05)
    with jax.enable_x64(True):
        import jax.numpy as jnp

        x, y = jnp.asarray(X), jnp.asarray(Y)

        def run(lr0: Any) -> Any:
            tx = controlled(optax.identity(), controller, init_lr=lr0)

            def step(carry: Any, _: Any) -> Any:
                p, s = carry
                loss, g = jax.value_and_grad(lambda q: jnp.mean((x @ q - y) ** 2))(p)
                lr = greedy_lr_of(s)
                updates, s = tx.update(g, s, p, value=loss)
                return (optax.apply_updates(p, updates), s), lr

            params = jnp.zeros(5)
            return jax.lax.scan(step, (params, tx.init(params)), None, length=STEPS)[1]

        lrs = np.asarray(jax.jit(jax.vmap(run))(jnp.asarray(starts)))
    assert lrs.shape == (3, STEPS)
    for row, lr0 in zip(lrs, starts):
        assert np.allclose(row, _replay(controller, lr0), rtol=1e-6, atol=0)


def test_optax_init_lr_overrides_the_settings_and_is_checked_when_concrete() -> None:
    pytest.importorskip("optax")
    import optax

    from lrsched.adapters.optax import controlled, greedy_lr_of, scale_by_controller

    tx = scale_by_controller(lrsched.Hypergradient(init_lr=0.1), init_lr=0.02)
    assert float(greedy_lr_of(tx.init({}))) == pytest.approx(0.02)
    with pytest.raises(ValueError, match=r"Hypergradient: lr must lie in the controller's LR bounds \[0.0, 1.0\]"):
        controlled(optax.identity(), lrsched.Hypergradient(max_lr=1.0), init_lr=3.0)
    with pytest.raises(ValueError, match=r"scale_by_controller: settings.init_lr must be set \(or pass init_lr=\)"):
        scale_by_controller(lrsched.ABEL())
    with pytest.raises(ValueError, match=r"init_lr must be a scalar, got shape \(2,\)"):
        scale_by_controller(lrsched.ABEL(), init_lr=np.ones(2))
