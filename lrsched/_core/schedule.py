"""The schedule value: a frozen, hashable, picklable ``step -> value`` callable.

Every schedule is a frozen dataclass registered under the name of its factory
(``cosine_decay``, ``warmup``, ...). Fields are normalised and validated once,
at construction; evaluation then never branches in Python on the step value.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, overload

if TYPE_CHECKING:
    import numpy as np
    from numpy.typing import NDArray
    from typing_extensions import dataclass_transform
else:

    def dataclass_transform(**_: Any) -> Callable[[Any], Any]:
        return lambda f: f


from lrsched._core.backend import PYTHON, Array, Namespace, namespace_for
from lrsched._core.codegen import compile_scalar
from lrsched._core.fields import Fields
from lrsched._core.hints import explain_unknown_keywords
from lrsched._core.validate import flag, increasing, integer, is_number, non_negative, number, positive, sequence, shown

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "Landmark",
    "Schedule",
    "landmarks_of",
    "FunctionSchedule",
    "as_schedule",
    "register",
    "scalar_function",
    "registry",
    "schedule_error",
]

# Field kinds, read from the (string) annotations of each schedule class.
_KINDS = {
    "float": "number",
    "float | None": "optional_number",
    "int": "integer",
    "int | None": "optional_integer",
    "bool": "flag",
    "str": "text",
    "Schedule": "schedule",
    "Schedule | float": "schedule_or_number",
    "tuple[float, ...]": "numbers",
    "tuple[Schedule, ...]": "schedules",
    "tuple[str, ...] | None": "optional_texts",
    "tuple[tuple[float, float], ...]": "points",
}

_REGISTRY: dict[str, type[Schedule]] = {}

# What a config may hold (checked by :func:`lrsched.from_config` before anything is built) and, so that every
# ``to_config()`` loads back, what a schedule may be (checked at construction): schedules nest at most MAX_DEPTH
# levels below the outermost one, and a config holds at most MAX_NODES dicts, lists and values, all together (a
# schedule used twice counts twice: its config is written out twice).
MAX_DEPTH = 64
MAX_NODES = 1_000_000

S = TypeVar("S", bound="type[Schedule]")
A = TypeVar("A")  # an array type (JAX array, torch tensor): a schedule returns the same type


def schedule_error(owner: str, message: str) -> ValueError:
    return ValueError(f"{owner}: {message}")


def registry() -> dict[str, type[Schedule]]:
    """A copy of the name -> class registry used by :func:`lrsched.from_config`."""
    return dict(_REGISTRY)


@dataclass_transform(frozen_default=True, eq_default=True)
def register(name: str, *, structural: dict[str, Callable[[Any], Any]] | None = None) -> Callable[[S], S]:
    """Make ``cls`` a frozen dataclass schedule registered as ``name``.

    :func:`lrsched.join` stacks the pieces of one class into one evaluation: their numeric fields become
    arrays (a field whose value is the same in every piece stays a number). ``structural`` maps a numeric
    field whose value selects a code path (``period_mult == 1``) to a key: pieces are stacked together only
    where the keys are equal, and the formula must accept an array for the field otherwise. Non-numeric
    fields (strings, flags, integers) always group.
    """
    structural = dict(structural or {})

    def decorate(cls: S) -> S:
        cls = dataclasses.dataclass(frozen=True, repr=False, eq=True)(cls)  # type: ignore[assignment]
        kinds = {}
        for f in dataclasses.fields(cls):  # type: ignore[arg-type]
            annotation = f.type if isinstance(f.type, str) else getattr(f.type, "__name__", "")
            if annotation not in _KINDS:
                raise TypeError(f"{cls.__name__}.{f.name}: unsupported annotation {annotation!r}")
            kinds[f.name] = _KINDS[annotation]
        unknown = set(structural) - set(kinds)
        if unknown:
            raise TypeError(f"{cls.__name__}: structural names unknown fields {sorted(unknown)}")
        cls.name = name
        cls._kinds = kinds
        cls.structural = structural
        explain_unknown_keywords(cls, name)  # T_max= -> "did you mean `decay_steps=`?"
        if name in _REGISTRY:
            raise TypeError(f"schedule name {name!r} registered twice")
        _REGISTRY[name] = cls
        return cls

    return decorate


def _normalise(owner: str, field: str, kind: str, value: Any) -> Any:
    if kind == "number":
        return number(owner, field, value)
    if kind == "optional_number":
        return None if value is None else number(owner, field, value)
    if kind in ("integer", "optional_integer"):
        if value is None and kind == "optional_integer":
            return None
        return integer(owner, field, value)
    if kind == "flag":
        return flag(owner, field, value)
    if kind == "text":
        if not isinstance(value, str):
            raise TypeError(f"{owner}: {field} must be a string, got {shown(value)}")
        return value
    if kind == "schedule":
        return as_schedule(value, owner=owner, field=field)
    if kind == "schedule_or_number":
        if is_number(value):
            return number(owner, field, value)
        return as_schedule(value, owner=owner, field=field)
    if kind == "numbers":
        return tuple(number(owner, f"{field}[{i}]", v) for i, v in enumerate(sequence(owner, field, value)))
    if kind == "schedules":
        return tuple(
            as_schedule(v, owner=owner, field=f"{field}[{i}]") for i, v in enumerate(sequence(owner, field, value))
        )
    if kind == "optional_texts":
        if value is None:
            return None
        items = sequence(owner, field, value)
        for i, v in enumerate(items):
            if not isinstance(v, str):
                raise TypeError(f"{owner}: {field}[{i}] must be a string, got {v!r}")
        return tuple(items)
    if kind == "points":
        pairs = []
        for i, p in enumerate(sequence(owner, field, value)):
            pair = sequence(owner, f"{field}[{i}]", p)
            if len(pair) != 2:
                raise ValueError(f"{owner}: {field}[{i}] must be a (step, value) pair, got {p!r}")
            pairs.append((number(owner, f"{field}[{i}][0]", pair[0]), number(owner, f"{field}[{i}][1]", pair[1])))
        return tuple(pairs)
    raise AssertionError(kind)


def _format_value(value: Any) -> str:
    if isinstance(value, tuple):
        inner = ", ".join(_format_value(v) for v in value)
        return f"({inner},)" if len(value) == 1 else f"({inner})"
    return repr(value)


def _value_shape(value: Any) -> tuple[int, int]:
    """``(depth, count)`` of a field's config value beyond the entry that holds it (see ``_config_shape``)."""
    if isinstance(value, Schedule):
        depth, count = value._config_shape()
        return depth + 1, count
    if isinstance(value, tuple):
        depth, count = 0, 1 + len(value)
        for v in value:
            if isinstance(v, (Schedule, tuple)):
                d, c = _value_shape(v)
                depth, count = max(depth, d), count + c
        return depth, count
    return 0, 0


def _to_json(value: Any) -> Any:
    if isinstance(value, Schedule):
        return value.to_config()
    if isinstance(value, tuple):
        return [_to_json(v) for v in value]
    return value


class Schedule:
    """Base class of every schedule: an immutable callable ``step -> value``.

    ``step`` counts optimizer updates from 0 (fractional values such as epochs
    are allowed). Call it on a Python number (-> float), a NumPy array
    (-> float64 array), a JAX array or tracer (-> JAX array, also under
    ``jit``/``vmap``/``scan``) or a torch tensor (-> tensor).

    A negative or non-finite step raises ``ValueError`` on the eager paths
    (Python, NumPy, torch, JAX outside ``jit``); a traced JAX step cannot be
    inspected, so under ``jit`` it is clamped to 0 (a NaN step stays NaN and
    gives NaN, so it still shows). In float32, steps beyond
    ``2**24`` are rounded (see ``lrsched._core.backend``).

    A schedule is a valid ``torch.optim.lr_scheduler.LambdaLR`` lambda: what ``LambdaLR.state_dict()`` stores
    of it is plain data (its fields, nested schedules as configs), so the checkpoint loads with
    ``torch.load(..., weights_only=True)`` in a process that never imported lrsched, and ``load_state_dict``
    leaves the schedule as built (see ``lrsched._core.fields``).
    """

    # Memos live in slots, outside the instance ``__dict__``, which holds the fields only and is a ``Fields``:
    # ``LambdaLR.state_dict()`` copies it as plain data (nested schedules as configs), and ``LambdaLR``'s
    # ``load_state_dict`` cannot rewrite it (see ``lrsched._core.fields``).
    __slots__ = ("_memo", "_scalar_fn", "_shape")
    _memo: dict[str, Any]
    _scalar_fn: Callable[[Any], float]
    _shape: tuple[int, int]

    name: ClassVar[str] = "schedule"
    _kinds: ClassVar[dict[str, str]] = {}
    structural: ClassVar[dict[str, Callable[[Any], Any]]] = {}  # see :func:`register`
    # Numeric fields that ``_eval`` reads only through :meth:`stacked_constants`: a stacked join neither groups
    # by them nor gathers them per step (its pieces' constants already hold what they contribute).
    read_through_constants: ClassVar[tuple[str, ...]] = ()

    # -- construction ---------------------------------------------------
    def __new__(cls, *args: Any, **kwargs: Any) -> Any:
        obj = super().__new__(cls)
        object.__setattr__(obj, "__dict__", Fields(cls.name))
        return obj

    def __post_init__(self) -> None:
        self._check_sizes()
        for field, kind in self._kinds.items():
            object.__setattr__(self, field, _normalise(self.name, field, kind, getattr(self, field)))
        self._check()
        self._check_shape()

    def _config_shape(self) -> tuple[int, int]:
        """``(depth, count)`` of :meth:`to_config`'s output, as :func:`lrsched.from_config` measures it, memoised.

        ``depth``: how many schedules deep the config nests below this one; ``count``: its dicts, lists and
        values (a container counts itself and its entries). Computed from the fields, without building the config.
        """
        try:
            return self._shape
        except AttributeError:
            pass
        depth, count = 0, 2 + len(self._kinds)  # the dict: itself, "name" and one entry per field
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            d, c = _value_shape(getattr(self, f.name))
            depth, count = max(depth, d), count + c
        shape = (depth, count)
        object.__setattr__(self, "_shape", shape)
        return shape

    def _check_shape(self) -> None:
        """Refuse a schedule whose config :func:`lrsched.from_config` would refuse (see :data:`MAX_DEPTH`)."""
        depth, count = self._config_shape()
        if depth > MAX_DEPTH:
            raise self._fail(
                f"schedules nest at most MAX_DEPTH = {MAX_DEPTH} levels deep (the limit of from_config), "
                f"this one nests {depth}"
            )
        if count > MAX_NODES:
            raise self._fail(
                f"its config would hold {count} values, more than MAX_NODES = {MAX_NODES} (the limit of from_config)"
            )

    @classmethod
    def _upgrade_config(cls, config: dict[str, Any], where: str) -> dict[str, Any]:
        """A config saved by an older version, in today's form (override where the form changed)."""
        return config

    def _check_sizes(self) -> None:
        """Cheap checks on the raw fields (lengths, counts), run before any element is validated (override)."""

    def _check(self) -> None:
        """Semantic validation of the normalised fields (override)."""

    def _fail(self, message: str) -> ValueError:
        return schedule_error(self.name, message)

    def _positive(self, *fields: str) -> None:
        for field in fields:
            positive(self.name, field, getattr(self, field))

    def _non_negative(self, *fields: str) -> None:
        for field in fields:
            non_negative(self.name, field, getattr(self, field))

    def _increasing(self, field: str, values: tuple[float, ...], strictly_positive: bool) -> None:
        increasing(self.name, field, values, strictly_positive)

    # -- evaluation -----------------------------------------------------
    @overload
    def __call__(self, step: float) -> float: ...
    @overload
    def __call__(self, step: NDArray[Any] | np.generic | list[Any] | tuple[Any, ...]) -> NDArray[np.float64]: ...
    @overload
    def __call__(self, step: A) -> A: ...
    def __call__(self, step: Any) -> Any:
        tp = type(step)
        if (tp is int or tp is float) and 0 <= step < _INF:
            try:
                scalar = self._scalar_fn
            except AttributeError:
                scalar = self._scalar_function()
            return scalar(step)
        return namespace_for(step).evaluate(self, step)

    def _scalar_function(self) -> Callable[[Any], float]:
        """The formula compiled for Python numbers (see ``_codegen``), memoised."""

        def generic(t: Any) -> float:
            return float(self._eval(t, PYTHON))

        scalar = compile_scalar(self._eval) or generic
        object.__setattr__(self, "_scalar_fn", scalar)
        return scalar

    def _scalar(self, t: Any) -> float:
        """Value at a validated Python number ``t >= 0`` (no checks)."""
        try:
            scalar = self._scalar_fn
        except AttributeError:
            scalar = self._scalar_function()
        return scalar(t)  # type: ignore[no-any-return]

    def _eval(self, t: Array, xp: Namespace) -> Array:
        """The formula; ``t >= 0`` is already a float or float array of ``xp``."""
        raise NotImplementedError

    def phase_at(self, step: float) -> str | None:
        """Name of the phase active at ``step`` (``None`` when unnamed)."""
        return None

    def stacked_constants(self) -> dict[str, float]:
        """Numbers derived from the settings that a stacked join must stack too (override).

        Each is read back through ``_cached`` under its key, so a formula that uses ``self._cached(key, ...)``
        sees the piece's own value (an array in a stacked join) without evaluating anything twice.
        """
        return {}

    def children(self) -> tuple[Schedule, ...]:
        """The schedules this one is built from (fields holding schedules), in field order."""
        out: list[Schedule] = []
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            out.extend(v for v in (value if isinstance(value, tuple) else (value,)) if isinstance(v, Schedule))
        return tuple(out)

    def landmarks(self, end: float) -> Iterator[Landmark]:
        """Warmup ends, restarts and phase boundaries in ``(0, end]`` of this schedule's own clock.

        Each is ``(step, kind, label)`` with ``kind`` one of ``"warmup"``, ``"restart"``, ``"phase"``; unsorted.
        The default reports the landmarks of ``children`` (same clock); schedules with landmarks of their
        own, or that move their children's clock, override it (see ``landmarks_of``).
        """
        for child in self.children():
            yield from child.landmarks(end)

    # -- value semantics ------------------------------------------------
    def __repr__(self) -> str:
        parts = []
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            value = getattr(self, f.name)
            required = f.default is dataclasses.MISSING
            if required or value != f.default or type(value) is not type(f.default):
                parts.append(f"{f.name}={_format_value(value)}")
        return f"{self.name}({', '.join(parts)})"

    def to_config(self) -> dict[str, Any]:
        """A JSON-serializable dict; :func:`lrsched.from_config` rebuilds an equal schedule."""
        config: dict[str, Any] = {"name": self.name}
        for f in dataclasses.fields(self):  # type: ignore[arg-type]
            config[f.name] = _to_json(getattr(self, f.name))
        return config

    def __getstate__(self) -> dict[str, Any]:
        return dict(self.__dict__)  # the fields only: the memo slots are rebuilt on demand

    def __setstate__(self, state: dict[str, Any]) -> None:
        for field, value in state.items():  # frozen: set as the dataclass __init__ does (Fields.update is inert)
            object.__setattr__(self, field, value)

    def _cached(self, key: str, build: Callable[[], Any]) -> Any:
        """Per-instance memo of derived constants (never pickled, never compared)."""
        try:
            memo = self._memo
        except AttributeError:
            memo = {}
            object.__setattr__(self, "_memo", memo)
        try:
            return memo[key]
        except KeyError:
            value = memo[key] = build()
            return value

    # -- algebra (the combinators are looked up in the registry: no import of lrsched.schedules here) --
    def __add__(self, other: Any) -> Schedule:
        return _combine("sum", self, _operand(other))

    __radd__ = __add__

    def __sub__(self, other: Any) -> Schedule:
        other = _operand(other)
        if isinstance(other, Schedule):
            return _combine("sum", self, _combine("product", other, -1.0))
        return _combine("sum", self, -other)

    def __rsub__(self, other: Any) -> Schedule:
        return _combine("sum", _combine("product", self, -1.0), _operand(other))

    def __mul__(self, other: Any) -> Schedule:
        return _combine("product", self, _operand(other))

    __rmul__ = __mul__

    def __truediv__(self, other: Any) -> Schedule:
        if not is_number(other):
            return NotImplemented
        if other == 0:
            raise ZeroDivisionError("schedule divided by zero")
        return _combine("product", self, 1.0 / float(other))

    def __neg__(self) -> Schedule:
        return _combine("product", self, -1.0)


Landmark = tuple[float, str, str]
MAX_LANDMARKS = 200  # per series (restarts of one schedule) and per plot


def landmarks_of(child: Schedule, offset: float, lo: float, hi: float) -> Iterator[Landmark]:
    """``child``'s landmarks, for a child whose clock reads 0 at step ``offset``, kept inside ``(lo, hi]``."""
    for step, kind, label in child.landmarks(hi - offset):
        if lo < step + offset <= hi:
            yield (step + offset, kind, label)


def _make(name: str, *args: Any) -> Schedule:
    """The registered schedule ``name`` built from ``args``."""
    return _REGISTRY[name](*args)  # type: ignore[call-arg]


def _combine(name: str, *operands: Any) -> Schedule:
    """The n-ary combinator ``name`` (``sum``, ``product``) of ``operands``, flattened (see ``arithmetic``)."""
    return _REGISTRY[name].of(*operands)  # type: ignore[attr-defined, no-any-return]


def value_of(operand: Any, t: Array, xp: Namespace) -> Array:
    """An operand's value at ``t``: a schedule's formula, or the number itself."""
    return operand._eval(t, xp) if isinstance(operand, Schedule) else operand


def _operand(value: Any) -> Any:
    if is_number(value):
        return value
    if isinstance(value, Schedule) or callable(value):
        return as_schedule(value)
    raise TypeError(f"cannot combine a schedule with {type(value).__name__}")


_INF = math.inf


@dataclasses.dataclass(frozen=True, repr=False, eq=True)
class FunctionSchedule(Schedule):
    """A plain Python callable ``fn(step) -> value`` used as a schedule.

    ``fn`` receives the step exactly as the schedule does (a number or an
    array); it has no config, so :meth:`to_config` raises ``TypeError``.
    """

    name: ClassVar[str] = "function"
    fn: Callable[..., Any]

    def __post_init__(self) -> None:
        if not callable(self.fn):
            raise TypeError(f"function: fn must be callable, got {self.fn!r}")

    def _eval(self, t: Array, xp: Namespace) -> Array:
        return xp.call(self.fn, t)

    def __repr__(self) -> str:
        return f"function({getattr(self.fn, '__qualname__', repr(self.fn))})"

    def to_config(self) -> dict[str, Any]:
        raise TypeError(
            f"{self!r} wraps a plain Python callable, which has no config; "
            "build the schedule from lrsched schedules to save it"
        )


def scalar_function(schedule: Schedule) -> Callable[[Any], float]:
    """``schedule``'s formula compiled for Python numbers: ``f(t)`` for a Python ``int`` or ``float`` ``t >= 0``
    (unchecked) returns the Python float ``schedule(t)`` returns, without the call's checks and dispatch.

    For adapters that evaluate a schedule once per step on a counter they know is valid (torch's ``LambdaLR``).
    """
    try:
        return schedule._scalar_fn  # type: ignore[no-any-return]
    except AttributeError:
        return schedule._scalar_function()


def as_schedule(value: Any, *, owner: str = "as_schedule", field: str = "schedule") -> Schedule:
    """Return ``value`` as a :class:`Schedule`.

    Schedules pass through; numbers become :func:`constant`; other callables are
    wrapped in :class:`FunctionSchedule`.
    """
    if isinstance(value, Schedule):
        return value
    if is_number(value):
        return _make("constant", number(owner, field, value))  # a NaN/inf is refused under the caller's name
    if callable(value):
        return FunctionSchedule(value)  # type: ignore[arg-type]
    raise TypeError(f"{owner}: {field} must be a schedule, a number or a callable, got {shown(value)}")
