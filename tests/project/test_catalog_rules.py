"""cross_check on catalogs built in code (no files): every rule, and where it says the problem is."""

from __future__ import annotations

import datetime as dt

import pytest
from pydantic import ValidationError

from kpi_alignment.catalog import Catalog, Kpi, Link, Objective, Target, cross_check


def objective(id_: str, parent: str | None = None, level: str = "operational") -> Objective:
    return Objective.model_validate(
        {"id": id_, "name": id_, "level": level, "parent": parent, "owner": "o", "time_frame": {"start": "2013-01-01"}}
    )


def kpi(id_: str, parent: str | None = None) -> Kpi:
    return Kpi.model_validate(
        {
            "id": id_,
            "name": id_,
            "direction": "higher_is_better",
            "aggregation": "sum",
            "grain": "month",
            "owner": "o",
            "parent_kpi": parent,
            "metrics": {"value": "m"},
        }
    )


def catalog(*items: Objective | Kpi | Link | Target) -> Catalog:
    c = Catalog.empty()
    for item in items:
        c.add(item)
    return c


def test_valid_tree_has_no_problems() -> None:
    c = catalog(
        objective("S", level="strategic"),
        objective("A", "S"),
        kpi("K1"),
        kpi("K2", "K1"),
        Link(kpi="K2", objective="A"),
        Target(kpi="K2", period_start=dt.date(2013, 1, 1), period_end=dt.date(2013, 1, 31), type="at_least", value=1),
    )
    assert cross_check(c) == []


def test_each_cycle_is_reported_once_with_all_members() -> None:
    c = catalog(
        objective("C", "A"),
        objective("A", "B"),
        objective("B", "C"),
        objective("SELF", "SELF"),
        objective("X", "A"),  # hangs off the cycle, is not part of it
    )
    reasons = sorted((p.where, p.path, p.reason) for p in cross_check(c))
    assert reasons == [
        ("catalog", "objectives[1].parent", "cycle in objective tree: A -> B -> C -> A"),
        ("catalog", "objectives[3].parent", "cycle in objective tree: SELF -> SELF"),
    ]


def test_references_into_invalid_entries_are_not_reported_twice() -> None:
    c = catalog(objective("A", "GONE"), kpi("K", "BAD"), Link(kpi="BAD", objective="GONE"))
    assert len(cross_check(c)) == 4  # parent, parent_kpi, link.kpi, link.objective
    assert cross_check(c, invalid_ids={"objectives": {"GONE"}, "kpis": {"BAD"}}) == []
    assert cross_check(c, check_references=False) == []


def test_duplicate_target_period() -> None:
    t = {"kpi": "K", "period_start": "2013-01-01", "period_end": "2013-01-31", "type": "at_most"}
    c = catalog(kpi("K"), Target.model_validate({**t, "value": 1}), Target.model_validate({**t, "value": 2}))
    [problem] = cross_check(c)
    assert (problem.path, problem.reason) == (
        "targets[1]",
        "KPI 'K' has two targets for 2013-01-01..2013-01-31 (also at catalog)",
    )


@pytest.mark.parametrize(
    ("metrics", "message"),
    [
        ({"numerator": "n"}, "a ratio KPI needs metrics.denominator"),
        ({}, "a ratio KPI needs metrics.numerator and metrics.denominator"),
        ({"numerator": "n", "denominator": "d", "value": "v"}, "not value"),
    ],
)
def test_ratio_kpi_metrics(metrics: dict[str, str], message: str) -> None:
    data = {"id": "K", "name": "k", "direction": "lower_is_better", "aggregation": "ratio", "grain": "month"}
    with pytest.raises(ValidationError) as raised:
        Kpi.model_validate({**data, "owner": "o", "metrics": metrics} if metrics else {**data, "owner": "o"})
    [err] = raised.value.errors()
    assert err["loc"] == ("metrics",) and message in err["msg"]


def test_metrics_accept_one_name_or_a_list() -> None:
    k = kpi("K")
    assert k.metrics.value == ["m"]
    both = Kpi.model_validate({**k.model_dump(), "metrics": {"value": ["revenue", "net_revenue"]}})
    assert both.metrics.value == ["revenue", "net_revenue"]
