"""The symbolic tracer: run code written once against a namespace ``xp`` on symbolic values, emit straight-line Python.

A formula (a schedule's ``_eval(t, xp)``) or a rule (a controller's ``rule(state, signals, xp)``) is run once with
:class:`Tracer` as ``xp`` and :class:`Node` values for its inputs. Every operation on a symbolic value records a
node (a format string over its arguments); every operation on plain numbers (the settings) is folded on the spot,
exactly as the Python namespace computes it. :class:`Emitter` then writes the graph as Python: nodes used once are
inlined into the expression that uses them (so ``where`` is a lazy ``a if c else b`` that evaluates only the branch
taken), nodes used more than once become locals. The generated code performs the same operations in the same order
on each value as the Python namespace, so it gives bit-identical results, for a fraction of the cost.

Code that branches in Python on a symbolic value (``if``, ``float()``, indexing, iterating) cannot be traced: it
raises :class:`Untraceable` and the caller falls back to the generic path. Only finite numbers are written into the
source; every other constant (a function, a table) is passed to :func:`define` as a named global.

The front ends: :func:`lrsched._core.codegen.compile_scalar` (one input ``t``, no state) and
:func:`lrsched.controllers._compile.compile_controller` (the state's leaves as locals of a closure).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from lrsched._core.backend import OPS, PYTHON, Namespace

__all__ = ["Emitter", "Node", "Tracer", "Untraceable", "define"]

WHERE = "{1} if {0} else {2}"  # the format of a traced ``where``


class Untraceable(Exception):
    """Python code branched on a symbolic value: the caller uses its generic path."""


class Node:
    """A symbolic value: an input (a name, no arguments) or an operation (a format string over its arguments)."""

    __slots__ = ("args", "fmt", "index", "tracer")
    __hash__ = object.__hash__

    def __init__(self, tracer: Tracer, fmt: str, args: tuple[Any, ...], index: int) -> None:
        self.tracer, self.fmt, self.args, self.index = tracer, fmt, args, index

    def __bool__(self) -> bool:
        raise Untraceable("a Python branch on a traced value")

    def __index__(self) -> int:
        raise Untraceable("indexing with a traced value")

    def __float__(self) -> float:
        raise Untraceable("float() of a traced value")

    def __iter__(self) -> Any:
        raise Untraceable("iterating over a traced value")

    def __neg__(self) -> Node:
        return self.tracer.node("-{0}", self)

    def lrsched_apply(self, fn: Callable[[Any], Any]) -> Any:
        """``fn(self)`` recorded as a call (see :func:`lrsched.controllers.protocol.apply`)."""
        return self.tracer.call(fn, self)


def symbolic(*args: Any) -> bool:
    """Whether any argument is a traced value."""
    return any(isinstance(a, Node) for a in args)


def _record(fmt: str, a: Any, b: Any) -> Node:
    return (a if isinstance(a, Node) else b).tracer.node(fmt, a, b)


def _binary(symbol: str) -> tuple[Callable[..., Any], Callable[..., Any]]:
    fmt = f"{{0}} {symbol} {{1}}"
    return (lambda self, o: _record(fmt, self, o)), (lambda self, o: _record(fmt, o, self))


for _name, _symbol in (
    *(("add", "+"), ("sub", "-"), ("mul", "*"), ("truediv", "/"), ("pow", "**"), ("xor", "^"), ("mod", "%")),
    *(("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">="), ("eq", "=="), ("ne", "!=")),
):
    _forward, _reverse = _binary(_symbol)
    setattr(Node, f"__{_name}__", _forward)
    if _name not in ("lt", "le", "gt", "ge", "eq", "ne"):  # comparisons reflect to the mirrored comparison
        setattr(Node, f"__r{_name}__", _reverse)


_BOOLEAN_FORMATS = ("<", "<=", ">", ">=", "==", "!=", "and", "or")


def _boolean(x: Any) -> bool:
    """``x`` is a bool when the code runs on Python numbers (so ``&``/``|`` may become lazy ``and``/``or``)."""
    if isinstance(x, bool):
        return True
    if not isinstance(x, Node) or not x.args:
        return False
    if x.fmt == WHERE:
        return _boolean(x.args[1]) and _boolean(x.args[2])
    parts = x.fmt.split(" ")
    return (len(parts) == 3 and parts[1] in _BOOLEAN_FORMATS) or x.fmt == "{0} - {0} == 0.0"


def _logical(word: str, symbol: str, unit: bool) -> Callable[[Any, Any], Any]:
    """``a and b`` (``unit`` True) or ``a or b`` (``unit`` False): a literal ``unit`` gives the other side, its
    opposite gives itself; two booleans combine lazily (``and``/``or``), anything else bitwise (``&``/``|``)."""

    def combine(self: Any, other: Any) -> Any:
        for x, y in ((self, other), (other, self)):
            if x is unit:
                return y
            if x is (not unit):
                return not unit
        lazy = _boolean(self) and _boolean(other)
        return _record(f"{{0}} {word if lazy else symbol} {{1}}", self, other)

    return combine


for _word, _symbol, _unit in (("and", "&", True), ("or", "|", False)):
    _combine = _logical(_word, _symbol, _unit)  # the node goes first either way (the operands commute)
    setattr(Node, f"__{_word}__", _combine)
    setattr(Node, f"__r{_word}__", _combine)


class Tracer(Namespace):
    """A namespace that records operations on traced values and computes those on numbers (as :data:`PYTHON`)."""

    name = "trace"
    is_scalar = True

    def __init__(self) -> None:
        self.nodes: list[Node] = []
        self.writes: list[Node] = []  # ring_write nodes (candidates for an in-place write)
        self.refills: list[Node] = []  # selects of a constant vector (a fresh list in list mode)
        self.reads: list[Node] = []  # ring_read nodes (computed before any write in list mode)

    def node(self, fmt: str, *args: Any) -> Node:
        """A new node; with no arguments, an input named ``fmt``."""
        n = Node(self, fmt, args, len(self.nodes))
        self.nodes.append(n)
        return n

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:  # type: ignore[override]
        """``fn(*args)``, computed when no argument is traced."""
        if not symbolic(*args):
            return fn(*args)
        return self.node("{0}(" + ", ".join(f"{{{i + 1}}}" for i in range(len(args))) + ")", fn, *args)

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        if not symbolic(cond):
            return a if cond else b
        return a if a is b else self.node(WHERE, cond, a, b)

    def where_vector(self, cond: Any, a: Any, b: Any) -> Any:
        if isinstance(b, tuple) and len(b) > 0:  # per-group tuples: elementwise
            a = a if isinstance(a, tuple) else (a,) * len(b)
            return tuple(self.where(cond, x, y) for x, y in zip(a, b))
        out = self.where(cond, a, b)
        if isinstance(out, Node) and isinstance(a, tuple):
            self.refills.append(out)
        return out

    def minimum(self, a: Any, b: Any) -> Any:
        return self.node("{0} if {0} <= {1} else {1}", a, b) if symbolic(a, b) else PYTHON.minimum(a, b)

    def maximum(self, a: Any, b: Any) -> Any:
        return self.node("{0} if {0} >= {1} else {1}", a, b) if symbolic(a, b) else PYTHON.maximum(a, b)

    def abs(self, x: Any) -> Any:
        return self.node("abs({0})", x) if symbolic(x) else PYTHON.abs(x)

    def isfinite(self, x: Any) -> Any:
        return self.node("{0} - {0} == 0.0", x) if symbolic(x) else PYTHON.isfinite(x)

    def true_divide(self, a: Any, b: Any) -> Any:
        return a / b

    def ring_write(self, vector: Any, pos: Any, value: Any, cond: Any) -> Any:
        if not symbolic(vector, pos, value, cond):
            return PYTHON.ring_write(vector, pos, value, cond)
        out = self.node("{0}[:{1}] + ({2},) + {0}[{1} + 1:] if {3} else {0}", vector, pos, value, cond)
        self.writes.append(out)
        return out

    def ring_read(self, vector: Any, pos: Any) -> Any:
        if not symbolic(vector, pos):
            return PYTHON.ring_read(vector, pos)
        out = self.node("{0}[{1}]", vector, pos)
        self.reads.append(out)
        return out

    def full_like(self, t: Any, value: Any) -> Any:
        return value

    def epsilon(self, t: Any) -> float:
        return PYTHON.epsilon(t)

    def asarray(self, value: Any, like: Any, integer: bool = False) -> Any:
        raise Untraceable("arrays")


def _delegate(op: str) -> Callable[..., Any]:
    fn = getattr(PYTHON, op)

    def method(self: Tracer, *args: Any) -> Any:
        return self.call(fn, *args)

    method.__name__ = op
    return method


for _op in OPS:
    if _op not in Tracer.__dict__:  # every other operation is recorded as a call of the Python one
        setattr(Tracer, _op, _delegate(_op))


_LAZY = (" if ", " and ", " or ")
_DEPTH = 40  # an expression nested deeper becomes a local (the parser and ``ref``'s recursion stay shallow)


def _guarded(parents: list[Node]) -> bool:
    """A node used twice, once as the true branch of ``where(c, node, b)`` and once inside ``c`` on a path of
    eager operations: computing it where ``c`` first uses it (``:=``) covers both uses, and only when needed."""
    if len(parents) != 2:
        return False
    for w, other in (parents, parents[::-1]):
        if w.fmt == WHERE and isinstance(w.args[0], Node) and _eager_path(w.args[0], other):
            return other is not w and any(a is w.args[1] for a in other.args)
    return False


def _eager_path(root: Node, target: Node) -> bool:
    """``target`` is ``root`` or reached from it through operations that evaluate all their arguments."""
    if root is target:
        return True
    if not root.args or any(lazy in root.fmt for lazy in _LAZY):
        return False
    return any(isinstance(a, Node) and _eager_path(a, target) for a in root.args)


class Emitter:
    """Python source for the nodes that ``outputs`` read: :meth:`assignments` for the locals, :meth:`ref` for an
    expression; the constants the source names are in :attr:`constants`."""

    def __init__(self, outputs: list[Any], pinned: frozenset[int] = frozenset(),
                 statements: frozenset[int] = frozenset()) -> None:  # fmt: skip
        self.pinned = pinned | statements  # nodes computed where they are traced (e.g. a read before a write)
        self.statements = statements  # nodes whose format is a statement; their value is their first argument
        self.constants: dict[str, Any] = {}
        self.uses: dict[int, int] = {}
        self.parents: dict[int, list[Node]] = {}
        seen: set[int] = set()
        stack = [o for o in outputs if isinstance(o, Node)]
        for o in stack:
            self.uses[o.index] = self.uses.get(o.index, 0) + 1
        while stack:
            n = stack.pop()
            if n.index in seen:
                continue
            seen.add(n.index)
            for i, a in enumerate(n.args):
                if isinstance(a, Node):
                    self.uses[a.index] = self.uses.get(a.index, 0) + n.fmt.count(f"{{{i}}}")
                    self.parents.setdefault(a.index, []).append(n)
                    stack.append(a)
        self.locals: set[int] = set()
        self.walrus = {i for i, ps in self.parents.items() if self.uses[i] == 2 and _guarded(ps)} - pinned
        self.defined: set[int] = set()
        self.depth: dict[int, int] = {}

    def ref(self, value: Any) -> str:
        """``value`` as an expression: a name, a number, or a node's inlined operation in parentheses."""
        if isinstance(value, Node):
            if not value.args or value.index in self.locals:
                return value.fmt
            if value.index in self.walrus:  # first rendered in a condition that is always evaluated first
                if value.index in self.defined:
                    return f"v{value.index}"
                self.defined.add(value.index)
                return f"(v{value.index} := {value.fmt.format(*(self.ref(a) for a in value.args))})"
            return f"({value.fmt.format(*(self.ref(a) for a in value.args))})"
        if type(value) is bool or (type(value) in (int, float) and math.isfinite(value)):
            text = repr(value)
            return text if text[0] != "-" else f"({text})"  # ``(-2.0) ** x``, not ``-(2.0 ** x)``
        name = f"c{len(self.constants)}"
        self.constants[name] = value
        return name

    def assignments(self, nodes: list[Node]) -> list[str]:
        """Statements defining, in order, the nodes that are computed once into a local: those used more than
        once (a simple one used twice is recomputed instead), the pinned ones and those nested too deep to inline;
        and the statement nodes, executed in their place."""
        lines = []
        for n in nodes:
            if not n.args or n.index not in self.uses:
                continue
            if n.index in self.statements:  # e.g. ``if cond: vector[pos] = value``; the node stands for ``vector``
                lines.append(n.fmt.format(*(self.ref(a) for a in n.args)))
                self.locals.add(n.index)
                n.fmt = self.ref(n.args[0])
                continue
            simple = all(not isinstance(a, Node) or not a.args for a in n.args) and "(" not in n.fmt
            uses = self.uses[n.index]
            depth = 1 + max((self.depth.get(a.index, 0) for a in n.args if isinstance(a, Node)), default=0)
            shared = (uses > 1 and not (simple and uses == 2)) or n.index in self.pinned
            if (shared or depth > _DEPTH) and n.index not in self.walrus:
                lines.append(f"v{n.index} = {n.fmt.format(*(self.ref(a) for a in n.args))}")
                self.locals.add(n.index)
                n.fmt = f"v{n.index}"
            else:
                self.depth[n.index] = depth
        return lines


def define(source: str, constants: dict[str, Any], name: str, filename: str) -> Any:
    """The object ``name`` that ``source`` (numbers, names and operators only) defines, with ``constants`` as its
    globals."""
    namespace = dict(constants)
    exec(compile(source, filename, "exec"), namespace)
    return namespace[name]
