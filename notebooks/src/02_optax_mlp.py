# %% [markdown]
# # 2. JAX / Optax: an MLP on digits with warmup∘cosine, and with the GreedyLR transformation
#
# * `lrsched.adapters.optax.as_optax_schedule` turns any lrsched schedule into an Optax schedule
#   (here a linear warmup composed with a cosine decay);
# * `scale_by_greedy_lr` is GreedyLR as an Optax transformation: the loss goes in as
#   `opt.update(..., value=loss)` and the controller's state lives in the optimizer state, so the
#   whole step is one `jax.jit`-compiled function;
# * `GreedyOn(base, controller, start_step)` lets GreedyLR nudge a schedule by a bounded multiplier.
#
# Data: scikit-learn's bundled 8x8 digits (1,797 images; nothing is downloaded).

# %%
%matplotlib inline
import time

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
from sklearn.datasets import load_digits

import lrsched as L
from lrsched.adapters.optax import as_optax_schedule, greedy_lr_of, scale_by_greedy_lr

plt.rcParams["figure.dpi"] = 100
x, y = load_digits(return_X_y=True)
order = np.random.default_rng(0).permutation(len(y))
x, y = (x / 16.0).astype(np.float32)[order], y[order]
x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]
EPOCHS, BATCH = 15, 50
STEPS = EPOCHS * len(y_train) // BATCH
print(f"{len(y_train)} train / {len(y_test)} test images, {STEPS} steps")

# %% [markdown]
# ## Model and a jitted training loop
#
# `make_step(opt)` compiles one update; `value=loss` is passed to every optimizer, and transformations
# that do not need it (Adam, a plain schedule) ignore it.

# %%
def init_params(key):
    k1, k2 = jax.random.split(key)
    return {
        "w1": jax.random.normal(k1, (64, 128)) * (1 / 8), "b1": jnp.zeros(128),
        "w2": jax.random.normal(k2, (128, 10)) * (1 / np.sqrt(128)), "b2": jnp.zeros(10),
    }


def forward(p, xb):
    return jax.nn.relu(xb @ p["w1"] + p["b1"]) @ p["w2"] + p["b2"]


def loss_fn(p, xb, yb):
    return optax.softmax_cross_entropy_with_integer_labels(forward(p, xb), yb).mean()


def make_step(opt):
    @jax.jit
    def step(p, state, xb, yb):
        loss, grads = jax.value_and_grad(loss_fn)(p, xb, yb)
        updates, state = opt.update(grads, state, p, value=loss)
        return optax.apply_updates(p, updates), state, loss

    return step


def train(opt, lr_of, seed=0):
    params = init_params(jax.random.PRNGKey(seed))
    state, step = opt.init(params), make_step(opt)
    rng = np.random.default_rng(seed)
    log = {"loss": [], "lr": []}
    for epoch in range(EPOCHS):
        perm = rng.permutation(len(y_train))
        for i in range(0, len(perm) - BATCH + 1, BATCH):
            idx = perm[i : i + BATCH]
            log["lr"].append(float(lr_of(state, len(log["lr"]))))
            params, state, loss = step(params, state, x_train[idx], y_train[idx])
            log["loss"].append(float(loss))
    acc = float(jnp.mean(jnp.argmax(forward(params, x_test), 1) == y_test))
    return acc, log

# %% [markdown]
# ## Warmup ∘ cosine through Optax
#
# The lrsched value is the single source of truth: Optax calls it with its step counter.

# %%
PEAK = 3e-3
schedule = L.warmup(L.cosine_decay(PEAK, STEPS - 30, end_value=PEAK / 100), warmup_steps=30)
opt_cos = optax.adam(as_optax_schedule(schedule))
t0 = time.perf_counter()
acc_cos, log_cos = train(opt_cos, lambda state, t: schedule(t))
print(f"warmup∘cosine: held-out accuracy {acc_cos:.1%} ({time.perf_counter() - t0:.1f} s)")

# %% [markdown]
# ## GreedyLR as an Optax transformation
#
# Minibatch losses are noisy, so the controller decides on a 20-step moving average (`window=20`) with
# a patience of 20 steps; the LR may move within `[PEAK/100, 3*PEAK]`.

# %%
greedy = L.GreedyLR(init_lr=PEAK, factor=0.7, patience=20, window=20, cooldown=20, warmup=20,
                    threshold=1e-3, min_lr=PEAK / 100, max_lr=3 * PEAK)
opt_greedy = optax.chain(optax.scale_by_adam(), scale_by_greedy_lr(greedy))
acc_greedy, log_greedy = train(opt_greedy, lambda state, t: greedy_lr_of(state))
print(f"GreedyLR:      held-out accuracy {acc_greedy:.1%}")

# %% [markdown]
# ## GreedyLR on top of warmup ∘ cosine
#
# `GreedyOn` multiplies the schedule by the controller's LR, used as a multiplier that starts at 1 and
# stays in `[0.25, 2]`; it only listens after the warmup (`start_step=30`).

# %%
on = L.GreedyOn(schedule, L.GreedyLR(factor=0.7, patience=20, window=20, cooldown=20, warmup=20,
                                      threshold=1e-3, min_lr=0.25, max_lr=2.0), start_step=30)
opt_on = optax.chain(optax.scale_by_adam(), scale_by_greedy_lr(on))
acc_on, log_on = train(opt_on, lambda state, t: greedy_lr_of(state))
print(f"GreedyOn(warmup∘cosine): held-out accuracy {acc_on:.1%}")

# %%
fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.2))
for name, log in (("warmup∘cosine", log_cos), ("GreedyLR", log_greedy), ("GreedyOn(warmup∘cosine)", log_on)):
    a.plot(log["lr"], label=name)
    b.plot(np.convolve(log["loss"], np.ones(20) / 20, mode="valid"), label=name)
a.set(title="learning rate", xlabel="step", yscale="log")
b.set(title="minibatch loss (20-step mean)", xlabel="step", yscale="log")
a.legend(fontsize=8)
plt.show()
