# %% [markdown]
# # 4. Keras: `model.fit` with an lrsched schedule, then save and load the model
#
# `lrsched.adapters.keras.KerasSchedule` wraps any lrsched schedule as a Keras
# `LearningRateSchedule`. It runs inside the compiled train step of the active backend (JAX here), and it
# serializes through lrsched's config, so a saved `.keras` model loads back **with its schedule** and no
# `custom_objects` (once `lrsched.adapters.keras` is imported).

# %%
import os

os.environ["KERAS_BACKEND"] = "jax"  # must be set before keras is imported
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # keep TensorFlow's start-up chatter
os.environ.setdefault("TF_ENABLE_ONEDNN_OPTS", "0")  # out of the output (Keras loads TF for file I/O)

%matplotlib inline
import tempfile

import keras
import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits

import lrsched as L
from lrsched.adapters.keras import KerasSchedule

plt.rcParams["figure.dpi"] = 100
keras.utils.set_random_seed(0)
x, y = load_digits(return_X_y=True)
order = np.random.default_rng(0).permutation(len(y))
x, y = (x / 16.0).astype("float32")[order], y[order]
x_train, y_train, x_test, y_test = x[:1400], y[:1400], x[1400:], y[1400:]
EPOCHS, BATCH = 12, 50
STEPS = EPOCHS * (len(y_train) // BATCH)
print(keras.backend.backend(), keras.__version__, f"{STEPS} steps")

# %% [markdown]
# ## One schedule value, handed to the optimizer

# %%
schedule = L.warmup(L.cosine_decay(3e-3, STEPS - 50, end_value=3e-5), warmup_steps=50)
model = keras.Sequential([
    keras.Input((64,)),
    keras.layers.Dense(128, activation="relu"),
    keras.layers.Dense(10),
])
model.compile(
    optimizer=keras.optimizers.Adam(learning_rate=KerasSchedule(schedule)),
    loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
    metrics=["accuracy"],
)


class LogLR(keras.callbacks.Callback):
    """Record the LR the optimizer used at every step."""

    def on_train_batch_begin(self, batch, logs=None):
        self.lrs = getattr(self, "lrs", [])
        self.lrs.append(schedule(int(self.model.optimizer.iterations)))


log = LogLR()
hist = model.fit(x_train, y_train, batch_size=BATCH, epochs=EPOCHS, shuffle=True, verbose=0, callbacks=[log])
loss, acc = model.evaluate(x_test, y_test, verbose=0)
print(f"held-out accuracy {acc:.1%} after {int(model.optimizer.iterations)} steps")

# %%
fig, (a, b) = plt.subplots(1, 2, figsize=(11, 3.2))
a.plot(log.lrs)
a.set(title="learning rate used at each step", xlabel="step")
b.plot(hist.history["loss"], marker="o")
b.set(title="training loss per epoch", xlabel="epoch", yscale="log")
plt.show()

# %% [markdown]
# ## Save and load: the schedule travels with the model

# %%
path = os.path.join(tempfile.mkdtemp(), "digits.keras")
model.save(path)
restored = keras.models.load_model(path)
lr_obj = restored.optimizer._learning_rate
print(type(lr_obj).__name__, "->", lr_obj.schedule)
assert lr_obj.schedule == schedule
np.testing.assert_allclose(restored.predict(x_test, verbose=0), model.predict(x_test, verbose=0), rtol=1e-5, atol=1e-6)
assert int(restored.optimizer.iterations) == STEPS
print("restored model: same predictions, same schedule, same step count")
