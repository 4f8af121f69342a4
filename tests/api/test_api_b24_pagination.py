"""Case B24: pagination that looks successful but is partial — the three recorded pages on a loopback server.

Every call returns 200, yet K-002 arrives twice (a record was inserted at the head between calls, shifting the
offsets) and K-005 never arrives; ``total`` is only on page 1 and null on page 3.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from api_replay_server import ReplayServer, Reply, Request
from api_testkit import SHARED, load, query, shared_path, source_from_yaml

from ingest.api_loader import ApiLoadError
from kpi_alignment.warehouse import WarehousePaths

pytestmark = pytest.mark.realdata

CASE = SHARED / "cases" / "B24_paginated-kpi-api.json"

OFFSET = """
sources:
  - name: kpi_api
    type: api
    base_url: {base_url}
    path: /v1/kpi-values
    params: {{period: 2024-05}}
    records_path: data
    pagination: {{type: offset, limit: 2, total_path: pagination.total, has_more_path: pagination.has_more}}
    table: kpi_values
    primary_key: [kpi_id]
    columns: {{kpi_id: varchar, value: integer}}
{extra}
"""

CURSOR = """
sources:
  - name: kpi_api
    type: api
    base_url: {base_url}
    path: /v1/kpi-values
    params: {{period: 2024-05, limit: 2}}
    records_path: data
    pagination: {{type: cursor, cursor_path: pagination.next_offset, cursor_param: offset,
                  total_path: pagination.total}}
    table: kpi_values
    primary_key: [kpi_id]
    columns: {{kpi_id: varchar, value: integer}}
{extra}
"""


def b24_route(case: dict, mangle: dict[int, object] | None = None):
    """Serve the recorded page for ``?offset=N`` (``mangle`` replaces the body of a page by its offset)."""
    by_offset = {r["offset"]: r for r in case["responses"]}

    def route(req: Request) -> Reply:
        assert req.path == "/v1/kpi-values" and req.params["period"] == "2024-05" and req.params["limit"] == "2"
        rec = by_offset.get(int(req.params.get("offset", "0")))
        if rec is None:
            return Reply.json(404, {"error": "no such page"})
        body = (mangle or {}).get(rec["offset"], rec["body"])
        return Reply.json(rec["status"], body)

    return route


@pytest.fixture
def case() -> dict:
    return json.loads(Path(shared_path(CASE)).read_text(encoding="utf-8"))


@pytest.mark.parametrize(
    ("template", "offsets_sent"),
    [(OFFSET, ["0", "2", "4"]), (CURSOR, ["2", "4"])],  # cursor paging: page 1 carries no offset
    ids=["offset", "cursor"],
)
def test_incomplete_run_fails_and_commits_nothing(
    case: dict, paths: WarehousePaths, template: str, offsets_sent: list[str]
) -> None:
    with ReplayServer(b24_route(case)) as server:
        with pytest.raises(ApiLoadError) as err:
            load(paths, source_from_yaml(template.format(base_url=server.base_url, extra="")))
        offsets = [r.params["offset"] for r in server.requests if "offset" in r.params]

    message = str(err.value)
    assert "incomplete" in message
    assert "page 1 reported total 5, 4 distinct record(s) received" in message
    assert "kpi_id=K-002 on page 1 and page 2" in message
    assert offsets == offsets_sent
    assert query(paths, "select count(*) from raw.kpi_values") == [(0,)]
    assert query(paths, "select status from raw.file_loads") == [("failed",)]


def test_warn_loads_every_distinct_record_once_and_reports(case: dict, paths: WarehousePaths) -> None:
    with ReplayServer(b24_route(case)) as server:
        result = load(paths, source_from_yaml(OFFSET.format(base_url=server.base_url, extra="    on_incomplete: warn")))

    assert (result.pages, result.records, result.rows_loaded, result.total_reported) == (3, 5, 4, 5)
    assert result.duplicates == ["kpi_id=K-002 on page 1 and page 2"]
    assert not result.complete
    assert any("list shifted" in w for w in result.warnings)
    assert query(paths, "select kpi_id, value from raw.kpi_values order by kpi_id") == [
        ("K-001", 10),
        ("K-002", 20),
        ("K-003", 30),
        ("K-004", 40),
    ]
    message = query(paths, "select status, message from raw.file_loads")[0]
    assert message[0] == "loaded" and "incomplete" in message[1] and "K-002" in message[1]


def test_missing_and_null_totals_are_tolerated(case: dict, paths: WarehousePaths) -> None:
    # no total anywhere and no duplicates: a clean run, paging stops on the short page
    pages = {
        0: {"data": case["responses"][0]["body"]["data"], "pagination": {"next_offset": 2}},
        2: {"data": [{"kpi_id": "K-003", "value": 30}, {"kpi_id": "K-004", "value": 40}]},
        4: {"data": [{"kpi_id": "K-005", "value": 50}], "pagination": {"total": None, "has_more": False}},
    }
    with ReplayServer(b24_route(case, pages)) as server:
        result = load(paths, source_from_yaml(OFFSET.format(base_url=server.base_url, extra="")))
    assert (result.rows_loaded, result.total_reported, result.complete, result.duplicates) == (5, None, True, [])


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"pagination": {"next_offset": 4}}, "records_path 'data' is missing (the body has: pagination)"),
        ({"data": {"kpi_id": "K-003"}}, "records_path 'data' is object, not a list of records"),
        ({"data": ["K-003"]}, "record 1 is string"),
        ({"error": "index rebuilding", "data": []}, "HTTP 200 but the body reports an error"),
    ],
    ids=["no-records", "not-a-list", "not-objects", "error-in-200"],
)
def test_unexpected_page_shape_fails_loudly(case: dict, paths: WarehousePaths, body: object, expected: str) -> None:
    with ReplayServer(b24_route(case, {2: body})) as server, pytest.raises(ApiLoadError) as err:
        load(paths, source_from_yaml(OFFSET.format(base_url=server.base_url, extra="")))
    page2 = f"{server.base_url}/v1/kpi-values?period=2024-05&offset=2&limit=2"
    assert expected in str(err.value)
    assert f"page 2 GET {page2}" in str(err.value) and err.value.page == 2
    assert query(paths, "select count(*) from raw.kpi_values") == [(0,)]
