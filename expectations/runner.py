"""Run a GX suite on one load's rows and say *success*, *failed* or *errored* — three different things (B32).

* ``success`` — every expectation was evaluated and held.
* ``failed`` — every expectation was evaluated and at least one found bad data (``failures`` says which).
* ``errored`` — at least one expectation could not be evaluated (an engine error, a missing column, GX raising):
  GX reports that as ``success=False`` with ``exception_info``, which must not be read as "bad data" — nothing was
  checked. ``errors`` holds the exception messages; failures found by the other expectations are kept too.

GX runs on pandas DataFrames only: its SQL path on DuckDB returns empty metrics (B32). The batch is the rows one
load wrote (``source_name`` + ``load_id``), pulled from DuckDB with at most :data:`DEFAULT_MAX_ROWS` rows: a
larger batch is represented by a reservoir sample with a fixed seed (same load → same sample). A sample finds
systematic problems (nulls, types, unknown metric names) reliably; duplicates beyond the sample are left to dbt's
``unique`` tests over the full table, and ``ValidationOutcome.sampled`` says when this applied.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

import duckdb
import great_expectations as gx
import pandas as pd
from great_expectations.data_context.types.base import ProgressBarsConfig

from expectations.suites import SuiteSpec, metric_batch_suite, table_batch_suite
from ingest.raw_schema import quote_ident
from kpi_alignment.sources import CsvSource, Layout

DEFAULT_MAX_ROWS = 100_000
"""Rows handed to GX per batch: ~10 MB of pandas for the metric shape, a few seconds of GX at most."""

SAMPLE_SEED = 42

Status = Literal["success", "failed", "errored"]

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ExpectationOutcome:
    """One expectation that did not succeed: its type, column(s) and what GX reported."""

    expectation: str
    column: str | None
    detail: str


@dataclass
class ValidationOutcome:
    """The verdict on one batch. ``summary`` is one line for logs, asset checks and the report."""

    status: Status
    suite_name: str
    rows_in_batch: int
    rows_validated: int
    sampled: bool = False
    evaluated: int = 0
    failures: list[ExpectationOutcome] = field(default_factory=list)
    errors: list[ExpectationOutcome] = field(default_factory=list)

    @property
    def summary(self) -> str:
        if self.status == "success":
            note = f" (sample of {self.rows_validated} of {self.rows_in_batch} rows)" if self.sampled else ""
            return f"{self.suite_name}: {self.evaluated} expectations met on {self.rows_validated} rows{note}"
        if self.status == "errored":
            shown = "; ".join(f"{e.expectation}({e.column}): {e.detail}" for e in self.errors[:3])
            return f"{self.suite_name}: {len(self.errors)} expectations could not be evaluated: {shown}"
        shown = "; ".join(f"{f.expectation}({f.column}): {f.detail}" for f in self.failures[:3])
        return f"{self.suite_name}: {len(self.failures)} of {self.evaluated} expectations failed: {shown}"


def validate_dataframe(
    df: pd.DataFrame, spec: SuiteSpec, *, rows_in_batch: int | None = None, sampled: bool = False
) -> ValidationOutcome:
    """Run the suite ``spec`` on ``df`` in an ephemeral GX context and classify the result (see the module docstring).

    Never raises for GX problems: an exception while setting up or running GX gives ``errored`` with its message.
    """
    total = len(df) if rows_in_batch is None else rows_in_batch
    outcome = ValidationOutcome("success", spec.name, total, len(df), sampled)
    try:
        context = gx.get_context(mode="ephemeral")
        context.variables.progress_bars = ProgressBarsConfig(globally=False, metric_calculations=False)
        batch = (
            context.data_sources.add_pandas("kpi_align")
            .add_dataframe_asset("batch")
            .add_batch_definition_whole_dataframe("whole")
        )
        suite = context.suites.add(gx.ExpectationSuite(name=spec.name, expectations=list(spec.expectations)))
        definition = context.validation_definitions.add(
            gx.ValidationDefinition(name=f"{suite.name}-validation", data=batch, suite=suite)
        )
        result = definition.run(batch_parameters={"dataframe": df}, result_format="SUMMARY")
    except Exception as e:  # GX raised instead of reporting: nothing was evaluated
        log.warning("GX could not run suite %s: %s", spec.name, e)
        outcome.status = "errored"
        outcome.errors.append(ExpectationOutcome("suite", None, f"{type(e).__name__}: {e}"))
        return outcome
    for r in result.results:
        config = r.expectation_config
        kwargs = config.kwargs if config is not None else {}
        column = kwargs.get("column") or (",".join(kwargs["column_list"]) if kwargs.get("column_list") else None)
        kind = config.type if config is not None else "expectation"
        messages = _exception_messages(r.exception_info)
        if messages:
            outcome.errors.append(ExpectationOutcome(kind, column, "; ".join(messages)))
        elif r.success:
            outcome.evaluated += 1
        else:
            outcome.evaluated += 1
            outcome.failures.append(ExpectationOutcome(kind, column, _describe(r.result)))
    if outcome.errors:
        outcome.status = "errored"
    elif outcome.failures:
        outcome.status = "failed"
    return outcome


def validate_loaded_batch(
    con: duckdb.DuckDBPyConnection,
    source: CsvSource,
    load_id: str,
    *,
    max_rows: int = DEFAULT_MAX_ROWS,
    known_metrics: Iterable[str] | None = None,
    in_sets: Mapping[str, Iterable[str]] | None = None,
) -> ValidationOutcome:
    """Validate the rows ``source`` wrote in load ``load_id`` with the suite of its layout.

    ``known_metrics`` (metric sources) and ``in_sets`` (table sources) add in-set expectations (paired with
    not-null). A load that wrote no rows (unchanged or empty files) is ``success`` with 0 rows. A read error from
    DuckDB gives ``errored``.
    """
    name = f"{source.name}-batch"
    try:
        df, total = batch_frame(con, source, load_id, max_rows)
    except duckdb.Error as e:
        outcome = ValidationOutcome("errored", name, 0, 0)
        outcome.errors.append(ExpectationOutcome("batch", None, f"cannot read the batch: {e}"))
        return outcome
    if total == 0:
        return ValidationOutcome("success", name, 0, 0)
    if source.layout == Layout.table:
        suite = table_batch_suite(name, source, in_sets)
    else:
        suite = metric_batch_suite(name, known_metrics)
    return validate_dataframe(df, suite, rows_in_batch=total, sampled=len(df) < total)


def batch_frame(
    con: duckdb.DuckDBPyConnection, source: CsvSource, load_id: str, max_rows: int = DEFAULT_MAX_ROWS
) -> tuple[pd.DataFrame, int]:
    """(rows of the batch as a DataFrame — all, or a seeded reservoir sample of ``max_rows`` —, rows in the batch)."""
    table = "raw." + quote_ident(source.raw_table.removeprefix("raw."))
    where = "source_name = ? AND load_id = ?"
    total = con.execute(f"SELECT count(*) FROM {table} WHERE {where}", [source.name, load_id]).fetchone()[0]  # type: ignore[index]
    query = f"SELECT * FROM {table} WHERE {where}"
    if total > max_rows:
        # USING SAMPLE applies before WHERE, so the filter goes in a subquery
        query = f"SELECT * FROM ({query}) USING SAMPLE reservoir({int(max_rows)} ROWS) REPEATABLE ({SAMPLE_SEED})"
    return con.execute(query, [source.name, load_id]).df(), total


def _exception_messages(info: Any) -> list[str]:
    """Messages of raised exceptions in a result's ``exception_info`` (flat, or keyed by metric id)."""
    if not isinstance(info, dict) or not info:
        return []
    if "raised_exception" in info:
        return [str(info.get("exception_message") or "exception")] if info.get("raised_exception") else []
    return [m for v in info.values() for m in _exception_messages(v)]


def _describe(result: Mapping[str, Any]) -> str:
    parts = []
    if "observed_value" in result:
        parts.append(f"observed {result['observed_value']!r}")
    if result.get("unexpected_count"):
        shown = result.get("partial_unexpected_list") or []
        parts.append(f"{result['unexpected_count']} unexpected" + (f", e.g. {shown[:5]!r}" if shown else ""))
    if result.get("missing_count"):
        parts.append(f"{result['missing_count']} null (not checked by this expectation)")
    return ", ".join(parts) or "not met"
