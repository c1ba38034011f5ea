"""Reprocessing from stored rows: selection, plans, derived analyses, compare (no audio)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any

import duckdb
import pytest

from analytics.config import Settings
from analytics.enrich.metrics import compute_metrics
from analytics.enrich.rules import RuleSet, load_rules
from analytics.errors import WarehouseError
from analytics.insights.offline import OfflineEngine
from analytics.landing import add_insights, land_processed
from analytics.reprocess import Selector, plan_reprocess, rederive
from analytics.stages import current_lineage
from analytics.warehouse import Warehouse, connect_read_only
from analytics.warehouse.compare import compare_analyses
from tests.analytics.test_warehouse import make_result
from tests.conftest import ROOT


@pytest.fixture
def ruleset() -> RuleSet:
    return load_rules(ROOT / "config" / "categories.yaml")


@pytest.fixture
def wh(tmp_path: Path, ruleset: RuleSet) -> Warehouse:
    """Two calls landed the way the nightly flow lands them, with stage lineage."""
    w = Warehouse(tmp_path / "w.duckdb")
    w.migrate()
    stages = current_lineage(Settings(), ruleset.version)
    for call_id, prefix in (("c1", "s3://b/a/"), ("c2", "s3://b/z/")):
        base = make_result(call_id, n=4)  # enough words to be a conversation
        metrics = compute_metrics(list(base.utterances), base.duration_s).to_dict()
        result = replace(base, source_uri=f"{prefix}{call_id}.wav", stages=stages, metrics=metrics)
        processed = add_insights(result, OfflineEngine())
        assert land_processed(w, processed, run_id="r0", ruleset=ruleset, redact_pii=True)
    return w


def _q(wh: Warehouse, sql: str, args: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connect_read_only(wh.path) as con:
        return con.execute(sql, args or []).fetchall()


def _new_prompt(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("analytics.insights.offline_rules.RULES_VERSION", "rules-v2")
    monkeypatch.setattr(OfflineEngine, "model", "rules-v2")


def test_selectors_combine(
    wh: Warehouse, ruleset: RuleSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = Settings()

    def ids(**kw: Any) -> list[str | None]:
        plan = plan_reprocess(wh, Selector(**kw), ("auto",), cfg, ruleset)
        return [c.target.call_id for c in plan.calls]

    assert ids() == ["c1", "c2"]
    assert ids(source_prefix="s3://b/a/") == ["c1"]
    assert ids(call_ids=("c2",), agent="agent-ana") == ["c2"]
    assert ids(agent="someone-else") == []
    assert ids(differs=("prompt",)) == []
    _new_prompt(monkeypatch)
    assert ids(differs=("prompt",), source_prefix="s3://b/z/") == ["c2"]
    assert ids(insights_status=("failed",)) == []
    (outcome,) = {o for (o,) in _q(wh, "SELECT outcome FROM insights")}
    assert ids(outcome=outcome) == ["c1", "c2"]


def test_a_new_prompt_derives_a_new_analysis_from_stored_rows(
    wh: Warehouse, ruleset: RuleSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = Settings()
    (old,) = _q(wh, "SELECT current_analysis_id FROM calls WHERE call_id = 'c1'")[0]
    _new_prompt(monkeypatch)
    plan = plan_reprocess(wh, Selector(call_ids=("c1",)), ("auto",), cfg, ruleset)
    assert [c.stages for c in plan.calls] == [("insights", "categories")]
    assert plan.engine_minutes == 0 and plan.llm_tokens == 0  # offline engine, no audio

    new = rederive(wh, plan.calls[0], settings=cfg, ruleset=ruleset,
                   insights=OfflineEngine(), run_id="r1")  # fmt: skip
    assert new and new != old
    assert _q(wh, "SELECT current_analysis_id FROM calls WHERE call_id = 'c1'") == [(new,)]
    assert _q(wh, "SELECT parent_analysis_id, run_id FROM analyses WHERE analysis_id = ?",
              [new]) == [(old, "r1")]  # fmt: skip
    for table in ("utterances", "talk_by_role", "words", "call_metrics", "redaction_counts"):
        counts = _q(wh, f"SELECT analysis_id, count(*) FROM {table} WHERE call_id = 'c1'"
                    " GROUP BY ALL ORDER BY 2")  # fmt: skip
        assert len(counts) == 2 and counts[0][1] == counts[1][1], table  # copied whole
    assert _q(wh, "SELECT prompt_version FROM current_insights WHERE call_id = 'c1'") == [
        ("rules-v2",)
    ]
    # the old analysis stays queryable; the same reprocess again is a no-op ...
    assert _q(wh, "SELECT prompt_version FROM insights WHERE analysis_id = ?", [old]) == [
        ("rules-v1",)
    ]
    again = plan_reprocess(wh, Selector(call_ids=("c1",)), ("auto",), cfg, ruleset)
    assert again.work == ()
    explicit = plan_reprocess(wh, Selector(call_ids=("c1",)), ("insights",), cfg, ruleset)
    assert rederive(wh, explicit.calls[0], settings=cfg, ruleset=ruleset,
                    insights=OfflineEngine(), run_id="r2") is None  # fmt: skip
    # ... unless forced
    forced = rederive(wh, explicit.calls[0], settings=cfg, ruleset=ruleset,
                      insights=OfflineEngine(), run_id="r3", force=True)  # fmt: skip
    assert forced and forced != new
    # two analyses side by side
    a, b = compare_analyses(wh.path, "c1")
    assert (a["analysis_id"], b["analysis_id"]) == (new, forced)
    assert b["is_current"] and not a["is_current"] and a["n_words"] == b["n_words"]


def test_a_failure_while_landing_leaves_current_on_the_old_analysis(
    wh: Warehouse, ruleset: RuleSet, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = Settings()
    before = _q(wh, "SELECT count(*) FROM analyses UNION ALL SELECT count(*) FROM words")
    (old,) = _q(wh, "SELECT current_analysis_id FROM calls WHERE call_id = 'c1'")[0]
    _new_prompt(monkeypatch)

    def disk_full(*args: Any) -> None:
        raise duckdb.IOException("No space left on device")

    monkeypatch.setattr("analytics.warehouse.derive.write_insights", disk_full)
    plan = plan_reprocess(wh, Selector(call_ids=("c1",)), ("auto",), cfg, ruleset)
    with pytest.raises(WarehouseError, match="No space left"):
        rederive(wh, plan.calls[0], settings=cfg, ruleset=ruleset,
                 insights=OfflineEngine(), run_id="r1")  # fmt: skip
    assert _q(wh, "SELECT current_analysis_id FROM calls WHERE call_id = 'c1'") == [(old,)]
    assert _q(wh, "SELECT count(*) FROM analyses UNION ALL SELECT count(*) FROM words") == before


def test_failed_recordings_are_selected_until_they_land(wh: Warehouse, ruleset: RuleSet) -> None:
    wh.record_error(
        run_id="r0",
        source_uri="s3://b/a/bad.wav",
        etag="e",
        call_id="bad",
        stage="fetch",
        error_type="AccessError",
        reason="denied",
        retryable=True,
    )
    plan = plan_reprocess(wh, Selector(failed=True), ("auto",), Settings(), ruleset)
    assert [(c.target.source_uri, c.stages[:3]) for c in plan.calls] == [
        ("s3://b/a/bad.wav", ("fetch", "decode", "transcribe"))
    ]
    assert plan_reprocess(wh, Selector(failed=True, failed_stage="decode"), ("auto",),
                          Settings(), ruleset).calls == ()  # fmt: skip
