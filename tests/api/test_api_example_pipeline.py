"""The github-issues example project end to end: ``kpi-align run`` against a loopback replay of the real API.

The project is used exactly as shipped in ``examples/github-issues``, except ``base_url``, which points at the
replay server instead of api.github.com. The token is required by the server and must appear nowhere.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from api_replay_server import GitHubCassette, ReplayServer, Reply, Request
from api_testkit import CASSETTE, TOKEN, shared_path
from pipeline_testkit import START_ENV, RunPool, background

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "github-issues"

pytestmark = [pytest.mark.realdata, pytest.mark.slow]


@background("github_example_run")
def _github_example_run(root: Path, runs: RunPool):
    """``kpi-align run`` of the example (in the session's background pool: see ``pipeline_testkit.background``)."""
    cassette = GitHubCassette(shared_path(CASSETTE))
    project = Path(shutil.copytree(EXAMPLE, root / "project", ignore=shutil.ignore_patterns(".kpi-align")))
    output = root / "out"
    with ReplayServer(lambda req: None) as server:
        inner = cassette.route_for(server.base_url)

        def route(req: Request) -> Reply:
            if req.headers.get("Authorization") != f"Bearer {TOKEN}":
                return Reply.json(401, {"message": "Bad credentials"})
            return inner(req)

        server.route = route
        source = project / "sources" / "github.yml"
        source.write_text(source.read_text().replace("https://api.github.com", server.base_url))
        env = {**START_ENV, "GITHUB_TOKEN": TOKEN, "KPI_ALIGN_OUTPUT_DIR": str(output)}
        proc = subprocess.run(
            [str(Path(sys.executable).with_name("kpi-align")), "run", "--project", str(project)],
            env=env, capture_output=True, text=True, timeout=600, check=False,
        )  # fmt: skip
    return project, output, proc


@pytest.fixture(scope="module")
def github_example_run(runs: RunPool):
    return runs.result("github_example_run")


@pytest.fixture(scope="module")
def run(github_example_run):
    return github_example_run


def test_api_source_feeds_kpis_through_the_whole_pipeline(run) -> None:
    _, output, proc = run
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    con = duckdb.connect(str(output / "warehouse.duckdb"), read_only=True)
    try:
        items, prs, closed = con.execute(
            "select count(*), count(pull_request_url), count(*) filter (where state = 'closed') from raw.github_issues"
        ).fetchall()[0]
        mean_days = con.execute(
            "select avg(epoch(closed_at) - epoch(created_at)) / 86400 from raw.github_issues where state = 'closed'"
            " and year(closed_at) = 2017"
        ).fetchall()[0][0]
        closed_2017 = con.execute(
            "select count(*) from raw.github_issues where state = 'closed' and year(closed_at) = 2017"
        ).fetchall()[0][0]
    finally:
        con.close()
    assert (items, prs, closed) == (150, 67, 134)
    served = duckdb.connect(str(output / "serving" / "kpi_alignment.duckdb"), read_only=True)
    try:
        values = dict(
            served.execute(
                "select kpi_id, actual_value from marts.fct_kpi_values where grain = 'year' and dimension = '*' "
                "and period_start = date '2017-01-01'"
            ).fetchall()
        )
        status = dict(served.execute("select kpi_id, status from marts.kpi_alignment").fetchall())
    finally:
        served.close()
    assert values["KPI-ITEMS-CLOSED"] == closed_2017
    assert values["KPI-DAYS-TO-CLOSE"] == pytest.approx(mean_days, rel=1e-9)
    assert status["KPI-DAYS-TO-CLOSE"] in ("connected", "silent")


def test_the_token_is_sent_but_written_nowhere(run) -> None:
    _, output, proc = run
    assert TOKEN not in proc.stdout + proc.stderr
    for path in output.rglob("*"):
        if path.is_file() and path.suffix != ".duckdb":
            assert TOKEN.encode() not in path.read_bytes(), path
    for db in output.rglob("*.duckdb"):
        con = duckdb.connect(str(db), read_only=True)
        try:
            columns = con.execute(
                "select table_schema, table_name, column_name from information_schema.columns "
                "where data_type = 'VARCHAR'"
            ).fetchall()
            for schema, table, column in columns:
                hits = con.execute(
                    f'select count(*) from "{schema}"."{table}" where contains("{column}", ?)', [TOKEN]
                ).fetchall()[0][0]
                assert hits == 0, (db, schema, table, column)
        finally:
            con.close()
