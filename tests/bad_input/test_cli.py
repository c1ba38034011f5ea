"""`callscope analyze` on each failing input: exit code 1 and one line naming the problem,
never a traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner

from flows.cli import main
from tests.bad_input.inputs import CASES, Case

pytestmark = pytest.mark.slow  # loads tiny.en once


@pytest.mark.parametrize("case", [c for c in CASES if c.fails], ids=lambda c: c.id)
def test_analyze_reports_bad_input_without_a_traceback(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CALLSCOPE_DATA_DIR", str(tmp_path / "data"))
    path = case.make(tmp_path)
    result = CliRunner().invoke(main, ["analyze", str(path)])
    assert result.exit_code == 1, result.output
    assert "Traceback" not in result.output
    stage, pattern = case.fails  # type: ignore[misc]
    assert f"{stage} failed" in result.output
    assert re.search(pattern, result.output), result.output
