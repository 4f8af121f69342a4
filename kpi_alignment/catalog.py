"""The strategy catalog: objectives, KPIs, links and targets, as validated models.

The catalog lives as YAML in a project's ``catalog/`` folder and is versioned with git. These
pydantic models are the single definition of its shape: :func:`catalog_json_schema` publishes them
as JSON Schema (``schemas/catalog.schema.json``) so editors can complete catalog files, and
:mod:`kpi_alignment.project` validates every file against them.

Cross-entity rules (unknown ids, cycles, duplicate ids) are checked by :func:`cross_check`, which
returns problems instead of raising so that ``kpi-align validate`` can report all of them at once.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Annotated, Any, get_args

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationInfo,
    WithJsonSchema,
    field_validator,
    model_validator,
)

Id = Annotated[
    str,
    Field(
        min_length=1,
        max_length=200,
        description="Stable identifier. Surrounding spaces are removed; case is kept.",
    ),
]


class _Strict(BaseModel):
    # NaN / inf targets or weights would score as a silent 100 (green): refuse them at validation.
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, use_enum_values=True, allow_inf_nan=False)


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
    """A strategic (long-term) or operational objective; an operational one names its parent."""

    id: Id
    name: str = Field(min_length=1)
    description: str = ""
    level: Level = Field(description="strategic (long-term, top of the tree) or operational (rolls up to a parent).")
    parent: Id | None = Field(None, description="Parent objective id (operational objectives roll up to it).")
    owner: str = Field(
        min_length=1,
        description="Accountable role or person, e.g. 'VP Operations <vp.ops@x.example>'.",
    )
    time_frame: TimeFrame
    status: ObjectiveStatus = Field(
        ObjectiveStatus.active, description="active, retired (no longer pursued) or achieved."
    )


# One metric name or a list of them; the schema says so, so editors accept `value: revenue`.
MetricNames = Annotated[
    list[Id],
    WithJsonSchema(
        {
            "anyOf": [
                {"type": "string", "minLength": 1},
                {"type": "array", "items": {"type": "string", "minLength": 1}},
            ],
            "description": "A source metric name, or a list of them.",
        }
    ),
]


class KpiMetrics(_Strict):
    """Source metric names that feed a KPI.

    ``value`` lists one or more names (several = aliases, e.g. ``[revenue, net_revenue]`` after an
    upstream rename). A ``ratio`` KPI instead names ``numerator`` and ``denominator``; each is
    summed separately over the period and then divided (never an average of ratios).
    """

    value: MetricNames = Field(default_factory=list)
    numerator: MetricNames = Field(default_factory=list)
    denominator: MetricNames = Field(default_factory=list)

    @field_validator("value", "numerator", "denominator", mode="before")
    @classmethod
    def _one_or_many(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


class RagThresholds(_Strict):
    """A KPI's own RAG (red / amber / green) thresholds on its 0-100 score, overriding the project defaults.

    Rules apply first match: no data, no target, ``score >= green_at`` → green, ``score >= amber_at`` →
    amber, else red (``dbt_project/models/intermediate/_int_scoring.yml``). Defaults: dbt var ``rag_thresholds``
    (green_at 95, amber_at 80).
    """

    green_at: float = Field(ge=0, le=100, description="Lowest score (0-100) that is green.")
    amber_at: float = Field(ge=0, le=100, description="Lowest score (0-100) that is amber; below it is red.")

    @model_validator(mode="after")
    def _ordered(self) -> RagThresholds:
        if self.amber_at > self.green_at:
            raise ValueError(f"rag.amber_at ({self.amber_at}) is above rag.green_at ({self.green_at})")
        return self


class Kpi(_Strict):
    """A key performance indicator: what is measured, how it aggregates to its grain, its owner."""

    id: Id
    name: str = Field(min_length=1)
    description: str = ""
    unit: str = Field("", description="Unit of the KPI value, e.g. 'share', 'minutes', 'flights'.")
    direction: Direction
    aggregation: Aggregation = Field(
        description="How source values combine into one value per grain period; "
        "ratio = sum(numerator) / sum(denominator) over the period."
    )
    grain: Grain = Field(description="The period a KPI value and its target refer to.")
    owner: str = Field(min_length=1, description="Accountable role or person.")
    status: KpiStatus = KpiStatus.active
    metrics: KpiMetrics = Field(default_factory=KpiMetrics, validate_default=True)
    parent_kpi: Id | None = Field(None, description="A KPI this one contributes to (e.g. line → system).")
    expected_within_days: int | None = Field(
        None,
        ge=0,
        description="Days after a period ends by which its value is expected (default per grain).",
    )
    rag: RagThresholds | None = Field(
        None, description="Own RAG thresholds on the 0-100 score (default: the project's, green 95 / amber 80)."
    )

    @field_validator("metrics")
    @classmethod
    def _metrics_fit_aggregation(cls, m: KpiMetrics, info: ValidationInfo) -> KpiMetrics:
        # Checked on the metrics field (not the whole KPI) so the error points at ``metrics:``.
        aggregation = info.data.get("aggregation")
        if aggregation is None:  # aggregation itself is invalid and reported there
            return m
        if aggregation == Aggregation.ratio:
            missing = [name for name in ("numerator", "denominator") if not getattr(m, name)]
            if missing:
                raise ValueError(f"a ratio KPI needs metrics.{' and metrics.'.join(missing)}")
            if m.value:
                raise ValueError("a ratio KPI names metrics.numerator and metrics.denominator, not value")
        elif m.numerator or m.denominator:
            raise ValueError(f"a {aggregation} KPI names metrics.value, not numerator/denominator")
        return m


class Link(_Strict):
    """KPI → objective. ``informational`` links are shown but not counted in roll-ups/alignment."""

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
    """A KPI's target for one period ``[period_start, period_end]`` (inclusive dates).

    ``type`` decides which numbers count: ``at_least`` / ``at_most`` compare the period's value with
    ``value``; ``increase_to`` / ``decrease_to`` name the ``value`` to reach from ``baseline``;
    ``range`` needs ``lower <= value <= upper``; ``boolean`` expects ``value`` (1 = yes, 0 = no).
    Values are in the KPI's unit.
    """

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


# Top-level list name of a catalog file -> the model of one entry (objectives -> Objective, ...).
CATALOG_SECTIONS: dict[str, type[BaseModel]] = {
    name: get_args(f.annotation)[0] for name, f in CatalogFile.model_fields.items()
}


@dataclass(frozen=True)
class CatalogProblem:
    """A validation finding: ``where`` is ``file:line`` or ``file``, ``path`` a dotted YAML path."""

    where: str
    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.where}: {self.path}: {self.reason}" if self.path else f"{self.where}: {self.reason}"


@dataclass(frozen=True)
class Origin:
    """Where one catalog entry is written.

    ``file`` is relative to the project directory, ``path`` the entry's YAML path in that file
    (e.g. ``kpis[3]``), ``line`` its 1-based first line and ``field_lines`` the line of each key it
    spells out.
    """

    file: str
    path: str
    line: int
    field_lines: Mapping[str, int] = field(default_factory=dict)

    def at(self, key: str | None = None) -> str:
        """``file:line`` of the entry, or of its ``key`` when the entry spells that key out."""
        line = self.field_lines.get(key, self.line) if key else self.line
        return f"{self.file}:{line}" if line else self.file

    def field_path(self, key: str | None = None) -> str:
        """The YAML path of the entry or of one of its keys, e.g. ``kpis[3].parent_kpi``."""
        return f"{self.path}.{key}" if key else self.path


@dataclass
class Catalog:
    """The merged catalog of a project, with where each entity came from (for error messages).

    ``origin`` maps (kind, key) to ``file:line`` of the first entry with that key (kind
    ``objective``/``kpi``: key = id; ``link``: ``kpi->objective``; ``target``:
    ``kpi@period_start``). ``locations`` holds one :class:`Origin` per entry, parallel to the four
    lists (keys ``objectives``, ``kpis``, ``links``, ``targets``); entries built in code without one
    are reported as ``catalog``.
    """

    objectives: list[Objective]
    kpis: list[Kpi]
    links: list[Link]
    targets: list[Target]
    origin: dict[tuple[str, str], str]  # (kind, id) -> "file:line"
    locations: dict[str, list[Origin]] = field(default_factory=dict)

    @classmethod
    def empty(cls) -> Catalog:
        return cls([], [], [], [], {})

    def add(self, item: Objective | Kpi | Link | Target, origin: Origin | None = None) -> None:
        """Append one entry (to the list its type belongs in) with where it was written."""
        section, kind, key = _section_of(item)
        entries: list[Any] = getattr(self, section)
        where = self.locations.setdefault(section, [])
        # Entries added earlier without an origin keep the lists parallel.
        where.extend(Origin("catalog", f"{section}[{i}]", 0) for i in range(len(where), len(entries)))
        entries.append(item)
        where.append(origin or Origin("catalog", f"{section}[{len(entries) - 1}]", 0))
        self.origin.setdefault((kind, key), where[-1].at())

    def location(self, section: str, index: int) -> Origin:
        """Where entry ``index`` of list ``section`` (``objectives``, ``kpis``, ...) is written."""
        known = self.locations.get(section, [])
        return known[index] if index < len(known) else Origin("catalog", f"{section}[{index}]", 0)


def _section_of(item: Objective | Kpi | Link | Target) -> tuple[str, str, str]:
    """(list name, origin kind, origin key) of a catalog entry."""
    if isinstance(item, Objective):
        return "objectives", "objective", item.id
    if isinstance(item, Kpi):
        return "kpis", "kpi", item.id
    if isinstance(item, Link):
        return "links", "link", f"{item.kpi}->{item.objective}"
    return "targets", "target", f"{item.kpi}@{item.period_start}"


def cross_check(
    catalog: Catalog,
    *,
    invalid_ids: Mapping[str, Collection[str]] | None = None,
    check_references: bool = True,
    open_kpis: bool = False,
    open_objectives: bool = False,
) -> list[CatalogProblem]:
    """Rules spanning entities: unique ids, known references, no cycles in objective or KPI trees.

    ``invalid_ids`` (``{"objectives": {...}, "kpis": {...}}``) names entries that exist in a file
    but failed validation; references to them are not reported again as unknown (their own error
    says what is wrong). ``check_references=False`` skips the unknown-reference rules (used when a
    catalog file could not be read, so any reference might point into it). Also checked:
    operational objectives have a parent; a link or a target is not written twice. Returns every
    problem found (empty list = valid), each with the file, line and YAML path of the entry at
    fault. A cycle is reported once, at its first member in id order, with every member.
    """
    invalid = {k: set(v) for k, v in (invalid_ids or {}).items()}
    problems: list[CatalogProblem] = []

    def report(section: str, index: int, key: str | None, reason: str) -> None:
        o = catalog.location(section, index)
        problems.append(CatalogProblem(o.at(key), o.field_path(key), reason))

    for section, items in (("objectives", catalog.objectives), ("kpis", catalog.kpis)):
        first: dict[str, int] = {}
        for i, item in enumerate(items):
            if item.id in first:
                earlier = catalog.location(section, first[item.id]).at("id")
                report(section, i, "id", f"duplicate id '{item.id}' (first defined at {earlier})")
            else:
                first[item.id] = i

    objective_ids = {o.id for o in catalog.objectives} | invalid.get("objectives", set())
    kpi_ids = {k.id for k in catalog.kpis} | invalid.get("kpis", set())

    def unknown(ids: set[str], name: str) -> bool:
        if (ids is kpi_ids and open_kpis) or (ids is objective_ids and open_objectives):
            return False
        return check_references and name not in ids

    for i, o in enumerate(catalog.objectives):
        if o.parent is not None and unknown(objective_ids, o.parent):
            report(
                "objectives",
                i,
                "parent",
                f"objective '{o.id}' names unknown parent objective '{o.parent}'",
            )
        if o.level == Level.operational and o.parent is None:
            report(
                "objectives",
                i,
                "parent",
                f"operational objective '{o.id}' needs a parent objective",
            )
    for i, k in enumerate(catalog.kpis):
        if k.parent_kpi is not None and unknown(kpi_ids, k.parent_kpi):
            report("kpis", i, "parent_kpi", f"KPI '{k.id}' names unknown parent KPI '{k.parent_kpi}'")

    seen_links: dict[tuple[str, str], int] = {}
    for i, link in enumerate(catalog.links):
        if unknown(kpi_ids, link.kpi):
            report(
                "links",
                i,
                "kpi",
                f"link to objective '{link.objective}' names unknown KPI '{link.kpi}'",
            )
        if unknown(objective_ids, link.objective):
            report(
                "links",
                i,
                "objective",
                f"link from KPI '{link.kpi}' names unknown objective '{link.objective}'",
            )
        pair = (link.kpi, link.objective)
        if pair in seen_links:
            earlier = catalog.location("links", seen_links[pair]).at()
            report(
                "links",
                i,
                None,
                f"KPI '{link.kpi}' is linked to '{link.objective}' twice (also at {earlier})",
            )
        seen_links.setdefault(pair, i)

    seen_targets: dict[tuple[str, dt.date, dt.date], int] = {}
    for i, t in enumerate(catalog.targets):
        if unknown(kpi_ids, t.kpi):
            report("targets", i, "kpi", f"target names unknown KPI '{t.kpi}'")
        period = (t.kpi, t.period_start, t.period_end)
        if period in seen_targets:
            earlier = catalog.location("targets", seen_targets[period]).at()
            report(
                "targets",
                i,
                None,
                f"KPI '{t.kpi}' has two targets for {t.period_start}..{t.period_end} (also at {earlier})",
            )
        seen_targets.setdefault(period, i)

    for section, kind, key, items, parent_of in (
        (
            "objectives",
            "objective",
            "parent",
            catalog.objectives,
            {o.id: o.parent for o in catalog.objectives},
        ),
        ("kpis", "KPI", "parent_kpi", catalog.kpis, {k.id: k.parent_kpi for k in catalog.kpis}),
    ):
        index = {item.id: i for i, item in reversed(list(enumerate(items)))}
        for cycle in _cycles(parent_of):
            start = sorted(cycle)[0]
            walk = _rotate(cycle[:-1], start)
            report(section, index[start], key, f"cycle in {kind} tree: {' -> '.join([*walk, start])}")
    return problems


def _rotate(members: list[str], start: str) -> list[str]:
    """The cycle ``members`` walked from ``start`` (reads the same whichever node found it)."""
    i = members.index(start)
    return members[i:] + members[:i]


def _cycles(parent_of: dict[str, str | None]) -> list[list[str]]:
    """Each distinct cycle in a child → parent map, as the ids walked (first id repeated last)."""
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
    """JSON Schema (draft 2020-12) of one catalog file (``schemas/catalog.schema.json``)."""
    schema = CatalogFile.model_json_schema()
    schema["$schema"] = "https://json-schema.org/draft/2020-12/schema"
    schema["title"] = "kpi-alignment strategy catalog file"
    return schema
