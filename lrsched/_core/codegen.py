"""Scalar fast path: compile a schedule's formula into straight-line Python.

A schedule's formula (its ``_eval``) is written once against a namespace
``xp``. For Python numbers, evaluating it through the generic ``math``
namespace pays for many small calls. Here the same formula is run once with
symbolic values: every operation on the step emits one line of Python, every
operation on plain numbers (the schedule's settings) is folded into a
constant. The result is a function such as::

    def scalar(t):
        v0 = t - 1000
        v1 = v0 if v0 >= 0.0 else 0.0
        ...
        return float(v9)

which computes exactly what the generic path computes (same operations, same
order), in a fraction of the time. Only numbers produced by the library's own
validated settings are written into the source; everything else is passed
as a named constant. A formula that branches in Python on the step cannot be
traced: :func:`compile_scalar` returns ``None`` and the schedule uses the
generic path (every registered schedule compiles; a test checks it). Any other
error while tracing is a bug in the formula and propagates.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from lrsched._core.backend import OPS, PYTHON, Namespace

__all__ = ["compile_scalar"]


class _Var:
    """A symbolic value: the name of a local variable in the generated function."""

    __slots__ = ("gen", "name")

    def __init__(self, gen: _Codegen, name: str) -> None:
        self.gen = gen
        self.name = name

    def __bool__(self) -> bool:
        raise _Untraceable("Python branching on the step")

    def __index__(self) -> int:
        raise _Untraceable("indexing with the step")

    def __float__(self) -> float:
        raise _Untraceable("float() of the step")

    def _bin(self, op: str, other: Any, reverse: bool = False) -> _Var:
        a, b = (other, self) if reverse else (self, other)
        return self.gen.emit(f"{self.gen.ref(a)} {op} {self.gen.ref(b)}")

    def __add__(self, o: Any) -> _Var:
        return self._bin("+", o)

    def __radd__(self, o: Any) -> _Var:
        return self._bin("+", o, True)

    def __sub__(self, o: Any) -> _Var:
        return self._bin("-", o)

    def __rsub__(self, o: Any) -> _Var:
        return self._bin("-", o, True)

    def __mul__(self, o: Any) -> _Var:
        return self._bin("*", o)

    def __rmul__(self, o: Any) -> _Var:
        return self._bin("*", o, True)

    def __truediv__(self, o: Any) -> _Var:
        return self._bin("/", o)

    def __rtruediv__(self, o: Any) -> _Var:
        return self._bin("/", o, True)

    def __pow__(self, o: Any) -> _Var:
        return self._bin("**", o)

    def __rpow__(self, o: Any) -> _Var:
        return self._bin("**", o, True)

    def __xor__(self, o: Any) -> _Var:
        return self._bin("^", o)

    def __rxor__(self, o: Any) -> _Var:
        return self._bin("^", o, True)

    def __and__(self, o: Any) -> _Var:
        return self._bin("&", o)

    def __neg__(self) -> _Var:
        return self.gen.emit(f"-{self.name}")

    def __lt__(self, o: Any) -> _Var:
        return self._bin("<", o)

    def __le__(self, o: Any) -> _Var:
        return self._bin("<=", o)

    def __gt__(self, o: Any) -> _Var:
        return self._bin(">", o)

    def __ge__(self, o: Any) -> _Var:
        return self._bin(">=", o)


class _Untraceable(Exception):
    pass


def _symbolic(*args: Any) -> bool:
    return any(isinstance(a, _Var) for a in args)


class _Codegen(Namespace):
    """A namespace that writes Python source instead of computing."""

    name = "codegen"
    is_scalar = True

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, Any] = {}

    def emit(self, expression: str) -> _Var:
        var = _Var(self, f"v{len(self.lines)}")
        self.lines.append(f"    {var.name} = {expression}")
        return var

    def ref(self, value: Any) -> str:
        if isinstance(value, _Var):
            return value.name
        if type(value) in (int, float) and math.isfinite(value):
            return f"({value!r})"
        name = f"c{len(self.constants)}"
        self.constants[name] = value
        return name

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:  # type: ignore[override]
        """``fn(*args)``, folded when no argument is symbolic."""
        if not _symbolic(*args):
            return fn(*args)
        return self.emit(f"{self.ref(fn)}({', '.join(self.ref(a) for a in args)})")

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        if not _symbolic(cond):
            return a if cond else b
        return self.emit(f"{self.ref(a)} if {self.ref(cond)} else {self.ref(b)}")

    def minimum(self, a: Any, b: Any) -> Any:
        if not _symbolic(a, b):
            return PYTHON.minimum(a, b)
        ra, rb = self.ref(a), self.ref(b)
        return self.emit(f"{ra} if {ra} <= {rb} else {rb}")

    def maximum(self, a: Any, b: Any) -> Any:
        if not _symbolic(a, b):
            return PYTHON.maximum(a, b)
        ra, rb = self.ref(a), self.ref(b)
        return self.emit(f"{ra} if {ra} >= {rb} else {rb}")

    def full_like(self, t: Any, value: Any) -> Any:
        return value

    def epsilon(self, t: Any) -> float:
        return PYTHON.epsilon(t)


def _delegate(op: str) -> Callable[..., Any]:
    fn = getattr(PYTHON, op)

    def method(self: _Codegen, *args: Any) -> Any:
        return self.call(fn, *args)

    method.__name__ = op
    return method


for _op in OPS:
    if _op not in _Codegen.__dict__:  # every other operation is recorded as a call of the Python one
        setattr(_Codegen, _op, _delegate(_op))


def compile_scalar(formula: Callable[[Any, Namespace], Any]) -> Callable[[Any], float] | None:
    """Compile ``formula(t, xp)`` into a fast ``t -> float``, or ``None`` if it cannot be traced."""
    gen = _Codegen()
    t = _Var(gen, "t")
    try:
        out = formula(t, gen)
    except _Untraceable:
        return None
    body = "\n".join(gen.lines) or "    pass"
    source = f"def scalar(t):\n{body}\n    return float({gen.ref(out)})\n"
    namespace: dict[str, Any] = dict(gen.constants)
    exec(compile(source, "<lrsched scalar>", "exec"), namespace)  # source holds only numbers and names
    fn: Callable[[Any], float] = namespace["scalar"]
    fn.__doc__ = source
    return fn
