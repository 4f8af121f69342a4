"""Fixtures for API-source tests: the GitHub recording on a loopback server, a fresh warehouse directory."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from api_replay_server import GitHubCassette, ReplayServer, Reply, Request
from api_testkit import CASSETTE, TOKEN, GitHubReplay, shared_path

from kpi_alignment.warehouse import WarehousePaths


@pytest.fixture
def paths(tmp_path: Path) -> WarehousePaths:
    """A fresh output directory; tests write through ``write_connection(paths)`` like the Dagster asset."""
    return WarehousePaths(tmp_path / "out").ensure()


@pytest.fixture
def github(monkeypatch: pytest.MonkeyPatch) -> Iterator[GitHubReplay]:
    """The GitHub recording on a loopback port; requires ``Authorization: Bearer TOKEN`` (GITHUB_TOKEN is set)."""
    cassette = GitHubCassette(shared_path(CASSETTE))
    monkeypatch.setenv("GITHUB_TOKEN", TOKEN)
    holder: dict[str, GitHubReplay] = {}

    def route(req: Request) -> Reply:
        replay = holder["replay"]
        if replay.require_token and req.headers.get("Authorization") != f"Bearer {replay.require_token}":
            return Reply.json(401, {"message": "Bad credentials"})
        return replay.fault(req) or replay.route(req)

    with ReplayServer(route) as server:
        replay = GitHubReplay(server)
        replay.route = cassette.route_for(server.base_url)
        holder["replay"] = replay
        yield replay
