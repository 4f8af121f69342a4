"""Session fixtures for the reliability tests: each scenario (see ``scenarios.py``) is a few real ``kpi-align`` runs,
started once per session and in parallel with the others, because each run takes a minute or more.

When the first reliability test asks for a scenario, every scenario some collected test needs is started in a
thread: the messy project (bad sources, secrets, SQL/HTML traps) and a copy of it on the multiprocess executor at
once, and the forks of the clean example run (``demo_run`` from ``tests/conftest.py``: a second night read by a BI
process, a failing night, the crash chain) as soon as that run is done. A test then waits only for its scenario.
"""

from __future__ import annotations

import concurrent.futures as cf
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import scenarios as sc
from pipeline_testkit import copy_example
from reliability_kit import Loopback

FORKS = ("crash_chain", "second_night", "failed_night")  # longest first
MESSY = ("messy_night", "multiprocess_night")


class ScenarioPool:
    """Scenario name -> future of its result."""

    def __init__(self) -> None:
        self._executor = cf.ThreadPoolExecutor(max_workers=len(FORKS) + len(MESSY), thread_name_prefix="scenario")
        self._futures: dict[str, cf.Future[Any]] = {}

    def submit(self, name: str, fn: Callable[..., Any], *args: Any) -> None:
        self._futures[name] = self._executor.submit(fn, *args)

    def result(self, name: str) -> Any:
        if name not in self._futures:
            raise AssertionError(f"scenario {name} was not started: is its fixture listed in FORKS/MESSY?")
        return self._futures[name].result()

    def close(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)


def _wanted(session: pytest.Session) -> set[str]:
    names = set(FORKS) | set(MESSY)
    return {n for item in session.items for n in getattr(item, "fixturenames", ()) if n in names}


def _messy_copy(root: Path, flight_exports: Path) -> Path:
    """A copy of the example with three months of flights (enough to feed its KPIs; these runs test other things)."""
    project = copy_example(root / "project", flight_exports)
    for month in sorted((project / "data" / "flights").glob("*.csv"))[3:]:
        month.unlink()
    return project


def _messy(root: Path, flight_exports: Path, token: str) -> sc.MessyNight:
    """The messy project run with ``kpi-align run``."""
    project = _messy_copy(root, flight_exports)
    with Loopback(token, sc.partner_pages()) as server:
        sc.write_messy_project(project, server.base_url)
        return sc.messy_night(project, root / "out", root, server)


def _multiprocess(root: Path, flight_exports: Path, token: str) -> sc.MultiprocessNight:
    """Another copy of the messy project, run by ``dg launch`` (multiprocess executor)."""
    project = _messy_copy(root, flight_exports)
    with Loopback(token, sc.partner_pages()) as server:
        sc.write_messy_project(project, server.base_url)
        env = {sc.TOKEN_ENV: token, sc.WEBHOOK_ENV: f"{server.base_url}/hooks/{token}"}
        return sc.multiprocess_night(project, root / "out", root, env)


@pytest.fixture(scope="session")
def scenario_pool(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Iterator[ScenarioPool]:
    wanted = _wanted(request.session)
    pool = ScenarioPool()
    try:
        token = f"kpisecret{uuid.uuid4().hex}"  # planted in both messy runs' environment, searched for afterwards
        if "messy_night" in wanted:
            flights = request.getfixturevalue("flight_exports")
            pool.submit("messy_night", _messy, tmp_path_factory.mktemp("messy"), flights, token)
        if "multiprocess_night" in wanted:
            flights = request.getfixturevalue("flight_exports")
            pool.submit("multiprocess_night", _multiprocess, tmp_path_factory.mktemp("multiprocess"), flights, token)
        if wanted & set(FORKS):
            demo = request.getfixturevalue("demo_run")  # the clean run every fork starts from (about 1-2 min)
            assert demo.process.returncode == 0, (
                f"the clean example run failed:\n{demo.process.stdout}\n{demo.process.stderr}"
            )
            base = sc.Base(demo.project, demo.output)
            for name in FORKS:
                if name in wanted:
                    pool.submit(name, getattr(sc, name), base, tmp_path_factory.mktemp(name))
        yield pool
    finally:
        pool.close()


@pytest.fixture(scope="session")
def base(demo_run: Any) -> sc.Base:
    return sc.Base(demo_run.project, demo_run.output)


@pytest.fixture(scope="session")
def second_night(scenario_pool: ScenarioPool) -> sc.SecondNight:
    return scenario_pool.result("second_night")


@pytest.fixture(scope="session")
def failed_night(scenario_pool: ScenarioPool) -> sc.FailedNight:
    return scenario_pool.result("failed_night")


@pytest.fixture(scope="session")
def crash_chain(scenario_pool: ScenarioPool) -> sc.CrashChain:
    return scenario_pool.result("crash_chain")


@pytest.fixture(scope="session")
def messy_night(scenario_pool: ScenarioPool) -> sc.MessyNight:
    return scenario_pool.result("messy_night")


@pytest.fixture(scope="session")
def multiprocess_night(scenario_pool: ScenarioPool) -> sc.MultiprocessNight:
    return scenario_pool.result("multiprocess_night")
