"""Any controller as an Optax transformation (``scale_by_controller``, ``controlled``); re-exported by
``lrsched.adapters.optax``. The controller's state lives in the optimizer state as a :class:`ControllerState`."""

from __future__ import annotations

import dataclasses
import math
from typing import Any, NamedTuple

import jax
import jax.numpy as jnp
import numpy as np
import optax

from lrsched.adapters._unserved import checked_timing, refuse_unserved
from lrsched.controllers.on import lr_applied_at_once
from lrsched.controllers.protocol import Controller
from lrsched.controllers.state import state_from_json, state_to_json
from lrsched.greedy import GreedyLR, GreedyOn

__all__ = [
    "ControlledState",
    "ControllerState",
    "GreedyLRState",
    "controlled",
    "controller_state_of",
    "greedy_lr_of",
    "greedy_state_of",
    "lr_of",
    "scale_by_controller",
    "scale_by_greedy_lr",
    "upgrade_state",
]

#: The signals :func:`controlled` measures (``scale_by_controller`` takes the non-loss ones as ``signals=``).
MEASURED = frozenset({"loss", "grad_norm", "param_norm", "grad_dot_prev_direction", "prev_direction_norm"})


class ControllerState(NamedTuple):
    """Optimizer state of :func:`scale_by_controller`: any controller's state, packed.

    The controller's state is packed into two arrays (its float and its integer leaves), so the optimizer state
    gains 3 leaves instead of a dozen: each leaf of a jitted step's state costs dispatch time on every step.
    :func:`controller_state_of` unpacks it; :func:`lr_of` reads the LR.
    """

    floats: Any  #: float32 leaves of the controller's state, flattened
    ints: Any  #: int32 leaves
    lr: Any  #: the LR the next update applies (float32 scalar)


GreedyLRState = ControllerState  #: the 0.2 name


@dataclasses.dataclass(frozen=True)
class _Packing:
    """Packs a controller state of JAX scalars (and one vector) into a float and an int array."""

    treedef: Any
    shapes: tuple[tuple[int, ...], ...]
    is_float: tuple[bool, ...]

    @classmethod
    def of(cls, state: Any) -> _Packing:
        leaves, treedef = jax.tree_util.tree_flatten(state)
        shapes = tuple(tuple(jnp.shape(leaf)) for leaf in leaves)
        return cls(treedef, shapes, tuple(bool(jnp.issubdtype(leaf.dtype, jnp.floating)) for leaf in leaves))

    def pack(self, state: Any) -> tuple[Any, Any]:
        leaves = jax.tree_util.tree_leaves(state)
        floats = [jnp.ravel(x) for x, f in zip(leaves, self.is_float) if f]
        ints = [jnp.ravel(x) for x, f in zip(leaves, self.is_float) if not f]
        return jnp.concatenate(floats).astype(jnp.float32), jnp.concatenate(ints).astype(jnp.int32)

    def unpack(self, floats: Any, ints: Any) -> Any:
        leaves, at = [], {True: 0, False: 0}
        for shape, is_float in zip(self.shapes, self.is_float):
            size = int(np.prod(shape, dtype=np.int64))
            source = floats if is_float else ints
            leaves.append(source[at[is_float] : at[is_float] + size].reshape(shape))
            at[is_float] += size
        return jax.tree_util.tree_unflatten(self.treedef, leaves)  # type: ignore[no-any-return]


def _next_lr(settings: Controller[Any], state: Any) -> Any:
    return jnp.asarray(settings.lr(state), dtype=jnp.float32)


def _initial(settings: Controller[Any], init_lr: Any = None) -> Any:
    """The controller's initial state as JAX float32/int32 scalars; ``init_lr`` (may be traced) overrides its own."""
    return settings.init(init_lr, like=jnp.zeros((), jnp.float32))


def controller_state_of(state: ControllerState, settings: Controller[Any]) -> Any:
    """The controller's own state (e.g. a ``GreedyState``) held, packed, in a :class:`ControllerState`."""
    lr = None if settings.init_lr is not None else state.lr
    return _Packing.of(_initial(settings, lr)).unpack(state.floats, state.ints)


greedy_state_of = controller_state_of  #: the 0.2 name


def upgrade_state(opt_state: Any, settings: Controller[Any], init_lr: Any = None) -> Any:
    """``opt_state`` restored from a checkpoint an earlier lrsched wrote, in this version's layout.

    A :class:`ControllerState` packs its controller's state into two arrays, so a state field added since the
    checkpoint was written (GreedyLR's ``total``, the window's running sum, in 0.3) makes the restored arrays
    shorter than this version's. Each ``ControllerState`` in ``opt_state`` (of :func:`scale_by_controller`,
    :func:`scale_by_greedy_lr` or :func:`controlled`) that is shorter is read field by field, completed by
    ``settings.upgrade_state_dict`` (the upgrades the torch and closure state dicts get) and packed again; one
    already in this layout is returned as it is. Call it once, after restoring and before the next update, with
    the ``settings`` (and ``init_lr``) the optimizer was built with; the run then continues as it would have.

    Example:
        >>> import jax, jax.numpy as jnp, optax, lrsched
        >>> from lrsched.adapters.optax import scale_by_greedy_lr, upgrade_state
        >>> settings = lrsched.GreedyLR(init_lr=0.1, window=3)
        >>> opt = optax.chain(optax.scale_by_adam(), scale_by_greedy_lr(settings))
        >>> adam, greedy = opt.init(jnp.zeros(2))
        >>> as_0_2_packed_it = greedy._replace(floats=greedy.floats[:-1])  # no running sum of the window yet
        >>> _, upgraded = upgrade_state((adam, as_0_2_packed_it), settings)
        >>> bool((upgraded.floats == greedy.floats).all())
        True
    """
    is_packed = lambda node: isinstance(node, ControllerState)  # noqa: E731
    return jax.tree_util.tree_map(
        lambda node: _upgraded(node, settings, init_lr) if is_packed(node) else node, opt_state, is_leaf=is_packed
    )


def _upgraded(packed: ControllerState, settings: Controller[Any], init_lr: Any) -> ControllerState:
    if init_lr is None and settings.init_lr is None:
        init_lr = packed.lr
    template = _initial(settings, init_lr)
    packing = _Packing.of(template)
    sources = {True: np.ravel(np.asarray(packed.floats)), False: np.ravel(np.asarray(packed.ints))}
    wanted = {
        kind: sum(math.prod(shape) for shape, f in zip(packing.shapes, packing.is_float) if f == kind)
        for kind in (True, False)
    }
    if all(sources[kind].size == wanted[kind] for kind in (True, False)):
        return packed
    data: dict[str, Any] = {}
    at = {True: 0, False: 0}
    layout = iter(zip(packing.shapes, packing.is_float))  # the packing's leaves, in order: consecutive per field
    for name, value in zip(template._fields, template):
        leaves = [next(layout) for _ in jax.tree_util.tree_leaves(value)]
        if any(at[kind] + math.prod(shape) > sources[kind].size for shape, kind in leaves):
            break  # this field and the ones after it are newer than the checkpoint
        read = []
        for shape, kind in leaves:
            chunk = sources[kind][at[kind] : at[kind] + math.prod(shape)].tolist()
            read.append(tuple(chunk) if shape else chunk[0])
            at[kind] += len(chunk)
        data[name] = state_to_json(jax.tree_util.tree_unflatten(jax.tree_util.tree_structure(value), read))
    data = settings.upgrade_state_dict(data)
    missing = [name for name in template._fields if name not in data]
    if missing or any(at[kind] != sources[kind].size for kind in (True, False)):
        raise ValueError(
            f"upgrade_state: a {type(settings).__name__} state of {sources[True].size} floats and "
            f"{sources[False].size} ints is not an earlier layout of this one ({wanted[True]} and {wanted[False]}); "
            f"fields it cannot supply: {', '.join(missing) or 'none'}. Pass the settings the optimizer was built with"
        )
    state = type(template)._make(
        jax.tree_util.tree_map(
            lambda leaf, v: jnp.asarray(v, leaf.dtype).reshape(jnp.shape(leaf)),
            value,
            _like(value, state_from_json(data[name])),
        )
        for name, value in zip(template._fields, template)
    )
    return ControllerState(*packing.pack(state), packed.lr)


def _like(template: Any, value: Any) -> Any:
    """``value`` (Python numbers and tuples) in ``template``'s tree structure: a vector leaf takes a whole tuple."""
    if isinstance(template, tuple):
        return type(template)(_like(t, v) for t, v in zip(template, value))
    return value


def _check(owner: str, settings: Any, init_lr: Any = None) -> None:
    if not isinstance(settings, Controller):
        raise TypeError(f"{owner}: settings must be a lrsched Controller, got {type(settings).__name__}")
    refuse_unserved(owner, settings, MEASURED, needs_served=frozenset())
    if settings.groups:
        raise ValueError(
            f"{owner}: settings must hold scalar LRs (one LR for all parameters), got "
            f"{settings.groups} per-group values; use optax.multi_transform for groups"
        )
    if init_lr is None and settings.init_lr is None:
        raise ValueError(f"{owner}: settings.init_lr must be set (or pass init_lr=), got None")
    if init_lr is not None and jnp.shape(init_lr) != ():
        raise ValueError(f"{owner}: init_lr must be a scalar, got shape {jnp.shape(init_lr)}")


def _global_norm(tree: Any) -> Any:
    return jnp.sqrt(sum(jnp.sum(jnp.square(x.astype(jnp.float32))) for x in jax.tree_util.tree_leaves(tree)))


def _vdot(a: Any, b: Any) -> Any:
    pairs = zip(jax.tree_util.tree_leaves(a), jax.tree_util.tree_leaves(b))
    return sum(jnp.vdot(x.astype(jnp.float32), y.astype(jnp.float32)) for x, y in pairs)


def scale_by_controller(
    settings: Controller[Any],
    *,
    init_lr: Any = None,
    axis_name: str | None = None,
    flip_sign: bool = True,
    timing: str = "next",
) -> optax.GradientTransformationExtraArgs:
    """Scale updates by a controller's learning rate (``-lr`` with ``flip_sign``), steered by ``value=``.

    Args:
        settings: any :class:`lrsched.Controller` with its initial LR set (e.g. ``lrsched.GreedyLR(init_lr=...)``),
            or ``lrsched.on_schedule(base, controller, start_step)`` (``lr = base(t) * g_t``). One LR for all
            parameters; use ``optax.multi_transform`` for groups. Controllers that read more than the loss
            get their signals from :func:`controlled` (pass them as ``update(..., value=loss, signals={...})``).
        init_lr: the initial LR (for ``on_schedule``: the initial multiplier), overriding ``settings.init_lr``: a
            number (range-checked) or a scalar array, which may be traced, so one jitted, ``jax.vmap``-ed
            function can run several starting LRs (build the transformation inside the mapped function).
        axis_name: when set, ``value`` is averaged with ``lax.pmean`` over this
            mapped axis, so every device takes the same decision.
        flip_sign: multiply by ``-lr`` (descent, as ``optax.scale_by_learning_rate``).
        timing: when an update's value and signals take effect (:data:`lrsched.controllers.TIMINGS`, the same
            definition as torch's ``ControllerScheduler(timing=...)``). ``"next"`` (the default, as torch's
            ``scheduler.step(loss)`` after ``optimizer.step()``): this update applies the LR decided by the earlier
            ones, and its own value decides the next update's LR. ``"paper"`` (the order of Baydin et al.'s
            algorithms): the controller updates first and this update already applies the new LR. :func:`lr_of`
            reads the controller's current LR: under ``"next"`` the LR of the next update, under ``"paper"`` the
            one this update applied.

    Place it where Optax places ``scale_by_learning_rate``: after a direction, ``optax.chain(optax.scale_by_adam(),
    scale_by_controller(c))``. After an optimizer that already applies ``-lr`` (``optax.adam(lr)``) the sign flips
    twice and training ascends. Under ``optax.MultiSteps`` the controller updates once per optimizer update, on the
    ``value`` of the last micro-batch (pass a mean over the micro-batches yourself if you want one).
    """
    _check("scale_by_controller", settings, init_lr)
    timing = checked_timing("scale_by_controller", settings, timing, loss_before_update=True)
    sign = -1.0 if flip_sign else 1.0
    packing = _Packing.of(_initial(settings, init_lr))

    def init_fn(params: Any) -> ControllerState:
        del params
        state = _initial(settings, init_lr)
        return ControllerState(*packing.pack(state), _next_lr(settings, state))

    def update_fn(
        updates: Any, state: ControllerState, params: Any = None, *, value: Any, signals: Any = None, **extra: Any
    ) -> tuple[Any, ControllerState]:
        del params, extra
        value = jnp.asarray(value, jnp.float32)
        if axis_name is not None:
            value = jax.lax.pmean(value, axis_name)
        observed = {"loss": value, **(signals or {})}
        old = packing.unpack(state.floats, state.ints)
        new = settings.update(old, observed)
        lr = _next_lr(settings, new)
        if timing == "paper":  # this update applies the new LR (on its own clock), and lr_of reports it
            lr = jnp.asarray(lr_applied_at_once(settings, new, old.step), dtype=jnp.float32)
        scale = sign * (lr if timing == "paper" else state.lr)
        updates = jax.tree_util.tree_map(lambda u: (scale * u).astype(u.dtype), updates)
        return updates, ControllerState(*packing.pack(new), lr)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


class ControlledState(NamedTuple):
    """State of :func:`controlled`: the inner direction transform's, the controller's, and inner's previous output.

    ``prev_inner`` is ``inner``'s output of the previous update as it returned it, in float32: ``-d_{t-1}``, the
    previous update per unit LR negated (zeros at t = 0; ``()`` when no signal reads it). Keeping it unnegated saves
    a pass over every parameter in the step; the signals negate the scalar instead (the same LRs).
    """

    inner: Any
    controller: ControllerState
    prev_inner: Any  #: ``-d_{t-1}`` (see above)

    @property
    def prev_direction(self) -> Any:
        """``d_{t-1}``, the previous update per unit LR (computed from ``prev_inner`` when read)."""
        return jax.tree_util.tree_map(jnp.negative, self.prev_inner)


def update_along_gradient(direction: optax.GradientTransformation, params: Any) -> float:
    """``u . g``: ``direction``'s first update ``u`` for a gradient of ones ``g`` at ``params``, evaluated at once
    (``jax.ensure_compile_time_eval``: also where the caller is being traced). Positive for a direction
    (``optax.scale_by_adam()``, ``optax.trace``), negative for an optimizer that already applies ``-lr``
    (``optax.adam(lr)``); raises what ``direction`` raises when it cannot update ``params``."""
    with jax.ensure_compile_time_eval():
        ones = jax.tree_util.tree_map(jnp.ones_like, params)
        update, _ = direction.update(ones, direction.init(params), params)
        pairs = zip(jax.tree_util.tree_leaves(update), jax.tree_util.tree_leaves(ones))
        return float(sum(jnp.vdot(u, g) for u, g in pairs))


#: The stand-in parameters :func:`controlled` probes ``inner`` with at construction (the real ones come later).
_PROBE_PARAMS = np.zeros(4, np.float32)


def refuse_ascent(owner: str, name: str, direction: Any, params: Any = None) -> None:
    """Refuse a ``direction`` (the argument ``name`` of ``owner``) whose update points against the gradient: scaled
    by ``-lr`` it would ascend (it already applies ``-lr``, as ``optax.adam(lr)`` does).

    Probed once with a gradient of ones (:func:`update_along_gradient`). At the real ``params`` the update must point
    along it (``> 0``: a direction that does not move is refused too). Without them, on :data:`_PROBE_PARAMS`, only a
    negative answer is refused, and a ``direction`` that cannot update them (one that needs its own parameters'
    structure, as ``optax.masked`` does, extra arguments, or values being traced) is not checked."""
    if params is None:
        try:
            along = update_along_gradient(direction, _PROBE_PARAMS)
        except Exception:  # any failure means only that this probe cannot tell
            return
        refused = along < 0.0
    else:
        along = update_along_gradient(direction, params)
        refused = not along > 0.0
    if refused:
        raise ValueError(
            f"{owner}: {name}'s update for a gradient of ones does not point along it (update . gradient = "
            f"{along:.3g}): it already applies -lr, as optax.adam(lr) does (or optax.sgd(lr)), and scaled by -lr "
            "again training would ascend; pass the direction alone, e.g. optax.scale_by_adam() or optax.identity() "
            "(to ascend on purpose, negate the loss)"
        )


def controlled(
    inner: optax.GradientTransformation,
    settings: Controller[Any],
    *,
    init_lr: Any = None,
    axis_name: str | None = None,
    timing: str = "next",
) -> optax.GradientTransformationExtraArgs:
    """``inner`` (a direction, e.g. ``optax.scale_by_adam()``) scaled by ``-lr`` of any controller.

    Computes exactly the signals the controller declares (:data:`lrsched.controllers.SIGNALS`) from the raw
    gradients, the parameters and the directions: ``grad_norm``, ``param_norm``, ``grad_dot_prev_direction``
    (``g_t . d_{t-1}``, the directions being ``-inner(g)``) and ``prev_direction_norm``, and only on the updates
    where the rule reads them (``settings.signal_interval``: ABEL's ``interval``; ``jax.lax.cond`` skips the
    measurement on the others). Pass
    ``update(grads, state, params, value=loss)``. ``init_lr``: as in :func:`scale_by_controller` (may be traced).
    ``timing``: as in :func:`scale_by_controller`; ``"paper"`` is the hypergradient paper's order (h_t, then the
    new LR, then the step with it), the default ``"next"`` applies each change one update later. The signals use
    the gradients ``controlled`` receives: for the paper's coupled weight decay put ``optax.add_decayed_weights``
    before it in a chain.

    ``inner`` must be a direction (``optax.scale_by_adam()``, ``optax.identity()`` for SGD), not an optimizer that
    already applies ``-lr`` such as ``optax.adam(lr)``: the sign would flip twice and training would ascend. Such
    an ``inner`` is refused here: it is probed once, eagerly, with a gradient of ones on four stand-in parameters
    (an ``inner`` that cannot update them, e.g. ``optax.masked``, is not checked).
    Under ``optax.MultiSteps(controlled(...), k)`` the controller decides once per optimizer update, on the last
    micro-batch's ``value`` (and on the accumulated gradient for gradient signals). A controller reading
    ``param_norm`` raises at its first update when ``params`` is not passed (never a norm of 0).

    Example (three starting LRs in one jitted, vmapped function):
        >>> import jax, jax.numpy as jnp, optax, lrsched
        >>> from lrsched.adapters.optax import controlled, lr_of
        >>> hd = lrsched.Hypergradient(beta=1e-3)
        >>> def final_lr(lr0):
        ...     opt = controlled(optax.identity(), hd, init_lr=lr0)
        ...     params = jnp.ones(2)
        ...     state = opt.init(params)
        ...     for _ in range(3):
        ...         updates, state = opt.update(params, state, params, value=jnp.sum(params**2))
        ...         params = params + updates
        ...     return lr_of(state)
        >>> jax.jit(jax.vmap(final_lr))(jnp.array([0.01, 0.1, 0.3])).shape
        (3,)
    """
    wanted = tuple(s for s in settings.signals if s != "loss")
    scale = scale_by_controller(settings, init_lr=init_lr, axis_name=axis_name, timing=timing)  # checks settings
    refuse_ascent("controlled", "inner", inner)

    keep = any(name in wanted for name in ("grad_dot_prev_direction", "prev_direction_norm"))
    interval = settings.signal_interval  # measure only on the updates whose signals the rule reads
    packing = _Packing.of(_initial(settings, init_lr)) if interval > 1 else None

    def init_fn(params: Any) -> ControlledState:
        zeros = jax.tree_util.tree_map(lambda p: jnp.zeros_like(p, dtype=jnp.float32), params) if keep else ()
        return ControlledState(inner.init(params), scale.init(params), zeros)

    def update_fn(
        grads: Any, state: ControlledState, params: Any = None, *, value: Any, **extra: Any
    ) -> tuple[Any, ControlledState]:
        if params is None and "param_norm" in wanted:
            raise ValueError(
                f"controlled: {settings.owner} reads 'param_norm'; pass the parameters: update(grads, state, params, "
                "value=loss)"
            )
        directions, inner_state = inner.update(grads, state.inner, params)
        measured = {
            "grad_norm": lambda: _global_norm(grads),
            "param_norm": lambda: _global_norm(params),
            "grad_dot_prev_direction": lambda: -_vdot(grads, state.prev_inner),  # d = -inner(g): negate the scalar
            "prev_direction_norm": lambda: _global_norm(state.prev_inner),
        }
        if packing is None:
            signals = {name: measured[name]() for name in wanted}
        else:  # skipped updates get NaN, which the rule does not read there (Controller.signal_interval)
            step = packing.unpack(state.controller.floats, state.controller.ints).step
            due = (step + 1) % interval == 0
            nan = lambda: jnp.full((), jnp.nan, jnp.float32)  # noqa: E731
            signals = {name: jax.lax.cond(due, measured[name], nan) for name in wanted}
        updates, scale_state = scale.update(directions, state.controller, params, value=value, signals=signals)
        kept = jax.tree_util.tree_map(lambda x: x.astype(jnp.float32), directions) if keep else ()
        return updates, ControlledState(inner_state, scale_state, kept)

    return optax.GradientTransformationExtraArgs(init_fn, update_fn)


def scale_by_greedy_lr(
    settings: GreedyLR | GreedyOn,
    *,
    axis_name: str | None = None,
    flip_sign: bool = True,
) -> optax.GradientTransformationExtraArgs:
    """:func:`scale_by_controller` for a ``lrsched.GreedyLR`` with ``init_lr`` set, or a ``lrsched.GreedyOn``."""
    if not isinstance(settings, (GreedyLR, GreedyOn)):
        raise TypeError(f"scale_by_greedy_lr: settings must be a GreedyLR or GreedyOn, got {type(settings).__name__}")
    _check("scale_by_greedy_lr", settings)
    return scale_by_controller(settings, axis_name=axis_name, flip_sign=flip_sign)


def lr_of(opt_state: Any) -> Any:
    """The LR the next update applies, read from an optimizer state holding one :class:`ControllerState`."""
    found = [
        leaf
        for leaf in jax.tree_util.tree_leaves(opt_state, is_leaf=lambda x: isinstance(x, ControllerState))
        if isinstance(leaf, ControllerState)
    ]
    if len(found) != 1:
        how = (
            "; several controllers (e.g. under optax.multi_transform): pass the subtree holding one, "
            "e.g. lr_of(opt_state.inner_states['label'])"
            if found
            else ""
        )
        raise ValueError(f"lr_of: expected one ControllerState in the optimizer state, found {len(found)}{how}")
    return found[0].lr


greedy_lr_of = lr_of  #: the 0.2 name
