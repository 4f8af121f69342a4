"""One asset per declared source (CSV drop folder or HTTP API) into ``raw.*``, with checks on the batch loaded.

Each asset holds the warehouse writer lock only while it writes. Checks:

- ``delivery`` — every file was read (CSV: a file that could not be read fails the check naming file, line and
  reason, while the other files and earlier history stay loaded) or every page arrived (API: retries exhausted,
  a bad page or an incomplete run fail the check naming URL, page and status; nothing of that run is committed).

A source's data problem fails its own ``delivery`` check (severity ERROR, so ``kpi-align run`` exits 1 and says
which), not the run: the other sources, dbt and the report still run on the last good data, and KPIs fed only by
the broken source turn ``silent`` in the alignment diagnosis. Bugs (unexpected exceptions) still fail the step.
- ``gx_batch`` (CSV) — Great Expectations on this load's rows; an engine error is *errored*, never bad data (B32).
"""

import uuid

import dagster as dg

from expectations.runner import validate_loaded_batch
from ingest.api_loader import ApiLoadError, load_api_source
from ingest.csv_loader import load_csv_source
from kpi_alignment.sources import CsvSource, Source
from kpi_alignment.sources_api import ApiSource
from kpi_alignment.warehouse import write_connection
from orchestration.context import paths, project


def source_asset_key(source: Source) -> dg.AssetKey:
    """``raw/<table>`` for sources landing in their own table (equal to the dbt source key), else ``raw/<name>``."""
    return dg.AssetKey(["raw", source.table or source.name] if source.layout == "table" else ["raw", source.name])


def _load_id(context: dg.AssetExecutionContext) -> str:
    return f"{context.run_id[:8]}-{uuid.uuid4().hex[:8]}"


def build_csv_asset(source: CsvSource) -> dg.AssetsDefinition:
    """The asset of a CSV source: all files matching its glob, each file its own transaction."""
    key = source_asset_key(source)

    @dg.asset(
        key=key,
        group_name="raw",
        kinds={"csv", "duckdb"},
        description=source.description or f"CSV source {source.name}: {source.path}",
        pool="duckdb_write",
        check_specs=[
            dg.AssetCheckSpec("delivery", asset=key, description="Every delivered file was read completely."),
            dg.AssetCheckSpec("gx_batch", asset=key, description="Great Expectations suite on this load's rows."),
        ],
    )
    def _load(context: dg.AssetExecutionContext):
        proj = project()
        load_id = _load_id(context)
        with write_connection(paths(), **proj.settings.warehouse.model_dump()) as con:
            result = load_csv_source(con, source, proj.root, load_id)
            outcome = validate_loaded_batch(con, source, load_id)
        failed = [f for f in result.files if f.status == "failed"]
        context.log.info(
            f"{source.name}: {len(result.files)} file(s), {result.rows_loaded} rows loaded, "
            f"{result.rows_rejected} rejected, {len(failed)} failed"
        )
        yield dg.MaterializeResult(
            metadata={
                "dagster/row_count": result.rows_loaded,
                "files": len(result.files),
                "files_loaded": sum(f.status in ("loaded", "replaced") for f in result.files),
                "files_unchanged": sum(f.status == "unchanged" for f in result.files),
                "rows_rejected": result.rows_rejected,
                "load_id": load_id,
            }
        )
        # Loader messages already name the file (and line); never repeat it.
        problems = [f.message if f.file in f.message else f"{f.file}: {f.message}" for f in failed]
        problems += list(result.messages if not result.files else [])
        yield dg.AssetCheckResult(
            check_name="delivery",
            passed=not problems and bool(result.files),
            severity=dg.AssetCheckSeverity.ERROR,
            description="; ".join(problems) or "all files read",
            metadata={"failed_files": len(failed), "rows_rejected": result.rows_rejected},
        )
        yield dg.AssetCheckResult(
            check_name="gx_batch",
            passed=outcome.status == "success",
            severity=dg.AssetCheckSeverity.ERROR if outcome.status == "errored" else dg.AssetCheckSeverity.WARN,
            description=f"{outcome.status}: {outcome.summary}",
            metadata={"status": outcome.status, "rows_validated": outcome.rows_validated},
        )

    return _load


def build_api_asset(source: ApiSource) -> dg.AssetsDefinition:
    """The asset of an API source: every page staged, then one transaction (HTTP retries in the loader)."""
    key = source_asset_key(source)

    @dg.asset(
        key=key,
        group_name="raw",
        kinds={"api", "duckdb"},
        description=source.description or f"HTTP API source {source.name}: {source.base_url}{source.path}",
        pool="duckdb_write",
        check_specs=[dg.AssetCheckSpec("delivery", asset=key, description="Every page arrived and reconciled.")],
    )
    def _load(context: dg.AssetExecutionContext):
        proj = project()
        load_id = _load_id(context)
        try:
            with write_connection(paths(), **proj.settings.warehouse.model_dump()) as con:
                result = load_api_source(con, source, load_id)
        except ApiLoadError as e:
            # The message names URL, page and status with secrets redacted; nothing of this run was committed.
            context.log.error(f"{source.name}: {e}")
            yield dg.MaterializeResult(metadata={"status": "failed", "load_id": load_id, "dagster/row_count": 0})
            yield dg.AssetCheckResult(
                check_name="delivery", passed=False, severity=dg.AssetCheckSeverity.ERROR, description=str(e)
            )
            return
        context.log.info(f"{source.name}: {result.pages} page(s), {result.rows_loaded} rows")
        yield dg.MaterializeResult(metadata=result.metadata())
        yield dg.AssetCheckResult(
            check_name="delivery",
            passed=result.complete,
            severity=dg.AssetCheckSeverity.ERROR,
            description="complete" if result.complete else "; ".join(result.warnings) or "incomplete",
        )

    return _load


@dg.definitions
def raw_sources() -> dg.Definitions:
    return dg.Definitions(
        assets=[build_api_asset(s) if isinstance(s, ApiSource) else build_csv_asset(s) for s in project().sources]
    )
