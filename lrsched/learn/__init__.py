"""Meta-training of learned LR controllers (:class:`lrsched.LearnedLR`) in JAX.

``import lrsched`` does not import this package (nor JAX); import it when you train.

* ``train`` -- evolution strategies over a distribution of training tasks (``lrsched.learn.es``);
* ``user_task`` -- your own problem (``init(key)``, ``loss(params, key)``) as a task to train on;
* ``default_tasks`` -- the built-in distribution the shipped policy was trained on.

``train`` splits each batch of runs over every device (``lrsched.learn.population``; several hosts after
``jax.distributed.initialize()``), can keep JAX's compiled programs in a directory (``compile_cache=``,
``lrsched.learn.cache``) and writes a resumable checkpoint of its state (``checkpoint=``, ``resume=True``;
``lrsched.learn.checkpoint``).

Command line: ``python -m lrsched.learn train --out policy.json`` (see ``--help``).

Example:
    >>> import jax, jax.numpy as jnp
    >>> from lrsched import learn
    >>> task = learn.user_task(lambda k: jax.random.normal(k, (4,)), lambda p, k: jnp.sum(p**2) + 1.0, lr=0.1, steps=16)
    >>> res = learn.train([task], iterations=1, pairs=2, validation=2, progress=False)
    >>> type(res.policy).__name__
    'LearnedLR'
"""

from lrsched.learn.es import TrainResult, train
from lrsched.learn.tasks import Task, default_tasks, toy_tasks, user_task

__all__ = ["Task", "TrainResult", "default_tasks", "toy_tasks", "train", "user_task", "save"]


def save(result: TrainResult, path: str, command: str | None = None) -> None:
    """Write a trained policy as JSON: ``{"config": ..., "meta": {command, settings, seconds, stats, history}}``.

    ``stats`` holds the run's throughput (``inner_updates_per_second`` in steady state) and its devices.

    ``LearnedLR.default()`` reads this format; ``lrsched.from_config(json.load(f)["config"])`` rebuilds the policy.
    """
    import json
    import platform

    import jax

    meta = {
        "command": command,
        "settings": result.settings,
        "seconds": round(result.seconds, 1),
        "stats": result.stats,
        "jax": jax.__version__,
        "python": platform.python_version(),
        "history": result.history,
    }
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"config": result.policy.to_config(), "meta": meta}, fh, indent=1, allow_nan=True)
        fh.write("\n")
