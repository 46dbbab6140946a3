"""Refuse, at construction, a controller that an adapter cannot drive: it names what is missing."""

from __future__ import annotations

from typing import Any

__all__ = ["refuse_unserved"]

_HOW = {
    "lookahead": "it compares LRs by running training steps (explore(state, lookahead)); drive it from your own "
    "training loop, which can snapshot and restore the model (see lrsched.LRTuner)",
}


def refuse_unserved(owner: str, controller: Any, measured: frozenset[str], needs_served: frozenset[str]) -> None:
    """Raise ``ValueError`` when ``controller`` declares a signal outside ``measured`` or a need outside
    ``needs_served`` (the adapter would otherwise feed it a made-up value, or never call what it needs)."""
    missing = [s for s in controller.signals if s not in measured]
    if missing:
        raise ValueError(
            f"{owner}: {controller.owner} reads the signal(s) {', '.join(map(repr, missing))}, which {owner} cannot "
            f"measure (it measures {', '.join(sorted(measured))})"
        )
    for need in sorted(controller.needs - needs_served):
        raise ValueError(
            f"{owner}: {controller.owner} needs a {need!r} that {owner} cannot provide: {_HOW.get(need, '')}"
        )
