"""``LearnedLR``: a learning-rate controller whose rule is a tiny neural network trained on past runs.

Each update reads the monitored loss and turns the recent training signal into a handful of
*features*, all computed in log-loss space (so the policy does not depend on the loss's scale),
relative to the initial LR ``lr0`` (so it does not depend on the LR's scale) and in units of the run's
length ``H`` (the budget when known, else ``default_horizon``; so a policy trained on short runs
acts the same way, stretched, on long ones). ``x`` is the log of the loss; ``fast``, ``mid``,
``slow`` are EMAs of ``x`` with rates ``25/H``, ``6.4/H`` and ``1.6/H`` per step (about 4%, 16%
and 60% of the run; 10, 40 and 160 steps when ``H = 256``):

==============  ==========================================================  =======
feature         definition                                                   scale
==============  ==========================================================  =======
``log_lr``      ``log(lr / lr0)`` (the policy's own LR, before the base)        1/3
``slope_fast``  ``fast - mid`` (< 0 while the loss falls)                       3
``slope_slow``  ``mid - slow``                                                  3
``rel_start``   ``mid - x_0`` (progress since the first loss)                 1/3
``rel_best``    ``fast - min_t mid`` (> 0 after the loss rose above its best)   3
``noise``       ``sqrt(EMA_fast of (x - fast)^2)`` (noise in log units)         3
``budget``      ``step / budget``, clipped to 1 (0 when no budget is known)     1
``has_budget``  1 when a budget is known, else 0                                1
``lr_change``   EMA_fast of the applied change of ``log lr`` per step, as a     1
                fraction of the largest allowed change
==============  ==========================================================  =======

The policy is a one-hidden-layer MLP, ``z = b2 + sum_j w2[j] tanh(b1[j] + sum_i w1[j][i] f_i)``
(``f_i`` = feature times its scale), and the LR moves by a bounded factor every update::

    lr_{t+1} = clip(lr_t * exp(max_change * (100 / H) * tanh(z)), lr0 * min_scale, lr0 * max_scale)

(``max_change``: the largest change of ``log lr`` over 1% of the run).

**Budget-aware base.** With a known budget the LR applied at update ``t`` (0-based) is the policy's LR
times a fixed base schedule of ``u = t / H`` (``warmup`` and ``anneal`` are fractions of the run)::

    base(t) = min(1, (t + 1) / (warmup * H)) * clip((1 - u) / anneal, 0, 1)

(a factor is 1 when its fraction is 0): a linear warmup and a linear anneal to 0 over the last
``anneal`` of the run, the shape of a warmup-stable-decay schedule. The final anneal then comes for
free and the policy only has to correct a mis-set LR and react to stalls. Without a known budget the
base is 1. The policy's features see its own LR (``lr / base``), not the applied one.

A non-finite loss leaves the EMAs alone and halves the LR. Losses are taken as positive (values
below 1e-30 count as 1e-30). ``step`` counts updates (one per optimizer step).

The network's weights are fields of the frozen value, so it saves (``to_config``), loads
(``lrsched.from_config``), hashes and pickles like every lrsched value. The update is written once
against the array namespace ``xp`` with explicit sums over constant weights (``tanh`` from ``exp``),
so it runs on Python floats, NumPy, JAX (``jit``/``vmap``/``scan``) and torch tensors alike.
The same rule, with the weights as arrays, is what :mod:`lrsched.learn` meta-trains (evolution
strategies over a distribution of small training tasks; in the spirit of Xu, Dai, Kemp & Metz,
"Learning an Adaptive Learning Rate Schedule", arXiv 1909.09712).

Example:
    >>> import lrsched
    >>> ctrl = lrsched.LearnedLR.default(budget=100)
    >>> s = ctrl.init(lr=0.1)
    >>> for loss in (2.0, 1.8, 1.7):
    ...     s = ctrl.update(s, loss)
    >>> 0.0 < ctrl.lr(s) < 1.0
    True
"""

from lrsched.controllers.learned.closure import learned
from lrsched.controllers.learned.features import FEATURE_SCALES, FEATURES, features_of
from lrsched.controllers.learned.policy import LearnedLR
from lrsched.controllers.learned.rule import LearnedState, base_factor, initial_state, mlp, policy_step

__all__ = [
    "FEATURES",
    "FEATURE_SCALES",
    "LearnedLR",
    "LearnedState",
    "base_factor",
    "features_of",
    "initial_state",
    "learned",
    "mlp",
    "policy_step",
]
