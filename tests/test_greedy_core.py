"""GreedyLR's pure core: Python == jit == vmap == scan, smoothing, non-finite values, errors, configs."""

from __future__ import annotations

import json
import math
import random

import pytest
from test_greedy_streams import closure_lrs, core_lrs, reference_lrs, streams

import lrsched

jax = pytest.importorskip("jax")
jnp = jax.numpy

JIT_SETTINGS = {
    "smooth": dict(init_lr=0.1, window=5, patience=2),
    "smooth_blocks_reset": dict(init_lr=0.1, window=70, patience=1, min_lr=0.05, reset_start=2, factor=0.5),
    "groups_reset": dict(
        init_lr=(0.1, 0.2), min_lr=(0.01, 0.1), max_lr=(0.3, 0.25), patience=1, reset_start=2, cooldown=2, warmup=1
    ),
    "skip_max_rel": dict(init_lr=0.1, nonfinite="skip", window=3, mode="max", patience=1, max_lr=0.5),
    "plateau": dict(init_lr=0.1, increase=False, track_best_during_wait=True, cooldown=2, patience=1),
}


def _with_bad_values(values: list[float]) -> list[float]:
    out = list(values)
    out[10], out[11], out[50], out[90] = math.nan, math.inf, -math.inf, math.nan
    return out


def _rows(lrs: object) -> list[object]:
    """Scan output (an array, or a tuple of per-group arrays) as a list of Python LRs."""
    if isinstance(lrs, tuple):
        return list(zip(*(jnp.asarray(x).tolist() for x in lrs)))
    return jnp.asarray(lrs).tolist()


def _scan(g: lrsched.GreedyLR, state: lrsched.GreedyState, values: object) -> tuple[object, object]:
    def body(s: lrsched.GreedyState, v: object) -> tuple[lrsched.GreedyState, object]:
        s = g.update(s, v)
        return s, s.lr

    return jax.lax.scan(body, state, values)


@pytest.mark.parametrize("setting", sorted(JIT_SETTINGS))
def test_python_jit_scan_and_vmap_agree_exactly_in_float64(setting: str) -> None:
    g = lrsched.GreedyLR(**JIT_SETTINGS[setting])
    values = _with_bad_values(streams(120)["noisy"])
    expected = core_lrs(g, values)
    assert closure_lrs(g, values) == expected
    with jax.enable_x64(True):
        state = g.init(like=jnp.zeros((), jnp.float64))
        final, lrs = jax.jit(lambda s, xs: _scan(g, s, xs))(state, jnp.asarray(values))
        assert _rows(lrs) == expected
        # One jitted update at a time
        s, step = state, jax.jit(g.update)
        for v in values[:40]:
            s = step(s, jnp.float64(v))
        resumed = lrsched.greedy(g)
        resumed.load_state(s)
        assert resumed.lr == expected[39]
    # A jitted final state continues in the Python closure exactly
    sched = lrsched.greedy(g)
    sched.load_state(final)
    more = streams(60)["oscillating"]
    sched_ref = lrsched.greedy(g)
    for v in values:
        sched_ref(v)
    assert [sched(v) for v in more] == [sched_ref(v) for v in more]


def test_a_python_state_converted_leaf_by_leaf_also_scans() -> None:
    """``jax.tree.map(jnp.asarray, g.init())`` keeps the window as a tuple of scalars; same results."""
    g = lrsched.GreedyLR(init_lr=0.1, window=3, patience=1, nonfinite="skip")
    values = _with_bad_values(streams(100)["oscillating"])
    with jax.enable_x64(True):
        state = jax.tree.map(lambda x: jnp.asarray(x, jnp.float64 if isinstance(x, float) else jnp.int32), g.init())
        assert isinstance(state.window, tuple)
        _, lrs = jax.jit(lambda s, xs: _scan(g, s, xs))(state, jnp.asarray(values))
    assert _rows(lrs) == core_lrs(g, values)


def test_vmap_runs_256_controllers_over_a_batch_of_streams() -> None:
    g = lrsched.GreedyLR(init_lr=0.1, window=4, patience=2, min_lr=0.01, max_lr=0.4, cooldown=1)
    rng = random.Random(7)
    batch = [[1.0 / (1 + 0.02 * i) + rng.gauss(0, 0.03 * (k % 5)) for i in range(80)] for k in range(256)]
    with jax.enable_x64(True):
        state = jax.tree.map(lambda x: jnp.broadcast_to(x, (256, *x.shape)), g.init(like=jnp.zeros((), jnp.float64)))
        run = jax.jit(jax.vmap(lambda s, xs: _scan(g, s, xs)))
        final, lrs = run(state, jnp.asarray(batch))
    assert lrs.shape == (256, 80) and final.step.tolist() == [80] * 256
    rows = jnp.asarray(lrs).tolist()
    for k in range(0, 256, 15):
        assert rows[k] == closure_lrs(g, batch[k])
    assert len({tuple(r) for r in rows}) > 10  # the streams really differ


def test_float32_state_keeps_its_dtype_and_tracks_the_float64_run() -> None:
    g = lrsched.GreedyLR(init_lr=0.1, patience=1, threshold=1e-3, threshold_mode="abs", min_lr=1e-3)
    values = [float(jnp.float32(v)) for v in streams(200)["oscillating"]]
    state = g.init(like=jnp.zeros((), jnp.float32))
    final, lrs = jax.jit(lambda s, xs: _scan(g, s, xs))(state, jnp.asarray(values, jnp.float32))
    assert lrs.dtype == jnp.float32 and final.best.dtype == jnp.float32 and final.good.dtype == jnp.int32
    expected = core_lrs(g, values)
    assert jnp.allclose(lrs, jnp.asarray(expected, jnp.float32), rtol=1e-5)


def test_nonfinite_bad_counts_as_no_improvement_and_matches_the_reference_without_smoothing() -> None:
    g = lrsched.GreedyLR(init_lr=0.1, patience=1, factor=0.5, threshold=1e-6, threshold_mode="abs")
    values = _with_bad_values(streams(120)["monotone"])
    values[50] = math.nan  # -inf would become the reference's best forever; NaN does not
    lrs = core_lrs(g, values)
    assert lrs == reference_lrs(g, values)
    huge = [v if math.isfinite(v) else 1e300 for v in values]  # never better, never stored
    assert lrs == core_lrs(g, huge)


def test_minus_inf_never_becomes_best() -> None:
    g = lrsched.GreedyLR(init_lr=0.1, patience=0, factor=0.5)
    s = g.init()
    for v in (1.0, -math.inf, 0.9):
        s = g.update(s, v)
    assert s.best == 0.9
    # The reference takes -inf as an improvement (LR up) and as its best, so 0.9 and all later values are 'worse'.
    assert reference_lrs(g, [1.0, -math.inf, 0.9, 0.8]) == [0.2, 0.4, 0.2, 0.1]
    assert core_lrs(g, [1.0, -math.inf, 0.9, 0.8]) == [0.2, 0.1, 0.2, 0.4]


def test_nonfinite_skip_changes_nothing_but_the_step() -> None:
    g = lrsched.GreedyLR(init_lr=0.1, patience=1, window=3, nonfinite="skip", cooldown=1)
    values = _with_bad_values(streams(120)["noisy"])
    finite = [v for v in values if math.isfinite(v)]
    expected = iter(core_lrs(g, finite))
    s, last = g.init(), 0.1
    for v in values:
        before = s
        s = g.update(s, v)
        if math.isfinite(v):
            last = next(expected)
        else:
            assert s._replace(step=before.step) == before and s.step == before.step + 1
        assert s.lr == last
    assert closure_lrs(g, values) == core_lrs(g, values)


def test_smoothing_is_the_mean_of_the_values_held_not_a_drifting_running_sum() -> None:
    from transformers.optimization import StreamingAverage

    values = [1e17, 1.0, 1.0, 1.0, 1.0]
    ref = StreamingAverage(3)
    ref_means = [ref.streamavg(v) for v in values]
    assert ref_means[-1] != 1.0  # the reference's sum lost the 1.0s to the 1e17 it later subtracted
    g = lrsched.GreedyLR(init_lr=0.1, window=3)
    s = g.init()
    for v in values:
        s = g.update(s, v)
    assert s.best == 1.0
    assert sorted(s.window) == [1.0, 1.0, 1.0] and s.count == 3


@pytest.mark.parametrize("window", [2, 64, 65, 150])
def test_closure_window_bookkeeping_equals_the_core(window: int) -> None:
    g = lrsched.GreedyLR(init_lr=0.1, window=window, patience=1, min_lr=0.02, reset_start=2, factor=0.5)
    values = _with_bad_values(streams(60)["plateau"] + streams(150)["noisy"] + streams(100)["plateau"])
    sched, state, emptied = lrsched.greedy(g), g.init(), False
    for v in values:
        state = g.update(state, v)
        assert sched(v) == state.lr and sched.state == state
        emptied |= state.count == 0
    assert emptied  # a reset emptied the window on the way


def test_window_mean_is_the_exact_mean_of_the_values_held_for_exact_data() -> None:
    g = lrsched.GreedyLR(init_lr=0.1, window=100, mode="max", threshold=0.0)
    s = g.init()
    for i in range(250):  # integers: every partial sum is exact, so the mean is too
        s = g.update(s, float(i))
        held = range(max(0, i - 99), i + 1)
        assert s.best == sum(held) / len(held)


def test_partial_window_averages_the_values_held() -> None:
    g = lrsched.GreedyLR(init_lr=0.1, window=4, mode="max", threshold=0.0)
    s = g.init()
    for v, mean in ((2.0, 2.0), (4.0, 3.0), (9.0, 5.0)):
        s = g.update(s, v)
        assert s.best == mean


def test_numpy_arrays_run_a_batch_of_controllers() -> None:
    np = pytest.importorskip("numpy")
    g = lrsched.GreedyLR(init_lr=0.1, window=3, patience=1, min_lr=0.02, reset_start=2, factor=0.5)
    batch = [_with_bad_values(streams(120)[name]) for name in ("noisy", "plateau", "oscillating")]
    state = g.init(like=np.zeros(3))
    state = state._replace(**{k: np.broadcast_to(v, (3, *np.shape(v))) for k, v in state._asdict().items()})
    rows = []
    for column in np.asarray(batch).T:
        state = g.update(state, column)
        rows.append(np.asarray(state.lr).tolist())
    for k, values in enumerate(batch):
        assert [r[k] for r in rows] == closure_lrs(g, values)


def test_update_accepts_numpy_and_torch_scalars_on_a_python_state() -> None:
    np = pytest.importorskip("numpy")
    torch = pytest.importorskip("torch")
    g = lrsched.GreedyLR(init_lr=0.1, patience=0)
    a = g.update(g.update(g.init(), np.float32(2.0)), torch.tensor(3.0))
    b = g.update(g.update(g.init(), 2.0), 3.0)
    assert a == b and type(a.lr) is float


ERRORS = [
    (dict(factor=1.0), ValueError, "factor must be in (0.0, 1.0), got 1.0"),
    (dict(factor=0.0), ValueError, "factor must be in (0.0, 1.0)"),
    (dict(factor=-0.5), ValueError, "factor must be in (0.0, 1.0)"),
    (dict(patience=-1), ValueError, "patience must be in [0, 2147483647], got -1"),
    (dict(patience=1.5), TypeError, "patience must be an integer"),
    (dict(cooldown=-2), ValueError, "cooldown must be in [0, 2147483647]"),
    (dict(warmup=-1), ValueError, "warmup must be in [0, 2147483647]"),
    (dict(window=0), ValueError, "window must be in [1, 65536], got 0"),
    (dict(min_lr=0.5, max_lr=0.1), ValueError, "min_lr must be <= max_lr"),
    (dict(min_lr=-1.0), ValueError, "min_lr must be in [0.0, inf)"),
    (dict(init_lr=2.0, max_lr=1.0), ValueError, "init_lr must lie in the controller's LR bounds [0.0, 1.0], got 2.0"),
    (dict(init_lr=1e-4, min_lr=1e-3), ValueError, "init_lr must lie in the controller's LR bounds [0.001, inf)"),
    (dict(mode="mean"), ValueError, "mode must be one of 'min', 'max', got 'mean'"),
    (dict(threshold_mode="pct"), ValueError, "threshold_mode must be one of 'rel', 'abs'"),
    (dict(nonfinite="zero"), ValueError, "nonfinite must be one of 'bad', 'skip'"),
    (dict(threshold=-1e-3), ValueError, "threshold must be in"),
    (dict(threshold=1.0), ValueError, "threshold must be in [0.0, 1.0), got 1.0"),
    (dict(eps=-1.0), ValueError, "eps must be in [0.0, inf)"),
    (dict(reset_start=0), ValueError, "reset_start must be in [1, 2147483647]"),
    (dict(factor=math.nan), ValueError, "factor must be finite"),
    (dict(factor="0.5"), TypeError, "factor must be a real number"),
    (dict(increase=1), TypeError, "increase must be True or False"),
    (dict(min_lr=(0.1, 0.2), max_lr=(1.0, 1.0, 1.0)), ValueError, "same length"),
    (dict(min_lr=()), ValueError, "one value per parameter group"),
]


@pytest.mark.parametrize(("kwargs", "error", "message"), ERRORS)
def test_invalid_settings_raise_at_construction(kwargs: dict, error: type, message: str) -> None:
    with pytest.raises(error) as info:
        lrsched.GreedyLR(**kwargs)
    assert str(info.value).startswith("GreedyLR: ")
    assert message in str(info.value)


def test_init_errors_name_the_problem() -> None:
    with pytest.raises(ValueError, match="no initial LR"):
        lrsched.GreedyLR().init()
    with pytest.raises(ValueError, match=r"lr must lie in the controller's LR bounds \[0.0, 0.5\]"):
        lrsched.GreedyLR(max_lr=0.5).init(lr=0.6)
    with pytest.raises(ValueError, match="lr must have 2 per-group values, got 3"):
        lrsched.GreedyLR(min_lr=(0.0, 0.0)).init(lr=(0.1, 0.1, 0.1))
    with pytest.raises(TypeError, match="like must be a NumPy, JAX or torch array"):
        lrsched.GreedyLR(init_lr=0.1).init(like=[0.0])


@pytest.mark.parametrize(
    "g",
    [
        lrsched.GreedyLR(init_lr=0.1),
        lrsched.GreedyLR(init_lr=(0.1, 0.2), min_lr=(0.0, 0.01), max_lr=None, window=7, reset_start=5, mode="max"),
        lrsched.reduce_on_plateau(init_lr=0.3, patience=3, cooldown=2),
    ],
)
def test_config_round_trip_is_json(g: lrsched.GreedyLR) -> None:
    config = json.loads(json.dumps(g.to_config(), allow_nan=False))
    assert lrsched.from_config(config) == g
    assert hash(lrsched.from_config(config)) == hash(g)
    assert lrsched.greedy(g).to_config() == g.to_config()


def test_from_config_rejects_unknown_keys() -> None:
    config = lrsched.GreedyLR(init_lr=0.1).to_config()
    config["patiense"] = 3
    with pytest.raises(ValueError, match="unknown key"):
        lrsched.from_config(config)


def test_greedy_knobs_override_settings_and_reject_non_settings() -> None:
    sched = lrsched.greedy(lrsched.reduce_on_plateau(init_lr=0.1), patience=0)
    assert sched.settings.patience == 0 and sched.settings.increase is False
    with pytest.raises(TypeError, match="settings must be a GreedyLR"):
        lrsched.greedy({"init_lr": 0.1})  # type: ignore[arg-type]
