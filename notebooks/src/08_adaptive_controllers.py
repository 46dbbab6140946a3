# %% [markdown]
# # 8. Schedules and controllers from the papers: TASO, Eigencurve, Hypergradient, ABEL, GapAware, LRTuner, LEAP
#
# Each method on a problem small enough to run in seconds on a CPU, with one plot and what to read in it.
# The controllers are frozen values with a pure `init` / `update(state, signals)`; here they are driven by hand
# from the signals they declare (`controller.signals`), which is what the torch, Optax and Keras adapters do for
# you. Formulas and papers are in each docstring (`help(lrsched.controllers.ABEL)`).

# %%
%matplotlib inline
import copy
import math

import jax
import jax.numpy as jnp
import matplotlib.pyplot as plt
import numpy as np
import optax
import torch

import lrsched as L
from lrsched.adapters.leap import leap_optax
from lrsched.controllers import ABEL, GapAware, Hypergradient, LRTuner
from lrsched.controllers.gap_aware import IDEAL_LOSSES

plt.rcParams["figure.dpi"] = 100
torch.set_num_threads(1)  # tiny tensors: threads only contend

# %% [markdown]
# ## TASO and Eigencurve next to cosine
#
# TASO (Macêdo et al., arXiv 2102.08716) holds a high LR, then drops it along a logistic centred at `midpoint`.
# Eigencurve (Pan, Ye & Zhang, arXiv 2110.14109) is inverse-time decay whose rate doubles phase by phase; the
# phase lengths come from the Hessian spectrum (`eigencurve_phases`; `lrsched.tools.spectrum` estimates it from
# Hessian-vector products). Here: a skewed power-law spectrum `lambda_i = 1/i`, i = 1..200.

# %%
T = 2000
lam = 1.0 / np.arange(1, 201)
eig = L.eigencurve_phases(lam, total_steps=T)
schedules = {
    "cosine_decay(1.0, T)": L.cosine_decay(1.0, T),
    "taso(1.0, T, 0.01, midpoint=0.5, steepness=20)": L.taso(1.0, T, 0.01, midpoint=0.5, steepness=20.0),
    "taso(..., midpoint=0.7, steepness=10)": L.taso(1.0, T, 0.01, midpoint=0.7, steepness=10.0),
    "eigencurve_phases(1/i, T)": eig,
}
steps = np.arange(T + 1)
fig, ax = plt.subplots(figsize=(9, 3.6))
for name, s in schedules.items():
    ax.plot(steps, s(steps), label=name)
for knot in np.cumsum(eig.phase_steps)[:-1]:
    ax.axvline(knot, color="C3", lw=0.6, ls=":")
ax.set(xlabel="step", ylabel="LR", yscale="log", ylim=(5e-3, 1.5), title="TASO and Eigencurve vs cosine")
ax.legend(fontsize=9)
plt.show()
print("Eigencurve phase lengths:", np.round(eig.phase_steps, 1))

# %% [markdown]
# **Reading.** Most of these eigenvalues are small, so Eigencurve's first phases (one per octave
# `[2^i mu, 2^(i+1) mu)`, boundaries dotted) are the longest: it decays from the first step like `1/(L + mu t)`,
# faster phase by phase, and ends well above cosine's 0. TASO is a smoothed step (`steepness`: how abrupt,
# `midpoint`: where), whose ends sit a little inside `init_value` / `end_value` as in the authors' curve.

# %% [markdown]
# ## Hypergradient descent from a bad starting LR
#
# Gradient descent on a quadratic with eigenvalues in [1, 10] (best constant LR `2/(L+mu)` = 0.18, divergence above
# `2/L` = 0.2), started at 10x too small an LR. The controller reads `grad_dot_prev_direction` (`g_t . d_{t-1}`,
# `d` the previous step per unit LR), plus the two norms in the multiplicative mode.

# %%
rng = np.random.default_rng(0)
eigs = np.sort(np.concatenate([[1.0, 10.0], rng.uniform(1.0, 10.0, 6)]))
x0 = rng.normal(size=eigs.size)
best = 2 / (eigs[0] + eigs[-1])


def hypergradient_run(hd, n=300):
    x, d, state, lrs, losses = x0.copy(), np.zeros_like(x0), hd.init(), [], []
    for _ in range(n):
        g = eigs * x
        signals = {"grad_dot_prev_direction": float(g @ d), "grad_norm": float(np.linalg.norm(g)),
                   "prev_direction_norm": float(np.linalg.norm(d))}
        state = hd.update(state, {k: signals[k] for k in hd.signals})  # exactly the declared signals
        d = -g
        x = x + float(state.lr) * d
        lrs.append(float(state.lr))
        losses.append(0.5 * float(eigs @ x**2))
    return np.array(lrs), np.array(losses)


g0 = eigs * x0
runs = {
    "additive, beta = 0.3 best/|g0|^2": Hypergradient(init_lr=0.1 * best, beta=0.3 * best / float(g0 @ g0)),
    "multiplicative, beta = 0.02": Hypergradient(init_lr=0.1 * best, beta=0.02, mode="multiplicative"),
}
fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.4))
for name, hd in runs.items():
    lrs, losses = hypergradient_run(hd)
    a1.plot(lrs, label=name)
    a2.semilogy(losses, label=name)
const = hypergradient_run(Hypergradient(init_lr=0.1 * best, beta=1e-30))[1]  # effectively constant
a2.semilogy(const, "k:", label="constant 0.1 x best")
a1.axhline(best, color="k", ls="--", lw=0.8, label="2/(L+mu)")
a1.axhline(2 / eigs[-1], color="r", ls=":", lw=0.8, label="2/L (divergence)")
a1.set(xlabel="step", ylabel="LR", title="LR")
a2.set(xlabel="step", ylabel="loss", title="loss", ylim=(1e-40, 1e12))
a1.legend(fontsize=8)
a2.legend(fontsize=8)
plt.tight_layout()
plt.show()

# %% [markdown]
# **Reading.** Both modes climb out of the bad start, but the additive rule stalls at about half of `2/(L+mu)`
# because on a noiseless problem its hypergradient vanishes with the gradient. The multiplicative rule climbs
# *past* `2/L`, since the top-curvature component had already decayed and the instability only shows once it has
# regrown (the loss spike), and then the hypergradient turns negative and brings the LR back down.

# %% [markdown]
# ## ABEL: decay when the weight norm bounces
#
# Full-batch heavy-ball GD with weight decay on a synthetic logistic regression, started pointing the wrong way:
# the weight norm falls, bounces, rises past its equilibrium and turns. ABEL (Lewkowycz, arXiv 2103.12682) samples
# `||w||^2` once per "epoch" (`interval=10` updates); the first turn of the sampled curve sets a flag, the next one
# decays the LR by `factor` (the bounce, then equilibration); and it decays once more at 85 % of the budget.

# %%
rng = np.random.default_rng(0)
n, dim, wd = 512, 10, 1e-2
w_true = rng.normal(size=dim)
w_true *= 3 / np.linalg.norm(w_true)
X = rng.normal(size=(n, dim))
y = (X @ w_true + 0.5 * rng.normal(size=n) > 0).astype(float)
abel = ABEL(init_lr=0.5, factor=0.1, interval=10, total_steps=2000)
w, v, state, norms, lrs = -1.5 * w_true, np.zeros(dim), abel.init(), [], []
for _ in range(2000):
    g = X.T @ (1 / (1 + np.exp(-X @ w)) - y) / n + wd * w
    norms.append(float(np.linalg.norm(w)))
    state = abel.update(state, {"param_norm": norms[-1]})
    v = 0.9 * v + g
    w = w - float(state.lr) * v
    lrs.append(float(state.lr))
fig, ax = plt.subplots(figsize=(9, 3.4))
updates = np.arange(1, 2001)
ax.semilogx(updates, np.square(norms), color="C0", label="||w||^2")
ax.plot(updates[9::10], np.square(norms)[9::10], ".", color="C0", ms=3, label="sampled (once per 10 updates)")
ax.set(xlabel="update (log scale)", ylabel="||w||^2", title=f"ABEL: {int(state.decays)} decays")
ax2 = ax.twinx()
ax2.semilogy(updates, lrs, color="C3", label="LR")
ax2.set_ylabel("LR", color="C3")
fig.legend(loc="upper left", bbox_to_anchor=(0.13, 0.87), fontsize=9)
plt.show()
print("LR changes at updates", [i for i in range(1, len(lrs)) if lrs[i] != lrs[i - 1]])

# %% [markdown]
# **Reading.** ABEL only sees the sampled norms (dots), which miss the first, short dip: the first turn it sees
# is the overshoot peak (which sets its `reached_minimum` flag), and the trough after it decays the LR by 10x at
# update 69, after which the norm settles; the second decay is the fixed one at 85 % of the budget. Because it
# counts turns of a sampled curve it needs a smooth norm, so sample once per epoch as the paper does.

# %% [markdown]
# ## GapAware on a 2-D GAN
#
# A mixture of eight Gaussians on a ring; generator and discriminator are 32-unit MLPs trained with Adam in JAX.
# GapAware (Hazimeh & Ponomareva, arXiv 2302.00089) scales the discriminator's LR by a function of the gap between
# an EMA of its loss and the loss at the ideal equilibrium (BCE: `log 4`): up to `f_max`x when the discriminator is
# losing, down to `h_min`x when it is winning. Both runs (constant discriminator LR, GapAware) in one `vmap`.

# %%
centers = 2.0 * jnp.array([[math.cos(2 * math.pi * k / 8), math.sin(2 * math.pi * k / 8)] for k in range(8)])
gap, lr_d, batch = GapAware(init_lr=2e-3, ideal_loss=IDEAL_LOSSES["bce"]), 2e-3, 64


def init_mlp(key, sizes):
    keys = jax.random.split(key, len(sizes))
    return [(jax.random.normal(k, (a, b)) * math.sqrt(2 / a), jnp.zeros(b)) for k, a, b in zip(keys, sizes, sizes[1:])]


def mlp(params, x):
    for w_, b_ in params[:-1]:
        x = jax.nn.relu(x @ w_ + b_)
    return x @ params[-1][0] + params[-1][1]


def bce(logits, label):
    return jnp.mean(optax.sigmoid_binary_cross_entropy(logits, jnp.full_like(logits, label)))


opt_g = optax.adam(1e-3, b1=0.5)
opt_d = optax.inject_hyperparams(optax.adam)(learning_rate=lr_d, b1=0.5)


def train_gan(use_gap, steps=1500):
    kg, kd, key = jax.random.split(jax.random.PRNGKey(0), 3)
    gen, dis = init_mlp(kg, [4, 32, 32, 2]), init_mlp(kd, [2, 32, 32, 1])
    carry = (gen, dis, opt_g.init(gen), opt_d.init(dis), gap.init(like=jnp.zeros(())), key)

    def step(carry, _):
        gen, dis, sg, sd, sc, key = carry
        key, k1, k2, k3 = jax.random.split(key, 4)
        real = centers[jax.random.randint(k1, (batch,), 0, 8)] + 0.05 * jax.random.normal(k2, (batch, 2))
        z = jax.random.normal(k3, (batch, 4))
        fake = mlp(gen, z)
        loss_d, grad_d = jax.value_and_grad(lambda d: bce(mlp(d, real), 1.0) + bce(mlp(d, fake), 0.0))(dis)
        sd.hyperparams["learning_rate"] = jnp.where(use_gap, gap.lr(sc), lr_d)
        upd, sd = opt_d.update(grad_d, sd, dis)
        dis = optax.apply_updates(dis, upd)
        sc = gap.update(sc, loss_d)
        grad_g = jax.grad(lambda g: bce(mlp(dis, mlp(g, z)), 1.0))(gen)
        upd, sg = opt_g.update(grad_g, sg, gen)
        return (optax.apply_updates(gen, upd), dis, sg, sd, sc, key), (loss_d, sd.hyperparams["learning_rate"])

    (gen, *_), (losses, lr_trace) = jax.lax.scan(step, carry, None, length=steps)
    return losses, lr_trace, mlp(gen, jax.random.normal(jax.random.PRNGKey(99), (1000, 4)))


losses, lr_trace, samples = jax.jit(jax.vmap(train_gan))(jnp.array([True, False]))
fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.6))
smooth = np.array([np.convolve(np.asarray(l_), np.ones(50) / 50, mode="valid") for l_ in losses])
a1.plot(smooth[0], label="GapAware")
a1.plot(smooth[1], label="constant LR")
a1.axhline(IDEAL_LOSSES["bce"], color="k", ls="--", lw=0.8, label="log 4 (equilibrium)")
a1.set(xlabel="step", ylabel="discriminator loss (50-step mean)", title="discriminator loss")
a1.legend(fontsize=8)
for i, name in enumerate(("GapAware", "constant LR")):
    a2.scatter(*np.asarray(samples[i]).T, s=3, alpha=0.5, label=name)
a2.scatter(*np.asarray(centers).T, c="k", marker="x", label="modes")
a2.set(title="generator samples", aspect="equal")
a2.legend(fontsize=8)
plt.tight_layout()
plt.show()
late = np.asarray(losses[:, -400:]).mean(1)
print(f"late discriminator loss: GapAware {late[0]:.3f}, constant {late[1]:.3f} (ideal {IDEAL_LOSSES['bce']:.3f}); "
      f"GapAware LR range {float(lr_trace[0].min()):.1e}..{float(lr_trace[0].max()):.1e}")

# %% [markdown]
# **Reading.** At a constant LR the discriminator wins (its loss sinks well below `log 4`), while GapAware lowers
# its LR whenever it gets ahead and holds its loss near the equilibrium value. The price shows in the samples: with
# a weaker discriminator they are more diffuse around the modes (measured on this setup in `tests/test_gap_aware.py`).

# %% [markdown]
# ## LRTuner's look-ahead in torch
#
# Least squares with a small MLP, SGD from LR 1e-3 (100x too small). Every 50 updates LRTuner (after Iyer et al.,
# arXiv 2105.14526) calls the loop's `lookahead(lr, steps)`: snapshot model and optimizer, train 10 updates at each
# candidate `lr x {0.3, 1, 3}`, measure a held-out loss, restore. It keeps the best candidate.

# %%
torch.manual_seed(0)
xt = torch.randn(2048, 8)
yt = xt @ torch.randn(8, 1) + 0.1 * torch.randn(2048, 1)
x_val, y_val, x_tr, y_tr = xt[:256], yt[:256], xt[256:], yt[256:]


def make():
    torch.manual_seed(1)
    model = torch.nn.Sequential(torch.nn.Linear(8, 32), torch.nn.Tanh(), torch.nn.Linear(32, 1))
    return model, torch.optim.SGD(model.parameters(), lr=1e-3)


def train_step(model, opt, i, lr):
    for group in opt.param_groups:
        group["lr"] = lr
    idx = torch.arange(32 * i, 32 * (i + 1)) % len(x_tr)
    loss = torch.nn.functional.mse_loss(model(x_tr[idx]), y_tr[idx])
    opt.zero_grad()
    loss.backward()
    opt.step()


def val_loss(model):
    with torch.no_grad():
        return float(torch.nn.functional.mse_loss(model(x_val), y_val))


def run(tuner, n=400):
    model, opt = make()
    state = tuner.init(lr=1e-3) if tuner else None
    lrs, vals = [], []
    for i in range(n):
        if tuner and tuner.due(state):

            def lookahead(lr, steps, i=i):
                snapshot = copy.deepcopy((model.state_dict(), opt.state_dict()))
                for k in range(steps):
                    train_step(model, opt, i + k, lr)
                loss = val_loss(model)
                model.load_state_dict(snapshot[0])
                opt.load_state_dict(snapshot[1])
                return loss

            state = tuner.explore(state, lookahead)
        lr = float(state.lr) if tuner else 1e-3
        train_step(model, opt, i, lr)
        if tuner:
            state = tuner.update(state, float("nan"))  # between explorations it only counts updates
        lrs.append(lr)
        vals.append(val_loss(model))
    return np.array(lrs), np.array(vals)


tuned_lrs, tuned_val = run(LRTuner(factors=(0.3, 1.0, 3.0), interval=50, lookahead_steps=10))
_, const_val = run(None)
fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.4))
a1.semilogy(tuned_lrs)
a1.set(xlabel="update", ylabel="LR", title="LRTuner's LR (explores every 50 updates)")
a2.semilogy(tuned_val, label="LRTuner")
a2.semilogy(const_val, label="constant 1e-3")
a2.set(xlabel="update", ylabel="held-out MSE", title="held-out loss")
a2.legend(fontsize=9)
plt.tight_layout()
plt.show()
print(f"final LR {tuned_lrs[-1]:.3g}; held-out MSE {tuned_val[-1]:.4f} vs {const_val[-1]:.4f}; "
      f"extra cost {8 * 3 * 10} look-ahead updates for {len(tuned_lrs)} training updates")

# %% [markdown]
# **Reading.** Each exploration can multiply the LR by at most 3, so from a 100x-too-small start it climbs in a
# staircase (and comes back down once the loss is near its floor), with a held-out loss far below the constant-LR
# run. The price is `len(factors) x lookahead_steps` extra updates plus a snapshot/restore per exploration: here
# 60 % more updates than the training itself.

# %% [markdown]
# ## LEAP as an Optax transformation
#
# LEAP (Liu et al., arXiv 2208.11873) is not a schedule: it perturbs the learning rate of every coordinate at every
# update, `eta_t (1 + sigma xi)`. As an Optax transform it goes last in the chain, after the LR scaling:
# `optax.chain(optax.sgd(sched), leap_optax(sigma))`. Softmax regression on noisy 2-D blobs, cosine-decayed SGD.

# %%
rng = np.random.default_rng(0)
means = rng.normal(size=(4, 2)) * 2.5
labels = rng.integers(0, 4, 1024)
feats = jnp.asarray(means[labels] + rng.normal(size=(1024, 2)), jnp.float32)
labels = jnp.asarray(labels)


def xent(p, xb, yb):
    return optax.softmax_cross_entropy_with_integer_labels(xb @ p["w"] + p["b"], yb).mean()


sched = L.cosine_decay(0.5, 300)


def train_leap(sigma):
    opt = optax.chain(optax.sgd(sched), leap_optax(sigma=sigma, seed=1))
    params = {"w": jnp.zeros((2, 4)), "b": jnp.zeros(4)}

    def step(carry, t):
        p, s = carry
        idx = jax.random.randint(jax.random.fold_in(jax.random.PRNGKey(2), t), (32,), 0, 1024)
        loss, g = jax.value_and_grad(xent)(p, feats[idx], labels[idx])
        u, s = opt.update(g, s, p)
        ratio = u["w"] / (-sched(t) * g["w"])  # the realised per-coordinate LR factor 1 + sigma xi
        return (optax.apply_updates(p, u), s), (xent(p, feats, labels), ratio)

    _, (curve, ratios) = jax.lax.scan(step, (params, opt.init(params)), jnp.arange(300))
    return np.asarray(curve), np.asarray(ratios)


fig, (a1, a2) = plt.subplots(1, 2, figsize=(11, 3.4))
for sigma in (0.0, 0.5, 1.0):
    curve, ratios = train_leap(sigma)
    a1.plot(curve, label=f"sigma = {sigma}")
    if sigma:
        a2.hist(ratios.ravel(), bins=60, histtype="step", density=True, label=f"sigma = {sigma}")
a1.set(xlabel="step", ylabel="full-data loss", title="cosine-decayed SGD with and without LEAP", ylim=(0.1, None))
a1.legend(fontsize=9)
a2.set(xlabel="per-coordinate LR / eta_t", title="realised LR factors")
a2.legend(fontsize=9)
plt.tight_layout()
plt.show()

# %% [markdown]
# **Reading.** The realised per-coordinate LR factors are `N(1, sigma^2)` around the schedule, so the noise anneals
# with the cosine and vanishes where the gradient does; on this convex toy it costs a little loss along the way
# and ends near the plain run. The paper's claim (flatter minima, better generalisation) needs non-convex models,
# and its exact noise parameterisation is a reading here (see `lrsched.adapters.leap`).
