"""The alignment gate: findings with a severity, used by ``kpi-align check`` and CI on catalog pull requests.

A finding is any KPI whose status is not ``connected``/``retired`` and any objective whose status is not
``measured``/``inactive``. Its severity comes from the project's settings (``severity:`` in kpi-align.yml),
e.g. ``orphaned: warn``, ``disconnected: error``. Any ``error`` finding makes the gate fail.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

from kpi_alignment.project import Severities

_OK_KPI = {"connected", "retired"}
_OK_OBJECTIVE = {"measured", "inactive"}


@dataclass(frozen=True)
class Finding:
    """One gate finding: ``kind`` is ``kpi`` or ``objective``; ``severity`` is ``error`` or ``warn``."""

    kind: str
    id: str
    name: str
    status: str
    severity: str
    owner: str | None
    cause: str | None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def classify(findings: dict[str, Any], severities: Severities) -> list[Finding]:
    """Findings of a report (``gather_findings`` output) with their configured severity; ``off`` ones dropped."""
    levels = severities.model_dump()
    out: list[Finding] = []
    for k in findings["kpis"]:
        if k["status"] not in _OK_KPI:
            out.append(
                Finding(
                    "kpi",
                    k["kpi_id"],
                    k["kpi_name"],
                    k["status"],
                    levels.get(k["status"], "error"),
                    k.get("owner"),
                    k.get("cause_text"),
                )
            )
    for o in findings["objective_findings"]:
        # Like the dbt checks: an operational objective without a live KPI is shown in the report, not gated.
        if o["alignment_status"] not in _OK_OBJECTIVE and o.get("level") == "strategic":
            out.append(
                Finding(
                    "objective",
                    o["objective_id"],
                    o["name"],
                    o["alignment_status"],
                    levels.get(o["alignment_status"], "error"),
                    o.get("owner"),
                    o.get("cause_text"),
                )
            )
    return [f for f in out if f.severity != "off"]


def gate_passes(findings: list[Finding]) -> bool:
    """True when no finding has severity ``error``."""
    return not any(f.severity == "error" for f in findings)
