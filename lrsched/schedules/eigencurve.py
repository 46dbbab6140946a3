"""Eigencurve: piecewise inverse-time decay derived from the Hessian's eigenvalue distribution."""

from __future__ import annotations

import math
from collections.abc import Sequence

from lrsched._core.backend import Array, Namespace
from lrsched._core.schedule import Schedule, register

__all__ = ["Eigencurve", "eigencurve", "eigencurve_phases"]


@register("eigencurve")
class Eigencurve(Schedule):
    """Eigencurve (Pan, Ye & Zhang, "Eigencurve: Optimal Learning Rate Schedule for SGD on Quadratic Objectives
    with Skewed Hessian Spectrums", ICLR 2022, arXiv 2110.14109): inverse-time decay in ``n`` phases whose
    decay rate doubles from phase to phase.

    With ``L = max_eigenvalue``, ``mu = min_eigenvalue``, phase lengths ``Delta_1..Delta_n = phase_steps`` and
    ``t_i = Delta_1 + ... + Delta_i`` (``t_0 = 0``), for ``t_{i-1} <= t < t_i``:

    ``lr(t) = 1 / (L + mu * (sum_{j<i} 2**(j-1) * Delta_j + 2**(i-1) * (t - t_{i-1})))``

    so ``lr(0) = 1/L``, the curve is continuous, and phase ``i`` decays like ``1 / (2**(i-1) mu t)``, the rate
    suited to the eigenvalues in ``[2**(i-1) mu, 2**i mu)``; one phase per such interval, with lengths set by how
    many eigenvalues each interval holds (:func:`eigencurve_phases`; ``lrsched.tools.spectrum.hessian_spectrum_jax``
    / ``_torch`` estimate the spectrum). A phase may have length 0 (an interval without eigenvalues): the next one
    starts at the same step with its own rate. Past ``t_n`` the last phase's decay continues. A skewed spectrum (most
    eigenvalues small, few large) gives long early phases with slow decay rates. ``step`` is in updates.

    Checked against the authors' code (github.com/opensource12345678/why_cosine_works,
    ``python/scripts/gen_eigen_dependent_schedule_conf.py``, ``get_schedule``: ``eta_t = 1 / (L + mu sum_{j=1}^i
    d_{j-1} 2^{j-1} + mu 2^i (t - t_i))`` on ``[t_i, t_{i+1})``, 0-based): the same formula. Their experiments
    rescale it, ``eta_0 / (1 + (mu / L) (...))``, i.e. ``L * eta_0`` times this curve with a tuned ``eta_0``:
    write ``lrsched.scale(eigencurve(...), L * eta_0)``.

    Example:
        >>> from lrsched import eigencurve
        >>> s = eigencurve(max_eigenvalue=10.0, min_eigenvalue=1.0, phase_steps=(10, 10))
        >>> s(0), s(10), round(s(20), 6)
        (0.1, 0.05, 0.025)
    """

    max_eigenvalue: float
    min_eigenvalue: float
    phase_steps: tuple[float, ...]

    def _check(self) -> None:
        self._positive("max_eigenvalue", "min_eigenvalue")
        if self.min_eigenvalue > self.max_eigenvalue:
            raise self._fail(
                f"min_eigenvalue must be <= max_eigenvalue = {self.max_eigenvalue!r}, got {self.min_eigenvalue!r}"
            )
        if not 1 <= len(self.phase_steps) <= 64:
            raise self._fail(f"phase_steps must hold 1 to 64 phase lengths, got {len(self.phase_steps)}")
        for i, d in enumerate(self.phase_steps):
            if not d >= 0:
                raise self._fail(f"phase_steps[{i}] must be >= 0, got {d!r}")

    def _eval(self, t: Array, xp: Namespace) -> Array:
        mu, start, offset = self.min_eigenvalue, 0.0, 0.0
        out = None
        for i, length in enumerate(self.phase_steps):
            rate = 2.0**i
            local = xp.maximum(t - start, 0.0)  # a later phase is evaluated (and discarded) before its start
            piece = 1.0 / (self.max_eigenvalue + mu * (offset + rate * local))
            out = piece if out is None else xp.where(t >= start, piece, out)
            start, offset = start + length, offset + rate * length
        return out


eigencurve = Eigencurve


def eigencurve_phases(
    eigenvalues: Sequence[float], total_steps: float, counts: Sequence[float] | None = None
) -> Eigencurve:
    """An :class:`Eigencurve` for a (estimated) spectrum and a budget of ``total_steps`` updates.

    ``mu``/``L`` are the smallest/largest positive eigenvalues. Interval ``i = 0, 1, ...`` is
    ``[2**i mu, 2**(i+1) mu)``, up to the one holding ``L`` (``floor(log2(L / mu)) + 1`` intervals); with ``s_i``
    the number of eigenvalues in interval ``i``, its phase gets ``total_steps * sqrt(s_i) / sum_j sqrt(s_j)``
    updates, so an interval without eigenvalues gets a phase of length 0. ``counts`` (optional) gives each
    eigenvalue a multiplicity or density, e.g. the estimated counts of ``lrsched.tools.spectrum.SpectrumEstimate``
    (only ratios matter); non-positive eigenvalues are ignored.

    Checked against the authors' code (github.com/opensource12345678/why_cosine_works,
    ``python/scripts/gen_eigen_dependent_schedule_conf.py``, ``get_schedule``): the same intervals and
    ``sqrt(s_i) / Z`` proportions. Their code rounds the phase lengths to whole iterations (at least one per
    non-empty interval, the remainder handed out one by one); here they stay real numbers that sum to
    ``total_steps``.

    Example:
        >>> from lrsched import eigencurve_phases
        >>> s = eigencurve_phases([1.0, 1.1, 1.2, 1.5, 3.0, 7.9], total_steps=100)
        >>> len(s.phase_steps), round(sum(s.phase_steps), 9)
        (3, 100.0)
    """
    weights_in = [1.0] * len(eigenvalues) if counts is None else [float(c) for c in counts]
    if len(weights_in) != len(eigenvalues):
        raise ValueError(f"eigencurve_phases: counts must hold one value per eigenvalue, got {len(weights_in)}")
    if any(not (math.isfinite(c) and c >= 0) for c in weights_in):
        raise ValueError(f"eigencurve_phases: counts must be finite and >= 0, got {weights_in!r}")
    pairs = sorted((float(v), c) for v, c in zip(eigenvalues, weights_in) if v > 0 and math.isfinite(v))
    if not pairs:
        raise ValueError("eigencurve_phases: eigenvalues must hold at least one positive finite value")
    if not (isinstance(total_steps, (int, float)) and total_steps > 0 and math.isfinite(total_steps)):
        raise ValueError(f"eigencurve_phases: total_steps must be > 0, got {total_steps!r}")
    mu, big = pairs[0][0], pairs[-1][0]
    held = [0.0]
    for v, c in pairs:  # ascending: move to the interval [2**i mu, 2**(i+1) mu) that holds v
        while v >= mu * 2.0 ** len(held):
            held.append(0.0)
        held[-1] += c
    if len(held) > 64:
        raise ValueError(f"eigencurve_phases: L / mu = {big / mu!r} needs more than 64 phases")
    weights = [math.sqrt(c) for c in held]
    total = sum(weights)
    if not total > 0:
        raise ValueError("eigencurve_phases: counts of the positive eigenvalues must not all be 0")
    return Eigencurve(big, mu, tuple(total_steps * w / total for w in weights))
