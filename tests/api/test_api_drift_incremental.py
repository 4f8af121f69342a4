"""JSON type drift is detected and reported (never rounded); incremental runs re-read a lookback window."""

from __future__ import annotations

import datetime as dt

import pytest
from api_replay_server import ReplayServer, Reply, Request
from api_testkit import load, query, source_from_yaml

from ingest.api_loader import ApiLoadError
from kpi_alignment.warehouse import WarehousePaths

PAGED = """
sources:
  - name: tickets
    type: api
    base_url: {base_url}
    path: /api/tickets
    records_path: results
    pagination: {{type: page_number, page_size_param: size, page_size: 2}}
    table: tickets
    primary_key: [ticket_id]
    columns:
      ticket_id: integer
      opened: date
      minutes_to_answer: integer
      team: {{path: owner.team, type: varchar}}
"""


def paged(pages: list[list[dict]]):
    def route(req: Request) -> Reply:
        n = int(req.params["page"])
        assert req.params["size"] == "2"
        return Reply.json(200, {"results": pages[n - 1] if n <= len(pages) else []})

    return route


def ticket(i: int | None, minutes: object = 5, **extra: object) -> dict:
    return {
        "ticket_id": i,
        "opened": f"2024-05-0{i or 9}",
        "minutes_to_answer": minutes,
        "owner": {"team": "ops"},
        **extra,
    }


def test_clean_pages_load(paths: WarehousePaths) -> None:
    pages = [[ticket(1), ticket(2, 7.0)], [ticket(3)]]  # 7.0 is an integer written as a float: no loss
    with ReplayServer(paged(pages)) as server:
        result = load(paths, source_from_yaml(PAGED.format(base_url=server.base_url)))
        asked = [r.params["page"] for r in server.requests]
    assert asked == ["1", "2"]  # page 2 is short: the last one
    assert result.rows_loaded == 3
    assert query(paths, "select ticket_id, opened, minutes_to_answer, team from raw.tickets order by 1") == [
        (1, dt.date(2024, 5, 1), 5, "ops"),
        (2, dt.date(2024, 5, 2), 7, "ops"),
        (3, dt.date(2024, 5, 3), 5, "ops"),
    ]


@pytest.mark.parametrize(
    ("bad_record", "expected"),
    [
        (
            ticket(3, 2.5),
            "field 'minutes_to_answer' (column minutes_to_answer): declared integer, got 2.5 (a fraction; not rounded)",
        ),
        (ticket(3, "12"), "field 'minutes_to_answer' (column minutes_to_answer): declared integer, got string \"12\""),
        (
            {k: v for k, v in ticket(3).items() if k != "opened"} | {"opened_on": "2024-05-03"},
            "field 'opened' (column opened) is missing; the record has: minutes_to_answer, opened_on, owner, ticket_id",
        ),
        (ticket(3) | {"opened": "03/05/2024"}, 'declared date, got "03/05/2024" (not an ISO 8601 date)'),
        (ticket(3) | {"owner": {"team": 4}}, "field 'owner.team' (column team): declared varchar, got integer 4"),
        (ticket(None), "primary key {'ticket_id': None} has a null"),
        (ticket(3, 2**63), "declared integer, got 9223372036854775808 (outside the 64-bit BIGINT range)"),
    ],
    ids=["int-turns-fraction", "int-turns-string", "renamed-key", "date-format", "nested-type", "null-key", "too-big"],
)
def test_drift_fails_naming_page_record_field(paths: WarehousePaths, bad_record: dict, expected: str) -> None:
    with ReplayServer(paged([[ticket(1), ticket(2)]])) as server:
        load(paths, source_from_yaml(PAGED.format(base_url=server.base_url)))
    with ReplayServer(paged([[ticket(1), ticket(2)], [bad_record]])) as server, pytest.raises(ApiLoadError) as err:
        load(paths, source_from_yaml(PAGED.format(base_url=server.base_url)))
    message = str(err.value)
    assert "schema drift" in message and "nothing committed" in message
    assert f"page 2 ({server.base_url}/api/tickets?page=2&size=2) record 1: " in message
    assert expected in message
    # the earlier load is intact; nothing rounded into it
    assert query(paths, "select ticket_id, minutes_to_answer from raw.tickets order by 1") == [(1, 5), (2, 5)]


def test_changes_against_previous_run_are_reported(paths: WarehousePaths) -> None:
    with ReplayServer(paged([[ticket(1, region="eu")]])) as server:
        load(paths, source_from_yaml(PAGED.format(base_url=server.base_url)))
    with ReplayServer(paged([[ticket(1, region=7, priority="high")]])) as server:
        result = load(paths, source_from_yaml(PAGED.format(base_url=server.base_url)))
    assert result.status == "replaced"
    assert "record keys new since the previous run: priority" in result.warnings
    assert "record key 'region' was string, now also integer" in result.warnings
    assert "priority" in query(paths, "select message from raw.file_loads order by loaded_at desc limit 1")[0][0]


INCREMENTAL = """
sources:
  - name: metric_feed
    type: api
    base_url: {base_url}
    path: /v2/metrics
    records_path: items
    incremental: {{cursor_field: updated_at, param: updated_since, initial_value: "2024-05-01T00:00:00Z",
                  lookback: P1D}}
    metrics: {{metric_name: tickets_closed, date_field: day, value_field: count, target_field: target,
               dimension_field: team}}
"""


def test_incremental_rereads_the_lookback_window_and_merges(paths: WarehousePaths) -> None:
    server_rows = [
        {"day": "2024-05-01", "team": "ops", "count": 10, "target": 12, "updated_at": "2024-05-02T01:00:00Z"},
        {"day": "2024-05-02", "team": "ops", "count": 11, "target": 12, "updated_at": "2024-05-03T01:00:00Z"},
        {"day": "2024-05-02", "team": None, "count": 30, "updated_at": "2024-05-03T02:00:00+02:00"},
    ]

    def route(req: Request) -> Reply:
        since = dt.datetime.fromisoformat(req.params["updated_since"])
        return Reply.json(
            200, {"items": [r for r in server_rows if dt.datetime.fromisoformat(r["updated_at"]) >= since]}
        )

    with ReplayServer(route) as server:
        source = source_from_yaml(INCREMENTAL.format(base_url=server.base_url))
        first = load(paths, source)
        # a restatement of 2024-05-02 arrives late: its change time lies before the stored cursor, inside the lookback
        server_rows[1] = server_rows[1] | {"count": 14, "updated_at": "2024-05-02T23:00:00Z"}
        server_rows.append({"day": "2024-05-03", "team": "ops", "count": 9, "updated_at": "2024-05-04T00:00:00Z"})
        second = load(paths, source)
        sent = [r.params["updated_since"] for r in server.requests]

    assert first.last_cursor == "2024-05-03T01:00:00Z"  # the +02:00 record is 00:00 UTC: earlier
    assert sent == ["2024-05-01T00:00:00Z", "2024-05-02T01:00:00Z"]  # last cursor minus one day
    assert (first.rows_loaded, second.rows_loaded, second.status) == (3, 4, "replaced")  # all four in the window
    assert second.last_cursor == "2024-05-04T00:00:00Z"
    assert query(paths, "select period_date, dimension, value, target_value from raw.metric_values order by 1, 2") == [
        (dt.date(2024, 5, 1), "ops", 10.0, 12.0),
        (dt.date(2024, 5, 2), "*", 30.0, None),
        (dt.date(2024, 5, 2), "ops", 14.0, 12.0),  # restated value replaced the first one
        (dt.date(2024, 5, 3), "ops", 9.0, None),
    ]
    assert query(paths, "select last_cursor from raw.api_state where source_name = 'metric_feed'") == [
        ("2024-05-04T00:00:00Z",)
    ]
