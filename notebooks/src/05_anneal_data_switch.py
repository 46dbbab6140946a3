# %% [markdown]
# # 5. Annealing with a data switch, driven by named phases
#
# A common recipe for the end of training: keep the LR high on the bulk data, then **anneal** -- lower
# the LR to its floor while training only on a smaller, **cleaner** subset -- and save the model together
# with the schedule that made it. Here the phases are named in the schedule itself
# (`lrsched.phases(...)`), and the loop asks `schedule.phase_at(step)` which data to draw from.
#
# Data: scikit-learn's bundled digits. The bulk training set has 40% of its labels replaced by random
# ones (web-scale data is noisy); a 300-sample subset is clean. Model: softmax regression in NumPy, so
# the only dependencies are lrsched, NumPy and scikit-learn.

# %%
%matplotlib inline
import json
import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

import lrsched as L

plt.rcParams["figure.dpi"] = 100
rng = np.random.default_rng(0)
x, y = load_digits(return_X_y=True)
x = np.hstack([x / 16.0, np.ones((len(x), 1))])  # bias column
order = rng.permutation(len(y))
x, y = x[order], y[order]
x_test, y_test = x[1400:], y[1400:]
x_bulk, y_bulk = x[:1100], y[:1100].copy()
flip = rng.random(len(y_bulk)) < 0.4
y_bulk[flip] = rng.integers(0, 10, flip.sum())  # 40% label noise in the bulk data
x_clean, y_clean = x[1100:1400], y[1100:1400]  # the high-quality subset
print(f"bulk: {len(y_bulk)} samples ({flip.mean():.0%} relabelled at random), clean: {len(y_clean)}, test: {len(y_test)}")

# %% [markdown]
# ## The plan: named phases
#
# Warm up for 100 steps, train at a constant LR for 1,400, then anneal linearly to a floor of 1% over
# 500 steps. The phase names are part of the schedule value (and of its saved config).

# %%
PEAK, FLOOR = 0.5, 0.005
plan = L.phases(
    ("warmup", L.linear(0.0, PEAK, 100), 100),
    ("train", L.constant(PEAK), 1400),
    ("anneal", L.linear(PEAK, FLOOR, 500), None),
)
TOTAL = 2000
print(plan)
print({s: plan.phase_at(s) for s in (0, 100, 1499, 1500, 1999)})

# %% [markdown]
# ## The loop: the phase picks the data
#
# Minibatch SGD on the cross-entropy. In the `anneal` phase, batches come from the clean subset. The
# loop stops when the LR has reached its floor (or the clean loss stops moving).

# %%
def softmax_xent_grad(w, xb, yb):
    z = xb @ w
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    loss = -np.mean(np.log(p[np.arange(len(yb)), yb] + 1e-12))
    p[np.arange(len(yb)), yb] -= 1.0
    return loss, xb.T @ p / len(yb)


def accuracy(w):
    return float(np.mean(np.argmax(x_test @ w, 1) == y_test))


def train(schedule, switch_data=True, seed=1, batch=32):
    r = np.random.default_rng(seed)
    w = np.zeros((x.shape[1], 10))
    log = {"lr": [], "loss": [], "phase": []}
    for step in range(TOTAL):
        phase, lr = schedule.phase_at(step), schedule(step)
        xs, ys = (x_clean, y_clean) if (switch_data and phase == "anneal") else (x_bulk, y_bulk)
        idx = r.integers(0, len(ys), batch)
        loss, g = softmax_xent_grad(w, xs[idx], ys[idx])
        w -= lr * g
        log["lr"].append(lr), log["loss"].append(loss), log["phase"].append(phase)
        if phase == "anneal" and lr <= FLOOR * (1 + 1e-9):
            break  # the LR reached its floor: the anneal is done
    return w, log


# Control: the same phases and data switch at a constant LR (the "anneal" phase does not lower it).
flat = L.phases(
    ("warmup", L.linear(0.0, PEAK, 100), 100),
    ("train", L.constant(PEAK), 1400),
    ("anneal", L.constant(PEAK), None),
)
w_switch, log_switch = train(plan, switch_data=True)
w_bulk, log_bulk = train(plan, switch_data=False)
w_const, log_const = train(L.phases(("train", L.constant(PEAK), None)), switch_data=False)
w_flat, log_flat = train(flat, switch_data=True)
results = {
    "constant LR, noisy data only": accuracy(w_const),
    "anneal, noisy data only": accuracy(w_bulk),
    "constant LR, clean subset last": accuracy(w_flat),
    "anneal on the clean subset": accuracy(w_switch),
}
for k, v in results.items():
    print(f"{k:32s} held-out accuracy {v:.1%}")

# %% [markdown]
# The clean subset is data the first two runs never train on: the comparison shows what the workflow
# buys (a clean final phase at a falling LR), not a contest between schedules. Annealing alone on the
# noisy data helps little. The third run separates the data from the anneal: it switches to the clean
# subset for the same last 500 steps but keeps the LR constant. Most of the gain comes from the clean
# data itself; lowering the LR while training on it adds the rest.

# %%
fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.2))
steps = np.arange(len(log_switch["lr"]))
a.plot(steps, log_switch["lr"], color="k")
for name, color in (("warmup", "C1"), ("train", "C2"), ("anneal", "C3")):
    idx = [i for i, p in enumerate(log_switch["phase"]) if p == name]
    a.axvspan(idx[0], idx[-1], color=color, alpha=0.15, label=name)
a.set(title="LR and phases", xlabel="step")
a.legend(fontsize=8)


def smooth(v, k=50):
    return np.convolve(v, np.ones(k) / k, mode="valid")


b.plot(smooth(log_const["loss"]), label="constant, noisy data")
b.plot(smooth(log_bulk["loss"]), label="anneal, noisy data")
b.plot(smooth(log_switch["loss"]), label="anneal on clean subset")
b.set(title="minibatch loss (50-step mean)", xlabel="step")
b.legend(fontsize=8)
plt.show()

# %% [markdown]
# ## Save the model and the schedule that made it
#
# The schedule is a value: its config (phase names included) goes next to the weights, and
# `lrsched.from_config` rebuilds exactly the same schedule later.

# %%
out = tempfile.mkdtemp()
np.save(os.path.join(out, "weights.npy"), w_switch)
with open(os.path.join(out, "schedule.json"), "w") as fh:
    json.dump({"schedule": plan.to_config(), "stopped_at_step": len(log_switch["lr"]),
               "anneal_data": "clean subset"}, fh, indent=1)

with open(os.path.join(out, "schedule.json")) as fh:
    saved = json.load(fh)
restored = L.from_config(saved["schedule"])
assert restored == plan and restored.phase_at(1700) == "anneal"
w_loaded = np.load(os.path.join(out, "weights.npy"))
assert accuracy(w_loaded) == results["anneal on the clean subset"]
print(sorted(os.listdir(out)), "| restored:", restored.phase_at(0), "->", restored.phase_at(TOTAL - 1))
