"""Hessian spectrum estimates from Hessian-vector products (JAX and torch) on quadratics with known spectra."""

from __future__ import annotations

import sys

import numpy as np
import pytest

import lrsched
from lrsched.tools.spectrum import hessian_spectrum_jax, hessian_spectrum_torch, lanczos_spectrum

# A symmetric positive definite A = Q diag(lam) Q^T with 5 distinct eigenvalues (multiplicities 1, 2, 3, 4, 10).
_LAM = np.repeat([0.1, 0.4, 1.0, 3.0, 20.0], [10, 4, 3, 2, 1])
_Q = np.linalg.qr(np.random.default_rng(0).normal(size=(20, 20)))[0]
_A = _Q @ np.diag(_LAM) @ _Q.T


def _check_exact(est) -> None:
    """With more Lanczos steps than distinct eigenvalues the quadrature is exact for the probe:
    the Ritz values are the distinct eigenvalues and dim * weights estimate their multiplicities."""
    np.testing.assert_allclose(est.ritz_values, [0.1, 0.4, 1.0, 3.0, 20.0], rtol=1e-8)
    assert est.weights.sum() == pytest.approx(1.0)
    assert est.max_eigenvalue == pytest.approx(20.0)


def test_numpy_lanczos_finds_the_distinct_eigenvalues_in_few_products() -> None:
    calls = []
    est = lanczos_spectrum(lambda v: calls.append(1) or _A @ v, 20, steps=12)
    _check_exact(est)
    assert len(calls) <= 6  # stops once the Krylov space is exhausted


def test_jax_and_torch_hvps_on_a_quadratic_loss() -> None:
    jnp = pytest.importorskip("jax.numpy")
    torch = pytest.importorskip("torch")
    import jax

    with jax.enable_x64(True):
        a = jnp.asarray(_A)
        params = {"w": jnp.zeros(12), "b": jnp.zeros(8)}

        def loss(p):
            x = jnp.concatenate([p["w"], p["b"]])
            return 0.5 * x @ a @ x + jnp.sum(jnp.sin(x))  # the sin term's Hessian vanishes at x = 0

        _check_exact(hessian_spectrum_jax(loss, params, steps=8))
    w = torch.zeros(20, dtype=torch.float64, requires_grad=True)
    at = torch.as_tensor(_A)
    _check_exact(hessian_spectrum_torch(lambda: 0.5 * w @ at @ w, [w], steps=8))


def test_the_estimate_builds_an_eigencurve_like_the_true_spectrum_when_the_probe_sees_it_all() -> None:
    est = lanczos_spectrum(lambda v: _A @ v, 20, steps=12)
    sched = est.eigencurve(1000)
    assert sched.max_eigenvalue == pytest.approx(20.0) and sched.min_eigenvalue == pytest.approx(0.1)
    assert len(sched.phase_steps) == len(lrsched.eigencurve_phases(_LAM, 1000).phase_steps) == 8
    assert sum(sched.phase_steps) == pytest.approx(1000)


def _weight_error(est, distinct: np.ndarray, fractions: np.ndarray) -> float:
    """L1 distance between the estimated weight near each distinct eigenvalue and its true share."""
    nearest = np.abs(est.ritz_values[:, None] - distinct[None, :]).argmin(axis=1)
    return float(np.abs(np.bincount(nearest, weights=est.weights, minlength=len(distinct)) - fractions).sum())


def test_more_probes_average_the_weights_closer_to_the_multiplicities() -> None:
    # 200 parameters, 5 distinct eigenvalues (no two a power of 2 apart: Eigencurve's intervals are unambiguous).
    lam = np.repeat([0.1, 0.3, 1.0, 3.0, 20.0], [100, 40, 30, 20, 10])
    q = np.linalg.qr(np.random.default_rng(1).normal(size=(200, 200)))[0]
    a = q @ np.diag(lam) @ q.T
    calls: list[int] = []
    errors, curves = [], []
    exact = lrsched.eigencurve_phases(lam.tolist(), 1000)
    t = np.arange(1001.0)
    for probes in (1, 4, 16):
        calls.clear()
        est = lanczos_spectrum(lambda v: calls.append(1) or a @ v, 200, steps=8, seed=0, probes=probes)
        assert len(calls) <= 8 * probes  # the cost: at most steps Hessian-vector products per probe
        assert est.weights.sum() == pytest.approx(1.0)
        heavy = est.ritz_values[est.weights > 1e-12]  # every probe finds the same, exact eigenvalues
        np.testing.assert_allclose(np.unique(np.round(heavy, 8)), [0.1, 0.3, 1.0, 3.0, 20.0], rtol=1e-8)
        errors.append(_weight_error(est, np.array([0.1, 0.3, 1.0, 3.0, 20.0]), np.array([100, 40, 30, 20, 10]) / 200))
        curves.append(float(np.max(np.abs(est.eigencurve(1000)(t) / exact(t) - 1))))
    assert errors[0] > errors[1] > errors[2] and errors[2] < errors[0] / 2
    assert curves[2] < curves[0]
    one = lanczos_spectrum(lambda v: a @ v, 200, steps=8, seed=0)
    assert np.array_equal(one.weights, lanczos_spectrum(lambda v: a @ v, 200, steps=8, seed=0, probes=1).weights)
    with pytest.raises(ValueError, match="probes must be an integer >= 1"):
        lanczos_spectrum(lambda v: a @ v, 200, probes=0)


def test_import_lrsched_does_not_import_the_tools() -> None:
    assert "lrsched.tools.spectrum" in sys.modules  # imported by this test module
    import subprocess

    code = "import lrsched, sys; print([m for m in ('jax', 'torch', 'lrsched.tools.spectrum') if m in sys.modules])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == "[]"
