"""Rebuild schedules from plain configs.

Configs are plain JSON data: ``{"name": "cosine_decay", "init_value": 0.1, ...}``
with nested schedules as nested dicts. Only names in lrsched's own registry
are accepted; nothing is imported or evaluated by name. Bad configs raise
``ValueError`` or ``TypeError`` with a message that names the problem.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
from collections.abc import Callable, Iterable
from typing import Any, Protocol

from lrsched._core.schedule import _REGISTRY, MAX_DEPTH, MAX_NODES, Schedule
from lrsched._core.validate import shown

__all__ = [
    "MAX_DEPTH",
    "MAX_NODES",
    "Configurable",
    "build",
    "check_keys",
    "from_config",
    "from_json",
    "register_config_builder",
    "schedule_from_config",
]

# Bounds on the work a config may ask for, checked before anything is built; schedules are held to the same
# bounds at construction, so every ``to_config()`` loads back. A shared sub-dict (a YAML alias) counts once per
# place it is used: 1 KB of aliases can describe 2**30 nodes.


class Configurable(Protocol):
    """What :func:`from_config` returns: a schedule or a controller, a value with a ``to_config()``."""

    def to_config(self) -> dict[str, Any]: ...


#: ``builder(config, where, depth)``: how a value that is not a schedule (a controller) is rebuilt from its config.
Builder = Callable[[dict[str, Any], str, int], Configurable]
# Non-schedule values with configs (the controllers) register a builder here by name.
_BUILDERS: dict[str, Builder] = {}


def register_config_builder(name: str, builder: Builder) -> None:
    """Let :func:`from_config` rebuild library values that are not schedules (the controllers)."""
    _BUILDERS[name] = builder


def check_keys(where: str, name: str, config: dict[str, Any], valid: Iterable[str], required: Iterable[str]) -> None:
    """Refuse keys of ``config`` that are not ``valid`` (besides ``"name"``) and ``required`` keys it lacks.

    The one place that words these messages, for schedules and controllers alike.
    """
    valid = list(valid)
    unknown = [k for k in config if k != "name" and k not in valid]
    if unknown:
        raise ValueError(f"{where}: unknown key(s) {shown(unknown)} for {name!r}; valid keys: {', '.join(valid)}")
    missing = [k for k in required if k not in config]
    if missing:
        raise ValueError(f"{where}: {name!r} is missing required key(s): {', '.join(missing)}")


def required_fields(cls: Any) -> list[str]:
    """The dataclass fields of ``cls`` without a default."""
    return [
        f.name
        for f in dataclasses.fields(cls)  # a dataclass (a schedule or controller class)
        if f.default is dataclasses.MISSING and f.default_factory is dataclasses.MISSING
    ]


def from_json(text: str) -> Configurable:
    """Parse a JSON schedule config (see :func:`from_config`)."""
    try:
        data = json.loads(text)
    except (json.JSONDecodeError, RecursionError) as err:
        raise ValueError(f"schedule config is not valid JSON: {err}") from None
    return from_config(data)


def from_config(config: Any) -> Configurable:
    """Build the schedule or controller described by ``config`` (the output of its ``to_config``).

    Example:
        >>> import lrsched
        >>> s = lrsched.cosine_decay(init_value=0.1, decay_steps=100)
        >>> lrsched.from_config(s.to_config()) == s
        True
    """
    _check_size(config)
    return build(config, "config", 0)


def schedule_from_config(config: Any, where: str = "config") -> Schedule:
    """The schedule of ``config``; a config of anything else (a controller) raises ``TypeError``."""
    value = from_config(config)
    if not isinstance(value, Schedule):
        raise TypeError(f"{where}: expected a schedule config, got the config of a {type(value).__name__}")
    return value


def _check_size(config: Any) -> None:
    """Refuse a config of more than :data:`MAX_NODES` values (counting every use of a shared part)."""
    count = 0
    stack = [(config, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1 + (len(node) if isinstance(node, (dict, list, tuple)) else 0)
        if count > MAX_NODES:
            raise ValueError(
                f"config: more than {MAX_NODES} values (shared parts and aliases count once per use); "
                "a schedule this large is not supported"
            )
        if depth > MAX_DEPTH + 4:  # the exact depth error comes from build, with the path
            continue
        if isinstance(node, dict):
            stack.extend((v, depth + 1) for v in node.values() if isinstance(v, (dict, list, tuple)))
        elif isinstance(node, (list, tuple)):
            stack.extend((v, depth + 1) for v in node if isinstance(v, (dict, list, tuple)))


def build(config: Any, where: str = "config", depth: int = 0) -> Any:
    """The value (schedule or controller) of one config node at ``where`` (its path, for messages), ``depth``
    levels below the top; nested configs call it with ``depth + 1`` (at most :data:`MAX_DEPTH`)."""
    if depth > MAX_DEPTH:
        path = where if len(where) <= 80 else f"{where[:30]}...{where[-40:]}"
        raise ValueError(f"{path}: configs nest at most MAX_DEPTH = {MAX_DEPTH} levels deep")
    if not isinstance(config, dict):
        raise TypeError(f"{where}: a config must be a dict, got {type(config).__name__}")
    name = config.get("name")
    if not isinstance(name, str):
        raise ValueError(f"{where}: a config needs a string 'name', got {shown(name)}")
    if name in _BUILDERS:
        try:
            return _BUILDERS[name](config, where, depth)
        except RecursionError:
            raise ValueError(f"{where}: config nests too deeply") from None
    cls = _REGISTRY.get(name)
    if cls is None:
        known = sorted(set(_REGISTRY) | set(_BUILDERS))
        close = difflib.get_close_matches(name, known, n=3)
        hint = f"did you mean {', '.join(map(repr, close))}?" if close else f"{len(known)} names are known"
        raise ValueError(
            f"{where}: unknown name {shown(name)}; {hint} (lrsched.registry() and "
            "lrsched.controllers.registry() list them)"
        )
    config = cls._upgrade_config(config, where)
    fields = [f.name for f in dataclasses.fields(cls)]  # type: ignore[arg-type]
    check_keys(where, name, config, fields, required_fields(cls))
    kwargs = {}
    for key, value in config.items():
        if key == "name":
            continue
        kwargs[key] = _value(cls._kinds[key], value, f"{where}.{key}", depth)
    try:
        return cls(**kwargs)
    except RecursionError:
        raise ValueError(f"{where}: schedule config nests too deeply") from None


def _value(kind: str, value: Any, where: str, depth: int) -> Any:
    if kind == "schedule":
        return build(value, where, depth + 1)
    if kind == "schedule_or_number":
        return build(value, where, depth + 1) if isinstance(value, dict) else value
    if kind == "schedules":
        if not isinstance(value, list):
            raise TypeError(f"{where}: expected a list of schedule configs, got {type(value).__name__}")
        return tuple(build(v, f"{where}[{i}]", depth + 1) for i, v in enumerate(value))
    if kind in ("numbers", "optional_texts", "points"):
        if value is None and kind == "optional_texts":
            return None
        if not isinstance(value, (list, tuple)):
            raise TypeError(f"{where}: expected a list, got {type(value).__name__}")
        if kind == "points":
            return tuple(tuple(p) if isinstance(p, (list, tuple)) else p for p in value)
        return tuple(value)
    if isinstance(value, (dict, list)):
        raise TypeError(f"{where}: expected a plain value, got {type(value).__name__}")
    return value
