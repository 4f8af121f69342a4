"""Helpers shared by the pipeline tests: ../shared paths (skip when absent), the real CLI, example copies."""

from __future__ import annotations

import concurrent.futures as cf
import os
import shutil
import subprocess
import sys
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
CASES = SHARED / "cases"
REAL_DATA = SHARED / "real-data"
EXAMPLE = REPO / "examples" / "airline"
KPI_ALIGN = str(Path(sys.executable).with_name("kpi-align"))
# The environment before any test changed it: what runs started from the background pool's threads inherit (a test
# in the main thread may monkeypatch os.environ while they start).
START_ENV = dict(os.environ)


def shared_file(*parts: str) -> Path:
    """A file under ../shared, or skip the test when the folder is absent (a user's own clone)."""
    path = SHARED.joinpath(*parts)
    if not path.exists():
        pytest.skip(f"{path} not present: ../shared is only beside the repo in development and CI")
    return path


def run_cli(*args: str, env: dict[str, str] | None = None, timeout: int = 900) -> subprocess.CompletedProcess[str]:
    """Run the real ``kpi-align`` console script; returns the completed process (never raises on exit code)."""
    inherited = os.environ if threading.current_thread() is threading.main_thread() else START_ENV
    full_env = {**inherited, **(env or {})}
    return subprocess.run(
        [KPI_ALIGN, *args], capture_output=True, text=True, env=full_env, timeout=timeout, check=False
    )


def copy_example(dest: Path, flight_exports: Path | None = None) -> Path:
    """A copy of the bundled example project in ``dest`` (without outputs), with the flight exports if given."""
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(".kpi-align", "data"))
    if flight_exports is not None:
        shutil.copytree(flight_exports, dest / "data" / "flights")
    return dest


@dataclass(frozen=True)
class DemoRun:
    """One ``kpi-align run`` of a copy of the bundled example: its project, outputs and the finished process."""

    project: Path
    output: Path
    process: subprocess.CompletedProcess[str]

    @property
    def served(self) -> Path:
        return self.output / "serving" / "kpi_alignment.duckdb"

    def query(self, sql: str, params: list | None = None) -> list[tuple]:
        """Rows of ``sql`` against the published marts (read-only)."""
        import duckdb

        con = duckdb.connect(str(self.served), read_only=True)
        try:
            return con.execute(sql, params or []).fetchall()
        finally:
            con.close()


# --- expensive runs, started in the background at session start -----------------------------------------------------
# A full pipeline run costs about a minute of one core (dbt builds with one thread), and a test session needs about
# ten of them (the demo, the reliability scenarios, the real-data and API examples). Each is registered here as a job
# when its test module is imported; once collection is done the session's ``runs`` pool starts the jobs some
# collected test needs, a few at once, the longest chain first, while the other tests go on in the main thread. A
# fixture then waits for its job's result (or runs the job itself when no worker has started it yet).


@dataclass(frozen=True)
class Job:
    """``fn(root, runs)`` -> the fixture's value; ``root`` is a fresh directory, ``runs`` gives other jobs' results."""

    name: str
    fn: Callable[[Path, RunPool], Any]
    after: tuple[str, ...] = ()  # jobs whose results ``fn`` needs: it starts once they are finished
    priority: int = 5  # lower starts first: the critical path (demo run, then the crash chain) is 0-2


JOBS: dict[str, Job] = {}


def background(name: str, *, after: tuple[str, ...] = (), priority: int = 5) -> Callable[[Callable], Callable]:
    """Register ``fn(root, runs)`` as the job ``name``; a test needs it by using the fixture of the same name (which
    returns ``runs.result(name)``), so ``name`` must be unique among all fixture names of the suite."""

    def register(fn: Callable[[Path, RunPool], Any]) -> Callable[[Path, RunPool], Any]:
        JOBS[name] = Job(name, fn, after, priority)
        return fn

    return register


class RunPool:
    """Runs registered jobs on ``workers`` threads (plus any thread that asks for a result not yet started)."""

    def __init__(self, mktemp: Callable[[str], Path], workers: int) -> None:
        self._mktemp = mktemp
        self._workers = workers
        self._cv = threading.Condition()
        self._futures: dict[str, cf.Future[Any]] = {}
        self._roots: dict[str, Path] = {}
        self._claimed: set[str] = set()
        self._closing = False
        self._threads: list[threading.Thread] = []

    def start(self, wanted: set[str]) -> None:
        """Start the jobs in ``wanted`` and every job they need."""
        todo, needed = list(wanted & JOBS.keys()), set()
        while todo:
            name = todo.pop()
            if name not in needed:
                needed.add(name)
                todo.extend(JOBS[name].after)
        with self._cv:
            for name in sorted(needed, key=lambda n: JOBS[n].priority):
                self._futures[name] = cf.Future()
                self._roots[name] = self._mktemp(name)  # here, in the main thread
        for i in range(self._workers if needed else 0):
            thread = threading.Thread(target=self._work, name=f"run-pool-{i}", daemon=True)
            thread.start()
            self._threads.append(thread)

    def result(self, name: str) -> Any:
        """The job's value (or its exception, re-raised); runs the job here if no thread has claimed it yet."""
        with self._cv:
            if name not in self._futures:  # not foreseen at start (e.g. asked for with getfixturevalue): run it now
                self._futures[name] = cf.Future()
                self._roots[name] = self._mktemp(name)
        for dep in JOBS[name].after:
            self.result(dep)
        with self._cv:
            mine = name not in self._claimed
            self._claimed.add(name)
        if mine:
            self._run(name)
        return self._futures[name].result()

    def close(self) -> None:
        with self._cv:
            self._closing = True
            self._cv.notify_all()
        for thread in self._threads:
            thread.join()

    def _ready(self) -> str | None:
        for name in sorted(self._futures, key=lambda n: JOBS[n].priority):
            if name not in self._claimed and all(self._futures[d].done() for d in JOBS[name].after):
                return name
        return None

    def _work(self) -> None:
        while True:
            with self._cv:
                while not self._closing and (name := self._ready()) is None:
                    if all(n in self._claimed for n in self._futures):
                        return
                    self._cv.wait()
                if self._closing:
                    return
                self._claimed.add(name)
            self._run(name)

    def _run(self, name: str) -> None:
        future = self._futures[name]
        try:
            future.set_result(JOBS[name].fn(self._roots[name], self))
        except BaseException as e:  # a skip or a failed assertion reaches the fixture that asks for the result
            future.set_exception(e)
        finally:
            with self._cv:
                self._cv.notify_all()
