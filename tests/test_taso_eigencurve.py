"""TASO and Eigencurve against formulas written out independently; Eigencurve on a noisy power-law quadratic."""

from __future__ import annotations

import math

import numpy as np
import pytest

import lrsched as L


def dreyer_tas_multiplier(epoch, epochs, alpha, beta, gamma):
    """The TAS multiplier of the authors' code (pedro-dreyer/masters_code, train.py), typed in from it."""
    return (1 - gamma) / (1 + math.exp(alpha * (epoch / epochs - beta))) + gamma


@pytest.mark.parametrize(("alpha", "beta", "gamma"), [(20.0, 0.5, 1e-3), (10.0, 0.3, 1e-2), (50.0, 0.7, 0.0)])
def test_taso_offset_0_is_the_co_authors_multiplier_times_the_initial_lr(alpha, beta, gamma) -> None:
    lr0, epochs = 0.05, 100
    s = L.taso(lr0, epochs, gamma * lr0, midpoint=beta, steepness=alpha, offset=0.0)
    for e in range(0, epochs + 1, 7):
        assert s(e) == pytest.approx(lr0 * dreyer_tas_multiplier(e, epochs, alpha, beta, gamma), rel=1e-12)
    assert s(3 * epochs) == s(epochs)  # progress stops at the budget


def macedo_taso_multiplier(epoch, epochs, alpha, beta):
    """The TASO multiplier of the first author's code (dlmacedo/training-aware-sigmoidal-optimizer,
    agents/classification.py), typed in from it: the logistic at (epoch + 1) / epochs, plus a floor of 0.001."""
    return 1 / (1 + math.exp(alpha * ((epoch + 1) / epochs - beta))) + 0.001


def test_taso_defaults_are_the_first_authors_main_experiments_but_for_the_floor_on_top() -> None:
    # run_main_image.sh: alpha = 25, beta = 0.7. Their floor sits on top of the logistic (lr0 * (sigma + 0.001));
    # here the curve runs from lr0 to the floor, lr0 * (0.001 + 0.999 sigma): lower by exactly 0.001 * lr0 * sigma.
    lr0, epochs = 0.1, 100
    s = L.taso(lr0, epochs)
    assert s == L.taso(lr0, epochs, None, midpoint=0.7, steepness=25.0, offset=1.0)
    for e in range(epochs):
        sigma = macedo_taso_multiplier(e, epochs, 25.0, 0.7) - 0.001
        assert lr0 * macedo_taso_multiplier(e, epochs, 25.0, 0.7) - s(e) == pytest.approx(1e-3 * lr0 * sigma, rel=1e-6)
    assert s(epochs - 1) == s(epochs) == s(10 * epochs)  # the last step reads x = 1
    assert s.to_config()["end_value"] is None and L.from_config(s.to_config()) == s


def test_taso_defaults_worked_by_hand() -> None:
    # init 0.1, T = 10, alpha = 25, beta = 0.7, floor 0.1 * 0.001 = 1e-4; step k reads x = (k + 1) / 10.
    s = L.taso(0.1, 10)
    # k = 6: x = 0.7, exp(0) = 1, lr = 1e-4 + (0.1 - 1e-4) / 2
    assert s(6) == pytest.approx(0.05005, rel=1e-14, abs=0)
    # k = 4: x = 0.5, exp(25 * -0.2) = e^-5, sigma = 1 / (1 + e^-5) = 0.9933071490757153
    assert s(4) == pytest.approx(1e-4 + 0.0999 * 0.9933071490757153, rel=1e-14, abs=0)
    # k = 9: x = 1, exp(25 * 0.3) = e^7.5 = 1808.0424144560632, sigma = 1 / 1809.0424144560632 = 5.5277863692e-4
    assert s(9) == pytest.approx(1e-4 + 0.0999 * 5.5277863692e-4, rel=1e-10, abs=0)
    # k = 0: x = 0.1, exp(-15) = 3.059023205018258e-7: 3.06e-8 of the gap below 0.1
    assert s(0) == pytest.approx(1e-4 + 0.0999 / (1 + 3.059023205018258e-7), rel=1e-14, abs=0)
    assert L.taso(0.1, 10, end_value=0.0)(6) == 0.05  # an explicit end replaces the floor


def test_taso_numbers_worked_by_hand() -> None:
    # alpha = 10, beta = 0.5, init 1, end 0: lr(0) = 1/(1 + e^-5), lr(T/2) = 1/2, lr(T) = 1/(1 + e^5)
    s = L.taso(1.0, 10, 0.0, midpoint=0.5, steepness=10.0, offset=0.0)
    assert s(0) == pytest.approx(0.9933071490757153, rel=1e-14)
    assert s(5) == 0.5
    assert s(10) == pytest.approx(0.0066928509242848554, rel=1e-14)
    t = np.linspace(0, 10, 101)
    assert np.all(np.diff(s(t)) < 0)


def test_taso_steep_is_a_step_and_gentle_is_nearly_flat() -> None:
    steep = L.taso(1.0, 100, 0.0, midpoint=0.3, steepness=500.0, offset=0.0)
    assert steep(28) == pytest.approx(1.0, abs=1e-4) and steep(32) == pytest.approx(0.0, abs=1e-4)
    gentle = L.taso(1.0, 100, 0.0, steepness=0.01)  # no normalisation: a gentle curve stays near the middle
    np.testing.assert_allclose(gentle(np.arange(101.0)), 0.5, atol=2e-3)


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"midpoint": 1.5}, "midpoint must be in"),
        ({"steepness": 0.0}, "steepness must be in"),
        ({"offset": -1.0}, "offset must be >= 0"),
    ],
)
def test_taso_validation(kwargs, message) -> None:
    with pytest.raises(ValueError, match=f"taso: {message}"):
        L.taso(1.0, 10, **kwargs)


def eigencurve_reference(t, big, mu, phases):
    """1/lr is L plus mu times the integral of the rate 2**(i-1) over phases i (the last one continuing)."""
    t = np.asarray(t, dtype=float)
    knots = np.concatenate([[0.0], np.cumsum(phases)])
    rates = 2.0 ** np.arange(len(phases))
    integral = np.zeros_like(t)
    for i, rate in enumerate(rates):
        end = knots[i + 1] if i < len(phases) - 1 else np.inf
        integral += rate * np.clip(np.minimum(t, end) - knots[i], 0.0, None)
    return 1.0 / (big + mu * integral)


def test_eigencurve_is_piecewise_inverse_time_decay_with_doubling_rates() -> None:
    big, mu, phases = 8.0, 0.5, (30.0, 12.5, 20.0, 7.0)
    s = L.eigencurve(big, mu, phases)
    t = np.linspace(0.0, 120.0, 961)
    np.testing.assert_allclose(s(t), eigencurve_reference(t, big, mu, phases), rtol=1e-12)
    assert s(0) == 1 / big
    inverse = 1.0 / s(np.array([0.0, 10.0, 31.0, 41.0]))
    slopes = [(inverse[1] - inverse[0]) / 10, (inverse[3] - inverse[2]) / 10]
    assert slopes == pytest.approx([mu, 2 * mu])


def test_eigencurve_phases_follow_the_spectrum() -> None:
    lam = [1.0, 1.2, 1.3, 1.9, 2.5, 3.0, 7.0, 8.0]
    # intervals [1,2): 4, [2,4): 2, [4,8): 1, [8,16): 1 eigenvalue (L = 8 opens the fourth interval, as in the
    # authors' get_schedule); phase lengths proportional to sqrt(s_i)
    s = L.eigencurve_phases(lam, total_steps=100)
    assert (s.max_eigenvalue, s.min_eigenvalue) == (8.0, 1.0)
    w = np.sqrt([4, 2, 1, 1])
    np.testing.assert_allclose(s.phase_steps, 100 * w / w.sum())
    with pytest.raises(ValueError, match="at least one positive"):
        L.eigencurve_phases([0.0, -1.0], 10)


def authors_recursion(lam, total, t):
    """The authors' get_schedule (opensource12345678/why_cosine_works), typed in without its integer rounding:
    s_i eigenvalues in [mu 2^i, mu 2^(i+1)); d_i = total sqrt(s_i) / sum sqrt(s); a_i = 2^i / kappa,
    b_0 = 1, b_i = b_{i-1} + d_{i-1} 2^(i-1) / kappa; lr = eta_0 / (a_i (t - t_i) + b_i) with eta_0 = 1 / L."""
    lam = sorted(lam)
    mu, big = lam[0], lam[-1]
    kappa = big / mu
    counts, i = [0], 0
    for v in lam:
        while mu * 2 ** (i + 1) <= v:
            i += 1
            counts.append(0)
        counts[i] += 1
    d = [total * math.sqrt(c) / sum(math.sqrt(c) for c in counts) for c in counts]
    starts, a, b = [0.0], [], []
    for i, di in enumerate(d):
        a.append(2**i / kappa)
        b.append(1.0 if i == 0 else b[-1] + d[i - 1] * 2 ** (i - 1) / kappa)
        starts.append(starts[-1] + di)
    i = max(k for k in range(len(d)) if starts[k] <= t)  # the last piece continues past the budget
    return (1 / big) / (a[i] * (t - starts[i]) + b[i])


@pytest.mark.parametrize("seed", range(4))
def test_eigencurve_phases_reproduce_the_authors_schedule(seed) -> None:
    rng = np.random.default_rng(seed)
    lam = list(np.exp(rng.uniform(-4.0, 1.0, int(rng.integers(3, 40)))))
    if seed == 0:
        lam += [min(lam) * 16]  # an eigenvalue on an interval boundary
    total = float(rng.integers(50, 5000))
    s = L.eigencurve_phases(lam, total)
    for t in np.linspace(0.0, 1.3 * total, 57):
        assert s(float(t)) == pytest.approx(authors_recursion(lam, total, float(t)), rel=1e-11)


def test_an_interval_without_eigenvalues_is_a_phase_of_length_zero_and_the_rate_still_doubles_by_index() -> None:
    # intervals [1,2): 2, [2,4): 0, [4,8): 1 -> lengths 60 * (sqrt 2, 0, 1) / (sqrt 2 + 1)
    s = L.eigencurve_phases([1.0, 1.5, 5.0], total_steps=60)
    d1 = 60 * math.sqrt(2) / (math.sqrt(2) + 1)
    np.testing.assert_allclose(s.phase_steps, (d1, 0.0, 60 - d1))
    # the authors' form: on the third interval (0-based i = 2) 1/lr = L + mu (d_0 2^0 + d_1 2^1) + mu 2^2 (t - t_2)
    t = d1 + 7.0
    assert s(t) == pytest.approx(1.0 / (5.0 + 1.0 * (d1 * 1 + 0.0 * 2) + 1.0 * 4 * 7.0), rel=1e-12)


def test_counts_weight_the_eigenvalues_and_only_their_ratios_matter() -> None:
    a = L.eigencurve_phases([1.0, 3.0], 100, counts=[9.0, 1.0])  # sqrt(9) : sqrt(1) = 3 : 1
    np.testing.assert_allclose(a.phase_steps, (75.0, 25.0))
    np.testing.assert_allclose(L.eigencurve_phases([1.0, 3.0], 100, counts=[0.9, 0.1]).phase_steps, a.phase_steps)
    with pytest.raises(ValueError, match="counts must be finite and >= 0"):
        L.eigencurve_phases([1.0, 3.0], 100, counts=[1.0, -1.0])


def test_eigencurve_beats_inverse_time_and_cosine_decay_on_a_noisy_power_law_quadratic() -> None:
    """SGD on f = 0.5 sum lam_i x_i^2, lam_i = 1/i (d = 200, L = 1, mu = 1/200), gradient noise
    0.3 sqrt(lam_i) N(0, 1), 2000 steps, 5 seeds. Measured mean final loss: Eigencurve 0.0075, step decay
    (x0.3 every 500) 0.0086, cosine 0.0102, inverse time 1/(L + mu t) 0.0131."""
    d, total = 200, 2000
    lam = 1.0 / np.arange(1, d + 1)

    def final_loss(sched, seed):
        rng, x, lrs = np.random.default_rng(seed), np.ones(d), sched(np.arange(total))
        for lr in lrs:
            x = x - lr * (lam * x + 0.3 * np.sqrt(lam) * rng.normal(size=d))
        return 0.5 * float(np.sum(lam * x * x))

    def mean_loss(sched):
        return np.mean([final_loss(sched, seed) for seed in range(5)])

    eig = mean_loss(L.eigencurve_phases(lam, total))
    assert eig < 0.8 * mean_loss(L.eigencurve(1.0, lam.min(), (total,)))
    assert eig < 0.9 * mean_loss(L.cosine_decay(1.0, total))


def test_schedules_are_catalogued_for_the_cross_backend_tests() -> None:
    from conftest import CATALOGUE

    assert {"taso", "eigencurve"} <= set(CATALOGUE)
    assert math.isfinite(L.eigencurve(1.0, 1.0, (1.0,))(1e30))
