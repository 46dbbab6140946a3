"""Scalar fast path: compile a schedule's formula into straight-line Python.

A schedule's formula (its ``_eval``) is written once against a namespace
``xp``. For Python numbers, evaluating it through the generic ``math``
namespace pays for many small calls. Here the same formula is traced once
(:mod:`lrsched._core.trace`, the tracer controllers' rules share) with the
step as its one symbolic input: operations on the step become Python
expressions, operations on plain numbers (the schedule's settings) are folded
into constants. The result is a function such as::

    def scalar(t):
        v3 = (t - 1000) if (t - 1000) >= 0.0 else 0.0
        ...
        return float(... if t < 1000 else ...)

which computes exactly what the generic path computes (same operations on the
same values), in a fraction of the time. Only finite numbers are written into
the source; everything else is passed as a named constant. A formula that
branches in Python on the step cannot be traced: :func:`compile_scalar`
returns ``None`` and the schedule uses the generic path (every registered
schedule compiles; a test checks it). Any other error while tracing is a bug
in the formula and propagates.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from lrsched._core.backend import Namespace
from lrsched._core.trace import Emitter, Tracer, Untraceable, define

__all__ = ["compile_scalar"]


def compile_scalar(formula: Callable[[Any, Namespace], Any]) -> Callable[[Any], float] | None:
    """Compile ``formula(t, xp)`` into a fast ``t -> float``, or ``None`` if it cannot be traced."""
    tracer = Tracer()
    try:
        out = formula(tracer.node("t"), tracer)
    except Untraceable:
        return None
    emit = Emitter([out])
    body = "".join(f"    {line}\n" for line in emit.assignments(tracer.nodes))
    source = f"def scalar(t):\n{body}    return float({emit.ref(out)})\n"
    fn: Callable[[Any], float] = define(source, emit.constants, "scalar", "<lrsched scalar>")
    fn.__doc__ = source
    return fn
