"""The real GitHub REST API recording, replayed over loopback HTTP, loaded through a YAML-declared API source.

Expected values are facts of the recording (betamax issues, recorded 2017-12-22): 150 items, 67 of them pull
requests (items with a ``pull_request`` key), 134 closed, 16 open; median days from creation to closing over
closed items 2.12 (issues only: 6.74).
"""

from __future__ import annotations

import pytest
from api_replay_server import Reply
from api_testkit import GitHubReplay, load, query

from ingest.api_loader import ApiLoadError
from kpi_alignment.warehouse import WarehousePaths

pytestmark = pytest.mark.realdata

MEDIAN_DAYS_TO_CLOSE = """
    select round(median((epoch(closed_at) - epoch(created_at)) / 86400), 2)
    from raw.github_issues
    where state = 'closed' {extra}
"""


def test_issues_and_pull_requests_land_in_duckdb(github: GitHubReplay, paths: WarehousePaths) -> None:
    result = load(paths, github.source())

    assert (result.status, result.pages, result.records, result.rows_loaded) == ("loaded", 2, 150, 150)
    counts = query(
        paths,
        """select count(*), count(pull_request_url), count(*) - count(pull_request_url),
                  count(*) filter (where state = 'closed'), count(*) filter (where state = 'open')
           from raw.github_issues""",
    )
    assert counts == [(150, 67, 83, 134, 16)]
    assert query(paths, MEDIAN_DAYS_TO_CLOSE.format(extra="")) == [(2.12,)]
    assert query(paths, MEDIAN_DAYS_TO_CLOSE.format(extra="and pull_request_url is null")) == [(6.74,)]

    # the 301 of the renamed repository was followed, then the Link rel="next" page
    assert [r.path for r in github.server.requests] == [
        "/repos/sigmavirus24/betamax/issues",
        "/repositories/11439734/issues",
        "/repositories/11439734/issues",
    ]
    assert all(r.headers["Authorization"] == "Bearer " + github.require_token for r in github.server.requests)

    # provenance per row, and the load recorded like a file load
    pages = query(paths, "select page, count(*), min(request_url) from raw.github_issues group by page order by page")
    assert [(p, n) for p, n, _ in pages] == [(1, 100), (2, 50)]
    assert pages[1][2] == f"{github.base_url}/repositories/11439734/issues?state=all&per_page=100&page=2"
    loads = query(paths, "select source_name, source_file, status, source_records, rows_loaded from raw.file_loads")
    endpoint = f"{github.base_url}/repos/sigmavirus24/betamax/issues?state=all&per_page=100"
    assert loads == [("betamax_issues", endpoint, "loaded", 150, 150)]
    assert query(paths, "select distinct file_hash, load_id from raw.github_issues") == [
        (result.file_hash, result.load_id)
    ]
    # types are the declared ones, not strings
    assert query(
        paths,
        "select typeof(id), typeof(created_at), typeof(labels) from raw.github_issues limit 1",
    ) == [("BIGINT", "TIMESTAMP", "JSON")]


def test_same_pages_again_is_unchanged(github: GitHubReplay, paths: WarehousePaths) -> None:
    first = load(paths, github.source())
    second = load(paths, github.source())

    assert second.status == "unchanged" and second.rows_loaded == 0
    assert second.file_hash == first.file_hash
    assert query(paths, "select count(*), min(load_id), max(load_id) from raw.github_issues") == [
        (150, first.load_id, first.load_id)
    ]
    assert query(paths, "select status from raw.file_loads order by loaded_at") == [("loaded",), ("unchanged",)]


def test_429_with_retry_after_then_success(github: GitHubReplay, paths: WarehousePaths) -> None:
    github.fault = lambda req: (
        Reply.json(429, {"message": "API rate limit exceeded"}, [("Retry-After", "3")])
        if github.page2(req) and req.count == 1
        else None
    )

    result = load(paths, github.source())

    assert result.status == "loaded" and result.rows_loaded == 150
    assert [(w.status, w.requested_s, w.slept_s) for w in result.waits] == [(429, 3.0, 0.05)]
    assert query(paths, "select count(*) from raw.github_issues") == [(150,)]


def test_503_forever_fails_naming_url_and_keeps_earlier_data(github: GitHubReplay, paths: WarehousePaths) -> None:
    first = load(paths, github.source())
    github.fault = lambda req: Reply.json(503, {"message": "unavailable"}) if github.page2(req) else None

    with pytest.raises(ApiLoadError) as err:
        load(paths, github.source(max_attempts=3))

    page2 = f"{github.base_url}/repositories/11439734/issues?state=all&per_page=100&page=2"
    message = str(err.value)
    assert page2 in message and "HTTP 503" in message and "after 3 attempt(s)" in message
    assert (err.value.status, err.value.page, err.value.url) == (503, 2, page2)
    assert len([r for r in github.server.requests if github.page2(r)]) == 1 + 3  # first load + three attempts
    # nothing from the failed run; the earlier load intact; the failure recorded for freshness
    assert query(paths, "select count(*), min(load_id), max(load_id) from raw.github_issues") == [
        (150, first.load_id, first.load_id)
    ]
    last = query(paths, "select status, rows_loaded, message from raw.file_loads order by loaded_at desc limit 1")
    assert last[0][:2] == ("failed", 0) and "HTTP 503" in last[0][2]


def test_truncated_second_page_fails_and_commits_nothing(github: GitHubReplay, paths: WarehousePaths) -> None:
    def cut(req):
        if not github.page2(req):
            return None
        whole = github.route(req)
        return Reply(200, whole.body[: len(whole.body) // 2], whole.headers)  # a cut body, honest Content-Length

    github.fault = cut
    with pytest.raises(ApiLoadError) as err:
        load(paths, github.source())

    assert "page 2" in str(err.value) and "not valid JSON" in str(err.value)
    assert err.value.url == f"{github.base_url}/repositories/11439734/issues?state=all&per_page=100&page=2"
    assert query(paths, "select count(*) from raw.github_issues") == [(0,)]  # page 1 was not committed either
    assert query(paths, "select status from raw.file_loads") == [("failed",)]


def test_connection_cut_mid_body_is_retried_then_fails(github: GitHubReplay, paths: WarehousePaths) -> None:
    def short(req):
        if not github.page2(req):
            return None
        whole = github.route(req)
        return Reply(200, whole.body[:1000], whole.headers, content_length=len(whole.body))

    github.fault = short
    with pytest.raises(ApiLoadError) as err:
        load(paths, github.source(max_attempts=2))

    assert "page 2" in str(err.value) and "after 2 attempt(s)" in str(err.value)
    assert len([r for r in github.server.requests if github.page2(r)]) == 2
    assert query(paths, "select count(*) from raw.github_issues") == [(0,)]


def test_wrong_token_is_not_retried(
    github: GitHubReplay, paths: WarehousePaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("GITHUB_TOKEN", "ghp_WrongToken999")
    with pytest.raises(ApiLoadError) as err:
        load(paths, github.source())
    assert "HTTP 401" in str(err.value) and "(not retried)" in str(err.value)
    assert "ghp_WrongToken999" not in str(err.value)
    assert len(github.server.requests) == 1


def test_missing_token_variable_names_it(
    github: GitHubReplay, paths: WarehousePaths, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("GITHUB_TOKEN")
    with pytest.raises(ApiLoadError, match="environment variable GITHUB_TOKEN is not set"):
        load(paths, github.source())
    assert github.server.requests == []
    assert query(paths, "select status from raw.file_loads") == [("failed",)]


def test_changed_declaration_rewrites_even_if_pages_did_not_change(github: GitHubReplay, paths: WarehousePaths) -> None:
    load(paths, github.source())
    source = github.source()
    source.columns["author_association"] = source.columns["state"].model_copy()

    result = load(paths, source)

    assert result.status == "replaced" and result.rows_loaded == 150
    assert query(paths, "select count(author_association), count(distinct load_id) from raw.github_issues") == [
        (150, 1)
    ]
