"""Gather every figure and finding of one report from the published marts.

Input: a read-only DuckDB connection to the served file (``marts`` schema). Output: a JSON-serialisable dict —
the single source for the HTML, the Markdown summary and the JSON file, so the three never disagree.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import duckdb


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


def gather_findings(con: duckdb.DuckDBPyConnection) -> dict[str, Any]:
    """Read the marts into the report's data model.

    Keys: ``evaluation_date``; ``summary`` (counts by KPI status and objective status, share of active strategic
    objectives measured, share of active KPIs connected); ``objectives`` (the tree, each with its KPIs and their
    latest actual vs target); ``kpi_findings`` (KPIs not connected, with owner, cause); ``objective_findings``
    (objectives not measured); ``kpis`` (every KPI's alignment row).
    """
    kpis = _rows(con, "select * from marts.kpi_alignment order by kpi_id")
    objectives = _rows(
        con,
        """
        select o.*, a.status as alignment_status, a.cause_text, a.n_live_kpis
        from marts.dim_objectives o
        left join marts.objective_alignment a using (objective_id)
        order by o.level desc, o.objective_id
        """,
    )
    latest = _rows(
        con,
        """
        select kpi_id, period_start, period_end, grain, actual_value, target_value
        from marts.fct_kpi_values
        where dimension = '*' and is_native_grain
        qualify row_number() over (partition by kpi_id order by period_start desc) = 1
        """,
    )
    links = _rows(con, "select kpi_id, objective_id, weight, informational from marts.bridge_kpi_objectives")
    latest_by_kpi = {r["kpi_id"]: r for r in latest}
    kpi_by_id = {k["kpi_id"]: k for k in kpis}

    by_objective: dict[str, list[dict[str, Any]]] = {}
    for link in links:
        k = kpi_by_id.get(link["kpi_id"])
        if k is not None:
            by_objective.setdefault(link["objective_id"], []).append(
                {
                    **k,
                    **latest_by_kpi.get(k["kpi_id"], {}),
                    "weight": link["weight"],
                    "informational": link["informational"],
                }
            )

    children: dict[str | None, list[dict[str, Any]]] = {}
    for o in objectives:
        o["kpis"] = by_objective.get(o["objective_id"], [])
        children.setdefault(o.get("parent_objective_id"), []).append(o)
    for o in objectives:
        o["children"] = children.get(o["objective_id"], [])
    known = {o["objective_id"] for o in objectives}
    roots = [o for o in objectives if o.get("parent_objective_id") not in known]

    status_counts: dict[str, int] = {}
    for k in kpis:
        status_counts[k["status"]] = status_counts.get(k["status"], 0) + 1
    active_kpis = [k for k in kpis if k["status"] != "retired"]
    strategic = [
        o
        for o in objectives
        if o["level"] == "strategic" and o.get("alignment_status") in ("measured", "unmeasured", "stale")
    ]
    evaluation = kpis[0]["evaluation_date"] if kpis else None
    return {
        "evaluation_date": evaluation,
        "summary": {
            "kpis": len(kpis),
            "kpis_by_status": status_counts,
            "share_kpis_connected": _share(sum(k["status"] == "connected" for k in active_kpis), len(active_kpis)),
            "strategic_objectives_active": len(strategic),
            "share_strategic_measured": _share(
                sum(o["alignment_status"] == "measured" for o in strategic), len(strategic)
            ),
        },
        "objective_tree": roots,
        "kpi_findings": [k for k in kpis if k["status"] not in ("connected", "retired")],
        "objective_findings": [
            {
                key: o[key]
                for key in (
                    "objective_id",
                    "name",
                    "level",
                    "owner",
                    "alignment_status",
                    "cause_text",
                )
            }
            for o in objectives
            if o.get("alignment_status") not in ("measured", "inactive", None)
        ],
        "kpis": [{**k, **latest_by_kpi.get(k["kpi_id"], {})} for k in kpis],
    }


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None
