# %% [markdown]
# # 1. Gallery: every schedule and combinator
#
# Every lrsched schedule is an immutable value `step -> lr`. This notebook draws each one over 1,000
# steps with `lrsched.plotting` (matplotlib): shaded spans are the schedule's **named phases**
# (`schedule.phase_at(step)`, e.g. the warmup of `warmup(...)` or the phases of `lrsched.phases(...)`),
# dotted lines mark warmup ends, phase boundaries and restarts.

# %%
%matplotlib inline
import matplotlib.pyplot as plt
import numpy as np

import lrsched as L
from lrsched import plotting

plt.rcParams["figure.dpi"] = 100
T = 1000
steps = np.arange(T)


def gallery(items, cols=4):
    """One small `lrsched.plot` panel per schedule: named phases shaded, warmup ends / restarts marked."""
    fig = plotting.gallery(dict(items), T, cols=cols)
    fig.set_size_inches(3.4 * cols, 2.4 * -(-len(items) // cols))  # its constrained layout follows the size
    plt.show()

# %% [markdown]
# ## Primitive schedules

# %%
primitives = [
    ("constant(1.0)", L.constant(1.0)),
    ("linear(1.0, 0.1, 800)", L.linear(1.0, 0.1, 800)),
    ("polynomial(..., power=2)", L.polynomial(1.0, 0.0, T, power=2.0)),
    ("step_decay(1.0, 250, 0.5)", L.step_decay(1.0, step_size=250, drop=0.5)),
    ("multistep_decay(1.0, (500, 750), 0.1)", L.multistep_decay(1.0, (500, 750), 0.1)),
    ("piecewise_constant", L.piecewise_constant((300, 600), (1.0, 0.5, 0.2))),
    ("piecewise_linear", L.piecewise_linear(((0, 0.0), (100, 1.0), (600, 0.3), (1000, 0.0)))),
    ("exponential_decay(1.0, 0.01, 1000)", L.exponential_decay(1.0, 0.01, transition_steps=T)),
    ("natural_exp_decay(1.0, 0.005)", L.natural_exp_decay(1.0, 0.005)),
    ("inverse_time_decay(1.0, 0.01)", L.inverse_time_decay(1.0, 0.01)),
    ("inverse_sqrt(1.0, warmup 100)", L.inverse_sqrt(1.0, warmup_steps=100)),
    ("cosine_decay(1.0, 1000, 0.05)", L.cosine_decay(1.0, T, end_value=0.05)),
    ("cosine_restarts(period 100, x2)", L.cosine_restarts(1.0, first_period=100, period_mult=2.0)),
    ("one_cycle(1.0, 1000)", L.one_cycle(1.0, T)),
    ("cyclic(triangular2)", L.cyclic(0.1, 1.0, step_size_up=125, mode="triangular2")),
    ("wsd(1.0, 1000, decay 200, warmup 100)", L.wsd(1.0, T, decay_steps=200, warmup_steps=100)),
    ("rex(1.0, 1000)", L.rex(1.0, T)),
    ("taso(1.0, 1000, 0.01)", L.taso(1.0, T, 0.01)),
    ("eigencurve(10, 0.5, phases)", L.eigencurve(10.0, 0.5, (300, 200, 150, 100, 250))),
]
gallery(primitives)

# %% [markdown]
# ## Combinators
#
# Combinators take schedules and return schedules, so they nest. `warmup` puts a ramp in front of
# any schedule (its clock starts after the warmup by default); `join` / `phases` run schedules one
# after another; `cycle` repeats one; arithmetic (`+`, `*`, `scale`), `minimum`/`maximum`, `clip`,
# `shift`, `quantize` (per-epoch staircase) and `perturb` (seeded noise) transform them.

# %%
cos = L.cosine_decay(1.0, 900, end_value=0.0)
combinators = [
    ("warmup(cosine, 100)", L.warmup(cos, warmup_steps=100)),
    ("warmup(..., shape='exponential')", L.warmup(cos, warmup_steps=100, init_value=0.01, shape="exponential")),
    ("join(constant, linear) at 600", L.join((L.constant(1.0), L.linear(1.0, 0.0, 400)), (600,))),
    ("phases(warmup/train/anneal)", L.phases(("warmup", L.linear(0.0, 1.0, 100), 100),
                                               ("train", L.constant(1.0), 600),
                                               ("anneal", L.cosine_decay(1.0, 300), None))),
    ("cycle(linear, 250, decay 0.7)", L.cycle(L.linear(1.0, 0.0, 250), period=250, decay=0.7)),
    ("shift(cosine, 200)", L.shift(cos, 200)),
    ("clip(cosine, 0.2, 0.8)", L.clip(cos, min_value=0.2, max_value=0.8)),
    ("scale(cosine, 0.5) + 0.1", L.scale(cos, 0.5) + 0.1),
    ("cosine * step_decay", cos * L.step_decay(1.0, 300, 0.5)),
    ("minimum(linear ramp, cosine)", L.minimum(L.linear(0.0, 2.0, 300), cos)),
    ("maximum(cosine, 0.3)", L.maximum(cos, 0.3)),
    ("quantize(cosine, 100 steps/epoch)", L.quantize(cos, steps_per_epoch=100)),
    ("perturb(cosine, 0.1, seed=0)", L.perturb(cos, 0.1, seed=0, every=10)),
]
gallery(combinators)

# %% [markdown]
# ## Named phases drive the training loop
#
# `phase_at(step)` tells a loop what to do, e.g. switch data for an annealing phase
# (notebook 5 does this for real).

# %%
plan = L.phases(("warmup", L.linear(0.0, 3e-4, 100), 100),
                ("stable", L.constant(3e-4), 700),
                ("anneal", L.linear(3e-4, 3e-6, 200), None))
for s in (0, 99, 100, 799, 800, 999):
    print(f"step {s:4d}: phase={plan.phase_at(s)!s:7s} lr={plan(s):.2e}")

# %% [markdown]
# ## Every schedule is a value: repr, equality, config round trip
#
# The same value runs on Python numbers, NumPy, JAX (also jitted) and torch tensors.

# %%
print(repr(plan))
cfg = plan.to_config()
assert L.from_config(cfg) == plan
np.testing.assert_allclose(L.from_config(cfg)(steps), plan(steps))
print("config keys:", sorted(cfg))
