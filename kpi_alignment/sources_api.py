"""HTTP API sources: paginated, authenticated, rate-limited JSON endpoints declared in ``sources/*.yml``.

An API source is declared like a CSV source (``type: api``) and read by :mod:`ingest.api_loader`. The model only
*describes* the endpoint; secrets are never written in the project: ``auth`` names the environment variable that
holds the token, key or password, and the loader reads it at run time.

Records (the list found at ``records_path`` in each page) land either in ``raw.<table>`` (declared ``columns``,
typed; KPIs computed in dbt) or, with ``metrics:``, directly in ``raw.metric_values`` (the metric shape). Example::

    sources:
      - name: github_issues
        type: api
        base_url: https://api.github.com
        path: /repos/betamaxpy/betamax/issues
        params: {state: all, per_page: 100}
        auth: {type: bearer, token_env: GITHUB_TOKEN}
        pagination: {type: link_header}
        table: github_issues
        primary_key: [id]
        columns:
          id: integer
          created_at: timestamp
          closed_at: timestamp
          pull_request_url: {path: pull_request.url, type: varchar, optional: true}

See ``docs/api-sources.md`` for every option.
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, BeforeValidator, ConfigDict, Field, model_validator

_ENV_NAME = re.compile(r"^[A-Z_][A-Z0-9_]*$")
_PATH_SEGMENT = re.compile(r"^[^.\s]+$")
_IDENT = r"^[a-z][a-z0-9_]*$"

PROVENANCE_COLUMNS = (
    "source_name",
    "source_file",
    "file_hash",
    "source_row",
    "load_id",
    "loaded_at",
    "request_url",
    "page",
)
"""Columns the loader adds to every ``raw.<table>`` row of an API source (names reserved)."""

DEFAULT_RETRY_STATUSES = (429, 500, 502, 503, 504)
_SECRET_NAME_FIELDS = ("token_env", "key_env", "password_env", "username_env")
_HIDDEN = "<hidden: not an environment variable name>"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", use_enum_values=True)


class _Secretive(_Strict):
    # a value typed by mistake where an environment variable NAME belongs may be a real secret: keep inputs out
    # of every validation message
    model_config = ConfigDict(extra="forbid", use_enum_values=True, hide_input_in_errors=True)


def _env_name(value: str) -> str:
    if not _ENV_NAME.match(value):
        # no value in the message: it may be the secret itself, pasted by mistake
        raise ValueError(
            "must be the NAME of an environment variable (upper-case letters, digits and _, e.g. GITHUB_TOKEN), "
            "never the secret itself"
        )
    return value


def _json_path(value: str) -> str:
    parts = value.removeprefix("$.").split(".")
    if not value or not all(_PATH_SEGMENT.match(p) for p in parts):
        raise ValueError(f"'{value}' is not a dotted JSON path such as data or pagination.total")
    return value.removeprefix("$.")


EnvVarName = Annotated[str, AfterValidator(_env_name)]
JsonPath = Annotated[
    str,
    AfterValidator(_json_path),
    Field(description="Dotted path into a JSON object, e.g. 'pagination.total' or 'user.login' (list index: 'a.0')."),
]


# --- authentication -----------------------------------------------------------------------------------------------


class BearerAuth(_Secretive):
    """``Authorization: Bearer <token>``, the token read from environment variable ``token_env``."""

    type: Literal["bearer"]
    token_env: EnvVarName


class ApiKeyAuth(_Secretive):
    """An API key sent in header ``name`` (default) or, with ``location: query``, as query parameter ``name``."""

    type: Literal["api_key"]
    name: str = Field("X-API-Key", min_length=1, description="Header (or query parameter) carrying the key.")
    location: Literal["header", "query"] = "header"
    key_env: EnvVarName


class BasicAuth(_Secretive):
    """HTTP basic authentication; the password (and optionally the user name) from environment variables."""

    type: Literal["basic"]
    username: str | None = None
    username_env: EnvVarName | None = None
    password_env: EnvVarName

    @model_validator(mode="after")
    def _one_username(self) -> BasicAuth:
        if (self.username is None) == (self.username_env is None):
            raise ValueError("basic auth needs exactly one of username or username_env")
        return self


ApiAuth = Annotated[BearerAuth | ApiKeyAuth | BasicAuth, Field(discriminator="type")]


# --- pagination ---------------------------------------------------------------------------------------------------


class _Paging(_Strict):
    max_pages: int = Field(
        1000, ge=1, description="Safety bound: a run needing more pages fails (never silently truncated)."
    )
    total_path: JsonPath | None = Field(
        None,
        description="Where a page reports the total number of records. The first page's value is reconciled "
        "with the distinct records received; a missing or null total on later pages is fine.",
    )
    has_more_path: JsonPath | None = Field(None, description="A boolean in the body; false stops paging.")


class NoPagination(_Paging):
    """One request, one page."""

    type: Literal["none"] = "none"


class LinkHeaderPagination(_Paging):
    """Follow the ``Link: <url>; rel="next"`` response header (GitHub, RFC 8288)."""

    type: Literal["link_header"]
    rel: str = "next"


class PageNumberPagination(_Paging):
    """``?page=1``, ``?page=2``… until an empty or short page, ``has_more`` false, or ``total_pages`` reached."""

    type: Literal["page_number"]
    page_param: str = "page"
    start: int = Field(1, ge=0)
    page_size_param: str | None = None
    page_size: int | None = Field(None, ge=1, description="Sent as page_size_param; a shorter page is the last.")
    total_pages_path: JsonPath | None = None


class OffsetPagination(_Paging):
    """``?offset=0&limit=N``, then offset+N… until an empty or short page, ``has_more`` false or offset ≥ total."""

    type: Literal["offset"]
    offset_param: str = "offset"
    limit_param: str = "limit"
    limit: int = Field(ge=1)
    start: int = Field(0, ge=0)


class CursorPagination(_Paging):
    """The body holds the next cursor (``cursor_path``), sent back as query parameter ``cursor_param``."""

    type: Literal["cursor"]
    cursor_path: JsonPath
    cursor_param: str


class NextUrlPagination(_Paging):
    """The body holds the URL of the next page (``next_url_path``; relative URLs resolved against the page)."""

    type: Literal["next_url"]
    next_url_path: JsonPath


Pagination = Annotated[
    NoPagination
    | LinkHeaderPagination
    | PageNumberPagination
    | OffsetPagination
    | CursorPagination
    | NextUrlPagination,
    Field(discriminator="type"),
]


# --- incremental loading, retries ---------------------------------------------------------------------------------


class Incremental(_Strict):
    """Read only records changed since the last successful run, minus a lookback window.

    The lower bound sent in query parameter ``param`` is ``max(initial_value, last_cursor - lookback)`` where
    ``last_cursor`` is the largest ``cursor_field`` value of the last committed run. The lookback re-reads late
    and restated records; they replace the stored rows with the same primary key.
    """

    cursor_field: JsonPath = Field(description="Record field holding the record's last-change time.")
    param: str = Field(description="Query parameter carrying the lower bound, e.g. since.")
    initial_value: str = Field(description="Lower bound of the first run (ISO 8601 date or timestamp).")
    value_type: Literal["timestamp", "date"] = "timestamp"
    lookback: dt.timedelta = Field(
        dt.timedelta(0), description="ISO 8601 duration (P3D) or seconds re-read before the last cursor."
    )
    param_format: str | None = Field(
        None, description="strftime format of the parameter; default %Y-%m-%dT%H:%M:%SZ (UTC) or %Y-%m-%d."
    )

    @model_validator(mode="after")
    def _initial_parses(self) -> Incremental:
        parse_cursor_value(self.initial_value, self.value_type)
        if self.lookback < dt.timedelta(0):
            raise ValueError("lookback must not be negative")
        return self


def parse_cursor_value(value: Any, value_type: Literal["timestamp", "date"]) -> dt.datetime:
    """An incremental cursor value (ISO 8601 string) as a naive UTC datetime; ``ValueError`` naming the value."""
    if not isinstance(value, str):
        raise ValueError(f"cursor value {value!r} is not an ISO 8601 {value_type} string")
    try:
        if value_type == "date":
            return dt.datetime.combine(dt.date.fromisoformat(value), dt.time())
        parsed = dt.datetime.fromisoformat(value)
    except ValueError as e:
        raise ValueError(f"cursor value {value!r} is not an ISO 8601 {value_type}") from e
    return parsed.astimezone(dt.UTC).replace(tzinfo=None) if parsed.tzinfo else parsed


class RetryPolicy(_Strict):
    """How failed requests are retried: bounded in attempts, in each wait and in the total waiting time.

    Retried: connection errors, timeouts, truncated bodies and the listed statuses (plus any 403 carrying
    ``Retry-After``, GitHub's secondary rate limit). The wait is the server's ``Retry-After`` (seconds or an
    HTTP-date, taken relative to the response's ``Date`` header) when given, else ``backoff_s * 2**(attempt-1)``;
    never more than ``max_wait_s``. A run whose waits would exceed ``max_total_wait_s`` fails.
    """

    max_attempts: int = Field(5, ge=1, le=50, description="Tries per request, the first one included.")
    backoff_s: float = Field(1.0, ge=0, description="First wait when the server gives no Retry-After.")
    max_wait_s: float = Field(60.0, ge=0, description="Cap on one wait (Retry-After included).")
    max_total_wait_s: float = Field(300.0, ge=0, description="Cap on all waits of one run.")
    timeout_s: float = Field(30.0, gt=0, description="Connect and read timeout of one request.")
    statuses: list[int] = Field(default_factory=lambda: list(DEFAULT_RETRY_STATUSES))


# --- output mapping -----------------------------------------------------------------------------------------------


class ApiColumnType(StrEnum):
    """Declared type of a ``raw.<table>`` column; values are checked, never coerced with loss."""

    varchar = "varchar"
    integer = "integer"  # BIGINT: JSON integers (a float with a fractional part is drift, never rounded)
    double = "double"
    date = "date"  # ISO 8601 date string
    timestamp = "timestamp"  # ISO 8601 string; offsets converted to UTC, no offset read as UTC
    boolean = "boolean"
    json = "json"  # any JSON value, stored as DuckDB JSON


def _column_shorthand(value: Any) -> Any:
    return {"type": value} if isinstance(value, str) else value


class ApiColumn(_Strict):
    """One declared column: its JSON path in the record (default: the column name), its type, and whether the
    key may be absent (``optional``: absent → NULL; otherwise an absent key is schema drift and fails the load).
    Written ``name: type`` for the common case."""

    path: JsonPath | None = None
    type: ApiColumnType
    optional: bool = False


class MetricsMapping(_Strict):
    """Records straight into ``raw.metric_values``: one metric value per record.

    ``metric_field`` (a record field naming the metric) or ``metric_name`` (one constant name); ``date_field``
    parsed with ``date_format`` (strptime) into ``period_date``; ``value_field`` and ``target_field`` must be JSON
    numbers or null; ``dimension_field`` absent or null → ``'*'``.
    """

    metric_field: JsonPath | None = None
    metric_name: str | None = None
    date_field: JsonPath
    date_format: str = "%Y-%m-%d"
    value_field: JsonPath
    target_field: JsonPath | None = None
    dimension_field: JsonPath | None = None

    @model_validator(mode="after")
    def _one_metric(self) -> MetricsMapping:
        if (self.metric_field is None) == (self.metric_name is None):
            raise ValueError("give exactly one of metric_field (record field) or metric_name (constant)")
        return self


# --- the source ---------------------------------------------------------------------------------------------------


class ApiSource(_Strict):
    """An HTTP JSON API source. Exactly one of ``table`` (with ``columns`` and ``primary_key``) or ``metrics``."""

    name: Annotated[str, Field(pattern=_IDENT, description="Source id; also its Dagster asset name.")]
    type: Literal["api"] = "api"
    description: str = ""
    base_url: str = Field(description="Scheme and host (and base path), e.g. https://api.github.com")
    path: str = Field("", description="Endpoint path appended to base_url, e.g. /repos/o/r/issues")
    params: dict[str, str | int | float | bool] = Field(default_factory=dict, description="Static query params.")
    headers: dict[str, str] = Field(default_factory=dict, description="Static, non-secret request headers.")
    auth: ApiAuth | None = None
    pagination: Pagination = Field(default_factory=NoPagination)
    records_path: JsonPath | None = Field(
        None, description="Where the list of records is in each page; omitted = the body itself is the list."
    )
    incremental: Incremental | None = None
    retry: RetryPolicy = Field(default_factory=RetryPolicy)
    table: str | None = Field(None, pattern=_IDENT, description="Records land in raw.<table>.")
    primary_key: list[str] = Field(
        default_factory=list, description="Declared columns identifying a record (duplicates across pages)."
    )
    columns: dict[str, Annotated[ApiColumn, BeforeValidator(_column_shorthand)]] = Field(default_factory=dict)
    metrics: MetricsMapping | None = None
    on_incomplete: Literal["fail", "warn"] = Field(
        "fail",
        description="When the first page's total disagrees with the distinct records received, or offset/page "
        "paging returned duplicates (the list shifted while read): fail the run (nothing committed) or load and warn.",
    )
    expected_every: Literal["day", "week", "month", "quarter", "year"] | None = Field(
        None, description="How often new data is expected (freshness of the source)."
    )

    @model_validator(mode="before")
    @classmethod
    def _hide_pasted_secrets(cls, data: Any) -> Any:
        """Replace an invalid environment variable name before validation: it may be the secret itself, and
        pydantic puts the input into its error text (``hide_input_in_errors`` only works on the outermost model)."""
        if not isinstance(data, dict) or not isinstance(data.get("auth"), dict):
            return data
        auth = dict(data["auth"])
        for key in _SECRET_NAME_FIELDS:
            value = auth.get(key)
            if value is not None and not (isinstance(value, str) and _ENV_NAME.match(value)):
                auth[key] = _HIDDEN
        return {**data, "auth": auth}

    @model_validator(mode="after")
    def _consistent(self) -> ApiSource:
        parts = urlsplit(self.base_url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("base_url must be an http:// or https:// URL with a host")
        if parts.username or parts.password:
            raise ValueError("base_url must not carry credentials; use auth: with an environment variable")
        if parts.query or parts.fragment:
            raise ValueError("base_url must not have a query or fragment; put query parameters in params:")
        for header in self.headers:
            secret_header = isinstance(self.auth, ApiKeyAuth) and header.lower() == self.auth.name.lower()
            if header.lower() in ("authorization", "proxy-authorization") or secret_header:
                raise ValueError(
                    f"header '{header}' carries a secret: declare it with auth: and an environment variable"
                )
        reserved = self._reserved_params()
        clash = sorted(set(self.params) & reserved)
        if clash:
            raise ValueError(f"params {clash} are set by pagination/incremental/auth; remove them from params")

        if (self.table is None) == (self.metrics is None):
            raise ValueError("give exactly one of table: (records → raw.<table>) or metrics: (→ raw.metric_values)")
        if self.table is not None:
            if not self.columns:
                raise ValueError("table output needs columns: (name: type, or name: {path, type, optional})")
            bad = [c for c in self.columns if not re.match(_IDENT, c)]
            if bad:
                raise ValueError(f"column names {bad} must be lower-case identifiers")
            taken = sorted(set(self.columns) & set(PROVENANCE_COLUMNS))
            if taken:
                raise ValueError(f"column names {taken} are reserved for provenance columns")
            if not self.primary_key:
                raise ValueError("table output needs primary_key: (declared columns identifying a record)")
            unknown = [c for c in self.primary_key if c not in self.columns]
            if unknown:
                raise ValueError(f"primary_key columns {unknown} are not among the declared columns")
        elif self.columns or self.primary_key:
            raise ValueError(
                "columns/primary_key belong to table output; metrics output is keyed by metric/date/dimension"
            )
        return self

    def _reserved_params(self) -> set[str]:
        p = self.pagination
        names: set[str] = set()
        if isinstance(p, PageNumberPagination):
            names |= {p.page_param} | ({p.page_size_param} if p.page_size_param else set())
        elif isinstance(p, OffsetPagination):
            names |= {p.offset_param, p.limit_param}
        elif isinstance(p, CursorPagination):
            names.add(p.cursor_param)
        if self.incremental is not None:
            names.add(self.incremental.param)
        if isinstance(self.auth, ApiKeyAuth) and self.auth.location == "query":
            names.add(self.auth.name)
        return names

    @property
    def endpoint_url(self) -> str:
        """``base_url`` joined with ``path`` (no query)."""
        if not self.path:
            return self.base_url
        return self.base_url.rstrip("/") + "/" + self.path.lstrip("/")

    @property
    def layout(self) -> Literal["table", "metrics"]:
        """``table`` (records → ``raw.<table>``, like a CSV table layout) or ``metrics`` (→ ``raw.metric_values``)."""
        return "table" if self.table is not None else "metrics"

    @property
    def raw_table(self) -> str:
        """The table rows land in: ``raw.<table>`` for table output, ``raw.metric_values`` for metrics."""
        return f"raw.{self.table}" if self.table is not None else "raw.metric_values"

    def column_path(self, column: str) -> str:
        """The JSON path of a declared column (its ``path``, else its name)."""
        return self.columns[column].path or column
