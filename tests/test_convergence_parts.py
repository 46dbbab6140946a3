"""The pieces the convergence benchmark's conclusions rest on: ranks, intervals, tuning, LM data, registry, engine.

Each is checked against an independent reference (SciPy's ranks, a plain Python loop, ``lrsched.wsd``) or a
property, not against numbers copied from a run.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from _benchmarks import CONVERGENCE, use_benchmarks
from hypothesis import given
from hypothesis import strategies as st

use_benchmarks(*CONVERGENCE)


# -- ranks and intervals -----------------------------------------------------------------------------------


@given(st.lists(st.sampled_from([0.1, 0.2, 0.3, 1.0, math.inf]), min_size=1, max_size=12))
def test_tied_ranks_equal_scipys_average_ranks(values: list[float]) -> None:
    scipy_stats = pytest.importorskip("scipy.stats")
    from benchmarks.convergence.stats import tied_ranks

    np.testing.assert_array_equal(tied_ranks(np.array(values)), scipy_stats.rankdata(values, method="average"))


def test_rank_matrix_ranks_each_seed_and_shares_ties() -> None:
    from benchmarks.convergence.stats import rank_matrix

    recs = [{"seed": s, "scheduler": n, "final_loss": v} for s in range(3) for n, v in [("a", 1.0), ("b", 1.0)]]
    recs += [{"seed": s, "scheduler": "c", "final_loss": None} for s in range(3)]  # diverged: worst
    np.testing.assert_array_equal(rank_matrix(recs, ["a", "b", "c"]), [[1.5, 1.5, 3.0]] * 3)


def test_bootstrap_resamples_each_stratum_on_its_own_and_is_seeded() -> None:
    from benchmarks.convergence.stats import bootstrap_ci

    a, b = np.zeros((5, 2)), np.ones((3, 2))
    seen = []

    def stat(samples: list[np.ndarray]) -> np.ndarray:
        seen.append([s.shape for s in samples])
        return np.concatenate([s[:, 0] for s in samples]).mean(keepdims=True)

    lo, hi = bootstrap_ci([a, b], stat, n_boot=50)
    assert all(shapes == [(5, 2), (3, 2)] for shapes in seen)
    assert lo[0] == hi[0] == pytest.approx(3 / 8)  # every resample keeps 5 zeros and 3 ones
    x = np.random.default_rng(1).standard_normal((40, 1))
    first = bootstrap_ci([x], lambda s: np.median(s[0], axis=0), n_boot=200)
    again = bootstrap_ci([x], lambda s: np.median(s[0], axis=0), n_boot=200)
    assert first == again and first[0][0] < np.median(x) < first[1][0]


# -- tuning --------------------------------------------------------------------------------------------------


@given(st.integers(-8, 6), st.sampled_from([1, 3]))
def test_ladder_steps_up_and_down_are_inverse_half_decades(exp: int, mantissa: int) -> None:
    from benchmarks.convergence.tuning import ladder_step

    lr = float(f"{mantissa}e{exp}")
    up = ladder_step(lr, up=True)
    assert ladder_step(up, up=False) == lr
    assert up / lr == pytest.approx(3.0 if mantissa == 1 else 10 / 3)


@given(st.floats(-4.0, 3.0))
def test_widening_moves_the_choice_into_the_interior(log_best: float) -> None:
    """On a loss with one minimum in LR, widening ends with a tried LR on each side of the choice."""
    from benchmarks.convergence.tuning import best_lrs, edge_choices, tune

    def runs(plan: dict[str, list[float]]) -> list[dict]:
        return [{"scheduler": "m", "peak_lr": lr, "final_loss": (math.log10(lr) - log_best) ** 2} for lr in plan["m"]]

    recs = tune({"m": [0.01, 0.03, 0.1]}, runs)
    # Four half-decade steps beyond 0.01 and 0.1 try 1e-4 ... 10: the choice is interior if it is 3e-4 ... 3.
    if -3.7 < log_best < 0.7:
        assert not edge_choices(recs)
        assert abs(math.log10(best_lrs(recs)["m"]) - log_best) <= 0.27  # the nearest ladder LR
    elif not -3.8 < log_best < 0.8:
        assert edge_choices(recs)  # the report names it


def test_widening_stops_where_the_runs_beyond_diverge() -> None:
    from benchmarks.convergence.tuning import edge_choices, widen

    recs = [{"scheduler": "m", "peak_lr": lr, "final_loss": v} for lr, v in [(0.1, 3.0), (0.3, 2.0), (1.0, None)]]
    assert widen(recs) == {} and edge_choices(recs) == {}
    diverged = [{"scheduler": "m", "peak_lr": lr, "final_loss": None} for lr in (0.1, 0.3)]
    assert widen(diverged) == {}


# -- the language-model task ---------------------------------------------------------------------------------


def test_wsd_as_named_phases_equals_lrsched_wsd_step_by_step() -> None:
    import lrsched
    from benchmarks.convergence.lm import wsd_phases

    steps = np.arange(1001)
    np.testing.assert_allclose(
        wsd_phases(3e-3)(steps), lrsched.wsd(3e-3, 1000, decay_steps=200, warmup_steps=50)(steps), rtol=1e-12
    )
    assert [wsd_phases(3e-3).phase_at(t) for t in (0, 49, 50, 799, 800, 999)] == ["warmup"] * 2 + ["stable"] * 2 + [
        "anneal"
    ] * 2


@pytest.mark.parametrize("mode", ["mix", "anneal_clean", "clean_in_stable"])
def test_batch_plans_draw_the_clean_windows_where_the_phases_say(mode: str) -> None:
    from benchmarks.convergence import lm_model as M
    from benchmarks.convergence.lm import batch_plan, wsd_phases

    sizes = (10_000, 2_000)
    sched = wsd_phases(1e-3)
    plan = batch_plan(np.random.default_rng(0), sched, mode, 1000, sizes)
    clean = plan >= sizes[0]
    anneal = np.array([sched.phase_at(t) == "anneal" for t in range(1000)])
    assert plan.shape == (1000, M.BATCH) and plan.min() >= 0 and plan.max() < sum(sizes) - M.SEQ - 1
    assert np.all(plan[~clean] < sizes[0] - M.SEQ - 1)  # mix windows never run into the clean text
    if mode == "mix":
        assert not clean.any()
    elif mode == "anneal_clean":
        assert clean[anneal].all() and not clean[~anneal].any()
    else:  # the same number of clean windows, spread evenly over the steps before the anneal
        per_step = clean.sum(axis=1)
        assert clean.sum() == anneal.sum() * M.BATCH and not clean[anneal].any()
        assert per_step[~anneal].max() - per_step[~anneal].min() <= 1


@given(st.text(st.sampled_from([chr(c) for c in range(32, 127)] + ["\n"]), max_size=200))
def test_text_codes_round_trip(text: str) -> None:
    from benchmarks.convergence.lm_data import VOCAB, decode, encode

    codes = encode(text)
    assert decode(codes) == text and (codes.size == 0 or codes.max() < VOCAB)


def test_corpus_is_deterministic_and_the_web_split_is_corrupted_as_stated() -> None:
    from benchmarks.convergence.lm_data import BOILERPLATE, CORRUPT_FRACTION, SIZES, corpus, decode

    c = corpus()
    again = corpus.__wrapped__()  # a second extraction, not the cached one
    assert again.sha256 == c.sha256 and all(np.array_equal(again.splits[k], c.splits[k]) for k in c.splits)
    assert all(len(c.splits[k]) >= SIZES[k] for k in SIZES)
    web = decode(c.splits["web"]).split("\n")
    boiler = sum(line in BOILERPLATE for line in web) / len(web)
    # Boilerplate follows CORRUPT_FRACTION / 2 of the original lines, so it is ~13% of the lines after insertion.
    expected = (CORRUPT_FRACTION / 2) / (1 + CORRUPT_FRACTION / 2)
    assert abs(boiler - expected) < 0.02
    for split in ("hq", "valid", "test"):
        assert not any(line in BOILERPLATE for line in decode(c.splits[split]).split("\n"))


# -- registry and engine ---------------------------------------------------------------------------------------


def test_a_new_controller_plugs_in_with_one_register_call() -> None:
    import dataclasses

    import lrsched
    from benchmarks.convergence.execute import execute
    from benchmarks.convergence.methods import METHODS, Method, register
    from benchmarks.convergence.tasks import TASKS

    register(Method("halving", "controller", jax=lambda task: lrsched.GreedyLR(factor=0.5, patience=0)))
    try:
        with pytest.raises(ValueError, match="already registered"):
            register(Method("halving", "controller"))
        task = dataclasses.replace(TASKS["softmax"], steps=20, eval_every=10)
        rows = execute(task, (0,), {"halving": [0.1]})
        lr = rows[0][3]["lr"]
        assert lr[0] == pytest.approx(0.1) and lr[-1] < 0.1  # a controller that halves on no improvement
    finally:
        del METHODS["halving"]
    with pytest.raises(ValueError, match="kind"):
        Method("x", "scheduler")


def test_optax_runner_matches_a_plain_optax_loop() -> None:
    import jax
    import jax.numpy as jnp
    import optax

    from benchmarks.convergence.engine import optax_runner

    rng = np.random.default_rng(0)
    p0, target = rng.standard_normal(5).astype(np.float32), rng.standard_normal(5).astype(np.float32)

    def loss(p, data, batch):
        return jnp.sum((p - data) ** 2)

    def make(scale):
        return optax.contrib.prodigy(learning_rate=scale)

    out = optax_runner(loss, make)(p0[None], target[None], np.zeros((1, 30), int), np.array([0.5], np.float32))
    opt, p = make(0.5), jnp.asarray(p0)
    state, ref, update = opt.init(p), [], jax.jit(opt.update)
    for _ in range(30):
        value, grad = jax.value_and_grad(loss)(p, target, 0)
        updates, state = update(grad, state, p)
        p = optax.apply_updates(p, updates)
        ref.append(float(value))
    np.testing.assert_allclose(np.asarray(out["loss"][0]), ref, rtol=1e-5)
    assert np.isnan(np.asarray(out["lr"])).all()  # an optimizer sets its own step: no LR to log


def test_a_controller_declaring_signals_runs_through_the_optax_adapter() -> None:
    """The engine's vmapped batch of hypergradient runs (2 starting LRs, traced) equals each run done alone with
    ``lrsched.adapters.optax.controlled``, which computes the signal ``g_t . d_{t-1}`` the controller declares."""
    import jax
    import jax.numpy as jnp
    import optax

    import lrsched
    from benchmarks.convergence.engine import runner
    from lrsched.adapters.optax import controlled

    rng = np.random.default_rng(0)
    p0, target, scale = rng.standard_normal(5), rng.standard_normal(5), np.logspace(0, 1, 5)
    data = {"s": scale.astype(np.float32), "t": target.astype(np.float32)}

    def loss(p, data, batch):
        return jnp.sum(data["s"] * (p - data["t"]) ** 2)

    hd = lrsched.Hypergradient(beta=1e-3, min_lr=0.0)  # clipped at 0, as the benchmark runs it (no sign flips)
    starts = np.array([0.01, 0.05], np.float32)
    run = runner(loss, hd, "sgd", data_axis=None)
    out = run(np.stack([p0, p0]).astype(np.float32), data, np.zeros((2, 30), int), starts)
    for i, lr0 in enumerate(starts):
        tx, p = controlled(optax.identity(), hd, init_lr=float(lr0)), jnp.asarray(p0, jnp.float32)
        state, losses, lrs = tx.init(p), [], []
        for _ in range(30):
            value, grad = jax.value_and_grad(loss)(p, data, 0)
            updates, state = tx.update(grad, state, p, value=value)
            lrs.append(float(-updates[0] / grad[0]))
            losses.append(float(value))
            p = p + updates
        np.testing.assert_allclose(np.asarray(out["loss"][i]), losses, rtol=1e-5)
        np.testing.assert_allclose(np.asarray(out["lr"][i]), lrs, rtol=1e-5)
        assert lrs[-1] != lrs[0]  # the hypergradient moved the LR


def test_the_cnn_lookahead_trains_from_a_snapshot_and_restores_it() -> None:
    """LRTuner's look-ahead on the PyTorch task: its loss is that of a copy trained ``steps`` updates at ``lr`` on
    the next minibatches, measured on the one after them; the model and the optimizer are left as they were."""
    torch = pytest.importorskip("torch")
    import copy

    from benchmarks.convergence.tasks import batches
    from benchmarks.convergence.torch_task import _lookahead, _model, _tensors

    torch.manual_seed(0)
    data, model = _tensors(), _model()
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    order = torch.tensor(batches(np.random.default_rng(0), len(data["y"]), 20))
    xent = torch.nn.functional.cross_entropy
    for t in range(3):  # some optimizer state to restore
        opt.zero_grad()
        xent(model(data["x"][order[t]]), data["y"][order[t]]).backward()
        opt.step()
    before = copy.deepcopy(model.state_dict()), copy.deepcopy(opt.state_dict())
    twin_model = copy.deepcopy(model)
    twin_opt = torch.optim.Adam(twin_model.parameters(), lr=0.02)
    twin_opt.load_state_dict(copy.deepcopy(opt.state_dict()))
    twin_opt.param_groups[0]["lr"] = 0.02
    for k in range(3, 8):
        twin_opt.zero_grad()
        xent(twin_model(data["x"][order[k]]), data["y"][order[k]]).backward()
        twin_opt.step()
    expected = xent(twin_model(data["x"][order[8]]), data["y"][order[8]]).item()
    assert _lookahead(model, opt, data, order, 3)(0.02, 5) == pytest.approx(expected, rel=1e-6)
    assert all(torch.equal(v, before[0][k]) for k, v in model.state_dict().items())
    after = opt.state_dict()
    assert after["param_groups"] == before[1]["param_groups"]
    for i, per_param in after["state"].items():
        assert all(torch.equal(v, before[1]["state"][i][k]) for k, v in per_param.items())


def test_methods_option_runs_only_the_named_methods_and_keeps_every_other_record(tmp_path) -> None:
    """``--methods`` merges: the other methods' records stay byte for byte, a rerun method's records are replaced
    by the same values (each method's runs depend on nothing else), a new method is added with its steps to the
    target of the constant LR already in the file."""
    import json

    from benchmarks.convergence.noisy import run_noisy
    from benchmarks.convergence.run import main

    recs, _ = run_noisy(smoke=True, show_progress=False, tasks=["softmax"], methods=["constant", "cosine"])
    meta = {"seconds": {"noisy": 1.0}, "cpu_seconds": {"noisy": 1.0}, "load": {}, "smoke": True, "total_seconds": 1.0}
    (tmp_path / "runs.json").write_text(json.dumps({"meta": meta, "runs": recs}), encoding="utf-8")
    assert main(["--smoke", "--methods", "cosine,taso", "--out", str(tmp_path), "--quiet"]) == 0
    data = json.loads((tmp_path / "runs.json").read_text(encoding="utf-8"))
    runs = data["runs"]

    def of(name, rs):
        return [r for r in rs if r["scheduler"] == name]

    assert of("constant", runs) == of("constant", recs)
    rerun = [r for r in of("cosine", runs) if r["task"] == "softmax"]  # the smoke run also adds the CNN task
    assert sorted(map(json.dumps, rerun)) == sorted(map(json.dumps, of("cosine", recs)))
    taso = [r for r in of("taso", runs) if r["stage"] == "eval" and r["task"] == "softmax"]
    assert taso and all(r["target_loss"] == of("constant", recs)[-1]["target_loss"] for r in taso)
    assert {r["task"] for r in of("taso", runs)} == {"softmax", "cnn"}
    assert data["meta"]["added"][0]["methods"] == ["cosine", "taso"] and "taso" in (tmp_path / "report.md").read_text()
