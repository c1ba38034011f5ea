"""The invariant helper catches each way a batch can go wrong (no flow needed): a lost
recording, a half-written or dangling analysis, a duplicate, a run left running."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

import duckdb
import pytest

from analytics.enrich.metrics import compute_metrics
from analytics.insights.offline import OfflineEngine
from analytics.landing import add_insights, land_processed
from analytics.models import Utterance, Word
from analytics.warehouse import Warehouse
from tests.factories import call_result
from tests.faults.invariant import check_invariant

URI = "s3://b/c1.wav"


def _landed(tmp_path: Path) -> Warehouse:
    tokens = ["hello", "how", "are", "you"]
    words = tuple(Word(w, i * 0.4, i * 0.4 + 0.3, 0.9) for i, w in enumerate(tokens))
    utt = Utterance("agent", "agent", 0.0, 1.5, "hello how are you", words, channel=1)
    wh = Warehouse(tmp_path / "w.duckdb")
    wh.migrate()
    result = call_result((utt,))
    result = replace(result, metrics=compute_metrics([utt], result.duration_s).to_dict())
    land_processed(wh, add_insights(result, OfflineEngine()), run_id=None, ruleset=None,
                   redact_pii=False)  # fmt: skip
    return wh


def test_a_clean_landing_passes(tmp_path: Path) -> None:
    wh = _landed(tmp_path)
    assert check_invariant(wh.path, [URI]) == {URI: "processed"}


BREAKS: dict[str, tuple[Callable[[duckdb.DuckDBPyConnection], object], str]] = {
    "metrics row missing": (
        lambda con: con.execute("DELETE FROM call_metrics"),
        "half-written",
    ),
    "words missing": (lambda con: con.execute("DELETE FROM words"), "half-written"),
    "current points nowhere": (
        lambda con: con.execute("UPDATE calls SET current_analysis_id = 'gone'"),
        "does not exist",
    ),
    "orphan rows": (
        lambda con: con.execute("DELETE FROM analyses"),
        "belong to no analysis",
    ),
    "run left running": (
        lambda con: con.execute(
            "INSERT INTO runs (run_id, source, started_at, status)"
            " VALUES ('r', 's', now(), 'running')"
        ),
        "still 'running'",
    ),
}


@pytest.mark.parametrize("case", list(BREAKS))
def test_each_break_is_caught(tmp_path: Path, case: str) -> None:
    wh = _landed(tmp_path)
    breaks, message = BREAKS[case]
    with wh.connect() as con:
        breaks(con)
    with pytest.raises(AssertionError, match=message):
        check_invariant(wh.path, [URI])


def test_a_lost_recording_and_a_double_ending_are_caught(tmp_path: Path) -> None:
    wh = _landed(tmp_path)
    with pytest.raises(AssertionError, match=r"s3://b/lost.wav ends in 0 states"):
        check_invariant(wh.path, [URI, "s3://b/lost.wav"])
    with pytest.raises(AssertionError, match="ends in 2 states"):
        check_invariant(wh.path, [URI], skipped={URI: "deleted"})
