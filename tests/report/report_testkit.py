"""Helpers for the report tests: private copies of the demo run's published snapshot, edits to such a copy (what a
later run would have published), and reading a report's HTML the way a browser's parser does."""

from __future__ import annotations

import json
import shutil
from html.parser import HTMLParser
from pathlib import Path
from typing import Any

import duckdb
from pipeline_testkit import DemoRun

from kpi_alignment.project import Project, load_project
from kpi_alignment.warehouse import WarehousePaths


def snapshot_copy(demo_run: DemoRun, output: Path, *, reports: bool = False) -> WarehousePaths:
    """A new output folder holding a copy of the demo's published snapshot (and its reports when asked)."""
    paths = WarehousePaths(output)
    paths.serving_dir.mkdir(parents=True)
    shutil.copyfile(demo_run.served, paths.serving_database)
    if reports:
        shutil.copytree(demo_run.output / "reports", paths.reports_dir)
    return paths


def edit_snapshot(paths: WarehousePaths, *statements: tuple[str, list[Any]] | str) -> None:
    """Run SQL on the snapshot copy (as the next run's publish would have replaced it)."""
    con = duckdb.connect(str(paths.serving_database))
    try:
        for s in statements:
            sql, params = (s, []) if isinstance(s, str) else s
            con.execute(sql, params)
        con.execute("checkpoint")
    finally:
        con.close()


def query(paths: WarehousePaths, sql: str, params: list[Any] | None = None) -> list[tuple]:
    con = duckdb.connect(str(paths.serving_database), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def demo_project(demo_run: DemoRun) -> Project:
    """The demo's project (read only: reports go to the output folder given to build_report)."""
    return load_project(demo_run.project)


def read_json(path: Path) -> dict[str, Any]:
    return json.loads(path.read_text(encoding="utf-8"))


class Page(HTMLParser):
    """An HTML document as the parser sees it: every start tag with its attributes, the text, the element ids."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.tags: list[tuple[str, dict[str, str | None]]] = []
        self.chunks: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append((tag, dict(attrs)))

    def handle_data(self, data: str) -> None:
        self.chunks.append(data)

    @property
    def text(self) -> str:
        return " ".join(" ".join(self.chunks).split())

    def ids(self, tag: str | None = None) -> list[str]:
        return [a["id"] for t, a in self.tags if a.get("id") and (tag is None or t == tag)]

    def count(self, tag: str, **attrs: str) -> int:
        return sum(t == tag and all(a.get(k) == v for k, v in attrs.items()) for t, a in self.tags)


def parse(html_file: Path) -> Page:
    page = Page()
    page.feed(html_file.read_text(encoding="utf-8"))
    page.close()
    return page
