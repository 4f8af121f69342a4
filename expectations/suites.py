"""Great Expectations suites as code, one builder per kind of batch a source loads.

* :func:`metric_batch_suite` — rows a ``long``/``wide`` source wrote to ``raw.metric_values`` in one load.
* :func:`table_batch_suite` — rows a ``table`` source wrote to ``raw.<table>`` in one load.

Rule for every builder (B28): an ``ExpectColumnValuesToBeInSet`` is always paired with
``ExpectColumnValuesToNotBeNull`` on the same column, because GX's in-set check ignores NULLs (a frame whose
objective ids are half NULL passes it).

The suites check the batch as it arrived; rules spanning loads (uniqueness over the whole table, orphans) are dbt
tests.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

import great_expectations.expectations as gxe

from ingest.raw_schema import source_table_columns
from kpi_alignment.sources import CsvSource, sql_column_name

METRIC_KEY = ("metric_name", "period_date", "dimension")
"""One value per metric, period and dimension within a batch."""

NUMERIC_DTYPES = ("float64", "Float64", "float32", "Float32", "int64", "Int64", "int32", "Int32")
"""pandas dtypes of a numeric column pulled from DuckDB (DOUBLE → float64; nullable variants included)."""

_KEY_NAME = re.compile(r"^(id|code|key)$|_(id|code|key)$")


@dataclass
class SuiteSpec:
    """A suite as data: GX binds suites to a context, so :mod:`expectations.runner` builds the real one."""

    name: str
    expectations: list[gxe.Expectation] = field(default_factory=list)

    def add(self, expectation: gxe.Expectation) -> None:
        self.expectations.append(expectation)

    def add_in_set(self, column: str, values: Iterable[str], *, null_checked: bool = False) -> None:
        """In-set on ``column``, plus not-null unless the suite already checks it: in-set alone passes NULLs."""
        self.add(gxe.ExpectColumnValuesToBeInSet(column=column, value_set=sorted(set(values))))
        if not null_checked:
            self.add(gxe.ExpectColumnValuesToNotBeNull(column=column))


def metric_batch_suite(name: str, known_metrics: Iterable[str] | None = None) -> SuiteSpec:
    """Expectations for a batch of ``raw.metric_values`` rows.

    * ``metric_name``, ``period_date``, ``dimension`` not null;
    * ``value`` and ``target_value`` numeric (NULL allowed: a missing value is reported by the alignment, not here);
    * ``(metric_name, period_date, dimension)`` unique within the batch;
    * with ``known_metrics`` (the catalog's metric names): ``metric_name`` in that set (paired with not-null).
    """
    suite = SuiteSpec(name)
    for column in METRIC_KEY:
        suite.add(gxe.ExpectColumnValuesToNotBeNull(column=column))
    for column in ("value", "target_value"):
        suite.add(gxe.ExpectColumnValuesToBeInTypeList(column=column, type_list=list(NUMERIC_DTYPES)))
    suite.add(gxe.ExpectCompoundColumnsToBeUnique(column_list=list(METRIC_KEY)))
    if known_metrics is not None:
        suite.add_in_set("metric_name", known_metrics, null_checked=True)
    return suite


def table_batch_suite(name: str, source: CsvSource, in_sets: Mapping[str, Iterable[str]] | None = None) -> SuiteSpec:
    """Expectations for a batch of a ``table`` source's ``raw.<table>`` rows.

    * the columns are exactly the declared ones (as raw column names) plus provenance, in order;
    * key columns (:func:`key_columns`) not null; when the source declares ``key_columns``, also unique together;
    * ``in_sets`` (declared column → allowed values): in set, paired with not-null.
    """
    suite = SuiteSpec(name)
    suite.add(gxe.ExpectTableColumnsToMatchOrderedList(column_list=[c for c, _ in source_table_columns(source)]))
    keys = [sql_column_name(c) for c in key_columns(source)]
    for column in keys:
        suite.add(gxe.ExpectColumnValuesToNotBeNull(column=column))
    if source.key_columns:
        if len(keys) == 1:
            suite.add(gxe.ExpectColumnValuesToBeUnique(column=keys[0]))
        else:
            suite.add(gxe.ExpectCompoundColumnsToBeUnique(column_list=keys))
    for column, values in (in_sets or {}).items():
        if column not in source.columns:
            raise ValueError(f"in_sets: '{column}' is not a declared column of source {source.name}")
        raw_name = sql_column_name(column)
        suite.add_in_set(raw_name, values, null_checked=raw_name in keys)
    return suite


def key_columns(source: CsvSource) -> list[str]:
    """The declared columns identifying a row: ``source.key_columns``, else those named like keys.

    Inferred: a name (lower snake case) equal to ``id``, ``code`` or ``key`` or ending in ``_id``, ``_code`` or
    ``_key`` (``kpi_id``, ``objective_code``). A source whose columns match none has no inferred key.
    """
    if source.key_columns is not None:
        return list(source.key_columns)
    return [c for c in source.columns if _KEY_NAME.search(sql_column_name(c))]
