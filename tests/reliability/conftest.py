"""Session fixtures for the reliability tests: each scenario (see ``scenarios.py``) is a few real ``kpi-align`` runs,
made once per session by the background pool of ``tests/conftest.py`` (``pipeline_testkit.background``), because each
run takes a minute or more.

Every scenario some collected test needs is started when the session starts: the messy project (bad sources,
secrets, SQL/HTML traps) and a copy of it on the multiprocess executor once the flight exports are written, and the
forks of the clean example run (``demo_run``: a second night read by a BI process, a failing night, the crash chain)
as soon as that run is done. A test then waits only for its scenario.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import scenarios as sc
from pipeline_testkit import RunPool, background, copy_example
from reliability_kit import Loopback

TOKEN = f"kpisecret{uuid.uuid4().hex}"  # planted in both messy runs' environment, searched for afterwards


def _messy_copy(root: Path, flight_exports: Path) -> Path:
    """A copy of the example with three months of flights (enough to feed its KPIs; these runs test other things)."""
    project = copy_example(root / "project", flight_exports)
    for month in sorted((project / "data" / "flights").glob("*.csv"))[3:]:
        month.unlink()
    return project


@background("messy_night", after=("flight_exports",), priority=3)
def _messy(root: Path, runs: RunPool) -> sc.MessyNight:
    """The messy project run with ``kpi-align run``."""
    project = _messy_copy(root, runs.result("flight_exports"))
    with Loopback(TOKEN, sc.partner_pages()) as server:
        sc.write_messy_project(project, server.base_url)
        return sc.messy_night(project, root / "out", root, server)


@background("multiprocess_night", after=("flight_exports",), priority=3)
def _multiprocess(root: Path, runs: RunPool) -> sc.MultiprocessNight:
    """Another copy of the messy project, run by ``dg launch`` (multiprocess executor)."""
    project = _messy_copy(root, runs.result("flight_exports"))
    with Loopback(TOKEN, sc.partner_pages()) as server:
        sc.write_messy_project(project, server.base_url)
        env = {sc.TOKEN_ENV: TOKEN, sc.WEBHOOK_ENV: f"{server.base_url}/hooks/{TOKEN}"}
        return sc.multiprocess_night(project, root / "out", root, env)


def _fork_of_the_demo(scenario: Callable[[sc.Base, Path], Any]) -> Callable[[Path, RunPool], Any]:
    def job(root: Path, runs: RunPool) -> Any:
        demo = runs.result("demo_run")  # the clean run every fork starts from
        assert demo.process.returncode == 0, (
            f"the clean example run failed:\n{demo.process.stdout}\n{demo.process.stderr}"
        )
        return scenario(sc.Base(demo.project, demo.output), root)

    return job


# the crash chain (four runs) is the longest: it starts as soon as the demo run is done
background("crash_chain", after=("demo_run",), priority=2)(_fork_of_the_demo(sc.crash_chain))
background("second_night", after=("demo_run",), priority=4)(_fork_of_the_demo(sc.second_night))
background("failed_night", after=("demo_run",), priority=4)(_fork_of_the_demo(sc.failed_night))


@pytest.fixture(scope="session")
def base(demo_run: Any) -> sc.Base:
    return sc.Base(demo_run.project, demo_run.output)


@pytest.fixture(scope="session")
def second_night(runs: RunPool) -> sc.SecondNight:
    return runs.result("second_night")


@pytest.fixture(scope="session")
def failed_night(runs: RunPool) -> sc.FailedNight:
    return runs.result("failed_night")


@pytest.fixture(scope="session")
def crash_chain(runs: RunPool) -> sc.CrashChain:
    return runs.result("crash_chain")


@pytest.fixture(scope="session")
def messy_night(runs: RunPool) -> sc.MessyNight:
    return runs.result("messy_night")


@pytest.fixture(scope="session")
def multiprocess_night(runs: RunPool) -> sc.MultiprocessNight:
    return runs.result("multiprocess_night")
