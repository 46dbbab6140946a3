"""Eigencurve: piecewise inverse-time decay derived from the Hessian's eigenvalue distribution."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

from lrsched._core.backend import Namespace
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
    suited to the eigenvalues in ``[2**(i-1) mu, 2**i mu)``; the paper takes ``n = ceil(log2(L / mu))`` phases,
    one per such interval, with lengths set by how many eigenvalues each interval holds
    (:func:`eigencurve_phases`; ``lrsched.tools.spectrum.hessian_spectrum_jax`` / ``_torch`` estimate the
    spectrum). Past ``t_n`` the last phase's decay continues. A skewed spectrum (few large eigenvalues) gives
    long early phases: a flat start and a late drop, like cosine decay. ``step`` is in updates.

    Example:
        >>> s = eigencurve(max_eigenvalue=10.0, min_eigenvalue=1.0, phase_steps=(10, 10))
        >>> s(0), s(10), round(s(20), 6)
        (0.1, 0.05, 0.025)
    """

    max_eigenvalue: float
    min_eigenvalue: float
    phase_steps: tuple[float, ...]

    _static = ("phase_steps",)  # the number of phases shapes the formula

    def _check(self) -> None:
        self._positive("max_eigenvalue", "min_eigenvalue")
        if self.min_eigenvalue > self.max_eigenvalue:
            raise self._fail(
                f"min_eigenvalue must be <= max_eigenvalue = {self.max_eigenvalue!r}, got {self.min_eigenvalue!r}"
            )
        if not 1 <= len(self.phase_steps) <= 64:
            raise self._fail(f"phase_steps must hold 1 to 64 phase lengths, got {len(self.phase_steps)}")
        for i, d in enumerate(self.phase_steps):
            if not d > 0:
                raise self._fail(f"phase_steps[{i}] must be > 0, got {d!r}")

    def _eval(self, t: Any, xp: Namespace) -> Any:
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

    ``mu``/``L`` are the smallest/largest positive eigenvalues; the ``n = max(1, ceil(log2(L / mu)))`` intervals
    ``[2**(i-1) mu, 2**i mu)`` (the last one closed) get phase lengths proportional to ``sqrt(s_i)``, ``s_i`` the
    number of eigenvalues in interval ``i`` (a floor of 1 keeps empty intervals as short phases), scaled to sum to
    ``total_steps``. ``counts`` (optional) gives each eigenvalue a multiplicity, e.g. the estimated counts of
    ``lrsched.tools.spectrum.SpectrumEstimate``; non-positive eigenvalues are ignored.
    This is our reading of the paper's phase rule; pass ``phase_steps`` to :class:`Eigencurve`
    directly for another one.

    Example:
        >>> s = eigencurve_phases([1.0, 1.1, 1.2, 1.5, 3.0, 7.9], total_steps=100)
        >>> len(s.phase_steps), round(sum(s.phase_steps), 9)
        (3, 100.0)
    """
    weights_in = [1.0] * len(eigenvalues) if counts is None else [float(c) for c in counts]
    if len(weights_in) != len(eigenvalues):
        raise ValueError(f"eigencurve_phases: counts must hold one value per eigenvalue, got {len(weights_in)}")
    pairs = sorted((float(v), c) for v, c in zip(eigenvalues, weights_in) if v > 0 and math.isfinite(v))
    lam = [v for v, _ in pairs]
    if not lam:
        raise ValueError("eigencurve_phases: eigenvalues must hold at least one positive finite value")
    if not (isinstance(total_steps, (int, float)) and total_steps > 0 and math.isfinite(total_steps)):
        raise ValueError(f"eigencurve_phases: total_steps must be > 0, got {total_steps!r}")
    mu, big = lam[0], lam[-1]
    n = max(1, math.ceil(math.log2(big / mu)))
    held = [0.0] * n
    for v, c in pairs:
        held[min(math.floor(math.log2(v / mu)), n - 1)] += c
    weights = [math.sqrt(max(c, 1.0)) for c in held]
    total = sum(weights)
    return Eigencurve(big, mu, tuple(total_steps * w / total for w in weights))
