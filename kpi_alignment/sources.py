"""Source definitions: where operational metrics come from and how to read them.

A project's ``sources/*.yml`` files each hold ``sources: [...]``. Reading is declared, never guessed: encoding,
delimiter, decimal and thousands separators, date format and null tokens are per-source configuration, because a
guess that is right for one file is silently wrong for the next (see ``../shared/cases`` B02, B04, B11, B13).
"""

from __future__ import annotations

import datetime as dt
import re
from enum import StrEnum
from pathlib import PurePath
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Discriminator, Field, Tag, field_validator, model_validator

from kpi_alignment.sources_api import ApiSource


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False, use_enum_values=True)


class Layout(StrEnum):
    table = "table"  # rows land in raw.<table> as declared; KPIs are computed from them in dbt
    long = "long"  # one row per (date, metric, [dimension], value)
    wide = "wide"  # one row per date, one column per metric


class ColumnType(StrEnum):
    varchar = "varchar"
    integer = "integer"
    double = "double"
    date = "date"
    timestamp = "timestamp"
    boolean = "boolean"


class Dialect(_Strict):
    """How the bytes of a CSV file are to be read. Nothing here is sniffed."""

    encoding: str = Field("utf-8", description="Python codec name, e.g. utf-8, cp1252, cp1250, latin-1.")
    delimiter: str = Field(",", min_length=1, max_length=1)
    quote: str = Field('"', min_length=1, max_length=1)
    decimal: Literal[".", ","] = "."
    thousands: Literal[",", ".", " ", "'"] | None = None
    header: bool = True
    skip_lines: int = Field(0, ge=0, description="Lines before the header (banners, titles).")
    null_values: list[str] = Field(default_factory=lambda: [""])
    error_values: list[str] = Field(
        default_factory=lambda: ["#DIV/0!", "#VALUE!", "#REF!", "#NAME?", "#NUM!", "#N/A", "#NV", "#NULL!"],
        description="Spreadsheet error values: loaded as NULL but counted and reported as source formula errors.",
    )
    date_format: str = Field(
        "%Y-%m-%d", description="strptime format of every `date` column (date.format overrides it for date.column)."
    )
    timestamp_format: str | None = Field(
        None,
        description="strptime format of `timestamp` columns. Default: ISO 8601 (`2013-01-01 10:00[:00[.f]]`, "
        "`T` allowed); a value with `Z`/`+hh:mm` is converted to UTC, one without is taken as UTC.",
    )

    @model_validator(mode="after")
    def _separators_differ(self) -> Dialect:
        if self.thousands is not None and self.thousands == self.decimal:
            raise ValueError("thousands and decimal separators must differ")
        if self.decimal == self.delimiter:
            raise ValueError("decimal separator equals the delimiter")
        if self.quote == self.delimiter:
            raise ValueError("quote character equals the delimiter")
        if self.delimiter in "\r\n" or self.quote in "\r\n":
            raise ValueError("delimiter and quote cannot be line breaks")
        both = sorted(set(self.null_values) & set(self.error_values))
        if both:
            raise ValueError(f"{both} listed both as null_values and error_values")
        if any("\x00" in t for t in [*self.null_values, *self.error_values]):
            raise ValueError("null/error tokens cannot contain NUL characters")
        return self


class DateSpec(_Strict):
    """The period date of a row: one column with a strptime ``format``, or ``year`` + ``month`` (+ ``day``) columns."""

    column: str | None = None
    format: str = "%Y-%m-%d"
    year: str | None = None
    month: str | None = None
    day: str | None = None

    @model_validator(mode="after")
    def _one_way(self) -> DateSpec:
        if (self.column is None) == (self.year is None):
            raise ValueError("give either date.column (with format) or date.year/month[/day] columns")
        return self


class CatalogMapping(_Strict):
    """Catalog entries a source derives from its own columns (e.g. MTA indicators, NYC MMR goals).

    Column names refer to the source file. ``direction_map`` maps the file's codes to ``higher_is_better`` /
    ``lower_is_better``; a code it does not list (or an empty one) gets ``default_direction`` and is reported.
    ``objective_columns`` lists columns from the top of the objective tree down (e.g. ``[Service, Goal]``); the
    first level is strategic, the rest operational; each KPI links to the deepest non-empty level. Objective ids
    are ``<source name>:<first 16 hex of sha256 of the path>`` (the path = the column values from the top down,
    so the same goal under two services gives two objectives); the objective's name is its own column's value.

    The loader writes ``raw.source_kpis`` / ``raw.source_objectives`` / ``raw.source_kpi_links`` /
    ``raw.source_kpi_metrics`` per file (``catalog_file`` = the file). A KPI's attributes come from its most
    recent row (latest period, then last line). Its metric name is the row's metric name (the ``metric_column``
    value), so with ``kpi_id`` = ``metric_column`` the KPI's metric name is its id. A parent id found in
    ``parent_kpi_none`` or naming no KPI of the same file becomes NULL (reported). Declare id columns as
    ``varchar`` so codes keep their leading zeros (B14).
    """

    kpi_id: str
    kpi_name: str
    description: str | None = None
    unit: str | None = None
    parent_kpi: str | None = None
    parent_kpi_none: list[str] = Field(default_factory=lambda: ["", "0"])
    direction: str | None = None
    direction_map: dict[str, str] = Field(default_factory=dict)
    default_direction: Literal["higher_is_better", "lower_is_better"] = "higher_is_better"
    aggregation: Literal["sum", "average", "last", "min", "max"] = "average"
    grain: Literal["day", "week", "month", "quarter", "year"] = "month"
    owner: str | None = None
    default_owner: str = "unassigned"
    objective_columns: list[str] = Field(default_factory=list)


class CsvSource(_Strict):
    """A CSV source: files matching ``path`` (a glob relative to the project directory, or absolute).

    Layouts (where the rows land is in ``docs/architecture.md``):

    * ``table`` — ``raw.<table>`` gets the declared columns, typed, named by :func:`sql_column_name` (lower
      snake case), plus the provenance columns.
    * ``long`` — one row per record into ``raw.metric_values``: ``metric_column``, ``value_column``, the ``date``
      and optional ``target_column`` / ``dimension_column`` (an empty dimension = ``'*'``, all dimensions).
    * ``wide`` — two shapes, exactly one of:

      - one row per date, one column per metric: ``date`` + ``metric_columns`` (metric name → column);
      - one row per metric, one column per period (e.g. NYC MMR fiscal-year columns): ``metric_column`` +
        ``period_columns`` (column → period start date, e.g. ``"2016": 2015-07-01``); ``target_column`` (a
        per-row target) then applies to every period of the row.

      A wide cell with no value (a null token or a formula error) produces no ``raw.metric_values`` row;
      formula errors are still counted and listed in ``raw.formula_errors``.

    Value, target and metric/period columns must be declared ``double`` or ``integer``.
    """

    name: Annotated[str, Field(pattern=r"^[a-z][a-z0-9_]*$", description="Source id; also its Dagster asset name.")]
    type: Literal["csv"] = "csv"
    description: str = ""
    path: str
    layout: Layout
    table: str | None = Field(None, pattern=r"^[a-z][a-z0-9_]*$", description="raw.<table> for layout=table.")
    dialect: Dialect = Field(default_factory=Dialect)
    columns: dict[str, ColumnType] = Field(
        description="Every column the file must have, in file order, with its type. Missing or extra → error."
    )
    date: DateSpec | None = None
    metric_column: str | None = Field(
        None, description="long layout, or wide with period_columns: the column naming the metric."
    )
    value_column: str | None = Field(None, description="long layout: the column holding the value.")
    target_column: str | None = Field(None, description="Optional column holding the period's target.")
    dimension_column: str | None = None
    metric_columns: dict[str, str] = Field(
        default_factory=dict, description="wide layout: metric name -> column holding its value."
    )
    period_columns: dict[str, dt.date] = Field(
        default_factory=dict,
        description="wide layout with metric_column: column -> the period (start) date its values belong to.",
    )
    key_columns: list[str] | None = Field(
        None,
        description="table layout: columns identifying a row (checked not null and unique per load). Default: "
        "inferred from names (id, code, key, *_id, *_code, *_key) and checked not null only.",
    )
    catalog: CatalogMapping | None = None
    expected_every: Literal["day", "week", "month", "quarter", "year"] | None = Field(
        None, description="How often a new file is expected (freshness of the source)."
    )

    @field_validator("path")
    @classmethod
    def _stays_in_project(cls, v: str) -> str:
        # a relative glob is read from the project directory and may not climb out of it (../../etc/passwd);
        # reading elsewhere takes an explicit absolute path
        if not PurePath(v).is_absolute() and ".." in PurePath(v).parts:
            raise ValueError(
                f"relative path '{v}' leaves the project directory ('..'); write an absolute path to read files "
                "outside it"
            )
        return v

    @model_validator(mode="after")
    def _layout_fields(self) -> CsvSource:
        cols = set(self.columns)
        numeric = {ColumnType.double.value, ColumnType.integer.value}

        def need(field: str, value: str | None) -> None:
            if value is None:
                raise ValueError(f"layout {self.layout} needs {field}")
            if value not in cols:
                raise ValueError(f"{field} '{value}' is not among the declared columns")

        def must_be_numeric(field: str, column: str) -> None:
            if self.columns[column] not in numeric:
                raise ValueError(f"{field} '{column}' must be declared double or integer")

        if self.key_columns is not None:
            for c in self.key_columns:
                if c not in cols:
                    raise ValueError(f"key column '{c}' is not among the declared columns")
        if self.layout == Layout.table:
            names = [sql_column_name(c) for c in self.columns]
            clash = sorted({n for n in names if names.count(n) > 1} | (set(names) & set(PROVENANCE_COLUMNS)))
            if clash:
                raise ValueError(f"columns map to clashing or reserved raw column names: {clash}")
            if self.catalog is not None:
                raise ValueError("a catalog mapping needs layout long or wide (one row per KPI value)")
            return self
        by_period = bool(self.period_columns)
        if self.layout == Layout.wide and by_period:
            if self.metric_columns:
                raise ValueError("layout wide takes either metric_columns (with date) or period_columns, not both")
            if self.date is not None:
                raise ValueError("layout wide with period_columns takes its dates from period_columns, not date")
            need("metric_column", self.metric_column)
            for c in self.period_columns:
                need("period column", c)
                must_be_numeric("period column", c)
        else:
            if self.period_columns:
                raise ValueError("period_columns belongs to layout wide")
            if self.date is None:
                raise ValueError(f"layout {self.layout} needs date")
            for c in (self.date.column, self.date.year, self.date.month, self.date.day):
                if c is not None and c not in cols:
                    raise ValueError(f"date column '{c}' is not among the declared columns")
            # the period column is parsed with date.format, year/month/day as integers, whatever their declaration
            if self.date.column is not None and self.columns[self.date.column] not in ("date", "varchar"):
                raise ValueError(f"date column '{self.date.column}' must be declared date or varchar")
            for c in (self.date.year, self.date.month, self.date.day):
                if c is not None and self.columns[c] not in ("integer", "varchar"):
                    raise ValueError(f"date column '{c}' must be declared integer or varchar")
            if self.layout == Layout.long:
                need("metric_column", self.metric_column)
                need("value_column", self.value_column)
                must_be_numeric("value_column", self.value_column)  # type: ignore[arg-type]
            else:
                if not self.metric_columns:
                    raise ValueError("layout wide needs metric_columns (with date) or period_columns")
                if self.metric_column is not None:
                    raise ValueError("layout wide with metric_columns has no metric_column")
                if self.target_column is not None:
                    raise ValueError("target_column needs one metric per row: layout long, or wide + period_columns")
                for c in self.metric_columns.values():
                    need("metric column", c)
                    must_be_numeric("metric column", c)
            if self.catalog is not None and self.layout == Layout.wide:
                raise ValueError("a catalog mapping needs one KPI per row: layout long, or wide with period_columns")
        for opt in ("target_column", "dimension_column"):
            value = getattr(self, opt)
            if value is not None and value not in cols:
                raise ValueError(f"{opt} '{value}' is not among the declared columns")
        if self.target_column is not None:
            must_be_numeric("target_column", self.target_column)
        if self.catalog is not None:
            m = self.catalog
            for label, c in (
                ("kpi_id", m.kpi_id),
                ("kpi_name", m.kpi_name),
                ("description", m.description),
                ("unit", m.unit),
                ("parent_kpi", m.parent_kpi),
                ("direction", m.direction),
                ("owner", m.owner),
                *(("objective_columns", c) for c in m.objective_columns),
            ):
                if c is not None and c not in cols:
                    raise ValueError(f"catalog.{label} '{c}' is not among the declared columns")
            for code, direction in m.direction_map.items():
                if direction not in ("higher_is_better", "lower_is_better"):
                    raise ValueError(f"catalog.direction_map['{code}'] must be higher_is_better or lower_is_better")
        return self

    @property
    def raw_table(self) -> str:
        """The table rows land in: ``raw.<table>`` for table layout, ``raw.metric_values`` otherwise."""
        return f"raw.{self.table or self.name}" if self.layout == Layout.table else "raw.metric_values"


PROVENANCE_COLUMNS = ("source_name", "source_file", "file_hash", "source_row", "load_id", "loaded_at")
"""Columns the CSV loader adds to every ``raw.<table>`` row (names reserved for table-layout sources)."""


def sql_column_name(column: str) -> str:
    """The ``raw.<table>`` column name of a declared CSV column: lower snake case (``Target.MMR`` → ``target_mmr``).

    Any run of characters other than ``a-z0-9_`` becomes ``_``; leading/trailing ``_`` are dropped; a name that
    would start with a digit or be empty is prefixed with ``c_``.
    """
    name = re.sub(r"[^a-z0-9_]+", "_", column.strip().lower()).strip("_")
    return name if name and not name[0].isdigit() else f"c_{name}"


def _source_type(value: Any) -> str:
    """Discriminator: the ``type`` key, ``csv`` when absent (CSV sources may omit it)."""
    if isinstance(value, dict):
        return str(value.get("type", "csv"))
    return str(getattr(value, "type", "csv"))


Source = Annotated[
    Annotated[CsvSource, Tag("csv")] | Annotated[ApiSource, Tag("api")],
    Discriminator(_source_type),
]
"""A source definition: a CSV drop (``type: csv``, the default) or an HTTP API (``type: api``)."""


class SourcesFile(_Strict):
    """One ``sources/*.yml`` file."""

    sources: list[Source] = Field(default_factory=list)
