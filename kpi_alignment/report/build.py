"""Write one report: ``reports/alignment-<date>-<run>.html`` + ``.json`` + ``.md``, then ``latest.*``.

Data come from the published snapshot (``serving/kpi_alignment.duckdb``), opened read-only, so a report never
mixes two runs. The HTML is self-contained (inline CSS, charts as inline SVG, no script, no request).

Failure handling (:func:`build_report` with ``problems``): when the run's checks errored or its inputs are
incomplete, the dated report is still written, with a banner saying what broke, but ``latest.*`` stay the previous
good report and ``latest-failure.html`` (+ ``.json``/``.md``, and a dated ``failure-*`` copy) says what broke and
which report ``latest.html`` still shows. A later complete report removes ``latest-failure.*``. When the run broke
before the report could be built (dbt failed, nothing new was published), :func:`write_failure_notice` writes the
notice alone. ``latest.*`` are replaced atomically, and only after every file of the new report is written.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import math
import os
import re
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from jinja2 import Environment, PackageLoader, Undefined, select_autoescape

from kpi_alignment.project import Project
from kpi_alignment.report.changes import compare, find_previous_report
from kpi_alignment.report.charts import NO_UNIT, SHARE_UNITS, kpi_chart_svg, sparkline_svg
from kpi_alignment.report.findings import gather_findings, history_baseline
from kpi_alignment.warehouse import WarehousePaths, connect

REPORT_FORMAT = 2
"""Version of the report's JSON layout (``format`` key); bump on incompatible changes."""

MAX_KPI_CHARTS = 60
"""Larger charts per report: KPIs beyond it (in map order) get their sparkline only, keeping the page light."""

FAILURE_STEM = "latest-failure"

_ENV = Environment(
    loader=PackageLoader("kpi_alignment.report", "templates"),
    autoescape=select_autoescape(["html", "j2"], default=True),
    trim_blocks=True,
    lstrip_blocks=True,
)


def _md_text(value: Any) -> Any:
    """Every value printed into the Markdown summary: ``&``, ``<`` and ``>`` as entities. Markdown renderers pass
    raw HTML through and Slack reads ``<...>`` as links or mentions (its docs ask for exactly these three), so a KPI
    named ``<script>`` must arrive as text. None prints as nothing."""
    if value is None:
        return ""
    if isinstance(value, str):
        return value.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
    return value


_MD_ENV = Environment(
    loader=PackageLoader("kpi_alignment.report", "templates"),
    autoescape=False,  # Markdown, not HTML: values are escaped by _md_text instead
    finalize=_md_text,
    trim_blocks=True,
    lstrip_blocks=True,
)


@dataclass(frozen=True)
class ReportFiles:
    """Paths of one written report and its Markdown text (for chat bodies and Dagster previews)."""

    html: Path
    json: Path
    markdown: Path
    markdown_text: str


@dataclass(frozen=True)
class RunProblem:
    """Something that broke in a run and makes its report incomplete.

    ``kind``: ``check`` (an asset check failed with severity ERROR, e.g. a source's ``delivery``), ``step`` (a
    step of the job failed, e.g. the dbt build), ``source`` (the snapshot shows the source's latest load with
    failed files) or ``report`` (the report itself could not be built). ``where``: the check key
    (``raw/flights:delivery``), step key or source name. ``message``: what broke, for people. ``source``: the
    source concerned, when known.
    """

    kind: str
    where: str
    message: str
    source: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ReportOutcome:
    """What :func:`build_report` wrote.

    ``report``: the dated HTML/JSON/Markdown. ``notice``: the failure notice (``latest-failure.*``) when the run
    had problems, else None. ``latest_updated``: ``latest.*`` now show this report (a complete nightly report).
    ``problems``: what made it incomplete.
    """

    report: ReportFiles | None
    notice: ReportFiles | None
    latest_updated: bool
    problems: tuple[RunProblem, ...] = field(default_factory=tuple)

    @property
    def complete(self) -> bool:
        return not self.problems


# --- formatting filters ------------------------------------------------------------------------------------------


def fmt_value(value: Any, unit: str | None = None) -> str:
    """A KPI value for people: shares as percentages (0.8123 -> '81.2%'), large numbers with thousands separators,
    others with up to 2 decimals, followed by the unit (not for shares). None -> '—'."""
    if value is None:
        return "—"
    if not isinstance(value, int | float):
        return str(value)
    u = (unit or "").strip()
    if u in NO_UNIT:
        u = ""
    if u.lower() in SHARE_UNITS:
        return f"{value:.1%}"
    if float(value).is_integer():
        text = f"{int(value):,}"
    elif abs(value) >= 1000:
        text = f"{value:,.0f}"
    else:
        text = f"{value:,.2f}"
    return f"{text} {u}" if u else text


def fmt_share(value: Any) -> str:
    """A share 0..1 as a percentage with one decimal; None -> '—'."""
    return "—" if value is None else f"{value:.1%}"


def fmt_score(value: Any) -> str:
    """A 0-100 score as a whole number, rounded down so the number agrees with its RAG (79.7 is red when amber
    starts at 80, and shows as 79); None -> '—'."""
    return "—" if value is None else str(math.floor(value + 1e-9))


def fmt_delta(value: Any, unit: str | None = None) -> str:
    """A difference between two values of a KPI: shares in percentage points (0.162 -> '16.2 pp'), else as
    :func:`fmt_value`."""
    if value is not None and (unit or "").strip().lower() in SHARE_UNITS:
        return f"{value * 100:.1f} pp"
    return fmt_value(value, unit)


def fmt_date(value: Any) -> str:
    """An ISO date or timestamp as '10 Jan 2014' (timestamps: '10 Jan 2014 06:02 UTC'); None -> '—'."""
    if not value:
        return "—"
    text = str(value)
    try:
        if len(text) > 10:
            ts = dt.datetime.fromisoformat(text)
            return ts.strftime("%d %b %Y %H:%M UTC").lstrip("0")
        return dt.date.fromisoformat(text).strftime("%d %b %Y").lstrip("0")
    except ValueError:
        return text


def fmt_period(start: Any, grain: str | None = None) -> str:
    """A period by its start date and grain: 'Dec 2013' (month), '2013 Q4' (quarter, calendar quarters of the
    start month), '2013' (year), 'week of 2 Dec 2013', '31 Dec 2013' (day)."""
    if not start:
        return "—"
    try:
        d = dt.date.fromisoformat(str(start)[:10])
    except ValueError:
        return str(start)
    if grain == "month":
        return d.strftime("%b %Y")
    if grain == "quarter":
        return f"{d.year} Q{(d.month - 1) // 3 + 1}"
    if grain == "year":
        return str(d.year)
    if grain == "week":
        return "week of " + d.strftime("%d %b %Y").lstrip("0")
    return d.strftime("%d %b %Y").lstrip("0")


def clip(value: Any, limit: int = 240) -> str:
    """Text cut to ``limit`` characters at a word boundary, with '…' (the full text stays in the findings)."""
    text = "" if value is None else str(value)
    if len(text) <= limit:
        return text
    return text[:limit].rsplit(" ", 1)[0].rstrip(",;") + " …"


def id_list(value: Any, limit: int = 8) -> str:
    """A comma-separated id list shortened to its first ``limit`` ids: 'A, B, … and 12 more'."""
    ids = [i.strip() for i in str(value or "").split(",") if i.strip()]
    if len(ids) <= limit:
        return ", ".join(ids)
    return ", ".join(ids[:limit]) + f", … and {len(ids) - limit} more"


def label(value: Any) -> str:
    """A code as words: 'newly_orphaned' -> 'newly orphaned', 'no_score' -> 'no score'."""
    return "" if value is None else str(value).replace("_", " ")


def _undefined_is_none(fmt: Any) -> Any:
    """A filter that reads a missing field (Jinja ``Undefined``, e.g. no value yet for a KPI) as None."""

    @functools.wraps(fmt)
    def wrapped(value: Any, *args: Any, **kwargs: Any) -> Any:
        return fmt(None if isinstance(value, Undefined) else value, *args, **kwargs)

    return wrapped


for _env in (_ENV, _MD_ENV):
    _env.filters.update(
        {
            name: _undefined_is_none(fmt)
            for name, fmt in {
                "value": fmt_value,
                "delta": fmt_delta,
                "share": fmt_share,
                "score": fmt_score,
                "date": fmt_date,
                "period": fmt_period,
                "label": label,
                "clip": clip,
                "ids": id_list,
            }.items()
        }
    )


# --- rendering -----------------------------------------------------------------------------------------------------


def _view(report: dict[str, Any], *, max_charts: int = MAX_KPI_CHARTS) -> dict[str, Any]:
    """What the HTML needs beyond the JSON: lookups, map order, SVG charts and sparklines."""
    objectives = {o["objective_id"]: o for o in report.get("objectives", [])}
    kpis = {k["kpi_id"]: k for k in report.get("kpis", [])}
    order: list[str] = []

    def walk(nodes: list[dict[str, Any]]) -> None:
        for n in nodes:
            order.append(n["objective_id"])
            walk(n["children"])

    walk(report.get("objective_tree", []))
    # KPIs in map order (a KPI under several objectives once, at its first place), then the unlinked ones
    chart_order = list(
        dict.fromkeys([link["kpi_id"] for oid in order for link in objectives[oid].get("kpi_links", [])] + list(kpis))
    )
    with_data = [k for k in chart_order if any(p.get("actual") is not None for p in kpis[k].get("series", []))]
    charted = with_data[:max_charts]
    return {
        "objectives": objectives,
        "kpis": kpis,
        "objective_order": order,
        "charted": charted,
        "not_charted": with_data[max_charts:],
        "no_data": [k for k in chart_order if k not in with_data],
        "charts": {
            k: kpi_chart_svg(
                kpis[k]["series"],
                chart_id=k,
                unit=kpis[k].get("unit"),
                title=f"{kpis[k].get('kpi_name') or k}: actual vs target",
                grain=kpis[k].get("grain"),
            )
            for k in charted
        },
        "sparks": {
            k: sparkline_svg(kpis[k].get("series", []), label=f"{kpis[k].get('kpi_name') or k}, recent periods")
            for k in kpis
        },
        "objective_sparks": {
            o: sparkline_svg(objectives[o].get("score_series", []), label=f"{objectives[o].get('name') or o} score")
            for o in objectives
        },
    }


def render_html(report: dict[str, Any], *, max_charts: int = MAX_KPI_CHARTS) -> str:
    """The self-contained HTML page (inline CSS and SVG, no script, no external request). Every string from the
    data is escaped by Jinja's autoescape; only the chart SVG built here is inserted as markup."""
    return _ENV.get_template("report.html.j2").render(r=report, v=_view(report, max_charts=max_charts))


def render_markdown(report: dict[str, Any]) -> str:
    """A short summary for chat or e-mail bodies."""
    return _MD_ENV.get_template("summary.md.j2").render(r=report)


# --- building ------------------------------------------------------------------------------------------------------


def short_id(run_id: str) -> str:
    """The run id as used in file names: a Dagster run id's first 8 characters, else the id made file-safe."""
    if re.fullmatch(r"[0-9a-f]{8}-[0-9a-f-]{27}", run_id):
        return run_id[:8]
    return re.sub(r"[^A-Za-z0-9-]+", "-", run_id)[:32] or "run"


def build_report(
    project: Project,
    paths: WarehousePaths,
    *,
    run_id: str,
    problems: Sequence[RunProblem] = (),
    as_of: dt.date | None = None,
    max_charts: int = MAX_KPI_CHARTS,
) -> ReportOutcome:
    """Gather the published marts into a report and write it (HTML, JSON, Markdown).

    ``run_id``: the Dagster run (or ``manual-…``) the report belongs to. ``problems``: what broke in that run
    (see :class:`RunProblem`); the snapshot itself adds sources whose latest load had failed files. ``as_of``:
    rebuild the report of a past evaluation date from the history marts (written as
    ``alignment-<date>-asof-<id>.*``; never touches ``latest.*`` or the failure notice).

    Complete nightly report: dated files, then ``latest.*``, and ``latest-failure.*`` removed. With problems:
    dated files with a banner plus the failure notice; ``latest.*`` untouched.

    Raises ``FileNotFoundError`` when nothing has been published yet,
    :class:`~kpi_alignment.report.findings.DateNotEvaluated` for an ``as_of`` date never evaluated, and
    :class:`~kpi_alignment.report.findings.SnapshotIncomplete` for a snapshot without the alignment marts. With
    ``problems`` the failure notice is written before such an error propagates.
    """
    problems = list(problems)
    try:
        return _build(project, paths, run_id=run_id, problems=problems, as_of=as_of, max_charts=max_charts)
    except Exception as e:
        if problems and as_of is None:
            broken = [*problems, RunProblem("report", "report", f"the report could not be built: {e}")]
            write_failure_notice(project, paths, run_id=run_id, problems=broken)
        raise


def _build(
    project: Project,
    paths: WarehousePaths,
    *,
    run_id: str,
    problems: list[RunProblem],
    as_of: dt.date | None,
    max_charts: int,
) -> ReportOutcome:
    if not paths.serving_database.is_file():
        raise FileNotFoundError(f"{paths.serving_database} does not exist: the marts were never published")
    con = connect(paths.serving_database, read_only=True)
    try:
        findings = gather_findings(con, as_of=as_of)
        history = history_baseline(con, findings["evaluation_date"])
    finally:
        con.close()
    now = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
    # a rebuild from history is about a past date: this run's problems are not its problems
    problems = [*problems, *_snapshot_problems(findings, problems)] if as_of is None else []
    for row in findings["source_freshness"]:
        due = row.get("expected_by")
        row["overdue"] = bool(due) and dt.datetime.fromisoformat(due) < now
    report: dict[str, Any] = {
        "format": REPORT_FORMAT,
        "project": project.settings.name,
        "title": project.settings.title or f"KPI alignment — {project.settings.name}",
        "generated_at": now.isoformat() + "Z",
        "run_id": run_id,
        **findings,
        "catalog_revision": findings["catalog_revision"] or project.catalog_revision(),
        "complete": not problems,
        "problems": [p.as_dict() for p in problems],
        "reproduce": f"kpi-align report --as-of {findings['evaluation_date']} --project {project.root}",
    }
    previous = find_previous_report(paths.reports_dir, report)
    report["changes"] = compare(
        report,
        previous[0] if previous else None,
        previous_file=previous[1].name if previous else None,
        history=history,
    )
    paths.reports_dir.mkdir(parents=True, exist_ok=True)
    date = findings["evaluation_date"] or "undated"
    stem = f"alignment-{date}-asof-{short_id(run_id)}" if as_of else f"alignment-{date}-{short_id(run_id)}"
    files = _write_set(paths.reports_dir, stem, report, render_html(report, max_charts=max_charts))
    if as_of is not None:
        return ReportOutcome(files, None, False)
    if problems:
        notice = write_failure_notice(project, paths, run_id=run_id, problems=problems, report=files)
        return ReportOutcome(files, notice, False, tuple(problems))
    for ext in ("html", "json", "md"):
        _atomic_write(paths.reports_dir / f"latest.{ext}", getattr(files, "markdown" if ext == "md" else ext))
    for ext in ("html", "json", "md"):
        (paths.reports_dir / f"{FAILURE_STEM}.{ext}").unlink(missing_ok=True)
    return ReportOutcome(files, None, True)


def _snapshot_problems(findings: dict[str, Any], known: list[RunProblem]) -> list[RunProblem]:
    """Sources whose latest load in the snapshot had failed files, unless a problem already names them."""
    named = {p.source for p in known if p.source}
    out = []
    for row in findings.get("source_freshness", []):
        if (row.get("last_load_files_failed") or 0) > 0 and row["source_name"] not in named:
            out.append(
                RunProblem(
                    "source",
                    row["source_name"],
                    f"{row['last_load_files_failed']} of {row.get('last_load_files')} file(s) failed in the latest "
                    f"load ({row.get('last_load_id')}): {row.get('last_load_failures') or 'no reason recorded'}",
                    source=row["source_name"],
                )
            )
    return out


def _write_set(folder: Path, stem: str, report: dict[str, Any], html: str, markdown: str | None = None) -> ReportFiles:
    """Write ``<stem>.html/.json/.md`` atomically; returns their paths."""
    md = markdown if markdown is not None else render_markdown(report)
    written = {
        "html": _atomic_write_text(folder / f"{stem}.html", html),
        "json": _atomic_write_text(folder / f"{stem}.json", json.dumps(report, indent=1, default=str)),
        "md": _atomic_write_text(folder / f"{stem}.md", md),
    }
    return ReportFiles(written["html"], written["json"], written["md"], md)


def write_failure_notice(
    project: Project,
    paths: WarehousePaths,
    *,
    run_id: str,
    problems: Sequence[RunProblem],
    report: ReportFiles | None = None,
) -> ReportFiles:
    """Write the failure notice of run ``run_id``: ``failure-<date>-<run>.*`` and ``latest-failure.*``.

    It lists ``problems``, names the report ``latest.html`` still shows (from ``latest.json``; none yet is said
    too) and links the incomplete dated ``report`` when one was written. ``latest.*`` are never touched.
    Returns the ``latest-failure.*`` files.
    """
    paths.reports_dir.mkdir(parents=True, exist_ok=True)
    latest_good = None
    latest_json = paths.reports_dir / "latest.json"
    if latest_json.is_file():
        try:
            data = json.loads(latest_json.read_text(encoding="utf-8"))
            latest_good = {k: data.get(k) for k in ("evaluation_date", "run_id", "generated_at", "title")}
        except (OSError, ValueError):
            latest_good = None
    now = dt.datetime.now(dt.UTC).replace(microsecond=0, tzinfo=None)
    notice = {
        "format": REPORT_FORMAT,
        "kind": "failure_notice",
        "project": project.settings.name,
        "title": f"{project.settings.title or 'KPI alignment — ' + project.settings.name} — report NOT updated",
        "generated_at": now.isoformat() + "Z",
        "run_id": run_id,
        "evaluation_date": project.evaluation_date().isoformat(),
        "problems": [p.as_dict() for p in problems],
        "latest_good": latest_good,
        "incomplete_report": report.html.name if report else None,
        "reproduce": f"kpi-align run --project {project.root}",
    }
    html = _ENV.get_template("failure.html.j2").render(n=notice)
    md = _MD_ENV.get_template("failure.md.j2").render(n=notice)
    dated = f"failure-{now.strftime('%Y%m%dT%H%M%SZ')}-{short_id(run_id)}"
    _write_set(paths.reports_dir, dated, notice, html, md)
    return _write_set(paths.reports_dir, FAILURE_STEM, notice, html, md)


def failure_notice_run_id(paths: WarehousePaths) -> str | None:
    """The run id of the current ``latest-failure.json``, or None when there is none (or it cannot be read)."""
    path = paths.reports_dir / f"{FAILURE_STEM}.json"
    try:
        return json.loads(path.read_text(encoding="utf-8")).get("run_id")
    except (OSError, ValueError, AttributeError):
        return None


def _atomic_write_text(path: Path, text: str) -> Path:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)
    return path


def _atomic_write(path: Path, source: Path) -> Path:
    """Copy ``source`` over ``path`` atomically (write beside, then rename)."""
    return _atomic_write_text(path, source.read_text(encoding="utf-8"))
