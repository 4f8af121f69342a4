"""The child side of a measurement: ``python -m bench.worker <task> <json args>``.

Each task imports what it needs, then times only the operation and prints one JSON line (``wall_s`` plus task
details) as its last output line. Tasks:

* ``ingest-bare`` — ``CREATE TABLE t AS SELECT * FROM read_csv('<csv>')`` into a fresh DuckDB file.
* ``ingest-product`` — :func:`ingest.csv_loader.load_csv_source` (long layout) into a fresh DuckDB file, then
  :func:`expectations.runner.validate_loaded_batch` on the load (the ingest asset's ``gx_batch`` check) and the
  ``delivery`` check's verdict; then the same file again (idempotency: ``unchanged``), timed apart.
* ``nightly`` — :func:`kpi_alignment.runner.run_nightly` on a project (the job ``kpi-align run`` executes), with
  the Dagster step durations of the run.
* ``dbt-bare`` — the same ``dbt build`` the Dagster step last ran (its arguments read from that invocation's
  ``run_results.json``; same project dir, profile and vars), run directly with :func:`kpi_alignment.dbt.run_dbt`
  (which keeps dbt's partial-parse state in the project's target folder).
* ``demo`` — ``kpi-align demo`` on a copy of the bundled example: write the flight exports, run the job.
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path
from typing import Any


def _fresh(db: Path) -> None:
    for p in (db, db.with_name(db.name + ".wal")):
        p.unlink(missing_ok=True)


def ingest_bare(args: dict[str, Any]) -> dict[str, Any]:
    import duckdb

    db = Path(args["db"])
    _fresh(db)
    con = duckdb.connect(str(db))
    t0 = time.perf_counter()
    con.execute("CREATE TABLE t AS SELECT * FROM read_csv(?)", [args["csv"]])
    con.close()  # the checkpoint that writes the table belongs to the measurement
    wall = time.perf_counter() - t0
    con = duckdb.connect(str(db), read_only=True)
    rows = con.execute("SELECT count(*) FROM t").fetchone()[0]  # type: ignore[index]
    con.close()
    return {"wall_s": wall, "rows": rows}


def bench_source(csv: str) -> Any:
    """The long-layout source declaration of the synthetic files (absolute path)."""
    from kpi_alignment.sources import CsvSource

    return CsvSource.model_validate(
        {
            "name": "metrics",
            "path": csv,
            "layout": "long",
            "columns": {"date": "date", "metric": "varchar", "dimension": "varchar", "value": "double"},
            "date": {"column": "date", "format": "%Y-%m-%d"},
            "metric_column": "metric",
            "value_column": "value",
            "dimension_column": "dimension",
        }
    )


def ingest_product(args: dict[str, Any]) -> dict[str, Any]:
    import duckdb

    from expectations.runner import validate_loaded_batch
    from ingest.csv_loader import load_csv_source

    db = Path(args["db"])
    _fresh(db)
    source = bench_source(args["csv"])
    root = Path(args["csv"]).parent
    con = duckdb.connect(str(db), config={"threads": args["threads"]} if args.get("threads") else {})
    t0 = time.perf_counter()
    result = load_csv_source(con, source, root, "bench-1")
    t1 = time.perf_counter()
    outcome = validate_loaded_batch(con, source, "bench-1")
    # the ingest asset's `delivery` check: every file read
    delivery_ok = bool(result.files) and not any(f.failed for f in result.files)
    t2 = time.perf_counter()
    con.close()
    t3 = time.perf_counter()
    con = duckdb.connect(str(db))
    again = load_csv_source(con, source, root, "bench-2")
    t4 = time.perf_counter()
    rows = con.execute("SELECT count(*) FROM raw.metric_values").fetchone()[0]  # type: ignore[index]
    con.close()
    f = result.files[0]
    return {
        "wall_s": (t1 - t0) + (t2 - t1) + (t3 - t2),
        "load_s": t1 - t0,
        "validation_s": t2 - t1,
        "close_s": t3 - t2,
        "reload_unchanged_s": t4 - t3,
        "phases_s": getattr(f, "timings", {}),
        "status": f.status,
        "rows_loaded": result.rows_loaded,
        "rows_in_table": rows,
        "gx_status": outcome.status,
        "gx_rows_validated": outcome.rows_validated,
        "delivery_ok": delivery_ok,
        "reload_status": again.files[0].status,
    }


def nightly(args: dict[str, Any]) -> dict[str, Any]:
    import dagster  # noqa: F401  (library import outside the timed run)
    import dagster_dbt  # noqa: F401

    from kpi_alignment.project import load_project
    from kpi_alignment.runner import run_nightly

    project = load_project(Path(args["project"]))
    t0 = time.perf_counter()
    outcome = run_nightly(project, log_level="WARNING")
    wall = time.perf_counter() - t0
    steps = step_durations(outcome.run_id)
    return {
        "wall_s": wall,
        "success": outcome.success,
        "failed_steps": outcome.failed_steps,
        "failed_checks": outcome.failed_checks,
        "steps_s": steps,
        "run_id": outcome.run_id,
    }


def step_durations(run_id: str) -> dict[str, float]:
    """Seconds per step of a Dagster run (from the instance ``$DAGSTER_HOME`` the run was recorded in)."""
    import dagster as dg

    with dg.DagsterInstance.get() as instance:
        return {s.step_key: (s.end_time or 0) - (s.start_time or 0) for s in instance.get_run_step_stats(run_id)}


def dagster_dbt_args(output_dir: Path) -> list[str]:
    """The command and node selection of the last dbt step Dagster ran for this project (``--vars`` are added by
    :func:`kpi_alignment.dbt.run_dbt` from the same settings): read from that invocation's ``run_results.json``
    (the dbt step writes to the project's dbt target folder, ``<output>/dbt_target``)."""
    from kpi_alignment.warehouse import WarehousePaths

    results = WarehousePaths(output_dir).dbt_target_dir / "run_results.json"
    if not results.is_file():
        raise RuntimeError(f"no dbt invocation of a Dagster run under {output_dir}")
    a = json.loads(results.read_text(encoding="utf-8"))["args"]
    out = [a["which"]]
    for flag, key in (("--select", "select"), ("--exclude", "exclude"), ("--selector", "selector")):
        value = a.get(key)
        if value:
            out += [flag, *value] if isinstance(value, list) else [flag, value]
    for flag, key in (("--resource-type", "resource_types"), ("--exclude-resource-type", "exclude_resource_types")):
        for value in a.get(key) or []:
            out += [flag, value]
    return out


def dbt_bare(args: dict[str, Any]) -> dict[str, Any]:
    from kpi_alignment.dbt import run_dbt
    from kpi_alignment.project import load_project
    from kpi_alignment.runner import prepare_environment

    project = load_project(Path(args["project"]))
    paths = prepare_environment(project)
    dbt_args = dagster_dbt_args(paths.output_dir)
    t0 = time.perf_counter()
    run_dbt(project, dbt_args)
    return {"wall_s": time.perf_counter() - t0, "dbt_args": dbt_args}


def demo(args: dict[str, Any]) -> dict[str, Any]:
    import subprocess

    from kpi_alignment.demo_data import write_monthly_flight_exports
    from kpi_alignment.project import BUNDLED_EXAMPLE

    dest = Path(args["dir"])
    shutil.rmtree(dest, ignore_errors=True)
    shutil.copytree(BUNDLED_EXAMPLE, dest, ignore=shutil.ignore_patterns(".kpi-align", "data"))
    t0 = time.perf_counter()
    write_monthly_flight_exports(dest / "data" / "flights")
    proc = subprocess.run(
        [str(Path(sys.executable).with_name("kpi-align")), "run", "--project", str(dest), "--quiet"],
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - t0
    return {"wall_s": wall, "exit_code": proc.returncode, "output_tail": proc.stdout[-600:] + proc.stderr[-600:]}


TASKS = {
    "ingest-bare": ingest_bare,
    "ingest-product": ingest_product,
    "nightly": nightly,
    "dbt-bare": dbt_bare,
    "demo": demo,
}


def main(argv: list[str]) -> int:
    task, args = argv[0], json.loads(argv[1])
    result = TASKS[task](args)
    sys.stdout.flush()
    print("\n" + json.dumps(result, default=str))
    return 0


if __name__ == "__main__":
    os.environ.setdefault("DBT_SEND_ANONYMOUS_USAGE_STATS", "false")
    sys.exit(main(sys.argv[1:]))
