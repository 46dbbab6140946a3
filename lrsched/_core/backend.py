"""Array backends: one namespace of operations per kind of step value.

A schedule formula is written once against a namespace ``xp`` and runs on

* Python ``int``/``float`` -> :data:`PYTHON` (``math``; returns a Python float),
* NumPy arrays and scalars -> the NumPy namespace (float64),
* JAX arrays and tracers -> the JAX namespace (works under ``jit``/``vmap``/``scan``),
* torch tensors -> the torch namespace (also under ``torch.compile``).

The operations are declared once, on :class:`Namespace` (:data:`OPS`). A
backend built on an array module (NumPy, ``jax.numpy``, torch, ``keras.ops``)
takes the elementwise ones straight from that module (:class:`ArrayNamespace`,
with an optional per-backend ``lift``); the 32-bit hashing operations are
written once against four bit-level primitives. Whatever differs per backend
(step validation, result type, a missing operation) is a method of its class:
nothing outside this module looks at a backend's name. The tracer
(``lrsched._core.trace``) records every operation in :data:`OPS`.

Steps are converted to the step's floating type: Python numbers and NumPy
arrays to float64, JAX and torch integer steps to float32 (JAX with x64 and
torch's default dtype may give float64). Float32 holds every integer step only
up to ``2**24`` (16.8 M): beyond it a step is rounded to a multiple of 2 (of
256 near ``2**31``), so neighbouring steps can give the same value, and a
value is that of the rounded step. Ends still hold (an ``int32`` step near
``2**31 - 1`` gives a decay's end value). Pass float64 steps where per-step
resolution past ``2**24`` matters.

Steps must be real numbers: bool, complex, string, datetime and object
arrays raise ``TypeError`` naming the dtype. Negative or non-finite steps
raise ``ValueError`` wherever the values can be inspected without stopping a
compiler or a device (Python, NumPy, eager JAX, torch CPU tensors outside
``torch.compile``); JAX tracers, torch tensors under ``torch.compile`` and
torch tensors on an accelerator are clamped to ``>= 0`` instead (no host
synchronisation), and a NaN step there gives NaN.

The backend is found from the step's type without importing any framework:
only frameworks already present in ``sys.modules`` are consulted (as einops
does), and the answer is cached per type.
"""

from __future__ import annotations

import bisect
import copy
import math
import sys
from collections.abc import Callable
from typing import Any, ClassVar, NamedTuple

from lrsched._core.search import guided_searchsorted

__all__ = ["OPS", "ArrayNamespace", "Namespace", "PYTHON", "namespace_for"]

#: A value of any backend: a Python number, a NumPy array or scalar, a JAX array or tracer, a torch tensor. The
#: operations of a :class:`Namespace` take and return values of its own backend; the alias names the role (the
#: type checker sees ``Any``, since the backends share no common type).
Array = Any

_INT32_MASK = 0xFFFFFFFF

# Operations applied elementwise, taken by name from an array module.
ELEMENTWISE = ("where", "minimum", "maximum", "abs", "floor", "cos", "exp", "expm1", "log", "log1p", "sqrt", "power")
# Every operation a formula may use (the tracer records each of them).
OPS = (
    *ELEMENTWISE,
    *("searchsorted", "take", "full_like", "epsilon"),
    *("to_int32", "mul_int32", "xorshift_right", "low24_as_float"),
)


def _step_error(what: str) -> ValueError:
    return ValueError(f"step must be finite and >= 0, got {what}")


def _dtype_error(dtype: Any) -> TypeError:
    return TypeError(f"step must hold real numbers (an integer or floating dtype), got dtype {dtype}")


class Namespace:
    """The operations a formula may use. Subclasses bind them to one backend.

    Elementwise: ``where(cond, a, b)``, ``minimum``, ``maximum``, ``abs``, ``floor``,
    ``cos``, ``exp``, ``log``, ``sqrt``, ``power``. Tables: ``searchsorted``
    (side="right"), ``take``, ``full_like``. 32-bit hashing: ``to_int32``,
    ``mul_int32`` (wrapping product), ``xorshift_right`` (``h ^ (h >>> k)``),
    ``low24_as_float``. Backends implement the four bit primitives below and
    inherit the hashing operations.
    """

    name = "abstract"
    is_scalar = False
    #: concrete values that ``float()`` reads without a trace (NumPy, torch); a controller whose state holds
    #: Python numbers reads such 0-d signals as floats. JAX values may be tracers, so they stay arrays.
    reads_as_float = False

    where: Callable[[Array, Array, Array], Array]
    minimum: Callable[[Array, Array], Array]
    maximum: Callable[[Array, Array], Array]
    abs: Callable[[Array], Array]
    floor: Callable[[Array], Array]
    cos: Callable[[Array], Array]
    exp: Callable[[Array], Array]
    expm1: Callable[[Array], Array]
    log: Callable[[Array], Array]
    log1p: Callable[[Array], Array]
    sqrt: Callable[[Array], Array]
    power: Callable[[Array, Array], Array]
    searchsorted: Callable[[Array, Array], Array]
    take: Callable[[Array, Array], Array]

    @staticmethod
    def call(fn: Callable[..., Any], *args: Any) -> Any:
        """``fn(*args)`` (the tracer records it as a call instead)."""
        return fn(*args)

    def full_like(self, t: Array, value: Array) -> Array:
        return t * 0.0 + value

    def epsilon(self, t: Array) -> float:
        """Machine epsilon of ``t``'s floating type (a Python float)."""
        return sys.float_info.epsilon

    # -- steps in, values out ----------------------------------------------
    def prepare(self, step: Array) -> Array:
        """``step`` validated and converted to this backend's floating type."""
        raise NotImplementedError

    def finalize(self, out: Array, t: Array) -> Array:
        """``out`` with the step's type, dtype and shape."""
        raise NotImplementedError

    def evaluate(self, schedule: Any, step: Array) -> Array:
        """``schedule`` at ``step`` (a value of this backend): validate, run the formula, shape the result."""
        t = self.prepare(step)
        return self.finalize(schedule._eval(t, self), t)

    # -- 32-bit hashing, written once on four bit-level primitives --------------
    def int64(self, x: Array) -> Array:
        """``x`` (integral values) as 64-bit integers."""
        raise NotImplementedError

    def int32(self, x: Array) -> Array:
        """``x`` (values within int32) as 32-bit integers."""
        raise NotImplementedError

    def as_float(self, x: Array, like: Array) -> Array:
        """Integers ``x`` in the floating type of ``like``."""
        raise NotImplementedError

    def bits(self, op: str, a: Array, b: Array) -> Array:
        """``a & b``, ``a ^ b``, ``a >> b`` or ``a << b`` on integers (``op`` is ``&``, ``^``, ``>>``, ``<<``)."""
        if op == "&":
            return a & b
        if op == "^":
            return a ^ b
        return a >> b if op == ">>" else a << b

    def _u32(self, x: Array) -> Array:
        return self.bits("&", self.int64(x), _INT32_MASK)

    def _signed(self, u: Array) -> Array:
        # u - 2**32 where u >= 2**31, without a branch
        return self.int32(u - self.bits("<<", self.bits(">>", u, 31), 32))

    def to_int32(self, x: Array) -> Array:
        """Integral ``x`` modulo ``2**32`` as a signed 32-bit integer."""
        return self._signed(self._u32(x))

    def mul_int32(self, a: Array, b: int) -> Array:
        """``a * b`` modulo ``2**32``, from 16-bit halves of ``b`` so no 64-bit product overflows."""
        a, b = self._u32(a), b & _INT32_MASK
        low = a * (b & 0xFFFF)
        high = self.bits("<<", self.bits("&", a * (b >> 16), 0xFFFF), 16)
        return self._signed(self.bits("&", low + high, _INT32_MASK))

    def xorshift_right(self, h: Array, k: int) -> Array:
        """``h ^ (h >>> k)`` on 32-bit two's complement values."""
        u = self._u32(h)
        return self._signed(self.bits("^", u, self.bits(">>", u, k)))

    def low24_as_float(self, h: Array, like: Array) -> Array:
        """The low 24 bits of ``h`` as a fraction in ``[0, 1)``."""
        return self.as_float(self.bits("&", h, 0xFFFFFF), like) / 16777216.0

    # -- controller ops: what lrsched.controllers and lrsched.greedy need beyond schedule formulas --
    # Declared here, written per backend below (the Python scalar path, then ArrayNamespace, with JAX's and torch's
    # differences in their classes). The controllers' scalar compiler records them as calls.
    isfinite: Callable[[Array], Array]  #: elementwise: neither NaN nor infinite
    true_divide: Callable[[Array, float], Array]  #: ``a / b`` rounded as a true division
    asarray: Callable[..., Array]  #: ``(value, like, integer=False)``: ``like``'s backend, device and float dtype
    where_vector: Callable[
        [Array, Array, Array], Array
    ]  #: ``a if cond else b`` for tuples or along an array's last axis
    ring_write: Callable[[Array, Array, Array, Array], Array]  #: ``(vector, pos, value, cond)``: a ring buffer's write
    ring_read: Callable[[Array, Array], Array]  #: ``(vector, pos)``: the value a ring buffer holds at ``pos``


class _Python(Namespace):
    name = "python"
    is_scalar = True

    @staticmethod
    def where(cond: Array, a: Array, b: Array) -> Array:
        return a if cond else b

    @staticmethod
    def minimum(a: Array, b: Array) -> Array:
        return a if a <= b else b

    @staticmethod
    def maximum(a: Array, b: Array) -> Array:
        return a if a >= b else b

    abs = staticmethod(abs)
    cos = staticmethod(math.cos)
    log = staticmethod(math.log)
    log1p = staticmethod(math.log1p)
    sqrt = staticmethod(math.sqrt)

    @staticmethod
    def floor(x: Array) -> Array:
        return math.floor(x) if x < math.inf else x  # inf stays inf, as on arrays

    @staticmethod
    def expm1(x: Array) -> Array:
        try:
            return math.expm1(x)
        except OverflowError:
            return math.inf

    @staticmethod
    def exp(x: Array) -> Array:
        try:
            return math.exp(x)
        except OverflowError:  # NumPy/JAX/torch give inf: so does the scalar path
            return math.inf

    @staticmethod
    def power(a: Array, b: Array) -> Array:
        try:
            return math.pow(a, b)
        except OverflowError:
            return math.inf

    @staticmethod
    def searchsorted(sorted_values: Array, x: Array) -> int:
        return bisect.bisect_right(sorted_values, x)

    @staticmethod
    def take(values: Array, index: Array) -> Array:
        return values[index]

    def full_like(self, t: Array, value: Array) -> Array:
        return value

    @staticmethod
    def int64(x: Array) -> Array:
        return int(x)

    @staticmethod
    def int32(x: Array) -> Array:
        return x

    @staticmethod
    def as_float(x: Array, like: Array) -> Array:
        return x

    def prepare(self, step: Array) -> Array:
        if not 0 <= step < math.inf:
            raise _step_error(repr(step))
        return step

    def finalize(self, out: Array, t: Array) -> Array:
        return float(out)

    @staticmethod
    def isfinite(x: Array) -> Array:
        return x - x == 0

    @staticmethod
    def true_divide(a: Array, b: float) -> Array:
        return a / b

    @staticmethod
    def asarray(value: Array, like: Array = None, integer: bool = False) -> Array:
        return int(value) if integer else float(value)

    @staticmethod
    def where_vector(cond: Array, a: Array, b: Array) -> Array:
        return a if cond else b

    @staticmethod
    def ring_write(vector: Array, pos: Array, value: Array, cond: Array) -> Array:
        return (*vector[:pos], value, *vector[pos + 1 :]) if cond else vector

    @staticmethod
    def ring_read(vector: Array, pos: Array) -> Array:
        return vector[pos]


class ArrayNamespace(Namespace):
    """A namespace whose elementwise operations come from an array module (``numpy``, ``jax.numpy``, ...)."""

    renamed: ClassVar[dict[str, str]] = {}  # operation -> the module's name for it, where they differ

    def __init__(self, module: Any) -> None:
        self.module = module
        for op in ELEMENTWISE:
            setattr(self, op, self.lift(op, getattr(module, self.renamed.get(op, op))))

    def lift(self, op: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """The module's ``fn`` as this backend's ``op`` (override to adapt arguments)."""
        return fn

    # -- controller ops (declared on Namespace) --
    def isfinite(self, x: Array) -> Array:
        return self.module.isfinite(self.module.asarray(x))

    def true_divide(self, a: Array, b: float) -> Array:
        return a / b

    def asarray(self, value: Array, like: Array, integer: bool = False) -> Array:
        return self.module.asarray(value, dtype=self.module.int32 if integer else like.dtype)

    def arange_like(self, size: int, like: Array) -> Array:
        """``0, 1, ..., size - 1`` on ``like``'s device."""
        return self.module.arange(size)

    def where_vector(self, cond: Array, a: Array, b: Array) -> Array:
        if isinstance(b, tuple):
            a = a if isinstance(a, tuple) else (a,) * len(b)
            return tuple(self.where(cond, x, y) for x, y in zip(a, b))
        return self.module.where(self.module.asarray(cond)[..., None], a, b)

    def in_dtype_of(self, like: Array) -> Namespace:
        """This namespace deciding in ``like``'s dtype: ``where`` between two Python numbers gives an array of
        ``like``'s floating dtype (or int32 for two ints) on its device, not the backend's default dtype.

        Controllers update array states through it, so a float64 state never takes a decision in float32 (a
        torch ``where`` of two Python floats is float32) and a float32 state is never promoted to float64 (a
        NumPy one is float64). Cached per dtype and device.
        """
        like = self.dtype_of(like)
        cache: dict[Any, ArrayNamespace] = self.__dict__.setdefault("_bound", {})
        bound = cache.get(like)
        if bound is None:
            bound = cache[like] = _in_dtype(self, like)
        return bound

    def dtype_of(self, like: Array) -> Array:
        """What ``asarray(value, like)`` reads of ``like`` (its dtype; torch: and device), as a hashable value."""
        return _Like(like.dtype, None)

    def ring_write(self, vector: Array, pos: Array, value: Array, cond: Array) -> Array:
        if isinstance(vector, tuple):
            return tuple(self.where(cond & (pos == i), value, w) for i, w in enumerate(vector))
        mod = self.module
        here = mod.asarray(cond)[..., None] & (
            self.arange_like(vector.shape[-1], vector) == mod.asarray(pos)[..., None]
        )
        return mod.where(here, mod.asarray(value)[..., None], vector)

    def ring_read(self, vector: Array, pos: Array) -> Array:
        # A select, not a gather: exact (one slot plus zeros), and the same under vmap, on every device.
        if isinstance(vector, tuple):
            out = vector[0]
            for i, w in enumerate(vector[1:], 1):
                out = self.where(pos == i, w, out)
            return out
        mod = self.module
        here = self.arange_like(vector.shape[-1], vector) == mod.asarray(pos)[..., None]
        return mod.sum(mod.where(here, vector, 0.0), axis=-1)


def _in_dtype(base: ArrayNamespace, like: Array) -> ArrayNamespace:
    """A copy of ``base`` whose ``where`` of two Python numbers takes the dtype and device of ``like``."""
    bound = copy.copy(base)
    bound.__dict__.pop("_bound", None)
    where, asarray = base.where, base.asarray

    def where_in_dtype(cond: Array, a: Array, b: Array) -> Array:
        if type(a) in _NUMBERS and type(b) in _NUMBERS and type(cond) is not bool:
            a = asarray(a, like, integer=type(a) is int and type(b) is int)
        return where(cond, a, b)

    bound.where = where_in_dtype  # type: ignore[method-assign]
    bound.in_dtype_of = base.in_dtype_of  # type: ignore[method-assign,assignment]
    return bound


_NUMBERS = (int, float)


class _Like(NamedTuple):
    """The dtype and device of an array, standing in for it as ``like`` (holds no array, no tracer)."""

    dtype: Any
    device: Any


class _NumPy(ArrayNamespace):
    name = "numpy"
    reads_as_float = True

    def __init__(self) -> None:
        import numpy as np

        super().__init__(np)
        self.np = np

    def searchsorted(self, sorted_values: Array, x: Array) -> Array:
        return self.np.searchsorted(sorted_values, x, side="right")

    def take(self, values: Array, index: Array) -> Array:
        return self.np.asarray(values)[index]

    def int64(self, x: Array) -> Array:
        return self.np.asarray(x).astype(self.np.int64)

    def int32(self, x: Array) -> Array:
        return self.np.asarray(x).astype(self.np.int32)

    def as_float(self, x: Array, like: Array) -> Array:
        return self.np.asarray(x).astype(self.np.float64)

    def prepare(self, step: Array) -> Array:
        np = self.np
        t = np.asarray(step)
        if t.dtype.kind not in "iuf":
            raise _dtype_error(t.dtype)
        t = t.astype(np.float64, copy=False)
        # Two reductions, no temporaries: a NaN makes min() NaN, an inf makes max() inf.
        if t.size and not (t.min() >= 0 and t.max() < math.inf):
            bad = t[~((t >= 0) & np.isfinite(t))].ravel()[0]
            raise _step_error(repr(float(bad)))
        return t

    def finalize(self, out: Array, t: Array) -> Array:
        np = self.np
        out = np.asarray(out, dtype=np.float64)
        if out.shape != t.shape:
            out = np.array(np.broadcast_to(out, t.shape))
        return out


class _Jax(ArrayNamespace):
    name = "jax"

    def __init__(self) -> None:
        import jax
        import jax.numpy as jnp

        super().__init__(jnp)
        self.jax = jax
        self.jnp = jnp
        self.canonicalize_dtype = jax.dtypes.canonicalize_dtype

    def searchsorted(self, sorted_values: Array, x: Array) -> Array:
        # Bounds are constants here: a guide table built from them keeps the cost flat in their number.
        return guided_searchsorted(self.jnp, sorted_values, x)

    def take(self, values: Array, index: Array) -> Array:
        # An explicit dtype: JAX caches NumPy constants and would otherwise keep
        # float32 copies made before ``jax.enable_x64`` was switched on.
        jnp = self.jnp
        dtype = getattr(values, "dtype", None)
        if dtype is not None:
            dtype = self.canonicalize_dtype(dtype)
        return jnp.asarray(values, dtype=dtype)[index]

    # Without x64 JAX has no int64: hash in uint32, whose products wrap modulo 2**32.
    def to_int32(self, x: Array) -> Array:
        # Modulo 2**32 in the float type first (exact for integral values): a float >= 2**31 cast straight to
        # int32 saturates under XLA, where NumPy and torch wrap around.
        jnp = self.jnp
        x = jnp.asarray(x)
        if jnp.issubdtype(x.dtype, jnp.floating):
            x = x - 4294967296.0 * jnp.floor(x / 4294967296.0)
        return x.astype(jnp.uint32).astype(jnp.int32)

    def mul_int32(self, a: Array, b: int) -> Array:
        jnp = self.jnp
        return (a.astype(jnp.uint32) * jnp.uint32(b & _INT32_MASK)).astype(jnp.int32)

    def xorshift_right(self, h: Array, k: int) -> Array:
        jnp = self.jnp
        u = h.astype(jnp.uint32)
        return (u ^ (u >> jnp.uint32(k))).astype(jnp.int32)

    def as_float(self, x: Array, like: Array) -> Array:
        return x.astype(like.dtype)

    def epsilon(self, t: Array) -> float:
        return float(self.jnp.finfo(t.dtype).eps)

    def prepare(self, step: Array) -> Array:
        jnp = self.jnp
        t = jnp.asarray(step)
        if not (jnp.issubdtype(t.dtype, jnp.integer) or jnp.issubdtype(t.dtype, jnp.floating)):
            raise _dtype_error(t.dtype)
        if not jnp.issubdtype(t.dtype, jnp.floating):
            t = t.astype(jnp.result_type(float))
        if not isinstance(t, self.jax.core.Tracer) and t.size:
            if not bool(jnp.all((t >= 0) & jnp.isfinite(t))):
                raise _step_error("an array with negative or non-finite entries")
        return jnp.maximum(t, 0)

    def evaluate(self, schedule: Any, step: Array) -> Array:
        """As :meth:`Namespace.evaluate`; a concrete 0-d array (``sched(opt_state.count)``) takes the compiled
        scalar formula on the step rounded to its floating type, and comes back as a JAX scalar of that type."""
        if getattr(step, "ndim", None) != 0 or isinstance(step, self.jax.core.Tracer):
            return super().evaluate(schedule, step)
        np = sys.modules["numpy"]
        host = np.asarray(step)
        floating = self.jnp.issubdtype(host.dtype, self.jnp.floating)  # bfloat16 included
        if not floating and host.dtype.kind not in "iu":
            raise _dtype_error(host.dtype)
        dtype = host.dtype if floating else self.jnp.result_type(float)
        t = float(host.astype(dtype))
        if not 0 <= t < math.inf:
            raise _step_error(repr(t))
        return self.jnp.asarray(schedule._scalar(t), dtype=dtype)

    def finalize(self, out: Array, t: Array) -> Array:
        jnp = self.jnp
        out = jnp.asarray(out, dtype=t.dtype)
        if isinstance(t, self.jax.core.Tracer):  # unchecked: a NaN step gives NaN (a table lookup would not)
            out = jnp.where(jnp.isnan(t), jnp.nan, out)
        if out.shape != t.shape:
            out = jnp.broadcast_to(out, t.shape)
        return out

    def true_divide(self, a: Array, b: float) -> Array:
        """XLA rewrites ``a / constant`` as ``a * (1 / constant)``, which rounds differently: a barrier stops it."""
        return a / sys.modules["jax"].lax.optimization_barrier(a * 0.0 + b)


class _Torch(ArrayNamespace):
    name = "torch"
    reads_as_float = True
    renamed: ClassVar[dict[str, str]] = {"power": "pow"}

    def __init__(self) -> None:
        import torch

        self.torch = torch
        self.Tensor = torch.Tensor
        super().__init__(torch)

    def lift(self, op: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        """torch functions want tensors: numbers alone use :data:`PYTHON`; mixed ``minimum``/``maximum`` clamp."""
        T, scalar = self.Tensor, getattr(PYTHON, op)
        clamp = {"minimum": "max", "maximum": "min"}.get(op)
        torch = self.torch

        def lifted(*args: Any) -> Any:
            tensors = [isinstance(a, T) for a in args]
            if not any(tensors):
                return scalar(*args)
            if clamp is not None and not all(tensors):
                tensor, number = args if tensors[0] else args[::-1]
                return torch.clamp(tensor, **{clamp: number})
            return fn(*args)

        lifted.__name__ = op
        return lifted

    def searchsorted(self, sorted_values: Array, x: Array) -> Array:
        torch = self.torch
        boundaries = torch.as_tensor(sorted_values, dtype=x.dtype, device=x.device)
        return torch.searchsorted(boundaries, x.contiguous(), right=True)

    def take(self, values: Array, index: Array) -> Array:
        # Parameters keep float64; results are cast to the step's dtype at the end.
        return self.torch.as_tensor(values, device=index.device)[index]

    def int64(self, x: Array) -> Array:
        return x.to(self.torch.int64)

    def int32(self, x: Array) -> Array:
        return x.to(self.torch.int32)

    def as_float(self, x: Array, like: Array) -> Array:
        return x.to(like.dtype)

    def epsilon(self, t: Array) -> float:
        return float(self.torch.finfo(t.dtype).eps)

    def prepare(self, step: Array) -> Array:
        torch, t = self.torch, step
        if t.dtype == torch.bool or t.is_complex():
            raise _dtype_error(t.dtype)
        if not t.is_floating_point():
            t = t.to(torch.get_default_dtype())
        if self._unchecked(t):
            return torch.clamp(t, min=0)  # no data-dependent branch: no host sync, no graph break
        if t.numel() and not (bool(t.min() >= 0) and bool(t.max() < math.inf)):
            raise _step_error("a tensor with negative or non-finite entries")
        return t

    def _unchecked(self, t: Array) -> bool:
        """Steps not inspected: on an accelerator (a host sync) or under ``torch.compile`` (a graph break)."""
        return t.device.type != "cpu" or bool(self.torch.compiler.is_compiling())

    def finalize(self, out: Array, t: Array) -> Array:
        torch = self.torch
        out = torch.as_tensor(out, dtype=t.dtype, device=t.device)
        if self._unchecked(t):  # a NaN step gives NaN
            out = torch.where(torch.isnan(t), t, out)
        if out.shape != t.shape:
            out = out.expand(t.shape).clone()
        return out

    def dtype_of(self, like: Array) -> Array:
        return _Like(like.dtype, like.device)

    def asarray(self, value: Array, like: Array, integer: bool = False) -> Array:
        dtype = self.torch.int32 if integer else like.dtype
        return self.torch.as_tensor(value, dtype=dtype, device=like.device)

    def arange_like(self, size: int, like: Array) -> Array:
        return self.torch.arange(size, device=like.device)


PYTHON = _Python()
_BY_TYPE: dict[type, Namespace] = {}
# (module that must already be imported, the array type within it, namespace class), tried in order.
_KINDS: tuple[tuple[str, str, type[Namespace]], ...] = (
    ("numpy", "ndarray", _NumPy),
    ("numpy", "generic", _NumPy),
    ("jax", "Array", _Jax),
    ("torch", "Tensor", _Torch),
)
_INSTANCES: dict[type[Namespace], Namespace] = {}


def _instance(cls: type[Namespace]) -> Namespace:
    ns = _INSTANCES.get(cls)
    if ns is None:
        ns = _INSTANCES[cls] = cls()
    return ns


def namespace_for(value: Array) -> Namespace:
    """The namespace that evaluates formulas on ``value``'s kind of array."""
    tp = type(value)
    if tp is int or tp is float:
        return PYTHON
    ns = _BY_TYPE.get(tp)
    if ns is not None:
        return ns
    for module_name, type_name, cls in _KINDS:
        module = sys.modules.get(module_name)
        if module is not None and isinstance(value, getattr(module, type_name)):
            ns = _BY_TYPE[tp] = _instance(cls)
            return ns
    if tp is bool:
        raise TypeError("step must be a number, got bool")
    if isinstance(value, (list, tuple)):
        return _instance(_NumPy)
    raise TypeError(f"step must be a Python number, a NumPy array, a JAX array or a torch tensor, got {tp.__name__}")
