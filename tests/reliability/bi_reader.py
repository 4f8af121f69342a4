"""A BI client as a separate process: reads the served DuckDB file read-only, in a loop, until told to stop.

Usage: ``python bi_reader.py SERVED_DB EXPECTED_JSON STOP_FILE REPORT_JSON``. ``EXPECTED_JSON`` maps each mart to
the row count of one complete run. The reader keeps one connection open for its whole life (as Metabase or DBeaver
do) and also opens a fresh one on every round (as a notebook re-running a cell does); through both it counts the
rows of every mart. It prints ``ready`` once the first round passed, and writes a JSON report when the stop file
appears: rounds, errors, rounds whose counts differ from ``EXPECTED_JSON`` (a half-built or mixed state), and the
file identities (inode) its fresh connections saw, which shows whether a publish happened while it was reading.
"""

from __future__ import annotations

import json
import os
import sys
import time
from pathlib import Path

import duckdb


def counts(con: duckdb.DuckDBPyConnection, marts: list[str]) -> dict[str, int]:
    """Row count of every mart, all in one statement (one snapshot of the file)."""
    sql = " union all ".join(f"select '{m}', count(*) from marts.\"{m}\"" for m in marts)
    return {name: n for name, n in con.execute(sql).fetchall()}


def main(served: str, expected_json: str, stop_file: str, report_json: str) -> None:
    expected: dict[str, int] = json.loads(Path(expected_json).read_text())
    marts = sorted(expected)
    held = duckdb.connect(served, read_only=True)
    report: dict[str, object] = {"rounds": 0, "errors": [], "mismatches": [], "inodes": []}
    inodes: list[int] = []
    ready = False
    while not os.path.exists(stop_file):
        try:
            seen = {"held": counts(held, marts)}
            before = os.stat(served).st_ino
            fresh = duckdb.connect(served, read_only=True)
            try:
                seen["fresh"] = counts(fresh, marts)
            finally:
                fresh.close()
            if os.stat(served).st_ino == before and before not in inodes:
                inodes.append(before)
            for kind, got in seen.items():
                if got != expected:
                    report["mismatches"].append({"connection": kind, "counts": got})  # type: ignore[union-attr]
        except Exception as e:  # every error is a finding: record it and keep reading
            report["errors"].append(f"{type(e).__name__}: {e}")  # type: ignore[union-attr]
        report["rounds"] = int(report["rounds"]) + 1  # type: ignore[call-overload]
        if not ready:
            print("ready", flush=True)
            ready = True
        time.sleep(0.05)
    held.close()
    report["inodes"] = inodes
    Path(report_json).write_text(json.dumps(report))


if __name__ == "__main__":
    main(*sys.argv[1:5])
