"""Compile a controller's rule into a straight-line Python closure (the stateful closure's fast path).

The rule (``controller.rule(state, signals, xp)``, written once against an array namespace) is traced once by
:mod:`lrsched._core.trace` (the tracer schedules' scalar path shares): the state's leaves become local variables of
a generated closure, the signals its arguments, the settings are folded into constants. The result computes exactly
what the rule computes on Python numbers (same operations on the same values), for a fraction of the cost. What is
particular to controllers lives here: the state's leaves, writing the new state without reading an overwritten
leaf, and ring buffers written in place when nothing else reads the old vector. A rule that cannot be traced (a
Python ``if`` on a value, an unknown operation) gives ``None`` and the closure calls ``controller.update`` instead.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from lrsched._core.trace import WHERE, Emitter, Node, Tracer, define

__all__ = ["Compiled", "compile_controller"]


class Compiled:
    """A compiled controller: ``update(_, *signals) -> lr`` (the first argument, a method's slot, is ignored),
    ``get() -> leaves``, ``put(leaves)``, ``lr() -> lr``, ``step() -> state.step`` (one leaf, read without
    rebuilding the state: adapters check the clock at every update)."""

    def __init__(self, update: Callable[..., Any], get: Callable[[], Any], put: Callable[[Any], None],
                 lr: Callable[[], Any], step: Callable[[], Any], source: str) -> None:  # fmt: skip
        self.update, self.get, self.put, self.lr, self.step, self.source = update, get, put, lr, step, source


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


def _in_place(tracer: Tracer) -> bool:
    """Whether every ring write may mutate its vector in place: the old vector (an input) is read only by the
    write itself, by selects that take it when the write's condition is false (then nothing was written), and by
    ring reads traced before the write (the compiled code computes them into locals first: ``Emitter(pinned=)``)."""
    for write in tracer.writes:
        old, cond = write.args[0], write.args[3]
        if old.args:
            return False
        for n in tracer.nodes:
            if n is write or not any(a is old for a in n.args):
                continue
            if any(n is r for r in tracer.reads) and n.index < write.index:
                continue
            if not (n.fmt == WHERE and n.args[0] is cond and n.args[2] is old and n.args[1] is not old):
                return False
    return True


def _store(pending: list[tuple[str, str]]) -> list[str]:
    """Statements writing the new state: one assignment per leaf, ordered so that no later expression reads a
    leaf already overwritten; leaves that read each other in a cycle share one tuple assignment.

    Linear in the number of leaves and reads (a state holds one leaf per parameter group): a leaf is written
    once no pending expression other than its own reads it.
    """
    names = {name for name, _ in pending}
    readers: dict[str, set[str]] = {name: set() for name in names}  # leaf -> the other pending leaves reading it
    reads: dict[str, set[str]] = {}  # leaf -> the other pending leaves its new expression reads
    for name, text in pending:
        reads[name] = (set(re.findall(r"\bs_\w+", text)) & names) - {name}
        for read in reads[name]:
            readers[read].add(name)
    texts = dict(pending)
    lines: list[str] = []
    ready = [name for name, _ in reversed(pending) if not readers[name]]
    while ready:
        name = ready.pop()
        lines.append(f"{name} = {texts.pop(name)}")
        for read in reads[name]:  # ``name`` is written: it no longer holds back the leaves it read
            readers[read].discard(name)
            if not readers[read] and read in texts:
                ready.append(read)
    if texts:  # a cycle: one tuple assignment reads every old value first
        rest = [(n, t) for n, t in pending if n in texts]
        lines.append(f"{', '.join(n for n, _ in rest)} = {', '.join(t for _, t in rest)}")
    return lines


def compile_controller(controller: Any, state: Any) -> Compiled | None:
    """Compile ``controller.rule`` for states shaped like ``state`` (Python numbers), or ``None``."""
    tracer = Tracer()
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
    lists = bool(tracer.writes) and _in_place(tracer)
    pinned, statements = frozenset[int](), frozenset[int]()
    if lists:  # vectors are lists written in place; a select of a constant vector takes a fresh copy
        for w in tracer.writes:  # a statement where the write is traced, after the reads before it
            w.fmt = "if {3}: {0}[{1}] = {2}"
        for r in tracer.refills:
            r.fmt = "list({1}) if {0} else {2}"
        statements = frozenset(w.index for w in tracer.writes)
        # The reads, and the written values (so a statement holds no lazily defined name), are locals.
        pinned = frozenset(n.index for n in (*tracer.reads, *(a for w in tracer.writes for a in w.args[1:]))
                           if isinstance(n, Node) and n.args)  # fmt: skip
    indent = "\n            "
    emit = Emitter([*outputs, *(lr if isinstance(lr, tuple) else (lr,))], pinned, statements)
    body = emit.assignments(tracer.nodes[:boundary])
    changed = [(name, out) for name, out, old in zip(names, outputs, _flat(sym, controller.vector_fields))
               if out is not old]  # fmt: skip
    lr_text = ", ".join(emit.ref(x) for x in lr) + "," if isinstance(lr, tuple) else emit.ref(lr)
    body += _store([(name, text) for name, out in changed if (text := emit.ref(out)) != name])  # not ``v = v``
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
    make = define(source, emit.constants, "make", "<lrsched controller>")
    vectors = [i for i, name in enumerate(names) if name[2:] in controller.vector_fields]
    if not lists:
        vectors = []

    def to_lists(leaves: Any) -> list[Any]:
        leaves = list(leaves)
        for i in vectors:
            leaves[i] = list(leaves[i])
        return leaves

    update, get_raw, put_raw, lr_fn = make(*to_lists(_flat(state, controller.vector_fields)))
    at = names.index("s_step") if "s_step" in names else None  # the protocol's states count updates in ``step``

    def get() -> tuple[Any, ...]:
        leaves = list(get_raw())
        for i in vectors:
            leaves[i] = tuple(leaves[i])
        return tuple(leaves)

    def put(leaves: Any) -> None:
        put_raw(to_lists(leaves))

    def step() -> Any:
        return get_raw()[at] if at is not None else unflatten(controller, state, get()).step

    return Compiled(update, get, put, lr_fn, step, source)


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
