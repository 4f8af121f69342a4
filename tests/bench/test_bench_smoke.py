"""Smoke test of ``make bench``: the generator and the ingest comparison at 20k rows, output format only.

Runs ``python -m bench.run`` as ``make bench`` does (a subprocess from the repository root) into temporary
folders. Timings and ratios are never asserted — only that each measurement printed one well-formed BENCH line
that matches the JSON file, that the chart exists, and that the product path really loaded, validated and
then skipped the file (so the comparison measured what it claims).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import duckdb
import pytest
from pipeline_testkit import START_ENV, RunPool, background

REPO = Path(__file__).resolve().parents[2]
LINE = re.compile(
    r"^BENCH (?P<name>[a-z0-9_]+) (?P<value>-?\d+(\.\d+)?) (?P<target>\d+(\.\d+)?) (?P<verdict>ok|missed)$"
)


def test_generator_writes_deterministic_long_layout_files(tmp_path: Path) -> None:
    sys.path.insert(0, str(REPO))
    try:
        from bench import data
    finally:
        sys.path.remove(str(REPO))
    first = data.metric_file(tmp_path / "a", "m.csv", data.FileSpec(0, 12_000))
    second = data.metric_file(tmp_path / "b", "m.csv", data.FileSpec(0, 12_000))
    assert first.read_bytes() == second.read_bytes()  # deterministic: same rows, same bytes
    mtime = first.stat().st_mtime_ns
    assert data.metric_file(tmp_path / "a", "m.csv", data.FileSpec(0, 12_000)).stat().st_mtime_ns == mtime  # reused
    con = duckdb.connect()
    shape = con.execute(
        "SELECT count(*), count(DISTINCT date), count(DISTINCT metric), count(DISTINCT dimension), "
        "count(DISTINCT (date, metric, dimension)), min(value) >= 0 AND max(value) <= 1000 FROM read_csv(?)",
        [str(first)],
    ).fetchone()
    assert shape == (12_000, 3, data.METRICS, data.DIMENSIONS, 12_000, True)
    assert first.read_text(encoding="utf-8").splitlines()[0] == data.HEADER
    # a damaged file is noticed by its checksum and written again
    first.write_text(data.HEADER + "\n", encoding="utf-8")
    assert data.metric_file(tmp_path / "a", "m.csv", data.FileSpec(0, 12_000)).read_bytes() == second.read_bytes()


@background("ingest_bench_at_20k")
def _ingest_bench_at_20k(root: Path, runs: RunPool) -> tuple[Path, subprocess.CompletedProcess[str]]:
    """``python -m bench.run`` for the ingest comparison at 20k rows (in the session's background pool)."""
    results = root / "results"
    proc = subprocess.run(
        [
            *(sys.executable, "-m", "bench.run", "--only", "ingest", "--rows", "20000", "--repeat", "1"),
            *("--data", str(root / "data"), "--results", str(results)),
        ],
        cwd=REPO,
        env=START_ENV,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    return results, proc


@pytest.fixture(scope="module")
def ingest_bench_at_20k(runs: RunPool) -> tuple[Path, subprocess.CompletedProcess[str]]:
    return runs.result("ingest_bench_at_20k")


def test_ingest_comparison_prints_bench_lines_json_and_chart(ingest_bench_at_20k) -> None:
    results, proc = ingest_bench_at_20k
    assert proc.returncode == 0, proc.stdout + proc.stderr
    printed = [m.groupdict() for line in proc.stdout.splitlines() if (m := LINE.match(line))]
    names = {p["name"] for p in printed}
    assert names == {"ingest_wall_ratio_20k", "ingest_peak_memory_ratio_20k", "validation_overhead_share_20k"}
    for p in printed:
        assert p["verdict"] == ("ok" if float(p["value"]) <= float(p["target"]) else "missed")

    payload = json.loads((results / "latest.json").read_text(encoding="utf-8"))
    by_name = {r["name"]: r for r in payload["results"]}
    for p in printed:
        assert by_name[p["name"]]["line"] == f"BENCH {p['name']} {p['value']} {p['target']} {p['verdict']}"
    assert payload["machine"]["cpus"] >= 1
    chart = (results / "latest.svg").read_text(encoding="utf-8")
    assert chart.lstrip().startswith(("<?xml", "<svg")) and "</svg>" in chart

    product = payload["raw"]["ingest_20k"]["product"]["details"][0]
    assert (product["status"], product["rows_loaded"], product["rows_in_table"]) == ("loaded", 20_000, 20_000)
    assert (product["gx_status"], product["delivery_ok"], product["reload_status"]) == ("success", True, "unchanged")
    bare = payload["raw"]["ingest_20k"]["bare"]["details"][0]
    assert bare["rows"] == 20_000
