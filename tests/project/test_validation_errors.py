"""Every kind of project mistake is reported with file, line, YAML path and reason - all at once.

Each mistake is made by editing a copy of the bundled example the way a person would. The expected
line is found in the edited text (not hard-coded), so the tests keep working when the example grows.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pytest

from kpi_alignment.catalog import CatalogProblem
from kpi_alignment.project import ProjectError, load_project, load_yaml

REPO = Path(__file__).resolve().parents[2]
EXAMPLE = REPO / "examples" / "airline"


def copy_example(dest: Path) -> Path:
    """The example's YAML only (no data, no outputs): validation reads nothing else."""
    shutil.copytree(EXAMPLE, dest, ignore=shutil.ignore_patterns(".kpi-align", "data", "models"))
    return dest


def index_of(file: str, section: str, key: str, value: str) -> int:
    """Position of the entry with ``key: value`` in the example's ``section`` list."""
    entries = load_yaml((EXAMPLE / file).read_text(encoding="utf-8"))[section]
    return next(i for i, e in enumerate(entries) if e.get(key) == value)


def line_of(path: Path, text: str, after: str | None = None) -> int:
    """1-based number of the first line whose stripped text is ``text`` (after the line ``after``)."""
    lines = path.read_text(encoding="utf-8").splitlines()
    start = 0 if after is None else next(i for i, s in enumerate(lines) if s.strip() == after)
    return next(i for i, s in enumerate(lines) if i >= start and s.strip() == text) + 1


def edit(path: Path, old: str, new: str | None, after: str | None = None) -> None:
    """Replace (``new`` = None: delete) the first line whose stripped text is ``old``."""
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    i = line_of(path, old, after) - 1
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    lines[i : i + 1] = [] if new is None else [f"{indent}{new}\n"]
    path.write_text("".join(lines), encoding="utf-8")


def insert_after(path: Path, anchor: str, new: str, after: str | None = None) -> None:
    lines = path.read_text(encoding="utf-8").splitlines(keepends=True)
    i = line_of(path, anchor, after) - 1
    indent = lines[i][: len(lines[i]) - len(lines[i].lstrip())]
    lines.insert(i + 1, f"{indent}{new}\n")
    path.write_text("".join(lines), encoding="utf-8")


@dataclass
class Mistake:
    """An edit of the example, and the problem it must produce (computed after all edits)."""

    make: Callable[[Path], None]
    expect: Callable[[Path], tuple[str, str, str]]  # (where, path, reason fragment)


def _unknown_direction() -> Mistake:
    def make(p: Path) -> None:
        edit(p / "catalog/kpis.yml", "direction: lower_is_better", "direction: sideways", after="- id: KPI-CANCEL-RATE")

    def expect(p: Path) -> tuple[str, str, str]:
        line = line_of(p / "catalog/kpis.yml", "direction: sideways")
        i = index_of("catalog/kpis.yml", "kpis", "id", "KPI-CANCEL-RATE")
        return f"catalog/kpis.yml:{line}", f"kpis[{i}].direction", "'sideways'"

    return Mistake(make, expect)


def _missing_owner() -> Mistake:
    def make(p: Path) -> None:
        edit(
            p / "catalog/objectives.yml",
            "owner: Director, Network Operations Control <noc.director@airline.example>",
            None,
            after="- id: OBJ-COMPLETE-FLIGHTS",
        )

    def expect(p: Path) -> tuple[str, str, str]:
        # A missing key is reported at the entry that lacks it.
        line = line_of(p / "catalog/objectives.yml", "- id: OBJ-COMPLETE-FLIGHTS")
        i = index_of("catalog/objectives.yml", "objectives", "id", "OBJ-COMPLETE-FLIGHTS")
        return f"catalog/objectives.yml:{line}", f"objectives[{i}].owner", "required field"

    return Mistake(make, expect)


def _unknown_parent() -> Mistake:
    def make(p: Path) -> None:
        edit(
            p / "catalog/objectives.yml",
            "parent: OBJ-RELIABLE",
            "parent: OBJ-RELIABILITY",
            after="- id: OBJ-ARRIVE-ON-TIME",
        )

    def expect(p: Path) -> tuple[str, str, str]:
        line = line_of(p / "catalog/objectives.yml", "parent: OBJ-RELIABILITY")
        i = index_of("catalog/objectives.yml", "objectives", "id", "OBJ-ARRIVE-ON-TIME")
        reason = "unknown parent objective 'OBJ-RELIABILITY'"
        return f"catalog/objectives.yml:{line}", f"objectives[{i}].parent", reason

    return Mistake(make, expect)


def _link_to_unknown_kpi() -> Mistake:
    def make(p: Path) -> None:
        edit(p / "catalog/links.yml", "- kpi: KPI-STAGE-LENGTH", "- kpi: KPI-STAGE-LENGHT")

    def expect(p: Path) -> tuple[str, str, str]:
        line = line_of(p / "catalog/links.yml", "- kpi: KPI-STAGE-LENGHT")
        i = index_of("catalog/links.yml", "links", "kpi", "KPI-STAGE-LENGTH")
        return f"catalog/links.yml:{line}", f"links[{i}].kpi", "unknown KPI 'KPI-STAGE-LENGHT'"

    return Mistake(make, expect)


def _objective_cycle() -> Mistake:
    def make(p: Path) -> None:
        insert_after(
            p / "catalog/objectives.yml", "level: strategic", "parent: OBJ-LONG-HAUL", after="- id: OBJ-NETWORK-GROWTH"
        )

    def expect(p: Path) -> tuple[str, str, str]:
        # Reported once, at the member first in id order, walking the whole cycle.
        line = line_of(p / "catalog/objectives.yml", "parent: OBJ-NETWORK-GROWTH")
        i = index_of("catalog/objectives.yml", "objectives", "id", "OBJ-LONG-HAUL")
        reason = "cycle in objective tree: OBJ-LONG-HAUL -> OBJ-NETWORK-GROWTH -> OBJ-LONG-HAUL"
        return f"catalog/objectives.yml:{line}", f"objectives[{i}].parent", reason

    return Mistake(make, expect)


def _kpi_cycle() -> Mistake:
    def make(p: Path) -> None:
        kpis = p / "catalog/kpis.yml"
        insert_after(kpis, "grain: month", "parent_kpi: KPI-OTP-ARR", after="- id: KPI-OTP-DEP")
        insert_after(kpis, "grain: month", "parent_kpi: KPI-OTP-DEP", after="- id: KPI-OTP-ARR")

    def expect(p: Path) -> tuple[str, str, str]:
        line = line_of(p / "catalog/kpis.yml", "parent_kpi: KPI-OTP-DEP")
        i = index_of("catalog/kpis.yml", "kpis", "id", "KPI-OTP-ARR")
        reason = "cycle in KPI tree: KPI-OTP-ARR -> KPI-OTP-DEP -> KPI-OTP-ARR"
        return f"catalog/kpis.yml:{line}", f"kpis[{i}].parent_kpi", reason

    return Mistake(make, expect)


def _duplicate_id() -> Mistake:
    """Defined again in another file: the later one (files are read in name order) is reported."""

    def make(p: Path) -> None:
        (p / "catalog/strategy-2014.yml").write_text(
            "objectives:\n"
            "  - id: OBJ-CUSTOMER-LOYALTY\n"
            "    name: Keep frequent flyers\n"
            "    level: strategic\n"
            "    owner: Head of Loyalty <loyalty@airline.example>\n"
            "    time_frame: {start: 2014-01-01}\n",
            encoding="utf-8",
        )

    def expect(p: Path) -> tuple[str, str, str]:
        first = line_of(p / "catalog/objectives.yml", "- id: OBJ-CUSTOMER-LOYALTY")
        reason = f"duplicate id 'OBJ-CUSTOMER-LOYALTY' (first defined at catalog/objectives.yml:{first})"
        return "catalog/strategy-2014.yml:2", "objectives[0].id", reason

    return Mistake(make, expect)


def _ratio_without_denominator() -> Mistake:
    def make(p: Path) -> None:
        edit(p / "catalog/kpis.yml", "denominator: flights_scheduled", None, after="- id: KPI-DIVERT-RATE")

    def expect(p: Path) -> tuple[str, str, str]:
        line = line_of(p / "catalog/kpis.yml", "metrics:", after="- id: KPI-DIVERT-RATE")
        i = index_of("catalog/kpis.yml", "kpis", "id", "KPI-DIVERT-RATE")
        reason = "a ratio KPI needs metrics.denominator"
        return f"catalog/kpis.yml:{line}", f"kpis[{i}].metrics", reason

    return Mistake(make, expect)


def _bad_yaml() -> Mistake:
    def make(p: Path) -> None:
        # An unquoted ": " inside a value; YAML cannot parse the file at all.
        settings = p / "kpi-align.yml"
        old = next(s for s in settings.read_text().splitlines() if s.startswith("title:"))
        edit(settings, old, "title: New York operations: 2013")

    def expect(p: Path) -> tuple[str, str, str]:
        line = line_of(p / "kpi-align.yml", "title: New York operations: 2013")
        return f"kpi-align.yml:{line}", "", "invalid YAML: mapping values are not allowed here"

    return Mistake(make, expect)


def _bad_date() -> Mistake:
    old = "{kpi: KPI-OTP-DEP, period_start: 2013-02-01, period_end: 2013-02-28,"

    def make(p: Path) -> None:
        targets = p / "catalog/targets.yml"
        text = targets.read_text(encoding="utf-8")
        assert text.count(old) == 1
        targets.write_text(text.replace(old, old.replace("02-28", "02-30")), encoding="utf-8")

    def expect(p: Path) -> tuple[str, str, str]:
        lines = (p / "catalog/targets.yml").read_text(encoding="utf-8").splitlines()
        line = next(n for n, s in enumerate(lines, 1) if "period_end: 2013-02-30" in s)
        entries = load_yaml((EXAMPLE / "catalog/targets.yml").read_text(encoding="utf-8"))
        i = next(
            i
            for i, t in enumerate(entries["targets"])
            if (t["kpi"], t["period_start"]) == ("KPI-OTP-DEP", "2013-02-01")
        )
        reason = "day value is outside expected range (got '2013-02-30')"
        return f"catalog/targets.yml:{line}", f"targets[{i}].period_end", reason

    return Mistake(make, expect)


MISTAKES = {
    "unknown direction": _unknown_direction(),
    "missing owner": _missing_owner(),
    "unknown parent": _unknown_parent(),
    "link to unknown KPI": _link_to_unknown_kpi(),
    "cycle in objective tree": _objective_cycle(),
    "cycle in KPI tree": _kpi_cycle(),
    "duplicate id": _duplicate_id(),
    "ratio KPI without denominator": _ratio_without_denominator(),
    "bad YAML": _bad_yaml(),
    "bad date": _bad_date(),
}


def problems_of(project: Path) -> list[CatalogProblem]:
    with pytest.raises(ProjectError) as raised:
        load_project(project)
    assert str(project.resolve()) in str(raised.value)  # the message names the project
    return raised.value.problems


def assert_reported(problems: list[CatalogProblem], where: str, path: str, reason: str) -> None:
    matching = [p for p in problems if (p.where, p.path) == (where, path) and reason in p.reason]
    assert matching, f"no problem {where} {path} '{reason}' in:\n" + "\n".join(map(str, problems))


def test_example_is_valid() -> None:
    load_project(EXAMPLE)  # raises ProjectError otherwise


@pytest.mark.parametrize("name", MISTAKES)
def test_each_mistake_is_reported_where_it_is(name: str, tmp_path: Path) -> None:
    project = copy_example(tmp_path / "project")
    mistake = MISTAKES[name]
    mistake.make(project)
    problems = problems_of(project)
    assert_reported(problems, *mistake.expect(project))
    # Exactly one problem: a broken entry does not also make the entries naming it "unknown".
    assert len(problems) == 1, "\n".join(map(str, problems))


def test_all_mistakes_are_reported_at_once(tmp_path: Path) -> None:
    project = copy_example(tmp_path / "project")
    for mistake in MISTAKES.values():
        mistake.make(project)
    problems = problems_of(project)
    for mistake in MISTAKES.values():
        assert_reported(problems, *mistake.expect(project))
    assert len(problems) == len(MISTAKES), "\n".join(map(str, problems))


# Further mistakes, one test each: the problems they must produce, and nothing else.


def only_problems(project: Path, *expected: tuple[str, str, str]) -> None:
    problems = problems_of(project)
    for e in expected:
        assert_reported(problems, *e)
    assert len(problems) == len(expected), "\n".join(map(str, problems))


def test_key_written_twice_is_reported_and_the_file_still_read(tmp_path: Path) -> None:
    p = copy_example(tmp_path / "p")
    insert_after(p / "catalog/kpis.yml", "unit: share", "unit: percent", after="- id: KPI-OTP-DEP")
    first = line_of(p / "catalog/kpis.yml", "unit: share", after="- id: KPI-OTP-DEP")
    i = index_of("catalog/kpis.yml", "kpis", "id", "KPI-OTP-DEP")
    where = f"catalog/kpis.yml:{first + 1}"
    only_problems(p, (where, f"kpis[{i}].unit", f"key 'unit' written twice (first on line {first})"))


def test_misspelt_field_names_the_unknown_key_and_the_missing_one(tmp_path: Path) -> None:
    p = copy_example(tmp_path / "p")
    old = "owner: Chief Operating Officer <coo@airline.example>"
    edit(p / "catalog/objectives.yml", old, "owners: Chief Operating Officer <coo@airline.example>")
    line = line_of(p / "catalog/objectives.yml", "owners: Chief Operating Officer <coo@airline.example>")
    entry = line_of(p / "catalog/objectives.yml", "- id: OBJ-RELIABLE")
    only_problems(
        p,
        (f"catalog/objectives.yml:{line}", "objectives[0].owners", "unknown field"),
        (f"catalog/objectives.yml:{entry}", "objectives[0].owner", "required field is missing"),
    )


def test_link_to_unknown_objective(tmp_path: Path) -> None:
    p = copy_example(tmp_path / "p")
    edit(p / "catalog/links.yml", "objective: OBJ-LONG-HAUL", "objective: OBJ-LONGHAUL")
    line = line_of(p / "catalog/links.yml", "objective: OBJ-LONGHAUL")
    i = index_of("catalog/links.yml", "links", "kpi", "KPI-STAGE-LENGTH")
    where = f"catalog/links.yml:{line}"
    only_problems(p, (where, f"links[{i}].objective", "unknown objective 'OBJ-LONGHAUL'"))


def test_link_written_twice(tmp_path: Path) -> None:
    p = copy_example(tmp_path / "p")
    links = p / "catalog/links.yml"
    links.write_text(links.read_text() + "  - kpi: KPI-OTP-DEP\n    objective: OBJ-DEPART-ON-TIME\n")
    n = len(load_yaml(links.read_text())["links"])
    last = len(links.read_text().splitlines()) - 1
    first = line_of(links, "- kpi: KPI-OTP-DEP")
    reason = f"linked to 'OBJ-DEPART-ON-TIME' twice (also at catalog/links.yml:{first})"
    only_problems(p, (f"catalog/links.yml:{last}", f"links[{n - 1}]", reason))


def test_operational_objective_without_parent(tmp_path: Path) -> None:
    p = copy_example(tmp_path / "p")
    edit(p / "catalog/objectives.yml", "parent: OBJ-RELIABLE", None, after="- id: OBJ-DEPART-ON-TIME")
    line = line_of(p / "catalog/objectives.yml", "- id: OBJ-DEPART-ON-TIME")
    i = index_of("catalog/objectives.yml", "objectives", "id", "OBJ-DEPART-ON-TIME")
    where = f"catalog/objectives.yml:{line}"
    only_problems(p, (where, f"objectives[{i}].parent", "needs a parent objective"))


def test_unparsable_catalog_file_does_not_make_every_reference_unknown(tmp_path: Path) -> None:
    p = copy_example(tmp_path / "p")
    edit(p / "catalog/objectives.yml", "level: strategic", "level: strategic: yes", after="- id: OBJ-RELIABLE")
    line = line_of(p / "catalog/objectives.yml", "level: strategic: yes")
    only_problems(p, (f"catalog/objectives.yml:{line}", "", "invalid YAML: mapping values are not allowed here"))


def test_misspelt_section(tmp_path: Path) -> None:
    p = copy_example(tmp_path / "p")
    edit(p / "catalog/kpis.yml", "kpis:", "kpi:")
    line = line_of(p / "catalog/kpis.yml", "kpi:")
    only_problems(p, (f"catalog/kpis.yml:{line}", "kpi", "unknown section"))


def test_source_problems_name_the_source_file(tmp_path: Path) -> None:
    p = copy_example(tmp_path / "p")
    edit(p / "sources/flights.yml", "year: integer", "year: int")
    line = line_of(p / "sources/flights.yml", "year: int")
    (p / "sources/other.yml").write_text(
        "sources:\n  - name: flights\n    path: x.csv\n    layout: table\n    columns: {a: varchar}\n"
    )
    first = line_of(p / "sources/flights.yml", "- name: flights")
    # flights.yml is invalid, so the duplicate is not seen; fix it and the duplicate is reported.
    only_problems(p, (f"sources/flights.yml:{line}", "sources[0].columns.year", "(got 'int')"))
    edit(p / "sources/flights.yml", "year: int", "year: integer")
    reason = f"duplicate source name 'flights' (first defined at sources/flights.yml:{first})"
    only_problems(p, ("sources/other.yml:2", "sources[0].name", reason))


def test_settings_problems(tmp_path: Path) -> None:
    p = copy_example(tmp_path / "p")
    settings = p / "kpi-align.yml"
    edit(settings, "timezone: America/New_York", "timezone: America/Gotham")
    old = next(s.strip() for s in settings.read_text().splitlines() if s.strip().startswith("cron:"))
    edit(settings, old, 'cron: "0 6 * *"')
    zone = line_of(settings, "timezone: America/Gotham")
    cron = line_of(settings, 'cron: "0 6 * *"')
    only_problems(
        p,
        (f"kpi-align.yml:{zone}", "schedule.timezone", "unknown timezone 'America/Gotham'"),
        (f"kpi-align.yml:{cron}", "schedule.cron", "not a five-field cron expression"),
    )


def test_yaml_12_booleans_and_empty_files(tmp_path: Path) -> None:
    """`off` is a severity, not False; an empty catalog file is no error."""
    p = copy_example(tmp_path / "p")
    edit(p / "kpi-align.yml", "orphaned: warn", "orphaned: off")
    (p / "catalog" / "empty.yml").write_text("# nothing here yet\n")
    (p / "catalog" / "sections.yml").write_text("objectives:\nkpis:\n")
    assert load_project(p).settings.severity.orphaned == "off"


def test_not_a_project(tmp_path: Path) -> None:
    with pytest.raises(ProjectError) as raised:
        load_project(tmp_path)
    assert [(p.where, p.reason) for p in raised.value.problems] == [
        (str(tmp_path / "kpi-align.yml"), "no kpi-align.yml: not a kpi-alignment project")
    ]
