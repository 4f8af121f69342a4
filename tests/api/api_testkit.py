"""Helpers for API-source tests: the GitHub source as a user declares it, YAML parsing, reading DuckDB back."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb
import pytest
from api_replay_server import ReplayServer, Reply, Request, Route

from ingest.api_loader import ApiLoadResult, load_api_source
from kpi_alignment.project import load_yaml
from kpi_alignment.sources_api import ApiSource
from kpi_alignment.warehouse import WarehousePaths, write_connection

SHARED = Path(__file__).resolve().parents[2] / ".." / "shared"
CASSETTE = SHARED / "real-data" / "api-recordings" / "github3py" / "Repository_issues_state_all.json"
TOKEN = "ghp_TestToken0123456789abcdefABCDEF"  # what the server demands; must never be written anywhere

# Exactly what a user writes in sources/github.yml (base_url points at the replay server; real use: api.github.com).
GITHUB_SOURCE_YAML = """
sources:
  - name: betamax_issues
    type: api
    description: Issues and pull requests of the betamax repository (GitHub REST API).
    base_url: {base_url}
    path: /repos/sigmavirus24/betamax/issues
    params: {{state: all, per_page: 100}}
    headers: {{Accept: application/vnd.github.v3.full+json}}
    auth: {{type: bearer, token_env: GITHUB_TOKEN}}
    pagination: {{type: link_header}}
    retry: {{max_attempts: {max_attempts}, backoff_s: 0.01, max_wait_s: 0.05}}
    table: github_issues
    primary_key: [id]
    columns:
      id: integer
      number: integer
      title: varchar
      state: varchar
      created_at: timestamp
      updated_at: timestamp
      closed_at: timestamp
      comments: integer
      user_login: {{path: user.login, type: varchar}}
      pull_request_url: {{path: pull_request.url, type: varchar, optional: true}}
      labels: json
    expected_every: day
"""


def source_from_yaml(text: str) -> ApiSource:
    """The first source of a ``sources/*.yml`` text, parsed the way project files are read."""
    return ApiSource.model_validate(load_yaml(text)["sources"][0])


def shared_path(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"{path} not present: ../shared is only beside the repo in development and CI")
    return path


def query(paths: WarehousePaths, sql: str, params: list[object] | None = None) -> list[tuple]:
    """Rows from a new read-only connection: only what was committed to the file."""
    con = duckdb.connect(str(paths.database), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def load(paths: WarehousePaths, source: ApiSource, **kwargs: object) -> ApiLoadResult:
    """One load under the writer lock, as the orchestration does."""
    with write_connection(paths) as con:
        return load_api_source(con, source, **kwargs)


@dataclass
class GitHubReplay:
    """The cassette behind a loopback server; ``fault`` may answer a request instead of the recording."""

    server: ReplayServer
    require_token: str | None = TOKEN
    fault: Callable[[Request], Reply | None] = lambda req: None
    route: Route = field(default=lambda req: Reply(500))

    @property
    def base_url(self) -> str:
        return self.server.base_url

    def source(self, max_attempts: int = 3) -> ApiSource:
        return source_from_yaml(GITHUB_SOURCE_YAML.format(base_url=self.base_url, max_attempts=max_attempts))

    def page2(self, req: Request) -> bool:
        return req.params.get("page") == "2"
