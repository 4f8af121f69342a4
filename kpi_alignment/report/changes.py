"""What changed since the previous report: KPI and objective status changes, RAG changes, restated values.

The baseline is, in order of preference:

1. **the previous report's JSON** in the reports folder — for a nightly report the most recently generated
   complete nightly report built from a *different* snapshot (a rebuild of the same snapshot compares with the
   report before it, else with the newest report of that snapshot: no change); for an ``--as-of`` report the
   latest complete nightly report of an earlier evaluation date;
2. **the history marts** (:func:`kpi_alignment.report.findings.history_baseline`): statuses of the latest earlier
   evaluation date — status changes only (no RAG or values are kept there);
3. nothing: the first report says so.

Everything compared is in the report's own data model (:func:`~kpi_alignment.report.findings.gather_findings`),
so a report file from an older version with fewer keys compares on what it has.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

REPORT_GLOB = "alignment-*.json"
"""Dated report JSON files (``latest.json`` and failure notices are never baselines)."""

RESTATEMENT_TOLERANCE = 1e-9
"""Relative difference above which a period's value counts as restated: |a - b| > 1e-9 x max(1, |a|, |b|)."""


def find_previous_report(reports_dir: Path, current: dict[str, Any]) -> tuple[dict[str, Any], Path] | None:
    """The baseline report file for ``current`` (see module docstring) and its path, or None.

    Only complete reports qualify (``kind`` 'nightly', no ``problems``): an incomplete report never became
    ``latest.html``, so readers never saw it. Unreadable files are skipped.
    """
    if not reports_dir.is_dir():
        return None
    as_of = current.get("evaluation_date") if current.get("kind") == "as_of" else None
    built = current.get("snapshot_built_at")
    best: tuple[tuple[str, str], dict[str, Any], Path] | None = None
    same: tuple[tuple[str, str], dict[str, Any], Path] | None = None  # newest report of this very snapshot
    for path in sorted(reports_dir.glob(REPORT_GLOB)):
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        if not isinstance(data, dict) or data.get("kind") != "nightly" or data.get("problems"):
            continue
        if data.get("run_id") == current.get("run_id"):
            continue
        if as_of is not None:
            if not data.get("evaluation_date") or data["evaluation_date"] >= as_of:
                continue
            rank = (data["evaluation_date"], data.get("generated_at") or "")
        else:
            rank = (data.get("generated_at") or "", path.name)
            if built is not None and data.get("snapshot_built_at") == built:
                # the same snapshot: a rebuild compares with the report before it, if there is one
                if same is None or rank > same[0]:
                    same = (rank, data, path)
                continue
        if best is None or rank > best[0]:
            best = (rank, data, path)
    best = best or same
    return (best[1], best[2]) if best else None


def compare(
    current: dict[str, Any],
    previous: dict[str, Any] | None = None,
    *,
    previous_file: str | None = None,
    history: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """The "what changed" section of ``current`` against a previous report (preferred) or a history baseline.

    Returns ``basis`` ('previous_report' | 'history' | 'none'), ``first_report`` (no baseline at all),
    ``previous`` ({run_id, evaluation_date, generated_at, file} of the baseline), ``kpi_status_changes``
    ([{kpi_id, kpi_name, owner, change, from_status, to_status, cause_text, since}], change = 'reconnected' when
    a KPI became connected again, else 'newly_<status>'), ``kpis_added`` / ``kpis_removed``,
    ``objective_status_changes``, ``objective_rag_changes`` ([{objective_id, name, from_rag, to_rag, from_score,
    to_score, from_period, to_period}]), ``restated_values`` ([{kpi_id, kpi_name, period_start, previous_value,
    value}] for periods both reports hold whose value differs beyond :data:`RESTATEMENT_TOLERANCE`, or that lost
    their value), ``unmapped_added`` / ``unmapped_gone`` (metric names) and ``n_changes`` (their total).
    """
    out: dict[str, Any] = {
        "basis": "none",
        "first_report": True,
        "previous": None,
        "kpi_status_changes": [],
        "kpis_added": [],
        "kpis_removed": [],
        "objective_status_changes": [],
        "objective_rag_changes": [],
        "restated_values": [],
        "unmapped_added": [],
        "unmapped_gone": [],
        "n_changes": 0,
    }
    if previous is not None:
        out.update(basis="previous_report", first_report=False)
        out["previous"] = {
            "run_id": previous.get("run_id"),
            "evaluation_date": previous.get("evaluation_date"),
            "generated_at": previous.get("generated_at"),
            "file": previous_file,
        }
        before_kpis = {k["kpi_id"]: k for k in previous.get("kpis", []) if k.get("kpi_id")}
        before_objectives = {o["objective_id"]: o for o in previous.get("objectives", []) if o.get("objective_id")}
    elif history is not None:
        out.update(basis="history", first_report=False)
        out["previous"] = {
            "run_id": None,
            "evaluation_date": history["evaluation_date"],
            "generated_at": None,
            "file": None,
        }
        before_kpis = history["kpis"]
        before_objectives = history["objectives"]
    else:
        return out

    now_kpis = {k["kpi_id"]: k for k in current.get("kpis", [])}
    for kpi_id, k in now_kpis.items():
        old = before_kpis.get(kpi_id)
        if old is None:
            out["kpis_added"].append(_kpi_ref(k))
        elif old.get("status") != k.get("status"):
            out["kpi_status_changes"].append(
                {
                    **_kpi_ref(k),
                    "change": "reconnected" if k.get("status") == "connected" else f"newly_{k.get('status')}",
                    "from_status": old.get("status"),
                    "to_status": k.get("status"),
                    "cause_text": k.get("cause_text"),
                    "since": k.get("since"),
                }
            )
    out["kpis_removed"] = [_kpi_ref(old) for kpi_id, old in sorted(before_kpis.items()) if kpi_id not in now_kpis]

    for o in current.get("objectives", []):
        old = before_objectives.get(o["objective_id"])
        if old is None:
            continue
        if old.get("status") != o.get("status"):
            out["objective_status_changes"].append(
                {
                    "objective_id": o["objective_id"],
                    "name": o.get("name"),
                    "level": o.get("level"),
                    "from_status": old.get("status"),
                    "to_status": o.get("status"),
                    "cause_text": o.get("cause_text"),
                }
            )
        if out["basis"] == "previous_report":
            before, now = old.get("score") or {}, o.get("score") or {}
            if before.get("rag") != now.get("rag") and {before.get("rag"), now.get("rag")} & {"green", "amber", "red"}:
                out["objective_rag_changes"].append(
                    {
                        "objective_id": o["objective_id"],
                        "name": o.get("name"),
                        "from_rag": before.get("rag"),
                        "to_rag": now.get("rag"),
                        "from_score": before.get("score"),
                        "to_score": now.get("score"),
                        "from_period": before.get("period_start"),
                        "to_period": now.get("period_start"),
                    }
                )

    if out["basis"] == "previous_report":
        for kpi_id, k in now_kpis.items():
            old = before_kpis.get(kpi_id)
            if old is not None:
                out["restated_values"] += _restated(k, old.get("series") or [])
        before_unmapped = {m.get("metric_name") for m in previous.get("unmapped_metrics", [])}  # type: ignore[union-attr]
        now_unmapped = {m.get("metric_name") for m in current.get("unmapped_metrics", [])}
        out["unmapped_added"] = sorted(n for n in now_unmapped - before_unmapped if n)
        out["unmapped_gone"] = sorted(n for n in before_unmapped - now_unmapped if n)

    out["n_changes"] = sum(
        len(out[key])
        for key in (
            "kpi_status_changes",
            "kpis_added",
            "kpis_removed",
            "objective_status_changes",
            "objective_rag_changes",
            "restated_values",
            "unmapped_added",
            "unmapped_gone",
        )
    )
    return out


def _kpi_ref(k: dict[str, Any]) -> dict[str, Any]:
    return {
        "kpi_id": k.get("kpi_id"),
        "kpi_name": k.get("kpi_name"),
        "owner": k.get("owner"),
        "status": k.get("status"),
    }


def _restated(kpi: dict[str, Any], before_series: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Periods of ``kpi`` present in both series whose value changed (or disappeared) since the previous report.

    Only periods inside the current series' window are compared (older ones may just have been cut off)."""
    now = {p["period_start"]: p for p in kpi.get("series") or [] if p.get("period_start")}
    if not now:
        return []
    first = min(now)
    out = []
    for p in before_series:
        start = p.get("period_start")
        old_value = p.get("actual")
        if not start or start < first or old_value is None:
            continue
        new_value = (now.get(start) or {}).get("actual")
        if new_value is None or not _same(old_value, new_value):
            out.append(
                {
                    "kpi_id": kpi["kpi_id"],
                    "kpi_name": kpi.get("kpi_name"),
                    "unit": kpi.get("unit"),
                    "period_start": start,
                    "previous_value": old_value,
                    "value": new_value,
                }
            )
    return out


def _same(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=RESTATEMENT_TOLERANCE, abs_tol=RESTATEMENT_TOLERANCE)
