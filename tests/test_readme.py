"""README.md stays true: every self-contained Python example in it runs."""

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
# Examples that show a fragment of a user's training loop (names such as `loader` come from the user).
FRAGMENT_NAMES = ("loader", "train_step", "sched_a", "rec.log(step")


def _examples() -> list[str]:
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(encoding="utf-8"), flags=re.S)
    return [b for b in blocks if b.lstrip().startswith("import") and not any(n in b for n in FRAGMENT_NAMES)]


def test_readme_has_runnable_examples():
    assert len(_examples()) >= 4


@pytest.mark.parametrize("code", _examples(), ids=lambda c: c.splitlines()[0][:40])
def test_readme_example_runs(code, tmp_path):
    env = {**os.environ, "KERAS_BACKEND": "jax", "JAX_PLATFORMS": "cpu", "MPLBACKEND": "Agg"}
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, env=env, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
