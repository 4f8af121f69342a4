"""A kpi-alignment project directory: settings, strategy catalog and source definitions.

Layout (see ``docs/architecture.md``)::

    kpi-align.yml      settings
    catalog/*.yml      objectives, kpis, links, targets (merged across files)
    sources/*.yml      source definitions
    models/            optional dbt models computing metrics from raw tables

:func:`resolve_project_dir` picks the directory (``--project`` > ``$KPI_ALIGN_PROJECT`` > bundled
example) and :func:`load_project` reads and validates it. Validation collects every problem
(file, line, YAML path, reason) before raising :class:`ProjectError`, so a user fixes a catalog in
one pass.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from kpi_alignment.catalog import CATALOG_SECTIONS, Catalog, CatalogProblem, Origin, cross_check
from kpi_alignment.delivery_settings import Delivery
from kpi_alignment.sources import Source, SourcesFile

REPO_ROOT = Path(__file__).resolve().parent.parent
BUNDLED_EXAMPLE = REPO_ROOT / "examples" / "airline"
SETTINGS_FILE = "kpi-align.yml"
PROJECT_ENV = "KPI_ALIGN_PROJECT"
OUTPUT_ENV = "KPI_ALIGN_OUTPUT_DIR"
EVALUATION_DATE_ENV = "KPI_ALIGN_EVALUATION_DATE"

Severity = Literal["error", "warn", "off"]
_CRON_FIELD = re.compile(r"^[0-9A-Za-z*/,?-]+$")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Schedule(_Strict):
    """When the nightly job runs: a cron expression in local time of ``timezone``."""

    cron: str = Field("0 6 * * *", description="Five-field cron expression, e.g. '0 6 * * *' = 06:00 daily.")
    timezone: str = Field("UTC", description="IANA timezone the cron expression is read in.")

    @field_validator("cron")
    @classmethod
    def _five_fields(cls, v: str) -> str:
        parts = v.split()
        if len(parts) != 5 or not all(_CRON_FIELD.match(p) for p in parts):
            raise ValueError(f"'{v}' is not a five-field cron expression (minute hour day month weekday)")
        return v

    @field_validator("timezone")
    @classmethod
    def _known_zone(cls, v: str) -> str:
        try:
            ZoneInfo(v)
        except (ZoneInfoNotFoundError, ValueError) as e:
            raise ValueError(f"unknown timezone '{v}'") from e
        return v


class Calendar(_Strict):
    """Explicit calendar for period aggregation: week start and fiscal-year start month (NYC: 7)."""

    week_start: Literal["monday", "sunday"] = "monday"
    fiscal_year_start_month: int = Field(1, ge=1, le=12)


class Severities(_Strict):
    """Severity of each alignment finding; ``error`` makes ``kpi-align check`` exit 1 and blocks
    the report."""

    orphaned: Severity = "warn"
    disconnected: Severity = "error"
    silent: Severity = "warn"
    unfed: Severity = "error"
    unmeasured: Severity = "error"
    stale: Severity = "warn"
    id_cleanup: Severity = Field("warn", description="Ids that only matched after trimming / case folding (B28).")


class GraceDays(_Strict):
    """Days after a period ends by which its value is expected, per grain (a KPI's ``expected_within_days`` wins).

    A linked KPI with no value for the latest period that is due by then is ``silent``.
    """

    day: int = Field(2, ge=0)
    week: int = Field(3, ge=0)
    month: int = Field(10, ge=0)
    quarter: int = Field(20, ge=0)
    year: int = Field(45, ge=0)


class RagThresholds(_Strict):
    """Default RAG bands on the 0-100 score (a KPI's catalog ``rag:`` block overrides them): first match wins."""

    green_at: float = Field(95, ge=0, le=100)
    amber_at: float = Field(80, ge=0, le=100)

    @model_validator(mode="after")
    def _ordered(self) -> RagThresholds:
        if self.amber_at > self.green_at:
            raise ValueError("amber_at must not exceed green_at")
        return self


class Scoring(_Strict):
    """How KPIs are scored and rolled up (formulas: dbt_project/README.md, macros/scoring.sql)."""

    rag: RagThresholds = Field(default_factory=RagThresholds)
    expected_progress: Literal["linear", "stepped"] = "linear"
    trend_flat_tolerance: float = Field(0.01, ge=0, description="Relative change within which a trend is flat.")
    objective_score_grains: list[Literal["day", "week", "month", "quarter", "year"]] = Field(
        default_factory=lambda: ["month", "quarter", "year"]
    )


class Warehouse(_Strict):
    """DuckDB settings applied to every connection the pipeline opens (ingest, catalog, dbt, publish)."""

    threads: int | None = Field(
        None,
        ge=1,
        description="DuckDB worker threads of the pipeline's own connections, and models dbt builds at once. "
        "Default: every core (dbt: one model at a time).",
    )
    memory_limit: str | None = Field(
        None, description="DuckDB memory_limit, e.g. '4GB' or '50%', also for dbt. Default: DuckDB's (80% of RAM)."
    )


class Settings(_Strict):
    """``kpi-align.yml``."""

    name: str = Field(pattern=r"^[A-Za-z0-9_.-]+$")
    title: str = ""
    evaluation_date: dt.date | None = Field(
        None,
        description="Date statuses are evaluated at. Default: today in the schedule's timezone.",
    )
    schedule: Schedule = Field(default_factory=Schedule)
    calendar: Calendar = Field(default_factory=Calendar)
    severity: Severities = Field(default_factory=Severities)
    grace_days: GraceDays = Field(default_factory=GraceDays)
    scoring: Scoring = Field(default_factory=Scoring)
    warehouse: Warehouse = Field(default_factory=Warehouse)
    output_dir: str = ".kpi-align"
    derived_metric_models: list[str] = Field(
        default_factory=list, description="dbt models in models/ that return the metric shape."
    )
    metric_values_lookback_hours: int = Field(
        0,
        ge=0,
        description="dbt reads again the metric value loads stamped up to this many hours before the newest load "
        "it already holds (int_metric_values_latest is incremental). 0 is exact: loads and dbt builds take turns "
        "under the writer lock, so no load stamped earlier commits later. More re-reads more loads every night "
        "(time, never a wrong row); raise it only for rows whose loaded_at comes from a lagging clock.",
    )
    delivery: Delivery = Field(
        default_factory=Delivery, description="Where a finished report is sent (folder, webhook, e-mail)."
    )


class ProjectError(Exception):
    """A project that cannot be used. ``problems`` lists every finding (file:line, path, reason).

    Files are named relative to ``root`` (the project directory), which the message names first.
    """

    def __init__(self, problems: list[CatalogProblem], root: Path | None = None):
        self.problems = problems
        self.root = root
        head = f"{len(problems)} problem(s) in project {root}:" if root else f"{len(problems)} problem(s):"
        super().__init__("\n".join([head, *(f"  {p}" for p in problems)]))


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
        """``override`` > ``$KPI_ALIGN_EVALUATION_DATE`` > settings.evaluation_date > today in the
        schedule's timezone."""
        if override is not None:
            return override
        if os.environ.get(EVALUATION_DATE_ENV):
            return dt.date.fromisoformat(os.environ[EVALUATION_DATE_ENV])
        if self.settings.evaluation_date is not None:
            return self.settings.evaluation_date
        return dt.datetime.now(ZoneInfo(self.settings.schedule.timezone)).date()

    def catalog_revision(self) -> str:
        """The git commit of the project directory (``+dirty`` if catalog files changed), else
        ``unversioned``."""
        try:
            head = subprocess.run(
                ["git", "rev-parse", "--short=12", "HEAD"],
                cwd=self.root,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            dirty = subprocess.run(
                ["git", "status", "--porcelain", "--", "catalog", SETTINGS_FILE],
                cwd=self.root,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        except (OSError, subprocess.CalledProcessError):
            return "unversioned"
        return f"{head}+dirty" if dirty else head

    def resolve_path(self, configured: str) -> Path:
        """A configured path: absolute stays, relative is inside the project directory."""
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

    Every catalog entry is validated on its own, so one bad entry neither hides the problems of the
    others nor makes references to it look unknown. Raises :class:`ProjectError` listing every
    problem at once: unreadable or invalid YAML (including duplicate keys), schema violations, and
    the cross-entity rules of :func:`kpi_alignment.catalog.cross_check`; each names the file
    (relative to the project directory), the line, the YAML path and the reason.
    """
    root = resolve_project_dir(project)
    problems: list[CatalogProblem] = []
    settings_path = root / SETTINGS_FILE
    if not settings_path.is_file():
        raise ProjectError(
            [CatalogProblem(str(settings_path), "", "no kpi-align.yml: not a kpi-alignment project")],
            root,
        )

    files = [settings_path]
    settings_doc = _read_yaml(settings_path, root, problems)
    settings = _validate(Settings, settings_doc, (), problems) if settings_doc is not None else None

    catalog = Catalog.empty()
    invalid_ids: dict[str, set[str]] = {"objectives": set(), "kpis": set()}
    # False once a catalog file holds entries whose ids cannot be known (unparsable YAML, a typo in
    # a section name): references into them would all look unknown, so they are not checked.
    ids_complete = True
    for path in sorted((root / "catalog").glob("*.y*ml")):
        files.append(path)
        doc = _read_yaml(path, root, problems)
        complete = doc is not None and _load_catalog_file(doc, catalog, invalid_ids, problems)
        ids_complete = ids_complete and complete

    sources: list[Source] = []
    first_source: dict[str, str] = {}
    for path in sorted((root / "sources").glob("*.y*ml")):
        files.append(path)
        doc = _read_yaml(path, root, problems)
        parsed = _validate(SourcesFile, doc, (), problems) if doc is not None else None
        if parsed is None:
            continue
        for i, source in enumerate(parsed.sources):
            where = doc.where(("sources", i, "name"))
            if source.name in first_source:
                problems.append(
                    CatalogProblem(
                        where,
                        f"sources[{i}].name",
                        f"duplicate source name '{source.name}' (first defined at {first_source[source.name]})",
                    )
                )
                continue
            first_source[source.name] = where
            sources.append(source)

    # Sources with a catalog mapping add KPIs (and objectives) only when their file is read: references to those
    # cannot be judged here; the alignment diagnosis reports any that stay unknown.
    derived = [s.catalog for s in sources if getattr(s, "catalog", None) is not None]
    problems.extend(
        cross_check(
            catalog,
            invalid_ids=invalid_ids,
            check_references=ids_complete,
            open_kpis=bool(derived),
            open_objectives=any(m.objective_columns for m in derived),
        )
    )
    if problems or settings is None:
        raise ProjectError(problems, root)
    return Project(root=root, settings=settings, catalog=catalog, sources=sources, files=files)


@dataclass
class _Doc:
    """One parsed YAML file: its data, its name relative to the project, the line of each path."""

    file: str
    data: Any
    marks: dict[tuple[Any, ...], int]

    def line(self, loc: tuple[Any, ...]) -> int | None:
        """Line of the deepest part of ``loc`` in the file (a missing key points at its parent)."""
        return _closest_line(self.marks, loc)

    def where(self, loc: tuple[Any, ...]) -> str:
        line = self.line(loc)
        return f"{self.file}:{line}" if line else self.file


class _YamlLoader(yaml.SafeLoader):
    """Safe YAML with the surprises of YAML 1.1 removed.

    Dates stay strings, so pydantic reports an impossible date (``2013-02-30``) with its field and
    line instead of the YAML parser failing without one. Only ``true``/``false`` are booleans
    (``off`` is a severity, ``no`` a country code), as in YAML 1.2. A key written twice in one
    mapping is recorded in ``duplicate_keys`` as (key, first line, repeated line) instead of the
    last one silently winning.
    """

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self.duplicate_keys: list[tuple[str, int, int]] = []

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, int] = {}
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag == "tag:yaml.org,2002:merge":
                continue
            line = key_node.start_mark.line + 1
            if key_node.value in seen:
                self.duplicate_keys.append((key_node.value, seen[key_node.value], line))
            seen.setdefault(key_node.value, line)
        return super().construct_mapping(node, deep=deep)


_YamlLoader.yaml_implicit_resolvers = {
    first: [
        (tag, regexp)
        for tag, regexp in resolvers
        if tag not in ("tag:yaml.org,2002:timestamp", "tag:yaml.org,2002:bool")
    ]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_YamlLoader.add_implicit_resolver(
    "tag:yaml.org,2002:bool", re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)


def _parse_yaml(text: str) -> tuple[Any, list[tuple[str, int, int]]]:
    """The data of a YAML text and its duplicate keys (see :class:`_YamlLoader`)."""
    loader = _YamlLoader(text)
    try:
        return loader.get_single_data(), loader.duplicate_keys
    finally:
        loader.dispose()


def load_yaml(text: str) -> Any:
    """Parse YAML as project files are read (:class:`_YamlLoader`).

    Raises ``yaml.YAMLError`` on invalid YAML, including a key written twice in one mapping.
    """
    data, duplicates = _parse_yaml(text)
    if duplicates:
        key, first, again = duplicates[0]
        raise yaml.constructor.ConstructorError(problem=f"duplicate key '{key}' on lines {first} and {again}")
    return data


def _read_yaml(path: Path, root: Path, problems: list[CatalogProblem]) -> _Doc | None:
    """Read one YAML file; on failure append a problem (with its line, when known), return None.

    A duplicate key is reported but does not stop the file from being read (the last value is
    used), so it does not also make every entry of the file look missing.
    """
    name = _relative(path, root)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        problems.append(CatalogProblem(name, "", f"cannot read the file as UTF-8: {e}"))
        return None
    try:
        data, duplicates = _parse_yaml(text)
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None) or getattr(e, "context_mark", None)
        where = f"{name}:{mark.line + 1}" if mark else name
        reason = getattr(e, "problem", None) or str(e)
        context = getattr(e, "context", None)
        context_mark = getattr(e, "context_mark", None)
        if context and context_mark is not None and context_mark is not mark:
            context = f"{context} that starts on line {context_mark.line + 1}"
        problems.append(CatalogProblem(where, "", f"invalid YAML: {reason}" + (f" ({context})" if context else "")))
        return None
    doc = _Doc(name, {} if data is None else data, _node_marks(text))
    for key, first, again in duplicates:
        # The YAML path whose (last) key is on the repeated line.
        path_of = next((p for p, line in doc.marks.items() if p and p[-1] == key and line == again), ())
        problems.append(
            CatalogProblem(f"{name}:{again}", _dotted(path_of), f"key '{key}' written twice (first on line {first})")
        )
    return doc


def _relative(path: Path, root: Path) -> str:
    try:
        return path.relative_to(root).as_posix()
    except ValueError:
        return str(path)


def _validate(model: type[BaseModel], doc: _Doc, loc: tuple[Any, ...], problems: list[CatalogProblem]) -> Any:
    """Validate ``doc`` at ``loc`` against ``model``: the model, or None + a problem per error."""
    data = doc.data
    for part in loc:
        data = data[part]
    try:
        return model.model_validate(data)
    except ValidationError as e:
        for err in e.errors():
            full = _without_union_tags((*loc, *err["loc"]))
            problems.append(CatalogProblem(doc.where(full), _dotted(full), _reason(err)))
        return None


_SOURCE_TAGS = frozenset({"csv", "api"})


def _without_union_tags(loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the tag pydantic inserts after a list index of the source union (``sources[0].csv.name``)."""
    return tuple(part for i, part in enumerate(loc) if not (part in _SOURCE_TAGS and i and isinstance(loc[i - 1], int)))


def _reason(err: Any) -> str:
    """A pydantic error as a sentence: the validator's own message, or pydantic's plus the value."""
    if err["type"] == "value_error" and "error" in err.get("ctx", {}):
        return str(err["ctx"]["error"])
    if err["type"] == "missing":
        return "required field is missing"
    if err["type"] == "extra_forbidden":
        return "unknown field (not allowed here; check the spelling)"
    value = err.get("input")
    if isinstance(value, str | int | float | bool) and not isinstance(value, dict):
        return f"{err['msg']} (got {value!r})"
    return err["msg"]


def _load_catalog_file(
    doc: _Doc, catalog: Catalog, invalid_ids: dict[str, set[str]], problems: list[CatalogProblem]
) -> bool:
    """Validate each entry of one catalog file on its own and add the valid ones to ``catalog``.

    Returns whether every objective and KPI id of the file is known (valid, or in ``invalid_ids``).
    """
    complete = True
    if not isinstance(doc.data, dict):
        problems.append(
            CatalogProblem(
                doc.where(()),
                "",
                f"a catalog file is a mapping with {', '.join(CATALOG_SECTIONS)}: lists",
            )
        )
        return False
    for section, entries in doc.data.items():
        model = CATALOG_SECTIONS.get(section)
        if model is None:
            problems.append(
                CatalogProblem(
                    doc.where((section,)),
                    str(section),
                    f"unknown section (a catalog file holds {', '.join(CATALOG_SECTIONS)})",
                )
            )
            complete = False
            continue
        if entries is None:  # an empty section: `kpis:` with nothing under it
            continue
        if not isinstance(entries, list):
            problems.append(CatalogProblem(doc.where((section,)), section, "must be a list of entries"))
            complete = False
            continue
        for i, raw in enumerate(entries):
            item = _validate(model, doc, (section, i), problems)
            if item is None:
                if section in invalid_ids:
                    if isinstance(raw, dict) and isinstance(raw.get("id"), str):
                        invalid_ids[section].add(raw["id"].strip())
                    else:
                        complete = False
                continue
            fields = {key[2]: line for key, line in doc.marks.items() if len(key) == 3 and key[:2] == (section, i)}
            catalog.add(item, Origin(doc.file, f"{section}[{i}]", doc.marks[(section, i)], fields))
    return complete


def _dotted(loc: tuple[Any, ...]) -> str:
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def _node_marks(text: str) -> dict[tuple[Any, ...], int]:
    """Map every YAML path (keys and list indexes) to its 1-based line (a key's own line)."""
    marks: dict[tuple[Any, ...], int] = {}
    try:
        root = yaml.compose(text, Loader=yaml.SafeLoader)
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
