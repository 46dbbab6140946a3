"""The shipped learned policy: the config stored in ``lrsched/controllers/policies/default.json``."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

__all__ = ["shipped_config"]


def shipped_config() -> dict[str, Any]:
    """The shipped policy's config (``LearnedLR.default()`` builds it)."""
    text = resources.files("lrsched.controllers").joinpath("policies/default.json").read_text(encoding="utf-8")
    config: dict[str, Any] = json.loads(text)["config"]
    return config
