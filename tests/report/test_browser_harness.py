"""The browser harness (tests/browser.py) sees what a reader's browser does: console errors, requests beyond the
file, and what is on screen. Each test renders a small page written here in real headless Chromium."""

from __future__ import annotations

import http.server
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from browser import VIEWPORTS, is_blank, png_rows, render_html_file

HEAD = '<!doctype html><html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width">'
# A 200x100 block in a known colour at a known place, so a screenshot can be checked pixel by pixel.
BLOCK = '<div style="position:absolute;left:100px;top:100px;width:200px;height:100px;background:rgb(200,30,60)"></div>'
CONTENT = "<h1>On-time departures</h1><p>81.2% of flights left within 15 minutes of schedule.</p>"


def write_page(tmp_path: Path, name: str, body: str) -> Path:
    page = tmp_path / name
    page.write_text(f"{HEAD}<title>{name}</title></head><body>{body}</body></html>", encoding="utf-8")
    return page


class _Counting(http.server.BaseHTTPRequestHandler):
    hits: list[str]

    def do_GET(self) -> None:
        self.hits.append(self.path)
        self.send_response(200)
        self.send_header("Content-Type", "image/png")
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:  # keep test output clean
        pass


@pytest.fixture
def counting_server() -> Iterator[tuple[str, list[str]]]:
    """A real HTTP server on loopback: (base URL, paths it was asked for)."""
    hits: list[str] = []
    handler = type("Handler", (_Counting,), {"hits": hits})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}", hits
    finally:
        server.shutdown()
        server.server_close()


def test_clean_page_has_no_errors_no_requests_and_shows_its_content(tmp_path: Path) -> None:
    page = write_page(tmp_path, "clean.html", CONTENT + BLOCK)
    rendered = render_html_file(page, tmp_path / "shots")

    assert rendered.console_errors == []
    assert rendered.requests == []
    assert (
        rendered.text_length
        == len("On-time departures") + len("81.2% of flights left within 15 minutes of schedule.") + 2
    )
    assert set(rendered.screenshots) == set(VIEWPORTS)
    for name, (width, height) in VIEWPORTS.items():
        shot = rendered.screenshots[name]
        assert shot.parent == tmp_path / "shots"
        w, h, bpp, rows = png_rows(shot)
        assert (w, h) == (width, height), name
        assert rendered.scroll_width[name] == width, f"{name}: the page scrolls sideways"
        assert rows[150][150 * bpp : 150 * bpp + 3] == bytes([200, 30, 60]), f"{name}: block not at (150, 150)"
        assert rows[5][5 * bpp : 5 * bpp + 3] == bytes([255, 255, 255]), f"{name}: page corner not white"
        assert not is_blank(shot), name


def test_an_empty_page_is_blank(tmp_path: Path) -> None:
    page = write_page(tmp_path, "empty.html", '<div style="background:#123456;position:fixed;inset:0"></div>')
    rendered = render_html_file(page, tmp_path / "shots")
    assert rendered.console_errors == [] and rendered.requests == []
    assert rendered.text_length == 0
    for shot in rendered.screenshots.values():
        assert is_blank(shot), shot.name
        _, _, _, rows = png_rows(shot)
        assert rows[0][:3] == bytes([0x12, 0x34, 0x56])


def test_console_errors_and_uncaught_exceptions_are_collected(tmp_path: Path) -> None:
    page = write_page(
        tmp_path,
        "noisy.html",
        CONTENT
        + '<script>console.error("probe: chart data missing"); console.warn("probe: only a warning")</script>'
        + '<script>throw new Error("probe: uncaught")</script>',
    )
    rendered = render_html_file(page, tmp_path / "shots")

    # once per viewport; the warning is not an error
    assert rendered.console_errors.count("probe: chart data missing") == len(VIEWPORTS)
    assert sum("probe: uncaught" in e and e.startswith("uncaught: ") for e in rendered.console_errors) == len(VIEWPORTS)
    assert not any("only a warning" in e for e in rendered.console_errors)
    assert rendered.requests == []
    assert not is_blank(rendered.screenshots["desktop"])


def test_every_request_beyond_the_file_is_recorded_and_none_leaves_the_machine(
    tmp_path: Path, counting_server: tuple[str, list[str]]
) -> None:
    base, hits = counting_server
    (tmp_path / "style.css").write_text("body { color: red }", encoding="utf-8")
    page = write_page(
        tmp_path,
        "external.html",
        '<link rel="stylesheet" href="style.css">'
        + CONTENT
        + '<img src="http://127.0.0.1:9/x.png" alt="">'
        + f'<img src="{base}/tracker.png" alt="">'
        + '<img src="data:image/gif;base64,R0lGODlhAQABAAAAACw=" alt="">',
    )
    rendered = render_html_file(page, tmp_path / "shots")

    expected = {"http://127.0.0.1:9/x.png", f"{base}/tracker.png", (tmp_path / "style.css").resolve().as_uri()}
    assert set(rendered.requests) == expected
    assert len(rendered.requests) == len(expected) * len(VIEWPORTS)  # seen in each viewport
    assert hits == [], "the harness let a request reach the network"
    assert rendered.console_errors, "a failed resource load shows in the console"
