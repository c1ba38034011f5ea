"""Landing many calls in one transaction.

One call's landing is some 25 statements, and at archive scale each statement costs
milliseconds whatever its size, so the writer lands a *batch* of finished calls at once:
each call's rows are queued per table (:class:`~analytics.warehouse.sql.RowBatch`) and
inserted as one Arrow table per table, the call rows merged in one statement, and the
"already landed?" and "is a newer version current?" checks are one set query each.

A batch holds whole calls only and commits as one transaction, so a reader still never
sees half a call. ``Warehouse.land_batch`` lands each call of a failed batch in its own
transaction, so one bad call fails alone, as it would have landed alone.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb

from analytics.models import CallResult
from analytics.warehouse.rows import (
    analysis_row,
    call_row,
    content_rows,
    lineage_key,
    merge_calls,
)
from analytics.warehouse.sql import RowBatch

if TYPE_CHECKING:
    from analytics.enrich.rules import RuleSet

log = logging.getLogger(__name__)

#: Extra writes of a landing, run inside its transaction: (connection, analysis id).
LandingWriter = Callable[[duckdb.DuckDBPyConnection, str], None]
#: Extra rows of a landing, queued with its own: (batch, analysis id).
LandingRows = Callable[[RowBatch, str], None]


@dataclass(frozen=True)
class Landing:
    """One call to land: its result and what else lands with it.

    ``ruleset``: categories are applied and stored with the call; ``insights``: what the
    rules may read of the insights (``{"outcome": ...}``); ``rows`` queues further rows
    (insights, redaction counts, agent metrics); ``writers`` run statements of their own
    inside the transaction after the rows are in (slower: prefer ``rows``).
    ``analysis_id`` + ``content``: the new analysis' id and every row but the
    ``analyses`` row, built ahead where the call was processed (``landing.prepare``); the
    writer then only checks, merges the call row and inserts.
    """

    result: CallResult
    run_id: str | None = None
    ruleset: RuleSet | None = None
    insights: dict[str, Any] | None = None
    rows: LandingRows | None = None
    writers: Sequence[LandingWriter] = ()
    analysis_id: str | None = None
    content: RowBatch | None = None


def _pairs(con: duckdb.DuckDBPyConnection, sql: str, params: list[Any]) -> list[tuple[Any, Any]]:
    return [(r[0], r[1]) for r in con.execute(sql, params).fetchall()]


def land_calls(con: duckdb.DuckDBPyConnection, landings: Sequence[Landing]) -> list[str | None]:
    """Land every call inside the caller's transaction; per landing the new analysis id,
    or None when the same lineage had already landed (earlier, or earlier in the batch).

    ``current`` moves to a new analysis unless the call's current analysis is of a newer
    object version: an older version landing late never replaces it.
    """
    keys = [lineage_key(x.result) for x in landings]
    call_ids = [x.result.call_id for x in landings]
    landed = set(
        _pairs(
            con,
            "SELECT a.call_id, a.lineage_key FROM analyses a"
            " JOIN (SELECT unnest(?::VARCHAR[]) AS call_id, unnest(?::VARCHAR[]) AS lineage_key)"
            " b ON a.call_id = b.call_id AND a.lineage_key = b.lineage_key",
            [call_ids, keys],
        )
    )
    # The object version (modification time) each call's current analysis came from.
    current: dict[str, datetime | None] = dict(
        _pairs(
            con,
            "SELECT c.call_id, a.source_modified_at FROM calls c"
            " JOIN analyses a ON a.analysis_id = c.current_analysis_id"
            " WHERE c.call_id IN (SELECT unnest(?::VARCHAR[]))",
            [sorted(set(call_ids))],
        )
    )
    now = datetime.now(UTC)
    batch = RowBatch()
    calls: dict[str, list[Any]] = {}  # call id -> its row (the last current one wins)
    ids: list[str | None] = []
    for landing, key in zip(landings, keys, strict=True):
        result = landing.result
        if (result.call_id, key) in landed:
            log.info("call %s: this analysis already landed", result.call_id)
            ids.append(None)
            continue
        landed.add((result.call_id, key))
        analysis_id = landing.analysis_id or uuid.uuid4().hex
        modified = current.get(result.call_id)
        if (
            result.source_modified_at is not None
            and modified is not None
            and (modified > result.source_modified_at)
        ):
            log.warning(
                "call %s: an older version of %s landed late: kept, not current",
                result.call_id,
                result.source_uri,
            )
        else:
            calls[result.call_id] = call_row(result, analysis_id, now)
            current[result.call_id] = result.source_modified_at
        analysis_row(batch, result, analysis_id, key, landing.run_id, now)
        if landing.content is not None and landing.analysis_id is not None:
            batch.extend(landing.content)
        else:
            content_rows(batch, result, analysis_id, landing.ruleset, landing.insights)
        if landing.rows is not None:
            landing.rows(batch, analysis_id)
        ids.append(analysis_id)
    merge_calls(con, list(calls.values()))
    batch.flush(con)
    for landing, new_id in zip(landings, ids, strict=True):
        if new_id is not None:
            for write in landing.writers:
                write(con, new_id)
    return ids
