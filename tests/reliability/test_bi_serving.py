"""B15: BI tools read a published copy that a run never blocks on and never shows half-built; a failed run leaves it
untouched. Scenarios (real ``kpi-align run`` processes) are in ``scenarios.py``."""

from __future__ import annotations

import re

import pytest
from reliability_kit import REPO, mart_counts, parquet_counts

pytestmark = pytest.mark.slow


def test_run_succeeds_while_a_bi_process_holds_the_served_file_open(second_night) -> None:
    assert second_night.run.process.returncode == 0, second_night.run.describe()
    assert second_night.reader["rounds"] > 20, second_night.reader


def test_bi_reader_never_errors_and_never_sees_a_half_built_state(second_night) -> None:
    # every round counted the rows of every mart through a held and a fresh connection: always one complete run
    assert second_night.reader["errors"] == []
    assert second_night.reader["mismatches"] == []


def test_the_publish_happened_while_the_reader_was_reading(second_night) -> None:
    # fresh connections saw the old file and then the new one: the swap really happened under the reader
    assert len(second_night.reader["inodes"]) >= 2, second_night.reader


def test_parquet_copies_hold_the_same_marts_as_the_served_file(second_night) -> None:
    served = second_night.output / "serving" / "kpi_alignment.duckdb"
    assert parquet_counts(second_night.output) == mart_counts(served)
    assert (second_night.output / "serving" / "parquet").is_symlink()


def test_failed_run_exits_1_and_names_the_failed_step_and_check(failed_night) -> None:
    out = failed_night.run.out
    assert failed_night.run.process.returncode == 1, failed_night.run.describe()
    assert "failed step: dbt_models" in out
    assert "assert_no_unfed_kpis" in out


def test_failed_dbt_check_means_no_publish_and_no_report(failed_night) -> None:
    # dagster-dbt fails the step when dbt build exits non-zero (an error-severity check failed); Dagster then skips
    # every step downstream of it
    assert "dbt_models" in failed_night.steps
    assert "serving__published_marts" not in failed_night.steps
    assert "report__alignment_report" not in failed_night.steps


def test_failed_run_leaves_every_published_file_byte_identical(failed_night) -> None:
    # content hash, mtime and inode of the served DuckDB file, each Parquet file and latest.html
    assert failed_night.after == failed_night.before


def test_readme_tells_bi_tools_how_to_connect_read_only() -> None:
    readme = (REPO / "README.md").read_text(encoding="utf-8")
    section = readme[readme.index("## Connecting BI tools") :]
    section = section[: section.find("\n## ", 3)] if "\n## " in section[3:] else section
    for tool in ("Metabase", "Superset", "DBeaver", "Evidence", "notebook"):
        assert tool in section, tool
    assert "serving/kpi_alignment.duckdb" in section
    assert "serving/parquet/" in section
    assert re.search(r"read_only", section)
    assert "warehouse.duckdb" in section  # ... and which file never to open
