"""A kpi-alignment project directory: settings, strategy catalog and source definitions.

Layout (see ``docs/architecture.md``)::

    kpi-align.yml      settings
    catalog/*.yml      objectives, kpis, links, targets (merged across files)
    sources/*.yml      source definitions
    models/            optional dbt models computing metrics from raw tables

:func:`resolve_project_dir` picks the directory (``--project`` > ``$KPI_ALIGN_PROJECT`` > bundled example) and
:func:`load_project` reads and validates it. Validation collects every problem (file, line, YAML path, reason)
before raising :class:`ProjectError`, so a user fixes a catalog in one pass.
"""

from __future__ import annotations

import datetime as dt
import os
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from kpi_alignment.catalog import Catalog, CatalogFile, CatalogProblem, cross_check
from kpi_alignment.sources import Source, SourcesFile

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_EXAMPLE = REPO_ROOT / "examples" / "airline"
SETTINGS_FILE = "kpi-align.yml"
PROJECT_ENV = "KPI_ALIGN_PROJECT"
OUTPUT_ENV = "KPI_ALIGN_OUTPUT_DIR"

Severity = Literal["error", "warn", "off"]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Schedule(_Strict):
    """When the nightly job runs: a cron expression in local time of ``timezone``."""

    cron: str = "0 6 * * *"
    timezone: str = "UTC"

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown timezone '{v}'") from e
        return v


class Calendar(_Strict):
    """Explicit calendar for period aggregation: ISO week start and fiscal-year start month (NYC: 7 = July)."""

    week_start: Literal["monday", "sunday"] = "monday"
    fiscal_year_start_month: int = Field(1, ge=1, le=12)


class Severities(_Strict):
    """Severity of each alignment finding; ``error`` makes ``kpi-align check`` exit 1 and blocks the report."""

    orphaned: Severity = "warn"
    disconnected: Severity = "error"
    silent: Severity = "warn"
    unfed: Severity = "error"
    unmeasured: Severity = "error"
    stale: Severity = "warn"


class Warehouse(_Strict):
    """DuckDB settings applied to every connection the pipeline opens."""

    threads: int | None = Field(None, ge=1)
    memory_limit: str | None = Field(None, description="DuckDB memory_limit, e.g. '4GB'.")


class Settings(_Strict):
    """``kpi-align.yml``."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    title: str = ""
    evaluation_date: dt.date | None = Field(
        None, description="Date statuses are evaluated at. Default: today in the schedule's timezone."
    )
    schedule: Schedule = Field(default_factory=Schedule)
    calendar: Calendar = Field(default_factory=Calendar)
    severity: Severities = Field(default_factory=Severities)
    warehouse: Warehouse = Field(default_factory=Warehouse)
    output_dir: str = ".kpi-align"
    derived_metric_models: list[str] = Field(
        default_factory=list, description="dbt models in models/ that return the metric shape."
    )


class ProjectError(Exception):
    """A project that cannot be used. ``problems`` lists every finding (file, path, reason)."""

    def __init__(self, problems: list[CatalogProblem]):
        self.problems = problems
        super().__init__("\n".join(str(p) for p in problems))


@dataclass
class Project:
    """A loaded, validated project directory."""

    root: Path
    settings: Settings
    catalog: Catalog
    sources: list[Source]
    files: list[Path] = field(default_factory=list)

    @property
    def output_dir(self) -> Path:
        env = os.environ.get(OUTPUT_ENV)
        out = Path(env) if env else Path(self.settings.output_dir)
        return (out if out.is_absolute() else self.root / out).resolve()

    @property
    def models_dir(self) -> Path | None:
        d = self.root / "models"
        return d if d.is_dir() else None

    def evaluation_date(self, override: dt.date | None = None) -> dt.date:
        """``override`` > settings.evaluation_date > today in the schedule's timezone."""
        if override is not None:
            return override
        if self.settings.evaluation_date is not None:
            return self.settings.evaluation_date
        return dt.datetime.now(ZoneInfo(self.settings.schedule.timezone)).date()

    def catalog_revision(self) -> str:
        """The git commit of the project directory (``+dirty`` if catalog files changed), else ``unversioned``."""
        try:
            head = subprocess.run(
                ["git", "rev-parse", "--short=12", "HEAD"], cwd=self.root, capture_output=True, text=True, check=True
            ).stdout.strip()
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--", "catalog", SETTINGS_FILE],
                cwd=self.root, capture_output=True, text=True, check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unversioned"
        return f"{head}+dirty" if dirty else head

    def resolve_path(self, configured: str) -> Path:
        """A configured path: absolute stays, relative is inside the project directory (no escaping it)."""
        p = Path(configured)
        if p.is_absolute():
            return p
        resolved = (self.root / p).resolve()
        if not resolved.is_relative_to(self.root.resolve()):
            raise ValueError(f"path '{configured}' leaves the project directory {self.root}")
        return resolved


def resolve_project_dir(project: str | Path | None = None) -> Path:
    """``project`` argument, else ``$KPI_ALIGN_PROJECT``, else the bundled airline example."""
    chosen = project or os.environ.get(PROJECT_ENV) or BUNDLED_EXAMPLE
    return Path(chosen).expanduser().resolve()


def load_project(project: str | Path | None = None) -> Project:
    """Load and validate a project directory.

    Raises :class:`ProjectError` listing every problem: unreadable YAML, schema violations (with line numbers),
    and cross-entity rules from :func:`kpi_alignment.catalog.cross_check`.
    """
    root = resolve_project_dir(project)
    problems: list[CatalogProblem] = []
    settings_path = root / SETTINGS_FILE
    if not settings_path.is_file():
        raise ProjectError([CatalogProblem(str(settings_path), "", "no kpi-align.yml: not a kpi-alignment project")])

    settings = _parse(settings_path, Settings, problems)
    catalog = Catalog.empty()
    files = [settings_path]
    for path in sorted((root / "catalog").glob("*.y*ml")):
        files.append(path)
        parsed = _parse(path, CatalogFile, problems)
        if parsed is None:
            continue
        rel = path.relative_to(root)
        lines = _line_index(path)
        for kind, items in (("objective", parsed.objectives), ("kpi", parsed.kpis)):
            catalog_list = catalog.objectives if kind == "objective" else catalog.kpis
            for i, item in enumerate(items):
                catalog.origin.setdefault((kind, item.id), f"{rel}:{lines.get((f'{kind}s', i), 1)}")
                catalog_list.append(item)
        for i, link in enumerate(parsed.links):
            catalog.origin[("link", f"{link.kpi}->{link.objective}")] = f"{rel}:{lines.get(('links', i), 1)}"
            catalog.links.append(link)
        for i, target in enumerate(parsed.targets):
            catalog.origin[("target", f"{target.kpi}@{target.period_start}")] = f"{rel}:{lines.get(('targets', i), 1)}"
            catalog.targets.append(target)

    sources: list[Source] = []
    for path in sorted((root / "sources").glob("*.y*ml")):
        files.append(path)
        parsed_sources = _parse(path, SourcesFile, problems)
        if parsed_sources is not None:
            sources.extend(parsed_sources.sources)
    names = [s.name for s in sources]
    for dup in sorted({n for n in names if names.count(n) > 1}):
        problems.append(CatalogProblem("sources", f"sources.{dup}", "duplicate source name"))

    problems.extend(cross_check(catalog))
    if problems or settings is None:
        raise ProjectError(problems)
    return Project(root=root, settings=settings, catalog=catalog, sources=sources, files=files)


def _parse(path: Path, model: type[BaseModel], problems: list[CatalogProblem]) -> Any:
    """Validate one YAML file against ``model``; append problems with line numbers, return the model or None."""
    try:
        text = path.read_text(encoding="utf-8")
        data = yaml.safe_load(text) or {}
    except (OSError, UnicodeDecodeError) as e:
        problems.append(CatalogProblem(str(path), "", f"cannot read: {e}"))
        return None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{path}:{mark.line + 1}" if mark else str(path)
        problems.append(CatalogProblem(where, "", f"invalid YAML: {getattr(e, 'problem', e)}"))
        return None
    try:
        return model.model_validate(data)
    except ValidationError as e:
        marks = _node_marks(text)
        for err in e.errors():
            loc = tuple(err["loc"])
            line = _closest_line(marks, loc)
            problems.append(
                CatalogProblem(f"{path}:{line}" if line else str(path), _dotted(loc), err["msg"])
            )
        return None


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _node_marks(text: str) -> dict[tuple[Any, ...], int]:
    """Map every YAML path (keys and list indexes) to its 1-based line number."""
    marks: dict[tuple[Any, ...], int] = {}
    try:
        root = yaml.compose(text)
    except yaml.YAMLError:
        return marks

    def walk(node: yaml.Node, path: tuple[Any, ...]) -> None:
        marks[path] = node.start_mark.line + 1
        if isinstance(node, yaml.MappingNode):
            for key, value in node.value:
                walk(value, (*path, key.value))
                marks[(*path, key.value)] = key.start_mark.line + 1
        elif isinstance(node, yaml.SequenceNode):
            for i, item in enumerate(node.value):
                walk(item, (*path, i))

    if root is not None:
        walk(root, ())
    return marks


def _closest_line(marks: dict[tuple[Any, ...], int], loc: tuple[Any, ...]) -> int | None:
    """Line of the deepest existing prefix of ``loc`` (a missing field points at its parent)."""
    for n in range(len(loc), -1, -1):
        if loc[:n] in marks:
            return marks[loc[:n]]
    return None


def _line_index(path: Path) -> dict[tuple[str, int], int]:
    """(list name, index) -> line, for the catalog's top-level lists."""
    marks = _node_marks(path.read_text(encoding="utf-8"))
    return {(k[0], k[1]): v for k, v in marks.items() if len(k) == 2 and isinstance(k[1], int)}
