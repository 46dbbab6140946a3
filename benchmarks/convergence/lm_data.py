"""Text for the language-model task, taken from the running interpreter's standard library (nothing is downloaded).

The corpus is the docstrings and comments of the standard library's ``.py`` files, extracted the same way
every time: the files in sorted order (test suites, GUI, codec tables and the modules some distributions
ship separately are left out), each file's docstrings (``ast.get_docstring``) and comments (``tokenize``)
in source order, ASCII lines only. Files are dealt round-robin into four disjoint splits:

* ``web``: the bulk training text, "web-like": a fraction of its lines is corrupted, half by shuffling the
  line's characters, half by inserting one of a few boilerplate lines (navigation bars, cookie banners),
  as crawled web text has;
* ``hq``: a small clean "high-quality" training subset (other files);
* ``valid`` and ``test``: clean held-out text (tuning picks LRs on ``valid``; results are on ``test``).

Characters are coded as bytes: ``"\\n"`` is 0 and the printable ASCII characters ``" "`` to ``"~"`` are
1 to 95 (``VOCAB`` = 96). The result depends only on the standard library's files, so it is the same on
every install of one CPython version; :func:`corpus` returns its SHA-256 with it, and ``runs.json``
records it.

Example:
    >>> c = corpus()
    >>> sorted(c.splits) == ["hq", "test", "valid", "web"] and c.splits["web"].dtype.name == "uint8"
    True
    >>> decode(encode("def f():\\n"))
    'def f():\\n'
"""

from __future__ import annotations

import ast
import functools
import hashlib
import io
import os
import sysconfig
import tokenize
from dataclasses import dataclass

import numpy as np

__all__ = ["BOILERPLATE", "CORRUPT_FRACTION", "SIZES", "VOCAB", "Corpus", "corpus", "decode", "encode"]

VOCAB = 96
# Characters per split (each split takes whole files, in order, until it holds at least this many).
SIZES = {"web": 1_000_000, "hq": 120_000, "valid": 40_000, "test": 80_000}
CORRUPT_FRACTION = 0.3  # of the web split's lines: half shuffled, half followed by a boilerplate line
BOILERPLATE = (
    "Home | About | Blog | Contact | Privacy Policy | Terms of Service",
    "This website uses cookies to improve your experience. Accept all cookies?",
    "Subscribe to our newsletter for the latest updates!",
    "Copyright (c) All rights reserved. Powered by WordPress.",
    "Click here to read more >>",
    "Share this: Facebook Twitter LinkedIn Email Print",
)
# Top-level folders left out: tests, GUI and demos, codec tables, generated topic dumps, vendored packages,
# and modules that some distributions ship as separate packages (so every install has the same files).
_SKIP = {
    "site-packages",
    "dist-packages",
    "test",
    "tests",
    "idlelib",
    "tkinter",
    "turtledemo",
    "encodings",
    "lib2to3",
    "distutils",
    "ensurepip",
    "venv",
    "pydoc_data",
    "__phello__",
    "__pycache__",
}
_SPLIT_ORDER = ("web", "hq", "web", "valid", "web", "test", "web", "hq", "web", "web")  # file i -> _SPLIT_ORDER[i % 10]


def encode(text: str) -> np.ndarray:
    """Characters to codes (``"\\n"`` -> 0, ``" "``..``"~"`` -> 1..95); other characters are an error."""
    raw = np.frombuffer(text.encode("ascii"), np.uint8)
    if np.any((raw != 10) & ((raw < 32) | (raw > 126))):
        raise ValueError("text must hold only newlines and printable ASCII characters")
    return np.where(raw == 10, 0, raw - 31).astype(np.uint8)


def decode(codes: np.ndarray) -> str:
    """Codes back to text (inverse of :func:`encode`)."""
    codes = np.asarray(codes, np.uint8)
    return np.where(codes == 0, 10, codes + 31).astype(np.uint8).tobytes().decode("ascii")


def _files(root: str) -> list[str]:
    out = []
    for folder, dirs, files in os.walk(root):
        rel = os.path.relpath(folder, root)
        parts = [] if rel == "." else rel.split(os.sep)
        if any(p in _SKIP or p.startswith("config-") for p in parts):
            dirs.clear()
            continue
        out += [os.path.join(*parts, f) for f in files if f.endswith(".py") and not f.startswith("test_")]
    return sorted(p.replace(os.sep, "/") for p in out)


def _clean(line: str) -> str | None:
    line = line.rstrip()
    return line if line.isascii() and line.isprintable() else None


def _pieces(source: str) -> list[tuple[int, str]]:
    """``(line number, text)`` of each docstring and comment of a module, in source order."""
    tree = ast.parse(source)
    out = []
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef)):
            doc = ast.get_docstring(node, clean=True)
            if doc:
                out.append((node.body[0].lineno, doc))
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            text = tok.string.strip("#").strip()
            if text and not text.startswith("!"):
                out.append((tok.start[0], text))
    return sorted(out, key=lambda p: p[0])


def _file_text(path: str) -> str:
    try:
        with open(path, encoding="utf-8") as fh:
            source = fh.read()
        pieces = _pieces(source)
    except (SyntaxError, UnicodeDecodeError, tokenize.TokenError, ValueError):
        return ""
    lines = [c for _, text in pieces for c in map(_clean, text.splitlines()) if c]
    return "\n".join(lines) + "\n" if lines else ""


def _corrupt(text: str, rng: np.random.Generator) -> str:
    """Shuffle the characters of ``CORRUPT_FRACTION / 2`` of the lines; insert boilerplate after as many."""
    out = []
    for line in text.split("\n")[:-1]:
        u = rng.random()
        if u < CORRUPT_FRACTION / 2:
            line = "".join(rng.permutation(list(line)))
        out.append(line)
        if CORRUPT_FRACTION / 2 <= u < CORRUPT_FRACTION:
            out.append(BOILERPLATE[int(rng.integers(len(BOILERPLATE)))])
    return "\n".join(out) + "\n"


@dataclass(frozen=True)
class Corpus:
    """The four splits as code arrays, the number of source files in each, and the SHA-256 of all of them."""

    splits: dict[str, np.ndarray]
    files: dict[str, int]
    sha256: str


@functools.lru_cache(maxsize=1)
def corpus(root: str | None = None) -> Corpus:
    """Extract, split and corrupt the standard library's text (about 1.2 MB; a few seconds, cached)."""
    root = sysconfig.get_paths()["stdlib"] if root is None else root
    texts: dict[str, list[str]] = {k: [] for k in SIZES}
    sizes = dict.fromkeys(SIZES, 0)
    for i, rel in enumerate(_files(root)):
        split = _SPLIT_ORDER[i % len(_SPLIT_ORDER)]
        if sizes[split] >= SIZES[split]:
            if all(sizes[k] >= SIZES[k] for k in SIZES):
                break
            continue
        text = _file_text(os.path.join(root, rel))
        texts[split].append(text)
        sizes[split] += len(text)
    joined = {k: "".join(v) for k, v in texts.items()}
    joined["web"] = _corrupt(joined["web"], np.random.default_rng(0))
    splits = {k: encode(v) for k, v in joined.items()}
    digest = hashlib.sha256(b"".join(splits[k].tobytes() for k in sorted(splits))).hexdigest()
    return Corpus(splits, {k: len(v) for k, v in texts.items()}, digest)
