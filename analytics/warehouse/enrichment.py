"""Read and write the enrichment of migration 2: conversation metrics, sentiment, category
matches, and per-utterance loudness (``utterances.loudness_dbfs``). Everything is keyed by
(analysis_id, call_id), so enrichment follows the analysis (lineage) it was computed from.

Writers take an open connection and run inside the caller's transaction (the landing
transaction, or one transaction per call when recomputing); they replace the rows of that
analysis, so running them twice leaves one copy.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence
from contextlib import AbstractContextManager
from dataclasses import fields
from datetime import UTC, datetime
from typing import Any, Protocol

import duckdb

from analytics.enrich.metrics import (
    CallMetrics,
    Interruption,
    MetricsOptions,
    SentimentTrend,
    Silence,
    SpeakerMetrics,
    UtteranceSentiment,
    compute_metrics,
)
from analytics.enrich.rules import CategoryMatch, RuleSet, apply_rules
from analytics.errors import WarehouseError
from analytics.models import Utterance, Word
from analytics.warehouse.sql import insert_rows


class Warehouse(Protocol):
    """What the recomputations need of a warehouse (``analytics.warehouse.db.Warehouse``
    satisfies it; declared here so this module does not import the writer)."""

    @property
    def path(self) -> Any: ...

    def connect(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]: ...

    def transaction(self) -> AbstractContextManager[duckdb.DuckDBPyConnection]: ...


log = logging.getLogger(__name__)

_METRIC_TABLES = (
    "call_metrics",
    "speaker_metrics",
    "silences",
    "interruptions",
    "utterance_sentiment",
)


def _delete(con: duckdb.DuckDBPyConnection, tables: Sequence[str], analysis_id: str) -> None:
    for table in tables:
        con.execute(f"DELETE FROM {table} WHERE analysis_id = ?", [analysis_id])


def metrics_rows(
    analysis_id: str, call_id: str, metrics: CallMetrics, metrics_json: str | None = None
) -> dict[str, list[list[Any]]]:
    """The rows of one analysis' metrics, per table, every column in table order
    (``metrics_json``: ``json.dumps(metrics.to_dict())`` when the caller has it)."""
    s = metrics.summary()
    trend = metrics.customer_trend
    ids = [analysis_id, call_id]
    summary = [
        s[k]
        for k in (
            "duration_s",
            "talk_s",
            "non_talk_s",
            "n_silences",
            "n_interruptions",
            "overlap_s",
            "latency_median_s",
            "latency_p90_s",
            "n_latency",
        )
    ]
    return {
        "call_metrics": [
            [
                *ids,
                *summary,
                trend.first if trend else None,
                trend.last if trend else None,
                trend.delta if trend else None,
                trend.label if trend else None,
                metrics_json if metrics_json is not None else json.dumps(metrics.to_dict()),
                datetime.now(UTC),
            ]
        ],
        "speaker_metrics": [
            [
                *ids,
                p.speaker,
                p.role,
                p.talk_s,
                p.talk_ratio,
                p.words,
                p.wpm,
                p.loudness_dbfs,
                p.longest_monologue_s,
                p.turns,
                p.questions,
                p.sentiment_mean,
                *p.sentiment_quarters,
            ]
            for p in metrics.speakers
        ],
        "silences": [
            [*ids, i, s.start, s.end, s.duration_s, s.is_hold]
            for i, s in enumerate(metrics.silences)
        ],
        "interruptions": [
            [
                *ids,
                i,
                x.start,
                x.end,
                x.overlap_s,
                x.interrupter,
                x.interrupted,
                x.interrupter_role,
                x.interrupted_role,
            ]
            for i, x in enumerate(metrics.interruptions)
        ],
        "utterance_sentiment": [
            [*ids, u.utterance_idx, u.score, u.label, u.engine] for u in metrics.utterance_sentiment
        ],
    }


def write_metrics(
    con: duckdb.DuckDBPyConnection, analysis_id: str, call_id: str, metrics: CallMetrics
) -> None:
    """Replace the metrics rows of one analysis (call inside a transaction)."""
    try:
        _delete(con, _METRIC_TABLES, analysis_id)
        for table, values in metrics_rows(analysis_id, call_id, metrics).items():
            insert_rows(con, table, None, values)
        # Measured loudness goes on the utterance rows; unknown (None) never erases a value.
        loud = [
            [db, analysis_id, i]
            for i, db in enumerate(metrics.utterance_loudness)
            if db is not None
        ]
        if loud:
            db_values, _, idxs = (list(c) for c in zip(*loud, strict=True))
            con.execute(
                "UPDATE utterances SET loudness_dbfs = l.db FROM"
                " (SELECT unnest(?) AS db, unnest(?) AS idx) l"
                " WHERE utterances.analysis_id = ? AND utterances.idx = l.idx",
                [db_values, idxs, analysis_id],
            )
    except duckdb.Error as exc:
        raise WarehouseError(f"writing metrics of call {call_id} failed: {exc}") from exc


CATEGORY_COLUMNS = ("analysis_id", "call_id", "category", "rule_version", "matched_at", "evidence")


def category_rows(
    analysis_id: str, call_id: str, matches: Sequence[CategoryMatch], rule_version: str
) -> list[list[Any]]:
    """``category_matches`` rows (:data:`CATEGORY_COLUMNS`) of one analysis."""
    now = datetime.now(UTC)
    return [
        [
            analysis_id,
            call_id,
            m.category,
            str(rule_version),
            now,
            json.dumps([e.to_dict() for e in m.evidence]),
        ]
        for m in matches
    ]


def write_category_matches(
    con: duckdb.DuckDBPyConnection,
    analysis_id: str,
    call_id: str,
    matches: Sequence[CategoryMatch],
    rule_version: str,
) -> None:
    """Replace the category matches of one analysis (call inside a transaction)."""
    try:
        _delete(con, ["category_matches"], analysis_id)
        rows = category_rows(analysis_id, call_id, matches, rule_version)
        insert_rows(con, "category_matches", CATEGORY_COLUMNS, rows)
    except duckdb.Error as exc:
        raise WarehouseError(f"writing categories of call {call_id} failed: {exc}") from exc


# --- reading ---------------------------------------------------------------------------------
def current_analyses(con: duckdb.DuckDBPyConnection) -> list[tuple[str, str, float]]:
    """(analysis_id, call_id, duration_s) of every call's current analysis."""
    rows = con.execute(
        "SELECT a.analysis_id, a.call_id, coalesce(a.duration_s, c.duration_s, 0)"
        " FROM analyses a JOIN calls c ON a.analysis_id = c.current_analysis_id"
        " ORDER BY a.call_id"
    ).fetchall()
    return [(str(a), str(c), float(d)) for a, c, d in rows]


def load_utterances(con: duckdb.DuckDBPyConnection, analysis_id: str) -> list[Utterance]:
    """The utterances of one analysis, with their words, in stored (idx) order."""
    words: dict[int, list[Word]] = {}
    for idx, word, start, end, prob in con.execute(
        "SELECT utterance_idx, word, start_s, end_s, prob FROM words"
        " WHERE analysis_id = ? ORDER BY utterance_idx, idx",
        [analysis_id],
    ).fetchall():
        words.setdefault(idx, []).append(Word(word, start, end, prob))
    return [
        Utterance(speaker, role, start, end, text, tuple(words.get(idx, ())), channel)
        for idx, speaker, role, channel, start, end, text in con.execute(
            "SELECT idx, speaker, role, channel, start_s, end_s, text FROM utterances"
            " WHERE analysis_id = ? ORDER BY idx",
            [analysis_id],
        ).fetchall()
    ]


def load_loudness(
    con: duckdb.DuckDBPyConnection, analysis_id: str, n_utterances: int
) -> list[float | None]:
    """Stored per-utterance loudness aligned with the utterances (None where missing)."""
    out: list[float | None] = [None] * n_utterances
    for idx, db in con.execute(
        "SELECT idx, loudness_dbfs FROM utterances WHERE analysis_id = ?",
        [analysis_id],
    ).fetchall():
        if 0 <= idx < n_utterances:
            out[idx] = db
    return out


def metrics_from_dict(data: dict[str, Any]) -> CallMetrics:
    """Rebuild :class:`CallMetrics` from its ``to_dict()`` (derived keys are ignored)."""

    def build(kind: type, d: dict[str, Any]) -> Any:
        names = {f.name for f in fields(kind)}
        return kind(
            **{k: tuple(v) if isinstance(v, list) else v for k, v in d.items() if k in names}
        )

    trend = data.get("customer_trend")
    return CallMetrics(
        **{k: data[k] for k in ("duration_s", "talk_s", "non_talk_s", "overlap_s")},
        speakers=tuple(build(SpeakerMetrics, s) for s in data["speakers"]),
        silences=tuple(build(Silence, s) for s in data["silences"]),
        interruptions=tuple(build(Interruption, i) for i in data["interruptions"]),
        latencies=tuple(data["latencies"]),
        latency_median_s=data["latency_median_s"],
        latency_p90_s=data["latency_p90_s"],
        utterance_sentiment=tuple(
            build(UtteranceSentiment, u) for u in data["utterance_sentiment"]
        ),
        customer_trend=build(SentimentTrend, trend) if trend else None,
        utterance_loudness=tuple(data.get("utterance_loudness") or ()),
        options=build(MetricsOptions, data.get("options") or {}),
    )


def load_metrics(con: duckdb.DuckDBPyConnection, analysis_id: str) -> CallMetrics | None:
    """The stored metrics of one analysis, or None when none were written."""
    row = con.execute(
        "SELECT metrics FROM call_metrics WHERE analysis_id = ?", [analysis_id]
    ).fetchone()
    if not row or row[0] is None:
        return None
    return metrics_from_dict(json.loads(row[0]))


def load_insights(con: duckdb.DuckDBPyConnection, analysis_id: str) -> dict[str, Any] | None:
    """The ``insights`` row of an analysis as a dict (its ``outcome`` feeds outcome rules),
    when that table exists; None otherwise."""
    columns = {
        r[0]
        for r in con.execute(
            "SELECT column_name FROM information_schema.columns"
            " WHERE table_name = 'insights' AND table_schema = current_schema()"
        ).fetchall()
    }
    if "analysis_id" not in columns:
        return None
    # Several engines/prompt versions may have run: prefer a successful, then the newest row.
    order = ", ".join(
        o for o in ("status = 'ok' DESC", "created_at DESC") if o.split()[0] in columns
    )
    order_by = f" ORDER BY {order}" if order else ""
    cur = con.execute(
        f"SELECT * FROM insights WHERE analysis_id = ?{order_by} LIMIT 1", [analysis_id]
    )
    row = cur.fetchone()
    if row is None:
        return None
    return {d[0]: v for d, v in zip(cur.description, row, strict=True)}


# --- recomputing ------------------------------------------------------------------------------
def recompute_metrics(warehouse: Warehouse, options: MetricsOptions | None = None) -> int:
    """Recompute the metrics of every current analysis from its stored words and loudness,
    one transaction per call; no audio, no transcription. Returns the number of calls."""
    with warehouse.connect() as con:
        analyses = current_analyses(con)
    for analysis_id, call_id, duration_s in analyses:
        with warehouse.transaction() as con:
            utts = load_utterances(con, analysis_id)
            loud = load_loudness(con, analysis_id, len(utts))
            metrics = compute_metrics(utts, duration_s, options, loudness=loud)
            write_metrics(con, analysis_id, call_id, metrics)
    log.info("recomputed metrics of %d calls in %s", len(analyses), warehouse.path)
    return len(analyses)


def categorize_all(warehouse: Warehouse, ruleset: RuleSet) -> dict[str, int]:
    """Re-apply ``ruleset`` to every current analysis from stored words and metrics (no
    audio, no transcription), replacing its category matches; one transaction per call.
    Returns the number of calls per category (every category listed, zeros included)."""
    counts = {c.name: 0 for c in ruleset.categories}
    with warehouse.connect() as con:
        analyses = current_analyses(con)
    for analysis_id, call_id, duration_s in analyses:
        with warehouse.transaction() as con:
            utts = load_utterances(con, analysis_id)
            metrics = load_metrics(con, analysis_id)
            if metrics is None:
                loud = load_loudness(con, analysis_id, len(utts))
                metrics = compute_metrics(utts, duration_s, loudness=loud)
            matches = apply_rules(ruleset, utts, metrics, load_insights(con, analysis_id))
            write_category_matches(con, analysis_id, call_id, matches, ruleset.version)
        for match in matches:
            counts[match.category] += 1
    log.info(
        "categorized %d calls with rules version %s: %s", len(analyses), ruleset.version, counts
    )
    return counts
