"""Stored analyses as inputs of a reprocess, and landing an analysis derived from one.

A derived analysis re-runs only some stages (metrics, insights, categories) from what an
earlier analysis stored: its utterances (with their talk per role) and words are copied
row for row, the re-run stages are written fresh, everything else is copied; all of it --
and the move of ``current`` -- in one transaction, so a failure leaves the old analysis
current and nothing of the new one visible.
"""

from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import duckdb

from analytics.enrich.metrics import CallMetrics
from analytics.enrich.rules import CategoryMatch, RuleSet
from analytics.errors import WarehouseError
from analytics.insights.base import InsightResult
from analytics.models import CallMetadata, CallResult
from analytics.warehouse.db import Warehouse, lineage_key
from analytics.warehouse.enrichment import (
    _METRIC_TABLES,
    load_loudness,
    load_utterances,
    metrics_from_dict,
    write_category_matches,
    write_metrics,
)
from analytics.warehouse.insights import write_insights

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StoredCall:
    """A call's analysis as stored: the inputs of stages that re-run without audio."""

    analysis_id: str
    result: CallResult
    loudness: tuple[float | None, ...]
    #: The stored stage lineage (``analyses.stages``; rebuilt from columns for analyses
    #: landed before it was recorded).
    stages: dict[str, dict[str, Any]]


def _json(value: Any) -> Any:
    return json.loads(value) if isinstance(value, str) else (value or {})


def legacy_stages(con: duckdb.DuckDBPyConnection, row: dict[str, Any]) -> dict[str, Any]:
    """The lineage of an analysis from its columns and rows (for analyses without
    ``analyses.stages``)."""
    params = _json(row["params"])
    out: dict[str, Any] = {
        "transcribe": {
            "engine": row["engine"],
            "model": row["model"],
            "pipeline_version": row["pipeline_version"],
            **{k: params[k] for k in ("language", "beam_size", "hotwords") if k in params},
        },
        "redact": {"redact_pii": params.get("redact_pii", True)},
    }
    ins = con.execute(
        "SELECT engine, model, prompt_version FROM insights WHERE analysis_id = ?"
        " AND prompt_version <> 'native' ORDER BY created_at DESC LIMIT 1",
        [row["analysis_id"]],
    ).fetchone()
    if ins:
        out["insights"] = {"engine": ins[0], "model": ins[1], "prompt_version": ins[2]}
    rules = con.execute(
        "SELECT max(rule_version) FROM category_matches WHERE analysis_id = ?",
        [row["analysis_id"]],
    ).fetchone()
    if rules and rules[0] is not None:
        out["categories"] = {"rules_version": rules[0]}
    return out


def stored_stages(con: duckdb.DuckDBPyConnection, analysis_id: str) -> dict[str, Any]:
    """The stage lineage of one analysis (rebuilt from its columns when not recorded)."""
    cur = con.execute("SELECT * FROM analyses WHERE analysis_id = ?", [analysis_id])
    found = cur.fetchone()
    if found is None:
        raise WarehouseError(f"analysis {analysis_id} does not exist")
    row = dict(zip([d[0] for d in cur.description], found, strict=True))
    return _json(row["stages"]) or legacy_stages(con, row)


def load_stored(con: duckdb.DuckDBPyConnection, analysis_id: str) -> StoredCall:
    """An analysis as a :class:`CallResult` (utterances with words, stored metrics)."""
    cur = con.execute(
        "SELECT a.*, c.started_at, c.agent_id, c.direction, c.channel_roles, c.channels,"
        " c.sample_rate, c.metadata FROM analyses a JOIN calls c ON c.call_id = a.call_id"
        " WHERE a.analysis_id = ?",
        [analysis_id],
    )
    found = cur.fetchone()
    if found is None:
        raise WarehouseError(f"analysis {analysis_id} does not exist")
    row = dict(zip([d[0] for d in cur.description], found, strict=True))
    confidences = dict(
        con.execute(
            "SELECT idx, role_confidence FROM utterances WHERE analysis_id = ?", [analysis_id]
        ).fetchall()
    )
    utts = tuple(
        replace(u, role_confidence=confidences.get(i))
        for i, u in enumerate(load_utterances(con, analysis_id))
    )
    metrics = con.execute(
        "SELECT metrics FROM call_metrics WHERE analysis_id = ?", [analysis_id]
    ).fetchone()
    roles = row["channel_roles"]
    result = CallResult(
        call_id=row["call_id"],
        source_uri=row["source_uri"],
        etag=row["etag"],
        duration_s=row["duration_s"],
        channels=row["channels"],
        sample_rate=row["sample_rate"],
        language=row["language"],
        language_prob=row["language_prob"],
        engine=row["engine"],
        model=row["model"],
        pipeline_version=row["pipeline_version"],
        params=_json(row["params"]),
        metadata=CallMetadata(
            call_id=row["call_id"],
            started_at=row["started_at"],
            agent_id=row["agent_id"],
            direction=row["direction"],
            channel_roles=tuple(roles) if roles is not None else None,
            extra=_json(row["metadata"]),
        ),
        utterances=utts,
        diarization=row["diarization"] or "none",
        processing_s=row["processing_s"] or 0.0,
        lineage=_json(row["lineage"]),
        billed_minutes=row["billed_minutes"] or 0.0,
        cost_usd=row["cost_usd"] or 0.0,
        native=_json(row["native"]),
        engine_job_id=row["engine_job_id"],
        metrics=json.loads(metrics[0]) if metrics and metrics[0] else None,
        source_modified_at=row["source_modified_at"],
        sidecar_etag=row["sidecar_etag"],
        stages=_json(row["stages"]),
    )
    stages = result.stages or legacy_stages(con, row)
    loudness = tuple(load_loudness(con, analysis_id, len(utts)))
    return StoredCall(analysis_id, result, loudness, stages)


def _copy(con: duckdb.DuckDBPyConnection, table: str, old: str, new: str, where: str = "") -> None:
    """Copy one table's rows of analysis ``old`` to analysis ``new``."""
    con.execute(
        f"INSERT INTO {table} BY NAME SELECT * REPLACE (? AS analysis_id) FROM {table}"
        f" WHERE analysis_id = ?{where}",
        [new, old],
    )


@dataclass(frozen=True)
class Derived:
    """What re-ran: None means "copy the stored rows"."""

    result: CallResult
    metrics: CallMetrics | None = None
    insights: InsightResult | None = None
    categories: list[CategoryMatch] | None = None
    ruleset: RuleSet | None = None


def land_derived(
    wh: Warehouse,
    stored: StoredCall,
    derived: Derived,
    *,
    run_id: str | None,
) -> str | None:
    """Land ``derived`` as a new analysis of the stored call and make it current, in one
    transaction. Returns its id, or None when this lineage had already landed (no-op)."""
    with wh.connect() as con:
        return write_derived(con, stored, derived, run_id=run_id)


def write_derived(
    con: duckdb.DuckDBPyConnection,
    stored: StoredCall,
    derived: Derived,
    *,
    run_id: str | None,
) -> str | None:
    """:func:`land_derived` on an open connection (one transaction of its own), so a batch
    of calls can share one opening of the file."""
    result, old = derived.result, stored.analysis_id
    key = lineage_key(result)
    new = uuid.uuid4().hex
    now = datetime.now(UTC)
    con.execute("BEGIN TRANSACTION")
    try:
        if con.execute(
            "SELECT 1 FROM analyses WHERE call_id = ? AND lineage_key = ?",
            [result.call_id, key],
        ).fetchone():
            con.execute("ROLLBACK")
            log.info("call %s: this lineage already landed; nothing to do", result.call_id)
            return None
        con.execute(
            "INSERT INTO analyses BY NAME SELECT * REPLACE (? AS analysis_id, ? AS run_id,"
            " ? AS lineage_key, ? AS stages, ? AS created_at, ? AS parent_analysis_id,"
            " 0.0 AS processing_s) FROM analyses WHERE analysis_id = ?",
            [new, run_id, key, json.dumps(result.stages, default=str), now, old, old],
        )
        _copy(con, "utterances", old, new)
        _copy(con, "talk_by_role", old, new)
        _copy(con, "words", old, new)
        _copy(con, "redaction_counts", old, new)
        if derived.metrics is not None:
            write_metrics(con, new, result.call_id, derived.metrics)
        else:
            for table in _METRIC_TABLES:
                _copy(con, table, old, new)
        if derived.insights is not None:
            _copy(con, "insights", old, new, " AND prompt_version = 'native'")
            write_insights(con, new, result.call_id, derived.insights)
        else:
            _copy(con, "insights", old, new)
        if derived.categories is not None and derived.ruleset is not None:
            write_category_matches(
                con, new, result.call_id, derived.categories, derived.ruleset.version
            )
        else:
            _copy(con, "category_matches", old, new)
        con.execute(
            "UPDATE calls SET current_analysis_id = ?, updated_at = ? WHERE call_id = ?",
            [new, now, result.call_id],
        )
        con.execute("COMMIT")
    except BaseException as exc:
        con.execute("ROLLBACK")
        if isinstance(exc, duckdb.Error):
            raise WarehouseError(
                f"landing reprocessed call {result.call_id} failed: {exc}"
            ) from exc
        raise
    log.info("call %s: derived analysis %s from %s", result.call_id, new, old)
    return new


def stored_outcome(con: duckdb.DuckDBPyConnection, analysis_id: str) -> dict[str, Any] | None:
    """The outcome of an analysis' newest successful insights (for outcome rules)."""
    row = con.execute(
        "SELECT outcome FROM insights WHERE analysis_id = ? AND status = 'ok'"
        " AND prompt_version <> 'native' ORDER BY created_at DESC LIMIT 1",
        [analysis_id],
    ).fetchone()
    return {"outcome": row[0]} if row else None


def stored_metrics(stored: StoredCall) -> CallMetrics | None:
    m = stored.result.metrics
    return metrics_from_dict(m) if m else None
