"""Security: a planted secret is nowhere (logs, DuckDB files, reports, output), names full of SQL metacharacters
load exactly and inject nothing, the report escapes user strings, and source paths stay inside the project."""

from __future__ import annotations

import base64
import os
from pathlib import Path

import duckdb
import pytest
import scenarios as sc
from pipeline_testkit import copy_example, run_cli
from pydantic import ValidationError
from reliability_kit import query, run_id_from

from kpi_alignment.project import ProjectError, load_project
from kpi_alignment.sources import CsvSource

# --- the planted token ----------------------------------------------------------------------------------------------


def _forms(token: str) -> list[bytes]:
    return [token.encode(), base64.b64encode(token.encode()), base64.b64encode(f":{token}".encode())]


def _all_files(root: Path) -> list[Path]:
    """Every file below ``root`` (symbolic links not followed: they lead into the repository's dbt project)."""
    found = []
    for folder, _dirs, files in os.walk(root, followlinks=False):
        found += [Path(folder) / f for f in files if not (Path(folder) / f).is_symlink()]
    return found


def _text_cells_with(database: Path, token: str) -> list[str]:
    """``schema.table.column`` of every text column of every table holding ``token`` (compressed pages included)."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        columns = con.execute(
            "select table_schema, table_name, column_name from information_schema.columns "
            "where data_type = 'VARCHAR' or data_type like 'VARCHAR%' or data_type = 'JSON'"
        ).fetchall()
        hits = []
        for schema, table, column in columns:
            sql = f'select count(*) from "{schema}"."{table}" where contains(cast("{column}" as varchar), ?)'
            if con.execute(sql, [token]).fetchall()[0][0]:
                hits.append(f"{schema}.{table}.{column}")
        return hits
    finally:
        con.close()


@pytest.mark.slow
def test_the_planted_token_was_really_used(messy_night) -> None:
    # otherwise its absence below would prove nothing
    assert [path for path, _ in messy_night.webhook_posts] == [f"/hooks/{messy_night.token}"]
    assert "/v1/kpis" in messy_night.api_gets
    rows = query(
        messy_night.output / "warehouse.duckdb",
        "select count(*) from raw.metric_values where source_name = 'partner_api'",
    )
    assert rows == [(len(sc.PARTNER_VALUES),)]


@pytest.mark.slow
def test_planted_token_is_in_no_file_log_database_report_or_output(messy_night, multiprocess_night) -> None:
    # both runs' project, output (Dagster instance, dbt and run logs, DuckDB files, reports) and console output
    files = _all_files(messy_night.project.parent) + _all_files(multiprocess_night.output.parent)
    assert any(f.suffix == ".duckdb" for f in files) and any(f.name.endswith(".log") for f in files)
    leaks = [str(f) for f in files for form in _forms(messy_night.token) if form in f.read_bytes()]
    assert leaks == []
    for database in (f for f in files if f.suffix == ".duckdb"):
        assert _text_cells_with(database, messy_night.token) == [], database
    outputs = [
        messy_night.run.out,
        messy_night.run.err,
        multiprocess_night.process.stdout,
        multiprocess_night.process.stderr,
    ]
    assert all(messy_night.token not in text for text in outputs)


# --- SQL metacharacters in KPI ids, file names and column names ------------------------------------------------------


@pytest.mark.slow
def test_names_with_quotes_semicolons_and_spaces_load_exactly_and_inject_nothing(messy_night) -> None:
    warehouse = messy_night.output / "warehouse.duckdb"
    # the tables the names try to drop are all there
    tables = {
        t for (t,) in query(warehouse, "select table_name from information_schema.tables where table_schema = 'raw'")
    }
    assert {"rejects", "metric_values", "file_loads"} <= tables
    rows = query(
        warehouse,
        "select source_file, metric_name, period_date::varchar, value from raw.metric_values "
        "where source_name = 'dept_kpis' order by period_date",
    )
    assert rows == [(f"data/dept/{sc.EVIL_FILE}", sc.EVIL_METRIC, d, v) for d, v in sc.DEPT_VALUES.items()]
    assert query(warehouse, "select kpi_id, name, owner from catalog.kpis where kpi_id = ?", [sc.EVIL_KPI]) == [
        (sc.EVIL_KPI, sc.EVIL_NAME, sc.EVIL_OWNER)
    ]
    served = messy_night.output / "serving" / "kpi_alignment.duckdb"
    assert query(served, "select status from marts.kpi_alignment where kpi_id = ?", [sc.EVIL_KPI]) == [("connected",)]


@pytest.mark.slow
def test_report_escapes_user_strings(messy_night) -> None:
    run_id = run_id_from(messy_night.run.out)
    html = (messy_night.output / "reports" / f"alignment-2014-01-10-{run_id[:8]}.html").read_text(encoding="utf-8")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; &#34;quotes&#34;" in html
    assert "K&#39;); drop table raw.rejects; --" in html
    assert "<script" not in html.lower()  # the report is static: no script of its own either


# --- source paths ---------------------------------------------------------------------------------------------------

TRAVERSAL = """sources:
  - name: passwords
    path: {path}
    layout: table
    table: passwords
    columns: {{line: varchar}}
"""


@pytest.mark.parametrize("path", ["../../etc/passwd", "data/../../../etc/*", "../secrets/*.csv"])
def test_relative_source_path_leaving_the_project_is_refused(tmp_path: Path, path: str) -> None:
    project = copy_example(tmp_path / "project")
    (project / "sources" / "evil.yml").write_text(TRAVERSAL.format(path=path), encoding="utf-8")
    with pytest.raises(ProjectError) as err:
        load_project(project)
    assert "sources/evil.yml:3" in str(err.value) and "leaves the project directory" in str(err.value)
    proc = run_cli("validate", "--project", str(project))
    assert proc.returncode == 1 and "leaves the project directory" in proc.stderr + proc.stdout


def test_absolute_source_path_is_allowed_and_inner_dots_are_not_traversal() -> None:
    for path in ("/srv/drop/*.csv", "data/2024..2025/*.csv", "data/**/*.csv"):
        assert (
            CsvSource.model_validate(
                {"name": "s", "path": path, "layout": "table", "table": "t", "columns": {"a": "varchar"}}
            ).path
            == path
        )
    with pytest.raises(ValidationError):
        CsvSource.model_validate(
            {"name": "s", "path": "../x.csv", "layout": "table", "table": "t", "columns": {"a": "varchar"}}
        )
