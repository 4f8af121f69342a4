"""The long-running situations the reliability tests look at, each a real ``kpi-align run`` (or several) on its own
copy of a project. Each function does the runs and records what the tests assert on; nothing is asserted here except
that a situation was really reached (e.g. the kill landed mid-dbt), so one scenario feeds several small tests.

The second night, the failing night and the crash chain start from a finished clean run of the bundled example
(``base``: its project and output folders) and work on a fork of it, so ``base``'s marts are their reference. The
messy project (bad sources, a planted secret, SQL/HTML traps) is a fresh copy of the example with sources added, run
once by ``kpi-align run`` and, in another copy, by ``dg launch`` on the multiprocess executor.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

from filelock import FileLock, Timeout
from reliability_kit import (
    CreationWatch,
    FileState,
    Loopback,
    Run,
    clean_env,
    fork,
    mart_counts,
    marts,
    published_state,
    query,
    raw_state,
    run_events,
    run_id_from,
    run_to_end,
    start_run,
    steps_started,
    wait_for,
)

HERE = Path(__file__).resolve().parent


@dataclass(frozen=True)
class Base:
    """A finished clean run: its project folder and output folder (``KPI_ALIGN_OUTPUT_DIR``)."""

    project: Path
    output: Path

    @property
    def served(self) -> Path:
        return self.output / "serving" / "kpi_alignment.duckdb"


# --- B15: a BI client reading through a whole second night ---------------------------------------------------------


@dataclass
class SecondNight:
    """The same night run again on unchanged files while a BI process reads the served file."""

    run: Run
    output: Path
    expected_counts: dict[str, int]
    reader: dict
    marts_before: dict[str, list[tuple]]
    marts_after: dict[str, list[tuple]]
    raw_before: dict[str, object]
    raw_after: dict[str, object]
    file_statuses: list[tuple[str, int]]


def second_night(base: Base, dest: Path) -> SecondNight:
    project, output = fork(base.project, base.output, dest)
    served = output / "serving" / "kpi_alignment.duckdb"
    expected = mart_counts(served)
    (dest / "expected.json").write_text(json.dumps(expected))
    marts_before, raw_before = marts(served), raw_state(output / "warehouse.duckdb")
    stop, report = dest / "stop", dest / "reader.json"
    reader = subprocess.Popen(
        [sys.executable, str(HERE / "bi_reader.py"), str(served), str(dest / "expected.json"), str(stop), str(report)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        first = reader.stdout.readline() if reader.stdout else b""
        assert first == b"ready\n", (
            f"BI reader did not start: {first!r} {reader.stderr.read() if reader.stderr else ''}"
        )
        run = run_to_end(project, output, dest / "logs")
    finally:
        stop.touch()
        reader.wait(timeout=120)
    load_id_of_run = query(
        output / "warehouse.duckdb", "select load_id from raw.file_loads order by loaded_at desc, rowid desc limit 1"
    )[0][0]
    return SecondNight(
        run=run,
        output=output,
        expected_counts=expected,
        reader=json.loads(report.read_text()),
        marts_before=marts_before,
        marts_after=marts(served),
        raw_before=raw_before,
        raw_after=raw_state(output / "warehouse.duckdb"),
        file_statuses=query(
            output / "warehouse.duckdb",
            "select status, count(*) from raw.file_loads where load_id = ? group by 1 order by 1",
            [load_id_of_run],
        ),
    )


# --- a run whose dbt build fails a blocking (error-severity) check --------------------------------------------------

UNFED_KPI = """kpis:
  - id: KPI-NPS
    name: Net promoter score
    direction: higher_is_better
    aggregation: average
    grain: month
    owner: Customer Experience <cx@airline.example>
    metrics: {value: nps_survey_score}
links:
  - {kpi: KPI-NPS, objective: OBJ-RELIABLE}
"""


@dataclass
class FailedNight:
    run: Run
    run_id: str
    steps: set[str]
    before: dict[str, FileState | str]
    after: dict[str, FileState | str]


def failed_night(base: Base, dest: Path) -> FailedNight:
    """A fork whose catalog gains a linked KPI that no source feeds: the example's settings make ``unfed`` an error,
    so dbt's ``assert_no_unfed_kpis`` check fails and ``dbt build`` exits non-zero (no dbt file changes)."""
    project, output = fork(base.project, base.output, dest)
    (project / "catalog" / "zz_unfed.yml").write_text(UNFED_KPI, encoding="utf-8")
    before = published_state(output)
    run = run_to_end(project, output, dest / "logs")
    run_id = run_id_from(run.out)
    return FailedNight(run, run_id, steps_started(output, run_id), before, published_state(output))


# --- crash safety: SIGKILL mid-ingest, mid-dbt, mid-publish, then a clean finish -----------------------------------


@dataclass
class KillPoint:
    """What a kill left behind: ``evidence`` shows the phase it hit; the published files and the writer lock."""

    name: str
    run: Run
    evidence: dict[str, object]
    published: dict[str, FileState | str]
    served_marts: dict[str, list[tuple]]
    lock_free: bool
    leftovers: list[str] = field(default_factory=list)


@dataclass
class CrashChain:
    published_before: dict[str, FileState | str]
    kills: list[KillPoint]
    final: Run
    final_marts: dict[str, list[tuple]]
    final_raw: dict[str, object]
    final_leftovers: list[str]
    output: Path


def _leftovers(output: Path) -> list[str]:
    serving = output / "serving"
    current = (serving / "parquet").readlink().name if (serving / "parquet").is_symlink() else None
    return sorted(p.name for p in serving.iterdir() if p.name.startswith(".") and p.name != current)


def _after_kill(name: str, run: Run, output: Path, evidence: dict[str, object]) -> KillPoint:
    lock = FileLock(str(output / "warehouse.duckdb.writer.lock"))
    try:
        lock.acquire(timeout=0)
        lock.release()
        lock_free = True
    except Timeout:
        lock_free = False
    served = output / "serving" / "kpi_alignment.duckdb"
    return KillPoint(name, run, evidence, published_state(output), marts(served), lock_free, _leftovers(output))


def _dbt_progress(output: Path, since: float) -> tuple[int, int, str]:
    """(nodes finished, nodes in the build, log text) of the newest dbt log written after ``since``."""
    logs = [p for p in (output / "logs").glob("dbt-*.log") if p.stat().st_mtime >= since]
    if not logs:
        return 0, 0, ""
    text = max(logs, key=lambda p: p.stat().st_mtime).read_text(encoding="utf-8", errors="replace")
    done = [(int(a), int(b)) for a, b in re.findall(r"^(\d+) of (\d+) (?:OK|PASS|WARN|ERROR|FAIL|SKIP)", text, re.M)]
    return (max(a for a, _ in done), done[0][1], text) if done else (0, 0, text)


def crash_chain(base: Base, dest: Path) -> CrashChain:
    """Fork ``base`` without its working database, then kill three runs at three points and finish with a fourth."""
    import time

    project, output = fork(base.project, base.output, dest, warehouse=False)
    logs = dest / "logs"
    published_before = published_state(output)
    kills: list[KillPoint] = []

    # 1. mid-ingest: the flights are loaded one file per transaction, into a new working database; once that file
    # has grown past 1.5 MB, a checkpoint has moved committed flight files into it and more are still to come
    # (the twelve files end at about 11 MB).
    run = start_run(project, output, logs)
    db = output / "warehouse.duckdb"
    wait_for(lambda: db.exists() and db.stat().st_size > 1_500_000, "the first flight files committed", run)
    run.kill()
    loaded = query(
        output / "warehouse.duckdb", "select count(*) from raw.file_loads where status in ('loaded', 'replaced')"
    )[0][0]
    kills.append(_after_kill("mid-ingest", run, output, {"flight files committed": loaded}))

    # 2. mid-dbt: dbt's progress lines ("12 of 217 OK created ...") in the run's dbt log.
    started = time.time()
    run = start_run(project, output, logs)
    wait_for(lambda: _dbt_progress(output, started)[0] >= 20, "dbt to be 20 nodes in", run, timeout=600)
    run.kill()
    done, total, text = _dbt_progress(output, started)
    kills.append(
        _after_kill("mid-dbt", run, output, {"dbt nodes done": done, "dbt nodes": total, "dbt log": text[-2000:]})
    )

    # 3. mid-publish: the instant the publish creates its staging file beside the served one.
    run = start_run(project, output, logs)
    watch = CreationWatch(output / "serving", ".marts.", lambda name, process=run.process: process.kill())
    try:
        run.wait()
    finally:
        watch.close()
    kills.append(_after_kill("mid-publish", run, output, {"staging file seen": watch.seen.is_set()}))

    # 4. run again to the end
    final = run_to_end(project, output, logs)
    served = output / "serving" / "kpi_alignment.duckdb"
    return CrashChain(
        published_before=published_before,
        kills=kills,
        final=final,
        final_marts=marts(served),
        final_raw=raw_state(output / "warehouse.duckdb"),
        final_leftovers=_leftovers(output),
        output=output,
    )


# --- a project with bad sources, secrets, and names full of SQL and HTML metacharacters -----------------------------

EVIL_KPI = "K'); drop table raw.rejects; --"
EVIL_NAME = '<script>alert(1)</script> & "quotes"'
EVIL_METRIC = 'o\'brien; "headcount" --'
EVIL_FILE = "K'); drop table raw.rejects; --.csv"
EVIL_OWNER = 'O\'Brien; "HR" <hr@airline.example>'
EVIL_COLUMNS = ("period day", "metric'); drop table raw.rejects; --", 'value; "amount"')
DEPT_VALUES = {f"2013-{m:02d}-01": 100.0 + m + m / 8 for m in range(1, 13)}  # 101.125 ... 113.5, exact in binary
PARTNER_VALUES = {f"2013-{m:02d}-01": 40.0 + m / 4 for m in range(1, 13)}
TOKEN_ENV, WEBHOOK_ENV = "KPI_ALIGN_TEST_PARTNER_TOKEN", "KPI_ALIGN_TEST_WEBHOOK_URL"


def _yaml_str(text: str) -> str:
    return json.dumps(text)  # a JSON string is a valid YAML double-quoted scalar


def _csv_field(text: str) -> str:
    return '"' + text.replace('"', '""') + '"'


def write_messy_project(project: Path, api_base_url: str) -> None:
    """Add to a copy of the example: a CSV source whose file name, columns, metric and KPI are SQL/HTML traps, two
    broken CSV sources (zero-byte file, wrong header), an API source with a bearer token from the environment, one
    whose endpoint refuses, and a webhook delivery whose URL (a secret) comes from the environment."""
    (project / "data" / "dept").mkdir(parents=True)
    header = ",".join(_csv_field(c) for c in EVIL_COLUMNS)
    rows = [f"{d},{_csv_field(EVIL_METRIC)},{v}" for d, v in DEPT_VALUES.items()]
    (project / "data" / "dept" / EVIL_FILE).write_text("\r\n".join([header, *rows]) + "\r\n", encoding="utf-8")
    (project / "data" / "ops_zero").mkdir()
    (project / "data" / "ops_zero" / "ops_2014-01-09.csv").write_bytes(b"")
    (project / "data" / "ops_header").mkdir()
    (project / "data" / "ops_header" / "ops_2014-01-09.csv").write_text("date,metric,amount\n2013-01-01,x,1\n")
    c_date, c_metric, c_value = (_yaml_str(c) for c in EVIL_COLUMNS)
    simple = """
    layout: long
    columns: {date: date, metric: varchar, value: double}
    date: {column: date, format: "%Y-%m-%d"}
    metric_column: metric
    value_column: value"""
    (project / "sources" / "reliability.yml").write_text(
        f"""sources:
  - name: dept_kpis
    path: "data/dept/*.csv"
    layout: long
    columns:
      {c_date}: date
      {c_metric}: varchar
      {c_value}: double
    date: {{column: {c_date}, format: "%Y-%m-%d"}}
    metric_column: {c_metric}
    value_column: {c_value}
  - name: ops_zero
    path: data/ops_zero/*.csv{simple}
  - name: ops_header
    path: data/ops_header/*.csv{simple}
  - name: partner_api
    type: api
    base_url: {api_base_url}
    path: /v1/kpis
    auth: {{type: bearer, token_env: {TOKEN_ENV}}}
    retry: {{max_attempts: 1}}
    records_path: data
    metrics: {{metric_field: metric, date_field: date, value_field: value}}
  - name: partner_refused
    type: api
    base_url: {api_base_url}
    path: /v1/refused
    auth: {{type: bearer, token_env: {TOKEN_ENV}}}
    retry: {{max_attempts: 1}}
    records_path: data
    metrics: {{metric_field: metric, date_field: date, value_field: value}}
""",
        encoding="utf-8",
    )
    (project / "catalog" / "zz_reliability.yml").write_text(
        f"""kpis:
  - id: {_yaml_str(EVIL_KPI)}
    name: {_yaml_str(EVIL_NAME)}
    unit: people
    direction: higher_is_better
    aggregation: sum
    grain: month
    owner: {_yaml_str(EVIL_OWNER)}
    metrics: {{value: {_yaml_str(EVIL_METRIC)}}}
  - id: KPI-PARTNER-SAT
    name: Partner satisfaction
    unit: points
    direction: higher_is_better
    aggregation: average
    grain: month
    owner: Partnerships <partners@airline.example>
    metrics: {{value: partner_sat}}
links:
  - {{kpi: {_yaml_str(EVIL_KPI)}, objective: OBJ-RELIABLE, weight: 0.1}}
  - {{kpi: KPI-PARTNER-SAT, objective: OBJ-RELIABLE, weight: 0.1}}
""",
        encoding="utf-8",
    )
    settings = project / "kpi-align.yml"
    settings.write_text(
        settings.read_text(encoding="utf-8") + f"\ndelivery:\n  webhook: {{url_env: {WEBHOOK_ENV}}}\n",
        encoding="utf-8",
    )


def partner_pages() -> dict[str, object]:
    return {"/v1/kpis": {"data": [{"metric": "partner_sat", "date": d, "value": v} for d, v in PARTNER_VALUES.items()]}}


@dataclass
class MessyNight:
    """One ``kpi-align run`` of the messy project, the planted secret and what the loopback server received."""

    run: Run
    project: Path
    output: Path
    token: str
    webhook_posts: list[tuple[str, bytes]]
    api_gets: list[str]


def messy_night(project: Path, output: Path, dest: Path, server: Loopback) -> MessyNight:
    """Run the messy project (``write_messy_project`` already applied) with the token and webhook URL planted."""
    env = {TOKEN_ENV: server.token, WEBHOOK_ENV: f"{server.base_url}/hooks/{server.token}"}
    run = run_to_end(project, output, dest / "logs", env)
    return MessyNight(run, project, output, server.token, list(server.posts), list(server.gets))


# --- Dagster's multiprocess executor: several writer steps at once ------------------------------------------------

UNLIMITED_POOLS = """\
telemetry:
  enabled: false
concurrency:
  pools:
    granularity: op
    default_limit: 16
"""


@dataclass
class MultiprocessNight:
    """``dg launch --job nightly_alignment`` (multiprocess executor) with writer pools unlimited in Dagster, so only
    kpi-align's own writer lock keeps the writers apart. ``waiting_together`` are the writer steps that had started,
    all at once, while the test held that lock."""

    process: subprocess.CompletedProcess[str]
    run_id: str | None
    waiting_together: list[str]
    failures: list[str]
    engine_text: str
    output: Path


WRITER_STEPS = ("raw__", "strategy_catalog")
MULTIPROCESS_CONFIG = json.dumps({"execution": {"config": {"multiprocess": {"max_concurrent": 4}}}})


def _started_writers(events: list) -> list[str]:
    import dagster as dg

    return sorted(
        e.step_key
        for e in events
        if e.dagster_event is not None
        and e.dagster_event.event_type == dg.DagsterEventType.STEP_START
        and (e.step_key or "").startswith(WRITER_STEPS)
    )


def multiprocess_night(project: Path, output: Path, dest: Path, env: dict[str, str]) -> MultiprocessNight:
    """Launch the job through ``dg`` on ``project`` (a first run: every source writes) while the test holds the
    warehouse writer lock, until several writer steps have started and wait for it; then let them go."""
    import dagster as dg

    home = dest / "dagster_home"
    home.mkdir(parents=True)
    (home / "dagster.yaml").write_text(UNLIMITED_POOLS)
    with dg.DagsterInstance.from_config(str(home)):
        pass  # create the instance's storage now: polling it while dg creates it races on the schema migration
    output.mkdir(parents=True, exist_ok=True)
    full_env = clean_env(
        {**env, "DAGSTER_HOME": str(home), "KPI_ALIGN_PROJECT": str(project), "KPI_ALIGN_OUTPUT_DIR": str(output)}
    )
    command = [str(Path(sys.executable).with_name("dg")), "launch", "--job", "nightly_alignment"]
    lock = FileLock(str(output / "warehouse.duckdb.writer.lock"))
    lock.acquire()
    with open(dest / "dg.stdout", "w+") as out, open(dest / "dg.stderr", "w+") as err:
        launched = subprocess.Popen(
            [*command, "--config-json", MULTIPROCESS_CONFIG], cwd=HERE.parents[1], env=full_env, stdout=out, stderr=err
        )
        try:
            together: list[str] = []

            def several_waiting() -> bool:
                nonlocal together
                together = _started_writers(run_events(home)[1])
                return len(together) >= 3 or launched.poll() is not None

            wait_for(several_waiting, "writer steps to start while the lock is held", timeout=600, interval=1.0)
        finally:
            lock.release()
        launched.wait(timeout=900)
        out.seek(0)
        err.seek(0)
        process = subprocess.CompletedProcess(launched.args, launched.returncode, out.read(), err.read())
    run_id, events = run_events(home)
    failures = [
        e.step_key for e in events if e.dagster_event and e.dagster_event.event_type == dg.DagsterEventType.STEP_FAILURE
    ]
    texts = "\n".join(e.user_message or "" for e in events)
    return MultiprocessNight(process, run_id, together, [f for f in failures if f], texts, output)
