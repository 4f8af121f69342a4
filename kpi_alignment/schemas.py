"""JSON Schemas of the project files, generated from the pydantic models that validate them.

Editors that speak the YAML language server (VS Code's YAML extension, JetBrains, Neovim) complete
and check project files against these schemas when a file starts with
``# yaml-language-server: $schema=<path to schemas/...>``. The committed copies in ``schemas/`` are
regenerated with ``python -m kpi_alignment.schemas`` and a test keeps them equal to the models.
"""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from kpi_alignment.catalog import catalog_json_schema
from kpi_alignment.project import REPO_ROOT, Settings
from kpi_alignment.sources import SourcesFile

SCHEMA_DIR = REPO_ROOT / "schemas"
_DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _schema(model: type[BaseModel], title: str) -> dict[str, Any]:
    schema = model.model_json_schema()
    schema["$schema"] = _DRAFT
    schema["title"] = title
    return schema


def schema_documents() -> dict[str, dict[str, Any]]:
    """File name -> JSON Schema (draft 2020-12) of each kind of project file.

    ``catalog.schema.json``: one ``catalog/*.yml`` file; ``sources.schema.json``: one
    ``sources/*.yml`` file; ``settings.schema.json``: ``kpi-align.yml``.
    """
    return {
        "catalog.schema.json": catalog_json_schema(),
        "sources.schema.json": _schema(SourcesFile, "kpi-alignment sources file"),
        "settings.schema.json": _schema(Settings, "kpi-alignment project settings (kpi-align.yml)"),
    }


def render(schema: dict[str, Any]) -> str:
    """The exact text a schema is committed as: 2-space indented JSON, key order kept, final newline."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def write_schemas(directory: Path = SCHEMA_DIR) -> list[Path]:
    """Write every schema of :func:`schema_documents` into ``directory`` (created if missing).

    Each file is written to a temporary file and renamed over the old one, so an editor never reads
    half a schema. Returns the paths of the files written, in :func:`schema_documents` order.
    """
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name, schema in schema_documents().items():
        target = directory / name
        tmp = directory / f".{name}.{os.getpid()}.tmp"
        try:
            tmp.write_text(render(schema), encoding="utf-8", newline="\n")
            os.replace(tmp, target)
        finally:
            tmp.unlink(missing_ok=True)
        written.append(target)
    return written


if __name__ == "__main__":
    out = Path(sys.argv[1]) if len(sys.argv) > 1 else SCHEMA_DIR
    for path in write_schemas(out):
        print(path)
