"""The committed JSON Schemas equal the models, and the example files validate against them."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from kpi_alignment.project import load_yaml
from kpi_alignment.schemas import render, schema_documents, write_schemas

REPO = Path(__file__).resolve().parents[2]
SCHEMAS = REPO / "schemas"
EXAMPLE = REPO / "examples" / "airline"
MARKER = "# yaml-language-server: $schema="

# Which schema each kind of project file is checked against.
EXAMPLE_FILES = [
    (EXAMPLE / "kpi-align.yml", "settings.schema.json"),
    *((p, "catalog.schema.json") for p in sorted((EXAMPLE / "catalog").glob("*.yml"))),
    *((p, "sources.schema.json") for p in sorted((EXAMPLE / "sources").glob("*.yml"))),
]


@pytest.mark.parametrize("name", sorted(schema_documents()))
def test_committed_schema_equals_generated(name: str) -> None:
    committed = SCHEMAS / name
    assert committed.is_file(), f"{committed} missing: run python -m kpi_alignment.schemas"
    assert committed.read_text(encoding="utf-8") == render(schema_documents()[name]), (
        f"{committed} is out of date with the models: run python -m kpi_alignment.schemas"
    )


def test_write_schemas_writes_every_document(tmp_path: Path) -> None:
    written = write_schemas(tmp_path / "out")
    assert [p.name for p in written] == list(schema_documents())
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == sorted(schema_documents())
    for p in written:
        schema = json.loads(p.read_text(encoding="utf-8"))
        assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"
        assert schema["additionalProperties"] is False


@pytest.mark.parametrize(("path", "schema_name"), EXAMPLE_FILES, ids=[p.name for p, _ in EXAMPLE_FILES])
def test_example_file_names_its_schema_and_validates(path: Path, schema_name: str) -> None:
    first = path.read_text(encoding="utf-8").splitlines()[0]
    assert first.startswith(MARKER), f"{path}: first line should be {MARKER}<schema>"
    referenced = (path.parent / first.removeprefix(MARKER)).resolve()
    assert referenced == (SCHEMAS / schema_name).resolve()

    jsonschema = pytest.importorskip("jsonschema")
    schema = json.loads(referenced.read_text(encoding="utf-8"))
    data = load_yaml(path.read_text(encoding="utf-8"))
    errors = [e.message for e in jsonschema.Draft202012Validator(schema).iter_errors(data)]
    assert errors == []


def test_schema_rejects_what_the_models_reject() -> None:
    """An editor flags the same typo the loader does (the schema is not looser than the model)."""
    jsonschema = pytest.importorskip("jsonschema")
    validator = jsonschema.Draft202012Validator(schema_documents()["catalog.schema.json"])
    kpi = {
        "id": "K",
        "name": "n",
        "direction": "up",
        "aggregation": "sum",
        "grain": "month",
        "owner": "o",
        "owners": "typo",
    }
    messages = sorted(e.message for e in validator.iter_errors({"kpis": [kpi]}))
    assert any("'up' is not one of" in m for m in messages)
    assert any("'owners' was unexpected" in m for m in messages)
