"""Deterministic synthetic metric files in the long layout (``date,metric,dimension,value``), written by DuckDB.

Shape: every day has :data:`ROWS_PER_DAY` = 5,000 rows — :data:`METRICS` metrics (``metric_000`` …) times
:data:`DIMENSIONS` dimensions (``dim_000`` …) — starting on :data:`START`; row ``i`` (0-based, file order) is day
``i // 5000``, metric ``(i % 5000) // 100``, dimension ``i % 100``. Values are a multiplicative hash of ``i`` and
the seed (``((i + seed) mod 2^32) * 2654435761 mod 2^32``, Knuth's multiplicative hash, scaled to 0..1000 with
two decimals): deterministic by formula, no random
generator state, and distinct enough that no two rows of a file are equal.

Files are written once with ``COPY (SELECT … FROM range(n)) TO … (FORMAT csv)`` — no Python loop over rows — and
described in a manifest (``manifest.json`` beside them: parameters, size and sha256 of each file). A file is reused
when the manifest's parameters match and its size and sha256 are unchanged; otherwise it is rewritten.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import shutil
from dataclasses import asdict, dataclass
from pathlib import Path

import duckdb

GENERATOR_VERSION = 1
"""Bump when the formula or the file format changes: every manifest entry is then regenerated."""

START = dt.date(2015, 1, 1)
METRICS = 50
DIMENSIONS = 100
ROWS_PER_DAY = METRICS * DIMENSIONS
SEED = 20240501
HEADER = "date,metric,dimension,value"


@dataclass(frozen=True)
class FileSpec:
    """Rows ``first_row .. first_row + rows - 1`` of the synthetic sequence (``rows`` a multiple of a day or not)."""

    first_row: int
    rows: int
    seed: int = SEED


def _select(spec: FileSpec) -> str:
    """SQL producing the rows of ``spec`` in file order (date, metric, dimension, value)."""
    i = f"(r.i + {int(spec.first_row)})"
    return (
        f"SELECT DATE '{START.isoformat()}' + CAST({i} // {ROWS_PER_DAY} AS INTEGER) AS date, "
        f"'metric_' || lpad(CAST(({i} % {ROWS_PER_DAY}) // {DIMENSIONS} AS VARCHAR), 3, '0') AS metric, "
        f"'dim_' || lpad(CAST({i} % {DIMENSIONS} AS VARCHAR), 3, '0') AS dimension, "
        f"round((((CAST({i} AS UBIGINT) + {int(spec.seed)}) % 4294967296 * 2654435761) % 4294967296) "
        f"/ 4294967296.0 * 1000, 2) AS value "
        f"FROM range({int(spec.rows)}) r(i)"
    )


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            h.update(chunk)
    return h.hexdigest()


def _manifest_path(directory: Path) -> Path:
    return directory / "manifest.json"


def _read_manifest(directory: Path) -> dict:
    path = _manifest_path(directory)
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}


def _write_manifest(directory: Path, manifest: dict) -> None:
    tmp = _manifest_path(directory).with_suffix(".json.tmp")
    tmp.write_text(json.dumps(manifest, indent=1, sort_keys=True), encoding="utf-8")
    tmp.replace(_manifest_path(directory))


def _entry_ok(path: Path, entry: dict | None, params: dict) -> bool:
    """The file exists with the manifest's size and sha256, written with the same parameters."""
    if not entry or entry.get("params") != params or not path.is_file():
        return False
    if path.stat().st_size != entry.get("size"):
        return False
    return sha256_file(path) == entry.get("sha256")


def _params(spec: FileSpec) -> dict:
    return {"generator": GENERATOR_VERSION, **asdict(spec), "start": START.isoformat(), "header": HEADER}


def metric_file(directory: Path, name: str, spec: FileSpec) -> Path:
    """``directory/name`` holding the rows of ``spec`` (CSV with header), generated unless a valid copy exists."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    manifest = _read_manifest(directory)
    params = _params(spec)
    if _entry_ok(path, manifest.get(name), params):
        return path
    tmp = path.with_name(path.name + ".tmp")
    con = duckdb.connect()
    con.execute("SET enable_progress_bar = false")
    try:
        con.execute(f"COPY ({_select(spec)}) TO '{tmp}' (FORMAT csv, HEADER true)")
    finally:
        con.close()
    tmp.replace(path)
    manifest = _read_manifest(directory)
    manifest[name] = {"params": params, "size": path.stat().st_size, "sha256": sha256_file(path)}
    _write_manifest(directory, manifest)
    return path


def daily_files(directory: Path, days: int) -> list[Path]:
    """One file per day for days ``0 .. days-1`` (``directory/YYYY-MM-DD.csv``, 5,000 rows each).

    Written with one ``COPY … PARTITION_BY`` (one thread, so each file's rows keep their order and the bytes are
    reproducible) into a scratch folder, then moved into place; reused when every file is in the manifest with
    unchanged size and hash.
    """
    directory.mkdir(parents=True, exist_ok=True)
    names = [day_of(d).isoformat() + ".csv" for d in range(days)]
    manifest = _read_manifest(directory)
    params = {"generator": GENERATOR_VERSION, "seed": SEED, "start": START.isoformat(), "header": HEADER, "daily": 1}
    if all(_entry_ok(directory / n, manifest.get(n), params) for n in names):
        return [directory / n for n in names]
    scratch = directory / ".partitions"
    shutil.rmtree(scratch, ignore_errors=True)
    con = duckdb.connect(config={"threads": 1})
    con.execute("SET enable_progress_bar = false")
    try:
        con.execute(
            f"COPY (SELECT strftime(date, '%Y-%m-%d') AS day, * FROM ({_select(FileSpec(0, days * ROWS_PER_DAY))})) "
            f"TO '{scratch}' (FORMAT csv, HEADER true, PARTITION_BY (day), WRITE_PARTITION_COLUMNS false)"
        )
    finally:
        con.close()
    for n in names:
        written = sorted((scratch / f"day={n.removesuffix('.csv')}").glob("*.csv"))
        if len(written) != 1:
            raise RuntimeError(f"expected one file for {n} in {scratch}, found {written}")
        written[0].replace(directory / n)
        size = (directory / n).stat().st_size
        manifest[n] = {"params": params, "size": size, "sha256": sha256_file(directory / n)}
    shutil.rmtree(scratch, ignore_errors=True)
    _write_manifest(directory, manifest)
    return [directory / n for n in names]


def day_of(index: int) -> dt.date:
    """The date of day ``index`` (0 = :data:`START`)."""
    return START + dt.timedelta(days=index)
