# %% [markdown]
# # 3. PyTorch: `LambdaLR` adapter and GreedyLR, with checkpoint and resume
#
# * `lrsched.adapters.torch.schedule_lr(optimizer, schedule)` is a real `torch.optim.lr_scheduler.LambdaLR`
#   whose groups get the schedule's **absolute** LR (`group["lr"] == schedule(k)` after `k` steps);
# * `GreedyLRScheduler(optimizer, settings)` is GreedyLR as a torch scheduler (`scheduler.step(loss)`).
#
# Both `state_dict()`s are plain data, so a checkpoint loads with `torch.load(..., weights_only=True)`.
# We train a small CNN on scikit-learn's digits, stop half-way, save, rebuild everything from scratch,
# resume, and check that the resumed run is **identical** to one that never stopped.

# %%
%matplotlib inline
import os
import tempfile

import matplotlib.pyplot as plt
import numpy as np
import torch
from sklearn.datasets import load_digits

import lrsched as L
from lrsched.adapters.torch import GreedyLRScheduler, schedule_lr

plt.rcParams["figure.dpi"] = 100
torch.set_num_threads(1)
x, y = load_digits(return_X_y=True)
order = np.random.default_rng(0).permutation(len(y))
x = torch.tensor((x / 16.0)[order], dtype=torch.float32).reshape(-1, 1, 8, 8)
y = torch.tensor(y[order])
x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]
STEPS, BATCH, CKPT = 300, 64, 150
batches = torch.randint(0, len(y_train), (STEPS, BATCH), generator=torch.Generator().manual_seed(0))


def make_model():
    torch.manual_seed(0)
    return torch.nn.Sequential(
        torch.nn.Conv2d(1, 16, 3, padding=1), torch.nn.ReLU(), torch.nn.MaxPool2d(2),
        torch.nn.Flatten(), torch.nn.Linear(16 * 4 * 4, 10),
    )


def accuracy(model):
    with torch.no_grad():
        return float((model(x_test).argmax(1) == y_test).float().mean())

# %% [markdown]
# ## A training loop that can stop and resume
#
# `run(make_scheduler, start, stop, ckpt)` trains steps `[start, stop)`; with `ckpt` it first restores
# the model, optimizer and scheduler from that file. The scheduler is stepped after every optimizer
# step; GreedyLR is passed the minibatch loss.

# %%
def run(make_scheduler, start=0, stop=STEPS, ckpt=None, save=None):
    model = make_model()
    opt = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    sched = make_scheduler(opt)
    if ckpt is not None:
        state = torch.load(ckpt, weights_only=True)
        model.load_state_dict(state["model"])
        opt.load_state_dict(state["opt"])
        sched.load_state_dict(state["sched"])
    lrs, losses = [], []
    for t in range(start, stop):
        idx = batches[t]
        loss = torch.nn.functional.cross_entropy(model(x_train[idx]), y_train[idx])
        opt.zero_grad()
        loss.backward()
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        if isinstance(sched, GreedyLRScheduler):
            sched.step(loss.item())
        else:
            sched.step()
        losses.append(loss.item())
    if save is not None:
        torch.save({"model": model.state_dict(), "opt": opt.state_dict(), "sched": sched.state_dict()}, save)
    return model, lrs, losses

# %% [markdown]
# ## `LambdaLR` with warmup ∘ cosine
#
# The optimizer's own `lr=0.1` is ignored: the schedule gives absolute values.

# %%
schedule = L.warmup(L.cosine_decay(0.05, STEPS - 20, end_value=5e-4), warmup_steps=20)
make_cos = lambda opt: schedule_lr(opt, schedule)
print(type(make_cos(torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=0.1))).__mro__[1])

tmp = tempfile.mkdtemp()
full_model, full_lrs, _ = run(make_cos)
run(make_cos, 0, CKPT, save=os.path.join(tmp, "cos.pt"))
_, first_lrs, _ = run(make_cos, 0, CKPT)
resumed_model, resumed_lrs, _ = run(make_cos, CKPT, STEPS, ckpt=os.path.join(tmp, "cos.pt"))
assert first_lrs + resumed_lrs == full_lrs
assert all(torch.equal(a, b) for a, b in zip(full_model.state_dict().values(), resumed_model.state_dict().values()))
assert full_lrs[CKPT] == schedule(CKPT)
print(f"warmup∘cosine: resumed run identical to the uninterrupted one; held-out accuracy {accuracy(resumed_model):.1%}")

# %% [markdown]
# ## GreedyLR, checkpointed mid-run
#
# GreedyLR's state (LR, best value, counters, smoothing window) is part of the scheduler's
# `state_dict()`, so the resumed controller makes exactly the decisions the uninterrupted one made.

# %%
settings = L.GreedyLR(init_lr=0.05, factor=0.7, patience=10, window=10, cooldown=10, warmup=10,
                      threshold=1e-3, min_lr=5e-4, max_lr=0.1)
make_greedy = lambda opt: GreedyLRScheduler(opt, settings)
full_g, full_g_lrs, full_g_losses = run(make_greedy)
run(make_greedy, 0, CKPT, save=os.path.join(tmp, "greedy.pt"))
state = torch.load(os.path.join(tmp, "greedy.pt"), weights_only=True)["sched"]
resumed_g, resumed_g_lrs, _ = run(make_greedy, CKPT, STEPS, ckpt=os.path.join(tmp, "greedy.pt"))
assert full_g_lrs[CKPT:] == resumed_g_lrs
assert all(torch.equal(a, b) for a, b in zip(full_g.state_dict().values(), resumed_g.state_dict().values()))
print(f"GreedyLR: resumed run identical; held-out accuracy {accuracy(resumed_g):.1%}")
print("scheduler state keys:", sorted(state))

# %%
fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.2))
a.plot(full_lrs, label="warmup∘cosine (LambdaLR)")
a.plot(full_g_lrs, label="GreedyLR")
a.axvline(CKPT, color="k", ls=":", label="checkpoint / resume")
a.set(title="learning rate", xlabel="step")
a.legend(fontsize=8)
b.plot(np.convolve(full_g_losses, np.ones(10) / 10, mode="valid"), color="C1")
b.axvline(CKPT, color="k", ls=":")
b.set(title="GreedyLR run: minibatch loss (10-step mean)", xlabel="step", yscale="log")
plt.show()
