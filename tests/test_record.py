"""Recorder: log (step, lr, loss, phase), save config + trace to JSON/CSV, reload, rebuild, plot."""

from __future__ import annotations

import json
import math

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pytest

import lrsched as L


def _assert_same(a: L.Trace, b: L.Trace) -> None:
    assert a.steps == b.steps
    assert a.lrs == b.lrs  # repr() of floats round-trips exactly
    np.testing.assert_array_equal(np.asarray(a.losses), np.asarray(b.losses))  # nan == nan here
    assert a.phases == b.phases
    assert a.config == b.config
    assert a.label == b.label


def _run(sched, steps=60):
    """A real (tiny) training loop: gradient descent on 0.5 * w**2 from w=3."""
    rec = L.Recorder(sched, label="run-1")
    w = 3.0
    for step in range(steps):
        lr = sched(step)
        loss = 0.5 * w * w
        w -= lr * w
        rec.log(step, lr, loss if step % 7 else None)  # some steps log no loss
    return rec


@pytest.mark.parametrize("suffix", [".json", ".csv"])
def test_round_trip_keeps_config_and_every_row(tmp_path, suffix):
    sched = L.phases(("warm", L.linear(0.0, 0.5, 10), 10), ("main", L.cosine_decay(0.5, 50), None))
    rec = _run(sched)
    path = tmp_path / f"trace{suffix}"
    rec.save(path)
    back = L.load_trace(path)
    _assert_same(back, rec.trace())
    assert back.schedule() == sched
    assert math.isnan(back.losses[0]) and back.losses[1] == pytest.approx(0.5 * 9.0)
    assert back.phases[9] == "warm" and back.phases[10] == "main"


def test_phase_is_filled_from_the_schedule_unless_given():
    rec = L.Recorder(L.warmup(L.constant(1.0), warmup_steps=2))
    rec.log(0, 0.0)
    rec.log(5, 1.0)
    rec.log(6, 1.0, phase="anneal")
    assert rec.trace().phases == ("warmup", None, "anneal")


def test_json_file_is_plain_data_with_the_schedule_config(tmp_path):
    sched = L.rex(0.1, 100)
    rec = L.Recorder(sched)
    rec.log(0, sched(0), loss=np.float32(2.5))  # 0-d arrays and numpy scalars are accepted
    rec.save(tmp_path / "t.json")
    data = json.loads((tmp_path / "t.json").read_text())
    assert data["config"] == {"name": "rex", "init_value": 0.1, "total_steps": 100, "end_value": 0.0}
    assert data["trace"] == {"step": [0.0], "lr": [0.1], "loss": [2.5], "phase": [None]}


def test_greedy_run_records_its_settings_and_rebuilds():
    sched = L.greedy(init_lr=0.1, patience=1, factor=0.5, max_lr=0.4)
    rec = L.Recorder(sched, label="greedy")
    for step, loss in enumerate([3.0, 2.0, 1.0, 1.0, 1.0, 0.5]):
        rec.log(step, sched(loss), loss)
    trace = rec.trace()
    assert trace.lrs == (0.1, 0.2, 0.2, 0.2, 0.1, 0.1)  # the example in lrsched.greedy's docstring
    rebuilt = L.greedy(trace.schedule())
    assert [rebuilt(v) for v in trace.losses] == list(trace.lrs)


def test_plot_accepts_a_reloaded_trace(tmp_path):
    rec = _run(L.cosine_decay(0.5, 60))
    rec.save(tmp_path / "t.csv")
    trace = L.load_trace(tmp_path / "t.csv")
    ax = L.plot(trace)
    x, y = ax.get_lines()[0].get_data()
    np.testing.assert_array_equal(x, np.arange(60.0))
    np.testing.assert_array_equal(y, [L.cosine_decay(0.5, 60)(s) for s in range(60)])


def test_trace_phase_at_looks_up_the_last_logged_step():
    trace = L.Trace(steps=(0.0, 10.0), lrs=(1.0, 0.5), phases=("a", "b"))
    assert [trace.phase_at(s) for s in (-1, 0, 9.5, 10, 99)] == [None, "a", "a", "b", "b"]


def test_errors_are_clear(tmp_path):
    with pytest.raises(TypeError, match="to_config"):
        L.Recorder(object())
    assert L.Recorder(lambda t: 0.1).trace().config is None  # a plain callable has no config to save
    with pytest.raises(ValueError, match="no config"):
        L.Trace(steps=(), lrs=()).schedule()
    bad = tmp_path / "bad.json"
    bad.write_text('{"name": "rex"}')
    with pytest.raises(ValueError, match="not an lrsched trace"):
        L.load_trace(bad)
    bad.write_text("{oops")
    with pytest.raises(ValueError, match="not a JSON trace"):
        L.load_trace(bad)
    csv_bad = tmp_path / "bad.csv"
    csv_bad.write_text("a,b\n1,2\n")
    with pytest.raises(ValueError, match="expected columns"):
        L.load_trace(csv_bad)
