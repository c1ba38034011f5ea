"""Import boundaries: engines know no warehouse; the warehouse has no import cycle."""

from __future__ import annotations

import ast
import subprocess
import sys

import pytest

from tests.conftest import ROOT


def _loaded_after(module: str) -> set[str]:
    code = f"import sys, {module}; print('\\n'.join(sorted(sys.modules)))"
    out = subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True
    )
    return set(out.stdout.split())


@pytest.mark.parametrize(
    "engine",
    ["analytics.transcription.assemblyai", "analytics.transcription.faster_whisper",
     "analytics.transcription.openai_whisper", "analytics.insights.llm"],
)  # fmt: skip
def test_engines_import_no_warehouse(engine: str) -> None:
    assert not {m for m in _loaded_after(engine) if m.startswith("analytics.warehouse")}


def _imports(path: str) -> set[str]:
    tree = ast.parse((ROOT / path).read_text())
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module:
            out.add(node.module)
        elif isinstance(node, ast.Import):
            out |= {a.name for a in node.names}
    return out


def test_no_import_cycle_between_the_writer_and_enrichment() -> None:
    assert "analytics.warehouse.rows" in _imports("analytics/warehouse/db.py")
    assert "analytics.warehouse.enrichment" in _imports("analytics/warehouse/rows.py")
    # enrichment may use the statement helpers in sql.py, a leaf that imports no warehouse
    leaf = "analytics.warehouse.sql"
    assert not {m for m in _imports("analytics/warehouse/enrichment.py")
                if m.startswith("analytics.warehouse") and m != leaf}  # fmt: skip
    assert not {m for m in _imports("analytics/warehouse/sql.py")
                if m.startswith("analytics")}  # fmt: skip
