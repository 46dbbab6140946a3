"""Every Python code block of README.md, CHANGELOG.md and the documentation site is a complete program that runs.

Each fenced block whose language is ``python`` (Markdown: a fence of ```` ```python ````; MyST: also
```` ```{code-block} python ````) is run as written, alone, in a fresh ``python -c`` subprocess whose working directory
is an empty temporary folder; the test fails if it exits with an error. The sources are README.md, CHANGELOG.md,
every hand-written Markdown page under docs/ (the pages generated at build time are covered through what they are
generated from: the README mirrors through README.md, and the gallery through ``sitegen.gallery_snippet`` for every
registered schedule).

Conventions in the Markdown (both are HTML comments, invisible on GitHub and on the site):

* ``<!-- fragment: why -->`` on the line just before a fence marks a block that is deliberately not a complete
  program (a piece of the reader's own training loop, say). Such a block is skipped, and listed by its source and
  line in :data:`FRAGMENTS` below, so a block can be skipped only by name: an unlisted marker fails, and so does a
  listed one that is gone.
* ``<!-- output -->`` on the line just before a ```` ```text ```` fence that follows a Python block says that the
  text is what that block prints: the test compares the block's standard output with it, line by line (trailing
  spaces ignored).

Blocks run with ``KERAS_BACKEND=jax`` (the quickest Keras backend to import), JAX on the CPU and matplotlib's Agg
backend. The checkout's lrsched comes first on ``PYTHONPATH``.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import itertools
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

import lrsched

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
GENERATED = {"_generated", "api", "notebooks", "_build"}

# Blocks that are deliberately fragments, by "file:first line of the block" -> why. Keep in step with the
# <!-- fragment: ... --> markers (the test below checks both ways).
FRAGMENTS: dict[str, str] = {
    "docs/greedylr.md:GreedyLR-loop": "a piece of the reader's loop: `loader` and `train_step` are the reader's",
    "docs/torch.md:trainers": "the reader's transformers/Lightning objects (`model`, `args`, `data`, `self`)",
    "docs/write-a-controller.md:adapters-usage": "the page's BoundedEMA and the reader's model, optimizer and data",
}

_FENCE = re.compile(r"^(`{3,})\s*(\{code-block\}\s*)?([\w-]*)\s*$")
_FRAGMENT = re.compile(r"^<!--\s*fragment:\s*([\w-]+)\s*:?(.*?)-->\s*$")
_OUTPUT = re.compile(r"^<!--\s*output\s*-->\s*$")


@dataclasses.dataclass
class Block:
    source: str  # path relative to the repository
    line: int  # 1-based line of the opening fence
    language: str
    code: str
    marker: str | None  # the comment just before the fence, if any
    output: str | None = None  # for a Python block: the <!-- output --> text block that follows it

    @property
    def id(self) -> str:
        return f"{self.source}:{self.line}"


def _blocks(path: Path, text: str | None = None) -> list[Block]:
    """The fenced blocks of a Markdown file (or of ``text``, read from it), with the comment line just before each."""
    lines = (path.read_text(encoding="utf-8") if text is None else text).splitlines()
    out: list[Block] = []
    i = 0
    while i < len(lines):
        m = _FENCE.match(lines[i])
        if not m or not (m.group(3) or m.group(2)):
            i += 1
            continue
        fence, language = m.group(1), m.group(3)
        j = i + 1
        while j < len(lines) and not re.match(rf"^{fence}\s*$", lines[j]):
            j += 1
        body = lines[i + 1 : j]
        if m.group(2):  # MyST directive options (":caption: ...") and the blank line after them
            while body and (body[0].startswith(":") or not body[0].strip()):
                body = body[1:]
        k = i - 1
        while k >= 0 and not lines[k].strip():
            k -= 1
        marker = lines[k].strip() if k >= 0 and lines[k].strip().startswith("<!--") else None
        out.append(Block(str(path.relative_to(ROOT)), i + 1, language, "\n".join(body) + "\n", marker))
        i = j + 1
    for prev, block in itertools.pairwise(out):
        if block.marker and _OUTPUT.match(block.marker):
            assert prev.language == "python" and block.language == "text", (
                f"{block.id}: an <!-- output --> block must be a ```text block right after a ```python block"
            )
            prev.output = block.code
    return out


def _sources() -> list[Path]:
    pages = [p for p in sorted(DOCS.rglob("*.md")) if not GENERATED & set(p.relative_to(DOCS).parts)]
    return [ROOT / "README.md", ROOT / "CHANGELOG.md", *pages]


def _python_blocks() -> list[Block]:
    return [b for path in _sources() for b in _blocks(path) if b.language == "python"]


def _fragment_name(block: Block) -> str | None:
    m = _FRAGMENT.match(block.marker or "")
    return f"{block.source}:{m.group(1)}" if m else None


def _programs() -> list[Block]:
    return [b for b in _python_blocks() if _fragment_name(b) is None]


def _sitegen():
    if "sitegen" not in sys.modules:
        spec = importlib.util.spec_from_file_location("sitegen", DOCS / "sitegen.py")
        assert spec is not None and spec.loader is not None
        module = importlib.util.module_from_spec(spec)
        sys.modules["sitegen"] = module
        spec.loader.exec_module(module)
    return sys.modules["sitegen"]


def _gallery() -> list[Block]:
    sitegen = _sitegen()
    out = []
    for name, cls in lrsched.registry().items():
        expr, steps = sitegen.gallery_example(name, cls)
        out.append(Block(f"gallery/{name}", 0, "python", sitegen.gallery_snippet(expr, steps), None))
    return out


def _run(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "KERAS_BACKEND": "jax",
        "JAX_PLATFORMS": "cpu",
        "MPLBACKEND": "Agg",
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "PYTHONPATH": os.pathsep.join(p for p in (str(ROOT), os.environ.get("PYTHONPATH")) if p),
    }
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


# --- the conventions ------------------------------------------------------------------------------------------


def test_blocks_are_found_and_fragments_are_skipped_by_name_only() -> None:
    blocks = _python_blocks()
    assert len(blocks) >= 10 and any(b.source == "README.md" for b in blocks)
    marked = {_fragment_name(b): b.id for b in blocks if b.marker and b.marker.startswith("<!-- fragment")}
    assert None not in marked, f"a fragment marker without a name: {marked.get(None)}"
    assert set(marked) == set(FRAGMENTS), (
        f"fragment markers {sorted(set(marked) - set(FRAGMENTS))} are not listed in FRAGMENTS, or listed ones "
        f"{sorted(set(FRAGMENTS) - set(marked))} have no marker"
    )


def test_the_parser_reads_markers_outputs_and_myst_blocks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    page = tmp_path / "page.md"
    page.write_text(
        "<!-- fragment: loop: the reader's -->\n```python\nfor x in loader: pass\n```\n\n"
        "```{code-block} python\n:caption: c\n\nprint(1)\n```\n\n<!-- output -->\n```text\n1\n```\n"
    )
    monkeypatch.setattr(sys.modules[__name__], "ROOT", tmp_path)
    first, second, third = _blocks(page)
    assert _fragment_name(first) == "page.md:loop" and first.code == "for x in loader: pass\n"
    assert second.code == "print(1)\n" and second.output == "1\n" and third.language == "text"


# Characters of code that fit the site's code box at a 1280 px window (furo: 736 px of 13 px monospace, ~90).
CODE_BOX = 88
# README sections shown on the site's first pages (their long reference sections are not held to the box).
FIRST_PAGES = ("Install", "Quick start")


def test_code_on_the_first_pages_fits_the_code_box() -> None:
    sitegen = _sitegen()
    blocks = [b for title in FIRST_PAGES for b in _blocks(ROOT / "README.md", sitegen.readme_section(title))]
    pages = [p for p in _sources() if p.parent == DOCS or p.name == "CHANGELOG.md"]
    blocks += [b for path in pages for b in _blocks(path)] + _gallery()
    long = [f"{b.id}: {line}" for b in blocks for line in b.code.splitlines() if len(line) > CODE_BOX]
    assert long == [], f"lines longer than {CODE_BOX} characters overflow the code box at 1280 px"


# --- running them ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize("block", _programs(), ids=lambda b: b.id)
def test_code_block_runs_as_written(block: Block, tmp_path: Path) -> None:
    if "import keras" in block.code and importlib.util.find_spec("keras") is None:
        pytest.skip("keras is not installed")
    result = _run(block.code, tmp_path)
    assert result.returncode == 0, f"{block.id} raised:\n{result.stderr[-3000:]}"
    if block.output is not None:
        got = [line.rstrip() for line in result.stdout.strip("\n").splitlines()]
        assert got == [line.rstrip() for line in block.output.strip("\n").splitlines()], (
            f"{block.id}: the output shown under the block is not what it prints:\n{result.stdout}"
        )


def test_every_gallery_snippet_runs_as_written(tmp_path: Path) -> None:
    """One process per snippet would cost a matplotlib import each: each runs in its own fresh namespace instead."""
    pytest.importorskip("matplotlib")
    snippets = _gallery()
    assert len(snippets) == len(lrsched.registry())
    for block in snippets:
        assert block.code.startswith("import lrsched\n"), block.id
    runner = "\n".join(f"exec(compile({b.code!r}, {b.source!r}, 'exec'), {{'__name__': '__main__'}})" for b in snippets)
    result = _run(runner, tmp_path)
    assert result.returncode == 0, result.stderr[-3000:]
