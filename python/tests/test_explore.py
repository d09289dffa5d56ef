"""`latent explore` end to end: the server started by the CLI, its page driven in a headless
Chromium (Playwright), its JSON API spoken to directly.

What is checked: the page loads and draws every mapped row, hover / click / shift-click on the
map, pan and zoom (at two device pixel ratios), the sliders (shared σ values across two runs),
picks, interpolation strips, four-corner grids, sampling and neighbours, failed requests shown
in the status line; that what the page shows decoded is what `latent decode`
writes for the same codes (PCA, an MLP VAE, a conv VAE); the server's guards (token, Host
header, body limit, no file names, loopback only); a table (the wine CSV) as a bar chart.
The exported page (`latent explore --export FILE.html`: one file, decoding in JavaScript from
its embedded bundle) opened from disk with no server: the same interactions, decode parity with
`latent decode`, paths, grids and neighbours as the server computes them, the server's errors
for the same bad requests, sampling; a conv VAE refused; a table exported.

The browser tests need Playwright (in python/.venv) and a Chromium (Debian's /usr/bin/chromium,
or LATENT_CHROMIUM); without them they are skipped, unless LATENT_REQUIRE_BROWSER=1 (CI), where
they fail. Screenshots go to $LATENT_SCREENSHOTS, else target/explore-screenshots/.
LATENT_EXPLORE_ASSETS=1 serves the page from the checkout's assets instead of the binary's copy
(and rebuilds an exported page around the binary's bundle from the checkout's explore.html,
explore.css, export.js and explore.js, as page.rs does).

The page's Content-Security-Policy has no 'unsafe-eval': everything handed to
`page.evaluate` / `wait_for_function` is a function, never a bare expression.
"""

from __future__ import annotations

import http.client
import json
import os
import pathlib
import queue
import re
import shutil
import signal
import socket
import subprocess
import threading
import time
import urllib.parse

import numpy as np
import pytest

ROOT = pathlib.Path(__file__).resolve().parents[2]
WINE_CSV = ROOT / "crates" / "latent-cli" / "tests" / "fixtures" / "wine.csv"
DIGITS_ROWS = 1797
REQUIRE_BROWSER = os.environ.get("LATENT_REQUIRE_BROWSER") == "1"
CHROMIUM_ARGS = [
    "--disable-gpu",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
# LATENT_EXPLORE_ASSETS=1: the page comes from crates/latent-serve/assets/ as they are now, not
# from the binary (which embeds them when built): for work on the page without a rebuild
PAGE_FROM_ASSETS = os.environ.get("LATENT_EXPLORE_ASSETS") == "1"
VIEWPORT = {"width": 1280, "height": 900}
WAIT_MS = 20_000


def _unavailable(reason: str):
    """No browser here: skip, or fail where CI demands the browser tests run."""
    if REQUIRE_BROWSER:
        pytest.fail(f"LATENT_REQUIRE_BROWSER=1 but {reason}", pytrace=False)
    pytest.skip(reason)


def _screenshot_dir() -> pathlib.Path:
    d = pathlib.Path(
        os.environ.get("LATENT_SCREENSHOTS") or ROOT / "target" / "explore-screenshots"
    )
    d.mkdir(parents=True, exist_ok=True)
    return d


def _shoot(page, name: str, **kw) -> pathlib.Path:
    path = _screenshot_dir() / name
    path.unlink(missing_ok=True)  # not last run's
    page.screenshot(path=str(path), **kw)
    assert path.is_file() and path.stat().st_size > 0, f"screenshot {path} was not written"
    return path


# ---------------------------------------------------------------------------- the server


class Explorer:
    """`latent explore` as a subprocess on a free port; `stop()` sends SIGTERM and waits."""

    def __init__(self, latent_bin, runs, data, workdir: pathlib.Path, name: str):
        cmd = [str(latent_bin), "explore"]
        for r in runs:
            cmd += ["--run", str(r)]
        cmd += ["--data", str(data), "--port", "0"]
        self.name = name
        self.stderr_path = workdir / f"explore-{name}.stderr"
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen(
            cmd, cwd=workdir, stdout=subprocess.PIPE, stderr=self._stderr, text=True
        )
        self.stdout: list[str] = []
        lines: queue.Queue = queue.Queue()

        def pump():
            for line in self.proc.stdout:
                self.stdout.append(line)
                lines.put(line)
            lines.put(None)

        threading.Thread(target=pump, daemon=True).start()
        deadline = time.monotonic() + 60
        url = None
        while url is None:
            left = deadline - time.monotonic()
            if left <= 0:
                self.stop()
                raise AssertionError(f"latent explore ({name}) printed no address in 60 s")
            try:
                line = lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                self.proc.wait(timeout=10)
                raise AssertionError(
                    f"latent explore ({name}) exited {self.proc.returncode} before printing "
                    f"its address:\n{''.join(self.stdout)}\n{self.stderr_path.read_text()}"
                )
            m = re.search(r"^open (http://\S+)", line)
            if m:
                url = m.group(1)
        self.url = url
        parts = urllib.parse.urlsplit(url)
        assert parts.hostname == "127.0.0.1", url
        self.port = parts.port
        self.token = urllib.parse.parse_qs(parts.query)["token"][0]
        assert re.fullmatch(r"[0-9a-f]{32}", self.token), self.token

    def stop(self) -> int:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
                raise AssertionError(f"latent explore ({self.name}) ignored SIGTERM for 20 s")
        self._stderr.close()
        return self.proc.returncode


def _explorer(latent_bin, runs, data, workdir, name):
    ex = Explorer(latent_bin, runs, data, workdir, name)
    try:
        yield ex
    finally:
        rc = ex.stop()
    assert rc == 0, (
        f"latent explore ({name}) exited {rc} after SIGTERM:\n{ex.stderr_path.read_text()}"
    )


@pytest.fixture(scope="module")
def workdir(tmp_path_factory) -> pathlib.Path:
    return tmp_path_factory.mktemp("explore")


@pytest.fixture(scope="module")
def runs(cli, workdir) -> dict[str, pathlib.Path]:
    """Runs fitted on the embedded digits (and the wine CSV): about a second each."""
    out = {
        "pca": workdir / "pca",
        "vae": workdir / "vae",
        "conv": workdir / "conv",
        "wine": workdir / "wine-pca",
    }
    cli("fit", "--model", "pca", "--data", "digits", "--latent-dim", 5, "--out", out["pca"])
    cli("fit", "--model", "vae", "--data", "digits", "--latent-dim", 4, "--epochs", 5,
        "--out", out["vae"])
    cli("fit", "--model", "vae", "--arch", "conv", "--data", "digits", "--latent-dim", 3,
        "--epochs", 2, "--out", out["conv"])
    assert WINE_CSV.is_file(), f"{WINE_CSV} is missing"
    cli("fit", "--model", "pca", "--data", WINE_CSV, "--latent-dim", 2, "--out", out["wine"])
    return out


@pytest.fixture(scope="module")
def pair(latent_bin, runs, workdir):
    """PCA (run 0) and the MLP VAE (run 1) side by side on digits."""
    yield from _explorer(latent_bin, [runs["pca"], runs["vae"]], "digits", workdir, "pair")


@pytest.fixture(scope="module")
def conv(latent_bin, runs, workdir):
    yield from _explorer(latent_bin, [runs["conv"]], "digits", workdir, "conv")


@pytest.fixture(scope="module")
def wine(latent_bin, runs, workdir):
    yield from _explorer(latent_bin, [runs["wine"]], WINE_CSV, workdir, "wine")


# ---------------------------------------------------------------------------- the browser


def _chromium() -> str | None:
    given = os.environ.get("LATENT_CHROMIUM")
    if given:
        return given
    for c in ("/usr/bin/chromium", shutil.which("chromium"), shutil.which("chromium-browser")):
        if c and os.path.exists(c):
            return c
    return None


@pytest.fixture(scope="module")
def browser():
    """One headless Chromium for the module (never `playwright install`: the system's)."""
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as e:
        _unavailable(f"Playwright is not installed ({e}): pip install playwright==1.65.2")
    exe = _chromium()
    if exe is None:
        _unavailable("no Chromium found (/usr/bin/chromium, chromium on PATH, LATENT_CHROMIUM)")
    pw = sync_playwright().start()
    try:
        b = pw.chromium.launch(executable_path=exe, headless=True, args=CHROMIUM_ARGS)
    except Exception as e:  # noqa: BLE001 - any launch failure means no browser
        pw.stop()
        _unavailable(f"Chromium ({exe}) did not start: {e}")
    try:
        yield b
    finally:
        b.close()
        pw.stop()


def _serve_assets(token: str):
    """A route handler answering the page from the checkout's assets, as `page.rs` builds it
    (the server's own headers kept): the page's script and style without a rebuild."""
    assets = ROOT / "crates" / "latent-serve" / "assets"
    html = (assets / "explore.html").read_text()
    html = html.replace("/*LATENT_CSS*/", (assets / "explore.css").read_text(), 1)
    html = html.replace("/*LATENT_JS*/", (assets / "explore.js").read_text(), 1)
    html = html.replace("LATENT_TOKEN", token, 1)

    def handle(route):
        real = route.fetch()
        route.fulfill(response=real, body=html)

    return handle


class Page:
    """A fresh page on an explorer (or at `url`: an exported page's file), loaded and ready;
    collects page and console errors and every request made."""

    def __init__(self, browser, explorer: Explorer | None, scale: float = 1,
                 url: str | None = None):
        self.explorer = explorer
        self.context = browser.new_context(viewport=VIEWPORT, device_scale_factor=scale)
        self.page = self.context.new_page()
        self.page.set_default_timeout(WAIT_MS)
        self.errors: list[str] = []
        self.requests: list[str] = []
        self.page.on("request", lambda r: self.requests.append(r.url))
        self.page.on("pageerror", lambda e: self.errors.append(f"page error: {e}"))

        def console(m):
            if m.type == "error":
                self.errors.append(f"console {m.type}: {m.text}")

        self.page.on("console", console)
        if url is None:
            url = explorer.url
            if PAGE_FROM_ASSETS:
                self.page.route(explorer.url, _serve_assets(explorer.token))
        resp = self.page.goto(url)
        assert resp is not None and resp.status == 200, resp and resp.status
        self.page.wait_for_function("() => window.latentExplorer && window.latentExplorer.ready")
        self.idle()
        self.session = self.eval("() => window.latentExplorer.session")

    def eval(self, fn: str, arg=None):
        return self.page.evaluate(fn, arg)

    def wait(self, fn: str, arg=None):
        return self.page.wait_for_function(fn, arg=arg)

    def idle(self):
        """No request in flight (and a frame drawn since)."""
        self.wait("() => window.latentExplorer.pending === 0")
        self.eval("() => new Promise((r) => requestAnimationFrame(() => r(true)))")

    def decoded(self):
        return self.eval("() => JSON.parse(JSON.stringify(window.latentExplorer.lastDecoded))")

    def current(self):
        return self.eval("() => JSON.parse(JSON.stringify(window.latentExplorer.current))")

    def wait_decoded_change(self, before):
        self.wait(
            "(b) => window.latentExplorer.pending === 0 && "
            "JSON.stringify(window.latentExplorer.lastDecoded) !== b",
            json.dumps(before, separators=(",", ":")),
        )

    def wait_row_everywhere(self, i: int):
        """Until row i is the current point of every run."""
        self.wait("(i) => window.latentExplorer.current.every((c) => c.point && c.point.row === i)",
                  i)

    def wait_cells(self, kind: str, n: int):
        """Until #KIND-R has n cells in every run."""
        self.wait(
            "([kind, n]) => window.latentExplorer.session.runs.every((_, r) => "
            "document.querySelectorAll('#' + kind + '-' + r + ' .cell').length === n)",
            [kind, n],
        )
        self.idle()

    def screen_of(self, r: int, i: int) -> tuple[float, float]:
        p = self.eval("([r, i]) => window.latentExplorer.screenOf(r, i)", [r, i])
        return p["x"], p["y"]

    def isolated_points(self, r: int, gap: float = 9.0) -> list[int]:
        """Mapped rows of run r at least `gap` px from every other point of its map and well
        inside the canvas: hovering or clicking them cannot hit another row."""
        iso = self.eval(
            """([r, gap]) => {
              const E = window.latentExplorer;
              const n = E.session.runs[r].map.x.length;
              E.screenOf(r, 0);   // scrolls the map into view
              const rect = document.getElementById('map-' + r).getBoundingClientRect();
              const P = [];
              for (let i = 0; i < n; i++) P.push(E.screenOf(r, i));
              const out = [];
              for (let i = 0; i < n; i++) {
                const p = P[i];
                if (p.x < rect.left + 12 || p.x > rect.right - 12 ||
                    p.y < rect.top + 12 || p.y > rect.bottom - 12) continue;
                let ok = true;
                for (let j = 0; j < n && ok; j++) {
                  if (j === i) continue;
                  const dx = P[j].x - p.x, dy = P[j].y - p.y;
                  if (dx * dx + dy * dy < gap * gap) ok = false;
                }
                if (ok) out.push(i);
              }
              return out;
            }""",
            [r, gap],
        )
        # row 0 is what the page decodes first: clicking it again would change nothing
        return [i for i in iso if i != 0]

    def empty_spots(self, r: int, gap: float = 14.0) -> list[tuple[float, float]]:
        """Screen positions inside run r's map at least `gap` px from every point."""
        spots = self.eval(
            """([r, gap]) => {
              const E = window.latentExplorer;
              const n = E.session.runs[r].map.x.length;
              E.screenOf(r, 0);
              const rect = document.getElementById('map-' + r).getBoundingClientRect();
              const P = [];
              for (let i = 0; i < n; i++) P.push(E.screenOf(r, i));
              const out = [];
              for (let y = rect.top + 30; y < rect.bottom - 30; y += 17) {
                for (let x = rect.left + 30; x < rect.right - 30; x += 17) {
                  let ok = true;
                  for (let j = 0; j < n && ok; j++) {
                    const dx = P[j].x - x, dy = P[j].y - y;
                    if (dx * dx + dy * dy < gap * gap) ok = false;
                  }
                  if (ok) out.push([x, y]);
                }
              }
              return out;
            }""",
            [r, gap],
        )
        return [tuple(s) for s in spots]

    def api_decode(self, r: int, points: list) -> dict:
        """Ask the server directly through the page's own backend (codes of known points)."""
        return self.eval(
            "([r, pts]) => window.latentExplorer.backend.decode(r, pts, 0)", [r, points]
        )

    def canvas_pixels(self, selector: str) -> dict:
        return self.eval(
            """(sel) => {
              const c = document.querySelector(sel);
              const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              return {w: c.width, h: c.height, data: Array.from(d)};
            }""",
            selector,
        )

    def check_clean(self):
        assert self.errors == [], "\n".join(self.errors)
        status = self.eval(
            "() => ({text: document.getElementById('status').textContent, "
            "cls: document.getElementById('status').className})"
        )
        assert status["cls"] != "error", f"the page reports an error: {status['text']}"

    def close(self):
        self.context.close()


@pytest.fixture
def open_page(browser):
    pages: list[Page] = []

    def opener(explorer: Explorer | None, scale: float = 1, url: str | None = None) -> Page:
        p = Page(browser, explorer, scale, url)
        pages.append(p)
        return p

    yield opener
    for p in pages:
        p.close()


def _grey(pixels: dict) -> np.ndarray:
    a = np.asarray(pixels["data"], dtype=np.float64).reshape(pixels["h"], pixels["w"], 4)
    return a[..., 0]


def _assert_image_canvas_shows(page: Page, selector: str, row, shape, lo: float, hi: float):
    """The canvas is not blank and is the row drawn in the data's display range."""
    px = page.canvas_pixels(selector)
    h, w, _c = shape
    assert (px["w"], px["h"]) == (w, h), f"{selector} is {px['w']}×{px['h']}, not {w}×{h}"
    grey = _grey(px)
    assert grey.max() - grey.min() > 20, f"{selector} is blank (all {grey.min()})"
    want = np.clip((np.asarray(row, dtype=np.float64).reshape(h, w) - lo) * 255 / (hi - lo), 0, 255)
    assert np.abs(grey - want).max() <= 1.0, f"{selector} does not show the decoded row"


# ---------------------------------------------------------------------------- side by side


def test_side_by_side_loads(open_page, pair):
    p = open_page(pair)
    s = p.session
    assert [r["name"] for r in s["runs"]] == ["pca", "vae"]
    assert s["data"]["rows"] == DIGITS_ROWS == len(s["data"]["labels"])
    assert s["data"]["kind"] == "image" and s["data"]["shape"] == [8, 8, 1]
    for r, run in enumerate(s["runs"]):
        pts = p.page.get_attribute(f"#map-{r}", "data-points")
        assert int(pts) == DIGITS_ROWS == len(run["map"]["x"]) == len(run["map"]["y"])
        assert p.page.locator(f"#legend-{r} .legend-item").count() == 10
        labels = p.page.locator(f"#legend-{r} .legend-item").all_inner_texts()
        assert [t.strip() for t in labels] == [str(k) for k in range(10)]
        assert p.page.locator(f"#slider-{r}-0").count() == 1
        assert p.page.locator(f"#sliders-{r} input[type=range]").count() == run["latent_dim"]
        # the map is drawn: many distinct colours, not one background
        colours = p.eval(
            """(sel) => {
              const c = document.querySelector(sel);
              const d = c.getContext('2d').getImageData(0, 0, c.width, c.height).data;
              const seen = new Set();
              for (let k = 0; k < d.length; k += 4) {
                seen.add((d[k] << 16) | (d[k + 1] << 8) | d[k + 2]);
              }
              return seen.size;
            }""",
            f"#map-{r}",
        )
        assert colours > 20, f"map {r} looks empty ({colours} colours)"
    # the first decode (row 0) in both runs
    cur = p.current()
    assert [c["point"] for c in cur] == [{"row": 0}, {"row": 0}]
    dec = p.decoded()
    assert [len(d["codes"][0]) for d in dec] == [5, 4]
    assert all(len(d["rows"][0]) == 64 for d in dec)
    assert p.page.inner_text("#data-rows") == f"{DIGITS_ROWS} of {DIGITS_ROWS} rows shown"
    for r in range(2):
        assert p.page.locator(f"#neighbours-{r} .neighbour").count() == 8
    _shoot(p.page, "loaded.png", full_page=True)
    p.check_clean()


def test_hover_and_click_a_point(open_page, pair):
    p = open_page(pair)
    labels = p.session["data"]["labels"]
    classes = p.session["data"]["classes"]
    iso = p.isolated_points(0)
    assert len(iso) >= 4, f"only {len(iso)} isolated points on map 0"
    i = iso[len(iso) // 2]

    # hover: the tooltip names the row and its label and shows its thumbnail
    x, y = p.screen_of(0, i)
    p.page.mouse.move(x, y)
    p.wait("(i) => { const t = document.getElementById('tooltip'); "
           "return !t.hidden && t.dataset.row === String(i); }", i)
    assert p.page.inner_text("#tooltip-text b") == f"row {i}"
    assert classes[labels[i]] in p.page.inner_text("#tooltip-text")
    p.wait("() => { const c = document.querySelector('#tooltip-thumb canvas'); "
           "return c && c.width === 8 && c.height === 8; }")
    thumb = _grey(p.canvas_pixels("#tooltip-thumb canvas"))
    assert thumb.max() - thumb.min() > 20, "the tooltip's thumbnail is blank"
    _shoot(p.page, "hover.png")
    # the thumbnail is the data row itself
    row = p.eval("(i) => fetch('api/rows?ids=' + i, {headers: {'x-latent-token': "
                 "document.querySelector('meta[name=latent-token]').content}})"
                 ".then((r) => r.json())", i)["rows"][0]
    lo, hi = p.session["data"]["range"]
    _assert_image_canvas_shows(p, "#tooltip-thumb canvas", row, (8, 8, 1), lo, hi)

    # moving away hides it
    ex, ey = p.empty_spots(0)[0]
    p.page.mouse.move(ex, ey)
    p.wait("() => document.getElementById('tooltip').hidden")

    # click: row i becomes current in both runs
    before = p.decoded()
    x, y = p.screen_of(0, i)
    p.page.mouse.click(x, y)
    p.wait_decoded_change(before)
    p.wait_row_everywhere(i)
    assert [c["point"] for c in p.current()] == [{"row": i}, {"row": i}]
    after = p.decoded()
    for r in range(2):
        assert after[r]["rows"] != before[r]["rows"], f"run {r}: the decoded row did not change"
        assert p.page.inner_text(f"#caption-{r}") == f"row {i} · {classes[labels[i]]}"
        assert p.page.locator(f"#neighbours-{r} .neighbour").count() == 8
        rows = [int(v) for v in p.page.locator(f"#neighbours-{r} .neighbour").evaluate_all(
            "(els) => els.map((e) => e.dataset.row)")]
        assert len(set(rows)) == 8 and all(0 <= v < DIGITS_ROWS for v in rows)
        dist = [float(t.split(": distance ")[1].replace("\u2212", "-")) for t in
                p.page.locator(f"#neighbours-{r} .neighbour").evaluate_all(
                    "(els) => els.map((e) => e.title)")]
        assert dist == sorted(dist), f"run {r}: neighbours not nearest first: {dist}"
    # the code of a clicked row is the row's code, as the API gives it
    for r in range(2):
        api = p.api_decode(r, [{"row": i}])
        np.testing.assert_allclose(after[r]["codes"][0], api["codes"][0], rtol=0, atol=1e-6)

    # a neighbour is a row: clicking it decodes that row everywhere
    nb = int(p.page.get_attribute("#neighbours-1 .neighbour:nth-child(3)", "data-row"))
    if nb != i:
        before = p.decoded()
        p.page.click("#neighbours-1 .neighbour:nth-child(3)")
        p.wait_row_everywhere(nb)
        p.wait_decoded_change(before)

    # a row of run 1's map clicks the same way (the picked row, not a map point)
    iso1 = p.isolated_points(1)
    j = iso1[0]
    before = p.decoded()
    x, y = p.screen_of(1, j)
    p.page.mouse.click(x, y)
    p.wait_row_everywhere(j)
    p.wait_decoded_change(before)

    # empty map space: a map point, the same in both runs, where the pointer was
    spots = p.empty_spots(0)
    assert spots, "no empty space on map 0"
    ex, ey = spots[len(spots) // 2]
    before = p.decoded()
    p.page.mouse.click(ex, ey)
    p.wait("() => window.latentExplorer.current.every((c) => c.point && c.point.map)")
    p.wait_decoded_change(before)
    cur = p.current()
    m0, m1 = cur[0]["point"]["map"], cur[1]["point"]["map"]
    assert m0 == m1
    sx, sy = p.eval("([x, y]) => window.latentExplorer.screenOfMap(0, x, y)", m0).values()
    assert abs(sx - ex) <= 1.0 and abs(sy - ey) <= 1.0, ((sx, sy), (ex, ey))
    # the decoded code lies where it was clicked (lift, then project, is the identity)
    where = p.page.inner_text("#where-0").replace("\u2212", "-")
    wx, wy = map(float, re.search(r"\(([-\d.]+), ([-\d.]+)\)", where).groups())
    assert abs(wx - m0[0]) <= 0.011 and abs(wy - m0[1]) <= 0.011, (where, m0)
    assert p.page.inner_text("#caption-0").startswith("map (")
    p.check_clean()


def test_sliders_are_shared_across_runs(open_page, pair):
    p = open_page(pair)
    runs = p.session["runs"]
    before = p.decoded()
    p.page.locator("#slider-0-1").fill("1.5")
    p.wait_decoded_change(before)
    p.wait("() => window.latentExplorer.current.every((c) => c.point && c.point.code)")
    after = p.decoded()
    for r, run in enumerate(runs):
        assert after[r]["rows"] != before[r]["rows"], f"run {r}: the slider changed nothing"
        code = after[r]["codes"][0]
        want = run["code_mean"][1] + 1.5 * run["code_sd"][1]
        assert abs(code[1] - want) <= 1e-4 * max(1.0, abs(want)), (r, code, want)
        # the other coordinates stay those of row 0
        for k in range(run["latent_dim"]):
            if k != 1:
                assert abs(code[k] - before[r]["codes"][0][k]) <= 1e-5, (r, k)
        assert abs(float(p.page.input_value(f"#slider-{r}-1")) - 1.5) <= 0.011
        assert p.page.inner_text(f"#slider-{r}-1-value") == "1.50"
    assert "z1 = 1.50 σ" in p.page.inner_text("#caption-0")

    # z4 exists in the PCA (K = 5) only: the VAE (K = 4) is left alone
    assert p.page.locator("#slider-1-4").count() == 0
    mid = p.decoded()
    p.page.locator("#slider-0-4").fill("-0.5")
    p.wait("(b) => window.latentExplorer.pending === 0 && "
           "JSON.stringify(window.latentExplorer.lastDecoded[0]) !== b",
           json.dumps(mid[0], separators=(",", ":")))
    assert p.decoded()[1] == mid[1], "z4 of the PCA changed the VAE"

    # a real drag of run 1's first slider to its right end moves run 0's too
    box = p.page.locator("#slider-1-0").bounding_box()
    before = p.decoded()
    p.page.mouse.move(box["x"] + box["width"] / 2, box["y"] + box["height"] / 2)
    p.page.mouse.down()
    p.page.mouse.move(box["x"] + box["width"] + 40, box["y"] + box["height"] / 2, steps=6)
    p.page.mouse.up()
    p.wait_decoded_change(before)
    p.idle()
    for r, run in enumerate(runs):
        assert float(p.page.input_value(f"#slider-{r}-0")) == pytest.approx(4.0, abs=0.011)
        code = p.decoded()[r]["codes"][0]
        want = run["code_mean"][0] + 4.0 * run["code_sd"][0]
        assert abs(code[0] - want) <= 1e-4 * max(1.0, abs(want)), (r, code, want)
        # slider 1 kept its value
        want1 = run["code_mean"][1] + 1.5 * run["code_sd"][1]
        assert abs(code[1] - want1) <= 1e-4 * max(1.0, abs(want1))
    p.check_clean()


def test_pan_zoom_and_reset(open_page, pair):
    """Wheel zoom keeps the point under the pointer, a drag pans without decoding, clicks
    after both still hit the right row, `reset view` fits again; at a device pixel ratio of 2."""
    p = open_page(pair, scale=2)
    assert p.eval("() => window.devicePixelRatio") == 2
    assert p.eval("() => document.getElementById('map-0').width") == 880
    iso = p.isolated_points(0)
    i, j = iso[0], iso[-1]
    si0, sj0 = p.screen_of(0, i), p.screen_of(0, j)
    s1 = p.screen_of(1, i)

    p.page.mouse.move(*si0)
    p.wait("() => !document.getElementById('tooltip').hidden")
    p.eval("() => { window.wheels = []; window.addEventListener('wheel', (e) => "
           "window.wheels.push([e.deltaY, e.deltaMode]), {capture: true, passive: true}); }")
    p.page.mouse.wheel(0, -300)
    p.wait("([i, x]) => Math.abs(window.latentExplorer.screenOf(0, i).x - x) < 1.5 && "
           "document.getElementById('tooltip').hidden", [i, si0[0]])
    si, sj = p.screen_of(0, i), p.screen_of(0, j)
    assert abs(si[0] - si0[0]) <= 1.5 and abs(si[1] - si0[1]) <= 1.5, (
        "zoom moved the point under the pointer"
    )
    before = np.hypot(sj0[0] - si0[0], sj0[1] - si0[1])
    after = np.hypot(sj[0] - si[0], sj[1] - si[1])
    # (Chromium scales the wheel's delta by the pixel ratio: the page reads what it gets)
    wheels = p.eval("() => window.wheels")
    assert len(wheels) == 1 and wheels[0][0] < 0 and wheels[0][1] == 0, wheels
    assert after / before == pytest.approx(np.exp(-0.0015 * wheels[0][0]), rel=0.02)
    assert after / before > 1.1
    assert p.screen_of(1, i) == pytest.approx(s1, abs=0.01), "zooming map 0 moved map 1"

    # a drag pans and decodes nothing
    before = p.decoded()
    cur = p.current()
    spots = p.empty_spots(0)
    x0, y0 = spots[len(spots) // 2]
    si = p.screen_of(0, i)
    p.page.mouse.move(x0, y0)
    p.page.mouse.down()
    p.page.mouse.move(x0 + 30, y0 + 20, steps=5)
    p.page.mouse.up()
    p.idle()
    si2 = p.screen_of(0, i)
    assert si2[0] - si[0] == pytest.approx(30, abs=1.5)
    assert si2[1] - si[1] == pytest.approx(20, abs=1.5)
    assert p.decoded() == before and p.current() == cur, "a pan decoded something"

    # a click on the zoomed, panned map still finds the right row
    iso = p.isolated_points(0, gap=12)
    assert iso, "no isolated point on the zoomed map"
    k = iso[len(iso) // 2]
    p.page.mouse.click(*p.screen_of(0, k))
    p.wait_row_everywhere(k)
    p.idle()

    p.page.click("#reset-view-0")
    p.wait("([i, x, y]) => { const s = window.latentExplorer.screenOf(0, i); "
           "return Math.abs(s.x - x) < 1.5 && Math.abs(s.y - y) < 1.5; }",
           [i, *p.eval("([x, y]) => [x, y]", list(si0))])
    p.check_clean()


def test_failed_requests_are_reported(open_page, pair):
    p = open_page(pair)
    iso = p.isolated_points(0)
    i = iso[0]
    boom = json.dumps({"error": "boom: the model is on fire"})
    p.page.route("**/api/decode", lambda route: route.fulfill(
        status=400, content_type="application/json", body=boom))
    p.page.mouse.click(*p.screen_of(0, i))
    p.wait("() => document.getElementById('status').className === 'error'")
    p.idle()
    text = p.page.inner_text("#status")
    assert "decode in pca: boom: the model is on fire (HTTP 400)" in text, text
    assert "decode in vae" in text, text
    assert [c["point"] for c in p.current()] == [{"row": 0}, {"row": 0}], (
        "a failed decode was shown"
    )
    p.page.unroute("**/api/decode")

    p.page.route("**/api/sample", lambda route: route.abort())
    p.page.click("#sample-button")
    p.wait("() => /sample in pca: no answer from the server/.test("
           "document.getElementById('status').textContent)")
    p.idle()
    p.page.unroute("**/api/sample")

    _shoot(p.page, "error.png", clip={"x": 0, "y": 0, "width": VIEWPORT["width"], "height": 160})

    # the next action clears the message, and works: the click hits the row under the pointer
    # although the message's going may change the layout
    p.page.mouse.click(*p.screen_of(0, i))
    p.wait("() => window.latentExplorer.current.every((c) => c.point && c.point.row !== 0)")
    p.idle()
    got = [c["point"] for c in p.current()]
    assert got == [{"row": i}, {"row": i}], (
        f"clicking row {i} just after an error message decoded {got}: the page moved under "
        "the pointer"
    )
    assert p.page.get_attribute("#status", "class") == "ok"
    assert p.page.inner_text("#status") == "ready"
    # the browser logs the failed loads; nothing else may be there
    p.errors = [e for e in p.errors if "Failed to load resource" not in e]
    p.check_clean()


def _close(a, b, tol=1e-5):
    a, b = np.asarray(a, dtype=np.float64), np.asarray(b, dtype=np.float64)
    return a.shape == b.shape and bool(np.all(np.abs(a - b) <= tol * np.maximum(1, np.abs(b))))


def test_picks_strip_grid_samples(open_page, pair):
    p = open_page(pair)
    runs = p.session["runs"]
    iso = p.isolated_points(0)
    assert len(iso) >= 2
    a, b = iso[0], iso[-1]
    spots = p.empty_spots(0)
    assert spots

    # A, B: shift-clicked rows; C: shift-clicked empty space; D: the current code (a slider)
    p.page.keyboard.down("Shift")
    for i in (a, b):
        x, y = p.screen_of(0, i)
        p.page.mouse.click(x, y)
    p.page.mouse.click(*spots[0])
    p.page.keyboard.up("Shift")
    p.wait("() => window.latentExplorer.picks.length === 3")
    # shift-clicks pick; they do not decode
    assert [c["point"] for c in p.current()] == [{"row": 0}, {"row": 0}]
    before = p.decoded()
    p.page.locator("#slider-0-2").fill("-2")
    p.wait_decoded_change(before)
    p.wait("() => window.latentExplorer.current.every((c) => c.point && c.point.code)")
    assert p.page.is_enabled("#pick-button")
    p.page.click("#pick-button")
    p.wait("() => window.latentExplorer.picks.length === 4")
    picks = p.eval("() => JSON.parse(JSON.stringify(window.latentExplorer.picks))")
    assert picks[0]["points"] == [{"row": a}, {"row": a}]
    assert picks[1]["points"] == [{"row": b}, {"row": b}]
    assert "map" in picks[2]["points"][0] and picks[2]["points"][0] == picks[2]["points"][1]
    cur = p.current()
    for r, run in enumerate(runs):
        d_code = picks[3]["points"][r]["code"]
        assert len(d_code) == run["latent_dim"]
        assert _close(d_code, cur[r]["code"])
    for letter in "ABCD":
        assert p.page.locator(f"#pick-{letter}").count() == 1
    assert p.page.is_disabled("#pick-button"), "a fifth pick is offered"

    # steps are bounded by the session's limit: the field says what was used
    p.page.fill("#interp-steps", "1000")
    p.page.click("#interp-button")
    limit = p.session["limits"]["steps"]
    p.wait_cells("strip", limit)
    assert p.page.input_value("#interp-steps") == str(limit)

    # interpolation: `steps` cells in both runs, from A's code to B's
    p.page.fill("#interp-steps", "7")
    p.page.click("#interp-button")
    p.wait_cells("strip", 7)
    p.idle()
    code_a = [p.api_decode(r, [{"row": a}])["codes"][0] for r in range(2)]
    code_b = [p.api_decode(r, [{"row": b}])["codes"][0] for r in range(2)]
    for j, want in ((0, code_a), (6, code_b)):
        before = p.decoded()
        p.page.click(f"#strip-0 .cell[data-index='{j}']")
        p.wait_decoded_change(before)
        cur = p.current()
        for r in range(2):
            assert _close(cur[r]["code"], want[r]), (j, r, cur[r]["code"], want[r])
        assert p.page.locator(f"#strip-1 .cell[data-index='{j}'].selected").count() == 1

    # grid: size² cells in both runs, corners A B / C D
    p.page.fill("#grid-size", "3")
    p.page.click("#grid-button")
    p.wait_cells("grid", 9)
    p.idle()
    before = p.decoded()
    p.page.click("#grid-1 .cell[data-index='8']")
    p.wait_decoded_change(before)
    cur = p.current()
    for r in range(2):
        assert _close(cur[r]["code"], picks[3]["points"][r]["code"]), r
    before = p.decoded()
    p.page.click("#grid-0 .cell[data-index='0']")
    p.wait_decoded_change(before)
    cur = p.current()
    for r in range(2):
        assert _close(cur[r]["code"], code_a[r]), r
    for r in range(2):
        cells = _grey(p.canvas_pixels(f"#grid-{r} .cell[data-index='4'] canvas"))
        assert cells.max() - cells.min() > 20, f"grid {r}: the middle cell is blank"
    _shoot(p.page, "strip-grid.png", full_page=True)

    # sampling: n cells in both runs
    p.page.fill("#sample-count", "5")
    p.page.click("#sample-button")
    p.wait_cells("samples", 5)
    p.idle()
    for r in range(2):
        assert "seed" in p.page.inner_text(f"#sampler-{r}")
        first = _grey(p.canvas_pixels(f"#samples-{r} .cell[data-index='0'] canvas"))
        assert first.max() - first.min() > 20, f"samples {r}: blank"
    p.page.locator("#samples-0").scroll_into_view_if_needed()
    _shoot(p.page, "samples.png")

    # clearing the picks disables interpolation and the grid
    p.page.click("#clear-picks")
    assert p.eval("() => window.latentExplorer.picks.length") == 0
    assert p.page.is_disabled("#interp-button") and p.page.is_disabled("#grid-button")
    p.check_clean()


# ---------------------------------------------------------------------------- decode parity


def _interact(p: Page, r: int) -> list[dict]:
    """A row click, a map click and a slider move in run r; what the page decoded each time."""
    seen = []
    iso = p.isolated_points(r)
    assert iso, f"no isolated point on map {r}"
    i = iso[len(iso) // 3]
    before = p.decoded()
    x, y = p.screen_of(r, i)
    p.page.mouse.click(x, y)
    p.wait("([r, i]) => { const c = window.latentExplorer.current[r]; "
           "return c.point && c.point.row === i; }", [r, i])
    p.wait_decoded_change(before)
    seen.append(p.decoded()[r])

    spots = p.empty_spots(r)
    assert spots, f"no empty space on map {r}"
    before = p.decoded()
    p.page.mouse.click(*spots[-1])
    p.wait("(r) => { const c = window.latentExplorer.current[r]; "
           "return c.point && c.point.map; }", r)
    p.wait_decoded_change(before)
    seen.append(p.decoded()[r])

    before = p.decoded()
    p.page.locator(f"#slider-{r}-0").fill("-1.25")
    p.wait_decoded_change(before)
    seen.append(p.decoded()[r])
    return seen


def _assert_decodes_like_the_cli(cli, run_dir, seen: list[dict], workdir, tag: str,
                                 latent_dim: int, shape: tuple) -> np.ndarray:
    """What the page decoded (each `seen` a decode answer of one point) is what
    `latent decode` writes for the same codes, to 1e-4; returns the rows."""
    codes = np.asarray([s["codes"][0] for s in seen], dtype=np.float32)
    rows = np.asarray([s["rows"][0] for s in seen], dtype=np.float64)
    m = len(seen)
    assert codes.shape == (m, latent_dim)
    assert len({tuple(c) for c in codes.tolist()}) == m, f"{tag}: the interactions repeat a code"
    path_codes = workdir / f"codes-{tag}.npy"
    path_out = workdir / f"decoded-{tag}.npy"
    path_out.unlink(missing_ok=True)
    np.save(path_codes, codes)
    cli("decode", "--run", run_dir, "--codes", path_codes, "--out", path_out)
    want = np.load(path_out)
    assert want.shape == (m, *shape), want.shape
    want = want.reshape(m, -1).astype(np.float64)
    assert rows.shape == want.shape
    err = np.abs(rows - want) / np.maximum(1.0, np.abs(want))
    assert err.max() <= 1e-4, f"{tag}: the page's rows differ from `latent decode` by {err.max()}"
    return rows


@pytest.mark.parametrize("which", ["pca", "vae", "conv"])
def test_decode_parity_with_the_cli(which, open_page, pair, conv, runs, cli, workdir):
    explorer, r = {"pca": (pair, 0), "vae": (pair, 1), "conv": (conv, 0)}[which]
    p = open_page(explorer)
    assert p.session["runs"][r]["name"] == which
    seen = _interact(p, r)
    rows = _assert_decodes_like_the_cli(cli, runs[which], seen, workdir, which,
                                        p.session["runs"][r]["latent_dim"], (8, 8))
    # the picture: #decoded-R is the last decoded row, in the display range
    lo, hi = p.session["data"]["range"]
    _assert_image_canvas_shows(p, f"#decoded-{r}", rows[-1], (8, 8, 1), lo, hi)
    if which == "conv":
        _shoot(p.page, "conv.png", full_page=True)
    p.check_clean()


# ---------------------------------------------------------------------------- table data


def test_table_data_shows_bars(open_page, wine):
    p = open_page(wine)
    d = p.session["data"]
    assert d["kind"] == "table" and d["rows"] == 178
    features = d["features"]
    assert len(features) == 13 and features[0] == "alcohol" and features[-1] == "proline"
    assert p.page.inner_text("#data-kind") == "table, 13 features"
    bars = p.page.locator("#decoded-0 .bar-row")
    assert bars.count() == 13
    assert [t.strip() for t in p.page.locator("#decoded-0 .bar-name").all_inner_texts()] == features
    assert p.page.locator("#legend-0 .legend-item").count() == 3

    def shown():
        vals = p.page.locator("#decoded-0 .bar-value").all_inner_texts()
        return [float(v.replace("\u2212", "-")) for v in vals]

    def check_bars():
        row = p.decoded()[0]["rows"][0]
        vals = shown()
        assert len(vals) == 13
        for v, w in zip(vals, row):  # four significant digits
            assert abs(v - w) <= 6e-4 * max(abs(w), 1e-6) + 1e-9, (vals, row)
        widths = p.page.locator("#decoded-0 .bar").evaluate_all(
            "(els) => els.map((e) => parseFloat(e.style.width))")
        assert len(widths) == 13 and all(0 <= w <= 50 for w in widths)
        assert sum(w > 0 for w in widths) >= 10, widths
        return vals

    first = check_bars()
    iso = p.isolated_points(0)
    assert iso
    before = p.decoded()
    x, y = p.screen_of(0, iso[0])
    p.page.mouse.click(x, y)
    p.wait_decoded_change(before)
    assert check_bars() != first
    # neighbours of a table row are sparklines
    assert p.page.locator("#neighbours-0 .neighbour canvas").count() == 8
    _shoot(p.page, "wine.png", full_page=True)
    p.check_clean()


# ---------------------------------------------------------------------------- the exported page

# what export.js replaced in a binary built before it was written
EXPORT_PLACEHOLDER = "// placeholder replaced by the exported page's decoder"


def _assets_export(html: str) -> str:
    """An exported page rebuilt around its bundle from the checkout's assets, as page.rs's
    `exported` builds it (LATENT_EXPLORE_ASSETS=1: export.js and explore.js without a
    rebuild). The bundle is one line: serde's JSON has no raw newline."""
    start = html.index("window.latentBundle = ")
    bundle = html[start:html.index("\n", start)]
    assets = ROOT / "crates" / "latent-serve" / "assets"
    script = (f"{bundle}\n{(assets / 'export.js').read_text()}\n"
              f"{(assets / 'explore.js').read_text()}")
    page = (assets / "explore.html").read_text()
    page = page.replace("LATENT_TOKEN", "exported", 1)
    page = page.replace("/*LATENT_CSS*/", (assets / "explore.css").read_text(), 1)
    return page.replace("/*LATENT_JS*/", script, 1)


def _export(cli, run_dirs: list, data, out: pathlib.Path) -> pathlib.Path:
    """`latent explore --run … --data DATA --export OUT`; the file, checked self-contained."""
    args: list = ["explore"]
    for r in run_dirs:
        args += ["--run", r]
    proc = cli(*args, "--data", data, "--export", out, "--force")
    assert out.is_file(), f"--export wrote no {out}"
    assert "decoding in the page" in proc.stdout and str(out) in proc.stdout, proc.stdout
    html = out.read_text()
    assert html.count("window.latentBundle = {") == 1
    assert "http://" not in html and "https://" not in html, "the exported page names a URL"
    assert html.count("</script>") == 1, "the bundle ends the page's script early"
    if PAGE_FROM_ASSETS:
        out.write_text(_assets_export(html))
    elif EXPORT_PLACEHOLDER in html:
        pytest.fail(
            f"{out}: the binary's exported page has no decoder (it embeds export.js as it was "
            "when built: a placeholder): rebuild it, or set LATENT_EXPLORE_ASSETS=1",
            pytrace=False,
        )
    return out


@pytest.fixture(scope="module")
def exported_pair(cli, runs, workdir) -> pathlib.Path:
    return _export(cli, [runs["pca"], runs["vae"]], "digits", workdir / "pair-export.html")


def _server(ex: Explorer, path: str, body=None) -> dict:
    """An answer of the server's API (200 expected)."""
    status, _, text = _request(ex, "GET" if body is None else "POST", path, token=ex.token,
                               body=None if body is None else json.dumps(body).encode())
    assert status == 200, (path, body, status, text[:300])
    return json.loads(text)


def _server_rows(ex: Explorer, n: int) -> np.ndarray:
    """All n mapped rows from the server (at most `limits.rows` a request)."""
    per = _server(ex, "/api/session")["limits"]["rows"]
    out = []
    for at in range(0, n, per):
        ids = ",".join(str(i) for i in range(at, min(n, at + per)))
        out += _server(ex, f"/api/rows?ids={ids}")["rows"]
    return np.asarray(out, dtype=np.float64)


def _backend(p: Page, method: str, *args):
    """The page's backend answering `method(*args)`: its answer, or {"error": message}."""
    return p.eval(
        """([m, args]) => window.latentExplorer.backend[m](...args).then(
             (v) => v, (e) => ({error: e instanceof Error ? e.message : String(e)}))""",
        [method, list(args)],
    )


def _assert_neighbours(got: list[dict], row, X: np.ndarray, sd=None, tag=""):
    """`got` (the page's neighbours of decoded `row`) are the rows of X nearest it, nearest
    first, their distances numpy's (Euclidean; each feature divided by `sd` for a table)."""
    diff = X - np.asarray(row, dtype=np.float64)
    if sd is not None:
        diff = diff / np.asarray(sd, dtype=np.float64)
    dist = np.sqrt((diff * diff).sum(axis=1))
    order = np.lexsort((np.arange(len(dist)), dist))
    k = len(got)
    assert k > 0
    rows = [g["row"] for g in got]
    d = [g["distance"] for g in got]
    assert d == sorted(d), f"{tag}: neighbours not nearest first: {d}"
    assert len(set(rows)) == k
    np.testing.assert_allclose(d, dist[rows], rtol=1e-3, atol=1e-6, err_msg=tag)
    np.testing.assert_allclose(d, dist[order[:k]], rtol=1e-3, atol=1e-6, err_msg=tag)
    # the same rows as numpy's, but for near ties
    for j, (a, b) in enumerate(zip(rows, order[:k])):
        assert a == b or abs(dist[a] - dist[b]) <= 1e-4 * max(1.0, dist[b]), (tag, j, rows, order[:k])


def _assert_same_decoded(mine: dict, server: dict, tag: str):
    """Two decode answers of the same codes: codes equal (f32), rows and map to 1e-4."""
    for key, tol in (("codes", 1e-6), ("rows", 1e-4), ("map", 1e-4)):
        a = np.asarray(mine[key], dtype=np.float64)
        b = np.asarray(server[key], dtype=np.float64)
        assert a.shape == b.shape, (tag, key, a.shape, b.shape)
        err = np.abs(a - b) / np.maximum(1.0, np.abs(b))
        assert err.max() <= tol, f"{tag}: {key} differ from the server's by {err.max()}"


def test_exported_page_runs_without_a_server(open_page, exported_pair, pair, runs, cli, workdir):
    url = exported_pair.resolve().as_uri()
    p = open_page(None, url=url)
    assert p.eval("() => window.latentExplorer.backend === window.latentBackend "
                  "&& window.latentBackend.exported === true"), "the page does not use export.js"
    s = p.session
    server = _server(pair, "/api/session")
    assert [r["name"] for r in s["runs"]] == ["pca", "vae"]
    assert s["data"]["rows"] == DIGITS_ROWS and s["data"]["labels"] == server["data"]["labels"]
    assert s["limits"] == server["limits"]
    for r, run in enumerate(s["runs"]):
        assert int(p.page.get_attribute(f"#map-{r}", "data-points")) == DIGITS_ROWS
        for axis in ("x", "y"):
            np.testing.assert_allclose(run["map"][axis], server["runs"][r]["map"][axis],
                                       rtol=0, atol=1e-4)
        assert p.page.locator(f"#neighbours-{r} .neighbour").count() == 8
    assert p.page.inner_text("#status") == "ready"

    # the rows are the server's
    X = _server_rows(pair, DIGITS_ROWS)
    ids = [0, 1, 17, DIGITS_ROWS - 1]
    assert np.array_equal(np.asarray(_backend(p, "rows", ids)["rows"]), X[ids])

    # a row click, a map click and a slider in each run decode in both, as `latent decode` does
    for r, which in enumerate(["pca", "vae"]):
        seen = _interact(p, r)
        _assert_decodes_like_the_cli(cli, runs[which], seen, workdir, f"export-{which}",
                                     s["runs"][r]["latent_dim"], (8, 8))
    lo, hi = s["data"]["range"]
    _assert_image_canvas_shows(p, "#decoded-1", p.decoded()[1]["rows"][0], (8, 8, 1), lo, hi)

    # neighbours: clicking row i in the PCA gives the rows nearest its decoding, by numpy,
    # in the list shown; the server finds the same for the same code
    iso = p.isolated_points(0)
    i = iso[len(iso) // 2]
    before = p.decoded()
    p.page.mouse.click(*p.screen_of(0, i))
    p.wait_row_everywhere(i)
    p.wait_decoded_change(before)
    shown = [int(v) for v in p.page.locator("#neighbours-0 .neighbour").evaluate_all(
        "(els) => els.map((e) => e.dataset.row)")]
    for r in range(2):
        mine = _backend(p, "decode", r, [{"row": i}], 8)
        assert mine["rows"][0] == p.decoded()[r]["rows"][0]
        if r == 0:
            assert [nb["row"] for nb in mine["neighbours"][0]] == shown
        _assert_neighbours(mine["neighbours"][0], mine["rows"][0], X, tag=f"run {r} row {i}")
        theirs = _server(pair, "/api/decode",
                         {"run": r, "points": [{"code": mine["codes"][0]}], "neighbours": 8})
        _assert_same_decoded(mine, theirs, f"run {r} row {i}")
        np.testing.assert_allclose([nb["distance"] for nb in mine["neighbours"][0]],
                                   [nb["distance"] for nb in theirs["neighbours"][0]], rtol=1e-4)

    # paths and grids between codes: the server's codes and rows
    codes = [[_backend(p, "decode", r, [{"row": j}], 0)["codes"][0] for j in iso[:4]]
             for r in range(2)]
    for r in range(2):
        a, b = ({"code": c} for c in codes[r][:2])
        for path in ("lerp", "slerp"):
            mine = _backend(p, "interpolate", r, a, b, 6, path)
            theirs = _server(pair, "/api/interpolate",
                             {"run": r, "a": a, "b": b, "steps": 6, "path": path})
            _assert_same_decoded(mine, theirs, f"run {r} {path}")
            assert mine["codes"][0] == codes[r][0] and mine["codes"][-1] == codes[r][1]
        corners = [{"code": c} for c in codes[r]]
        mine = _backend(p, "grid", r, corners, 4)
        theirs = _server(pair, "/api/grid", {"run": r, "corners": corners, "size": 4})
        _assert_same_decoded(mine, theirs, f"run {r} grid")
        assert [mine["codes"][q] for q in (0, 3, 12, 15)] == codes[r]

    # a request the server refuses is refused with the server's message
    bad = [
        ("decode", [0, [{"row": 99999}], 0], "/api/decode", {"run": 0, "points": [{"row": 99999}]}),
        ("decode", [7, [{"row": 0}], 0], "/api/decode", {"run": 7, "points": [{"row": 0}]}),
        ("decode", [0, [{"code": [0.0, 1.0]}], 0], "/api/decode",
         {"run": 0, "points": [{"code": [0.0, 1.0]}]}),
        ("decode", [1, [], 0], "/api/decode", {"run": 1, "points": []}),
        ("decode", [0, [{"row": 0}], 10_000], "/api/decode",
         {"run": 0, "points": [{"row": 0}], "neighbours": 10_000}),
        ("sample", [0, 100_000, 1, 0], "/api/sample", {"run": 0, "n": 100_000}),
        ("sample", [1, 2, -1, 0], "/api/sample", {"run": 1, "n": 2, "temperature": -1}),
        ("grid", [0, [{"row": 0}] * 4, 1000], "/api/grid",
         {"run": 0, "corners": [{"row": 0}] * 4, "size": 1000}),
        ("grid", [0, [{"row": 0}] * 4, 1], "/api/grid",
         {"run": 0, "corners": [{"row": 0}] * 4, "size": 1}),
        ("interpolate", [0, {"row": 0}, {"row": 1}, 1_000_000, "lerp"], "/api/interpolate",
         {"run": 0, "a": {"row": 0}, "b": {"row": 1}, "steps": 1_000_000}),
        ("interpolate", [0, {"row": 0}, {"row": 1}, 1, "lerp"], "/api/interpolate",
         {"run": 0, "a": {"row": 0}, "b": {"row": 1}, "steps": 1}),
    ]
    for method, args, path, body in bad:
        mine = _backend(p, method, *args)
        status, _, text = _request(pair, "POST", path, token=pair.token,
                                   body=json.dumps(body).encode())
        assert status == 400, (path, body, status)
        assert mine == {"error": json.loads(text)["error"]}, (method, args, mine, text)
    ids = list(range(300))
    status, _, text = _request(pair, "GET", "/api/rows?ids=" + ",".join(map(str, ids)),
                               token=pair.token)
    assert status == 400
    assert _backend(p, "rows", ids) == {"error": json.loads(text)["error"]}
    assert "error" in _backend(p, "decode", 0, [{"file": "/etc/passwd"}], 0)
    assert "error" in _backend(p, "decode", 0, [{"map": [0, "x"]}], 0)

    # sampling: seeded (the same seed, the same draws), T = 0 is the mean, T = 1 the spread
    for r, run in enumerate(s["runs"]):
        one, again = (_backend(p, "sample", r, 4, 1, 42) for _ in range(2))
        assert one == again and one["codes"] != _backend(p, "sample", r, 4, 1, 43)["codes"]
        cold = np.asarray(_backend(p, "sample", r, 3, 0, 5)["codes"])
        mean = np.zeros(run["latent_dim"]) if r == 1 else np.asarray(run["code_mean"])
        np.testing.assert_allclose(cold, np.tile(mean, (3, 1)), rtol=0, atol=1e-6)
        z = np.asarray(_backend(p, "sample", r, 64, 1, 7)["codes"])
        sd = np.ones(run["latent_dim"]) if r == 1 else np.asarray(run["code_sd"])
        assert np.all(np.abs(z.mean(axis=0) - mean) < 0.6 * sd), (r, z.mean(axis=0))
        assert np.all((z.std(axis=0) > 0.6 * sd) & (z.std(axis=0) < 1.5 * sd)), (r, z.std(axis=0))
        smp = _backend(p, "sample", r, 2, 1, 9)
        again = _backend(p, "decode", r, [{"code": c} for c in smp["codes"]], 0)
        assert again["rows"] == smp["rows"] and again["map"] == smp["map"]

    # the page's own controls: picks, a strip, a grid, samples in both runs
    spots = p.empty_spots(0)
    p.page.keyboard.down("Shift")
    for j in iso[:3]:
        p.page.mouse.click(*p.screen_of(0, j))
    p.page.mouse.click(*spots[0])
    p.page.keyboard.up("Shift")
    p.wait("() => window.latentExplorer.picks.length === 4")
    p.page.fill("#interp-steps", "7")
    p.page.select_option("#interp-path", "slerp")
    p.page.click("#interp-button")
    p.wait_cells("strip", 7)
    before = p.decoded()
    p.page.click("#strip-0 .cell[data-index='6']")
    p.wait_decoded_change(before)
    for r in range(2):
        assert p.current()[r]["code"] == codes[r][1], "the strip does not end at B"
    p.page.fill("#grid-size", "5")
    p.page.click("#grid-button")
    p.wait_cells("grid", 25)
    for r in range(2):
        cell = _grey(p.canvas_pixels(f"#grid-{r} .cell[data-index='12'] canvas"))
        assert cell.max() - cell.min() > 20, f"grid {r}: the middle cell is blank"
    p.page.fill("#sample-count", "6")
    p.page.click("#sample-button")
    p.wait_cells("samples", 6)
    for r in range(2):
        first = _grey(p.canvas_pixels(f"#samples-{r} .cell[data-index='0'] canvas"))
        assert first.max() - first.min() > 20, f"samples {r}: blank"
    _shoot(p.page, "export.png", full_page=True)

    # how long one decode takes in the page (the MLP VAE, with its 8 neighbours)
    ms = p.eval("""async () => {
      const b = window.latentExplorer.backend, t = [];
      for (let i = 0; i < 40; i++) {
        const t0 = performance.now();
        await b.decode(1, [{row: i}], 8);
        t.push(performance.now() - t0);
      }
      return t.sort((x, y) => x - y)[20];
    }""")
    assert ms < 250, f"a decode takes {ms} ms in the exported page"

    # nothing but the file itself was ever asked for
    assert p.requests == [url], p.requests
    p.check_clean()


def test_export_refuses_a_conv_decoder(cli, runs, workdir):
    out = workdir / "conv-export.html"
    out.unlink(missing_ok=True)
    proc = cli("explore", "--run", runs["conv"], "--data", "digits", "--export", out, check=False)
    assert proc.returncode == 1, (proc.returncode, proc.stderr)
    assert "conv" in proc.stderr and "convolutional decoder cannot be exported" in proc.stderr, (
        proc.stderr
    )
    assert "without --export" in proc.stderr, proc.stderr
    assert not out.exists(), "a refused export wrote its file"


def test_exported_table_shows_bars(open_page, browser, wine, runs, cli, workdir):
    out = _export(cli, [runs["wine"]], WINE_CSV, workdir / "wine-export.html")
    url = out.resolve().as_uri()
    p = open_page(None, url=url)
    d = p.session["data"]
    assert d["kind"] == "table" and d["rows"] == 178
    assert p.page.inner_text("#data-kind") == "table, 13 features"
    assert p.page.locator("#decoded-0 .bar-row").count() == 13
    assert p.page.locator("#legend-0 .legend-item").count() == 3

    def shown():
        return [float(v.replace("\u2212", "-"))
                for v in p.page.locator("#decoded-0 .bar-value").all_inner_texts()]

    first = shown()
    iso = p.isolated_points(0)
    assert iso
    before = p.decoded()
    p.page.mouse.click(*p.screen_of(0, iso[0]))
    p.wait_decoded_change(before)
    row = p.decoded()[0]["rows"][0]
    vals = shown()
    assert vals != first
    for v, w in zip(vals, row):  # four significant digits
        assert abs(v - w) <= 6e-4 * max(abs(w), 1e-6) + 1e-9, (vals, row)
    assert p.page.locator("#neighbours-0 .neighbour canvas").count() == 8

    # decoded as `latent decode` does; neighbours in feature standard deviations
    seen = [p.decoded()[0], _backend(p, "decode", 0, [{"map": [0.7, -1.2]}], 0)]
    _assert_decodes_like_the_cli(cli, runs["wine"], seen, workdir, "export-wine", 2, (13,))
    X = _server_rows(wine, 178)
    assert np.array_equal(np.asarray(_backend(p, "rows", list(range(178)))["rows"]), X)
    mine = _backend(p, "decode", 0, [{"row": iso[0]}], 8)
    _assert_neighbours(mine["neighbours"][0], mine["rows"][0], X, d["feature_sd"], "wine")
    p.page.mouse.move(2, 2)
    p.wait("() => document.getElementById('tooltip').hidden")
    _shoot(p.page, "export-wine.png", full_page=True)
    assert p.requests == [url], p.requests
    p.check_clean()

    # a damaged bundle: the page says what is wrong in its status line, and nothing throws
    text = out.read_text()
    assert text.count('"version":1') == 1
    broken = workdir / "wine-broken.html"
    broken.write_text(text.replace('"version":1', '"version":99', 1))
    context = browser.new_context(viewport=VIEWPORT)
    try:
        page = context.new_page()
        page.set_default_timeout(WAIT_MS)
        thrown: list[str] = []
        page.on("pageerror", lambda e: thrown.append(str(e)))
        page.goto(broken.resolve().as_uri())
        page.wait_for_function("() => document.getElementById('status').className === 'error'")
        status = page.inner_text("#status")
        assert "session: the exported page's data are malformed: bundle version 99" in status, (
            status
        )
        assert thrown == [], thrown
    finally:
        context.close()


# ---------------------------------------------------------------------------- security (no browser)


def _request(ex: Explorer, method: str, path: str, *, token=None, host=None, body=None,
             query_token=None):
    conn = http.client.HTTPConnection("127.0.0.1", ex.port, timeout=30)
    headers = {"Host": host or f"127.0.0.1:{ex.port}"}
    if token is not None:
        headers["x-latent-token"] = token
    if body is not None:
        headers["Content-Type"] = "application/json"
    if query_token is not None:
        path += ("&" if "?" in path else "?") + "token=" + query_token
    try:
        try:
            conn.request(method, path, body=body, headers=headers)
        except (BrokenPipeError, ConnectionResetError):
            pass  # refused before the whole body was sent: the answer may still be there
        resp = conn.getresponse()
        return resp.status, resp.getheader("Content-Type") or "", resp.read()
    finally:
        conn.close()


def _headers(ex: Explorer, path: str, token: str) -> dict[str, str]:
    conn = http.client.HTTPConnection("127.0.0.1", ex.port, timeout=30)
    try:
        conn.request("GET", path, headers={"x-latent-token": token})
        resp = conn.getresponse()
        resp.read()
        assert resp.status == 200, (path, resp.status)
        return {k.lower(): v for k, v in resp.getheaders()}
    finally:
        conn.close()


def _wrong(token: str) -> str:
    return ("0" if token[0] != "0" else "1") + token[1:]


def test_the_server_guards_its_door(pair):
    ex = pair
    t = ex.token
    for path in ("/", "/api/session", "/api/rows?ids=0"):
        assert _request(ex, "GET", path)[0] == 401, path
        assert _request(ex, "GET", path, token=_wrong(t))[0] == 401, path
        assert _request(ex, "GET", path, query_token=_wrong(t))[0] == 401, path
        assert _request(ex, "GET", path, token=t[:-1])[0] == 401, path
        assert _request(ex, "GET", path, token=t)[0] == 200, path
    assert _request(ex, "GET", "/", query_token=t)[0] == 200
    headers = _headers(ex, "/", t)
    csp = headers.get("content-security-policy", "")
    assert "default-src 'none'" in csp and "unsafe-eval" not in csp, csp
    assert "connect-src 'self'" in csp and "frame-ancestors 'none'" in csp, csp
    assert headers.get("x-content-type-options") == "nosniff"
    assert headers.get("cache-control") == "no-store"
    api = _headers(ex, "/api/session", t)
    assert "access-control-allow-origin" not in api, "the API allows other origins"
    assert api.get("content-type", "").startswith("application/json")
    assert _request(ex, "GET", "/api/session", token=t, host=f"localhost:{ex.port}")[0] == 200
    ok = b'{"run":0,"points":[{"row":0}]}'
    assert _request(ex, "POST", "/api/decode", token=_wrong(t), body=ok)[0] == 401

    # DNS rebinding: a page under another name, even with the token
    for host in (f"evil.example:{ex.port}", f"localhost.evil.example:{ex.port}",
                 f"127.0.0.1:{ex.port + 1 if ex.port < 65535 else 1}", "127.0.0.1"):
        assert _request(ex, "GET", "/api/session", token=t, host=host)[0] == 403, host
        assert _request(ex, "POST", "/api/decode", token=t, host=host, body=ok)[0] == 403, host

    # bodies: just under 1 MiB is read, over it is refused
    status, _, _ = _request(ex, "POST", "/api/decode", token=t,
                            body=ok + b" " * ((1 << 20) - len(ok) - 16))
    assert status == 200
    status, _, _ = _request(ex, "POST", "/api/decode", token=t,
                            body=ok + b" " * ((1 << 20) + 16))
    assert status == 413

    # the client never names a file; bad requests are JSON errors
    for body in (
        {"run": 0, "points": [{"file": "/etc/passwd"}]},
        {"run": 0, "points": [{"row": 99999}]},
        {"run": 7, "points": [{"row": 0}]},
        {"run": 0, "points": [{"code": [0.0, 1.0]}]},
        {"run": 0, "points": [{"row": 0}], "out": "/tmp/x"},
        {"run": 0, "points": [{"row": 0}], "neighbours": 10_000},
    ):
        status, ctype, text = _request(ex, "POST", "/api/decode", token=t,
                                       body=json.dumps(body).encode())
        assert 400 <= status < 500, (body, status)
        assert ctype.startswith("application/json"), (body, ctype)
        assert isinstance(json.loads(text)["error"], str), text
    for path, body in (("/api/sample", {"run": 0, "n": 100_000}),
                       ("/api/grid", {"run": 0, "corners": [{"row": 0}] * 4, "size": 1000}),
                       ("/api/interpolate", {"run": 0, "a": {"row": 0}, "b": {"row": 1},
                                             "steps": 1_000_000})):
        status, ctype, text = _request(ex, "POST", path, token=t, body=json.dumps(body).encode())
        assert status == 400, (path, status, text)
        assert "error" in json.loads(text)
    status, ctype, text = _request(ex, "GET", "/api/rows?ids=0,1,x", token=t)
    assert status == 400 and "error" in json.loads(text)
    status, _, _ = _request(ex, "GET", "/../../etc/passwd", token=t)
    assert status in (400, 404)
    status, _, text = _request(ex, "GET", "/", token=t)
    assert status == 200 and t.encode() in text


def _non_loopback_address() -> str | None:
    cands = []
    try:
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
            s.connect(("10.255.255.255", 1))
            cands.append(s.getsockname()[0])
    except OSError:
        pass
    try:
        cands.append(socket.gethostbyname(socket.gethostname()))
    except OSError:
        pass
    for a in cands:
        if a and not a.startswith("127.") and a != "0.0.0.0":
            return a
    return None


def test_listens_on_loopback_only(pair):
    addr = _non_loopback_address()
    if addr is None:
        pytest.skip("this machine has no non-loopback IPv4 address")
    # control: the address does take connections (a listener on all addresses)
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as srv:
        srv.bind(("0.0.0.0", 0))
        srv.listen(1)
        with socket.create_connection((addr, srv.getsockname()[1]), timeout=5):
            pass
    with pytest.raises(ConnectionRefusedError):
        with socket.create_connection((addr, pair.port), timeout=5):
            pass
    # and on loopback it answers
    with socket.create_connection(("127.0.0.1", pair.port), timeout=5):
        pass
