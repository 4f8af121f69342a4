"""Case B23: file arrivals — a late upload with an old mtime and a corrected re-delivery under the same name both
run; an identical re-delivery does not. Real files in a temp inbox, mtimes set as recorded."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import os
from pathlib import Path

import pytest
from api_testkit import SHARED, shared_path

from ingest.arrivals import list_files, newest_seen, scan_arrivals

pytestmark = pytest.mark.realdata

CASE = SHARED / "cases" / "B23_sensor-file-arrivals.json"


def content_with_prefix(name: str, prefix: str) -> bytes:
    """A small CSV whose SHA-256 starts with the recorded prefix (so run keys can be checked against the case)."""
    for i in range(100_000):
        body = f"kpi_id,period,value\nK-001,{name},{i}\n".encode()
        if hashlib.sha256(body).hexdigest().startswith(prefix):
            return body
    raise AssertionError(f"no content with sha256 prefix {prefix}")


def deliver(inbox: Path, name: str, body: bytes, mtime: str) -> None:
    path = inbox / name
    path.write_bytes(body)
    ts = dt.datetime.fromisoformat(mtime).timestamp()
    os.utime(path, (ts, ts))


def test_three_arrivals_three_runs_identical_redelivery_noop(tmp_path: Path) -> None:
    case = json.loads(shared_path(CASE).read_text(encoding="utf-8"))
    inbox = tmp_path / case["watched_dir"]
    inbox.mkdir(parents=True)
    cursor: str | None = None
    runs = []
    for event in case["events"]:
        for f in event["files"]:
            deliver(inbox, f["name"], content_with_prefix(f["name"], f["sha256_prefix"]), f["mtime"])
        new, cursor = scan_arrivals(list_files(inbox, "*.csv"), cursor)
        assert [a.path.name for a in new] == [f["name"] for f in event["files"]], event["tick_at"]
        runs.extend(new)

    assert len(runs) == case["expected"]["runs_requested"] == 3
    assert [r.run_key.split(":")[0] for r in runs] == [
        "kpi_2024-06-02.csv",
        "kpi_2024-06-01_late.csv",
        "kpi_2024-06-02.csv",
    ]
    assert [r.sha256[:2] for r in runs] == ["a1", "b2", "c3"]
    assert len({r.run_key for r in runs}) == 3 and all(r.run_key.endswith(r.sha256) for r in runs)
    # the cursor is the newest (mtime, name) actually seen, not a tick time
    assert newest_seen(cursor) == (dt.datetime(2024, 6, 3, 8, 55, tzinfo=dt.UTC), "kpi_2024-06-02.csv")

    # nothing new on the next tick; an identical re-delivery (same bytes, fresh mtime) is a no-op
    again, cursor = scan_arrivals(list_files(inbox, "*.csv"), cursor)
    assert again == []
    same = (inbox / "kpi_2024-06-02.csv").read_bytes()
    deliver(inbox, "kpi_2024-06-02.csv", same, "2024-06-03T09:30:00+00:00")
    again, cursor = scan_arrivals(list_files(inbox, "*.csv"), cursor)
    assert again == []
    assert newest_seen(cursor) == (dt.datetime(2024, 6, 3, 9, 30, tzinfo=dt.UTC), "kpi_2024-06-02.csv")


def test_changed_content_with_preserved_mtime_and_size_still_runs(tmp_path: Path) -> None:
    deliver(tmp_path, "kpi.csv", b"kpi_id,value\nK-1,10\n", "2024-06-01T00:00:00+00:00")
    first, cursor = scan_arrivals([tmp_path / "kpi.csv"], None)
    deliver(tmp_path, "kpi.csv", b"kpi_id,value\nK-1,11\n", "2024-06-01T00:00:00+00:00")  # same size and mtime
    second, cursor = scan_arrivals([tmp_path / "kpi.csv"], cursor)
    assert len(first) == len(second) == 1 and first[0].run_key != second[0].run_key


def test_foreign_cursor_is_rejected() -> None:
    with pytest.raises(ValueError, match="not a scan_arrivals cursor"):
        scan_arrivals([], "[1, 2]")
