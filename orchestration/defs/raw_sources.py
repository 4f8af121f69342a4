"""One asset per declared source: files from the drop folder into ``raw.*``, with batch checks.

Each asset holds the warehouse writer lock only while it writes. Its checks run on the batch it just loaded:
``delivery`` (every file read; a file that could not be read fails the check, naming file, line and reason, while
the other files and earlier history stay loaded) and ``gx_batch`` (Great Expectations on this load's rows; an
engine error is reported as *errored*, never as bad data — case B32).
"""

import uuid

import dagster as dg

from expectations.runner import validate_loaded_batch
from ingest.csv_loader import load_csv_source
from kpi_alignment.sources import Source
from kpi_alignment.warehouse import write_connection
from orchestration.context import paths, project


def source_asset_key(source: Source) -> dg.AssetKey:
    """``raw/<table>`` for table-layout sources (equal to the dbt source key), else ``raw/<source name>``."""
    return dg.AssetKey(["raw", source.table or source.name] if source.layout == "table" else ["raw", source.name])


def build_source_asset(source: Source) -> dg.AssetsDefinition:
    key = source_asset_key(source)

    @dg.asset(
        key=key,
        name=None,
        group_name="raw",
        kinds={source.type, "duckdb"},
        description=source.description or f"{source.type} source {source.name}: {source.path}",
        pool="duckdb_write",
        check_specs=[
            dg.AssetCheckSpec("delivery", asset=key, description="Every delivered file was read completely."),
            dg.AssetCheckSpec("gx_batch", asset=key, description="Great Expectations suite on this load's rows."),
        ],
        retry_policy=dg.RetryPolicy(max_retries=1, delay=5),
    )
    def _load(context: dg.AssetExecutionContext):
        proj = project()
        load_id = f"{context.run_id[:8]}-{uuid.uuid4().hex[:8]}"
        with write_connection(paths(), **proj.settings.warehouse.model_dump()) as con:
            result = load_csv_source(con, source, proj.root, load_id)
            outcome = validate_loaded_batch(con, source, load_id)
        failed = [f for f in result.files if f.status == "failed"]
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
        yield dg.AssetCheckResult(
            check_name="delivery",
            passed=not failed and bool(result.files),
            severity=dg.AssetCheckSeverity.ERROR,
            description="; ".join(f"{f.file}: {f.message}" for f in failed)
            or ("no file matches " + source.path if not result.files else "all files read"),
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


@dg.definitions
def raw_sources() -> dg.Definitions:
    return dg.Definitions(assets=[build_source_asset(s) for s in project().sources])
