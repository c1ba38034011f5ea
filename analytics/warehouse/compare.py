"""Two analyses of one call side by side (the ``analysis_overview`` view, migration 8)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from analytics.errors import WarehouseError
from analytics.warehouse.db import connect_read_only

FIELDS = (
    "analysis_id", "created_at", "is_current", "run_id", "parent_analysis_id", "engine",
    "model", "pipeline_version", "diarization", "prompt_version", "n_words", "n_utterances",
    "n_speakers", "customer_sentiment_last", "customer_trend_label", "sentiment", "outcome",
    "categories",
)  # fmt: skip


def compare_analyses(
    path: Path | str, call_id: str, analysis_ids: tuple[str, ...] = ()
) -> list[dict[str, Any]]:
    """The two analyses (given ids, else the current one and the newest other one) as
    dicts of :data:`FIELDS`, older first."""
    if len(analysis_ids) not in (0, 2):
        raise WarehouseError("give no analysis ids (current vs previous) or exactly two")
    cols = ", ".join(FIELDS)
    with connect_read_only(path) as con:
        rows = con.execute(
            f"SELECT {cols} FROM analysis_overview WHERE call_id = ?"
            " ORDER BY is_current DESC, created_at DESC",
            [call_id],
        ).fetchall()
    if not rows:
        raise WarehouseError(f"call {call_id!r} has no analyses in {path}")
    found = [dict(zip(FIELDS, r, strict=True)) for r in rows]
    if analysis_ids:
        by_id = {r["analysis_id"]: r for r in found}
        missing = [a for a in analysis_ids if a not in by_id]
        if missing:
            raise WarehouseError(f"call {call_id!r} has no analysis {', '.join(missing)}")
        pair = [by_id[a] for a in analysis_ids]
    elif len(found) < 2:
        raise WarehouseError(f"call {call_id!r} has only one analysis; nothing to compare")
    else:
        pair = [found[0], found[1]]
    return sorted(pair, key=lambda r: r["created_at"])
