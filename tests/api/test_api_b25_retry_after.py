"""Case B25: 429/503 with Retry-After (seconds and HTTP-date), replayed in order on a loopback server.

Expected: waits of 2 s, 5 s (HTTP-date, against the response's Date), 1 s — each capped; the status is checked
before the body is read (a 429 body ``{"data": []}`` is never "zero KPIs today"); exhausted retries fail the run.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from pathlib import Path

import pytest
from api_replay_server import ReplayServer, Reply, Request
from api_testkit import SHARED, load, query, shared_path, source_from_yaml

from ingest.api_loader import ApiLoadError, retry_after_seconds
from kpi_alignment.warehouse import WarehousePaths

pytestmark = pytest.mark.realdata

CASE = SHARED / "cases" / "B25_rate-limit-responses.json"

SOURCE = """
sources:
  - name: kpi_feed
    type: api
    base_url: {base_url}
    path: /v1/kpi-values
    params: {{page: 3}}
    records_path: data
    retry: {retry}
    metrics:
      metric_field: kpi_id
      date_field: period
      date_format: "%Y-%m"
      value_field: value
"""


@pytest.fixture
def case() -> dict:
    return json.loads(Path(shared_path(CASE)).read_text(encoding="utf-8"))


def in_order(case: dict):
    """Answer the n-th request with the n-th recorded response (the last one repeats)."""
    responses = case["responses_in_order"]

    def route(req: Request) -> Reply:
        assert req.path == "/v1/kpi-values" and req.params == {"page": "3"}
        rec = responses[min(req.count, len(responses)) - 1]
        return Reply.json(rec["status"], rec["body"], list(rec["headers"].items()))

    return route


def test_retry_after_both_forms(case: dict) -> None:
    headers = [r["headers"] for r in case["responses_in_order"][:3]]
    assert [retry_after_seconds(h) for h in headers] == case["expected"]["retry_waits_seconds"] == [2, 5, 1]
    # without a Date header an HTTP-date is measured against the clock it is given
    at = dt.datetime(2024, 6, 5, 6, 0, 4, tzinfo=dt.UTC)
    assert retry_after_seconds({"Retry-After": "Wed, 05 Jun 2024 06:00:07 GMT"}, now=at) == 3
    assert retry_after_seconds({"Retry-After": "Wed, 05 Jun 2024 06:00:07 GMT"}) == 0  # in the past: no wait
    assert retry_after_seconds({"Retry-After": "soon"}) is None
    assert retry_after_seconds({}) is None


def test_waits_honoured_and_capped_then_loaded(case: dict, paths: WarehousePaths) -> None:
    retry = "{max_attempts: 5, max_wait_s: 0.05}"
    with ReplayServer(in_order(case)) as server:
        result = load(paths, source_from_yaml(SOURCE.format(base_url=server.base_url, retry=retry)))

    assert [(w.status, w.requested_s, w.slept_s) for w in result.waits] == [
        (429, 2.0, 0.05),
        (429, 5.0, 0.05),
        (503, 1.0, 0.05),
    ]
    assert result.status == "loaded" and result.rows_loaded == 1
    assert query(paths, "select metric_name, period_date, dimension, value from raw.metric_values") == [
        ("K-007", dt.date(2024, 5, 1), "*", 3.5)
    ]


def test_cap_is_really_slept(case: dict, paths: WarehousePaths) -> None:
    retry = "{max_attempts: 5, max_wait_s: 0.15}"
    with ReplayServer(in_order(case)) as server:
        started = time.monotonic()
        load(paths, source_from_yaml(SOURCE.format(base_url=server.base_url, retry=retry)))
        elapsed = time.monotonic() - started
    assert 0.45 <= elapsed < 3  # three capped waits, not the 8 s asked for


def test_exhausted_retries_fail_never_success_with_zero_rows(case: dict, paths: WarehousePaths) -> None:
    retry = "{max_attempts: 3, max_wait_s: 0.01}"
    with ReplayServer(in_order(case)) as server:
        with pytest.raises(ApiLoadError) as err:
            load(paths, source_from_yaml(SOURCE.format(base_url=server.base_url, retry=retry)))
        attempts = len(server.requests)

    url = f"{server.base_url}/v1/kpi-values?page=3"
    assert f"GET {url} failed after 3 attempt(s): HTTP 503" in str(err.value)
    assert attempts == 3
    assert query(paths, "select count(*) from raw.metric_values") == [(0,)]
    assert query(paths, "select status, rows_loaded from raw.file_loads") == [("failed", 0)]


def test_total_wait_budget_bounds_the_run(case: dict, paths: WarehousePaths) -> None:
    retry = "{max_attempts: 10, max_wait_s: 0.05, max_total_wait_s: 0.08}"
    with ReplayServer(in_order(case)) as server:
        with pytest.raises(ApiLoadError, match=r"would exceed retry.max_total_wait_s=0.08") as err:
            load(paths, source_from_yaml(SOURCE.format(base_url=server.base_url, retry=retry)))
        assert len(server.requests) == 2  # the second wait would break the budget
    assert err.value.status == 429
