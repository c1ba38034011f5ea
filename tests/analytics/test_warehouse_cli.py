"""The warehouse commands end to end through click: publish, search, export, purge."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from analytics.warehouse import Warehouse
from flows.cli import main
from tests.analytics.warehouse_helpers import landed_call


@pytest.fixture
def warehouse(tmp_path: Path) -> Path:
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.migrate()
    wh.land(landed_call("c1", day=1))
    wh.land(landed_call("c2", day=20, agent="agent-bo"))
    return wh.path


def _run(*args: str) -> str:
    result = CliRunner().invoke(main, list(args), catch_exceptions=False)
    assert result.exit_code == 0, result.output
    return result.output


def test_publish_search_export_purge(warehouse: Path, tmp_path: Path) -> None:
    w = ["--warehouse", str(warehouse)]
    assert "search index: +2 analyses" in _run("publish", *w)
    out = _run("search", "refund", "--role", "agent", "--agent", "agent-bo", *w)
    assert out.splitlines()[0].split()[1:3] == ["c2", "2026-11-20"]
    assert "I issued the refund" in out and "c1" not in out
    assert "no matches" in _run("search", "zebra", *w)

    out = _run("export", "--to", str(tmp_path / "exp"), "--since", "2026-11-10", *w)
    assert "v_calls" in out and (tmp_path / "exp" / "v_calls" / "call_date=2026-11-20").is_dir()
    assert not (tmp_path / "exp" / "v_calls" / "call_date=2026-11-01").exists()

    assert "would delete 2 calls" in _run("purge", "--older-than", "1d", "--dry-run", *w)
    assert "deleted 1 calls" in _run("purge", "--call-id", "c1", *w)
    assert "c1" not in _run("search", "refund", *w)  # purge published a new snapshot


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["purge"], "exactly one of --older-than"),
        (["purge", "--older-than", "1y"], "365d"),
        (["search", " "], "give some words"),
        (["export", "--to", "ftp://x"], "s3://bucket"),
    ],
)
def test_bad_input_is_a_clear_error(warehouse: Path, args: list[str], message: str) -> None:
    _run("publish", "--warehouse", str(warehouse))
    result = CliRunner().invoke(main, [*args, "--warehouse", str(warehouse)])
    assert result.exit_code != 0 and message in result.output
