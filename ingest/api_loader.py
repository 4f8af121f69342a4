"""Load an HTTP JSON API source (:class:`kpi_alignment.sources_api.ApiSource`) into ``raw.*``.

Connection contract: :func:`load_api_source` needs only an open read-write DuckDB connection in auto-commit mode;
the caller holds the warehouse writer lock (``kpi_alignment.warehouse.write_connection``). Every page is fetched
and checked first; then the rows, the ``raw.file_loads`` entry and the incremental state are written in ONE
transaction. A run that fails anywhere commits no row (earlier loads stay intact) and records only a ``failed``
entry in ``raw.file_loads`` before raising :class:`ApiLoadError`.

HTTP mechanics are ``requests`` with an explicit retry loop, not dlt: dlt is not installed in this project's
environment (and not a pinned dependency), and its ``Retry-After`` handling reads an HTTP-date against the local
clock instead of the response's ``Date`` header (``dlt/sources/helpers/requests/retry.py``,
``wait_exponential_retry_after._parse_retry_after``), so the recorded waits of case B25 (5 s) come out as 0.

Semantics (issue 5; cases B24, B25):

- redirects are followed (``requests``; ``Authorization`` is dropped when a redirect leaves the host);
- connection errors, timeouts, truncated bodies and the retry statuses (default 429, 500, 502, 503, 504; a 403
  carrying ``Retry-After``) are retried, waiting ``Retry-After`` (seconds, or an HTTP-date relative to the
  response's ``Date``) else exponential backoff, each wait capped and the run's total bounded
  (:class:`~kpi_alignment.sources_api.RetryPolicy`); once exhausted the run fails naming URL and status;
- the status is checked before the body is parsed: an error response is never read as an empty page;
- a page that is not JSON, lacks the record list, or reports an error in a 200 body fails the run naming URL and
  page; records are checked against the declared columns (an integer turning fractional, a string where a number
  was declared, a missing key) and a mismatch fails the run naming page, record, field and value — nothing is
  rounded or coerced; keys appearing, disappearing or changing JSON type since the previous run are reported;
- duplicates across pages (by primary key) are reported and stored once; the first page's total (``total_path``)
  is reconciled with the distinct records; a disagreement, or duplicates under offset/page paging (the list
  shifted while being read), makes the run incomplete: it fails (``on_incomplete: fail``) or loads and warns;
- secrets come from environment variables, are sent only in headers (or the declared query parameter), and are
  redacted from every log record of this module, ``urllib3`` and ``requests``, every error message, and every
  value written to DuckDB (URLs included).
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import email.utils
import hashlib
import json
import logging
import math
import os
import time
import uuid
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, quote, quote_plus, urlencode, urljoin, urlsplit, urlunsplit

import duckdb
import requests

from ingest.raw_schema import ensure_raw_schema, storage_table
from kpi_alignment.sources_api import (
    ApiColumnType,
    ApiKeyAuth,
    ApiSource,
    BasicAuth,
    BearerAuth,
    CursorPagination,
    LinkHeaderPagination,
    NextUrlPagination,
    OffsetPagination,
    PageNumberPagination,
    parse_cursor_value,
)

log = logging.getLogger(__name__)

USER_AGENT = "kpi-alignment (+https://github.com/kpi-alignment)"
REDACTED = "***"
_MAX_PROBLEMS_SHOWN = 10
_INSERT_CHUNK = 50_000

_DUCKDB_TYPES = {
    ApiColumnType.varchar: "VARCHAR",
    ApiColumnType.integer: "BIGINT",
    ApiColumnType.double: "DOUBLE",
    ApiColumnType.date: "DATE",
    ApiColumnType.timestamp: "TIMESTAMP",
    ApiColumnType.boolean: "BOOLEAN",
    ApiColumnType.json: "JSON",
}
_PROVENANCE_DDL = (
    ("source_name", "VARCHAR"),
    ("source_file", "VARCHAR"),
    ("file_hash", "VARCHAR"),
    ("source_row", "BIGINT"),
    ("load_id", "VARCHAR"),
    ("loaded_at", "TIMESTAMP"),
    ("request_url", "VARCHAR"),
    ("page", "INTEGER"),
)
_METRIC_COLUMNS = (
    "source_name",
    "metric_name",
    "period_date",
    "dimension",
    "value",
    "target_value",
    "source_file",
    "file_hash",
    "source_row",
    "load_id",
    "loaded_at",
)

# API-only state: the incremental cursor and the record keys/JSON types of the last committed run. The shared
# raw.* tables (file_loads, metric_values, ...) come from ingest.raw_schema.
API_STATE_DDL = """CREATE TABLE IF NOT EXISTS raw.api_state (
    source_name VARCHAR PRIMARY KEY, source_file VARCHAR, last_cursor VARCHAR, key_types JSON,
    load_id VARCHAR, updated_at TIMESTAMP)"""


class ApiLoadError(RuntimeError):
    """An API source could not be loaded; nothing from the run was committed.

    The message names the source, the URL (secrets redacted), the HTTP status or page/record/field, and the
    reason. Attributes: ``source_name``, ``url`` (redacted, or None), ``status`` (int or None), ``page`` (1-based or
    None).
    """

    def __init__(
        self,
        message: str,
        *,
        source_name: str = "",
        url: str | None = None,
        status: int | None = None,
        page: int | None = None,
    ) -> None:
        super().__init__(message)
        self.source_name = source_name
        self.url = url
        self.status = status
        self.page = page


@dataclass(frozen=True)
class RetryWait:
    """One wait before a retry: the URL (redacted), what failed (HTTP status or error type), the wait the server
    asked for or the backoff chose (``requested_s``) and the time actually slept (``slept_s``, capped)."""

    url: str
    status: int | None
    reason: str
    requested_s: float
    slept_s: float


@dataclass
class ApiLoadResult:
    """Outcome of one committed load.

    ``status``: ``loaded`` (first load of this endpoint), ``replaced`` (new content replaced / merged into the
    stored rows), ``unchanged`` (same page bodies as the last load: nothing written) or ``empty`` (no records:
    stored rows kept). ``records`` counts records received (duplicates included), ``rows_loaded`` the distinct
    rows written. ``complete`` is False when reconciliation failed under ``on_incomplete: warn``.
    """

    source_name: str
    load_id: str
    table: str
    source_file: str
    status: str
    file_hash: str
    pages: int
    records: int
    rows_loaded: int
    total_reported: int | None
    duplicates: list[str] = field(default_factory=list)
    complete: bool = True
    last_cursor: str | None = None
    request_cursor: str | None = None
    waits: list[RetryWait] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def metadata(self) -> dict[str, Any]:
        """Flat metadata for a Dagster materialization (``dagster/row_count`` = distinct rows written)."""
        return {
            "dagster/row_count": self.rows_loaded,
            "status": self.status,
            "pages": self.pages,
            "records": self.records,
            "duplicates": len(self.duplicates),
            "total_reported": self.total_reported if self.total_reported is not None else -1,
            "complete": self.complete,
            "last_cursor": self.last_cursor or "",
            "retries": len(self.waits),
            "waited_s": round(sum(w.slept_s for w in self.waits), 3),
            "warnings": "\n".join(self.warnings),
            "load_id": self.load_id,
            "endpoint": self.source_file,
        }


# --- secrets ------------------------------------------------------------------------------------------------------


@dataclass
class _Credentials:
    headers: dict[str, str] = field(default_factory=dict)
    query: dict[str, str] = field(default_factory=dict)
    secrets: list[str] = field(default_factory=list)


class Redactor:
    """Replaces every form of the given secrets (raw, URL-quoted, base64 of ``user:password``) with ``***``."""

    def __init__(self, secrets: list[str]) -> None:
        forms: set[str] = set()
        for s in secrets:
            if s:
                forms |= {s, quote(s, safe=""), quote_plus(s)}
        self._forms = sorted(forms, key=len, reverse=True)

    def __call__(self, text: str) -> str:
        for form in self._forms:
            text = text.replace(form, REDACTED)
        return text


def _credentials(source: ApiSource, env: Mapping[str, str]) -> _Credentials:
    auth = source.auth

    def need(var: str) -> str:
        value = env.get(var)
        if not value:
            raise ApiLoadError(
                f"source {source.name}: environment variable {var} is not set or empty "
                f"(auth.{auth.type if auth else ''} reads its secret from it)",
                source_name=source.name,
            )
        return value

    if auth is None:
        return _Credentials()
    if isinstance(auth, BearerAuth):
        token = need(auth.token_env)
        return _Credentials(headers={"Authorization": f"Bearer {token}"}, secrets=[token])
    if isinstance(auth, ApiKeyAuth):
        key = need(auth.key_env)
        if auth.location == "query":
            return _Credentials(query={auth.name: key}, secrets=[key])
        return _Credentials(headers={auth.name: key}, secrets=[key])
    assert isinstance(auth, BasicAuth)
    user = auth.username if auth.username is not None else need(auth.username_env or "")
    password = need(auth.password_env)
    encoded = base64.b64encode(f"{user}:{password}".encode()).decode("ascii")
    return _Credentials(headers={"Authorization": f"Basic {encoded}"}, secrets=[password, encoded])


class _RedactingFilter(logging.Filter):
    def __init__(self, redact: Redactor) -> None:
        super().__init__()
        self.redact = redact

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a malformed record is the logger's problem, not ours
            return True
        clean = self.redact(message)
        if clean != message:
            record.msg, record.args = clean, None
        return True


@contextlib.contextmanager
def _redacted_logging(redact: Redactor) -> Iterator[None]:
    """Redact secrets from records of the HTTP stack's loggers (urllib3 logs full request URLs at DEBUG)."""
    names = {"urllib3", "urllib3.connectionpool", "urllib3.connection", "urllib3.response", "requests", __name__}
    names |= {n for n in logging.root.manager.loggerDict if n.startswith(("urllib3", "requests"))}
    flt = _RedactingFilter(redact)
    loggers = [logging.getLogger(n) for n in sorted(names)]
    for lg in loggers:
        lg.addFilter(flt)
    try:
        yield
    finally:
        for lg in loggers:
            lg.removeFilter(flt)


# --- HTTP ---------------------------------------------------------------------------------------------------------


def retry_after_seconds(headers: Mapping[str, str], now: dt.datetime | None = None) -> float | None:
    """Seconds a ``Retry-After`` header asks to wait, or None when absent or unreadable.

    Both RFC 9110 forms: delay-seconds (``"2"``) and an HTTP-date, which is taken relative to the response's own
    ``Date`` header when present (server clock against server clock), else to ``now`` (default: the UTC clock).
    A date in the past gives 0.
    """
    value = headers.get("Retry-After")
    if value is None:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    ref: dt.datetime | None = None
    if headers.get("Date"):
        with contextlib.suppress(TypeError, ValueError, IndexError):
            ref = email.utils.parsedate_to_datetime(headers["Date"])
    ref = ref or now or dt.datetime.now(dt.UTC)
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.UTC)
    if ref.tzinfo is None:
        ref = ref.replace(tzinfo=dt.UTC)
    return max(0.0, (when - ref).total_seconds())


def _with_query(url: str, extra: Mapping[str, str]) -> str:
    """``url`` with ``extra`` query parameters set (replacing same-named ones)."""
    if not extra:
        return url
    parts = urlsplit(url)
    query = [(k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if k not in extra]
    query += list(extra.items())
    return urlunsplit(parts._replace(query=urlencode(query)))


def _param_text(value: str | int | float | bool) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


class _SecretHeaders(requests.auth.AuthBase):
    """Puts the credential headers on each request (as ``auth``, so a ``~/.netrc`` entry cannot replace them)."""

    def __init__(self, headers: dict[str, str]) -> None:
        self.headers = headers

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers.update(self.headers)
        return request


class _Session(requests.Session):
    """A session that drops every credential header, not only ``Authorization``, when a redirect leaves the
    origin (host, port or scheme): an API key must not follow a redirect to another server."""

    secret_headers: tuple[str, ...] = ()

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        if response.request.url and self.should_strip_auth(response.request.url, prepared_request.url or ""):
            for name in self.secret_headers:
                prepared_request.headers.pop(name, None)
        super().rebuild_auth(prepared_request, response)


class _Fetcher:
    """GETs with bounded retries; returns only 2xx responses with their complete body."""

    def __init__(self, source: ApiSource, creds: _Credentials, redact: Redactor) -> None:
        self.source = source
        self.policy = source.retry
        self.creds = creds
        self.redact = redact
        self.waits: list[RetryWait] = []
        self.session = _Session()  # proxies and CA bundle from the environment still apply
        self.session.headers.update({"User-Agent": USER_AGENT, "Accept": "application/json"})
        self.session.headers.update(source.headers)
        self.session.auth = _SecretHeaders(creds.headers)
        self.session.secret_headers = tuple(creds.headers)

    def close(self) -> None:
        self.session.close()

    def get(self, url: str, page: int) -> requests.Response:
        full = _with_query(url, self.creds.query)
        shown = self.redact(url)
        policy = self.policy
        attempt = 0
        while True:
            attempt += 1
            failure: str | None = None
            response: requests.Response | None = None
            try:
                response = self.session.get(full, timeout=policy.timeout_s, allow_redirects=True)
                response.content  # read it all now: a cut body raises here  # noqa: B018
            except requests.RequestException as e:
                # the exception text may hold the full URL: redact, and raise outside this block (no chained text)
                failure = f"{type(e).__name__}: {self.redact(str(e))}"
                response = None
            if response is not None and 200 <= response.status_code < 300:
                if attempt > 1:
                    log.info("%s: page %d GET %s succeeded on attempt %d", self.source.name, page, shown, attempt)
                return response
            status = response.status_code if response is not None else None
            headers = response.headers if response is not None else {}
            retryable = status is None or status in policy.statuses or (status == 403 and "Retry-After" in headers)
            what = f"HTTP {status} {response.reason}" if response is not None else failure
            final_url = self.redact(response.url) if response is not None else shown
            if not retryable or attempt >= policy.max_attempts:
                tries = f"after {attempt} attempt(s)" if retryable else "(not retried)"
                snippet = self._snippet(response)
                raise ApiLoadError(
                    f"source {self.source.name}: page {page} GET {final_url} failed {tries}: {what}"
                    + (f"; body: {snippet}" if snippet else "")
                    + "; nothing from this run was committed",
                    source_name=self.source.name,
                    url=final_url,
                    status=status,
                    page=page,
                )
            asked = retry_after_seconds(headers) if response is not None else None
            requested = asked if asked is not None else policy.backoff_s * 2 ** (attempt - 1)
            wait = min(requested, policy.max_wait_s)
            spent = sum(w.slept_s for w in self.waits)
            if spent + wait > policy.max_total_wait_s:
                raise ApiLoadError(
                    f"source {self.source.name}: page {page} GET {final_url} failed: {what}; waiting {wait:.1f} s more "
                    f"would exceed retry.max_total_wait_s={policy.max_total_wait_s:g} (already waited {spent:.1f} s); "
                    "nothing from this run was committed",
                    source_name=self.source.name,
                    url=final_url,
                    status=status,
                    page=page,
                )
            log.warning(
                "%s: page %d GET %s: %s; retry %d/%d in %.2f s (asked %.2f s)",
                self.source.name,
                page,
                final_url,
                what,
                attempt,
                policy.max_attempts - 1,
                wait,
                requested,
            )
            self.waits.append(RetryWait(final_url, status, str(what), requested, wait))
            time.sleep(wait)

    def _snippet(self, response: requests.Response | None) -> str:
        if response is None:
            return ""
        try:
            text = response.content[:200].decode("utf-8", "replace")
        except requests.RequestException:
            return ""
        return self.redact(" ".join(text.split()))


# --- pages --------------------------------------------------------------------------------------------------------


_MISSING = object()


def _no_constant(name: str) -> Any:
    # Python's json accepts NaN/Infinity; standard JSON does not, and a NaN KPI value must not pass as a number
    raise ValueError(f"{name} is not a JSON number")


def _lookup(obj: Any, path: str) -> Any:
    """Value at a dotted path, ``_MISSING`` when a key is absent; a null on the way gives None."""
    for part in path.split("."):
        if obj is None:
            return None
        if isinstance(obj, dict):
            if part not in obj:
                return _MISSING
            obj = obj[part]
        elif isinstance(obj, list) and part.isdigit():
            if int(part) >= len(obj):
                return _MISSING
            obj = obj[int(part)]
        else:
            return _MISSING
    return obj


def _json_type(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int):
        return "integer"
    if isinstance(value, float):
        return "number"
    if isinstance(value, str):
        return "string"
    return "array" if isinstance(value, list) else "object"


def _as_double(value: int | float) -> float | None:
    """A JSON number as DOUBLE, or None when that would change it: beyond the range (1e400 parses as infinity, a
    huge integer overflows) or an integer with more digits than a DOUBLE holds exactly (beyond 2**53)."""
    try:
        stored = float(value)
    except OverflowError:
        return None
    if not math.isfinite(stored) or (isinstance(value, int) and int(stored) != value):
        return None
    return stored


def _show(value: Any, limit: int = 60) -> str:
    text = json.dumps(value, default=str)
    return text if len(text) <= limit else text[: limit - 3] + "..."


@dataclass
class _Page:
    number: int
    url: str  # redacted final URL (after redirects)
    body: bytes
    records: list[dict[str, Any]]
    total: Any


class _Pager:
    """Requests every page of one run in order and checks each page's shape before the next request."""

    def __init__(self, source: ApiSource, fetcher: _Fetcher, redact: Redactor, first_params: dict[str, str]) -> None:
        self.source = source
        self.fetcher = fetcher
        self.redact = redact
        self.first_params = first_params
        self.warnings: list[str] = []

    def _fail(self, page: int, url: str, reason: str) -> ApiLoadError:
        return ApiLoadError(
            f"source {self.source.name}: page {page} GET {url}: {reason}; nothing from this run was committed",
            source_name=self.source.name,
            url=url,
            page=page,
        )

    def pages(self) -> list[_Page]:
        src, p = self.source, self.source.pagination
        static = {k: _param_text(v) for k, v in src.params.items()}
        params = {**static, **self.first_params}
        if isinstance(p, PageNumberPagination):
            params[p.page_param] = str(p.start)
            if p.page_size_param and p.page_size:
                params[p.page_size_param] = str(p.page_size)
        elif isinstance(p, OffsetPagination):
            params |= {p.offset_param: str(p.start), p.limit_param: str(p.limit)}
        url: str | None = _with_query(src.endpoint_url, params)
        out: list[_Page] = []
        requested: set[str] = set()
        first_total: Any = None
        number = 0
        while url is not None:
            number += 1
            if number > p.max_pages:
                raise self._fail(
                    number, self.redact(url), f"more than pagination.max_pages={p.max_pages} pages; raise the bound"
                )
            if url in requested:
                raise self._fail(number, self.redact(url), "pagination loops: this URL was already requested")
            requested.add(url)
            response = self.fetcher.get(url, number)
            shown = self.redact(response.url)
            body = response.content
            try:
                data = json.loads(body, parse_constant=_no_constant)
            except (ValueError, UnicodeDecodeError) as e:
                ctype = response.headers.get("Content-Type")
                reason = f"body is not valid JSON ({len(body)} bytes, Content-Type {ctype}): {e}"
                data = _MISSING
            if data is _MISSING:
                raise self._fail(number, shown, reason)
            if isinstance(data, dict) and (data.get("error") or data.get("errors")):
                err = _show(data.get("error") or data.get("errors"), 200)
                raise self._fail(
                    number, shown, f"HTTP {response.status_code} but the body reports an error: {self.redact(err)}"
                )
            records = self._records(data, number, shown)
            total = _lookup(data, p.total_path) if p.total_path else _MISSING
            if number == 1:
                first_total = total
            elif total not in (_MISSING, None) and first_total not in (_MISSING, None) and total != first_total:
                self.warnings.append(f"page {number} reports total {total}, page 1 reported {first_total}")
            log.info("%s: page %d GET %s -> %d records", src.name, number, shown, len(records))
            page = _Page(number, shown, body, records, total)
            out.append(page)
            url = self._next_url(data, response, page, params, first_total)
        return out

    def _records(self, data: Any, number: int, shown: str) -> list[dict[str, Any]]:
        path = self.source.records_path
        records = data if path is None else _lookup(data, path)
        where = "the body" if path is None else f"records_path '{path}'"
        if records is _MISSING:
            keys = ", ".join(list(data)[:20]) if isinstance(data, dict) else _json_type(data)
            raise self._fail(number, shown, f"{where} is missing (the body has: {keys})")
        if not isinstance(records, list):
            raise self._fail(number, shown, f"{where} is {_json_type(records)}, not a list of records")
        for i, rec in enumerate(records, start=1):
            if not isinstance(rec, dict):
                raise self._fail(number, shown, f"record {i} is {_json_type(rec)} {_show(rec)}, not an object")
        return records

    def _next_url(
        self, data: Any, response: requests.Response, page: _Page, params: dict[str, str], first_total: Any
    ) -> str | None:
        p = self.source.pagination
        if p.has_more_path:
            more = _lookup(data, p.has_more_path)
            if more is False:
                return None
        n = len(page.records)
        total = first_total if isinstance(first_total, int) and not isinstance(first_total, bool) else None
        if isinstance(p, LinkHeaderPagination):
            link = response.links.get(p.rel)
            return urljoin(response.url, link["url"]) if link and link.get("url") else None
        if isinstance(p, NextUrlPagination):
            nxt = _lookup(data, p.next_url_path)
            if nxt in (_MISSING, None, ""):
                return None
            if not isinstance(nxt, str):
                raise self._fail(
                    page.number, page.url, f"next_url_path '{p.next_url_path}' is {_json_type(nxt)}, not a URL"
                )
            return urljoin(response.url, nxt)
        if isinstance(p, CursorPagination):
            cursor = _lookup(data, p.cursor_path)
            if cursor in (_MISSING, None, ""):
                return None
            if not isinstance(cursor, str | int) or isinstance(cursor, bool):
                raise self._fail(
                    page.number, page.url, f"cursor_path '{p.cursor_path}' is {_json_type(cursor)} {_show(cursor)}"
                )
            params[p.cursor_param] = str(cursor)
            return _with_query(self.source.endpoint_url, params)
        if isinstance(p, PageNumberPagination):
            if n == 0 or (p.page_size and n < p.page_size):
                return None
            current = int(params[p.page_param])
            if p.total_pages_path:
                pages = _lookup(data, p.total_pages_path)
                if isinstance(pages, int) and current - p.start + 1 >= pages:
                    return None
            params[p.page_param] = str(current + 1)
            return _with_query(self.source.endpoint_url, params)
        if isinstance(p, OffsetPagination):
            offset = int(params[p.offset_param])
            if n == 0 or n < p.limit or (total is not None and offset + p.limit >= total):
                return None
            params[p.offset_param] = str(offset + p.limit)
            return _with_query(self.source.endpoint_url, params)
        return None


# --- records → rows -----------------------------------------------------------------------------------------------


class _Drift(ValueError):
    """A JSON value that does not fit its declared type."""


def _convert(value: Any, kind: str) -> Any:
    """A JSON value as the Python value of its declared column type, or :class:`_Drift` — never a lossy cast."""
    if value is None:
        return None
    jtype = _json_type(value)
    if kind == ApiColumnType.json:
        return json.dumps(value)
    if kind == ApiColumnType.integer:
        if jtype == "number" and value.is_integer():
            value, jtype = int(value), "integer"
        if jtype == "integer":
            if not -(2**63) <= value < 2**63:
                raise _Drift(f"declared integer, got {value} (outside the 64-bit BIGINT range)")
            return value
        if jtype == "number":
            raise _Drift(f"declared integer, got {value!r} (a fraction; not rounded)")
    elif kind == ApiColumnType.double:
        if jtype in ("integer", "number"):
            stored = _as_double(value)
            if stored is None:
                raise _Drift(f"declared double, got {_show(value)} (cannot be stored exactly as a DOUBLE)")
            return stored
    elif kind == ApiColumnType.varchar:
        if jtype == "string":
            return value
    elif kind == ApiColumnType.boolean:
        if jtype == "boolean":
            return value
    elif kind == ApiColumnType.date:
        if jtype == "string":
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise _Drift(f"declared date, got {_show(value)} (not an ISO 8601 date)") from None
    elif kind == ApiColumnType.timestamp and jtype == "string":
        try:
            return parse_cursor_value(value, "timestamp")
        except ValueError:
            raise _Drift(f"declared timestamp, got {_show(value)} (not an ISO 8601 timestamp)") from None
    raise _Drift(f"declared {kind}, got {jtype} {_show(value)}")


@dataclass
class _Batch:
    columns: list[str]
    rows: list[tuple[Any, ...]]
    key_columns: list[str]
    records: int
    duplicates: list[str]
    conflicting: int
    cursor: str | None
    key_types: dict[str, list[str]]


def _build_rows(
    source: ApiSource, pages: list[_Page], source_file: str, file_hash: str, load_id: str, loaded_at: dt.datetime
) -> _Batch:
    """Check every record against the declaration and build the rows; raises ApiLoadError listing all drift."""
    problems: list[str] = []
    rows: dict[tuple[Any, ...], tuple[Any, ...]] = {}
    first_seen: dict[tuple[Any, ...], int] = {}
    duplicates: list[str] = []
    conflicting = 0
    key_types: dict[str, set[str]] = {}
    cursor_max: tuple[dt.datetime, str] | None = None
    inc = source.incremental
    ordinal = 0

    if source.table is not None:
        value_columns = list(source.columns)
        columns = [*value_columns, *(c for c, _ in _PROVENANCE_DDL)]
        key_columns = list(source.primary_key)
        key_idx = [value_columns.index(c) for c in key_columns]
    else:
        columns = list(_METRIC_COLUMNS)
        key_columns = ["metric_name", "period_date", "dimension"]

    for page in pages:
        for i, rec in enumerate(page.records, start=1):
            ordinal += 1
            where = f"page {page.number} ({page.url}) record {i}"
            for k, v in rec.items():
                key_types.setdefault(k, set()).add(_json_type(v))
            bad: list[str] = []
            if source.table is not None:
                values: list[Any] = []
                for col, spec in source.columns.items():
                    path = source.column_path(col)
                    raw = _lookup(rec, path)
                    if raw is _MISSING:
                        if not spec.optional:
                            present = ", ".join(sorted(rec)[:30])
                            bad.append(f"{where}: field '{path}' (column {col}) is missing; the record has: {present}")
                        values.append(None)
                        continue
                    try:
                        values.append(_convert(raw, spec.type))
                    except _Drift as e:
                        bad.append(f"{where}: field '{path}' (column {col}): {e}")
                        values.append(None)
                key = tuple(values[j] for j in key_idx)
                if not bad and any(v is None for v in key):
                    bad.append(f"{where}: primary key {dict(zip(key_columns, key, strict=True))} has a null")
                row = (*values, source.name, source_file, file_hash, ordinal, load_id, loaded_at, page.url, page.number)
            else:
                row, key = _metric_row(source, rec, where, bad, source_file, file_hash, ordinal, load_id, loaded_at)
            if inc is not None:
                cval = _lookup(rec, inc.cursor_field)
                try:
                    parsed = parse_cursor_value(cval, inc.value_type)
                except ValueError as e:
                    missing = "missing" if cval is _MISSING else str(e)
                    bad.append(f"{where}: incremental cursor_field '{inc.cursor_field}': {missing}")
                else:
                    if cursor_max is None or parsed > cursor_max[0]:
                        cursor_max = (parsed, cval)
            if bad:
                problems.extend(bad)
                continue
            if key in rows:
                identical = _payload(rows[key], source) == _payload(row, source)
                conflicting += not identical
                duplicates.append(
                    f"{_key_text(key_columns, key)} on page {first_seen[key]} and page {page.number}"
                    + ("" if identical else " (different values; the later one kept)")
                )
            else:
                first_seen[key] = page.number
            rows[key] = row

    if problems:
        shown = problems[:_MAX_PROBLEMS_SHOWN]
        more = len(problems) - len(shown)
        raise ApiLoadError(
            f"source {source.name}: {len(problems)} record value(s) do not match the declared schema "
            "(schema drift; nothing rounded, nothing committed):\n  "
            + "\n  ".join(shown)
            + (f"\n  … and {more} more" if more else ""),
            source_name=source.name,
            url=pages[0].url if pages else None,
        )
    return _Batch(
        columns=columns,
        rows=list(rows.values()),
        key_columns=key_columns,
        records=ordinal,
        duplicates=duplicates,
        conflicting=conflicting,
        cursor=cursor_max[1] if cursor_max else None,
        key_types={k: sorted(v) for k, v in key_types.items()},
    )


def _payload(row: tuple[Any, ...], source: ApiSource) -> tuple[Any, ...]:
    """The data part of a row (no provenance), to tell identical duplicates from conflicting ones."""
    if source.table is not None:
        return row[: len(source.columns)]
    return row[1:6]


def _key_text(columns: list[str], key: tuple[Any, ...]) -> str:
    return ", ".join(f"{c}={v}" for c, v in zip(columns, key, strict=True))


def _metric_row(
    source: ApiSource,
    rec: dict[str, Any],
    where: str,
    bad: list[str],
    source_file: str,
    file_hash: str,
    ordinal: int,
    load_id: str,
    loaded_at: dt.datetime,
) -> tuple[tuple[Any, ...], tuple[Any, ...]]:
    m = source.metrics
    assert m is not None

    def field_value(path: str) -> Any:
        v = _lookup(rec, path)
        if v is _MISSING:
            bad.append(f"{where}: field '{path}' is missing; the record has: {', '.join(sorted(rec)[:30])}")
            return None
        return v

    def number(path: str | None, required: bool) -> float | None:
        if path is None:
            return None
        v = _lookup(rec, path) if not required else field_value(path)
        if v is _MISSING or v is None:
            return None
        if _json_type(v) not in ("integer", "number"):
            bad.append(f"{where}: field '{path}': expected a JSON number, got {_json_type(v)} {_show(v)}")
            return None
        stored = _as_double(v)
        if stored is None:
            bad.append(f"{where}: field '{path}': {_show(v)} cannot be stored exactly as a DOUBLE")
        return stored

    if m.metric_name is not None:
        metric = m.metric_name
    else:
        metric = field_value(m.metric_field or "")
        # a null metric name is as unusable as an empty one (a missing field is reported by field_value)
        present = _lookup(rec, m.metric_field or "") is not _MISSING
        if present and not (isinstance(metric, str) and metric.strip()):
            bad.append(f"{where}: field '{m.metric_field}': expected a metric name, got {_show(metric)}")
    raw_date = field_value(m.date_field)
    period: dt.date | None = None
    if isinstance(raw_date, str):
        try:
            period = dt.datetime.strptime(raw_date, m.date_format).date()
        except ValueError:
            bad.append(f"{where}: field '{m.date_field}': {_show(raw_date)} does not match date_format {m.date_format}")
    elif raw_date is not None or _lookup(rec, m.date_field) is None:
        bad.append(
            f"{where}: field '{m.date_field}': expected a date string, got {_json_type(raw_date)} {_show(raw_date)}"
        )
    value = number(m.value_field, required=True)
    target = number(m.target_field, required=False)
    dimension = "*"
    if m.dimension_field:
        d = _lookup(rec, m.dimension_field)
        if isinstance(d, str) and d:
            dimension = d
        elif isinstance(d, int) and not isinstance(d, bool):
            dimension = str(d)
        elif d not in (_MISSING, None, ""):
            bad.append(f"{where}: field '{m.dimension_field}': expected a dimension name, got {_show(d)}")
    row = (source.name, metric, period, dimension, value, target, source_file, file_hash, ordinal, load_id, loaded_at)
    return row, (metric, period, dimension)


# --- DuckDB -------------------------------------------------------------------------------------------------------


def ensure_api_tables(con: duckdb.DuckDBPyConnection, source: ApiSource) -> None:
    """Create the contract tables and ``raw.<table>`` if absent; add newly declared columns to an existing table.

    Raises :class:`ApiLoadError` when an existing column has a different type than declared (change it on
    purpose: drop the table, or declare the stored type).
    """
    ensure_raw_schema(con)
    con.execute(API_STATE_DDL)
    if source.table is None:
        return
    wanted = [(c, _DUCKDB_TYPES[ApiColumnType(s.type)]) for c, s in source.columns.items()] + list(_PROVENANCE_DDL)
    existing = dict(
        con.execute(
            "select column_name, data_type from information_schema.columns "
            "where table_schema = 'raw' and table_name = ? order by ordinal_position",
            [source.table],
        ).fetchall()
    )
    if not existing:
        cols = ", ".join(f'"{c}" {t}' for c, t in wanted)
        con.execute(f"CREATE TABLE raw.{source.table} ({cols})")
        return
    for col, typ in wanted:
        have = existing.get(col)
        if have is None:
            con.execute(f'ALTER TABLE raw.{source.table} ADD COLUMN "{col}" {typ}')
        elif have.upper() != typ:
            raise ApiLoadError(
                f"source {source.name}: raw.{source.table}.{col} is {have} in the warehouse but declared {typ}",
                source_name=source.name,
            )


def _previous(con: duckdb.DuckDBPyConnection, source: ApiSource, source_file: str) -> tuple[Any, ...]:
    """(last cursor, record key types of the last run, page hash of the last good load if it read the same
    endpoint with the same declaration else None, whether the source has any good load)."""
    state = con.execute(
        "select last_cursor, key_types from raw.api_state where source_name = ?", [source.name]
    ).fetchone()
    last = con.execute(
        "select source_file, file_hash, config_hash from raw.file_loads where source_name = ? "
        "and status in ('loaded', 'replaced', 'unchanged') order by loaded_at desc limit 1",
        [source.name],
    ).fetchone()
    last_cursor = state[0] if state else None
    key_types = json.loads(state[1]) if state and state[1] else None
    same_endpoint = last is not None and last[0] == source_file and last[2] == config_hash(source)
    prev_hash = last[1] if same_endpoint else None
    return last_cursor, key_types, prev_hash, last is not None


def _write(con: duckdb.DuckDBPyConnection, source: ApiSource, batch: _Batch, incremental: bool, load_id: str) -> None:
    """Replace (full refresh) or merge by key (incremental) this source's rows; inside the caller's transaction."""
    target = storage_table(source.raw_table)  # raw.metric_values is a view: its full-provenance table
    tmp = f"api_batch_{load_id.replace('-', '_')}"[:60]
    cols = ", ".join(f'"{c}"' for c in batch.columns)
    con.execute(f"CREATE TEMP TABLE {tmp} AS SELECT {cols} FROM {target} LIMIT 0")
    types = [t for _, t, *_ in con.execute(f"DESCRIBE {tmp}").fetchall()]
    # column-wise lists unnested side by side: executemany costs ~0.5 ms a row, this ~100x less
    lists = ", ".join(f"unnest(?::VARCHAR[])::{t}" if t in ("JSON",) else f"unnest(?::{t}[])" for t in types)
    for start in range(0, len(batch.rows), _INSERT_CHUNK):
        chunk = batch.rows[start : start + _INSERT_CHUNK]
        con.execute(f"INSERT INTO {tmp} ({cols}) SELECT {lists}", [list(col) for col in zip(*chunk, strict=True)])
    if incremental:
        match = " AND ".join(f't."{c}" IS NOT DISTINCT FROM b."{c}"' for c in batch.key_columns)
        con.execute(
            f"DELETE FROM {target} t WHERE t.source_name = ? AND EXISTS (SELECT 1 FROM {tmp} b WHERE {match})",
            [source.name],
        )
    else:
        con.execute(f"DELETE FROM {target} WHERE source_name = ?", [source.name])
    con.execute(f"INSERT INTO {target} ({cols}) SELECT {cols} FROM {tmp}")
    con.execute(f"DROP TABLE {tmp}")


def _record_load(
    con: duckdb.DuckDBPyConnection,
    source: ApiSource,
    source_file: str,
    file_hash: str | None,
    status: str,
    records: int,
    rows: int,
    load_id: str,
    loaded_at: dt.datetime,
    message: str,
) -> None:
    con.execute(
        "INSERT INTO raw.file_loads (source_name, source_file, file_hash, status, source_records, rows_loaded, "
        "rows_rejected, load_id, loaded_at, message, config_hash) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?, ?, ?)",
        [source.name, source_file, file_hash, status, records, rows, load_id, loaded_at, message, config_hash(source)],
    )


def config_hash(source: ApiSource) -> str:
    """SHA-256 of the source declaration: a changed declaration re-writes rows even when the pages did not change."""
    return hashlib.sha256(source.model_dump_json().encode()).hexdigest()


def _record_failure(
    con: duckdb.DuckDBPyConnection,
    source: ApiSource,
    source_file: str,
    records: int,
    load_id: str,
    loaded_at: dt.datetime,
    message: str,
) -> None:
    """Leave a ``failed`` row in ``raw.file_loads`` (its own transaction) so freshness sees the failed run."""
    try:
        ensure_raw_schema(con)
        _record_load(con, source, source_file, None, "failed", records, 0, load_id, loaded_at, message)
    except duckdb.Error as e:  # the warehouse itself is unusable: the raised load error still tells the story
        log.error("%s: could not record the failed load in raw.file_loads: %s", source.name, e)


def _source_file(source: ApiSource, redact: Redactor) -> str:
    """The endpoint as recorded in ``raw.file_loads``: URL with static params, no secrets, no cursor."""
    static = {k: _param_text(v) for k, v in source.params.items()}
    return redact(_with_query(source.endpoint_url, static))


def _schema_changes(before: dict[str, list[str]] | None, now: dict[str, list[str]]) -> list[str]:
    """Record keys that appeared, disappeared or gained a JSON type since the previous committed run."""
    if not before or not now:
        return []
    out: list[str] = []
    gone = sorted(set(before) - set(now))
    new = sorted(set(now) - set(before))
    if gone:
        out.append(f"record keys no longer present since the previous run: {', '.join(gone)}")
    if new:
        out.append(f"record keys new since the previous run: {', '.join(new)}")
    for k in sorted(set(before) & set(now)):
        added = set(now[k]) - set(before[k]) - {"null"}
        if added:
            out.append(f"record key '{k}' was {'/'.join(before[k])}, now also {'/'.join(sorted(added))}")
    return out


# --- entry point --------------------------------------------------------------------------------------------------


def _lower_bound(source: ApiSource, last_cursor: str | None) -> str | None:
    """The incremental lower bound to send: ``max(initial_value, last_cursor - lookback)``, formatted."""
    inc = source.incremental
    if inc is None:
        return None
    lower = parse_cursor_value(inc.initial_value, inc.value_type)
    if last_cursor is not None:
        lower = max(lower, parse_cursor_value(last_cursor, inc.value_type) - inc.lookback)
    return lower.strftime(inc.param_format or ("%Y-%m-%dT%H:%M:%SZ" if inc.value_type == "timestamp" else "%Y-%m-%d"))


def _newer_cursor(source: ApiSource, stored: str | None, seen: str | None) -> str | None:
    """The larger of the stored cursor and the largest one seen in this run (a lookback never moves it back)."""
    inc = source.incremental
    if inc is None or seen is None:
        return stored
    if stored is None or parse_cursor_value(seen, inc.value_type) > parse_cursor_value(stored, inc.value_type):
        return seen
    return stored


@dataclass
class _Assessment:
    total: int | None
    warnings: list[str]
    incomplete: list[str]


def _assess(
    source: ApiSource, pages: list[_Page], batch: _Batch, pager_warnings: list[str], prev_types: Any
) -> _Assessment:
    """Duplicates, reconciliation with the first page's total, and record-key changes since the previous run."""
    warnings = list(pager_warnings)
    total = pages[0].total if pages else None
    total_int = total if isinstance(total, int) and not isinstance(total, bool) else None
    if total not in (_MISSING, None) and total_int is None:
        warnings.append(f"page 1 total '{source.pagination.total_path}' is {_show(total)}, not an integer")
    incomplete: list[str] = []
    if batch.duplicates:
        warnings.append(
            f"{len(batch.duplicates)} duplicate record(s) across pages: " + "; ".join(batch.duplicates[:10])
        )
        if isinstance(source.pagination, OffsetPagination | PageNumberPagination):
            incomplete.append(
                "offset/page paging returned duplicates: the list shifted while it was read, so records may "
                "have been skipped (prefer cursor pagination)"
            )
    if total_int is not None and total_int != len(batch.rows):
        incomplete.append(f"page 1 reported total {total_int}, {len(batch.rows)} distinct record(s) received")
    warnings.extend(_schema_changes(prev_types, batch.key_types))
    return _Assessment(total_int, warnings, incomplete)


def load_api_source(
    con: duckdb.DuckDBPyConnection,
    source: ApiSource,
    load_id: str | None = None,
    *,
    env: Mapping[str, str] | None = None,
) -> ApiLoadResult:
    """Fetch every page of ``source`` and commit its records to DuckDB in one transaction.

    Inputs: ``con`` — read-write connection in auto-commit mode, the caller holding the writer lock; ``source`` —
    the declaration; ``load_id`` — id stamped on the rows (default: a new UUID); ``env`` — where secrets are read
    (default ``os.environ``).

    Output tables: ``raw.<table>`` (declared columns + ``source_name, source_file, file_hash, source_row,
    load_id, loaded_at, request_url, page``) or ``raw.metric_values``; one row in ``raw.file_loads``
    (``source_file`` = endpoint URL with static params, secrets redacted; ``file_hash`` = SHA-256 of the page
    bodies in order); ``raw.api_state`` (last cursor, record keys and their JSON types).

    Full refresh replaces the source's rows; incremental merges by primary key (metrics: metric, date,
    dimension). Same page bodies as the last load → ``unchanged`` (nothing written); zero records → ``empty``
    (stored rows kept: an empty answer is not proof that the data went away).

    Raises :class:`ApiLoadError` (after recording a ``failed`` row in ``raw.file_loads``; no data committed) on:
    a missing secret variable, exhausted retries, a non-retryable HTTP status, invalid JSON, an unexpected page
    shape, schema drift, an incomplete run under ``on_incomplete: fail``, or a declared column whose stored type
    differs.
    """
    load_id = load_id or uuid.uuid4().hex
    environ = os.environ if env is None else env
    loaded_at = dt.datetime.now(dt.UTC).replace(tzinfo=None)
    redact = Redactor([])
    source_file = _source_file(source, redact)
    in_txn = False
    fetcher: _Fetcher | None = None
    error: ApiLoadError | None = None
    records_seen = 0
    try:
        creds = _credentials(source, environ)
        redact = Redactor(creds.secrets)
        source_file = _source_file(source, redact)
        with _redacted_logging(redact):
            ensure_api_tables(con, source)
            last_cursor, prev_types, prev_hash, had_load = _previous(con, source, source_file)
            request_cursor = _lower_bound(source, last_cursor)
            first_params = {source.incremental.param: request_cursor} if source.incremental and request_cursor else {}
            fetcher = _Fetcher(source, creds, redact)
            pager = _Pager(source, fetcher, redact, first_params)
            # 1. every page, shape-checked; no transaction open while the network is slow
            pages = pager.pages()
            records_seen = sum(len(p.records) for p in pages)
            digest = hashlib.sha256()
            for p in pages:
                digest.update(len(p.body).to_bytes(8, "big") + p.body)
            file_hash = digest.hexdigest()
            # 2. every record checked against the declaration, then the run as a whole
            batch = _build_rows(source, pages, source_file, file_hash, load_id, loaded_at)
            verdict = _assess(source, pages, batch, pager.warnings, prev_types)
            if verdict.incomplete and source.on_incomplete == "fail":
                raise ApiLoadError(
                    f"source {source.name}: incomplete run from {source_file}: "
                    + "; ".join(verdict.incomplete)
                    + (f" (duplicates: {'; '.join(batch.duplicates[:10])})" if batch.duplicates else "")
                    + "; nothing from this run was committed",
                    source_name=source.name,
                    url=source_file,
                )
            warnings = verdict.warnings + [f"incomplete: {m}" for m in verdict.incomplete]
            for w in warnings:
                log.warning("%s: %s", source.name, w)
            if not batch.rows:
                status = "empty"
            elif file_hash == prev_hash:
                status = "unchanged"
            else:
                status = "replaced" if had_load else "loaded"
            rows_loaded = len(batch.rows) if status in ("loaded", "replaced") else 0
            new_cursor = _newer_cursor(source, last_cursor, batch.cursor)
            # 3. one transaction: rows, the load record, the incremental state
            con.execute("BEGIN TRANSACTION")
            in_txn = True
            if rows_loaded:
                _write(con, source, batch, source.incremental is not None, load_id)
            message = redact("; ".join(warnings))
            _record_load(
                con, source, source_file, file_hash, status, batch.records, rows_loaded, load_id, loaded_at, message
            )
            con.execute("DELETE FROM raw.api_state WHERE source_name = ?", [source.name])
            con.execute(
                "INSERT INTO raw.api_state VALUES (?, ?, ?, ?, ?, ?)",
                [
                    source.name,
                    source_file,
                    new_cursor,
                    json.dumps(batch.key_types or prev_types or {}),
                    load_id,
                    loaded_at,
                ],
            )
            con.execute("COMMIT")
            in_txn = False
    except ApiLoadError as e:
        error = e
    except Exception:
        # a defect, not a data problem: keep its traceback, but still leave the failure in raw.file_loads
        if in_txn:
            con.execute("ROLLBACK")
            in_txn = False
        _record_failure(con, source, source_file, records_seen, load_id, loaded_at, "unexpected error (see the log)")
        raise
    finally:
        if fetcher is not None:
            fetcher.close()
        if in_txn:
            con.execute("ROLLBACK")
    if error is not None:
        message = redact(str(error))
        log.error("%s", message)
        _record_failure(con, source, source_file, records_seen, load_id, loaded_at, message)
        raise ApiLoadError(message, source_name=source.name, url=error.url, status=error.status, page=error.page)
    return ApiLoadResult(
        source_name=source.name,
        load_id=load_id,
        table=source.raw_table,
        source_file=source_file,
        status=status,
        file_hash=file_hash,
        pages=len(pages),
        records=batch.records,
        rows_loaded=rows_loaded,
        total_reported=verdict.total,
        duplicates=batch.duplicates,
        complete=not verdict.incomplete,
        last_cursor=new_cursor,
        request_cursor=request_cursor,
        waits=list(fetcher.waits) if fetcher else [],
        warnings=warnings,
    )
