"""``lrsched.tools.tournament.peak_tournament``: the rounds by hand on a quadratic, what it charges, and its errors.

The tournament on real tasks (JAX and PyTorch, through ``benchmarks/no_tuning_dev.py``) is tested in
``test_no_tuning_bench.py``.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from lrsched.controllers import DecayOnStall
from lrsched.tools.tournament import GRID, peak_tournament


def quadratic(calls: list[tuple[float, int, int]]) -> Any:
    """Gradient descent on 0.5 * w**2 (the best LR is 1, above 2 it diverges), recording each call."""

    def train(w: float, lrs: np.ndarray, start: int) -> tuple[float, np.ndarray]:
        calls.append((float(lrs[-1]), len(lrs), start))
        losses = []
        for lr in lrs:
            losses.append(0.5 * w * w)
            w = w - lr * w
        return w, np.asarray(losses)

    return train


def test_the_best_candidate_wins_every_update_is_charged_and_the_rounds_share_their_minibatches() -> None:
    calls: list[tuple[float, int, int]] = []
    r = peak_tournament(quadratic(calls), 3.0, lr=0.1, budget=400)  # rounds of 4 and 8 updates
    assert [(n, start) for _, n, start in calls] == [(4, 0)] * 5 + [(8, 4)] * 2
    np.testing.assert_allclose([lr for lr, _, _ in calls[:5]], [0.1 * m for m in GRID])
    assert [lr for lr, _, _ in calls[5:]] == pytest.approx([0.9, 0.3])  # the best two of round 1, best first
    assert r.lr == pytest.approx(0.9) and r.used == 5 * 4 + 2 * 8 and r.next_batch == 4 + 8 and r.budget == 400
    assert abs(r.winner) < 3.0 * 0.1**8  # the winner's own state: 12 updates at 0.9 after the warmup's two
    assert min(r.scores, key=r.scores.get) == r.lr and sorted(r.finalists) == pytest.approx([0.3, 0.9])


def test_round_one_warms_up_over_its_first_half() -> None:
    seen: list[np.ndarray] = []

    def train(member: Any, lrs: np.ndarray, start: int) -> tuple[Any, np.ndarray]:
        seen.append(np.array(lrs))
        return member, np.ones(len(lrs))

    peak_tournament(train, None, lr=2.0, budget=1000, grid=(1.0,), keep=1)  # rounds of 10 and 20 updates
    np.testing.assert_allclose(seen[0], 2.0 * np.minimum(1.0, np.arange(1, 11) / 5))
    np.testing.assert_allclose(seen[1], np.full(20, 2.0))


def test_the_result_holds_the_lrs_the_winner_trained_at_in_its_rounds() -> None:
    """``lrs`` is the sequence ``train`` was given for the winner: its round-1 warmup, then its round-2 LR."""
    given: dict[int, list[float]] = {}

    def train(member: Any, lrs: np.ndarray, start: int) -> tuple[Any, np.ndarray]:
        tag = len(given)
        given[tag] = given.get(member, []) + [float(x) for x in lrs]  # member: the tag of the state it trained
        return tag, np.full(len(lrs), abs(float(lrs[-1]) - 0.3))  # the candidate at 0.3 is best

    r = peak_tournament(train, -1, lr=0.1, budget=400)
    assert r.lr == pytest.approx(0.3) and len(r.lrs) == r.next_batch == 12
    assert list(r.lrs) == pytest.approx(given[r.winner])
    assert list(r.lrs) == pytest.approx([0.15, 0.3, 0.3, 0.3] + [0.3] * 8)


def test_a_diverged_candidate_never_wins_and_ties_go_to_the_first_in_the_grid() -> None:
    def train(member: Any, lrs: np.ndarray, start: int) -> tuple[Any, np.ndarray]:
        return member, np.full(len(lrs), math.nan if lrs[-1] > 0.5 else 1.0)  # flat loss; NaN above 0.5

    r = peak_tournament(train, None, lr=1.0, budget=1000)
    assert r.lr == pytest.approx(1.0 / 9.0)  # every finite score ties: the first candidate
    assert r.scores[1.0] == r.scores[3.0] == r.scores[9.0] == math.inf


def test_the_anneal_is_decay_on_stall_over_the_rest_in_fractions_of_the_whole_budget() -> None:
    r = peak_tournament(quadratic([]), 3.0, lr=0.1, budget=400)
    rest = r.anneal()
    assert isinstance(rest, DecayOnStall)
    assert (rest.init_lr, rest.budget, rest.warmup, rest.progress) == (pytest.approx(0.9), 364, 0.0, 0.05)
    assert rest.window * rest.budget == pytest.approx(0.05 * 400) and rest.decay * rest.budget == pytest.approx(80)


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        ({"train": 3}, TypeError, r"peak_tournament: train must be callable, got 3"),
        ({"lr": 0.0}, ValueError, r"peak_tournament: lr must be in \(0.0, inf\), got 0.0"),
        ({"lr": math.inf}, ValueError, r"peak_tournament: lr must be"),
        ({"budget": 5}, ValueError, r"peak_tournament: budget must be in \[10, \d+\], got 5"),
        ({"grid": ()}, ValueError, r"peak_tournament: grid must hold at least one multiple of lr, got \(\)"),
        ({"grid": (1.0, -3.0)}, ValueError, r"peak_tournament: grid must be in \(0.0, inf\), got -3.0"),
        ({"rounds": (0.01,)}, ValueError, r"peak_tournament: rounds must be two fractions of the budget"),
        ({"rounds": (0.6, 0.02)}, ValueError, r"peak_tournament: rounds\[0\] must be in \(0.0, 0.5\], got 0.6"),
        ({"keep": 6}, ValueError, r"peak_tournament: keep must be in \[1, 5\], got 6"),
        (
            {"budget": 28},
            ValueError,
            r"the rounds charge 28 updates \(5 x 4 \+ 2 x 4\), which leaves nothing of budget=28",
        ),
    ],
)
def test_bad_arguments_fail_before_any_training_naming_the_argument_and_the_range(
    kwargs: dict, error: type, message: str
) -> None:
    calls: list[tuple[float, int, int]] = []
    args = {"train": quadratic(calls), "init": 1.0, "lr": 0.1, "budget": 400} | kwargs
    with pytest.raises(error, match=message):
        peak_tournament(**args)
    assert calls == []


def test_a_budget_one_update_longer_than_the_rounds_is_accepted() -> None:
    assert peak_tournament(quadratic([]), 1.0, lr=0.1, budget=29).used == 28


# -- the torch adapter -----------------------------------------------------------------------------------------------


def _torch_problem(groups: bool = False) -> tuple[Any, Any, Any, list[list[float]]]:
    import torch

    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    if groups:
        opt = torch.optim.Adam([{"params": model[0].parameters(), "lr": 1e-3}, {"params": model[2].parameters()}], 1e-2)
    else:
        opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    x = torch.randn(256, 4)
    y = torch.sin(x.sum(1, keepdim=True))
    order = torch.randint(0, 256, (1000, 16), generator=torch.Generator().manual_seed(1))
    seen: list[list[float]] = []

    def step(t: int) -> Any:
        seen.append([float(g["lr"]) for g in opt.param_groups])
        loss = torch.nn.functional.mse_loss(model(x[order[t]]), y[order[t]])
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach()

    return model, opt, step, seen


def test_the_torch_adapter_is_the_tournament_on_state_dict_copies_and_leaves_the_winner_in_place() -> None:
    """The adapter against the generic tournament with ``train`` written out by hand on the same problem: the same
    pick, the same charge, the same winner's parameters bit for bit; the model and optimizer hold the winner's state
    (its Adam moments included) and its LR when it returns."""
    import copy

    import torch

    from lrsched.adapters.torch import peak_tournament as torch_tournament

    model, opt, step, _ = _torch_problem()
    won = torch_tournament(model, opt, step, budget=1000)
    mine = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())

    model, opt, step, _ = _torch_problem()

    def snapshot() -> Any:
        return copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())

    def train(member: Any, lrs: np.ndarray, start: int) -> Any:
        model.load_state_dict(member[0])
        opt.load_state_dict(member[1])
        losses = []
        for j, lr in enumerate(lrs):
            opt.param_groups[0]["lr"] = float(lr)
            losses.append(float(step(start + j)))
        return snapshot(), np.asarray(losses)

    ref = peak_tournament(train, snapshot(), lr=1e-3, budget=1000)
    assert (won.lr, won.used, won.next_batch, won.scores) == (ref.lr, ref.used, ref.next_batch, ref.scores)
    for name, value in ref.winner[0].items():
        assert torch.equal(mine[0][name], value) and torch.equal(won.winner[0][name], value), name
    moments = [s["exp_avg"] for s in mine[1]["state"].values()]
    assert all(torch.equal(a, b["exp_avg"]) for a, b in zip(moments, ref.winner[1]["state"].values()))
    assert mine[1]["param_groups"][0]["lr"] == ref.lr


def test_the_torch_adapter_keeps_the_groups_ratios_and_refuses_an_optimizer_at_lr_0() -> None:
    import torch

    from lrsched.adapters.torch import peak_tournament as torch_tournament

    model, opt, step, seen = _torch_problem(groups=True)  # 1e-3 and 1e-2: ratio 10
    won = torch_tournament(model, opt, step, budget=1000, grid=(1.0, 3.0), keep=1)
    assert len(seen) == won.used == 2 * 10 + 20
    assert all(b == pytest.approx(10 * a, rel=1e-12) for a, b in seen)
    assert seen[9] == pytest.approx([1e-3, 1e-2]) and seen[19] == pytest.approx([3e-3, 3e-2])  # each warmup's end
    assert [g["lr"] for g in opt.param_groups] == pytest.approx([won.lr, 10 * won.lr])

    opt = torch.optim.SGD(torch.nn.Linear(2, 1).parameters(), lr=0.0)
    with pytest.raises(ValueError, match=r"peak_tournament: the optimizer's first param group has lr=0.0; pass lr="):
        torch_tournament(torch.nn.Linear(2, 1), opt, lambda t: 0.0, budget=1000)


# -- the Optax adapter -----------------------------------------------------------------------------------------------


def _optax_problem() -> tuple[Any, Any, Any]:
    import jax.numpy as jnp

    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(1000, 16, 4)), jnp.float32)
    batches = {"x": x, "y": jnp.sin(x.sum(-1))}
    params = {"w1": jnp.asarray(rng.normal(size=(4, 8)) / 2, jnp.float32), "w2": jnp.zeros(8, jnp.float32)}

    def loss_fn(p: Any, b: Any) -> Any:
        return jnp.mean((jnp.tanh(b["x"] @ p["w1"]) @ p["w2"] - b["y"]) ** 2)

    return loss_fn, params, batches


def test_the_optax_adapter_is_the_tournament_on_params_and_direction_state() -> None:
    """The adapter against the generic tournament with ``train`` written out by hand (an eager loop, one update at
    a time, no scan): the same pick and charge, the same scores and the same winner (parameters and Adam moments) to
    float32 rounding; the run then goes on under ``controlled(direction, anneal())`` from the winner's state."""
    import jax
    import optax

    from lrsched.adapters.optax import controlled, lr_of
    from lrsched.adapters.optax import peak_tournament as optax_tournament

    loss_fn, params, batches = _optax_problem()
    direction = optax.scale_by_adam()
    won = optax_tournament(loss_fn, params, direction, batches, lr=3e-3, budget=1000)

    def train(member: Any, lrs: np.ndarray, start: int) -> Any:
        p, s = member
        losses = []
        for j, lr in enumerate(lrs):
            b = jax.tree_util.tree_map(lambda a, t=start + j: a[t], batches)
            loss, g = jax.value_and_grad(loss_fn)(p, b)
            u, s = direction.update(g, s, p)
            rate = np.float32(lr)
            p = jax.tree_util.tree_map(lambda a, d, rate=rate: a - rate * d, p, u)
            losses.append(float(loss))
        return (p, s), np.asarray(losses)

    ref = peak_tournament(train, (params, direction.init(params)), lr=3e-3, budget=1000)
    assert (won.lr, won.used, won.next_batch) == (ref.lr, ref.used, ref.next_batch)
    assert list(won.scores.values()) == pytest.approx(list(ref.scores.values()), rel=1e-5)
    for a, b in zip(jax.tree_util.tree_leaves(won.winner), jax.tree_util.tree_leaves(ref.winner)):
        np.testing.assert_allclose(np.asarray(a), np.asarray(b), rtol=1e-5, atol=1e-7)

    opt = controlled(direction, won.anneal())
    p, inner = won.winner
    state = opt.init(p)._replace(inner=inner)
    assert float(lr_of(state)) == pytest.approx(won.lr)

    @jax.jit
    def update(p: Any, state: Any, b: Any) -> Any:
        loss, g = jax.value_and_grad(loss_fn)(p, b)
        u, state = opt.update(g, state, p, value=loss)
        return optax.apply_updates(p, u), state

    for t in range(won.next_batch, won.next_batch + 1000 - won.used):
        p, state = update(p, state, jax.tree_util.tree_map(lambda a, t=t: a[t], batches))
    everything = jax.tree_util.tree_map(lambda a: a.reshape(-1, *a.shape[2:]), batches)
    assert float(loss_fn(p, everything)) < 0.5 * float(loss_fn(won.winner[0], everything))
    assert float(lr_of(state)) < 0.1 * won.lr  # the anneal decayed


def test_the_optax_adapter_refuses_what_it_cannot_train() -> None:
    import optax

    from lrsched.adapters.optax import peak_tournament as optax_tournament

    loss_fn, params, batches = _optax_problem()
    direction = optax.scale_by_adam()
    short = {k: v[:29] for k, v in batches.items()}  # the rounds read minibatches 0 .. 29
    with pytest.raises(ValueError, match=r"minibatches 0 \.\. 29, but batches holds 29"):
        optax_tournament(loss_fn, params, direction, short, lr=1e-3, budget=1000)
    with pytest.raises(TypeError, match=r"direction must be an optax\.GradientTransformation"):
        optax_tournament(loss_fn, params, lambda g: g, batches, lr=1e-3, budget=1000)
    with pytest.raises(ValueError, match=r"already applies -lr, as optax\.adam\(lr\) does"):
        optax_tournament(loss_fn, params, optax.adam(1e-3), batches, lr=1e-3, budget=1000)
    for direction in (optax.trace(0.9), optax.chain(optax.clip_by_global_norm(1.0), optax.scale_by_adam())):
        optax_tournament(loss_fn, params, direction, batches, lr=1e-3, budget=1000)  # directions: accepted
    with pytest.raises(TypeError, match="loss_fn must be callable"):
        optax_tournament(None, params, direction, batches, lr=1e-3, budget=1000)
    with pytest.raises(ValueError, match="leading axis of updates"):
        optax_tournament(loss_fn, params, direction, {"x": 1.0}, lr=1e-3, budget=1000)
    with pytest.raises(ValueError, match="lr"):
        optax_tournament(loss_fn, params, direction, batches, lr=-1.0, budget=1000)
