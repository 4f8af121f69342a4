"""Paging that would never end, or that a server drives in a loop, fails loudly instead of truncating or hanging."""

from __future__ import annotations

import pytest
from api_replay_server import ReplayServer, Reply, Request
from api_testkit import load, query, source_from_yaml

from ingest.api_loader import ApiLoadError
from kpi_alignment.warehouse import WarehousePaths

NEXT_URL = """
sources:
  - name: feed
    type: api
    base_url: {base_url}
    path: /feed
    records_path: items
    pagination: {{type: next_url, next_url_path: links.next, max_pages: 3}}
    metrics: {{metric_name: visits, date_field: day, value_field: n}}
"""


def test_more_pages_than_allowed_fails(paths: WarehousePaths) -> None:
    def route(req: Request) -> Reply:
        n = int(req.params.get("p", "1"))
        return Reply.json(200, {"items": [{"day": f"2024-05-{n:02d}", "n": n}], "links": {"next": f"/feed?p={n + 1}"}})

    with ReplayServer(route) as server, pytest.raises(ApiLoadError, match=r"page 4 .*max_pages=3"):
        load(paths, source_from_yaml(NEXT_URL.format(base_url=server.base_url)))
    assert query(paths, "select count(*) from raw.metric_values") == [(0,)]


def test_a_next_link_back_to_an_earlier_page_fails(paths: WarehousePaths) -> None:
    def route(req: Request) -> Reply:
        return Reply.json(200, {"items": [{"day": "2024-05-01", "n": 1}], "links": {"next": "/feed"}})

    with ReplayServer(route) as server, pytest.raises(ApiLoadError, match="pagination loops"):
        load(paths, source_from_yaml(NEXT_URL.format(base_url=server.base_url)))


def test_relative_next_urls_are_followed_until_absent(paths: WarehousePaths) -> None:
    def route(req: Request) -> Reply:
        n = int(req.params.get("p", "1"))
        nxt = {"next": f"feed?p={n + 1}"} if n < 3 else {"next": None}
        return Reply.json(200, {"items": [{"day": f"2024-05-{n:02d}", "n": n}], "links": nxt})

    with ReplayServer(route) as server:
        result = load(paths, source_from_yaml(NEXT_URL.format(base_url=server.base_url)))
    assert (result.pages, result.rows_loaded) == (3, 3)
    assert query(paths, "select sum(value) from raw.metric_values where metric_name = 'visits'") == [(6.0,)]


@pytest.mark.parametrize(
    ("record", "expected"),
    [
        ({"day": "2024-05-01", "n": "12"}, "field 'n': expected a JSON number, got string"),
        ({"day": "2024-05-01", "n": True}, "field 'n': expected a JSON number, got boolean"),
        ({"day": "01.05.2024", "n": 1}, "does not match date_format %Y-%m-%d"),
        ({"n": 1}, "field 'day' is missing"),
    ],
)
def test_metric_values_are_checked_not_coerced(paths: WarehousePaths, record: dict, expected: str) -> None:
    def route(req: Request) -> Reply:
        return Reply.json(200, {"items": [record]})

    with ReplayServer(route) as server, pytest.raises(ApiLoadError, match="schema drift") as err:
        load(paths, source_from_yaml(NEXT_URL.format(base_url=server.base_url)))
    assert expected in str(err.value) and f"page 1 ({server.base_url}/feed) record 1" in str(err.value)


def test_nan_in_a_body_is_not_a_number(paths: WarehousePaths) -> None:
    with (
        ReplayServer(lambda req: Reply(200, b'{"items": [{"day": "2024-05-01", "n": NaN}]}')) as server,
        pytest.raises(ApiLoadError, match=r"not valid JSON .*NaN is not a JSON number"),
    ):
        load(paths, source_from_yaml(NEXT_URL.format(base_url=server.base_url)))
