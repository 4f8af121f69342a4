"""Gather every figure and finding of one report from the published marts.

Input: a read-only DuckDB connection to the served file (schema ``marts``, one run's snapshot). Output: a
JSON-serialisable dict — the single source of the HTML, the Markdown summary and the JSON file, so the three never
disagree. Dates are ISO strings, shares are fractions 0..1, scores 0..100.

Two modes:

* **nightly** (``as_of=None``): the alignment of the snapshot's own evaluation date (``marts.kpi_alignment``,
  ``marts.objective_alignment``).
* **as of a past date** (``as_of=DATE``): statuses from the history marts (``fct_alignment_history``,
  ``fct_objective_alignment_history``) for that evaluation date, and KPI values / objective scores of periods
  starting on or before it. Values, targets and links are those of the snapshot (restatements since then
  included): the report says so. A date no run ever evaluated raises :class:`DateNotEvaluated`.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb

GRAINS = ("day", "week", "month", "quarter", "year")
"""Grains from finest to coarsest."""

SERIES_POINTS = 400
"""Periods of a KPI's series kept in the report (the latest ones): 33 years of months, 13 months of days."""

PURSUED = ("measured", "unmeasured", "stale")
"""Objective alignment statuses of objectives being pursued (everything but ``inactive``)."""

REQUIRED_MARTS = ("dim_objectives", "dim_kpis", "bridge_kpi_objectives", "kpi_alignment", "objective_alignment")


class DateNotEvaluated(LookupError):
    """``--as-of`` names a date no run evaluated; the message lists the dates that can be rebuilt."""


class SnapshotIncomplete(RuntimeError):
    """The published snapshot lacks a mart the report needs (the message names it)."""


def _rows(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any] | None = None) -> list[dict[str, Any]]:
    cur = con.execute(sql, params or [])
    cols = [d[0] for d in cur.description]
    return [dict(zip(cols, (_jsonable(v) for v in row), strict=True)) for row in cur.fetchall()]


def _jsonable(value: Any) -> Any:
    if isinstance(value, dt.date | dt.datetime):
        return value.isoformat()
    if isinstance(value, float) and value != value:  # NaN
        return None
    return value


def _tables(con: duckdb.DuckDBPyConnection) -> set[str]:
    rows = con.execute("select table_name from information_schema.tables where table_schema = 'marts'").fetchall()
    return {r[0] for r in rows}


def _columns(con: duckdb.DuckDBPyConnection, table: str) -> set[str]:
    rows = con.execute(
        "select column_name from information_schema.columns where table_schema = 'marts' and table_name = ?",
        [table],
    ).fetchall()
    return {r[0] for r in rows}


def gather_findings(con: duckdb.DuckDBPyConnection, *, as_of: dt.date | None = None) -> dict[str, Any]:
    """Read the marts into the report's data model.

    Keys (JSON types): ``kind`` ('nightly' | 'as_of'); ``evaluation_date``; ``evaluated_dates`` (every date a run
    judged); ``catalog_revision`` and ``snapshot_built_at`` (the build that produced the snapshot, None when the
    mart is absent); ``summary`` (``kpis``, ``kpis_by_status``, ``share_kpis_connected``, ``kpis_active``,
    ``kpis_connected``, ``strategic_objectives_active``, ``strategic_objectives_measured``,
    ``share_strategic_measured``, ``objectives_pursued``, ``objectives_by_rag`` and ``strategic_by_rag``: counts
    of pursued objectives by the RAG of their latest score - green | amber | red | no_score); ``objectives``
    (every objective: catalog fields, alignment ``status``/``cause_text``/``since``, ``score`` block of its latest
    period at its finest scored grain with coverage, ``score_series``, ``kpi_links``); ``objective_tree``
    (nested ``{objective_id, children}``, pursued strategic roots first); ``kpis`` (every KPI: alignment fields,
    ``unit``, ``direction``, ``latest`` period and ``series`` at its own grain, dimension '*', oldest first);
    ``kpi_findings`` (KPIs neither connected nor retired); ``objective_findings`` (objectives neither measured
    nor inactive); ``unmapped_metrics``; ``source_freshness``; ``data_age_by_owner``; ``notes`` (caveats).

    Raises :class:`SnapshotIncomplete` when a required mart is missing and :class:`DateNotEvaluated` for an
    ``as_of`` date absent from the history marts.
    """
    tables = _tables(con)
    missing = [t for t in REQUIRED_MARTS if t not in tables]
    if missing:
        raise SnapshotIncomplete(f"the published snapshot has no marts.{', marts.'.join(missing)}: run the pipeline")
    notes: list[str] = []
    runs = (
        _rows(con, "select * from marts.fct_evaluation_runs order by evaluation_date")
        if ("fct_evaluation_runs" in tables)
        else []
    )
    evaluated = [r["evaluation_date"] for r in runs]
    if as_of is None:
        kpis = _current_kpis(con)
        objectives = _current_objectives(con)
        this = next((r for r in runs if r["is_this_build"]), None)
        evaluation_date = this["evaluation_date"] if this else (kpis[0]["evaluation_date"] if kpis else None)
    else:
        evaluation_date = as_of.isoformat()
        if "fct_alignment_history" not in tables:
            raise DateNotEvaluated("the published snapshot has no history marts (marts.fct_alignment_history)")
        history_dates = [
            r[0].isoformat()
            for r in con.execute(
                "select distinct evaluation_date from marts.fct_alignment_history order by 1"
            ).fetchall()
        ]
        if evaluation_date not in history_dates:
            raise DateNotEvaluated(_not_evaluated_message(as_of, history_dates))
        evaluated = sorted(set(evaluated) | set(history_dates))
        this = next((r for r in runs if r["evaluation_date"] == evaluation_date), None)
        kpis = _historic_kpis(con, as_of)
        objectives = _historic_objectives(con, as_of, tables)
        notes.append(
            f"Rebuilt for {evaluation_date} from the history marts: statuses are those judged for that date; KPI "
            "values, targets, scores and links are those of the latest published snapshot, cut at periods "
            f"starting on or before {evaluation_date} (later restatements included)."
        )
    cut = evaluation_date or "9999-12-31"

    links = _rows(
        con,
        """
        select kpi_id, objective_id, weight, informational, link_state, is_live
        from marts.bridge_kpi_objectives
        where kpi_id is not null and objective_id is not null
        order by objective_id, kpi_id
        """,
    )
    series_by_kpi = _kpi_series(con, cut) if "fct_kpi_values" in tables else {}
    scores = _objective_scores(con, cut) if "fct_objective_scores" in tables else {}

    for k in kpis:
        series = series_by_kpi.get(k["kpi_id"], [])
        k["series"] = [
            {key: p[key] for key in ("period_start", "period_end", "actual", "target", "expected", "score", "rag")}
            for p in series
        ]
        k["latest"] = series[-1] if series else None

    kpi_ids = {k["kpi_id"] for k in kpis}
    links_by_objective: dict[str, list[dict[str, Any]]] = {}
    for link in links:
        if link["kpi_id"] in kpi_ids:
            links_by_objective.setdefault(link["objective_id"], []).append(
                {key: link[key] for key in ("kpi_id", "weight", "informational", "link_state", "is_live")}
            )
    for o in objectives:
        o["kpi_links"] = links_by_objective.get(o["objective_id"], [])
        o["score"], o["score_series"] = scores.get(o["objective_id"], (None, []))

    return {
        "kind": "nightly" if as_of is None else "as_of",
        "evaluation_date": evaluation_date,
        "evaluated_dates": evaluated,
        "catalog_revision": this["catalog_revision"] if this else None,
        "snapshot_built_at": runs[0]["built_at"] if runs else None,
        "summary": _summary(kpis, objectives),
        "objectives": objectives,
        "objective_tree": _tree(objectives),
        "kpis": kpis,
        "kpi_findings": [
            {
                key: k.get(key)
                for key in (
                    "kpi_id",
                    "kpi_name",
                    "owner",
                    "status",
                    "cause_code",
                    "cause_text",
                    "since",
                    "transition",
                    "last_value_date",
                    "rename_candidates",
                )
            }
            for k in kpis
            if k["status"] not in ("connected", "retired")
        ],
        "objective_findings": [
            {
                **{
                    key: o.get(key)
                    for key in ("objective_id", "name", "level", "owner", "status", "cause_text", "since", "transition")
                },
                "alignment_status": o.get("status"),
            }
            for o in objectives
            if o.get("status") not in ("measured", "inactive", None)
        ],
        "unmapped_metrics": _unmapped(con, tables, as_of, notes),
        "source_freshness": _rows(con, "select * from marts.fct_source_freshness order by source_name")
        if "fct_source_freshness" in tables
        else [],
        "data_age_by_owner": _rows(
            con,
            "select * from marts.fct_data_age_by_owner where evaluation_date = cast(? as date) order by owner",
            [evaluation_date],
        )
        if "fct_data_age_by_owner" in tables and evaluation_date
        else [],
        "notes": notes,
    }


def _not_evaluated_message(as_of: dt.date, dates: list[str]) -> str:
    if not dates:
        return f"{as_of} was never evaluated: the history marts are empty (run `kpi-align run` first)"
    shown = ", ".join(dates[-10:])
    more = f" (and {len(dates) - 10} earlier)" if len(dates) > 10 else ""
    return (
        f"{as_of} was never evaluated, so there is no report to rebuild for it. Evaluated dates: {shown}{more}. "
        f"Evaluate it first with `kpi-align run --as-of {as_of}`."
    )


_KPI_SELECT = """
    a.kpi_id, a.kpi_name, a.owner, a.status, a.cause_code, a.cause_text, a.since, a.previous_status,
    a.transition, a.last_value_date, a.data_age_days, a.catalog_status, a.evaluation_date,
    d.unit, d.direction, d.aggregation, coalesce({grain}, d.grain) as grain, d.description
"""


def _current_kpis(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    extra = [c for c in ("rename_candidates", "last_period_start") if c in _columns(con, "kpi_alignment")]
    return _rows(
        con,
        f"""
        select {_KPI_SELECT.format(grain="a.grain")}{"".join(f", a.{c}" for c in extra)}
        from marts.kpi_alignment a
        left join marts.dim_kpis d using (kpi_id)
        order by a.kpi_id
        """,
    )


def _historic_kpis(con: duckdb.DuckDBPyConnection, as_of: dt.date) -> list[dict[str, Any]]:
    return _rows(
        con,
        f"""
        select {_KPI_SELECT.format(grain="null")}
        from marts.fct_alignment_history a
        left join marts.dim_kpis d using (kpi_id)
        where a.evaluation_date = ?
        order by a.kpi_id
        """,
        [as_of],
    )


_OBJECTIVE_CATALOG = """
    o.objective_id, o.level, o.parent_objective_id, o.catalog_status, o.time_frame_start, o.time_frame_end,
    o.description
"""


def _current_objectives(con: duckdb.DuckDBPyConnection) -> list[dict[str, Any]]:
    return _rows(
        con,
        f"""
        select {_OBJECTIVE_CATALOG}, coalesce(a.name, o.name) as name, coalesce(a.owner, o.owner) as owner,
               a.status, a.cause_code, a.cause_text, a.since, a.previous_status, a.transition,
               a.n_live_kpis, a.n_silent_kpis
        from marts.dim_objectives o
        left join marts.objective_alignment a using (objective_id)
        where o.objective_id is not null
        order by o.objective_id
        """,
    )


def _historic_objectives(con: duckdb.DuckDBPyConnection, as_of: dt.date, tables: set[str]) -> list[dict[str, Any]]:
    if "fct_objective_alignment_history" not in tables:
        raise DateNotEvaluated("the published snapshot has no marts.fct_objective_alignment_history")
    return _rows(
        con,
        f"""
        select {_OBJECTIVE_CATALOG}, coalesce(h.name, o.name) as name, coalesce(h.owner, o.owner) as owner,
               h.status, h.cause_code, h.cause_text, h.since, h.previous_status, h.transition,
               h.n_live_kpis, h.n_silent_kpis
        from marts.dim_objectives o
        left join marts.fct_objective_alignment_history h
            on h.objective_id = o.objective_id and h.evaluation_date = ?
        where o.objective_id is not null
        order by o.objective_id
        """,
        [as_of],
    )


def _kpi_series(con: duckdb.DuckDBPyConnection, cut: str) -> dict[str, list[dict[str, Any]]]:
    """Own-grain, all-dimension periods per KPI starting on or before ``cut``, the latest SERIES_POINTS."""
    rows = _rows(
        con,
        """
        select kpi_id, grain, period_start, period_end, actual_value as actual, target_value as target,
               expected_value as expected, score, rag_status as rag, trend, change_value, change_pct,
               forecast_value, forecast_shortfall, forecast_meets_target, target_type, as_of_date
        from (
            select *, row_number() over (partition by kpi_id order by period_start desc) as recency
            from marts.fct_kpi_values
            where dimension = '*' and is_native_grain and period_start <= cast(? as date)
        ) v
        where recency <= ?
        order by kpi_id, period_start
        """,
        [cut, SERIES_POINTS],
    )
    out: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        out.setdefault(r.pop("kpi_id"), []).append(r)
    return out


def _objective_scores(
    con: duckdb.DuckDBPyConnection, cut: str
) -> dict[str, tuple[dict[str, Any] | None, list[dict[str, Any]]]]:
    """Per objective: its latest period (starting on or before ``cut``) at the finest grain it is scored at, and
    the last 24 periods of that grain (oldest first) for a sparkline."""
    rows = _rows(
        con,
        """
        select objective_id, grain, period_start, period_end, score, rag_status as rag, previous_score,
               score_change, fresh_weight_share, n_inputs_total, n_inputs_scored, n_inputs_fresh, n_inputs_silent,
               n_inputs_without_target, n_inputs_without_data, kpis_without_data, kpis_without_target, kpis_silent
        from marts.fct_objective_scores
        where period_start <= cast(? as date)
        order by objective_id, period_start
        """,
        [cut],
    )
    by_objective: dict[str, list[dict[str, Any]]] = {}
    for r in rows:
        by_objective.setdefault(r["objective_id"], []).append(r)
    out: dict[str, tuple[dict[str, Any] | None, list[dict[str, Any]]]] = {}
    for objective_id, periods in by_objective.items():
        grains = {p["grain"] for p in periods}
        finest = min(grains, key=lambda g: GRAINS.index(g) if g in GRAINS else len(GRAINS))
        at_grain = [p for p in periods if p["grain"] == finest]
        latest = dict(at_grain[-1])
        latest.pop("objective_id")
        spark = [
            {"period_start": p["period_start"], "actual": p["score"], "target": None, "rag": p["rag"]}
            for p in at_grain[-24:]
        ]
        out[objective_id] = (latest, spark)
    return out


def _rag_bucket(objective: dict[str, Any]) -> str:
    rag = (objective.get("score") or {}).get("rag")
    return rag if rag in ("green", "amber", "red") else "no_score"


def _summary(kpis: list[dict[str, Any]], objectives: list[dict[str, Any]]) -> dict[str, Any]:
    status_counts: dict[str, int] = {}
    for k in kpis:
        status_counts[k["status"]] = status_counts.get(k["status"], 0) + 1
    active = [k for k in kpis if k["status"] != "retired"]
    connected = sum(k["status"] == "connected" for k in active)
    pursued = [o for o in objectives if o.get("status") in PURSUED]
    strategic = [o for o in pursued if o["level"] == "strategic"]
    measured = sum(o["status"] == "measured" for o in strategic)

    def by_rag(objs: list[dict[str, Any]]) -> dict[str, int]:
        counts = dict.fromkeys(("green", "amber", "red", "no_score"), 0)
        for o in objs:
            counts[_rag_bucket(o)] += 1
        return counts

    return {
        "kpis": len(kpis),
        "kpis_by_status": status_counts,
        "kpis_active": len(active),
        "kpis_connected": connected,
        "share_kpis_connected": _share(connected, len(active)),
        "strategic_objectives_active": len(strategic),
        "strategic_objectives_measured": measured,
        "share_strategic_measured": _share(measured, len(strategic)),
        "objectives_pursued": len(pursued),
        "objectives_by_rag": by_rag(pursued),
        "strategic_by_rag": by_rag(strategic),
    }


def _tree(objectives: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Nested ids: pursued before inactive, strategic before operational, then by id. Cycle-safe."""
    ids = {o["objective_id"] for o in objectives}
    children: dict[str | None, list[dict[str, Any]]] = {}
    for o in objectives:
        parent = o.get("parent_objective_id")
        children.setdefault(parent if parent in ids else None, []).append(o)

    def order(o: dict[str, Any]) -> tuple[bool, bool, str]:
        return (o.get("status") == "inactive", o["level"] != "strategic", o["objective_id"])

    seen: set[str] = set()

    def node(o: dict[str, Any]) -> dict[str, Any]:
        seen.add(o["objective_id"])
        kids = [c for c in sorted(children.get(o["objective_id"], []), key=order) if c["objective_id"] not in seen]
        return {"objective_id": o["objective_id"], "children": [node(c) for c in kids]}

    roots = [node(o) for o in sorted(children.get(None, []), key=order)]
    # objectives only reachable through a parent cycle have no root: list them at the top level
    roots += [node(o) for o in sorted(objectives, key=order) if o["objective_id"] not in seen]
    return roots


def _unmapped(
    con: duckdb.DuckDBPyConnection, tables: set[str], as_of: dt.date | None, notes: list[str]
) -> list[dict[str, Any]]:
    if "unmapped_metrics" not in tables:
        return []
    if as_of is None:
        return _rows(con, "select * from marts.unmapped_metrics order by metric_name, source_name")
    notes.append("Unmapped metrics are not kept in history: shown as of the snapshot, arriving by that date.")
    return _rows(
        con,
        "select * from marts.unmapped_metrics where first_row_date <= ? order by metric_name, source_name",
        [as_of],
    )


def history_baseline(con: duckdb.DuckDBPyConnection, before: str | None) -> dict[str, Any] | None:
    """Statuses of the latest evaluation date earlier than ``before`` from the history marts, for a "what changed"
    when no earlier report file exists: ``{evaluation_date, kpis: {id: {...}}, objectives: {id: {...}}}`` or None
    when there is no such date (or no history marts)."""
    tables = _tables(con)
    if before is None or "fct_alignment_history" not in tables:
        return None
    found = con.execute(
        "select max(evaluation_date) from marts.fct_alignment_history where evaluation_date < cast(? as date)",
        [before],
    ).fetchall()[0][0]
    if found is None:
        return None
    kpis = _rows(
        con,
        "select kpi_id, kpi_name, owner, status, cause_text from marts.fct_alignment_history where evaluation_date = ?",
        [found],
    )
    objectives = (
        _rows(
            con,
            "select objective_id, name, level, status, cause_text from marts.fct_objective_alignment_history "
            "where evaluation_date = ?",
            [found],
        )
        if "fct_objective_alignment_history" in tables
        else []
    )
    return {
        "evaluation_date": found.isoformat(),
        "kpis": {k["kpi_id"]: k for k in kpis},
        "objectives": {o["objective_id"]: o for o in objectives},
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
