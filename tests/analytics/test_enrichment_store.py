"""Storage of conversation metrics (migration 2): writing, replacing, reading back, and
recomputing every current analysis from stored words."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

import pytest

from analytics.enrich.metrics import MetricsOptions, compute_metrics
from analytics.models import CallResult, Utterance, Word
from analytics.warehouse import Warehouse, connect_read_only
from analytics.warehouse.enrichment import (
    current_analyses,
    load_insights,
    load_loudness,
    load_metrics,
    load_utterances,
    metrics_from_dict,
    recompute_metrics,
    write_metrics,
)
from tests.factories import call_result

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"


def utt(speaker: str, role: str | None, start: float, end: float, text: str) -> Utterance:
    tokens = text.split()
    step = (end - start) / len(tokens)
    words = tuple(
        Word(t, start + i * step, start + (i + 1) * step, 0.8) for i, t in enumerate(tokens)
    )
    channel = {"customer": 0, "agent": 1}.get(role or "")
    return Utterance(speaker, role, start, end, text, words, channel)


UTTS = (
    utt("ch1", "agent", 3.0, 6.0, "Hello, how can I help?"),
    utt("ch0", "customer", 5.5, 9.0, "My internet is down again. Can you fix it?"),
    utt("ch1", "agent", 9.5, 12.0, "Let me check that for you."),
    utt("ch0", "customer", 40.0, 44.0, "Thanks, it works now. Great!"),
)


def result(
    call_id: str, utterances: tuple[Utterance, ...], duration: float, etag: str = "e1"
) -> CallResult:
    return call_result(
        utterances, call_id=call_id, etag=etag, duration_s=duration, pipeline_version="test"
    )


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    w = Warehouse(tmp_path / "w.duckdb")
    w.migrate()
    return w


def rows(wh: Warehouse, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    with connect_read_only(wh.path) as con:
        return con.execute(sql, params or []).fetchall()


def test_migration_2_adds_tables_and_loudness_column(wh: Warehouse) -> None:
    tables = {r[0] for r in rows(wh, "SELECT table_name FROM information_schema.tables")}
    assert {
        "call_metrics",
        "speaker_metrics",
        "silences",
        "interruptions",
        "utterance_sentiment",
        "category_matches",
        "current_call_metrics",
        "current_speaker_metrics",
        "current_category_matches",
    } <= tables
    cols = rows(
        wh,
        "SELECT column_name, data_type FROM information_schema.columns"
        " WHERE table_name = 'utterances' AND column_name = 'loudness_dbfs'",
    )
    assert cols == [("loudness_dbfs", "DOUBLE")]
    assert wh.land(result("c1", UTTS, 50.0))  # landing still works with the new column


def test_write_metrics_rows_and_replace(wh: Warehouse) -> None:
    analysis_id = wh.land(result("c1", UTTS, 50.0))
    assert analysis_id
    metrics = compute_metrics(UTTS, 50.0, loudness=[-20.0, -30.0, None, -25.0])
    for _ in range(2):  # written twice: replaced, not duplicated
        with wh.transaction() as con:
            write_metrics(con, analysis_id, "c1", metrics)
    s = metrics.summary()
    trend = metrics.customer_trend
    assert trend is not None
    (row,) = rows(
        wh,
        "SELECT duration_s, talk_s, non_talk_s, n_silences, n_interruptions, overlap_s,"
        " latency_median_s, n_latency, customer_sentiment_first, customer_sentiment_last,"
        " customer_trend, customer_trend_label, metrics FROM current_call_metrics",
    )
    assert row[:12] == (
        50.0,
        s["talk_s"],
        s["non_talk_s"],
        s["n_silences"],
        1,
        0.5,
        s["latency_median_s"],
        1,  # one customer -> agent switch
        trend.first,
        trend.last,
        trend.delta,
        trend.label,
    )
    assert metrics_from_dict(json.loads(row[12])) == metrics
    speakers = rows(
        wh,
        "SELECT speaker, role, talk_s, words, questions, loudness_dbfs, sentiment_q1,"
        " sentiment_q4 FROM speaker_metrics ORDER BY speaker",
    )
    cust = next(p for p in metrics.speakers if p.role == "customer")
    assert speakers[0] == (
        "ch0",
        "customer",
        7.5,
        cust.words,
        1,
        cust.loudness_dbfs,
        cust.sentiment_quarters[0],
        cust.sentiment_quarters[3],
    )
    assert rows(wh, "SELECT idx, start_s, end_s, duration_s, is_hold FROM silences") == [
        (0, 0.0, 3.0, 3.0, False),
        (1, 12.0, 40.0, 28.0, True),
        (2, 44.0, 50.0, 6.0, False),
    ]
    assert rows(wh, "SELECT * EXCLUDE (analysis_id, call_id) FROM interruptions") == [
        (0, 5.5, 6.0, 0.5, "ch0", "ch1", "customer", "agent")
    ]
    sentiment = rows(
        wh, "SELECT utterance_idx, score, label, engine FROM utterance_sentiment ORDER BY 1"
    )
    assert sentiment == [
        (u.utterance_idx, u.score, u.label, "vader") for u in metrics.utterance_sentiment
    ]
    assert rows(wh, "SELECT idx, loudness_dbfs FROM utterances ORDER BY idx") == [
        (0, -20.0),
        (1, -30.0),
        (2, None),
        (3, -25.0),
    ]

    other = compute_metrics(UTTS[:2], 50.0)  # different metrics replace every table's rows
    with wh.transaction() as con:
        write_metrics(con, analysis_id, "c1", other)
    assert rows(wh, "SELECT count(*) FROM speaker_metrics") == [(2,)]
    assert rows(wh, "SELECT count(*) FROM utterance_sentiment") == [(2,)]
    assert rows(wh, "SELECT count(*) FROM silences") == [(2,)]  # 0-3 and 9-50
    # metrics without loudness never erase measured loudness
    assert rows(wh, "SELECT count(loudness_dbfs) FROM utterances") == [(3,)]


def test_load_utterances_round_trips_words(wh: Warehouse) -> None:
    analysis_id = wh.land(result("c1", UTTS, 50.0))
    assert analysis_id
    with wh.connect() as con:
        assert load_utterances(con, analysis_id) == list(UTTS)
        assert load_loudness(con, analysis_id, len(UTTS)) == [None] * 4
        assert load_metrics(con, analysis_id) is None
        assert load_utterances(con, "no-such-analysis") == []


def test_current_analyses_follow_the_current_pointer(wh: Warehouse) -> None:
    old = wh.land(result("c1", UTTS, 50.0, etag="v1"))
    new = wh.land(result("c1", UTTS[:2], 20.0, etag="v2"))
    other = wh.land(result("c2", UTTS, 45.0))
    with wh.connect() as con:
        assert current_analyses(con) == [(new, "c1", 20.0), (other, "c2", 45.0)]
    assert old not in {a for a, _, _ in current_analyses_ro(wh)}


def current_analyses_ro(wh: Warehouse) -> list[tuple[str, str, float]]:
    with connect_read_only(wh.path) as con:
        return current_analyses(con)


def test_recompute_metrics_from_stored_words(wh: Warehouse) -> None:
    ids = [wh.land(result(f"c{i}", UTTS[: i + 2], 50.0)) for i in range(3)]
    with wh.transaction() as con:
        write_metrics(
            con,
            str(ids[0]),
            "c0",
            compute_metrics(UTTS[:2], 50.0, loudness=[-11.0, -22.0]),
        )
        con.execute("UPDATE call_metrics SET talk_s = -1")  # stale values to be replaced

    assert recompute_metrics(wh) == 3
    with wh.connect() as con:
        for i, analysis_id in enumerate(ids):
            assert analysis_id
            stored = load_metrics(con, analysis_id)
            loud = [-11.0, -22.0] if i == 0 else None
            assert stored == compute_metrics(UTTS[: i + 2], 50.0, loudness=loud)
    assert rows(wh, "SELECT count(*) FROM call_metrics WHERE talk_s < 0") == [(0,)]
    assert rows(wh, "SELECT count(loudness_dbfs) FROM utterances") == [(2,)]

    # New thresholds take effect on the stored calls: c2's 28 s silence is no hold at 30 s.
    holds = "SELECT call_id, duration_s FROM silences WHERE is_hold ORDER BY call_id"
    assert rows(wh, holds) == [("c0", 41.0), ("c1", 38.0), ("c2", 28.0)]
    assert recompute_metrics(wh, MetricsOptions(hold_threshold_s=30.0)) == 3
    assert rows(wh, holds) == [("c0", 41.0), ("c1", 38.0)]


def test_load_insights_prefers_ok_then_newest(wh: Warehouse) -> None:
    analysis_id = wh.land(result("c1", UTTS, 50.0))
    with wh.transaction() as con:
        assert load_insights(con, str(analysis_id)) is None
        for model, outcome, status, ts in [
            ("m1", "resolved", "ok", "2026-01-01"),
            ("m2", "unresolved", "ok", "2026-01-02"),
            ("m3", None, "failed", "2026-01-03"),
        ]:
            con.execute(
                "INSERT INTO insights (analysis_id, call_id, engine, model, prompt_version,"
                " outcome, status, created_at) VALUES (?, 'c1', 'e', ?, 'p', ?, ?, ?)",
                [analysis_id, model, outcome, status, ts],
            )
        got = load_insights(con, str(analysis_id))
    assert got is not None and (got["model"], got["outcome"]) == ("m2", "unresolved")


def test_inserted_overlap_and_long_pause_land_as_rows(wh: Warehouse) -> None:
    """billing_resolved's reference turns with the customer cutting in 1 s early on turn 3
    and a 25 s pause inserted before turn 6."""
    turns = json.loads((SAMPLES / "billing_resolved.json").read_text())["reference"]["turns"]
    turns = [dict(t) for t in turns]
    turns[3]["start"] = turns[2]["end"] - 1.0
    for t in turns[6:]:
        t["start"] += 25.0
        t["end"] += 25.0
    utts = tuple(utt(t["speaker"], t["role"], t["start"], t["end"], t["text"]) for t in turns)
    duration = turns[-1]["end"] + 1.0
    analysis_id = wh.land(result("billing", utts, duration))
    assert analysis_id
    with wh.transaction() as con:
        write_metrics(con, analysis_id, "billing", compute_metrics(utts, duration))

    (interruption,) = rows(
        wh,
        "SELECT start_s, end_s, overlap_s, interrupter, interrupted, interrupter_role,"
        " interrupted_role FROM interruptions WHERE call_id = 'billing'",
    )
    assert interruption == pytest.approx(
        (turns[3]["start"], turns[2]["end"], 1.0, "customer", "agent", "customer", "agent")
    )
    holds = rows(wh, "SELECT start_s, end_s, duration_s FROM silences WHERE is_hold")
    pause = (turns[5]["end"], turns[6]["start"], turns[6]["start"] - turns[5]["end"])
    assert holds == [pytest.approx(pause, abs=1e-3)]
    (n_int, overlap, n_sil) = rows(
        wh, "SELECT n_interruptions, overlap_s, n_silences FROM call_metrics"
    )[0]
    assert (n_int, overlap, n_sil) == (1, 1.0, 1)


def test_metrics_from_dict_round_trip_through_json() -> None:
    m = compute_metrics(UTTS, 50.0, loudness=[-1.0, None, -3.0, -4.0])
    assert metrics_from_dict(json.loads(json.dumps(m.to_dict()))) == m
    m2 = dataclasses.replace(m, customer_trend=None)
    assert metrics_from_dict(json.loads(json.dumps(m2.to_dict()))) == m2
