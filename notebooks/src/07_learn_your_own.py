# %% [markdown]
# # 7. A learned LR controller, and learning your own from your runs
#
# `lrsched.LearnedLR` is a controller whose rule is a tiny neural network (~180 weights): it reads
# features of the loss signal (smoothed slopes, progress since the start and since the best, noise,
# the fraction of the budget used, its own recent LR changes) and multiplies the LR by a bounded factor
# after every step. `lrsched.learned(lr=..., budget=...)` is the shipped policy as a stateful closure,
# like `lrsched.greedy(...)`; `lrsched.LearnedLR.default()` is the pure value (`init`/`update`, jit/vmap/scan).
#
# The shipped policy was meta-trained by evolution strategies on random small problems (quadratics,
# least squares, softmax regression, MLPs, NMF); with a known budget it multiplies a base schedule
# (5% warmup, linear anneal to 0 over the last half; `warmup=`/`anneal=` in its config), and the
# network only corrects the LR on top of it. A team that trains similar models again and again can
# instead train a policy **on its own task**: `lrsched.learn.user_task(init, loss, lr)` and
# `lrsched.learn.train(...)`. This notebook does that for a softmax regression on a random half of
# scikit-learn's digits, and tests the result on runs it never saw (the other half, new seeds).

# %%
%matplotlib inline
import dataclasses

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

import lrsched
from lrsched import learn

plt.rcParams["figure.dpi"] = 100
x, y = load_digits(return_X_y=True)
order = np.random.default_rng(0).permutation(len(y))
x, y = jnp.asarray((x / 16.0)[order], jnp.float32), jnp.asarray(y[order])
train_x, train_y, test_x, test_y = x[:900], y[:900], x[900:], y[900:]

# %% [markdown]
# ## Your task: an `init(key)` and a JAX `loss(params, key)` (the key draws the minibatch)

# %%
def make_task(xs, ys):
    def init(key):
        return {"w": 0.01 * jax.random.normal(key, (64, 10)), "b": jnp.zeros(10)}

    def loss(p, key):
        idx = jax.random.randint(key, (32,), 0, xs.shape[0])
        logits = xs[idx] @ p["w"] + p["b"]
        return -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(logits), ys[idx][:, None], axis=1))

    return init, loss


init, loss = make_task(train_x, train_y)
task = learn.user_task(init, loss, lr=0.1, optimizer="adam", steps=300)

# %% [markdown]
# ## Meta-train a policy on it (seeded; the plot shows the meta-objective)
#
# Each iteration runs 2 x 8 training runs of 300 steps, started at `lr * 10**U(-1, 1)`. The
# meta-objective is the validation score relative to a constant LR (below 0 = better than keeping
# the starting LR).
#
# **Bigger runs, same function.** `learn.train` splits each iteration's runs over every device JAX
# sees (`jax.devices()`, or `devices=[...]`), so on a machine with several GPUs the same call uses
# them all. Every process of a multi-host job runs the same command after `jax.distributed.initialize()`;
# the command line does that with `--distributed`, and `--tasks module:name` imports your tasks (a
# list of `user_task`s, or a function of `--steps` that returns them) from a file of yours:
#
#     python -m lrsched.learn train --tasks my_tasks:tasks --out policy.json --iterations 300 #         --distributed --checkpoint es.json --resume
#
# Only process 0 writes. `checkpoint=` (`--checkpoint FILE`) saves the whole ES state every
# `checkpoint_every` iterations (`--checkpoint-every`); with `resume=True` (`--resume`) a stopped run
# continues from it and ends with the same weights as an uninterrupted one. `compile_cache=`
# (`--compile-cache DIR`) keeps the compiled training runs, so the resumed run does not compile them
# again. Below: 30 iterations, as if the job had been stopped there, then resumed to 40.

# %%
import os
import tempfile

kw = dict(pairs=8, seed=0, eval_every=5, progress=False)  # no progress bar in the notebook
with tempfile.TemporaryDirectory() as work:  # in practice a folder of yours
    kw |= dict(checkpoint=os.path.join(work, "es.json"), checkpoint_every=10, compile_cache=os.path.join(work, "jax"))
    learn.train([task], iterations=30, **kw)  # stopped after iteration 30 ...
    res = learn.train([task], iterations=40, resume=True, **kw)  # ... and resumed: iterations 31 to 40
mine = res.policy
plt.plot([h["iteration"] for h in res.history], [h["objective"] for h in res.history], marker=".")
plt.axhline(0, color="gray", lw=0.8)
plt.xlabel("meta-iteration")
plt.ylabel("score vs constant LR")
st = res.stats  # of the resumed call
print(f"meta-training took {res.seconds:.0f} s in all; {st['inner_updates_per_second']:,.0f} inner updates/s", end="")
print(f" on {st['devices']} {st['platform']} device(s)")

# %% [markdown]
# ## Test it on runs it never saw: the held-back digits, new seeds, LRs from 1/10 to 10 x 0.1
#
# The training loop is plain JAX: the controller's `update` is traced into the scanned step.

# %%
t_init, t_loss = make_task(test_x, test_y)


def run(ctrl, lr0, seed, steps=300):
    key = jax.random.fold_in(jax.random.PRNGKey(1000), seed)
    params = t_init(key)
    m = jax.tree_util.tree_map(jnp.zeros_like, params)
    v = jax.tree_util.tree_map(jnp.zeros_like, params)

    def step(carry, t_k):
        p, m, v, s = carry
        t, k = t_k
        value, g = jax.value_and_grad(t_loss)(p, k)
        m = jax.tree_util.tree_map(lambda a, b: 0.9 * a + 0.1 * b, m, g)
        v = jax.tree_util.tree_map(lambda a, b: 0.999 * a + 0.001 * b * b, v, g)
        lr = ctrl.lr(s) if ctrl is not None else lr0
        p = jax.tree_util.tree_map(
            lambda a, mi, vi: a - lr * (mi / (1 - 0.9 ** (t + 1))) / (jnp.sqrt(vi / (1 - 0.999 ** (t + 1))) + 1e-8),
            p, m, v,
        )
        s = ctrl.update(s, value) if ctrl is not None else s
        return (p, m, v, s), (value, lr)

    s0 = ctrl.init(lr0) if ctrl is not None else ()
    xs = (jnp.arange(steps, dtype=jnp.float32), jax.random.split(key, steps))
    (p, *_), (losses, lrs) = jax.lax.scan(step, (params, m, v, s0), xs)
    full = -jnp.mean(jnp.take_along_axis(jax.nn.log_softmax(test_x @ p["w"] + p["b"]), test_y[:, None], axis=1))
    return full, lrs


controllers = {
    "constant LR": None,
    "shipped default": lrsched.LearnedLR.default(budget=300),
    "learned on my task": dataclasses.replace(mine, budget=300),
}
mults = np.array([0.1, 1 / 3, 1.0, 3.0, 10.0])
lr0s = jnp.asarray(np.repeat(0.1 * mults, 4), jnp.float32)  # 4 seeds per starting LR, all runs in one vmap
seeds = jnp.tile(jnp.arange(4), len(mults))
fig, axes = plt.subplots(1, 2, figsize=(11, 3.5))
for name, ctrl in controllers.items():
    finals, lrs = jax.jit(jax.vmap(lambda lr0, seed, ctrl=ctrl: run(ctrl, lr0, seed)))(lr0s, seeds)
    finals = np.median(np.asarray(finals).reshape(len(mults), 4), axis=1)
    if name != "constant LR":
        axes[1].plot(np.asarray(lrs)[::4].T, color={"shipped default": "C0"}.get(name, "C1"), lw=1)
    axes[0].plot(mults, finals, marker="o", label=name)
    print(f"{name:20s} median final loss per starting LR: {np.round(finals, 4)}")
axes[0].set_xscale("log"), axes[0].set_yscale("log"), axes[0].legend()
axes[0].set_xlabel("starting LR / 0.1"), axes[0].set_ylabel("final loss (held-back digits)")
axes[1].set_yscale("log"), axes[1].set_xlabel("step"), axes[1].set_ylabel("LR (C0 shipped, C1 mine)")

# %% [markdown]
# ## Save, load, use anywhere
#
# The policy is a frozen value whose weights live in its config: save it as JSON, load it with
# `lrsched.from_config`, and use it as a closure in any loop (`sched(loss)` returns the next LR).

# %%
import json

text = json.dumps(mine.to_config())
again = lrsched.from_config(json.loads(text))
assert again == mine
sched = lrsched.learned(again, lr=0.1, budget=300)
print([round(sched(l), 4) for l in (2.3, 1.9, 1.5, 1.2)])
