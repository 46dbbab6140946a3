"""The convergence benchmark's pipeline (``--smoke``), and the pieces its conclusions rest on.

The smoke runs check that every planned run is recorded and reported, not what the numbers say.
"""

from __future__ import annotations

import json
import math
import os
import pathlib

import numpy as np
import pytest
from _benchmarks import CONVERGENCE, use_benchmarks

use_benchmarks(*CONVERGENCE)


def _smoke(tmp_path: pathlib.Path, part: str) -> tuple[str, dict]:
    """``--smoke`` for one part (one test per part, so pytest-xdist spreads them over its workers)."""
    from benchmarks.convergence.run import main

    out = str(tmp_path)
    assert main(["--smoke", "--parts", part, "--out", out, "--quiet"]) == 0
    with open(os.path.join(out, "runs.json"), encoding="utf-8") as fh:
        data = json.load(fh)
    assert data["meta"]["smoke"] is True and {r["part"] for r in data["runs"]} == {part}
    return out, data


def test_smoke_paper_records_every_planned_run(tmp_path: pathlib.Path) -> None:
    from benchmarks.convergence.controllers import greedy_controllers
    from benchmarks.convergence.paper import schedules

    out, data = _smoke(tmp_path, "paper")
    expected = set(schedules(20)) | set(greedy_controllers())
    assert {"greedy_plain_p1", "greedy_plain_p10", "greedy_p1", "greedy_paper_p10"} <= expected
    by_cell: dict[tuple, set] = {}
    for r in data["runs"]:
        by_cell.setdefault((r["family"], r["seed"]), set()).add(r["scheduler"])
        assert len(r["loss_curve"]) == len(r["lr_curve"]) == 3  # steps 0, 10 and the last of 20
        assert r["final_loss"] is None or math.isfinite(r["final_loss"])
    assert by_cell and all(s == expected for s in by_cell.values())
    _check_report_and_plots(out, data, ("paper_loss.png", "paper_lr.png"))


def test_smoke_noisy_runs_every_registered_method_through_the_protocol(tmp_path: pathlib.Path) -> None:
    from benchmarks.convergence.methods import METHODS, REFERENCE_SCHEDULE, ROBUSTNESS_MULTIPLIERS
    from benchmarks.convergence.noisy import methods_for
    from benchmarks.convergence.stats import group_by
    from benchmarks.convergence.tasks import TASKS
    from benchmarks.convergence.tuning import best_lrs

    out, data = _smoke(tmp_path, "noisy")
    runs = data["runs"]
    assert {r["task"] for r in runs} == {"softmax", "cnn"}  # a JAX task and the PyTorch one
    assert {r["scheduler"] for r in runs if r["task"] == "softmax"} == {m.name for m in methods_for(TASKS["softmax"])}
    assert {r["scheduler"] for r in runs if r["task"] == "cnn"} == {m.name for m in methods_for(TASKS["cnn"])}
    everywhere = {r["scheduler"] for r in runs if r["task"] == "softmax"} | {r["scheduler"] for r in runs}
    assert everywhere == set(METHODS)  # LRTuner (look-ahead: an eager loop) on the PyTorch task only
    assert {"taso", "eigencurve", "hypergradient", "abel"} <= {r["scheduler"] for r in runs if r["task"] == "cnn"}
    for (task, name), rs in group_by(runs, lambda r: (r["task"], r["scheduler"])).items():
        method, stages = METHODS[name], group_by(rs, lambda r: r["stage"])
        ev = stages["eval"]
        assert len(ev) == 2 and all(r["multiplier"] == 1.0 for r in ev)
        if method.tuned:  # tuned on the grid (widened at most once in the smoke run); evaluated at the best LR
            tune = stages["tune"]
            assert {r["peak_lr"] for r in tune} >= set(TASKS[task].lr_grid[:2]) or method.grid is not None
            assert {r["peak_lr"] for r in ev} == {best_lrs(tune)[name]}
        else:  # untuned: the recommended setting
            assert "tune" not in stages and {r["peak_lr"] for r in ev} == {method.default}
        robust = stages.get("robust", [])
        if (method.adaptive and method.scalable) or name == REFERENCE_SCHEDULE:
            base = ev[0]["peak_lr"]
            assert sorted({r["multiplier"] for r in robust}) == sorted(k for k in ROBUSTNESS_MULTIPLIERS if k != 1)
            assert all(r["peak_lr"] == pytest.approx(base * r["multiplier"], rel=1e-5) for r in robust)
        else:
            assert not robust
        accs = [r["heldout_acc"] for r in ev]
        assert all(0.0 <= a <= 1.0 for a in accs)
    _check_report_and_plots(out, data, ("noisy_loss.png", "noisy_lr.png"))


def test_smoke_lm_runs_every_arm_with_its_data(tmp_path: pathlib.Path) -> None:
    from benchmarks.convergence.lm import ARMS, DEFAULT_ADAPTIVE
    from benchmarks.convergence.stats import group_by
    from benchmarks.convergence.tuning import best_lrs

    out, data = _smoke(tmp_path, "lm")
    runs = data["runs"]
    assert {r["scheduler"] for r in runs} == {*ARMS, DEFAULT_ADAPTIVE}  # no part-2 runs to pick a controller from
    tune = [r for r in runs if r["stage"] == "tune"]
    for name, ev in group_by([r for r in runs if r["stage"] == "eval"], lambda r: r["scheduler"]).items():
        assert len(ev) == 2 and {r["peak_lr"] for r in ev} == {best_lrs(tune)[name]}
        # An untrained model is near the uniform 6.6 bits per character; the smoke run's 40 steps learn a little.
        assert all(0.5 < r["test_bpc"] < 6.6 for r in ev)
    assert data["meta"]["lm"]["params"] > 100_000 and len(data["meta"]["lm"]["corpus_sha256"]) == 64
    _check_report_and_plots(out, data, ("lm.png",))


def _check_report_and_plots(out: str, data: dict, pngs: tuple[str, ...]) -> None:
    with open(os.path.join(out, "report.md"), encoding="utf-8") as fh:
        report = fh.read()
    assert "--smoke" in report
    for name in {r["scheduler"] for r in data["runs"]}:
        assert name in report
    for png in pngs:
        with open(os.path.join(out, png), "rb") as fh:
            assert fh.read(8) == b"\x89PNG\r\n\x1a\n"


def _paper_rules_in_python(losses: list[float], patience: int, lr: float = 0.01) -> list[float]:
    """The paper's GreedyLR rules written the obvious way, with lists (an independent reference)."""
    hist: list[float] = []
    best, bad, good, cool, warm, out = math.inf, 0, 0, 0, 0, []
    for x in losses:
        hist.append(x)
        if len(hist) > 5 and x > 2 * np.mean(hist[-5:]):
            bad = max(0, bad - 2)
        value = float(np.mean(hist[-10:]))
        thr = max(1e-6, 0.1 * float(np.std(hist[-10:]))) if len(hist) > 10 else 1e-6
        if value < best - thr:
            best, bad, good = value, 0, good + 1
        else:
            bad, good = bad + 1, 0
        if cool > 0:
            cool, bad = cool - 1, 0
        if warm > 0:
            warm, good = warm - 1, 0
        if bad > patience:
            lr, cool, bad = max(lr * 0.9, 1e-5), max(3, patience // 3), 0
        if good > patience:
            lr, warm, good = min(lr / 0.9, 1.0), max(3, patience // 3), 0
        out.append(lr)
    return out


@pytest.mark.parametrize("patience", [1, 10])
def test_paper_rules_controller_matches_a_plain_python_reference(patience: int) -> None:
    import jax

    from benchmarks.convergence.paper_greedy import PaperGreedy

    rng = np.random.default_rng(patience)
    trend = np.concatenate([np.linspace(10, 1, 80), np.full(80, 1.0), np.linspace(1, 3, 40)])
    losses = trend * (1 + 0.05 * rng.standard_normal(200))
    losses[[50, 120, 121]] *= 5  # spikes
    ctrl = PaperGreedy(patience=patience)

    def body(s, x):
        s = ctrl.update(s, x)
        return s, s.lr

    _, lrs = jax.lax.scan(body, ctrl.init(lr=0.01), losses.astype(np.float32))
    want = _paper_rules_in_python([float(v) for v in losses.astype(np.float32)], patience)
    np.testing.assert_allclose(np.asarray(lrs), want, rtol=1e-5)
    assert len(set(want)) > 3  # the stream exercises increases and decreases


def test_engine_adam_matches_torch_adam_under_a_changing_lr() -> None:
    torch = pytest.importorskip("torch")
    import jax.numpy as jnp

    from benchmarks.convergence.engine import runner

    rng = np.random.default_rng(0)
    p0, target, scale = rng.standard_normal(6), rng.standard_normal(6), np.logspace(0, 2, 6)
    lrs = np.linspace(0.05, 0.001, 30)

    def loss(p, data, batch):
        return jnp.sum(data["s"] * (p - data["t"]) ** 2)

    out = runner(loss)(p0[None], {"s": scale[None], "t": target[None]}, np.zeros((1, 30), int), lrs[None])
    p = torch.tensor(p0, dtype=torch.float32, requires_grad=True)
    opt = torch.optim.Adam([p], lr=float(lrs[0]))
    ref = []
    for lr in lrs:
        opt.param_groups[0]["lr"] = float(lr)
        opt.zero_grad()
        value = torch.sum(
            torch.tensor(scale, dtype=torch.float32) * (p - torch.tensor(target, dtype=torch.float32)) ** 2
        )
        value.backward()
        opt.step()
        ref.append(value.item())
    np.testing.assert_allclose(np.asarray(out["loss"][0]), ref, rtol=1e-4)


def test_medians_count_diverged_runs_as_worst() -> None:
    from benchmarks.convergence.stats import median_of, win_rate

    recs = [{"scheduler": "a", "final_loss": v, "seed": i} for i, v in enumerate([1.0, None, None])]
    recs += [{"scheduler": "b", "final_loss": 5.0, "seed": i} for i in range(3)]
    assert median_of(recs[:3], "final_loss") == math.inf
    assert win_rate(recs, "a", "b", ("seed",)) == pytest.approx(1 / 3)
