"""Writers never collide (B15, B16): the job on Dagster's multiprocess executor with several sources at once, and a
process outside the lock protocol (a BI tool or notebook that opened the working file) holding DuckDB's own lock."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import duckdb
import pytest

from kpi_alignment.warehouse import WarehouseBusy, WarehousePaths, write_connection

LOCK_ERRORS = ("Could not set lock", "Conflicting lock", "WarehouseBusy")


@pytest.mark.slow
def test_multiprocess_job_succeeds_without_lock_errors(multiprocess_night) -> None:
    mp = multiprocess_night
    assert mp.process.returncode == 0, mp.process.stdout[-3000:] + mp.process.stderr[-5000:]
    assert mp.failures == []
    for text in (mp.engine_text, mp.process.stdout, mp.process.stderr):
        for error in LOCK_ERRORS:
            assert error not in text


@pytest.mark.slow
def test_several_multiprocess_writers_wait_for_the_same_lock_and_all_complete(multiprocess_night) -> None:
    # Dagster's pool limit was lifted for this run and the test held kpi-align's writer lock until several writer
    # steps (separate processes) had started: they were all at the lock at once, then wrote one after the other
    assert len(multiprocess_night.waiting_together) >= 3, multiprocess_night.waiting_together


HOLDER = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1], read_only=True)  # what a BI tool pointed at the wrong file does (B15 sequence A)
print("holding", flush=True)
time.sleep(float(sys.argv[2]))
"""


def _hold(database: Path, seconds: float) -> subprocess.Popen[bytes]:
    holder = subprocess.Popen([sys.executable, "-c", HOLDER, str(database), str(seconds)], stdout=subprocess.PIPE)
    assert holder.stdout is not None and holder.stdout.readline() == b"holding\n"
    return holder


def test_writer_waits_for_a_foreign_duckdb_lock_and_then_writes(tmp_path: Path) -> None:
    paths = WarehousePaths(tmp_path)
    duckdb.connect(str(paths.database)).close()
    holder = _hold(paths.database, 2.0)
    try:
        started = time.monotonic()
        with write_connection(paths) as con:
            con.execute("create table t as select 1 as x")
        waited = time.monotonic() - started
    finally:
        holder.wait(timeout=30)
    assert waited >= 1.0  # it waited for the reader to let go instead of failing
    assert duckdb.connect(str(paths.database), read_only=True).execute("select x from t").fetchall() == [(1,)]


def test_writer_names_the_holder_when_the_lock_outlasts_its_wait(tmp_path: Path, monkeypatch) -> None:
    import kpi_alignment.warehouse as warehouse

    paths = WarehousePaths(tmp_path)
    duckdb.connect(str(paths.database)).close()
    monkeypatch.setattr(warehouse, "DEFAULT_DB_LOCK_WAIT_S", 0.5)
    holder = _hold(paths.database, 30.0)
    try:
        with pytest.raises(WarehouseBusy) as err, write_connection(paths):
            pass
    finally:
        holder.kill()
        holder.wait()
    message = str(err.value)
    assert f"(PID {holder.pid})" in message
    assert "read-only" in message and "serving/kpi_alignment.duckdb" in message
