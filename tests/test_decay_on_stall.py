"""DecayOnStall: warmup, hold, and a REX anneal from the first check where the smoothed loss stopped falling.

Its behaviour on every backend and framework path comes from the registry's tests (``test_controller_properties``,
``test_controller_matrix``); here, the rule by hand and its errors.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from lrsched.controllers import DecayOnStall


def test_it_holds_while_the_loss_falls_and_anneals_on_rexs_curve_once_it_stalls() -> None:
    """``DecayOnStall`` (budget 200: warmup 10 updates, a check every 10): a loss falling by 10% per check is held
    at the peak; once it stops falling the anneal begins at the next check and follows REX to 0 by the budget's
    end; a loss that never stalls is annealed over the last 20%."""
    c = DecayOnStall(budget=200)

    def run(losses: list[float]) -> tuple[list[float], int]:
        s, lrs = c.init(2.0), []
        for loss in losses:
            lrs.append(float(c.lr(s)))
            s = c.update(s, loss)
        return lrs, int(s.begin)

    assert run([1.0] * 3)[0] == [0.2, 0.4, 0.6]  # the linear warmup to the peak over 10 updates
    falling = [math.exp(-0.01 * t) for t in range(200)]  # -0.1 per check of 10 updates: never stalls
    lrs, begin = run(falling)
    assert begin == 160 and set(lrs[10:161]) == {2.0}  # held until 20% of the budget is left
    stalls = [math.exp(-0.01 * min(t, 60)) for t in range(200)]  # flat from update 60
    lrs, begin = run(stalls)
    assert 60 < begin <= 90 and set(lrs[10:begin]) == {2.0}
    z = (np.arange(begin, 200) - begin) / (200 - begin)
    np.testing.assert_allclose(lrs[begin:], 2.0 * (1 - z) / (0.5 + 0.5 * (1 - z)), rtol=1e-12)


def test_without_a_warmup_it_starts_at_the_peak_and_a_non_finite_loss_leaves_the_smoothed_loss_alone() -> None:
    c = DecayOnStall(init_lr=0.5, budget=100, warmup=0.0)
    s = c.init()
    assert float(c.lr(s)) == 0.5
    s = c.update(s, 2.0)
    before = float(s.slow)
    for bad in (math.nan, math.inf):
        s = c.update(s, bad)
        assert float(s.slow) == before and float(c.lr(s)) == 0.5


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"budget": 5}, r"DecayOnStall: budget must be in \[10, \d+\], got 5"),
        ({"warmup": 1.0}, r"DecayOnStall: warmup must be in \[0.0, 1.0\), got 1.0"),
        ({"warmup": -0.1}, r"DecayOnStall: warmup must be in \[0.0, 1.0\), got -0.1"),
        ({"window": 0.0}, r"DecayOnStall: window must be in \(0.0, 1.0\], got 0.0"),
        ({"progress": -1.0}, r"DecayOnStall: progress must be in \[0.0, inf\), got -1.0"),
        ({"decay": 0.0}, r"DecayOnStall: decay must be in \(0.0, 1.0\], got 0.0"),
        ({"decay": 1.5}, r"DecayOnStall: decay must be in \(0.0, 1.0\], got 1.5"),
        ({"progress": math.nan}, r"DecayOnStall: progress must be"),
    ],
)
def test_bad_settings_fail_at_construction_naming_the_setting_its_value_and_range(kwargs: dict, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        DecayOnStall(**kwargs)
