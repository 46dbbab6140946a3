"""The schedule-free tournament (``lrsched.tools.free_tournament``) and its Optax and torch paths.

What is checked: the unit conversion and its errors; that the method is the frozen tournament at its defaults
followed by a constant LR (the same value on every backend); that the Optax adapter trains exactly
``optax.contrib.schedule_free`` at the LRs the tournament reports, and refuses a base with momentum or one that
already applies the LR; that the torch adapter drives an optimizer of the authors' ``schedulefree`` package, refuses
any other, learns, and that a run checkpointed after the tournament resumes in a fresh process with
``torch.load(weights_only=True)`` bit for bit.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from lrsched import from_json
from lrsched.tools.free_tournament import B1, free_tournament, rest, schedule_free_lr
from lrsched.tools.tournament import peak_tournament

ROOT = Path(__file__).resolve().parents[1]


def sf_quadratic(member: tuple[float, float, float, float], lrs: np.ndarray, start: int) -> Any:
    """Schedule-free gradient descent on 0.5 * w**2, written from the paper's equations (member: z, x, weight
    sum, largest LR so far)."""
    z, x, total, top = member
    losses = []
    for lr in lrs:
        y = B1 * x + (1 - B1) * z
        losses.append(0.5 * y * y)
        z = z - lr * y
        top = max(top, float(lr))
        total += top**2
        x = x + (top**2 / total) * (z - x)
    return (z, x, total, top), np.asarray(losses)


def test_the_lr_of_an_sgd_with_momentum_is_its_long_run_step() -> None:
    assert schedule_free_lr(0.01) == 0.01
    assert schedule_free_lr(0.02, 0.5) == 0.04
    assert schedule_free_lr(1e-3, 0.9) == pytest.approx(1e-2, rel=1e-15)
    with pytest.raises(ValueError, match=r"schedule_free_lr: momentum must be in \[0.0, 1.0\), got 1.0"):
        schedule_free_lr(0.1, 1.0)
    with pytest.raises(ValueError, match=r"schedule_free_lr: lr must be in \(0.0, inf\), got 0.0"):
        schedule_free_lr(0.0)


def test_the_method_is_the_tournament_at_its_defaults_then_the_winners_lr_constant_on_every_backend() -> None:
    won = free_tournament(sf_quadratic, (3.0, 3.0, 0.0, 0.0), lr=0.1, budget=400)
    same = peak_tournament(sf_quadratic, (3.0, 3.0, 0.0, 0.0), lr=0.1, budget=400)
    assert (won.lr, won.used, won.next_batch, won.scores, won.lrs) == (
        same.lr,
        same.used,
        same.next_batch,
        same.scores,
        same.lrs,
    )
    assert won.winner == same.winner
    schedule = rest(won)
    steps = [0, 1, won.budget - won.used - 1, 10**6]
    assert [schedule(t) for t in steps] == [won.lr] * 4
    assert np.all(schedule(np.asarray(steps)) == won.lr)
    assert from_json(json.dumps(schedule.to_config())) == schedule
    jnp = pytest.importorskip("jax.numpy")
    torch = pytest.importorskip("torch")
    assert np.all(np.asarray(schedule(jnp.asarray(steps))) == np.float32(won.lr))
    import jax

    ts = jnp.asarray(steps)
    scanned = jax.lax.scan(lambda c, t: (c, schedule(t)), 0, ts)[1]
    for values in (jax.jit(schedule)(ts), jax.vmap(schedule)(ts), scanned):
        assert np.all(np.asarray(values) == np.float32(won.lr))
    assert torch.all(schedule(torch.tensor(steps)) == torch.tensor(won.lr))


def _regression() -> tuple[Any, Any, Any]:
    jnp = pytest.importorskip("jax.numpy")
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(600, 16, 3)), jnp.float32)
    batches = {"x": x, "y": x @ jnp.asarray([1.0, -2.0, 0.5])}

    def loss_fn(p: Any, b: Any) -> Any:
        return jnp.mean((b["x"] @ p["w"] - b["y"]) ** 2)

    return loss_fn, {"w": jnp.zeros(3)}, batches


def test_optax_the_winner_is_optax_schedule_free_trained_at_the_lrs_the_tournament_reports() -> None:
    """Replaying ``won.lrs`` (the winner's LR per update: the rounds' warmup, then its LR) through
    ``optax.contrib.schedule_free`` from the same start on the same minibatches gives the winner's parameters and
    state; the run then goes on at the winner's LR and the average x learns."""
    import jax
    import optax

    from lrsched.adapters.optax import free_tournament as optax_free_tournament
    from lrsched.adapters.optax import schedule_free

    loss_fn, params, batches = _regression()
    base = optax.scale_by_adam(b1=0.0)
    won = optax_free_tournament(loss_fn, params, base, batches, lr=1e-2, budget=600)
    assert len(won.lrs) == won.next_batch and won.lrs[-1] == won.lr
    lrs = np.asarray(won.lrs, np.float32)
    reference = optax.contrib.schedule_free(  # its own count starts at 1, the base's at 0
        optax.chain(optax.scale_by_adam(b1=0.0), optax.scale_by_learning_rate(lambda c: lrs[c])),
        lambda c: lrs[c - 1],
        b1=B1,
    )
    p, s = params, reference.init(params)
    for t in range(won.next_batch):
        g = jax.grad(loss_fn)(p, jax.tree_util.tree_map(lambda a, t=t: a[t], batches))
        u, s = reference.update(g, s, p)
        p = optax.apply_updates(p, u)
    got_p, got_s = won.winner
    np.testing.assert_allclose(got_p["w"], p["w"], rtol=1e-5, atol=1e-7)
    np.testing.assert_allclose(got_s.inner_state.z["w"], s.z["w"], rtol=1e-5, atol=1e-7)
    assert float(got_s.hyperparams["learning_rate"]) == pytest.approx(won.lr)

    opt = schedule_free(base, won.lr)
    p, s = won.winner
    step = jax.jit(lambda p, s, b: _sgd_step(opt, loss_fn, p, s, b))
    for t in range(won.next_batch, won.next_batch + won.budget - won.used):
        p, s = step(p, s, jax.tree_util.tree_map(lambda a, t=t: a[t], batches))
    x = optax.contrib.schedule_free_eval_params(s.inner_state, p)
    whole = jax.tree_util.tree_map(lambda a: a.reshape(-1, *a.shape[2:]), batches)
    assert float(loss_fn(x, whole)) < 1e-4 * float(loss_fn(params, whole))


def _sgd_step(opt: Any, loss_fn: Any, p: Any, s: Any, b: Any) -> Any:
    import jax
    import optax

    u, s = opt.update(jax.grad(loss_fn)(p, b), s, p)
    return optax.apply_updates(p, u), s


@pytest.mark.parametrize(
    ("base", "match"),
    [
        ("optax.trace(0.9)", "carries momentum"),
        ("optax.scale_by_adam()", "carries momentum"),  # Adam's first moment: b1=0.9
        ("optax.adam(1e-3)", "already applies -lr"),
        ("optax.sgd(1e-2)", "already applies -lr"),
    ],
)
def test_optax_refuses_a_base_with_momentum_or_its_own_lr_naming_it(base: str, match: str) -> None:
    import optax

    from lrsched.adapters.optax import free_tournament as optax_free_tournament

    loss_fn, params, batches = _regression()
    with pytest.raises(ValueError, match=rf"free_tournament: base.*{match}"):
        optax_free_tournament(loss_fn, params, eval(base, {"optax": optax}), batches, lr=1e-3, budget=600)


def test_optax_refuses_too_few_minibatches_and_a_base_that_is_not_a_transformation() -> None:
    import optax

    from lrsched.adapters.optax import free_tournament as optax_free_tournament

    loss_fn, params, batches = _regression()
    few = {k: v[:10] for k, v in batches.items()}  # the rounds need 6 + 12
    with pytest.raises(ValueError, match=r"batches holds 10; give at least 18"):
        optax_free_tournament(loss_fn, params, optax.identity(), few, lr=1e-3, budget=600)
    with pytest.raises(TypeError, match=r"base must be an optax.GradientTransformation"):
        optax_free_tournament(loss_fn, params, "adam", batches, lr=1e-3, budget=600)


def _torch_problem() -> tuple[Any, Any, Any, Any]:
    torch = pytest.importorskip("torch")
    schedulefree = pytest.importorskip("schedulefree")
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
    x = torch.randn(256, 4)
    y = torch.tanh(x @ torch.tensor([[0.5], [-1.0], [0.25], [0.75]]))
    opt = schedulefree.AdamWScheduleFree(model.parameters(), lr=1e-2, warmup_steps=0)
    return model, opt, x, y


def test_torch_refuses_an_optimizer_that_is_not_schedule_free_or_warms_up_by_itself() -> None:
    torch = pytest.importorskip("torch")
    schedulefree = pytest.importorskip("schedulefree")
    from lrsched.adapters.torch import free_tournament as torch_free_tournament

    model = torch.nn.Linear(2, 1)
    with pytest.raises(TypeError, match=r"must be schedule-free.*Adam has no train\(\) or eval\(\).*peak_tournament"):
        torch_free_tournament(model, torch.optim.Adam(model.parameters()), lambda t: 0.0, budget=100)
    warm = schedulefree.AdamWScheduleFree(model.parameters(), lr=1e-3, warmup_steps=10)
    with pytest.raises(ValueError, match=r"warmup_steps=10.*warmup_steps=0"):
        torch_free_tournament(model, warm, lambda t: 0.0, budget=100)


_RUN = """
import sys, torch, schedulefree
sys.path.insert(0, {tests!r})
from test_free_tournament import _torch_problem, _torch_rest
model, opt, x, y = _torch_problem()
state = torch.load({path!r}, weights_only=True)
model.load_state_dict(state["model"]); opt.load_state_dict(state["opt"])
_torch_rest(model, opt, x, y, state["start"], state["stop"])
torch.save({{k: v.clone() for k, v in model.state_dict().items()}}, {out!r})
"""


def _torch_rest(model: Any, opt: Any, x: Any, y: Any, start: int, stop: int) -> None:
    import torch

    for t in range(start, stop):
        idx = torch.arange(t * 16, t * 16 + 16) % len(x)
        loss = torch.nn.functional.mse_loss(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
    opt.eval()


def test_torch_learns_and_a_checkpoint_after_the_rounds_resumes_in_a_fresh_process_bit_for_bit(tmp_path: Path) -> None:
    torch = pytest.importorskip("torch")
    from lrsched.adapters.torch import free_tournament as torch_free_tournament

    model, opt, x, y = _torch_problem()
    with torch.no_grad():
        initial = float(torch.nn.functional.mse_loss(model(x), y))

    def step(t: int) -> Any:
        idx = torch.arange(t * 16, t * 16 + 16) % len(x)
        loss = torch.nn.functional.mse_loss(model(x[idx]), y[idx])
        opt.zero_grad()
        loss.backward()
        opt.step()
        return loss.detach()

    won = torch_free_tournament(model, opt, step, budget=600)
    assert won.used == 5 * 6 + 2 * 12 and opt.param_groups[0]["lr"] == won.lr
    start, stop = won.next_batch, won.next_batch + won.budget - won.used
    path, out = tmp_path / "ckpt.pt", tmp_path / "resumed.pt"
    torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "start": start, "stop": stop}, path)
    _torch_rest(model, opt, x, y, start, stop)
    with torch.no_grad():
        final = float(torch.nn.functional.mse_loss(model(x), y))
    assert final < 0.05 * initial
    code = textwrap.dedent(_RUN).format(tests=str(ROOT / "tests"), path=str(path), out=str(out))
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT, timeout=300)
    resumed = torch.load(out, weights_only=True)
    for name, value in model.state_dict().items():
        assert torch.equal(resumed[name], value), name


def test_the_benchmark_run_converts_an_sgd_with_momentums_lr_and_reports_the_pick_in_its_units() -> None:
    """``no_tuning.free_run`` on a small validation task trained with SGD and momentum: the adapter works in the
    schedule-free LR (x 1 / (1 - 0.9)), the pick comes back in the task's units, one of the grid's multiples."""
    pytest.importorskip("jax")
    from benchmarks import no_tuning
    from benchmarks.learned_tasks import FRESH
    from lrsched.tools.tournament import GRID

    task = FRESH["synth_mlp"]
    assert task.optimizer == "sgdm"
    out = no_tuning.free_run(task, 0.1, seed=0)
    assert min(abs(out["pick"] / (0.1 * m) - 1.0) for m in GRID) < 1e-6
    assert np.isfinite(out["eval"][-1]) and len(out["lr"]) == task.steps
    assert json.loads(json.dumps({"pick": out["pick"]}))["pick"] == out["pick"]


def test_keras_has_no_schedule_free_optimizer_so_its_path_refuses_naming_the_alternatives() -> None:
    pytest.importorskip("keras")
    code = (
        "from lrsched.adapters.keras import free_tournament\n"
        "try:\n    free_tournament(None, None, budget=100)\n"
        "except NotImplementedError as e:\n    print(e)\n"
    )
    env = {**os.environ, "KERAS_BACKEND": "numpy"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, cwd=ROOT, timeout=300)
    assert "Keras 3 ships no schedule-free optimizer" in out.stdout, out.stderr
    assert "lrsched.adapters.keras.peak_tournament" in out.stdout and "ControllerCallback" in out.stdout


def test_adams_direction_without_momentum_is_scale_by_rms_without_adams_first_moment_buffer() -> None:
    """The base the docs recommend for Adam (``scale_by_rms`` with bias correction, eps outside the root) moves as
    ``scale_by_adam(b1=0.0)`` does, to float rounding, without keeping a buffer equal to the gradient."""
    jnp = pytest.importorskip("jax.numpy")
    import jax
    import optax

    adam = optax.scale_by_adam(b1=0.0, b2=0.999, eps=1e-8)
    rms = optax.scale_by_rms(decay=0.999, eps=1e-8, eps_in_sqrt=False, bias_correction=True)
    params = {"w": jnp.zeros(7)}
    sa, sr = adam.init(params), rms.init(params)
    rng = np.random.default_rng(0)
    for _ in range(60):
        g = {"w": jnp.asarray(rng.normal(size=7) * rng.uniform(0.01, 10), jnp.float32)}
        ua, sa = adam.update(g, sa, params)
        ur, sr = rms.update(g, sr, params)
        np.testing.assert_allclose(ur["w"], ua["w"], rtol=1e-6)
    assert len(jax.tree_util.tree_leaves(sr)) < len(jax.tree_util.tree_leaves(sa))  # no first-moment buffer
