"""Source definitions: where operational metrics come from and how to read them.

A project's ``sources/*.yml`` files each hold ``sources: [...]``. Reading is declared, never guessed: encoding,
delimiter, decimal and thousands separators, date format and null tokens are per-source configuration, because a
guess that is right for one file is silently wrong for the next (see ``../shared/cases`` B02, B04, B11, B13).
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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

    @model_validator(mode="after")
    def _separators_differ(self) -> Dialect:
        if self.thousands is not None and self.thousands == self.decimal:
            raise ValueError("thousands and decimal separators must differ")
        if self.decimal == self.delimiter:
            raise ValueError("decimal separator equals the delimiter")
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
    ``lower_is_better``. ``objective_columns`` lists columns from the top of the objective tree down (e.g.
    ``[Service, Goal]``); the first level is strategic, the rest operational; each KPI links to the last.
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
    """A CSV source: files matching ``path`` (a glob relative to the project directory, or absolute)."""

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
    metric_column: str | None = Field(None, description="long layout: the column naming the metric.")
    value_column: str | None = Field(None, description="long layout: the column holding the value.")
    target_column: str | None = Field(None, description="Optional column holding the period's target.")
    dimension_column: str | None = None
    metric_columns: dict[str, str] = Field(
        default_factory=dict, description="wide layout: metric name -> column holding its value."
    )
    catalog: CatalogMapping | None = None
    expected_every: Literal["day", "week", "month", "quarter", "year"] | None = Field(
        None, description="How often a new file is expected (freshness of the source)."
    )

    @model_validator(mode="after")
    def _layout_fields(self) -> CsvSource:
        cols = set(self.columns)

        def need(field: str, value: str | None) -> None:
            if value is None:
                raise ValueError(f"layout {self.layout} needs {field}")
            if value not in cols:
                raise ValueError(f"{field} '{value}' is not among the declared columns")

        if self.layout == Layout.table:
            return self
        if self.date is None:
            raise ValueError(f"layout {self.layout} needs date")
        for c in (self.date.column, self.date.year, self.date.month, self.date.day):
            if c is not None and c not in cols:
                raise ValueError(f"date column '{c}' is not among the declared columns")
        if self.layout == Layout.long:
            need("metric_column", self.metric_column)
            need("value_column", self.value_column)
        elif not self.metric_columns:
            raise ValueError("layout wide needs metric_columns")
        for opt in ("target_column", "dimension_column"):
            value = getattr(self, opt)
            if value is not None and value not in cols:
                raise ValueError(f"{opt} '{value}' is not among the declared columns")
        return self

    @property
    def raw_table(self) -> str:
        """The table rows land in: ``raw.<table>`` for table layout, ``raw.metric_values`` otherwise."""
        return f"raw.{self.table or self.name}" if self.layout == Layout.table else "raw.metric_values"


# API sources join this as a discriminated union on ``type`` (issue 5).
Source = CsvSource


class SourcesFile(_Strict):
    """One ``sources/*.yml`` file."""

    sources: list[Source] = Field(default_factory=list)
