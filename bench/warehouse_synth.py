"""The synthetic archive of ``bench/warehouse.py``: calls shaped exactly like landed ones
(calls, analyses, utterances with their talk per role, words, metrics, insights,
categories), built in bulk SQL."""

from __future__ import annotations

import random
import sys

import duckdb

CHUNK = 10_000
AGENTS = 50
REAL_WORDS = [
    "refund", "billing", "charge", "router", "internet", "outage", "cancel", "upgrade",
    "plan", "payment", "invoice", "account", "password", "reset", "modem", "technician",
    "appointment", "discount", "contract", "roaming", "supervisor", "complaint", "thanks",
    "help", "sorry", "waiting", "transfer", "address", "device", "return",
]  # fmt: skip


def vocabulary(n: int = 3000) -> list[str]:
    rng = random.Random(7)
    syll = ["ka", "lo", "mi", "ne", "ru", "ta", "vo", "si", "pe", "da", "go", "fu", "be", "zo"]
    words = set(REAL_WORDS)
    while len(words) < n:
        words.add("".join(rng.choice(syll) for _ in range(rng.randint(2, 4))))
    return sorted(words, key=lambda w: (w not in REAL_WORDS, w))  # frequent words first


def synth_archive(con: duckdb.DuckDBPyConnection, n_calls: int, bucket: str) -> None:
    """Bulk-insert ``n_calls`` landed-looking calls (ids call-0..), chunk by chunk."""
    con.execute("SET VARIABLE vocab = ?", [vocabulary()])
    for lo in range(0, n_calls, CHUNK):
        hi = min(n_calls, lo + CHUNK)
        con.execute("BEGIN TRANSACTION")
        con.execute(
            f"""
            CREATE OR REPLACE TEMP TABLE _w AS
            SELECT c AS ci, u AS ui, k AS ki,
                   getvariable('vocab')[1 + floor(pow(random(), 3) * 3000)::INT] AS word
            FROM range({lo}, {hi}) t(c), range(30) s(u), range(10) r(k)
            """
        )
        con.execute(
            """
            INSERT INTO words (analysis_id, call_id, utterance_idx, idx, speaker, word,
                               start_s, end_s, prob)
            SELECT 'a-' || ci, 'call-' || ci, ui, ki, 'ch' || (ui % 2), word,
                   ui * 6.0 + ki * 0.5, ui * 6.0 + ki * 0.5 + 0.4, 0.9 FROM _w
            """
        )
        con.execute(
            """
            INSERT INTO utterances (analysis_id, call_id, idx, speaker, role, channel, start_s,
                                    end_s, text, confidence)
            SELECT 'a-' || ci, 'call-' || ci, ui, 'ch' || (ui % 2),
                   CASE WHEN ui % 2 = 0 THEN 'agent' ELSE 'customer' END, ui % 2,
                   ui * 6.0, ui * 6.0 + 5.0, string_agg(word, ' ' ORDER BY ki), 0.9
            FROM _w GROUP BY ci, ui
            """
        )
        rng = f"range({lo}, {hi}) t(c)"
        day = "TIMESTAMPTZ '2025-12-01 08:00:00+00' + to_seconds((c * 311) % (365 * 86400))"
        con.execute(
            f"""
            INSERT INTO calls (call_id, source_uri, etag, started_at, agent_id, direction,
                channel_roles, duration_s, channels, sample_rate, metadata,
                current_analysis_id, first_seen_at, updated_at)
            SELECT 'call-' || c, 's3://{bucket}/rec/call-' || c || '.wav', md5('rec-' || c),
                   {day}, 'agent-' || (c % {AGENTS}),
                   CASE WHEN c % 3 = 0 THEN 'outbound' ELSE 'inbound' END,
                   ['agent', 'customer'], 180.0, 2, 8000, '{{}}', 'a-' || c, now(), now()
            FROM {rng}
            """
        )
        con.execute(
            f"""
            INSERT INTO analyses (analysis_id, call_id, source_uri, etag, lineage_key, engine,
                model, pipeline_version, params, diarization, language, language_prob,
                duration_s, processing_s, n_utterances, n_words, created_at, billed_minutes,
                cost_usd)
            SELECT 'a-' || c, 'call-' || c, 's3://{bucket}/rec/call-' || c || '.wav',
                   md5('rec-' || c), md5('lineage-' || c), 'faster-whisper', 'tiny.en', '1',
                   '{{}}', 'channels', 'en', 1.0, 180.0, 12.0, 30, 300, {day}, 3.0, 0.0
            FROM {rng}
            """
        )
        con.execute(
            f"""
            INSERT INTO call_metrics (analysis_id, call_id, duration_s, talk_s, non_talk_s,
                n_silences, n_interruptions, overlap_s, latency_median_s, latency_p90_s,
                n_latency, customer_sentiment_first, customer_sentiment_last, customer_trend,
                customer_trend_label, metrics, computed_at)
            SELECT 'a-' || c, 'call-' || c, 180.0, 150.0, 30.0, 3, c % 4, 1.5, 0.6, 1.4, 29,
                   0.1, 0.3, 0.2, 'improving', '{{}}', now()
            FROM {rng}
            """
        )
        con.execute(
            f"""
            INSERT INTO speaker_metrics (analysis_id, call_id, speaker, role, talk_s,
                talk_ratio, words, wpm, turns, questions, sentiment_mean)
            SELECT 'a-' || c, 'call-' || c, 'ch' || s, CASE WHEN s = 0 THEN 'agent'
                   ELSE 'customer' END, 75.0, 0.5, 150, 120.0, 15, 3, 0.1
            FROM {rng}, range(2) r(s)
            """
        )
        con.execute(
            f"""
            INSERT INTO insights (analysis_id, call_id, engine, model, prompt_version, summary,
                reason_for_call, outcome, customer_sentiment_label, customer_sentiment_score,
                status, created_at)
            SELECT 'a-' || c, 'call-' || c, 'offline', 'rules-1', 'v1', 'summary', 'billing',
                   ['resolved', 'unresolved', 'escalated', 'callback'][1 + c % 4],
                   ['positive', 'neutral', 'negative'][1 + c % 3], ((c % 3) - 1) * 0.5,
                   'ok', now()
            FROM {rng}
            """
        )
        con.execute(
            f"""
            INSERT INTO category_matches (analysis_id, call_id, category, rule_version,
                matched_at, evidence)
            SELECT 'a-' || c, 'call-' || c,
                   ['billing', 'technical', 'cancellation', 'sales'][1 + c % 4], 'v1', now(),
                   '{{}}'
            FROM {rng}
            """
        )
        con.execute(  # what landing precomputes (migration 40)
            f"""
            UPDATE analyses SET first_text = u.text FROM utterances u
            WHERE u.analysis_id = analyses.analysis_id AND u.idx = 0
              AND u.call_id IN (SELECT 'call-' || c FROM {rng})
            """
        )
        con.execute(  # what landing writes with the utterances (migration 42)
            f"""
            INSERT INTO talk_by_role (analysis_id, call_id, role, utterances, talk_s)
            SELECT analysis_id, call_id, role, count(*), sum(end_s - start_s) FROM utterances
            WHERE call_id IN (SELECT 'call-' || c FROM {rng}) GROUP BY ALL
            """
        )
        con.execute("DROP TABLE _w")
        con.execute("COMMIT")
        print(f"  synthesized {hi:>7} calls", file=sys.stderr, flush=True)
