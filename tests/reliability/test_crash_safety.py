"""Crash safety: ``kpi-align run`` SIGKILLed mid-ingest, mid-dbt and mid-publish, then run again to the end.

The chain (``scenarios.crash_chain``) starts from a fork of the clean example run without its working database, so
the first run has every flight file to load; the reference for the end state is that clean run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from reliability_kit import marts, raw_state

pytestmark = pytest.mark.slow

KILLS = ("mid-ingest", "mid-dbt", "mid-publish")


def kill(chain, name: str):
    return next(k for k in chain.kills if k.name == name)


def test_each_kill_landed_in_its_phase(crash_chain) -> None:
    assert [k.name for k in crash_chain.kills] == list(KILLS)
    files = len(list((crash_chain.output.parent / "project" / "data" / "flights").glob("*.csv")))
    assert 0 < kill(crash_chain, "mid-ingest").evidence["flight files committed"] < files
    dbt = kill(crash_chain, "mid-dbt").evidence
    assert 0 < dbt["dbt nodes done"] < dbt["dbt nodes"], dbt["dbt log"]
    publish = kill(crash_chain, "mid-publish")
    assert publish.evidence["staging file seen"]
    assert any(name.startswith(".marts.") for name in publish.leftovers), publish.leftovers


@pytest.mark.parametrize("name", KILLS)
def test_killed_process_died_of_sigkill(crash_chain, name: str) -> None:
    point = kill(crash_chain, name)
    assert point.run.process.returncode == -9, point.run.describe()


@pytest.mark.parametrize("name", KILLS)
def test_published_files_survive_the_kill_unchanged_and_complete(crash_chain, base, name: str) -> None:
    point = kill(crash_chain, name)
    assert point.published == crash_chain.published_before
    assert point.served_marts == marts(base.served)


@pytest.mark.parametrize("name", KILLS)
def test_writer_lock_is_released_by_the_killed_process(crash_chain, name: str) -> None:
    assert kill(crash_chain, name).lock_free


def test_run_after_the_crashes_succeeds(crash_chain) -> None:
    assert crash_chain.final.process.returncode == 0, crash_chain.final.describe()


def test_killed_runs_are_released_instead_of_blocking_the_next_one(crash_chain) -> None:
    # a SIGKILLed run keeps its Dagster writer-pool slot; every later run frees it (else it would wait forever)
    later_runs = [k.run for k in crash_chain.kills[1:]] + [crash_chain.final]
    for run in later_runs:
        assert "was killed before it finished: marked failed and its writer slot freed" in run.err, run.describe()


def test_marts_after_the_crashes_equal_those_of_a_clean_run(crash_chain, base) -> None:
    expected = marts(base.served)
    assert sorted(crash_chain.final_marts) == sorted(expected)
    for table, rows in expected.items():
        assert crash_chain.final_marts[table] == rows, table


def test_no_raw_row_is_duplicated_or_lost(crash_chain, base) -> None:
    got, clean = crash_chain.final_raw, raw_state(base.output / "warehouse.duckdb")
    assert got["flights"] == got["flight_keys"]  # one row per (file, line)
    for key in ("flights", "flight_files", "metric_values", "rejects"):
        assert got[key] == clean[key], key
    assert got["flight_loads"] == 2  # the files committed before the kill were kept, the rest loaded after it


def test_leftovers_of_the_killed_publish_are_cleaned_up(crash_chain) -> None:
    assert crash_chain.final_leftovers == []


# --- a run killed while holding the writer-pool slot, released by the nightly schedule ----------------------------

HOLDS_THE_SLOT = """
import time
import dagster as dg

@dg.asset(pool="duckdb_write")
def writer():
    print("claimed", flush=True)
    time.sleep(600)

defs = dg.Definitions(assets=[writer], jobs=[dg.define_asset_job("writes", selection=[writer])])
with dg.DagsterInstance.get() as instance:
    defs.resolve_job_def("writes").execute_in_process(instance=instance)
"""


def test_schedule_frees_the_writer_slot_of_a_killed_run(tmp_path: Path) -> None:
    import dagster as dg

    from kpi_alignment.warehouse import WarehousePaths
    from orchestration.defs.schedules import schedules

    home = WarehousePaths(tmp_path).ensure().dagster_home  # the project's instance config: one writer step at a time
    env = {**os.environ, "DAGSTER_HOME": str(home)}
    holder = subprocess.Popen([sys.executable, "-c", HOLDS_THE_SLOT], env=env, stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline() == b"claimed\n"
    holder.kill()
    holder.wait()
    with dg.DagsterInstance.from_config(str(home)) as instance:
        [dead] = instance.event_log_storage.get_concurrency_run_ids()
        assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.STARTED  # what the kill leaves behind
        schedule = schedules().resolve_schedule_def("nightly_alignment_schedule")
        result = schedule.evaluate_tick(dg.build_schedule_context(instance=instance))
        assert len(result.run_requests or []) == 1
        assert instance.event_log_storage.get_concurrency_run_ids() == set()
        assert instance.get_run_by_id(dead).status == dg.DagsterRunStatus.FAILURE
