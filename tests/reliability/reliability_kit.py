"""Helpers for the reliability tests: forking a finished run, running ``kpi-align`` as a real process, reading
DuckDB files back (marts, raw tables), fingerprints of published files, a loopback HTTP server for API and webhook
traffic, and an inotify watch to catch the instant a publish starts.
"""

from __future__ import annotations

import ctypes
import hashlib
import json
import os
import shutil
import signal
import struct
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import duckdb
from pipeline_testkit import KPI_ALIGN, REPO

RUN_TIMEOUT_S = 900

# Columns that describe a run rather than the data, and so differ between two runs of the same night by design:
# every TIMESTAMP column of the marts (when a judgement was recorded, when files were loaded, catalog_as_of) and
# fct_source_freshness' last_load_* (what the latest load did: a re-run finds the files unchanged and loads 0 rows).
RUN_METADATA_PREFIXES = ("last_load_",)
SIGNIFICANT_DIGITS = 12  # DuckDB's parallel sums may differ in the last bits between two runs


# --- running kpi-align --------------------------------------------------------------------------------------------


@dataclass
class Run:
    """A ``kpi-align run`` process started with :func:`start_run`; output goes to files in ``log_dir``."""

    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    started: float = field(default_factory=time.monotonic)

    def wait(self, timeout: float = RUN_TIMEOUT_S) -> int:
        return self.process.wait(timeout=timeout)

    def kill(self) -> None:
        """SIGKILL the ``kpi-align`` process only (its children, e.g. ``dbt``, are left as a real crash leaves
        them), then reap it so it is really gone (no zombie that still looks alive)."""
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=60)

    @property
    def out(self) -> str:
        return self.stdout.read_text(encoding="utf-8", errors="replace")

    @property
    def err(self) -> str:
        return self.stderr.read_text(encoding="utf-8", errors="replace")

    def describe(self) -> str:
        return f"exit {self.process.returncode}\n--- stdout\n{self.out[-4000:]}\n--- stderr\n{self.err[-6000:]}"


def start_run(project: Path, output: Path, log_dir: Path, env: dict[str, str] | None = None) -> Run:
    """Start ``kpi-align run --project PROJECT`` with its outputs in ``output`` (``KPI_ALIGN_OUTPUT_DIR``)."""
    log_dir.mkdir(parents=True, exist_ok=True)
    n = len(list(log_dir.glob("run-*.stdout")))
    stdout, stderr = log_dir / f"run-{n}.stdout", log_dir / f"run-{n}.stderr"
    full_env = clean_env({"KPI_ALIGN_OUTPUT_DIR": str(output), **(env or {})})
    with open(stdout, "wb") as out, open(stderr, "wb") as err:
        process = subprocess.Popen(
            [KPI_ALIGN, "run", "--project", str(project)], stdout=out, stderr=err, env=full_env, cwd=REPO
        )
    return Run(process, stdout, stderr)


def clean_env(extra: dict[str, str]) -> dict[str, str]:
    """This process's environment without ``KPI_ALIGN_*`` and ``DAGSTER_HOME`` (an in-process test may have set
    them, and they would point a run elsewhere), plus ``extra``."""
    inherited = {k: v for k, v in os.environ.items() if not k.startswith("KPI_ALIGN_") and k != "DAGSTER_HOME"}
    return {**inherited, **extra}


def run_to_end(project: Path, output: Path, log_dir: Path, env: dict[str, str] | None = None) -> Run:
    run = start_run(project, output, log_dir, env)
    run.wait()
    return run


def fork(project: Path, output: Path, dest: Path, *, warehouse: bool = True) -> tuple[Path, Path]:
    """A copy of a finished run's project and output folder in ``dest``: the next run there is "the next night".

    Without ``warehouse`` the working database is left behind (ingest starts from nothing) while the published
    files, the Dagster instance and the dbt manifest come along.
    """
    new_project, new_output = dest / "project", dest / "out"
    shutil.copytree(project, new_project, symlinks=True)
    skip = shutil.ignore_patterns("warehouse.duckdb*") if not warehouse else None
    shutil.copytree(output, new_output, symlinks=True, ignore=skip)
    return new_project, new_output


def wait_for(
    condition: Callable[[], bool], what: str, run: Run | None = None, timeout: float = 300, interval: float = 0.02
) -> None:
    """Poll ``condition`` every ``interval`` s; fail naming ``what`` (and the run's output) on timeout or early exit."""
    deadline = time.monotonic() + timeout
    while not condition():
        if run is not None and run.process.poll() is not None:
            raise AssertionError(f"run ended before {what}: {run.describe()}")
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}")
        time.sleep(interval)


# --- reading DuckDB files back ------------------------------------------------------------------------------------


def query(database: Path, sql: str, params: list[object] | None = None) -> list[tuple]:
    """Rows of ``sql`` from a read-only connection."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        return con.execute(sql, params or []).fetchall()
    finally:
        con.close()


def marts(database: Path) -> dict[str, list[tuple]]:
    """Every table of schema ``marts``: its rows, sorted, without the run-metadata columns (see
    :data:`RUN_METADATA_PREFIXES`), doubles rounded to :data:`SIGNIFICANT_DIGITS` significant digits."""
    con = duckdb.connect(str(database), read_only=True)
    try:
        out = {}
        tables = con.execute(
            "select table_name from information_schema.tables where table_schema = 'marts' order by 1"
        ).fetchall()
        for (table,) in tables:
            cols = [
                c
                for c, kind in con.execute(
                    "select column_name, data_type from information_schema.columns where table_schema = 'marts' "
                    "and table_name = ? order by ordinal_position",
                    [table],
                ).fetchall()
                if not kind.startswith("TIMESTAMP") and not c.startswith(RUN_METADATA_PREFIXES)
            ]
            select = ", ".join(f'"{c}"' for c in cols)
            rows = [tuple(map(_comparable, r)) for r in con.execute(f'select {select} from marts."{table}"').fetchall()]
            out[table] = sorted(rows, key=repr)
        return out
    finally:
        con.close()


def _comparable(value: object) -> object:
    if isinstance(value, float):
        return float(f"{value:.{SIGNIFICANT_DIGITS}g}")
    return value


def mart_counts(database: Path) -> dict[str, int]:
    return {name: len(rows) for name, rows in marts(database).items()}


def raw_state(database: Path) -> dict[str, object]:
    """Row counts of the raw tables and the checks that nothing was duplicated or lost."""
    con = duckdb.connect(str(database), read_only=True)
    try:

        def one(sql: str) -> object:
            return con.execute(sql).fetchall()[0][0]

        return {
            "flights": one("select count(*) from raw.flights"),
            "flight_keys": one("select count(distinct (source_file, source_row)) from raw.flights"),
            "flight_files": one("select count(distinct source_file) from raw.flights"),
            "flight_loads": one("select count(distinct load_id) from raw.flights"),
            "metric_values": one("select count(*) from raw.metric_values"),
            "rejects": one("select count(*) from raw.rejects"),
        }
    finally:
        con.close()


# --- published files ----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class FileState:
    """Content hash, modification time and inode of a file: equal states = the file was not touched."""

    sha256: str
    mtime_ns: int
    inode: int


def file_state(path: Path) -> FileState:
    st = path.stat()
    return FileState(hashlib.sha256(path.read_bytes()).hexdigest(), st.st_mtime_ns, st.st_ino)


def published_state(output: Path) -> dict[str, FileState | str]:
    """The served DuckDB file, every served Parquet file and the report's ``latest.html``."""
    serving = output / "serving"
    state: dict[str, FileState | str] = {"kpi_alignment.duckdb": file_state(serving / "kpi_alignment.duckdb")}
    for parquet in sorted((serving / "parquet").glob("*.parquet")):
        state[f"parquet/{parquet.name}"] = file_state(parquet)
    state["parquet ->"] = os.readlink(serving / "parquet") if (serving / "parquet").is_symlink() else "(folder)"
    state["latest.html"] = file_state(output / "reports" / "latest.html")
    return state


def parquet_counts(output: Path) -> dict[str, int]:
    con = duckdb.connect()
    try:
        return {
            p.stem: con.execute("select count(*) from read_parquet(?)", [str(p)]).fetchall()[0][0]
            for p in sorted((output / "serving" / "parquet").glob("*.parquet"))
        }
    finally:
        con.close()


# --- the Dagster instance of a run --------------------------------------------------------------------------------


def run_id_from(stdout: str) -> str:
    """The run id ``kpi-align run`` prints (``run <id>: succeeded|FAILED``)."""
    for line in stdout.splitlines():
        if line.startswith("run ") and ":" in line:
            return line.split()[1].rstrip(":")
    raise AssertionError(f"no run id in:\n{stdout}")


def run_events(home: Path, run_id: str | None = None) -> tuple[str | None, list]:
    """(run id, its event log entries) of run ``run_id`` (default: the latest run) of the instance in ``home``."""
    import dagster as dg

    with dg.DagsterInstance.from_config(str(home)) as instance:
        if run_id is None:
            records = instance.get_run_records(limit=1)
            run_id = records[0].dagster_run.run_id if records else None
        return run_id, list(instance.all_logs(run_id)) if run_id else []


def steps_started(output: Path, run_id: str) -> set[str]:
    """Step keys that started in run ``run_id`` of the project's Dagster instance."""
    import dagster as dg

    _, events = run_events(output / "dagster_home", run_id)
    return {
        e.step_key
        for e in events
        if e.step_key is not None and e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.STEP_START
    }


# --- catching the instant a file appears (Linux inotify) ----------------------------------------------------------


class CreationWatch:
    """Calls ``on_create(name)`` from a thread the moment a file whose name starts with ``prefix`` is created in
    ``folder`` (inotify: the kernel wakes the thread, no polling interval to miss a short window)."""

    _IN_CREATE = 0x00000100
    _IN_NONBLOCK = 0o4000

    def __init__(self, folder: Path, prefix: str, on_create: Callable[[str], None]) -> None:
        if not sys.platform.startswith("linux"):
            raise RuntimeError("inotify needs Linux")
        libc = ctypes.CDLL(None, use_errno=True)
        self._fd = libc.inotify_init1(0)
        if self._fd < 0 or libc.inotify_add_watch(self._fd, str(folder).encode(), self._IN_CREATE) < 0:
            raise OSError(ctypes.get_errno(), "inotify failed")
        self.prefix, self.on_create, self.seen = prefix, on_create, threading.Event()
        self._thread = threading.Thread(target=self._loop, daemon=True)
        self._thread.start()

    def _loop(self) -> None:
        while not self.seen.is_set():
            try:
                data = os.read(self._fd, 64 * 1024)
            except OSError:
                return
            offset = 0
            while offset < len(data):
                _, _, _, length = struct.unpack_from("iIII", data, offset)
                name = data[offset + 16 : offset + 16 + length].rstrip(b"\0").decode()
                offset += 16 + length
                if name.startswith(self.prefix) and not self.seen.is_set():
                    self.on_create(name)
                    self.seen.set()

    def close(self) -> None:
        self.seen.set()
        os.close(self._fd)


# --- a loopback HTTP server: an API to read from and a webhook to post to -----------------------------------------


@dataclass
class Loopback:
    """``GET`` answers from ``pages`` (path -> a JSON-able body, or bytes served as they are; only with
    ``Authorization: Bearer <token>``); ``POST`` bodies are recorded in ``posts`` (path, body)."""

    token: str
    pages: dict[str, object]
    posts: list[tuple[str, bytes]] = field(default_factory=list)
    gets: list[str] = field(default_factory=list)

    def __enter__(self) -> Loopback:
        box = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                path = self.path.split("?")[0]
                box.gets.append(path)
                ok = self.headers.get("Authorization") == f"Bearer {box.token}" and path in box.pages
                page = box.pages[path] if ok else {"message": "no"}
                body = page if isinstance(page, bytes) else json.dumps(page).encode()
                self.send_response(200 if ok else 401)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                box.posts.append((self.path, body))
                self.send_response(200)
                self.send_header("Content-Length", "2")
                self.end_headers()
                self.wfile.write(b"ok")

            def log_message(self, format: str, *args: object) -> None:
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
        self._thread.start()
        return self

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host}:{port}"

    def __exit__(self, *exc: object) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
