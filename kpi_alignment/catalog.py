"""The strategy catalog: objectives, KPIs, links and targets, as validated models.

The catalog lives as YAML in a project's ``catalog/`` folder and is versioned with git. These pydantic models are
the single definition of its shape: :func:`catalog_json_schema` publishes them as JSON Schema
(``schemas/catalog.schema.json``) so editors can complete catalog files, and :mod:`kpi_alignment.project` validates
every file against them.

Cross-entity rules (unknown ids, cycles, duplicate ids) are checked by :func:`cross_check`, which returns problems
instead of raising so that ``kpi-align validate`` can report all of them at once.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

Id = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="Stable identifier. Compared after normalisation: surrounding spaces removed, case kept.",
    ),
]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, use_enum_values=True)


class Level(StrEnum):
    strategic = "strategic"
    operational = "operational"


class ObjectiveStatus(StrEnum):
    active = "active"
    retired = "retired"
    achieved = "achieved"


class KpiStatus(StrEnum):
    active = "active"
    retired = "retired"


class Direction(StrEnum):
    higher_is_better = "higher_is_better"
    lower_is_better = "lower_is_better"


class Aggregation(StrEnum):
    sum = "sum"
    average = "average"
    last = "last"
    min = "min"
    max = "max"
    ratio = "ratio"


class Grain(StrEnum):
    day = "day"
    week = "week"
    month = "month"
    quarter = "quarter"
    year = "year"


class TargetType(StrEnum):
    at_least = "at_least"
    at_most = "at_most"
    increase_to = "increase_to"
    decrease_to = "decrease_to"
    range = "range"
    boolean = "boolean"


class TimeFrame(_Strict):
    """The period an objective is meant to be pursued in; ``end`` open means no planned end."""

    start: dt.date
    end: dt.date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> TimeFrame:
        if self.end is not None and self.end < self.start:
            raise ValueError(f"time frame ends ({self.end}) before it starts ({self.start})")
        return self


class Objective(_Strict):
    """A strategic (long-term) or operational objective. Operational objectives name a parent objective."""

    id: Id
    name: str = Field(min_length=1)
    description: str = ""
    level: Level
    parent: Id | None = Field(None, description="Parent objective id (operational objectives roll up to it).")
    owner: str = Field(min_length=1)
    time_frame: TimeFrame
    status: ObjectiveStatus = ObjectiveStatus.active


class KpiMetrics(_Strict):
    """Source metric names that feed a KPI.

    ``value`` lists one or more names (several = aliases, e.g. ``[revenue, net_revenue]`` after an upstream
    rename). A ``ratio`` KPI instead names ``numerator`` and ``denominator``; each is summed separately over the
    period and then divided (never an average of ratios).
    """

    value: list[Id] = Field(default_factory=list)
    numerator: list[Id] = Field(default_factory=list)
    denominator: list[Id] = Field(default_factory=list)

    @field_validator("value", "numerator", "denominator", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class Kpi(_Strict):
    """A key performance indicator: what is measured, how it aggregates to its grain, who owns it."""

    id: Id
    name: str = Field(min_length=1)
    description: str = ""
    unit: str = ""
    direction: Direction
    aggregation: Aggregation
    grain: Grain
    owner: str = Field(min_length=1)
    status: KpiStatus = KpiStatus.active
    metrics: KpiMetrics = Field(default_factory=KpiMetrics)
    parent_kpi: Id | None = Field(None, description="A KPI this one contributes to (e.g. line → system).")
    expected_within_days: int | None = Field(
        None, ge=0, description="Days after a period ends by which its value is expected (default per grain)."
    )

    @model_validator(mode="after")
    def _metrics_fit_aggregation(self) -> Kpi:
        m = self.metrics
        if self.aggregation == Aggregation.ratio:
            if not (m.numerator and m.denominator) or m.value:
                raise ValueError("a ratio KPI names metrics.numerator and metrics.denominator (not value)")
        elif m.numerator or m.denominator:
            raise ValueError(f"a {self.aggregation} KPI names metrics.value, not numerator/denominator")
        return self


class Link(_Strict):
    """KPI → objective. ``informational`` links are shown but not counted in roll-ups or alignment."""

    kpi: Id
    objective: Id
    weight: float = Field(1.0, ge=0)
    informational: bool = False
    valid_from: dt.date | None = None
    valid_to: dt.date | None = None

    @model_validator(mode="after")
    def _ordered(self) -> Link:
        if self.valid_from and self.valid_to and self.valid_to < self.valid_from:
            raise ValueError("valid_to is before valid_from")
        return self


class Target(_Strict):
    """A KPI's target for one period ``[period_start, period_end]`` (inclusive dates)."""

    kpi: Id
    period_start: dt.date
    period_end: dt.date
    type: TargetType
    value: float | None = None
    lower: float | None = None
    upper: float | None = None
    baseline: float | None = None

    @model_validator(mode="after")
    def _consistent(self) -> Target:
        if self.period_end < self.period_start:
            raise ValueError("period_end is before period_start")
        if self.type == TargetType.range:
            if self.lower is None or self.upper is None or self.upper < self.lower:
                raise ValueError("a range target needs lower <= upper")
        elif self.value is None:
            raise ValueError(f"a {self.type} target needs value")
        return self


class CatalogFile(_Strict):
    """One catalog YAML file. Any of the four lists may be present; files are merged."""

    objectives: list[Objective] = Field(default_factory=list)
    kpis: list[Kpi] = Field(default_factory=list)
    links: list[Link] = Field(default_factory=list)
    targets: list[Target] = Field(default_factory=list)


@dataclass(frozen=True)
class CatalogProblem:
    """A validation finding: ``where`` is ``file:line`` or ``file``, ``path`` a dotted YAML path."""

    where: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.path}: {self.reason}" if self.path else f"{self.where}: {self.reason}"


@dataclass
class Catalog:
    """The merged catalog of a project, with the file each entity came from (for error messages)."""

    objectives: list[Objective]
    kpis: list[Kpi]
    links: list[Link]
    targets: list[Target]
    origin: dict[tuple[str, str], str]  # (kind, id) -> "file:line"

    @classmethod
    def empty(cls) -> Catalog:
        return cls([], [], [], [], {})


def cross_check(catalog: Catalog) -> list[CatalogProblem]:
    """Rules spanning entities: unique ids, known references, no cycles in objective or KPI trees.

    Returns every problem found (empty list = valid). A cycle is reported once per cycle with its members.
    """
    problems: list[CatalogProblem] = []

    def where(kind: str, key: str) -> str:
        return catalog.origin.get((kind, key), "catalog")

    for kind, items in (("objective", catalog.objectives), ("kpi", catalog.kpis)):
        seen: set[str] = set()
        for item in items:
            if item.id in seen:
                problems.append(CatalogProblem(where(kind, item.id), f"{kind}s.{item.id}", "duplicate id"))
            seen.add(item.id)

    objectives = {o.id: o for o in catalog.objectives}
    kpis = {k.id: k for k in catalog.kpis}
    for o in catalog.objectives:
        if o.parent is not None and o.parent not in objectives:
            problems.append(
                CatalogProblem(where("objective", o.id), f"objectives.{o.id}.parent", f"unknown objective '{o.parent}'")
            )
        if o.level == Level.operational and o.parent is None:
            problems.append(
                CatalogProblem(where("objective", o.id), f"objectives.{o.id}.parent", "an operational objective needs a parent")
            )
    for k in catalog.kpis:
        if k.parent_kpi is not None and k.parent_kpi not in kpis:
            problems.append(
                CatalogProblem(where("kpi", k.id), f"kpis.{k.id}.parent_kpi", f"unknown KPI '{k.parent_kpi}'")
            )
    for i, link in enumerate(catalog.links):
        key = f"{link.kpi}->{link.objective}"
        if link.kpi not in kpis:
            problems.append(CatalogProblem(where("link", key), f"links[{i}].kpi", f"unknown KPI '{link.kpi}'"))
    for i, t in enumerate(catalog.targets):
        if t.kpi not in kpis:
            problems.append(CatalogProblem(where("target", f"{t.kpi}@{t.period_start}"), f"targets[{i}].kpi", f"unknown KPI '{t.kpi}'"))

    for kind, parent_of in (
        ("objective", {o.id: o.parent for o in catalog.objectives}),
        ("kpi", {k.id: k.parent_kpi for k in catalog.kpis}),
    ):
        for cycle in _cycles(parent_of):
            first = sorted(cycle)[0]
            problems.append(
                CatalogProblem(where(kind, first), f"{kind}s.{first}", f"cycle in {kind} tree: {' -> '.join(cycle)}")
            )
    return problems


def _cycles(parent_of: dict[str, str | None]) -> list[list[str]]:
    """Each distinct cycle in a child → parent map, as the list of ids walked (first id repeated last)."""
    found: list[list[str]] = []
    reported: set[frozenset[str]] = set()
    for start in parent_of:
        path: list[str] = []
        node: str | None = start
        while node is not None and node in parent_of and node not in path:
            path.append(node)
            node = parent_of[node]
        if node is not None and node in path:
            cycle = path[path.index(node) :]
            if frozenset(cycle) not in reported:
                reported.add(frozenset(cycle))
                found.append([*cycle, node])
    return found


def catalog_json_schema() -> dict[str, Any]:
    """JSON Schema (draft 2020-12) of one catalog file, as published in ``schemas/catalog.schema.json``."""
    schema = CatalogFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "kpi-alignment strategy catalog file"
    return schema
