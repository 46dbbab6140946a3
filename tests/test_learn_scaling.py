"""Meta-training that scales (lrsched.learn): one compilation per family, a persistent compilation cache,
the population split over devices and processes, a resumable checkpoint, and the progress report."""

from __future__ import annotations

import dataclasses
import json
import os
import socket
import subprocess
import sys

import pytest

jax = pytest.importorskip("jax")
jnp = jax.numpy

from lrsched.learn import toy_tasks, train, user_task  # noqa: E402
from lrsched.learn.__main__ import main  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# A few-iteration toy run of the command line (the noisy quadratic, SGD).
TOY = ["train", "--toy", "--steps", "16", "--iterations", "3", "--pairs", "8", "--hidden", "4", "--eval-every", "2"]


def counting(task, counts):
    """``task`` whose problem sampler counts how often it is traced (once per trace of the task's runner)."""

    def sample(key, _inner=task.sample):
        counts[task.name] = counts.get(task.name, 0) + 1
        return _inner(key)

    return dataclasses.replace(task, sample=sample)


def test_each_family_compiles_once_over_calibration_validation_and_iterations():
    counts: dict[str, int] = {}
    quad = toy_tasks(steps=8)["quadratic"]
    bowl = user_task(lambda k: jax.random.normal(k, (3,)), lambda p, k: jnp.sum(p**2) + 0.1, lr=0.1, steps=8)
    family = [counting(quad, counts), counting(dataclasses.replace(bowl, name="bowl"), counts)]
    res = train(family, iterations=2, pairs=2, validation=3, eval_every=1, hidden=3, calibrate=True, progress=False)
    assert res.settings["calibration"] is not None and len(res.history) == 3
    # Calibration (7 LR multipliers), the validations and both iterations share one trace per family: every argument
    # reaches the runner with the same dtype and no weak type, and validation batches are padded to the training size.
    assert counts == {"quadratic": 1, "bowl": 1}


def test_checkpoint_resumes_to_the_same_weights_and_the_cache_serves_the_rerun(tmp_path):
    cache = tmp_path / "cache"
    kw = dict(iterations=4, pairs=4, validation=4, eval_every=2, hidden=3, seed=3, progress=False, compile_cache=cache)
    full = train(toy_tasks(steps=16), checkpoint=tmp_path / "full.json", **kw)
    assert os.listdir(cache) and jax.config.jax_compilation_cache_dir is None  # cached there, then restored

    hits: list[str] = []

    def listen(event, **_):
        if event == "/jax/compilation_cache/cache_hits":
            hits.append(event)

    def interrupt(record):
        if record["iteration"] == 2:
            raise KeyboardInterrupt  # as a Ctrl-C after the second iteration

    ck = tmp_path / "ck.json"
    jax.monitoring.register_event_listener(listen)
    try:
        with pytest.raises(KeyboardInterrupt):
            train(toy_tasks(steps=16), checkpoint=ck, checkpoint_every=3, callback=interrupt, **kw)
    finally:
        jax.monitoring.unregister_event_listener(listen)
    assert hits  # the second run loaded its compiled runner from the cache
    assert json.load(open(ck))["state"]["iteration"] == 2  # saved on the interrupt, not on the every-3 schedule
    resumed = train(toy_tasks(steps=16), checkpoint=ck, resume=True, **kw)
    assert resumed.policy == full.policy and json.dumps(resumed.history) == json.dumps(full.history)
    theta = [json.load(open(p))["state"]["theta"] for p in (ck, tmp_path / "full.json")]
    assert theta[0] == theta[1]  # the final ES iterate, bit for bit
    assert resumed.stats["inner_updates"] < full.stats["inner_updates"]  # only iterations 3 and 4 ran
    with pytest.raises(ValueError, match=r"other settings \(sigma: 0.1 in the checkpoint, 0.2 now\)"):
        train(toy_tasks(steps=16), checkpoint=ck, resume=True, **(kw | {"sigma": 0.2}))
    with pytest.raises(ValueError, match="resume=True needs checkpoint="):
        train(toy_tasks(steps=16), resume=True, iterations=1)


_EIGHT = """
import json, sys, warnings
import jax
from lrsched.learn.__main__ import main
from lrsched.learn.population import Population
toy, out = json.loads(sys.argv[1]), sys.argv[2]
configs = []
for i in range(2):  # the second run loads the first one's compiled runner
    main([*toy, "--out", f"{out}/eight{i}.json", "--compile-cache", f"{out}/cache", "--quiet"])
    configs.append(json.load(open(f"{out}/eight{i}.json")))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    pop = Population(6, jax.devices())
    pop.padding_warning(3)
print(json.dumps({"devices": jax.device_count(), "size": pop.size, "warning": str(caught[0].message),
                  "configs": [c["config"] for c in configs], "stats": configs[0]["meta"]["stats"]}))
"""


def _launch(args: list[str], devices: int, cwd: object) -> subprocess.Popen:
    env = dict(os.environ, JAX_PLATFORMS="cpu", XLA_FLAGS=f"--xla_force_host_platform_device_count={devices}")
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [ROOT, os.environ.get("PYTHONPATH")]))
    return subprocess.Popen(
        [sys.executable, *args], env=env, cwd=cwd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )


def _wait(proc: subprocess.Popen) -> str:
    out, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err[-3000:]
    return out + "\n" + err


@pytest.mark.slow
def test_eight_devices_and_two_processes_give_the_one_device_policy(tmp_path, capsys, monkeypatch):
    # Launched first, so that they run beside this process's one-device run.
    eight = _launch(["-c", _EIGHT, json.dumps(TOY), str(tmp_path)], 8, tmp_path)
    with socket.socket() as s:  # a free port for the coordinator of the two-process run
        s.bind(("localhost", 0))
        port = s.getsockname()[1]
    dist = [*TOY, "--no-compile-cache", "--quiet", "--distributed", f"--coordinator=localhost:{port}"]
    hosts = [
        _launch(
            ["-m", "lrsched.learn", *dist, "--num-processes=2", f"--process-id={i}", "--out", f"host{i}.json"],
            4,
            tmp_path,
        )
        for i in range(2)
    ]
    # This process: one CPU device, the toy family given as a user's own tasks (--tasks module:function).
    (tmp_path / "my_scaling_tasks.py").write_text("from lrsched.learn import toy_tasks\ntasks = toy_tasks\n")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", list(sys.path))  # the command line puts the working directory first
    one = tmp_path / "one.json"
    mine = [a if a != "--toy" else "--tasks=my_scaling_tasks:tasks" for a in TOY]
    assert main([*mine, "--out", str(one), "--no-compile-cache"]) == 0
    err = capsys.readouterr().err  # the progress bar and the summary, on stderr
    assert "meta-training" in err and "inner updates/s on 1 cpu device(s) in 1 process(es)" in err
    reference, meta = json.load(open(one))["config"], json.load(open(one))["meta"]
    assert meta["stats"]["inner_updates_per_second"] > 0 and meta["stats"]["devices"] == 1

    text = _wait(eight)
    assert "meta-training" not in text and "inner updates" not in text  # --quiet
    got = json.loads(text.strip().splitlines()[0])
    # 8 devices: the same policy twice (deterministic), and the same as on one device (the toy family is
    # elementwise, so a run's arithmetic does not depend on how many runs share a device).
    assert got["devices"] == 8 and got["stats"]["devices"] == 8
    assert got["configs"][0] == got["configs"][1] == reference
    # 2 x 3 = 6 runs on 8 devices: padded to 8, with a warning that names pairs and the device count.
    assert got["size"] == 8 and "pairs (--pairs)" in got["warning"] and "device count 8" in got["warning"]
    for p in hosts:
        _wait(p)
    # 2 processes x 4 devices: the same policy; only process 0 writes.
    assert not (tmp_path / "host1.json").exists()
    host = json.load(open(tmp_path / "host0.json"))
    assert host["config"] == reference and host["meta"]["stats"]["processes"] == 2
