"""The paper's problems (arXiv 2512.14527 §4.4 / App. A.6), written in JAX.

Analytic: quadratic (15-d, condition number 1/100/1000), Rosenbrock (2-d, and the 5-d "extended"
chain), Rastrigin (10-d, A=10), Ackley (8-d). Networks: full-batch MSE regression on the reference's
``classification`` data set (500 x 20 Gaussian inputs, target ``1[|x[:10]|^2 > |x[10:]|^2]``), which is
the data set every network variant of the 8,100-run grid falls back to.

Each problem is a :class:`Problem`: a loss ``loss(params, data, batch)`` and ``sample(rng)`` drawing one
run's initial parameters and data (the reference draws both afresh for every run).

Example:
    >>> import numpy as np
    >>> p = FAMILIES["quadratic"]["well_conditioned"]
    >>> params, data = p.sample(np.random.default_rng(0))
    >>> float(p.loss(params, data, 0)) > 0
    True
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import jax.numpy as jnp
import numpy as np

__all__ = ["ANALYTIC", "FAMILIES", "NEURAL", "Problem"]


@dataclass(frozen=True)
class Problem:
    """One problem: ``loss(params, data, batch)`` and ``sample(rng) -> (params, data)``.

    Problems with the same ``shape`` share ``loss`` and parameter shapes, so their runs are batched together.
    """

    loss: Callable[[Any, Any, Any], Any]
    sample: Callable[[np.random.Generator], tuple[Any, Any]]
    shape: str


def _quadratic_loss(p: Any, data: Any, batch: Any) -> Any:
    return jnp.sum(data["scaling"] * (p - data["target"]) ** 2)


def _quadratic(cond: float) -> Problem:
    scaling = np.logspace(0.0, math.log10(cond), 15) if cond > 1 else np.ones(15)

    def sample(rng: np.random.Generator) -> tuple[Any, Any]:
        return rng.standard_normal(15), {"target": rng.standard_normal(15), "scaling": scaling}

    return Problem(_quadratic_loss, sample, "quadratic")


def _rosenbrock(n: int) -> Problem:
    def loss(p: Any, data: Any, batch: Any) -> Any:
        x, y = p[:-1], p[1:]
        return jnp.sum(100.0 * (y - x**2) ** 2 + (1.0 - x) ** 2)

    return Problem(loss, lambda rng: (rng.standard_normal(n), {}), f"rosenbrock{n}")


def _rastrigin(p: Any, data: Any, batch: Any) -> Any:
    return 10.0 * p.shape[0] + jnp.sum(p**2 - 10.0 * jnp.cos(2 * math.pi * p))


def _ackley(p: Any, data: Any, batch: Any) -> Any:
    n = p.shape[0]
    # sqrt(x + tiny): Ackley's gradient is undefined at the optimum itself.
    a = -20.0 * jnp.exp(-0.2 * jnp.sqrt(jnp.sum(p**2) / n + 1e-30))
    return a - jnp.exp(jnp.sum(jnp.cos(2 * math.pi * p)) / n) + 20.0 + math.e


# -- networks -------------------------------------------------------------------------------------


def _linear(rng: np.random.Generator, fan_in: int, fan_out: int) -> dict[str, np.ndarray]:
    """``torch.nn.Linear``'s default init: weights and biases uniform in +-1/sqrt(fan_in)."""
    bound = 1.0 / math.sqrt(fan_in)
    return {"w": rng.uniform(-bound, bound, (fan_in, fan_out)), "b": rng.uniform(-bound, bound, fan_out)}


def _dense(p: dict[str, Any], x: Any) -> Any:
    return x @ p["w"] + p["b"]


def _layer_norm(x: Any) -> Any:
    mu = jnp.mean(x, axis=-1, keepdims=True)
    return (x - mu) / jnp.sqrt(jnp.var(x, axis=-1, keepdims=True) + 1e-5)


def _dataset(rng: np.random.Generator) -> dict[str, np.ndarray]:
    x = rng.standard_normal((500, 20))
    y = (np.sum(x[:, :10] ** 2, axis=1) > np.sum(x[:, 10:] ** 2, axis=1)).astype(float)
    return {"x": x, "y": y}


def _mlp_init(rng: np.random.Generator) -> dict[str, Any]:
    return {"l1": _linear(rng, 20, 64), "l2": _linear(rng, 64, 32), "l3": _linear(rng, 32, 1)}


def _mlp(p: dict[str, Any], x: Any) -> Any:
    h = jnp.maximum(_dense(p["l1"], x), 0.0)
    return _dense(p["l3"], jnp.maximum(_dense(p["l2"], h), 0.0))[:, 0]


def _resnet_init(rng: np.random.Generator) -> dict[str, Any]:
    blocks = [{"a": _linear(rng, 32, 32), "b": _linear(rng, 32, 32)} for _ in range(2)]
    return {"inp": _linear(rng, 20, 32), "blocks": blocks, "out": _linear(rng, 32, 1)}


def _resnet(p: dict[str, Any], x: Any) -> Any:
    h = _dense(p["inp"], x)
    for blk in p["blocks"]:
        h = h + _dense(blk["b"], jnp.maximum(_dense(blk["a"], h), 0.0))
    return _dense(p["out"], h)[:, 0]


def _attention_init(hidden: int) -> Callable[[np.random.Generator], dict[str, Any]]:
    def init(rng: np.random.Generator) -> dict[str, Any]:
        names = [("inp", 20, hidden), ("v", hidden, hidden), ("o", hidden, hidden)]
        names += [("f1", hidden, 2 * hidden), ("f2", 2 * hidden, hidden), ("out", hidden, 1)]
        return {name: _linear(rng, a, b) for name, a, b in names}

    return init


def _attention(p: dict[str, Any], x: Any) -> Any:
    """The reference's attention net on length-1 sequences: softmax over one key is 1, so attention = o(v(x))."""
    h = _dense(p["inp"], x)
    h = _layer_norm(h + _dense(p["o"], _dense(p["v"], h)))
    h = _layer_norm(h + _dense(p["f2"], jnp.maximum(_dense(p["f1"], h), 0.0)))
    return _dense(p["out"], h)[:, 0]


def _network(model: Callable[[Any, Any], Any], init: Callable[[np.random.Generator], Any], shape: str) -> Problem:
    def loss(p: Any, data: Any, batch: Any) -> Any:
        return jnp.mean((model(p, data["x"]) - data["y"]) ** 2)

    def sample(rng: np.random.Generator) -> tuple[Any, Any]:
        data = _dataset(rng)
        return init(rng), data

    return Problem(loss, sample, shape)


def _same(problem: Problem, variants: list[str]) -> dict[str, Problem]:
    return {v: problem for v in variants}


# Variant -> problem, as the reference's 8,100-run grid resolves them: variant names it does not
# special-case fall back to the default problem (e.g. quadratic "sparse" is the cond-1000 quadratic).
ANALYTIC: dict[str, dict[str, Problem]] = {
    "quadratic": {
        "well_conditioned": _quadratic(1.0),
        "ill_conditioned": _quadratic(100.0),
        "very_ill_conditioned": _quadratic(1000.0),
        "adversarial": _quadratic(1000.0),
        "sparse": _quadratic(1000.0),
    },
    "rosenbrock": {"extended": _rosenbrock(5)}
    | _same(_rosenbrock(2), ["standard", "noisy", "constrained", "multi_objective"]),
    "rastrigin": _same(Problem(_rastrigin, lambda rng: (rng.standard_normal(10), {}), "rastrigin"), ["v1"]),
    "ackley": _same(Problem(_ackley, lambda rng: (rng.standard_normal(8), {}), "ackley"), ["v1"]),
}
_MLP = _network(_mlp, _mlp_init, "mlp")
NEURAL: dict[str, dict[str, Problem]] = {
    "neural_simple": {"classification": _MLP},
    "neural_resnet": {"classification": _network(_resnet, _resnet_init, "resnet")},
    # The reference builds no conv net for this model type: it falls back to the same MLP.
    "neural_conv": {"classification": _MLP},
    "neural_attention": {"classification": _network(_attention, _attention_init(32), "attention32")},
}
# Left out for the CPU budget: neural_multi_head (the attention net at width 64, ~4x the cost of width 32),
# ViT and the deep / wide transformers. ``_attention_init(64)`` builds the multi-head variant if wanted.
FAMILIES: dict[str, dict[str, Problem]] = ANALYTIC | NEURAL
