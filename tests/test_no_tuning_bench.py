"""The no-tuning evaluation script (issue 21) runs end to end in its smoke mode, on a validation task only.

The held-out tasks are not touched here: they are run once, by the pre-registered run of the protocol.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from _benchmarks import use_benchmarks

use_benchmarks("jax", "optax")


def test_smoke_mode_writes_the_report_the_records_and_the_plot(tmp_path: Path) -> None:
    from benchmarks import no_tuning

    out = tmp_path / "nt"
    assert no_tuning.main(["--smoke", "--tasks", "wine_logreg", "--out", str(out)]) == 0
    text = (tmp_path / "nt.md").read_text(encoding="utf-8")
    assert "**Target A** (" in text and ": met on " in text and "**Target B** (" in text
    data = json.loads((tmp_path / "nt.json").read_text(encoding="utf-8"))
    assert data["meta"]["sha256"] == no_tuning.module_sha256()
    runs = data["tasks"]["wine_logreg"]["runs"]
    for name in (no_tuning.METHOD, *no_tuning.EXTRA):
        started = [r for r in runs if r["scheduler"] == name]
        assert sorted({r["mult"] for r in started}) == sorted(no_tuning.MULTS) and len(started) == 10  # 5 x 2 seeds
    grid = (1 / 9, 1 / 3, 1.0, 3.0, 9.0)  # each pick is one of the run's candidates: its start LR x 3**k
    picks = [r["pick"] / r["peak_lr"] for r in runs if r["scheduler"] == no_tuning.METHOD]
    assert all(min(abs(p / m - 1) for m in grid) < 1e-9 for p in picks), picks
    summary = data["tasks"]["wine_logreg"]["summary"]
    assert set(summary["paired"]) == {*no_tuning.B_RIVALS, *no_tuning.EXTRA}
    # target B's ceiling: whether the tuned best schedule's own median is below every rival, and how often
    ceiling = all(summary["best"] < v for v in summary["rivals"].values())
    assert summary["best_meets_b"] is ceiling and set(summary["rivals"]) == set(no_tuning.B_RIVALS)
    assert f"the tuned best schedule's own median is below every rival on {int(ceiling)} of 1 tasks" in text
    assert (tmp_path / "nt_lr.png").stat().st_size > 0


def test_the_torch_loop_records_the_losses_the_controller_read() -> None:
    """The band study replays ProbeLR's pick from a run's recorded minibatch losses: in the PyTorch loop those must
    be the values ``ControllerScheduler`` observed, so the replay gives the LRs the run applied."""
    import dataclasses

    import numpy as np

    from benchmarks import no_tuning
    from benchmarks.no_tuning_tasks_v2 import HELD_OUT_V2, noise_twin

    task = dataclasses.replace(noise_twin(HELD_OUT_V2["blobs_torch"]), steps=60)
    no_tuning.register_probe()
    out = no_tuning.torch_run(task, "probe", 0.01, seed=3)
    losses = np.asarray(out["loss"], dtype=np.float64)
    assert losses.shape == (60,) and np.all(np.isfinite(losses)) and np.ptp(losses) > 0
    controller = no_tuning.frozen_probe(60)
    state, replayed = controller.init(0.01), []
    for loss in losses:
        replayed.append(controller.lr(state))
        state = controller.update(state, float(loss))
    np.testing.assert_allclose(out["lr"], replayed, rtol=1e-6)


@pytest.mark.parametrize("edition", [3, 4, 5])
def test_each_editions_tasks_train_through_the_harness_on_their_noise_twins(edition: int) -> None:
    """The third, fourth and fifth editions' tasks meet the issue's constraints (a PyTorch task, one of >= 5,000
    updates, a transformer, minibatches of <= 16), share no task name or data set with an earlier edition, and every
    one trains through the evaluation's loops (JAX and PyTorch); only their noise twins are trained here, never the
    held-out data."""
    import dataclasses
    import importlib

    import numpy as np

    from benchmarks import no_tuning
    from benchmarks.learned_tasks import FRESH
    from benchmarks.no_tuning_tasks import HELD_OUT as FIRST
    from benchmarks.no_tuning_tasks_v2 import HELD_OUT_V2, noise_twin
    from benchmarks.no_tuning_tasks_v3 import HELD_OUT_V3
    from benchmarks.no_tuning_tasks_v4 import HELD_OUT_V4

    module = importlib.import_module(f"benchmarks.no_tuning_tasks_v{edition}")
    tasks = getattr(module, f"HELD_OUT_V{edition}")
    later = {3: HELD_OUT_V3, 4: HELD_OUT_V4}
    earlier = {**FIRST, **HELD_OUT_V2, **FRESH, **{n: t for e in range(3, edition) for n, t in later[e].items()}}
    assert not set(tasks) & set(earlier)
    assert not {t.dataset for t in tasks.values()} & {getattr(t, "dataset", None) for t in earlier.values()}
    assert any(t.framework == "torch" for t in tasks.values())
    assert max(t.steps for t in tasks.values()) >= 5000
    assert any("transformer" in name for name in tasks) and min(module.SMALL_BATCH, module.TRANSFORMER_BATCH) <= 16
    for name, task in tasks.items():
        twin = dataclasses.replace(noise_twin(task), steps=12, eval_every=12)
        real, noise = task.data, twin.data
        assert {k: v.shape for k, v in real.items()} == {k: v.shape for k, v in noise.items()}, name
        assert len(noise["x"]) == 1200 and len(noise["x_test"]) == 300, name
        rows = no_tuning.run_rows(twin, (0,), {"constant": [1e-3]})
        assert len(rows) == 1 and np.isfinite(float(np.asarray(rows[0][3]["eval"])[-1])), name


def test_the_band_and_horizon_reports_count_what_they_say() -> None:
    """The validation studies' summary lines: target A's threshold (within 10%, inclusive), a diverged cell, and a
    short horizon's peak counted as near the whole run's within one grid step (sqrt 3) either way."""
    import math

    from benchmarks import no_tuning_dev as dev

    row = {"best": "rex", "peak": 0.1, "picks": [1.0] * 5, "pick_range": [0.5, 2.0]}
    band = {
        "meets": {**row, "ref": 1.0, "rex": [2.0, 1.5, 1.1, 1.2, 3.0], "probe": 1.1},
        "misses": {**row, "ref": 1.0, "rex": [2.0, 1.5, 1.11, 1.3, math.inf], "probe": 1.2},
    }
    text = "\n".join(dev.band_report(band, 3))
    assert "within 10% of the tuned best schedule on 1 of 2 tasks; the frozen ProbeLR on 1 of 2." in text
    assert "| 1.11 | 1.30 | diverged |" in text
    root3 = 3.0**0.5
    argmin = {"0.02": 1.0, "0.05": 3.0, "0.1": root3, "0.7": 1.0 / root3, "0.9": 1.0 / 3.0, "1.0": 1.0}
    lowest = {f: 1.0 for f in argmin}
    horizon = {"t": {"best": "wsd", "peak": 0.01, "argmin": argmin, "lowest": lowest}}
    text = "\n".join(dev.horizon_report(horizon, 3))
    assert (
        "1 of 1 at 0.02 x budget, 0 of 1 at 0.05 x budget, 1 of 1 at 0.1 x budget, 1 of 1 at 0.7 x budget, "
        "0 of 1 at 0.9 x budget." in text
    )


def test_the_shape_report_counts_the_tuned_peak_and_the_best_of_three() -> None:
    """``--shape``'s summary: within 10% at the tuned peak (the middle cell) and at the best of the three peaks."""
    import math

    from benchmarks import no_tuning_dev as dev

    res = {
        "a": {"best": "rex", "peak": 0.1, "ref": 1.0, "rex": [1.0, 1.1, 1.5], "wsd": [1.2, 1.3, 1.05]},
        "b": {"best": "wsd", "peak": 1.0, "ref": 1.0, "rex": [1.5, 1.11, math.inf], "wsd": [1.0, 1.0, 1.0]},
    }
    res["a"]["stall"], res["b"]["stall"] = [2.0, 1.2, 1.3], [1.2, 1.0, 1.0]
    text = "\n".join(dev.shape_report(res, 3))
    counts = [line for line in text.splitlines() if line.startswith("- ")]
    assert counts == [
        f"- {name}: within 10% of the tuned best schedule at the tuned peak on 1 of 2 tasks; at the best of the "
        f"three peaks on {best} of 2."
        for name, best in (("REX", 1), ("WSD", 2), ("decay on stall", 1))
    ]
    assert "| 1.50 / 1.11 / diverged |" in text


def test_the_tournament_report_counts_pooled_medians_and_paired_wins() -> None:
    """``--tournament``'s summary: per method, the tasks whose pooled median is within 10% and the geometric mean;
    then the runs, paired by seed and start, where the tournament ends below the frozen ProbeLR."""
    import math

    from benchmarks import no_tuning_dev as dev

    def runs(values: list[float], peak: float) -> dict[str, float]:  # 5 starts x 1 seed
        return {f"{k:.3g}|0": v for k, v in zip(dev.MULTS, values)}

    res = {
        "a": {"best": "rex", "peak": 0.1, "ref": 1.0, "probe": runs([1.0, 1.2, 1.3, 1.4, 1.5], 0.1)},
        "b": {"best": "wsd", "peak": 1.0, "ref": 1.0, "probe": runs([1.0, 1.0, 1.05, 1.0, 1.0], 1.0)},
    }
    res["a"]["stall"], res["b"]["stall"] = runs([9.0, 2.0, 1.0, 2.0, 9.0], 0.1), runs([1.0] * 5, 1.0)
    res["a"]["tournament"] = runs([1.05, 1.0, 1.1, 1.2, math.inf], 0.1)
    res["b"]["tournament"] = runs([1.2, 1.2, 1.2, 0.9, 0.9], 1.0)
    res["a"]["picks"], res["b"]["picks"] = runs([1.0] * 5, 0.1), runs([3.0] * 5, 1.0)
    text = "\n".join(dev.tournament_report(res, 1))
    counts = [line for line in text.splitlines() if line.startswith("- ")]
    assert counts == [
        "- ProbeLR (frozen): within 10% of the tuned best schedule on 1 of 2 tasks; geometric mean of the ratios "
        f"{math.sqrt(1.3 * 1.0):.2f}.",
        "- decay on stall from the start: within 10% of the tuned best schedule on 1 of 2 tasks; geometric mean of "
        f"the ratios {math.sqrt(2.0 * 1.0):.2f}.",
        f"- tournament: within 10% of the tuned best schedule on 1 of 2 tasks; geometric mean of the ratios "
        f"{math.sqrt(1.1 * 1.2):.2f}.",
        "- Paired by seed and start, the tournament ends lower than the frozen ProbeLR in 5 of 10 runs.",
    ]
    assert "| 1.05 / 1.00 / 1.10 / 1.20 / diverged | 1 |" in text
    assert "Target B" not in text  # no rival on record for these tasks

    res["a"]["rivals"] = {"prodigy": 1.2, "greedy": 1.05}  # a's pooled medians: tournament 1.1, ProbeLR 1.3
    res["b"]["rivals"] = {"prodigy": 1.3, "greedy": 1.25}  # b's: tournament 1.2, ProbeLR 1.0
    text = "\n".join(dev.tournament_report(res, 1))
    assert "| a | 1.1 | 1.3 | prodigy 1.2, greedy 1.05 | greedy | prodigy, greedy |" in text
    assert "| b | 1.2 | 1 | prodigy 1.3, greedy 1.25 | none | none |" in text
    assert "Lower than every rival: the tournament on 1 of 2 tasks, the frozen ProbeLR on 1 of 2." in text


def test_the_rivals_on_record_recompute_each_editions_summary_on_its_own_seeds() -> None:
    """Target B's rivals as the tournament study reads them back: on an edition's own evaluation seeds they are
    the pooled medians its committed summary holds (one task of each edition)."""
    from benchmarks import no_tuning_dev as dev

    editions = (("no_tuning_v1.json", "friedman_long"), ("no_tuning_v2.json", "scurve_long"))
    for record, task in (*editions, ("no_tuning_v3.json", "multilabel_b4")):
        summary = json.loads((Path(dev.HERE) / "results" / record).read_text())["tasks"][task]
        seeds = tuple(sorted({r["seed"] for r in summary["runs"]}))
        assert dev.recorded_rivals(task, seeds) == summary["summary"]["rivals"]
        assert dev.recorded_rivals(task, seeds[:2]) != summary["summary"]["rivals"]  # the seeds are honoured
    assert dev.recorded_rivals("softmax", (0, 1)) is None


def test_the_tournament_charges_every_candidates_updates_and_keeps_the_winners_state() -> None:
    """On a quadratic with curvature 1 trained by plain gradient steps (the best constant LR is 1, above 2 it
    diverges), from ``lr0 = 0.1`` the candidates are 0.011 .. 0.9: 0.9 wins both rounds; the updates of every
    candidate and of the rest add up to the budget; and the winner's progress is kept (the rest starts where the
    winner stopped, not from the initialisation)."""
    import dataclasses
    from typing import Any

    import jax.numpy as jnp
    import numpy as np

    from benchmarks import no_tuning
    from lrsched.tools import tournament

    @dataclasses.dataclass(frozen=True)
    class Quadratic:
        name: str = "quadratic"
        framework: str = "jax"
        optimizer: str = "sgd"
        steps: int = 400

        @property
        def data(self) -> dict[str, Any]:
            return {"target": np.full(3, 2.0, np.float32)}

        def init(self, rng: np.random.Generator) -> dict[str, Any]:
            return {"w": jnp.asarray(rng.normal(size=3), jnp.float32)}

        def loss(self, p: Any, data: Any, idx: Any) -> Any:
            return 0.5 * jnp.sum((p["w"] - data["target"]) ** 2)

        def full_loss(self, p: Any, data: Any) -> Any:
            return self.loss(p, data, None)

    task = Quadratic()
    scheduled, controlled = no_tuning._training_scans(task)
    seen: list[tuple[str, int, Any]] = []

    def counting_scheduled(p: Any, s: Any, data: Any, idx: Any, lrs: Any) -> Any:
        seen.append(("round", len(idx), float(lrs[-1])))
        return scheduled(p, s, data, idx, lrs)

    def counting_controlled(p: Any, s: Any, data: Any, idx: Any, controller: Any, peak: Any) -> Any:
        seen.append(("rest", len(idx), float(peak)))
        assert float(task.full_loss(p, data)) < 1e-6  # the winner's state: 12 updates at 0.9 from a loss of ~1
        return controlled(p, s, data, idx, controller, peak)

    no_tuning._training_scans.cache_clear()
    try:
        import unittest.mock

        pieces = lambda t: (counting_scheduled, counting_controlled)  # noqa: E731
        with unittest.mock.patch.object(no_tuning, "_training_scans", pieces):
            out = no_tuning.tournament_run(task, 0.1, seed=0)
    finally:
        no_tuning._training_scans.cache_clear()
    final, pick = float(out["eval"][-1]), out["pick"]
    assert pick == 0.1 * 9.0
    assert [n for kind, n, _ in seen] == [4] * 5 + [8] * 2 + [400 - 5 * 4 - 2 * 8]
    np.testing.assert_allclose([lr for _, _, lr in seen[:5]], [0.1 * m for m in tournament.GRID], rtol=1e-6)
    assert seen[-1] == ("rest", 364, np.float32(0.9))
    assert final < 1e-10
    # the record's LR trace: the winner's warmup and round-2 LR, its anneal, then NaN for the losers' 24 updates
    lrs = out["lr"]
    assert lrs.shape == (400,) and np.isnan(lrs[376:]).all() and not np.isnan(lrs[:376]).any()
    np.testing.assert_allclose(lrs[:12], [0.45, 0.9, 0.9, 0.9] + [0.9] * 8, rtol=1e-6)
    assert lrs[12] == np.float32(0.9) and lrs[375] < 0.1 * 0.9  # the anneal starts at the pick and decays


def test_the_tournament_on_a_pytorch_task_charges_every_update_to_the_budget() -> None:
    """The PyTorch path (``blobs_torch``, 500 updates): every optimizer step of every candidate and of the rest
    adds up to the budget, the pick is one of the candidates, and the run learns (it ends below the loss at
    initialisation)."""
    import numpy as np
    import torch
    from torch.optim.optimizer import register_optimizer_step_post_hook

    from benchmarks import no_tuning
    from benchmarks import no_tuning_dev as dev
    from lrsched.tools import tournament

    task, _best, peak, _ref = dev.references("blobs_torch")["blobs_torch"]
    steps = [0]
    handle = register_optimizer_step_post_hook(lambda opt, args, kwargs: steps.__setitem__(0, steps[0] + 1))
    try:
        out = no_tuning.tournament_run(task, peak, seed=0)
    finally:
        handle.remove()
    final, pick = float(out["eval"][-1]), out["pick"]
    k1, k2 = (max(4, round(f * task.steps)) for f in tournament.ROUNDS)
    losers = (len(tournament.GRID) - 1) * k1 + (tournament.KEEP - 1) * k2  # 4 x 5 + 1 x 10 of the 500
    lrs = out["lr"]
    assert np.isfinite(lrs[: task.steps - losers]).all() and np.isnan(lrs[task.steps - losers :]).all()
    assert lrs[k1 + k2 - 1] == lrs[k1 + k2] == pick  # the anneal starts at the pick
    assert steps[0] == task.steps
    assert min(abs(pick / (peak * m) - 1.0) for m in tournament.GRID) < 1e-12
    torch.manual_seed(0)
    model = task.torch_model()
    x, y = torch.as_tensor(task.data["x"]), torch.as_tensor(task.data["y"]).long()
    with torch.no_grad():
        initial = float(torch.nn.functional.cross_entropy(model(x), y))
    assert final < 0.5 * initial


def test_the_held_out_records_were_made_by_the_files_that_ship_and_the_protocol_froze() -> None:
    """Each held-out record since the third edition (the tournament's two, the schedule-free tournament's once it has
    run) names the sha256 of its method's files; those are its protocol's, and the files that ship now are the same
    bytes, or (``no_tuning.AMENDED``, said in the report) differ in their docstrings only: the same code without
    docstrings, and the sha256 the amendment names. The held-out numbers describe the code a user imports."""
    import hashlib

    from benchmarks import no_tuning
    from benchmarks.no_tuning_tasks_v3 import HELD_OUT_V3
    from benchmarks.no_tuning_tasks_v4 import HELD_OUT_V4

    def shipped(path: str) -> str:
        return hashlib.sha256((Path(no_tuning.ROOT) / path).read_bytes()).hexdigest()

    def same_code(path: str, frozen: str) -> bool:
        amended = no_tuning.AMENDED.get(path)
        if shipped(path) == frozen:
            return amended is None
        return (
            amended is not None
            and (amended["run"], amended["now"]) == (frozen, shipped(path))
            and no_tuning.code_sha256(path) == amended["code"]
        )

    results = Path(no_tuning.HERE) / "results"
    editions = [
        ("no_tuning_v3.json", "no_tuning_protocol_v3.md", HELD_OUT_V3),
        ("no_tuning_v4.json", "no_tuning_protocol_v4.md", HELD_OUT_V4),
    ]
    if (results / "no_tuning.json").exists():  # written by this edition's one held-out run
        editions.append(("no_tuning.json", "no_tuning_protocol.md", no_tuning.HELD_OUT))
    for record_name, protocol, tasks in editions:
        record = json.loads((results / record_name).read_text(encoding="utf-8"))
        assert record["meta"]["sha256"] == no_tuning.protocol_sha256(protocol)
        assert all(same_code(path, frozen) for path, frozen in record["meta"]["sha256"].items()), record_name
        assert set(record["tasks"]) == set(tasks)
    frozen = no_tuning.protocol_sha256()  # this edition's protocol froze its files
    assert set(frozen) == set(no_tuning.FROZEN_FILES) and all(same_code(p, h) for p, h in frozen.items())


def test_the_code_hash_ignores_docstrings_and_nothing_else(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from benchmarks import no_tuning

    monkeypatch.setattr(no_tuning, "ROOT", str(tmp_path))
    source = '"""Module."""\n\n\ndef f(x):\n    """Doc."""\n    return x + 1\n'
    variants = {
        "same": source.replace("Doc.", "Doc, longer.\n\n    >>> f(1)\n    2"),
        "code": source.replace("x + 1", "x + 2"),
        "bare": source.replace('    """Doc."""\n', ""),
    }
    (tmp_path / "a.py").write_text(source)
    for name, text in variants.items():
        (tmp_path / f"{name}.py").write_text(text)
    codes = {name: no_tuning.code_sha256(f"{name}.py") for name in ("a", *variants)}
    assert codes["same"] == codes["a"] == codes["bare"] and codes["code"] != codes["a"]


def test_the_tournament_study_runs_end_to_end_and_records_every_run(tmp_path: Path) -> None:
    """``no_tuning_dev.py --tournament`` on one validation task and one seed: it writes its records and report, with
    one final-loss ratio per start for each method and the tournament's pick among its own candidates."""
    from benchmarks import no_tuning_dev as dev

    out = tmp_path / "tournament"
    assert dev.main(["--tournament", "--seeds", "1", "--tasks", "softmax", "--out", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))["tasks"]["softmax"]
    keys = {f"{k:.3g}|0" for k in dev.MULTS}
    for name in ("probe", "stall", "tournament", "picks"):
        assert set(record[name]) == keys, name
    assert all(0.5 < v < 2.0 for v in record["tournament"].values())  # softmax: every start ends near the tuned best
    starts = {f"{k:.3g}|0": k for k in dev.MULTS}
    grid = (1 / 9, 1 / 3, 1.0, 3.0, 9.0)
    assert all(min(abs(p / (starts[key] * m) - 1) for m in grid) < 1e-9 for key, p in record["picks"].items())
    assert "## A tournament of peaks" in out.with_suffix(".md").read_text(encoding="utf-8")


def test_the_ceiling_study_charges_the_losers_share_and_counts_within_10_percent(tmp_path: Path) -> None:
    """``no_tuning_dev.py --ceiling`` on one validation task and one seed: the losers' share is what the tournament
    charges to the candidates that lose (4 x round 1 + 1 x round 2 at the defaults); the report counts within 10%
    inclusively and writes a diverged cell as such."""
    import math

    from benchmarks import no_tuning_dev as dev
    from benchmarks.convergence.tasks import TASKS
    from lrsched.tools import tournament as tool

    out = tmp_path / "ceiling"
    assert dev.main(["--ceiling", "--seeds", "1", "--tasks", "softmax", "--out", str(out)]) == 0
    record = json.loads(out.with_suffix(".json").read_text(encoding="utf-8"))["tasks"]["softmax"]
    budget = TASKS["softmax"].steps
    k1, k2 = (max(4, round(f * budget)) for f in tool.ROUNDS)
    assert record["losers"] == (4 * k1 + k2) / budget
    assert 0.9 < record["free"] < 1.1 and 0.9 < record["tournament"] < 1.1  # softmax: near the tuned best
    res = {
        "a": {"best": "rex", "peak": 0.1, "free": 1.1, "paid": 1.11, "tournament": math.inf},
        "b": {"best": "wsd", "peak": 1.0, "free": 1.0, "paid": 1.05, "tournament": 1.2},
    }
    text = "\n".join(dev.ceiling_report(res, 3))
    assert [line for line in text.splitlines() if line.startswith("- ")] == [
        f"- {label}: within 10% of the tuned best schedule on {n} of 2 tasks."
        for label, n in (
            ("anneal at the tuned peak, whole budget", 2),
            ("the same, less the losers' share", 1),
            ("tournament from the mis-set starts", 0),
        )
    ]
    assert "| a (rex @ 0.1) | 1.10 | 1.11 | diverged |" in text


def test_the_free_study_report_counts_within_10_percent_and_rivals_where_they_are_on_record() -> None:
    """``no_tuning_dev.free_report``: within 10% counted inclusively, the tournament counted only where the ceiling
    study has it (`-` elsewhere), and target B on the tasks whose rivals are on record, strictly below each."""
    import math

    from benchmarks import no_tuning_dev as dev

    row = {"optimizer": "adam", "best": "rex", "peak": 0.1, "ref": 2.0, "pick": 1.0}
    res = {
        "a": row | {"free": 1.1, "tournament": 1.2, "rivals": {"prodigy": 2.3, "mechanic": 2.25}},
        "b": row | {"free": 1.11, "tournament": math.nan, "rivals": None},
        "c": row | {"free": 0.9, "tournament": 1.0, "rivals": {"prodigy": 1.8}},  # 0.9 x 2.0 = 1.8: a tie loses
    }
    text = "\n".join(dev.free_report(res, 3))
    assert [line for line in text.splitlines() if line.startswith("- ")] == [
        "- schedule-free tournament: within 10% of the tuned best schedule on 2 of 3 tasks.",
        "- the tournament: within 10% on 1 of 2 tasks (where the schedule-free one is on 2 of them).",
        "- below every target-B rival (pooled medians on the same seeds, from the editions' records): on 1 of the 2 "
        "tasks whose rivals are on record.",
    ]
    assert "| b (adam; rex @ 0.1) | 1.11 | 1 | - | - |" in text and "| no (prodigy) |" in text
