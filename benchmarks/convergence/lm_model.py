"""A small character-level transformer in JAX for the language-model task (about 115,000 parameters).

Pre-LayerNorm decoder: learned token and position embeddings, ``LAYERS`` blocks of causal multi-head
self-attention and a GELU MLP (4x wide), a final LayerNorm and an untied output layer. Initialisation as
GPT-2: normal(0, 0.02) embeddings, weights normal with std ``1/sqrt(fan_in)``, the residual output layers
scaled by ``1/sqrt(2 * LAYERS)``. The loss is the mean next-character cross-entropy in nats; divide by
``ln 2`` for bits per character.

``data["train"]`` holds the training text (codes, see :mod:`benchmarks.convergence.lm_data`); a batch is
the ``(BATCH,)`` start offsets of its windows, each ``SEQ + 1`` characters long.

Example:
    >>> import numpy as np
    >>> p = init(np.random.default_rng(0))
    >>> n_params(p)
    115520
    >>> text = np.arange(200, dtype=np.uint8) % 96
    >>> round(float(loss(p, {"train": text}, np.zeros(BATCH, int))) / np.log(96), 1)  # ~ uniform at init
    1.0
"""

from __future__ import annotations

import math
from typing import Any

import jax
import jax.numpy as jnp
import numpy as np

from benchmarks.convergence.lm_data import VOCAB

__all__ = ["BATCH", "DIM", "HEADS", "LAYERS", "SEQ", "bits_per_char", "init", "loss", "n_params", "windows"]

DIM, LAYERS, HEADS, SEQ, BATCH = 64, 2, 4, 64, 8


def init(rng: np.random.Generator) -> dict[str, Any]:
    """Initial parameters (NumPy float32)."""

    def w(fan_in: int, fan_out: int, scale: float = 1.0) -> np.ndarray:
        return (rng.standard_normal((fan_in, fan_out)) * scale / math.sqrt(fan_in)).astype(np.float32)

    res = 1 / math.sqrt(2 * LAYERS)
    blocks = [
        {
            "ln1": np.ones(DIM, np.float32),
            "qkv": w(DIM, 3 * DIM),
            "o": w(DIM, DIM, res),
            "ln2": np.ones(DIM, np.float32),
            "f1": w(DIM, 4 * DIM),
            "b1": np.zeros(4 * DIM, np.float32),
            "f2": w(4 * DIM, DIM, res),
        }
        for _ in range(LAYERS)
    ]
    return {
        "tok": (rng.standard_normal((VOCAB, DIM)) * 0.02).astype(np.float32),
        "pos": (rng.standard_normal((SEQ, DIM)) * 0.02).astype(np.float32),
        "blocks": blocks,
        "ln_f": np.ones(DIM, np.float32),
        "out": w(DIM, VOCAB),
    }


def n_params(params: Any) -> int:
    return int(sum(np.size(a) for a in jax.tree_util.tree_leaves(params)))


def _norm(x: Any, gain: Any) -> Any:
    mu = jnp.mean(x, -1, keepdims=True)
    return (x - mu) * jax.lax.rsqrt(jnp.mean((x - mu) ** 2, -1, keepdims=True) + 1e-5) * gain


def _attention(blk: dict[str, Any], h: Any) -> Any:
    b, n, _ = h.shape

    def heads(t: Any) -> Any:
        return t.reshape(b, n, HEADS, DIM // HEADS).transpose(0, 2, 1, 3)

    q, k, v = map(heads, jnp.split(_norm(h, blk["ln1"]) @ blk["qkv"], 3, axis=-1))
    scores = q @ k.transpose(0, 1, 3, 2) / math.sqrt(DIM // HEADS)
    scores = jnp.where(jnp.tril(jnp.ones((n, n), bool)), scores, -1e9)
    out = (jax.nn.softmax(scores, -1) @ v).transpose(0, 2, 1, 3).reshape(b, n, DIM)
    return out @ blk["o"]


def logits(params: dict[str, Any], x: Any) -> Any:
    """``(batch, n)`` codes -> ``(batch, n, VOCAB)`` next-character logits."""
    h = params["tok"][x] + params["pos"][: x.shape[1]]
    for blk in params["blocks"]:
        h = h + _attention(blk, h)
        h = h + jax.nn.gelu(_norm(h, blk["ln2"]) @ blk["f1"] + blk["b1"]) @ blk["f2"]
    return _norm(h, params["ln_f"]) @ params["out"]


def _xent(params: dict[str, Any], win: Any) -> Any:
    win = win.astype(jnp.int32)
    lp = jax.nn.log_softmax(logits(params, win[:, :-1]))
    return -jnp.mean(jnp.take_along_axis(lp, win[:, 1:, None].astype(jnp.int32), axis=-1))


def windows(text: Any, starts: Any) -> Any:
    """The ``SEQ + 1``-character windows of ``text`` starting at ``starts`` (as int32 codes)."""
    return jnp.asarray(text)[jnp.asarray(starts)[:, None] + jnp.arange(SEQ + 1)].astype(jnp.int32)


def loss(params: dict[str, Any], data: dict[str, Any], starts: Any) -> Any:
    """Mean next-character cross-entropy (nats) on the training windows at ``starts``."""
    return _xent(params, windows(data["train"], starts))


def bits_per_char(params: dict[str, Any], wins: Any, chunk: int = 256) -> Any:
    """Mean bits per character over ``wins`` (``(n, SEQ + 1)`` codes), in chunks of ``chunk`` windows."""
    wins = jnp.asarray(wins)
    chunk = min(chunk, wins.shape[0])
    n = wins.shape[0] // chunk * chunk
    parts = wins[:n].reshape(-1, chunk, wins.shape[1])
    total = jax.lax.map(lambda w: _xent(params, w), parts)
    return jnp.mean(total) / math.log(2)
