"""The documentation site: what it generates covers the package, and the built site works offline in a browser.

The first tests check the generators of docs/sitegen.py (no Sphinx needed): every public name lands on an API page,
every registered schedule has a gallery example, every mirrored README section exists.

The slow tests build the site with ``sphinx-build -W`` (or use the one named by ``LRSCHED_DOCS_SITE``, as
``.ci/docs`` does after building it), scan it for assets loaded from other hosts, then load pages in headless
Chromium (Debian's ``chromium``), driven over the DevTools protocol on a pipe: each page must show its main content,
log no console error or uncaught exception, fail no request, and request nothing but the local server. They skip
when Sphinx or Chromium is not installed.
"""

from __future__ import annotations

import contextlib
import functools
import http.server
import importlib.util
import json
import os
import re
import select
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

import lrsched

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"


def _load(name: str) -> Any:
    if str(DOCS) not in sys.path:
        sys.path.insert(0, str(DOCS))
    spec = importlib.util.spec_from_file_location(name, DOCS / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


sitegen = _load("sitegen")


# --- what is generated -------------------------------------------------------------------------------------------


def test_every_public_name_is_on_exactly_one_api_page() -> None:
    pages = sitegen.api_pages()
    documented = [n for page in pages for n in page.names]
    assert sorted(documented) == sorted(lrsched.__all__)
    text = "\n".join(e for page in pages for e in page.entries)
    for name in lrsched.__all__:
        assert re.search(rf"lrsched\.{re.escape(name)}\b", text), name
    assert "lrsched._" not in text  # private paths are never referenced
    assert all(m in text for m in sitegen.adapter_modules())


def test_a_new_public_name_lands_on_the_controllers_page(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(lrsched, "HypotheticalController", type("HypotheticalController", (), {}), raising=False)
    monkeypatch.setattr(lrsched, "__all__", [*lrsched.__all__, "HypotheticalController"])
    pages = {p.slug: p for p in sitegen.api_pages()}
    assert "HypotheticalController" in pages["controllers"].names


def test_schedules_and_combinators_are_split_by_what_they_hold() -> None:
    pages = {p.slug: p for p in sitegen.api_pages()}
    assert {"cosine_decay", "CosineDecay", "wsd"} <= set(pages["schedules"].names)
    assert {"warmup", "join", "Sum", "phases"} <= set(pages["combinators"].names)
    assert not set(pages["schedules"].names) & set(pages["combinators"].names)


def test_every_registered_schedule_has_a_gallery_example_of_its_class() -> None:
    ns = sitegen._namespace()
    for name, cls in lrsched.registry().items():
        expr, steps = sitegen.gallery_example(name, cls)
        assert isinstance(eval(expr, ns), cls), name
        assert steps > 0


def test_a_schedule_without_a_listed_example_is_drawn_from_its_docstring(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delitem(sitegen.EXAMPLES, "wsd")
    expr, steps = sitegen.gallery_example("wsd", lrsched.WarmupStableDecay)
    assert expr.startswith("wsd(") and isinstance(eval(expr, sitegen._namespace()), lrsched.WarmupStableDecay)
    assert steps >= 100  # the docstring's total_steps=100 drawn whole
    monkeypatch.delitem(sitegen.EXAMPLES, "sum")
    with pytest.raises(RuntimeError, match="'sum' has no example"):
        sitegen.gallery_example("sum", lrsched.Sum)


def test_readme_mirrors_exist_and_rewrite_repository_links() -> None:
    for title in sitegen.MIRRORS.values():
        assert sitegen.readme_section(title).strip()
    readme = "# T\n\nintro\n\n## A\n\nsee [r](bench/r.md) and [nb](notebooks/05_x.ipynb)\n### Sub\n\nx\n## B\n\ny\n"
    assert sitegen.readme_section("A", readme) == (
        "# A\n\nsee r (`bench/r.md`) and [nb](notebooks/05_x.ipynb)\n## Sub\n\nx\n"
    )
    assert sitegen.readme_section(None, readme) == "intro\n"
    with pytest.raises(RuntimeError, match="no section headed 'C'"):
        sitegen.readme_section("C", readme)


def test_the_install_section_lists_every_extra_and_the_python_versions() -> None:
    tomllib = pytest.importorskip("tomllib")  # Python 3.11+

    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    install = sitegen.readme_section("Install")
    for extra in project["optional-dependencies"]:
        assert f"`[{extra}]`" in install, f"the README's Install section does not list the [{extra}] extra"
    assert f'`requires-python = "{project["requires-python"]}"`' in install
    assert "constraints.txt" in install and "NumPy only" in install


def test_the_site_title_carries_the_version_and_the_changelog_has_it() -> None:
    assert f"## {lrsched.__version__}" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert "## Unreleased" in (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")
    assert 'html_title = f"lrsched {release}"' in (DOCS / "conf.py").read_text(encoding="utf-8")


# --- the built site ----------------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Path:
    given = os.environ.get("LRSCHED_DOCS_SITE")
    if given:
        path = Path(given)
        assert (path / "index.html").is_file(), f"LRSCHED_DOCS_SITE={given} holds no built site"
        return path
    for module in ("sphinx", "furo", "myst_nb"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install -e '.[docs]')")
    out = tmp_path_factory.mktemp("site")
    build = subprocess.run(
        [sys.executable, "-m", "sphinx", "-W", "--keep-going", "-q", "-b", "html", str(DOCS), str(out)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert build.returncode == 0, build.stdout[-3000:] + build.stderr[-5000:]
    return out


_ASSET = re.compile(
    r"<(?:script|link|img|iframe|source|video|audio|embed|object)\b[^>]*?\b(?:src|href|data)=[\"']([^\"']+)"
)
_CSS_URL = re.compile(r"url\(\s*[\"']?([^\"')]+)|@import\s+[\"']([^\"']+)")
_REMOTE = re.compile(r"^(?:[a-z][a-z0-9+.-]*:)?//", re.IGNORECASE)


@pytest.mark.slow
def test_the_site_loads_nothing_from_other_hosts(site: Path) -> None:
    remote = []
    for path in site.rglob("*"):
        if path.suffix == ".html":
            urls = _ASSET.findall(path.read_text(encoding="utf-8", errors="replace"))
        elif path.suffix == ".css":
            urls = [a or b for a, b in _CSS_URL.findall(path.read_text(encoding="utf-8", errors="replace"))]
        else:
            continue
        remote += [f"{path.relative_to(site)}: {u}" for u in urls if _REMOTE.match(u.strip())]
    assert remote == []
    assert len(list(site.rglob("*.html"))) > 10


def test_the_scan_finds_a_remote_asset(tmp_path: Path) -> None:
    """The scan above can fail: these are the forms a CDN reference takes."""
    for html in [
        '<script src="https://cdn.example/x.js"></script>',
        "<link rel='stylesheet' href='//fonts.example/css'>",
        '<img alt="x" src="http://example/x.png">',
    ]:
        assert _REMOTE.match(_ASSET.findall(html)[0])
    assert _REMOTE.match(_CSS_URL.findall("@font-face { src: url(https://fonts.example/a.woff2) }")[0][0])
    assert not _ASSET.findall('<a href="https://example.org">a link is not an asset</a>')


class Chromium:
    """Headless Chromium driven over the DevTools protocol on a pipe (``--remote-debugging-pipe``).

    No WebSocket client, no driver download: commands go to the browser's fd 3 and replies come from its fd 4 as
    NUL-terminated JSON. Every host but 127.0.0.1 resolves to nothing, so a page that needs the network fails.
    """

    def __init__(self, exe: str, profile: Path) -> None:
        to_child, self._to_child = os.pipe()
        self._from_child, from_child = os.pipe()

        def wire() -> None:  # in the child: our pipe ends become its fds 3 and 4 (dup2 makes them inheritable)
            a, b = os.dup(to_child), os.dup(from_child)
            os.dup2(a, 3)
            os.dup2(b, 4)

        self.proc = subprocess.Popen(
            [
                exe,
                "--headless=new",
                "--remote-debugging-pipe",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--no-first-run",
                "--no-default-browser-check",
                "--disable-extensions",
                "--disable-background-networking",
                "--disable-component-update",
                "--host-resolver-rules=MAP * ~NOTFOUND, EXCLUDE 127.0.0.1",
                f"--user-data-dir={profile}",
                "about:blank",
            ],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            close_fds=False,
            preexec_fn=wire,
        )
        os.close(to_child)
        os.close(from_child)
        self._next = 0
        self._buffer = b""
        self.events: list[dict[str, Any]] = []

    def send(self, method: str, params: dict[str, Any] | None = None, session: str | None = None) -> dict[str, Any]:
        self._next += 1
        message: dict[str, Any] = {"id": self._next, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self._to_child, json.dumps(message).encode() + b"\0")
        deadline = time.monotonic() + 30
        while True:
            reply = self._read(deadline)
            if reply is None:
                raise TimeoutError(f"no reply to {method}")
            if reply.get("id") == self._next:
                if "error" in reply:
                    raise RuntimeError(f"{method}: {reply['error']}")
                return reply.get("result", {})
            self.events.append(reply)

    def _read(self, deadline: float) -> dict[str, Any] | None:
        while b"\0" not in self._buffer:
            left = deadline - time.monotonic()
            if left <= 0 or not select.select([self._from_child], [], [], left)[0]:
                return None
            chunk = os.read(self._from_child, 1 << 16)
            if not chunk:
                raise RuntimeError("chromium closed its DevTools pipe")
            self._buffer += chunk
        message, _, self._buffer = self._buffer.partition(b"\0")
        return json.loads(message)

    def wait_for(self, method: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        if any(e.get("method") == method for e in self.events):
            return True
        while (event := self._read(deadline)) is not None:
            self.events.append(event)
            if event.get("method") == method:
                return True
        return False

    def drain(self, seconds: float) -> None:
        deadline = time.monotonic() + seconds
        while (event := self._read(deadline)) is not None:
            self.events.append(event)

    def close(self) -> None:
        with contextlib.suppress(Exception):
            self.send("Browser.close")
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()
        os.close(self._to_child)
        os.close(self._from_child)


def _chromium() -> str:
    for name in ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable"):
        path = shutil.which(name)
        if path:
            return path
    pytest.skip("no Chromium to drive (Debian: apt-get install chromium)")


@pytest.fixture(scope="module")
def server(site: Path) -> Iterator[str]:
    handler = functools.partial(_QuietHandler, directory=str(site))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}/"
    finally:
        httpd.shutdown()
        httpd.server_close()


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    chrome = Chromium(_chromium(), tmp_path_factory.mktemp("chromium-profile"))
    try:
        yield chrome
    finally:
        chrome.close()


def _visit(browser: Chromium, url: str, check: str, width: int | None = None) -> dict[str, Any]:
    """Open ``url`` in a fresh tab (``width`` px wide if given); return what ``check`` (a JS expression) gives, and
    every problem seen."""
    target = browser.send("Target.createTarget", {"url": "about:blank"})["targetId"]
    session = browser.send("Target.attachToTarget", {"targetId": target, "flatten": True})["sessionId"]
    try:
        if width is not None:
            metrics = {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}
            browser.send("Emulation.setDeviceMetricsOverride", metrics, session=session)
        for domain in ("Runtime", "Log", "Page", "Network"):
            browser.send(f"{domain}.enable", session=session)
        browser.events.clear()
        browser.send("Page.navigate", {"url": url}, session=session)
        assert browser.wait_for("Page.loadEventFired", timeout=30), f"{url} did not finish loading"
        browser.drain(0.5)  # scripts that run after the load event
        result = browser.send(
            "Runtime.evaluate", {"expression": check, "returnByValue": True, "awaitPromise": True}, session=session
        )
        mine = [e for e in browser.events if e.get("sessionId") == session]
        problems = []
        origin = url.split("/", 3)[:3]
        for e in mine:
            method, params = e.get("method"), e.get("params", {})
            if method == "Runtime.exceptionThrown":
                details = params["exceptionDetails"]
                problems.append(f"exception: {details.get('exception', {}).get('description') or details.get('text')}")
            elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
                problems.append(f"console.{params['type']}: {[a.get('value') for a in params.get('args', [])]}")
            elif method == "Log.entryAdded" and params["entry"].get("level") == "error":
                problems.append(f"log: {params['entry'].get('text')} {params['entry'].get('url', '')}")
            elif method == "Network.loadingFailed" and not params.get("canceled"):
                problems.append(f"request failed: {params.get('errorText')}")
            elif method == "Network.requestWillBeSent":
                req = params["request"]["url"]
                if not (req.split("/", 3)[:3] == origin or req.startswith(("data:", "blob:"))):
                    problems.append(f"request to another host: {req}")
        if "exceptionDetails" in result:
            problems.append(f"check failed: {result['exceptionDetails'].get('text')}")
        return {"value": result.get("result", {}).get("value"), "problems": problems}
    finally:
        browser.send("Target.closeTarget", {"targetId": target})


_MAIN = "document.querySelector('article[role=main]')"
_IMAGES_LOADED = "Array.from(document.images).filter(i => i.complete && i.naturalWidth > 0).length"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("page", "check", "expect"),
    [
        ("index.html", f"{_MAIN}.innerText", ["lrsched", "Schedules are values", "API reference", "Gallery"]),
        (
            "api/schedules.html",
            f"{_MAIN}.innerText",
            ["lrsched.cosine_decay(init_value", "CosineDecay", ">>> cosine_decay(", "oscillates back up past"],
        ),
        ("gallery.html", f"[{_MAIN}.innerText, {_IMAGES_LOADED}, document.images.length]", None),
        ("notebooks/01_gallery.html", f"[{_MAIN}.innerText, {_IMAGES_LOADED}]", None),
        ("migration.html", f"{_MAIN}.innerText", ["StepLR(opt", "lrsched.step_decay(", "optax.join_schedules"]),
        ("install.html", f"{_MAIN}.innerText", ["constraints.txt", "[torch]"]),
        ("quick-start.html", f"{_MAIN}.innerText", ["schedule_lr", "KerasSchedule"]),
        ("cli.html", f"{_MAIN}.innerText", ["lrsched show", "lrsched list", "lrsched demo"]),
        ("write-a-controller.html", f"{_MAIN}.innerText", ["initial_state", "rule", "ControllerScheduler"]),
    ],
)
def test_pages_render_in_a_browser_without_errors(
    browser: Chromium, server: str, page: str, check: str, expect: list[str] | None
) -> None:
    seen = _visit(browser, server + page, check)
    assert seen["problems"] == []
    value = seen["value"]
    if page == "gallery.html":
        text, loaded, total = value
        assert total == loaded == len(lrsched.registry())  # one drawn plot per registered schedule
        assert all(f"{name}\n" in text for name in lrsched.registry())
    elif page.startswith("notebooks/"):
        text, loaded = value
        assert loaded >= 1 and "import lrsched" in text  # code cells and their committed image outputs
    else:
        assert value is not None
        missing = [e for e in expect or [] if e not in value]
        assert missing == [], value[:2000]


# Code blocks wider than their box at a 1280 px window: the text of each, cut to its first line.
_OVERFLOWING_CODE = (
    "Array.from(document.querySelectorAll('article[role=main] div.highlight pre'))"
    ".filter(p => p.scrollWidth > p.clientWidth + 1).map(p => p.innerText.split('\\n')[0].slice(0, 80))"
)


@pytest.mark.slow
@pytest.mark.parametrize(
    "page",
    [
        "index.html",
        "install.html",
        "quick-start.html",
        "torch.html",
        "optax.html",
        "keras.html",
        "gallery.html",
        "changelog.html",
        "cli.html",
        "write-a-controller.html",
        "api/schedules.html",
        "notebooks/01_gallery.html",
        "migration.html",
    ],
)
def test_code_blocks_fit_their_box_at_1280px(browser: Chromium, server: str, page: str) -> None:
    seen = _visit(browser, server + page, _OVERFLOWING_CODE, width=1280)
    assert seen["problems"] == []
    assert seen["value"] == [], f"{page}: code blocks wider than their box (first lines shown)"


@pytest.mark.slow
def test_the_browser_check_sees_errors(browser: Chromium, server: str, site: Path, tmp_path: Path) -> None:
    """The check above can fail: a page with a script error and a CDN script shows both problems."""
    bad = site / "_broken_for_test.html"
    bad.write_text(
        "<html><body><article role=main>x</article>"
        "<script src='https://cdn.example.invalid/x.js'></script><script>undefinedFunction()</script></body></html>"
    )
    try:
        seen = _visit(browser, server + bad.name, f"{_MAIN}.innerText")
    finally:
        bad.unlink()
    text = "\n".join(seen["problems"])
    assert "undefinedFunction" in text
    assert "cdn.example.invalid" in text


def test_every_module_and_name_the_readme_or_a_notebook_imports_has_an_api_entry() -> None:
    """What a reader copies from the README or a notebook can be looked up in the API reference."""
    sources = [ROOT / "README.md", *sorted((ROOT / "notebooks" / "src").glob("*.py"))]
    pages = sitegen.api_pages()
    text = "\n".join(e for page in pages for e in page.entries)
    documented_modules = {MOVED.get(m, m) for m in re.findall(r"\.\. automodule:: ([\w.]+)", text)}
    missing = []
    for path in sources:
        code = path.read_text(encoding="utf-8")
        for module, names in re.findall(r"^\s*from (lrsched[\w.]*) import ([^\n#(]+)", code, re.M):
            if module == "lrsched":
                for n in _names(names):
                    sub = f"lrsched.{n}"
                    if n not in lrsched.__all__ and MOVED.get(sub, sub) not in documented_modules:
                        missing.append(f"{path.name}: lrsched.{n}")
                continue
            module = MOVED.get(module, module)  # an old path, documented at its new home
            if module not in documented_modules:
                missing.append(f"{path.name}: module {module}")
                continue
            exported = set(getattr(importlib.import_module(module), "__all__", ()))
            missing += [f"{path.name}: {module}.{n}" for n in _names(names) if n not in exported]
        for module in re.findall(r"^\s*import (lrsched[\w.]*)", code, re.M):
            if module != "lrsched" and MOVED.get(module, module) not in documented_modules:
                missing.append(f"{path.name}: module {module}")
    assert missing == [], missing


MOVED = importlib.import_module("lrsched._moved").MOVED


def _names(imported: str) -> list[str]:
    return [n.split(" as ")[0].strip() for n in imported.split(",") if n.strip()]
