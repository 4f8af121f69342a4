"""Secrets are sent, and appear in no log line (urllib3 at DEBUG included), exception, table value or file."""

from __future__ import annotations

import base64
import logging
from pathlib import Path

import duckdb
import pytest
from api_replay_server import ReplayServer, Reply, Request
from api_testkit import TOKEN, GitHubReplay, load, query, source_from_yaml

from ingest.api_loader import ApiLoadError
from kpi_alignment.warehouse import WarehousePaths


def assert_nowhere(
    secret: str, caplog: pytest.LogCaptureFixture, paths: WarehousePaths, *errors: BaseException
) -> None:
    """The secret is in no captured log line, no exception text and no stored value or byte of the warehouse."""
    assert any(r.name.startswith("urllib3") for r in caplog.records), "urllib3 DEBUG lines were not captured"
    assert secret not in caplog.text
    for record in caplog.records:
        assert secret not in record.getMessage()
    for err in errors:
        assert secret not in str(err) and secret not in repr(err.args)
        assert err.__cause__ is None and (err.__context__ is None or err.__suppress_context__)
    con = duckdb.connect(str(paths.database), read_only=True)
    try:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type in ('VARCHAR', 'JSON')"
        ).fetchall()
        assert len(columns) > 10, "no text columns to check"
        for schema, table, column in columns:
            sql = f'select count(*) from "{schema}"."{table}" where "{column}"::varchar like ?'
            assert con.execute(sql, [f"%{secret}%"]).fetchall() == [(0,)], f"secret in {schema}.{table}.{column}"
    finally:
        con.close()
    for file in Path(paths.output_dir).rglob("*"):
        if file.is_file():
            assert secret.encode() not in file.read_bytes(), f"secret bytes in {file}"


@pytest.mark.realdata
def test_bearer_token_sent_and_never_written(
    github: GitHubReplay, paths: WarehousePaths, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    result = load(paths, github.source())
    assert result.rows_loaded == 150
    assert {r.headers.get("Authorization") for r in github.server.requests} == {f"Bearer {TOKEN}"}

    # a failing run whose error body even echoes the token back
    github.fault = lambda req: (
        Reply.json(503, {"message": f"upstream rejected Bearer {TOKEN}"}) if github.page2(req) else None
    )
    with pytest.raises(ApiLoadError) as err:
        load(paths, github.source(max_attempts=2))
    assert "***" in str(err.value)

    assert_nowhere(TOKEN, caplog, paths, err.value)


def _records_route(check: callable) -> callable:
    def route(req: Request) -> Reply:
        if not check(req):
            return Reply.json(401, {"error": "unauthorized"})
        if req.params.get("fail"):
            return Reply.json(503, {"error": "maintenance"})
        return Reply.json(200, {"data": [{"kpi_id": "K-1", "value": 1.5}, {"kpi_id": "K-2", "value": 2}]})

    return route


KEY = "k3y-Value/with+odd=chars"

API_KEY_SOURCE = """
sources:
  - name: vendor_kpis
    type: api
    base_url: {base_url}
    path: /v1/kpis
    params: {params}
    auth: {{type: api_key, name: api_key, location: query, key_env: VENDOR_API_KEY}}
    records_path: data
    retry: {{max_attempts: 2, backoff_s: 0.01}}
    table: vendor_kpis
    primary_key: [kpi_id]
    columns: {{kpi_id: varchar, value: double}}
"""


def test_api_key_in_query_is_redacted_from_urls_logs_and_tables(
    paths: WarehousePaths, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    monkeypatch.setenv("VENDOR_API_KEY", KEY)
    with ReplayServer(_records_route(lambda req: req.params.get("api_key") == KEY)) as server:
        ok = load(paths, source_from_yaml(API_KEY_SOURCE.format(base_url=server.base_url, params="{}")))
        with pytest.raises(ApiLoadError) as err:
            load(paths, source_from_yaml(API_KEY_SOURCE.format(base_url=server.base_url, params="{fail: 1}")))

    assert ok.rows_loaded == 2
    assert query(paths, "select distinct request_url from raw.vendor_kpis") == [
        (f"{server.base_url}/v1/kpis?api_key=***",)
    ]
    assert "HTTP 503" in str(err.value) and "api_key=***" in str(err.value)
    assert any("api_key=***" in r.getMessage() for r in caplog.records if r.name.startswith("urllib3"))
    assert_nowhere(KEY, caplog, paths, err.value)


BASIC_SOURCE = """
sources:
  - name: basic_kpis
    type: api
    base_url: {base_url}
    path: /v1/kpis
    params: {params}
    auth: {{type: basic, username: reporter, password_env: KPI_API_PASSWORD}}
    records_path: data
    retry: {{max_attempts: 2, backoff_s: 0.01}}
    table: basic_kpis
    primary_key: [kpi_id]
    columns: {{kpi_id: varchar, value: double}}
"""


def test_basic_auth_password_never_written(
    paths: WarehousePaths, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    caplog.set_level(logging.DEBUG)
    password = "s3cret-Pass-2024"
    monkeypatch.setenv("KPI_API_PASSWORD", password)
    encoded = base64.b64encode(f"reporter:{password}".encode()).decode()
    with ReplayServer(_records_route(lambda req: req.headers.get("Authorization") == f"Basic {encoded}")) as server:
        ok = load(paths, source_from_yaml(BASIC_SOURCE.format(base_url=server.base_url, params="{}")))
        with pytest.raises(ApiLoadError) as err:
            load(paths, source_from_yaml(BASIC_SOURCE.format(base_url=server.base_url, params="{fail: 1}")))
    assert ok.rows_loaded == 2 and "HTTP 503" in str(err.value)
    assert_nowhere(password, caplog, paths, err.value)
    assert_nowhere(encoded, caplog, paths, err.value)


HEADER_KEY_SOURCE = """
sources:
  - name: moved_kpis
    type: api
    base_url: {base_url}
    path: /v1/kpis
    auth: {{type: api_key, name: X-API-Key, key_env: VENDOR_API_KEY}}
    records_path: data
    table: moved_kpis
    primary_key: [kpi_id]
    columns: {{kpi_id: varchar, value: double}}
"""


def test_credentials_do_not_follow_a_redirect_to_another_server(
    paths: WarehousePaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("VENDOR_API_KEY", KEY)
    with (
        ReplayServer(_records_route(lambda req: True)) as other,
        ReplayServer(lambda req: Reply(301, b"", [("Location", other.base_url + req.path)])) as first,
    ):
        result = load(paths, source_from_yaml(HEADER_KEY_SOURCE.format(base_url=first.base_url)))
    assert result.rows_loaded == 2
    assert first.requests[0].headers.get("X-API-Key") == KEY
    assert "X-API-Key" not in other.requests[0].headers and "Authorization" not in other.requests[0].headers
