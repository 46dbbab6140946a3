"""``import lrsched`` must not import any deep-learning or plotting framework."""

import json
import subprocess
import sys

FRAMEWORKS = ("jax", "torch", "keras", "tensorflow", "matplotlib")


def test_import_lrsched_imports_no_framework():
    code = (
        "import sys, json, lrsched\n"
        "lrsched.warmup(lrsched.cosine_decay(1.0, 10), 2)(3)\n"
        f"print(json.dumps([m for m in {FRAMEWORKS!r} if m in sys.modules]))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(out.stdout.strip().splitlines()[-1]) == []


def test_no_top_level_adapters_package_is_shipped():
    import lrsched.adapters

    assert lrsched.adapters.__name__ == "lrsched.adapters"
