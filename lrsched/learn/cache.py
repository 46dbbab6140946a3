"""JAX's persistent compilation cache for meta-training: opt-in, scoped to the call that asks for it.

Compiling the inner runs is most of a short meta-training run's time (each family's scanned, vmapped training
loop). With a cache directory, a second run with the same shapes, JAX version and devices loads the compiled
programs instead of compiling them again. :func:`compile_cache` points JAX's cache at a directory for the
duration of a ``with`` block (every program is cached: no minimum compile time or size), then restores the
previous settings. ``lrsched.learn.train`` uses it only when given ``compile_cache=``; the command line
(``python -m lrsched.learn train``) uses it by default, in the directory its ``--help`` shows.
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator

import jax

__all__ = ["compile_cache", "default_cache_dir"]

_SETTINGS = (
    "jax_compilation_cache_dir",
    "jax_persistent_cache_min_compile_time_secs",
    "jax_persistent_cache_min_entry_size_bytes",
)


def default_cache_dir() -> str:
    """``$XDG_CACHE_HOME/lrsched/jax`` (``~/.cache/lrsched/jax`` when ``XDG_CACHE_HOME`` is not set)."""
    root = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(root, "lrsched", "jax")


@contextlib.contextmanager
def compile_cache(path: str | os.PathLike[str] | None) -> Iterator[None]:
    """Cache every compiled program in ``path`` (created if missing) inside the block; ``None`` does nothing.

    Example:
        >>> import os, tempfile, jax, jax.numpy as jnp
        >>> from lrsched.learn.cache import compile_cache
        >>> with tempfile.TemporaryDirectory() as d, compile_cache(d):
        ...     _ = jax.jit(lambda x: x + 1)(jnp.ones(3))
        ...     len(os.listdir(d)) > 0
        True
    """
    if path is None:
        yield
        return
    path = os.fspath(path)
    if not path:
        raise ValueError("compile_cache: path must be a directory name, got ''")
    os.makedirs(path, exist_ok=True)
    old = {name: getattr(jax.config, name) for name in _SETTINGS}
    _apply(dict(zip(_SETTINGS, (os.path.abspath(path), 0.0, 0))))
    try:
        yield
    finally:
        _apply(old)


def _apply(settings: dict[str, object]) -> None:
    from jax.experimental.compilation_cache import compilation_cache as cc

    for name, value in settings.items():
        jax.config.update(name, value)
    cc.reset_cache()  # JAX opens its cache once, at the first compilation: reopen it at the new directory
