"""The command line through real subprocesses: exit codes, printed values, files written, one-line errors."""

from __future__ import annotations

import csv
import json
import math
import os
import shutil
import struct
import subprocess
import sys

import numpy as np
import pytest

import lrsched as L

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
# The checkout's lrsched, also where a test runs in another folder.
ENV = {
    **os.environ,
    "MPLBACKEND": "Agg",
    "PYTHONWARNINGS": "ignore",
    "PYTHONPATH": os.pathsep.join(p for p in (ROOT, os.environ.get("PYTHONPATH")) if p),
}
WARM_COS = {
    "name": "warmup",
    "schedule": {"name": "cosine_decay", "init_value": 0.1, "decay_steps": 900},
    "warmup_steps": 100,
}


def run(*args: str, cwd=None, code: str | None = None) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "lrsched", *args] if code is None else [sys.executable, "-c", code, *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, cwd=cwd, timeout=120)


def png_size(path) -> tuple[int, int]:
    with open(path, "rb") as fh:
        head = fh.read(24)
    assert head[:8] == b"\x89PNG\r\n\x1a\n"
    return struct.unpack(">II", head[16:24])


def assert_one_line_error(proc, *needles: str) -> None:
    assert proc.returncode == 2, proc
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1, proc.stderr
    assert lines[0].startswith("lrsched: error: ")
    assert "Traceback" not in proc.stderr
    for needle in needles:
        assert needle in lines[0]


def test_show_prints_chart_and_key_values_and_writes_csv_and_png(tmp_path):
    proc = run("show", json.dumps(WARM_COS), "--steps", "1000", "--csv", "v.csv", "--png", "v.png", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    out = proc.stdout
    assert "start  0 (step 0)" in out
    assert "peak   0.1 (step 100)" in out  # the warmup reaches the cosine's initial value at step 100
    end = 0.05 * (1 + math.cos(math.pi * 899 / 900))  # independent cosine formula at step 999
    assert f"end    {end:.6g} (step 999)" in out
    assert "warmup end: 100" in out
    assert "#" in out and "+----" in out  # the terminal chart
    with open(tmp_path / "v.csv") as fh:
        rows = list(csv.DictReader(fh))
    assert len(rows) == 1000
    assert rows[50] == {"step": "50", "lr": repr(0.1 * 50 / 100), "phase": "warmup"}
    assert float(rows[550]["lr"]) == pytest.approx(0.05 * (1 + math.cos(math.pi * 450 / 900)), rel=1e-12)
    assert png_size(tmp_path / "v.png") == (800, 450)  # figsize (8, 4.5) at 100 dpi
    assert (tmp_path / "v.png").stat().st_size > 5000


def test_show_reports_phases_restarts_and_reads_json_and_yaml_files(tmp_path):
    sched = L.phases(
        ("explore", L.cosine_restarts(1.0, first_period=100), 300), ("anneal", L.linear(1.0, 0.0, 100), None)
    )
    (tmp_path / "s.json").write_text(json.dumps(sched.to_config()))
    proc = run("show", str(tmp_path / "s.json"), "--steps", "400", "--log")
    assert proc.returncode == 0, proc.stderr
    assert "restarts: 100, 200" in proc.stdout
    assert "boundary: 300 (anneal)" in proc.stdout
    assert "phases: explore 0-300, anneal 300-399" in proc.stdout
    yaml = pytest.importorskip("yaml")
    (tmp_path / "s.yaml").write_text(yaml.safe_dump(sched.to_config()))
    again = run("show", str(tmp_path / "s.yaml"), "--steps", "400", "--log")
    assert again.returncode == 0 and again.stdout == proc.stdout


def test_list_shows_every_schedule_with_parameters_and_defaults():
    proc = run("list")
    assert proc.returncode == 0
    for name in L.registry():
        assert f"  {name}(" in proc.stdout
    assert "cosine_decay(init_value, decay_steps, end_value=0.0, exponent=1.0)" in proc.stdout
    assert "warmup(schedule, warmup_steps, init_value=0.0, shape='linear', clock='after_warmup')" in proc.stdout
    combinators = proc.stdout.split("Combinators")[1]
    assert "  join(" in combinators and "  cosine_decay(" not in combinators
    assert "greedy(init_lr=None, factor=0.95" in proc.stdout


@pytest.mark.parametrize(
    ("args", "needles"),
    [
        (
            ["show", '{"name": "cosine_decy", "init_value": 1}'],
            ["unknown name 'cosine_decy'; did you mean 'cosine_decay'"],
        ),
        (["show", '{"name": "rex", "init_value": 1,'], ["not valid JSON"]),
        (["show", '{"name": "rex", "init_value": -1, "total_steps": 10}'], ["init_value", "-1"]),
        (["show", '{"name": "rex", "init_value": 1}'], ["missing required key", "total_steps"]),
        (["show", "missing.json"], ["no such file 'missing.json'"]),
        (["show", '{"name": "rex", "init_value": 1, "total_steps": 9}', "--steps", "ten"], ["--steps"]),
        (["show", '{"name": "rex", "init_value": 1, "total_steps": 9}', "--steps", "1"], ["--steps must be >= 2"]),
        (["show", '{"name": "greedy", "init_lr": 0.1}'], ["not a step -> value schedule"]),
        (["frobnicate"], ["invalid choice"]),
        (["demo", "--epochs", "0"], ["--epochs must be >= 1"]),
    ],
)
def test_bad_input_prints_one_error_line_and_exits_2(args, needles):
    assert_one_line_error(run(*args), *needles)


def test_bad_yaml_file_is_one_error_line(tmp_path):
    pytest.importorskip("yaml")
    (tmp_path / "bad.yml").write_text("name: [rex\n")
    assert_one_line_error(run("show", str(tmp_path / "bad.yml")), "not valid YAML")


def test_demo_renders_the_gallery_and_prints_the_comparison_table(tmp_path):
    proc = run("demo", "--out", "gallery.png", "--epochs", "4", cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr
    assert png_size(tmp_path / "gallery.png") == (1344, 672)  # 4 x 3 panels of (4.2, 2.8) inches at 80 dpi
    assert png_size(tmp_path / "gallery_training.png") == (640, 480)
    assert proc.stdout.startswith("lrsched demo: drawing 12 standard schedules")  # says what it will do first
    table = proc.stdout.split("policy")[1].splitlines()
    rows = [line.split() for line in table[2:5]]
    assert [r[0] for r in rows] == ["GreedyLR", "warmup", "constant"]
    for row in rows:
        accuracy = float(row[-2].rstrip("%"))
        assert 80.0 < accuracy <= 100.0  # every policy learns the digits in 4 epochs
    assert table[5].startswith("* train loss: the mean minibatch training loss over the last 20 steps")
    reading = " ".join(proc.stdout.split("Lowest validation loss: ")[1].split())
    assert "What to conclude:" in reading and "Which schedule?" in reading
    assert "untuned peak LR (0.5)" in reading


def test_demo_says_what_it_does_before_its_slow_imports(tmp_path):
    """The first line comes before matplotlib and scikit-learn are imported (seconds on a cold start)."""
    proc = run("demo", "--out", str(tmp_path / "g.png"), code=BLOCK.format(mod="matplotlib"))
    assert proc.stdout.startswith("lrsched demo: drawing"), proc.stdout
    assert_one_line_error(proc, "needs matplotlib", 'pip install "lrsched[plot]"')


def test_demo_trains_on_full_batches_only():
    """A ragged last batch (3 of the digits' 1347 training examples at batch 64) spikes the loss every epoch."""
    from lrsched._cli.demo import train_digits

    rng = np.random.default_rng(0)
    data = (rng.random((130, 64)), rng.random((20, 64)), rng.integers(0, 10, 130), rng.integers(0, 10, 20))
    runs = train_digits(data, epochs=20, batch=64)
    assert [len(r.trace.steps) for r in runs] == [20 * 2] * 3  # 130 // 64 = 2 full batches an epoch, the 2 left out


BLOCK = "import sys; sys.modules[{mod!r}] = None; from lrsched.__main__ import main; raise SystemExit(main())"


def test_missing_extras_name_the_pip_extra(tmp_path):
    no_sklearn = run("demo", "--out", str(tmp_path / "g.png"), code=BLOCK.format(mod="sklearn"))
    assert_one_line_error(no_sklearn, 'pip install "lrsched[demo]"')
    assert not (tmp_path / "g.png").exists()  # it failed before doing any work
    no_mpl = run("show", json.dumps(WARM_COS), "--png", str(tmp_path / "x.png"), code=BLOCK.format(mod="matplotlib"))
    assert_one_line_error(no_mpl, 'pip install "lrsched[plot]"')
    # Without --png, show needs no matplotlib at all.
    assert run("show", json.dumps(WARM_COS), code=BLOCK.format(mod="matplotlib")).returncode == 0
    (tmp_path / "s.yaml").write_text("name: rex\n")
    no_yaml = run("show", str(tmp_path / "s.yaml"), code=BLOCK.format(mod="yaml"))
    assert_one_line_error(no_yaml, "needs PyYAML", "or give the config as JSON")
    in_python = "import sys; sys.modules['matplotlib'] = None; import lrsched; lrsched.plot(lrsched.rex(1.0, 9), 9)"
    proc = subprocess.run([sys.executable, "-c", in_python], capture_output=True, text=True, env=ENV, timeout=60)
    assert proc.returncode == 1
    assert (
        proc.stderr.strip().splitlines()[-1]
        == 'ImportError: lrsched.plot needs matplotlib: pip install "lrsched[plot]"'
    )


@pytest.mark.skipif(shutil.which("lrsched") is None, reason="console script not installed")
def test_console_script_runs():
    proc = subprocess.run(["lrsched", "list"], capture_output=True, text=True, env=ENV, timeout=60)
    assert proc.returncode == 0 and "Schedules:" in proc.stdout


def test_no_command_prints_help():
    proc = run()
    assert proc.returncode == 0 and "usage: lrsched" in proc.stdout and "demo" in proc.stdout


def test_demo_without_tqdm_uses_the_text_progress_bar(tmp_path):
    proc = run("demo", "--out", str(tmp_path / "g.png"), "--epochs", "1", code=BLOCK.format(mod="tqdm"))
    assert proc.returncode == 0, proc.stderr
    assert "training [####################] 63/63" in proc.stderr  # 1 epoch = 21 full batches, x 3 policies
    assert "GreedyLR" in proc.stdout


def test_text_progress_bar_redraws_at_most_about_forty_times():
    import io

    from lrsched._progress import Progress, progress

    stream = io.StringIO()
    with Progress(1000, "sweep", stream=stream) as bar:
        for _ in range(1000):
            bar.update()
    text = stream.getvalue()
    assert text.count("\r") == 41 and text.endswith("sweep [####################] 1000/1000\n")
    silent = progress(10, enabled=False)
    silent.update(3)
    assert silent.n == 3


def test_version_matches_the_package_and_pyproject() -> None:
    import re
    from pathlib import Path

    pyproject = (Path(__file__).resolve().parents[1] / "pyproject.toml").read_text(encoding="utf-8")
    declared = re.search(r'^version = "([^"]+)"', pyproject, flags=re.M)
    assert declared is not None and declared.group(1) == L.__version__
    proc = run("--version")
    assert proc.returncode == 0, proc
    assert proc.stdout.strip() == f"lrsched {L.__version__}"
