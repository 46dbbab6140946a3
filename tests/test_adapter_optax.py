"""Optax adapter: lrsched schedules inside Optax, and GreedyLR as an Optax transformation under ``jax.jit``."""

from __future__ import annotations

import doctest
import io
import subprocess
import sys

import numpy as np
import pytest

jax = pytest.importorskip("jax")
optax = pytest.importorskip("optax")

import jax.numpy as jnp  # noqa: E402

import lrsched as L  # noqa: E402
import lrsched.adapters.optax as adapter  # noqa: E402
from lrsched.adapters.optax import as_optax_schedule, greedy_lr_of, greedy_state_of, scale_by_greedy_lr  # noqa: E402

WARM_COS = L.warmup(L.cosine_decay(3e-2, 290, end_value=1e-4), warmup_steps=10)


# -- schedules ---------------------------------------------------------------------------------------------------------
def test_schedule_takes_optax_int32_count_and_returns_float32():
    sched = as_optax_schedule(WARM_COS)
    counts = jnp.arange(0, 400, dtype=jnp.int32)
    out = jax.jit(jax.vmap(sched))(counts)
    assert out.dtype == jnp.float32
    np.testing.assert_allclose(out, [WARM_COS(k) for k in range(400)], rtol=2e-6, atol=1e-9)
    # Optax's counter saturates at the largest int32; the schedule stays finite there.
    assert float(sched(jnp.asarray(np.iinfo(np.int32).max, jnp.int32))) == pytest.approx(1e-4, rel=1e-5)


def test_schedule_matches_optax_warmup_cosine():
    ours = as_optax_schedule(L.warmup(L.cosine_decay(1e-3, 90, end_value=1e-5), warmup_steps=10))
    theirs = optax.warmup_cosine_decay_schedule(0.0, 1e-3, 10, 100, end_value=1e-5)
    counts = jnp.arange(120, dtype=jnp.int32)
    np.testing.assert_allclose(jax.vmap(ours)(counts), jax.vmap(theirs)(counts), rtol=1e-5, atol=1e-9)


def test_schedule_in_inject_hyperparams_and_scale_by_schedule():
    params = {"w": jnp.ones(3)}
    grads = {"w": jnp.full(3, 2.0)}
    injected = optax.inject_hyperparams(optax.sgd)(learning_rate=as_optax_schedule(WARM_COS))
    scaled = optax.chain(optax.scale_by_schedule(as_optax_schedule(WARM_COS)), optax.scale(-1.0))
    s_inj, s_sc = injected.init(params), scaled.init(params)
    step_inj, step_sc = jax.jit(injected.update), jax.jit(scaled.update)
    for k in range(15):
        u_inj, s_inj = step_inj(grads, s_inj, params)
        u_sc, s_sc = step_sc(grads, s_sc, params)
        expected = -2.0 * np.float32(WARM_COS(k))
        np.testing.assert_allclose(u_inj["w"], expected, rtol=1e-6)
        np.testing.assert_allclose(u_sc["w"], expected, rtol=1e-6)
    assert float(s_inj.hyperparams["learning_rate"]) == pytest.approx(WARM_COS(14), rel=1e-6)


def test_schedule_dtype_is_checked():
    with pytest.raises(ValueError, match="dtype"):
        as_optax_schedule(WARM_COS, dtype="int32")


# -- digits: a small MLP trained under jax.jit -------------------------------------------------------------------------
def _digits() -> tuple[np.ndarray, np.ndarray]:
    from sklearn.datasets import load_digits

    x, y = load_digits(return_X_y=True)
    return (x / 16.0).astype(np.float32), y.astype(np.int32)


def _mlp_init(key: jax.Array) -> dict[str, jax.Array]:
    k1, k2 = jax.random.split(key)
    return {
        "w1": jax.random.normal(k1, (64, 64)) * 0.125,
        "b1": jnp.zeros(64),
        "w2": jax.random.normal(k2, (64, 10)) * 0.125,
        "b2": jnp.zeros(10),
    }


def _loss(params: dict[str, jax.Array], x: jax.Array, y: jax.Array) -> jax.Array:
    h = jnp.tanh(x @ params["w1"] + params["b1"])
    logits = h @ params["w2"] + params["b2"]
    return optax.softmax_cross_entropy_with_integer_labels(logits, y).mean()


def _accuracy(params: dict[str, jax.Array], x: np.ndarray, y: np.ndarray) -> float:
    h = jnp.tanh(x @ params["w1"] + params["b1"])
    return float(jnp.mean(jnp.argmax(h @ params["w2"] + params["b2"], -1) == y))


def _train(opt: optax.GradientTransformationExtraArgs, steps: int = 300) -> tuple[list[float], float, list[float]]:
    x, y = _digits()
    x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]
    params = _mlp_init(jax.random.PRNGKey(0))
    state = opt.init(params)

    @jax.jit
    def step(params, state, xb, yb):
        loss, grads = jax.value_and_grad(_loss)(params, xb, yb)
        updates, state = opt.update(grads, state, params, value=loss)
        return optax.apply_updates(params, updates), state, loss

    losses, lrs = [], []
    for k in range(steps):
        i = (k * 100) % 1400
        params, state, loss = step(params, state, x_train[i : i + 100], y_train[i : i + 100])
        losses.append(float(loss))
        if isinstance(opt, optax.GradientTransformationExtraArgs) and _has_greedy(state):
            lrs.append(float(greedy_lr_of(state)))
    return losses, _accuracy(params, x_test, y_test), lrs


def _has_greedy(state: object) -> bool:
    try:
        greedy_lr_of(state)
    except ValueError:
        return False
    return True


def test_mlp_learns_digits_with_a_schedule():
    opt = optax.with_extra_args_support(optax.adamw(as_optax_schedule(WARM_COS), weight_decay=1e-4))
    losses, accuracy, _ = _train(opt)
    assert np.mean(losses[-20:]) < 0.1 * np.mean(losses[:5])
    assert accuracy > 0.85  # ten classes: chance is 0.1


def test_mlp_learns_digits_with_greedy_lr():
    settings = L.GreedyLR(init_lr=3e-3, patience=5, factor=0.7, window=10, max_lr=3e-2)
    opt = optax.chain(optax.scale_by_adam(), scale_by_greedy_lr(settings))
    losses, accuracy, lrs = _train(opt)
    assert np.mean(losses[-20:]) < 0.1 * np.mean(losses[:5])
    assert accuracy > 0.85
    assert max(lrs) > 3e-3 * 1.4 and len(set(lrs)) > 5  # GreedyLR raised and moved the LR


def test_greedy_on_a_schedule_learns_and_keeps_warmup():
    on = L.GreedyOn(WARM_COS, L.GreedyLR(patience=5, factor=0.7, window=10, min_lr=0.1, max_lr=3.0), start_step=10)
    opt = optax.chain(optax.scale_by_adam(), scale_by_greedy_lr(on))
    _, accuracy, lrs = _train(opt)
    assert accuracy > 0.85
    np.testing.assert_allclose(lrs[:9], [WARM_COS(k) for k in range(1, 10)], rtol=1e-6)  # warmup untouched


# -- jitted transform == Python closure --------------------------------------------------------------------------------
def _loss_stream(n: int = 200) -> np.ndarray:
    rng = np.random.default_rng(3)
    t = np.arange(n)
    return (np.exp(-t / 40.0) + 0.3 * (t > 120) + 0.05 * rng.random(n)).astype(np.float32)


def _scan_lrs(settings: L.GreedyLR | L.GreedyOn, losses: np.ndarray) -> np.ndarray:
    tx = scale_by_greedy_lr(settings)
    params = {"w": jnp.ones(())}

    def body(state, loss):
        lr_before = state.lr
        updates, state = tx.update({"w": jnp.ones(())}, state, params, value=loss)
        return state, (lr_before, -updates["w"])

    _, (lrs, applied) = jax.jit(lambda s, xs: jax.lax.scan(body, s, xs))(tx.init(params), jnp.asarray(losses))
    np.testing.assert_array_equal(lrs, applied)  # the update is scaled by the reported LR
    return np.asarray(lrs, dtype=np.float64)


@pytest.mark.parametrize("window", [1, 5])
def test_jitted_transform_equals_the_python_closure(window):
    settings = L.GreedyLR(init_lr=0.1, patience=2, factor=0.5, window=window, cooldown=1, warmup=1, max_lr=0.8)
    losses = _loss_stream()
    closure = L.greedy(settings)
    expected = [closure.lr] + [closure(float(v)) for v in losses[:-1]]
    np.testing.assert_allclose(_scan_lrs(settings, losses), expected, rtol=1e-6)
    assert len(set(expected)) > 3


def test_jitted_greedy_on_equals_the_python_closure():
    on = L.GreedyOn(WARM_COS, L.GreedyLR(patience=2, factor=0.5, max_lr=4.0), start_step=10)
    losses = _loss_stream()
    closure = L.greedy_on(on.base, on.controller, start_step=10)
    expected = [closure.lr] + [closure(float(v)) for v in losses[:-1]]
    np.testing.assert_allclose(_scan_lrs(on, losses), expected, rtol=2e-6)


def test_packed_state_unpacks_to_the_pure_core_state():
    settings = L.GreedyLR(init_lr=0.1, patience=1, factor=0.5, window=3)
    tx = scale_by_greedy_lr(settings)
    state, core = tx.init(None), settings.init()
    assert len(jax.tree_util.tree_leaves(state)) == 3  # packed: few leaves to dispatch per step
    for v in _loss_stream(30):
        _, state = jax.jit(tx.update)({"w": jnp.ones(())}, state, value=v)
        core = settings.update(core, float(v))
    unpacked = greedy_state_of(state, settings)
    assert isinstance(unpacked, L.GreedyState)
    for name, mine, ref in zip(L.GreedyState._fields, unpacked, core):
        np.testing.assert_allclose(
            np.asarray(mine, dtype=np.float64), np.asarray(ref, dtype=np.float64), rtol=1e-6, err_msg=name
        )


def test_settings_are_checked():
    with pytest.raises(ValueError, match="init_lr"):
        scale_by_greedy_lr(L.GreedyLR())
    with pytest.raises(ValueError, match="per-group"):
        scale_by_greedy_lr(L.GreedyLR(init_lr=(0.1, 0.2)))
    with pytest.raises(TypeError, match="GreedyLR or GreedyOn"):
        scale_by_greedy_lr(0.1)  # type: ignore[arg-type]


# -- checkpoint round trip ---------------------------------------------------------------------------------------------
def test_optimizer_state_checkpoint_round_trip():
    settings = L.GreedyLR(init_lr=0.05, patience=2, factor=0.5, window=4, max_lr=0.4)
    opt = optax.chain(optax.scale_by_adam(), scale_by_greedy_lr(settings))
    params = {"w": jnp.arange(3.0)}
    step = jax.jit(lambda g, s, p, v: opt.update(g, s, p, value=v))
    losses = _loss_stream()[100:160]  # the jump at step 120 makes GreedyLR back off

    def run(state, values):
        lrs = []
        for v in values:
            _, state = step(params, state, params, v)
            lrs.append(float(greedy_lr_of(state)))
        return state, lrs

    state, _ = run(opt.init(params), losses[:25])
    leaves, treedef = jax.tree_util.tree_flatten(state)
    buffer = io.BytesIO()
    np.savez(buffer, *[np.asarray(leaf) for leaf in leaves])
    buffer.seek(0)
    stored = np.load(buffer)
    template_def = jax.tree_util.tree_structure(opt.init(params))  # restore into a fresh template
    assert template_def == treedef
    restored = jax.tree_util.tree_unflatten(template_def, [jnp.asarray(stored[f"arr_{i}"]) for i in range(len(leaves))])
    _, expected = run(state, losses[25:])
    _, resumed = run(restored, losses[25:])
    assert resumed == expected
    assert len(set(expected)) > 1


# -- housekeeping ------------------------------------------------------------------------------------------------------
def test_docstring_examples_run():
    assert doctest.testmod(adapter).failed == 0


def test_missing_optax_names_the_extra():
    code = "import sys; sys.modules['optax'] = None\nimport lrsched.adapters.optax"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert out.returncode != 0
    assert 'pip install "lrsched[jax]"' in out.stderr


@pytest.mark.parametrize(
    "inner",
    [
        optax.scale_by_adam(),
        optax.identity(),
        optax.trace(0.9),
        optax.chain(optax.clip_by_global_norm(1.0), optax.scale_by_adam()),
        optax.chain(optax.add_decayed_weights(1e-4), optax.scale_by_adam()),
        optax.masked(optax.scale_by_adam(), {"w": True, "b": False}),  # cannot update the stand-in: not checked
    ],
    ids=["scale_by_adam", "identity", "trace", "clip_then_adam", "decay_then_adam", "masked"],
)
def test_controlled_accepts_a_direction_and_descends(inner):
    """The directions Optax places before ``scale_by_learning_rate`` pass the probe, and ``controlled`` with them
    lowers the loss of a least-squares problem (the sign is right)."""
    rng = np.random.default_rng(0)
    x = jnp.asarray(rng.normal(size=(64, 3)), jnp.float32)
    y = x @ jnp.asarray([1.0, -2.0, 0.5]) + 0.3
    params = {"w": jnp.zeros(3), "b": jnp.zeros(())}

    def loss_fn(p):
        return jnp.mean((x @ p["w"] + p["b"] - y) ** 2)

    opt = adapter.controlled(inner, L.Hypergradient(init_lr=0.01, beta=1e-4))
    state = opt.init(params)

    @jax.jit
    def step(p, s):
        loss, g = jax.value_and_grad(loss_fn)(p)
        u, s = opt.update(g, s, p, value=loss)
        return optax.apply_updates(p, u), s

    first = float(loss_fn(params))
    for _ in range(100):
        params, state = step(params, state)
    assert float(loss_fn(params)) < 0.5 * first
