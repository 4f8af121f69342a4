"""The ``type: api`` source model: what a user may write, and the errors they get (never echoing a secret)."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from api_testkit import source_from_yaml
from pydantic import BaseModel, ValidationError

from kpi_alignment.project import load_yaml
from kpi_alignment.sources_api import ApiColumnType, ApiSource, LinkHeaderPagination

DOC = Path(__file__).resolve().parents[2] / "docs" / "api-sources.md"

BASE = """
sources:
  - name: s
    type: api
    base_url: https://api.example.com
    path: /v1/items
    table: items
    primary_key: [id]
    columns: {id: integer}
"""


def with_(extra: str, base: str = BASE) -> str:
    return base + "".join(f"    {line}\n" for line in extra.strip().splitlines())


def test_every_yaml_example_in_the_docs_is_a_valid_source() -> None:
    blocks = re.findall(r"```yaml\n(.*?)```", DOC.read_text(encoding="utf-8"), flags=re.S)
    sources = [source_from_yaml(b) for b in blocks]
    assert [s.name for s in sources] == ["betamax_issues", "vendor_kpis"]
    github = sources[0]
    assert isinstance(github.pagination, LinkHeaderPagination)
    assert github.endpoint_url == "https://api.github.com/repos/betamaxpy/betamax/issues"
    assert github.raw_table == "raw.github_issues" and sources[1].raw_table == "raw.metric_values"
    assert (github.layout, sources[1].layout) == ("table", "metrics")
    assert github.columns["id"].type == ApiColumnType.integer and github.column_path("id") == "id"
    assert github.column_path("user_login") == "user.login"


def test_a_pasted_token_is_refused_without_being_echoed() -> None:
    token = "ghp_abcdefghijklmnop1234567890"
    with pytest.raises(ValidationError) as err:
        source_from_yaml(with_(f"auth: {{type: bearer, token_env: {token}}}"))
    assert "NAME of an environment variable" in str(err.value)
    assert token not in str(err.value) and token not in repr(err.value.errors())

    class SourcesFile(BaseModel):  # as sources/*.yml will wrap it: the outer model does not hide inputs
        sources: list[ApiSource]

    with pytest.raises(ValidationError) as err:
        SourcesFile.model_validate(load_yaml(with_(f"auth: {{type: basic, username: u, password_env: {token}}}")))
    assert "NAME of an environment variable" in str(err.value)
    assert token not in str(err.value) and token not in repr(err.value.errors())


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        ("metrics: {metric_name: m, date_field: d, value_field: v}", "exactly one of table"),
        ("headers: {Authorization: Bearer abc}", "carries a secret"),
        ("pagination: {type: offset, limit: 10}\nparams: {offset: 5}", "set by pagination/incremental/auth"),
        ("pagination: {type: sideways}", "does not match any of the expected tags"),
        ("records_path: 'data..items'", "not a dotted JSON path"),
        ("retry: {max_attempts: 0}", "greater than or equal to 1"),
        ("incremental: {cursor_field: u, param: since, initial_value: yesterday}", "not an ISO 8601 timestamp"),
        ("on_incomplete: ignore", "'fail' or 'warn'"),
    ],
)
def test_invalid_declarations_name_the_problem(extra: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        source_from_yaml(with_(extra))


@pytest.mark.parametrize(
    ("text", "message"),
    [
        (BASE.replace("https://api.example.com", "https://user:pw@api.example.com"), "must not carry credentials"),
        (BASE.replace("https://api.example.com", "https://api.example.com?key=1"), "must not have a query"),
        (BASE.replace("primary_key: [id]", "primary_key: [uid]"), "primary_key columns ['uid']"),
        (BASE.replace("columns: {id: integer}", "columns: {id: integer, page: integer}"), "reserved for provenance"),
        (BASE.replace("columns: {id: integer}", "columns: {id: bigint}"), "Input should be 'varchar'"),
        (BASE.replace("    primary_key: [id]\n", ""), "needs primary_key"),
    ],
)
def test_invalid_outputs_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(ValidationError, match=re.escape(message)):
        source_from_yaml(text)


def test_defaults_are_bounded() -> None:
    source = ApiSource.model_validate(load_yaml(BASE)["sources"][0])
    assert source.retry.max_attempts == 5 and source.retry.max_wait_s == 60 and source.retry.max_total_wait_s == 300
    assert source.retry.statuses == [429, 500, 502, 503, 504]
    assert source.pagination.type == "none" and source.pagination.max_pages == 1000
    assert source.on_incomplete == "fail"
