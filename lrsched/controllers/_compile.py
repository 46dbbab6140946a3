"""Compile a controller's rule into a straight-line Python closure (the stateful closure's fast path).

The rule (``controller.rule(state, signals, xp)``, written once against an array namespace) is run once with
symbolic values: the state's leaves become local variables of a generated closure, the settings are folded into
constants, and every operation on a symbolic value records a node. Nodes used once are inlined into the
expression that uses them, so a ``where`` becomes a lazy ``a if c else b`` that evaluates only the branch taken;
nodes used more than once become locals. The result computes exactly what the rule computes on Python numbers
(same operations, same order), for a fraction of the cost. A rule that cannot be traced (a Python ``if`` on a
value, an unknown operation) gives ``None`` and the closure calls ``controller.update`` instead.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

from lrsched._core.backend import PYTHON, Namespace

__all__ = ["Compiled", "compile_controller"]


class _Untraceable(Exception):
    pass


class _Node:
    """A symbolic value: an input (a name) or an operation (a format string over its arguments)."""

    __slots__ = ("args", "fmt", "index")
    __hash__ = object.__hash__

    def __init__(self, fmt: str, args: tuple[Any, ...], index: int) -> None:
        self.fmt, self.args, self.index = fmt, args, index

    def __bool__(self) -> bool:
        raise _Untraceable("a Python branch on a value")

    def __index__(self) -> int:
        raise _Untraceable("indexing with a value")

    def __float__(self) -> float:
        raise _Untraceable("float() of a value")

    def __iter__(self) -> Any:
        raise _Untraceable("iterating over a value")

    def __neg__(self) -> _Node:
        return _TRACER.node("-{0}", self)

    def lrsched_apply(self, fn: Callable[[Any], Any]) -> Any:
        """``fn(self)`` recorded as a call (see :func:`lrsched.controllers.protocol.apply`)."""
        return _TRACER.call(fn, self)


def _symbolic(*args: Any) -> bool:
    return any(isinstance(a, _Node) for a in args)


def _binary(symbol: str, fold: Callable[[Any, Any], Any]) -> tuple[Callable[..., Any], Callable[..., Any]]:
    def op(a: Any, b: Any) -> Any:
        return _TRACER.node(f"{{0}} {symbol} {{1}}", a, b) if _symbolic(a, b) else fold(a, b)

    return (lambda self, o: op(self, o)), (lambda self, o: op(o, self))


for _name, _symbol, _fold in (
    ("add", "+", lambda a, b: a + b),
    ("sub", "-", lambda a, b: a - b),
    ("mul", "*", lambda a, b: a * b),
    ("truediv", "/", lambda a, b: a / b),
):
    _forward, _reverse = _binary(_symbol, _fold)
    setattr(_Node, f"__{_name}__", _forward)
    setattr(_Node, f"__r{_name}__", _reverse)
for _name, _symbol in (("lt", "<"), ("le", "<="), ("gt", ">"), ("ge", ">="), ("eq", "=="), ("ne", "!=")):
    setattr(_Node, f"__{_name}__", _binary(_symbol, lambda a, b: a)[0])


_BOOLEAN_FORMATS = ("<", "<=", ">", ">=", "==", "!=", "and", "or")


def _boolean(x: Any) -> bool:
    """``x`` is a bool when the rule runs on Python numbers (so ``&``/``|`` may become lazy ``and``/``or``)."""
    if isinstance(x, bool):
        return True
    if not isinstance(x, _Node) or not x.args:
        return False
    if x.fmt == "{1} if {0} else {2}":
        return _boolean(x.args[1]) and _boolean(x.args[2])
    parts = x.fmt.split(" ")
    return (len(parts) == 3 and parts[1] in _BOOLEAN_FORMATS) or x.fmt == "{0} - {0} == 0.0"


def _and(a: Any, b: Any) -> Any:
    for x, y in ((a, b), (b, a)):
        if x is True:
            return y
        if x is False:
            return False
    return _TRACER.node("{0} and {1}" if _boolean(a) and _boolean(b) else "{0} & {1}", a, b)


def _or(a: Any, b: Any) -> Any:
    for x, y in ((a, b), (b, a)):
        if x is False:
            return y
        if x is True:
            return True
    return _TRACER.node("{0} or {1}" if _boolean(a) and _boolean(b) else "{0} | {1}", a, b)


for _name, _combine in (("and", _and), ("or", _or)):
    setattr(_Node, f"__{_name}__", lambda self, o, _combine=_combine: _combine(self, o))
    setattr(_Node, f"__r{_name}__", lambda self, o, _combine=_combine: _combine(self, o))


class _Tracer(Namespace):
    """A namespace that records operations on symbolic values and folds those on numbers."""

    name = "trace"
    is_scalar = True

    def __init__(self) -> None:
        self.nodes: list[_Node] = []
        self.writes: list[_Node] = []  # ring_write nodes (candidates for an in-place write)
        self.refills: list[_Node] = []  # selects of a constant vector (a fresh list in list mode)

    def node(self, fmt: str, *args: Any) -> _Node:
        n = _Node(fmt, args, len(self.nodes))
        self.nodes.append(n)
        return n

    def where(self, cond: Any, a: Any, b: Any) -> Any:
        if not _symbolic(cond):
            return a if cond else b
        return a if a is b else self.node("{1} if {0} else {2}", cond, a, b)

    def where_vector(self, cond: Any, a: Any, b: Any) -> Any:
        if isinstance(b, tuple) and len(b) > 0:  # per-group tuples: elementwise
            a = a if isinstance(a, tuple) else (a,) * len(b)
            return tuple(self.where(cond, x, y) for x, y in zip(a, b))
        out = self.where(cond, a, b)
        if isinstance(out, _Node) and isinstance(a, tuple):
            self.refills.append(out)
        return out

    def minimum(self, a: Any, b: Any) -> Any:
        return self.node("{0} if {0} <= {1} else {1}", a, b) if _symbolic(a, b) else PYTHON.minimum(a, b)

    def maximum(self, a: Any, b: Any) -> Any:
        return self.node("{0} if {0} >= {1} else {1}", a, b) if _symbolic(a, b) else PYTHON.maximum(a, b)

    def isfinite(self, x: Any) -> Any:
        return self.node("{0} - {0} == 0.0", x) if _symbolic(x) else PYTHON.isfinite(x)

    def true_divide(self, a: Any, b: Any) -> Any:
        return a / b

    def ring_write(self, vector: Any, pos: Any, value: Any, cond: Any) -> Any:
        if not _symbolic(vector, pos, value, cond):
            return PYTHON.ring_write(vector, pos, value, cond)
        out = self.node("{0}[:{1}] + ({2},) + {0}[{1} + 1:] if {3} else {0}", vector, pos, value, cond)
        self.writes.append(out)
        return out

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:  # type: ignore[override]
        if not _symbolic(*args):
            return fn(*args)
        return self.node("{0}(" + ", ".join(f"{{{i + 1}}}" for i in range(len(args))) + ")", fn, *args)

    def asarray(self, value: Any, like: Any, integer: bool = False) -> Any:
        raise _Untraceable("arrays")


_TRACER: _Tracer = _Tracer()  # the tracer the node operators record into (set by compile_controller)


class Compiled:
    """A compiled controller: ``update(_, *signals) -> lr`` (the first argument, a method's slot, is ignored),
    ``get() -> leaves``, ``put(leaves)``, ``lr() -> lr``."""

    def __init__(self, update: Callable[..., Any], get: Callable[[], Any], put: Callable[[Any], None],
                 lr: Callable[[], Any], source: str) -> None:  # fmt: skip
        self.update, self.get, self.put, self.lr, self.source = update, get, put, lr, source


def _leaves(controller: Any, state: Any, make: Callable[[str], Any]) -> tuple[Any, list[str]]:
    """``state`` with every leaf replaced by ``make(name)``, and the leaf names in order."""
    names: list[str] = []

    def leaf(name: str) -> Any:
        names.append(name)
        return make(name)

    fields = []
    for field, value in zip(state._fields, state):
        if isinstance(value, tuple) and field not in controller.vector_fields:
            fields.append(tuple(leaf(f"s_{field}_{i}") for i in range(len(value))))
        else:
            fields.append(leaf(f"s_{field}"))
    return type(state)._make(fields), names


def _flat(state: Any, vector_fields: frozenset[str]) -> list[Any]:
    out: list[Any] = []
    for field, value in zip(state._fields, state):
        if isinstance(value, tuple) and field not in vector_fields:
            out.extend(value)
        else:
            out.append(value)
    return out


_LAZY = (" if ", " and ", " or ")


def _guarded(parents: list[_Node]) -> bool:
    """A node used twice, once as the true branch of ``where(c, node, b)`` and once inside ``c`` on a path of
    eager operations: computing it where ``c`` first uses it (``:=``) covers both uses, and only when needed."""
    if len(parents) != 2:
        return False
    for w, other in (parents, parents[::-1]):
        if w.fmt == "{1} if {0} else {2}" and isinstance(w.args[0], _Node) and _eager_path(w.args[0], other):
            return other is not w and any(a is w.args[1] for a in other.args)
    return False


def _eager_path(root: _Node, target: _Node) -> bool:
    """``target`` is ``root`` or reached from it through operations that evaluate all their arguments."""
    if root is target:
        return True
    if not root.args or any(lazy in root.fmt for lazy in _LAZY):
        return False
    return any(isinstance(a, _Node) and _eager_path(a, target) for a in root.args)


class _Emitter:
    def __init__(self, outputs: list[Any]) -> None:
        self.constants: dict[str, Any] = {}
        self.uses: dict[int, int] = {}
        self.parents: dict[int, list[_Node]] = {}
        seen: set[int] = set()
        stack = [o for o in outputs if isinstance(o, _Node)]
        for o in stack:
            self.uses[o.index] = self.uses.get(o.index, 0) + 1
        while stack:
            n = stack.pop()
            if n.index in seen:
                continue
            seen.add(n.index)
            for i, a in enumerate(n.args):
                if isinstance(a, _Node):
                    self.uses[a.index] = self.uses.get(a.index, 0) + n.fmt.count(f"{{{i}}}")
                    self.parents.setdefault(a.index, []).append(n)
                    stack.append(a)
        self.locals: set[int] = set()
        self.walrus = {i for i, ps in self.parents.items() if self.uses[i] == 2 and _guarded(ps)}
        self.defined: set[int] = set()

    def ref(self, value: Any) -> str:
        if isinstance(value, _Node):
            if not value.args or value.index in self.locals:
                return value.fmt
            if value.index in self.walrus:  # first rendered in a condition that is always evaluated first
                if value.index in self.defined:
                    return f"v{value.index}"
                self.defined.add(value.index)
                return f"(v{value.index} := {value.fmt.format(*(self.ref(a) for a in value.args))})"
            text = value.fmt.format(*(self.ref(a) for a in value.args))
            return text if not value.args else f"({text})"
        if type(value) is bool or (type(value) in (int, float) and math.isfinite(value)):
            return repr(value)
        name = f"c{len(self.constants)}"
        self.constants[name] = value
        return name

    def assignments(self, nodes: list[_Node]) -> list[str]:
        lines = []
        for n in nodes:
            simple = all(not isinstance(a, _Node) or not a.args for a in n.args) and "(" not in n.fmt
            uses = self.uses.get(n.index, 0)
            if n.args and uses > 1 and not (simple and uses == 2) and n.index not in self.walrus:
                lines.append(f"v{n.index} = {n.fmt.format(*(self.ref(a) for a in n.args))}")
                self.locals.add(n.index)
                n.fmt = f"v{n.index}"
        return lines


def _write_in_place(w: list[Any], pos: int, value: Any, cond: bool) -> list[Any]:
    if cond:
        w[pos] = value
    return w


def _in_place(tracer: _Tracer) -> bool:
    """Whether every ring write may mutate its vector in place: the old vector (an input) is read only by the
    write itself and by selects that take it when the write's condition is false (then nothing was written)."""
    for write in tracer.writes:
        old, cond = write.args[0], write.args[3]
        if old.args:
            return False
        for n in tracer.nodes:
            if n is write or not any(a is old for a in n.args):
                continue
            if not (n.fmt == "{1} if {0} else {2}" and n.args[0] is cond and n.args[2] is old and n.args[1] is not old):
                return False
    return True


def _store(pending: list[tuple[str, str]]) -> list[str]:
    """Statements writing the new state: one assignment per leaf, ordered so that no later expression reads a
    leaf already overwritten; leaves that read each other in a cycle share one tuple assignment."""
    reads = {name: set(re.findall(r"\bs_\w+", text)) for name, text in pending}
    lines = []
    while pending:
        for i, (name, text) in enumerate(pending):
            if not any(name in reads[other] for other, _ in pending if other != name):
                lines.append(f"{name} = {text}")
                del pending[i]
                break
        else:
            lines.append(f"{', '.join(n for n, _ in pending)} = {', '.join(t for _, t in pending)}")
            break
    return lines


def compile_controller(controller: Any, state: Any) -> Compiled | None:
    """Compile ``controller.rule`` for states shaped like ``state`` (Python numbers), or ``None``."""
    global _TRACER
    tracer = _TRACER = _Tracer()
    try:
        sym, names = _leaves(controller, state, lambda n: tracer.node(n))
        signals = {s: tracer.node(s) for s in controller.signals}
        new = controller.rule(sym, signals, tracer)
        outputs = _flat(new, controller.vector_fields)
        boundary = len(tracer.nodes)  # the lr below reads the new state: no locals before the state is written
        after, _ = _leaves(controller, state, lambda n: tracer.node(n))
        lr = controller.lr(after)
    except Exception:  # untraceable (or a rule that fails on Python numbers): the closure calls update()
        return None
    finally:
        _TRACER = _Tracer()
    lists = bool(tracer.writes) and _in_place(tracer)
    if lists:  # vectors are lists written in place; a select of a constant vector takes a fresh copy
        for w in tracer.writes:
            w.fmt, w.args = "{0}({1}, {2}, {3}, {4})", (_write_in_place, *w.args)
        for r in tracer.refills:
            r.fmt = "list({1}) if {0} else {2}"
    indent = "\n            "
    emit = _Emitter([*outputs, *(lr if isinstance(lr, tuple) else (lr,))])
    body = emit.assignments(tracer.nodes[:boundary])
    changed = [(name, out) for name, out, old in zip(names, outputs, _flat(sym, controller.vector_fields))
               if out is not old]  # fmt: skip
    lr_text = ", ".join(emit.ref(x) for x in lr) + "," if isinstance(lr, tuple) else emit.ref(lr)
    body += _store([(name, emit.ref(out)) for name, out in changed])
    args = ", ".join(s for s in controller.signals)
    convert = indent.join(f"if type({s}) is not float: {s} = float({s})" for s in controller.signals)
    all_names = ", ".join(names)
    source = f"""\
def make({all_names}):
    def update(_self, {args}):
        nonlocal {all_names}
        {convert}
        {indent.join(body) or "pass"}
        return {lr_text}

    def get():
        return ({all_names},)

    def put(values):
        nonlocal {all_names}
        {all_names}, = values

    def lr():
        return {lr_text}

    return update, get, put, lr
"""
    source = source.replace("\n            ", "\n        ")
    namespace: dict[str, Any] = dict(emit.constants)
    exec(compile(source, "<lrsched controller>", "exec"), namespace)  # source: numbers, names and operators only
    vectors = [i for i, name in enumerate(names) if name[2:] in controller.vector_fields]
    if not lists:
        vectors = []

    def to_lists(leaves: Any) -> list[Any]:
        leaves = list(leaves)
        for i in vectors:
            leaves[i] = list(leaves[i])
        return leaves

    update, get_raw, put_raw, lr_fn = namespace["make"](*to_lists(_flat(state, controller.vector_fields)))

    def get() -> tuple[Any, ...]:
        leaves = list(get_raw())
        for i in vectors:
            leaves[i] = tuple(leaves[i])
        return tuple(leaves)

    def put(leaves: Any) -> None:
        put_raw(to_lists(leaves))

    return Compiled(update, get, put, lr_fn, source)


def unflatten(controller: Any, template: Any, leaves: tuple[Any, ...]) -> Any:
    """A state shaped like ``template`` from the flat leaves of :meth:`Compiled.get`."""
    it = iter(leaves)
    fields = []
    for field, value in zip(template._fields, template):
        if isinstance(value, tuple) and field not in controller.vector_fields:
            fields.append(tuple(next(it) for _ in value))
        else:
            fields.append(next(it))
    return type(template)._make(fields)


def flatten(controller: Any, state: Any) -> list[Any]:
    """The flat leaves :meth:`Compiled.put` takes."""
    return _flat(state, controller.vector_fields)
