"""lrsched.plot: curves equal the schedule, phases shaded and named, warmup ends and restarts marked."""

from __future__ import annotations

import math
import struct

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lrsched as L
from lrsched._core.markers import markers, phase_spans
from lrsched.plotting import gallery


@pytest.fixture(autouse=True)
def _close_figures():
    yield
    plt.close("all")


def _vlines(ax):
    """x positions of the vertical marker lines (axvline: two equal x values)."""
    out = []
    for line in ax.get_lines():
        x = np.asarray(line.get_xdata(), dtype=float)
        if x.size == 2 and x[0] == x[1]:
            out.append((float(x[0]), line.get_linestyle()))
    return out


def test_curve_is_the_schedule_by_an_independent_formula():
    ax = L.plot(L.cosine_decay(2.0, 100), 150)
    (line,) = ax.get_lines()
    x, y = (np.asarray(v, dtype=float) for v in line.get_data())
    np.testing.assert_array_equal(x, np.arange(150.0))
    expected = np.where(x < 100, 1.0 + np.cos(np.pi * np.minimum(x, 100) / 100), 0.0)
    np.testing.assert_allclose(y, expected, atol=1e-12)
    assert ax.get_yscale() == "linear"


def test_log_scale_leaves_gaps_for_zero_values():
    ax = L.plot(L.warmup(L.constant(1.0), warmup_steps=10), 20, log=True)
    assert ax.get_yscale() == "log"
    y = np.asarray(ax.get_lines()[0].get_ydata(), dtype=float)
    assert math.isnan(y[0])  # the warmup starts at 0: no point on a log axis
    np.testing.assert_allclose(y[1:10], np.arange(1, 10) / 10)


def test_join_phases_are_shaded_and_labelled_at_their_boundaries():
    s = L.phases(("hold", L.constant(1.0), 30), ("decay", L.linear(1.0, 0.1, 50), 50), ("tail", L.constant(0.1), None))
    ax = L.plot(s, 100)
    spans = sorted(p.get_x() for p in ax.patches)
    assert spans == [0.0, 30.0, 80.0]
    widths = sorted((p.get_x(), p.get_width()) for p in ax.patches)
    assert widths[0][1] == 30.0 and widths[1][1] == 50.0
    assert {t.get_text() for t in ax.texts} == {"hold", "decay", "tail"}


def test_warmup_end_and_restarts_are_marked_at_global_steps():
    # SGDR with T0=10, mult=2 restarts at 10, 30, 70 (local); after a 5-step warmup: 15, 35, 75.
    s = L.warmup(L.cosine_restarts(1.0, first_period=10, period_mult=2.0), warmup_steps=5)
    ax = L.plot(s, 100)
    lines = _vlines(ax)
    assert [x for x, style in lines if style == "--"] == [5.0]
    assert [x for x, style in lines if style == ":"] == [15.0, 35.0, 75.0]
    labels = ax.get_legend_handles_labels()[1]
    assert labels == ["warmup end", "restart"]


def test_markers_inside_a_later_phase_are_offset_by_the_phase_start():
    s = L.join((L.constant(1.0), L.cycle(L.linear(1.0, 0.0, 20), period=20)), boundaries=(50,))
    found = markers(s, 120)
    assert [(m.step, m.kind) for m in found] == [
        (50.0, "phase"),
        (70.0, "restart"),
        (90.0, "restart"),
        (110.0, "restart"),
    ]
    # A restart that falls after the next phase begins is not reported.
    capped = L.join((L.cycle(L.constant(1.0), period=30), L.constant(0.5)), boundaries=(40,))
    assert [(m.step, m.kind) for m in markers(capped, 100)] == [(30.0, "restart"), (40.0, "phase")]


def test_phase_spans_follow_phase_at():
    s = L.warmup(L.phases(("a", L.constant(1.0), 5), ("b", L.constant(2.0), None)), warmup_steps=3)
    assert phase_spans(s, range(12)) == [(0.0, 3.0, "warmup"), (3.0, 8.0, "a"), (8.0, 11.0, "b")]


def test_sharp_restart_is_drawn_from_the_exact_restart_step():
    ax = L.plot(L.cosine_restarts(1.0, first_period=7.5), np.linspace(0, 20, 9))
    x, y = (np.asarray(v, dtype=float) for v in ax.get_lines()[0].get_data())
    i = int(np.flatnonzero(x == 7.5)[0])  # the restart step is added to the grid
    assert y[i] == pytest.approx(1.0)


def test_several_schedules_share_axes_with_a_legend():
    a, b = L.rex(1.0, 50), L.linear(1.0, 0.0, 50)
    ax = L.plot([a, b], 60, labels=["rex", "linear"])
    assert len(ax.get_lines()) == 2
    assert ax.get_legend_handles_labels()[1] == ["rex", "linear"]
    assert not ax.patches  # no phase shading with several curves


def test_recorded_trace_is_drawn_at_its_steps():
    trace = L.Trace(steps=(0.0, 2.0, 4.0), lrs=(0.1, 0.2, 0.05), phases=("x", "x", "y"), label="run")
    ax = L.plot([trace, L.constant(0.1)], 6)
    x, y = ax.get_lines()[0].get_data()
    assert list(x) == [0.0, 2.0, 4.0] and list(y) == [0.1, 0.2, 0.05]
    assert ax.get_legend_handles_labels()[1][0] == "run"
    single = L.plot(trace)
    assert {t.get_text() for t in single.texts} == {"x", "y"}


def test_bad_arguments_raise():
    with pytest.raises(ValueError, match="steps is required"):
        L.plot(L.constant(1.0))
    with pytest.raises(ValueError, match="labels"):
        L.plot([L.constant(1.0)], 10, labels=["a", "b"])
    with pytest.raises(ValueError, match="steps must be"):
        L.plot(L.constant(1.0), 0)
    with pytest.raises(TypeError):
        L.plot("cosine", 10)


def _png_size(path):
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def test_saved_png_has_the_requested_size(tmp_path):
    ax = L.plot(L.one_cycle(1.0, 100), 100)
    ax.figure.set_size_inches(6, 3)
    path = tmp_path / "one_cycle.png"
    ax.figure.savefig(path, dpi=50)
    assert _png_size(path) == (300, 150)
    assert path.stat().st_size > 2000


def test_gallery_has_one_visible_panel_per_schedule():
    entries = {"a": L.constant(1.0), "b": L.rex(1.0, 10), "c": L.linear(0.0, 1.0, 10), "d": L.constant(0.5)}
    fig = gallery(entries, 20, cols=3)
    visible = [ax for ax in fig.axes if ax.get_visible()]
    assert [ax.get_title() for ax in visible] == ["a", "b", "c", "d"]
    assert len(fig.axes) == 6


@settings(max_examples=25, derandomize=True, deadline=None)
@given(
    period=st.integers(5, 40),
    mult=st.sampled_from([1.0, 1.5, 2.0]),
    warm=st.integers(1, 30),
    offset=st.integers(1, 60),
)
def test_restart_markers_are_exactly_the_upward_jumps(period, mult, warm, offset):
    # Restarts inside a warmup inside the second phase of a join: every upward jump of the
    # curve (sampled at integer steps) follows a marker and every restart marker makes a jump.
    inner = L.warmup(L.cosine_restarts(1.0, first_period=period, period_mult=mult), warmup_steps=warm)
    s = L.join((L.constant(0.5), inner), boundaries=(offset,))
    end = 400
    x = np.arange(end + 1, dtype=float)
    y = s(x)
    jumps = {float(x[i]) for i in range(1, len(x)) if y[i] - y[i - 1] > 0.2 and x[i] > offset + warm}
    restarts = {m.step for m in markers(s, end) if m.kind == "restart"}
    assert {float(math.ceil(r)) for r in restarts} == jumps  # restarts may fall between integer steps
    assert [m.step for m in markers(s, end) if m.kind == "warmup"] == [float(offset + warm)]
