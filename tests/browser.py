"""Open a local HTML file in real headless Chromium (Debian package ``chromium``, driven by Playwright for Python)
and record what a reader's browser would: console errors, every request beyond the file itself, and screenshots at
desktop (1280x900) and phone (390x844) size. :func:`is_blank` tells whether a screenshot shows anything.

Used by the report tests (``from browser import render_html_file, is_blank``: ``tests/`` is on ``sys.path``
through ``tests/conftest.py``). Nothing leaves the machine: every request other than the file is recorded and
then aborted. :func:`require_chromium` skips a test when Chromium or Playwright is missing on a developer's
machine, and fails it when ``$CI`` is set (CI installs Chromium in ``.ci/run``).
"""

from __future__ import annotations

import os
import shutil
import struct
import zlib
from dataclasses import dataclass, field
from itertools import accumulate
from pathlib import Path

import pytest

VIEWPORTS: dict[str, tuple[int, int]] = {"desktop": (1280, 900), "phone": (390, 844)}
"""Screenshot name -> CSS pixel size (width, height). Phone = iPhone 12-15 portrait."""

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",  # CI runs as root in a container, where Chromium's sandbox cannot start
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def chromium_path() -> str | None:
    """The Chromium executable: ``chromium`` on ``$PATH``, else ``/usr/bin/chromium``, else None."""
    found = shutil.which("chromium")
    if found:
        return found
    return "/usr/bin/chromium" if os.access("/usr/bin/chromium", os.X_OK) else None


def require_chromium() -> str:
    """The Chromium executable for a browser test.

    When Chromium or the ``playwright`` package is missing the test is skipped with the reason, unless ``$CI`` is
    set: CI must run the browser tests, so there the test fails instead.
    """
    problem = None
    executable = chromium_path()
    if executable is None:
        problem = "Chromium not installed (apt-get install chromium; .ci/run installs it)"
    else:
        try:
            import playwright.sync_api  # noqa: F401
        except ImportError:
            problem = "the playwright package is not installed (pip install -c constraints.txt -e '.[dev]')"
    if problem is None:
        assert executable is not None
        return executable
    if os.environ.get("CI"):
        pytest.fail(f"browser test cannot run in CI: {problem}")
    pytest.skip(problem)


@dataclass
class RenderedPage:
    """What one page did in Chromium.

    ``console_errors``: console messages of type error and uncaught exceptions (``uncaught: ...``), from every
    viewport, in order. ``requests``: URLs requested beyond the file itself (``data:`` URLs excluded: they are
    inline); each was aborted, so nothing left the machine. ``screenshots``: viewport name -> PNG path.
    ``text_length``: characters of ``document.body.innerText`` (desktop). ``scroll_width``: per viewport, the
    document's width in CSS pixels (wider than the viewport = horizontal scrolling on that device).
    """

    url: str
    console_errors: list[str] = field(default_factory=list)
    requests: list[str] = field(default_factory=list)
    screenshots: dict[str, Path] = field(default_factory=dict)
    text_length: int = 0
    scroll_width: dict[str, int] = field(default_factory=dict)


def render_html_file(html: Path, out_dir: Path, *, full_page: bool = False, timeout_ms: int = 30_000) -> RenderedPage:
    """Open ``html`` in headless Chromium at each of :data:`VIEWPORTS` and screenshot it into ``out_dir``
    (``<stem>-desktop.png``, ``<stem>-phone.png``; the visible viewport, or the whole page with ``full_page``).

    Calls :func:`require_chromium` first (skip or fail when there is no browser). Returns a :class:`RenderedPage`.
    Raises Playwright's errors when the page does not load within ``timeout_ms``.
    """
    executable = require_chromium()
    from playwright.sync_api import Request, Route, sync_playwright

    html = html.resolve()
    url = html.as_uri()
    out_dir.mkdir(parents=True, exist_ok=True)
    result = RenderedPage(url=url)

    def on_request(request: Request) -> None:
        if request.url != url and not request.url.startswith("data:"):
            result.requests.append(request.url)

    def only_the_file(route: Route) -> None:
        # recorded by on_request already; aborting keeps tests off the network and makes the page fail visibly
        if route.request.url == url:
            route.continue_()
        else:
            route.abort()

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=executable, args=CHROMIUM_ARGS, headless=True)
        try:
            for name, (width, height) in VIEWPORTS.items():
                phone = name == "phone"
                context = browser.new_context(
                    viewport={"width": width, "height": height},
                    device_scale_factor=1,
                    is_mobile=phone,
                    has_touch=phone,
                )
                try:
                    context.set_default_timeout(timeout_ms)
                    context.route("**/*", only_the_file)
                    page = context.new_page()
                    page.on("request", on_request)
                    page.on(
                        "console",
                        lambda msg: result.console_errors.append(msg.text) if msg.type == "error" else None,
                    )
                    page.on("pageerror", lambda err: result.console_errors.append(f"uncaught: {err}"))
                    page.goto(url, wait_until="load")
                    page.wait_for_load_state("networkidle")
                    shot = out_dir / f"{html.stem}-{name}.png"
                    page.screenshot(path=str(shot), full_page=full_page)
                    result.screenshots[name] = shot
                    result.scroll_width[name] = int(page.evaluate("document.documentElement.scrollWidth"))
                    if name == "desktop":
                        result.text_length = int(page.evaluate("(document.body?.innerText ?? '').trim().length"))
                finally:
                    context.close()
        finally:
            browser.close()
    return result


# --- is the screenshot blank? ------------------------------------------------------------------------------------
# A small PNG reader (PNG spec, W3C 2003, sections 7-9) so the check needs no imaging library: 8-bit grey, RGB and
# RGBA (and their alpha variants), not interlaced, which is what Chromium writes.

_CHANNELS = {0: 1, 2: 3, 4: 2, 6: 4}  # colour type -> samples per pixel


def png_rows(png: Path) -> tuple[int, int, int, list[bytes]]:
    """Decode a PNG into (width, height, bytes per pixel, rows of raw samples).

    Raises ``ValueError`` naming the file for anything else than a non-interlaced 8-bit grey/RGB/RGBA PNG.
    """
    data = png.read_bytes()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{png}: not a PNG file")
    pos, idat, header = 8, [], None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos : pos + 4])
        kind, body = data[pos + 4 : pos + 8], data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat.append(body)
        elif kind == b"IEND":
            break
        pos += 12 + length
    if header is None:
        raise ValueError(f"{png}: no IHDR chunk")
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or colour not in _CHANNELS or interlace:
        raise ValueError(f"{png}: unsupported PNG (bit depth {depth}, colour type {colour}, interlace {interlace})")
    bpp = _CHANNELS[colour]
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    if len(raw) != height * (stride + 1):
        raise ValueError(f"{png}: image data is {len(raw)} bytes, expected {height * (stride + 1)}")
    rows: list[bytes] = []
    prev = bytes(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], raw[start + 1 : start + 1 + stride]
        row = _unfilter(kind, line, prev, bpp)
        rows.append(row)
        prev = row
    return width, height, bpp, rows


def _unfilter(kind: int, line: bytes, prev: bytes, bpp: int) -> bytes:
    n = len(line)
    if kind == 0:  # None
        return line
    if kind == 2:  # Up: bytewise (line + prev) mod 256, all bytes at once without carries between them
        high = int.from_bytes(b"\x80" * n, "big")
        a, b = int.from_bytes(line, "big"), int.from_bytes(prev, "big")
        return (((a & ~high) + (b & ~high)) ^ ((a ^ b) & high)).to_bytes(n, "big")
    out = bytearray(line)
    if kind == 1:  # Sub: running sum mod 256 of each channel
        for c in range(bpp):
            out[c::bpp] = bytes(accumulate(line[c::bpp], lambda x, y: (x + y) & 0xFF))
        return bytes(out)
    if kind == 3:  # Average
        for i in range(n):
            left = out[i - bpp] if i >= bpp else 0
            out[i] = (out[i] + ((left + prev[i]) >> 1)) & 0xFF
        return bytes(out)
    if kind == 4:  # Paeth
        for i in range(n):
            if i >= bpp:
                a, b, c = out[i - bpp], prev[i], prev[i - bpp]
            else:
                a, b, c = 0, prev[i], 0
            p = a + b - c
            pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
            out[i] = (out[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 0xFF
        return bytes(out)
    raise ValueError(f"unknown PNG filter type {kind}")


def ink_share(png: Path) -> float:
    """Share (0..1) of the image's bytes that differ from the most common pixel of its first row, its corners and
    its centre (the background). A rough measure of how much is drawn, in any colour scheme."""
    width, height, bpp, rows = png_rows(png)
    samples = [rows[0][i : i + bpp] for i in range(0, width * bpp, bpp)]
    samples += [rows[-1][:bpp], rows[-1][-bpp:], rows[height // 2][(width // 2) * bpp : (width // 2 + 1) * bpp]]
    background = max(set(samples), key=samples.count)
    expected = int.from_bytes(background * width, "big")
    differing = 0
    for row in rows:
        diff = (int.from_bytes(row, "big") ^ expected).to_bytes(len(row), "big")
        differing += len(diff) - diff.count(0)
    return differing / (width * height * bpp)


def is_blank(png: Path, *, min_ink: float = 0.0001) -> bool:
    """True when a screenshot shows nothing: fewer than ``min_ink`` (default 0.01 %) of its bytes differ from the
    background colour. Measured at 1280x900: an empty page 0 %, the single word "hi" as an h1 about 0.03 %, a
    heading, a paragraph and a small table about 1.3 %, a page full of text about 25 %."""
    return ink_share(png) < min_ink
