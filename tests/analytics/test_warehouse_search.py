"""Full-text search: incremental BM25 over current utterances, with filters."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest

from analytics.errors import ConfigError
from analytics.warehouse import Warehouse
from analytics.warehouse.search import search
from analytics.warehouse.snapshot import open_reader, publish
from tests.analytics.warehouse_helpers import landed_call


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    w = Warehouse(tmp_path / "w.duckdb")
    w.migrate()
    w.land(landed_call("c1", agent="agent-ana", day=1))
    w.land(
        landed_call(
            "c2",
            agent="agent-bo",
            day=2,
            lines=[
                ("agent", "Hello, you reached Acme billing."),
                ("customer", "Refund refund refund, I need my refund now."),
                ("agent", "Your router is fine, the outage is over."),
            ],
        )
    )
    w.land(landed_call("c3", agent="agent-bo", day=3, lines=[("customer", "Nothing relevant.")]))
    publish(w)
    return w


def test_ranked_by_bm25_with_stemming(wh: Warehouse) -> None:
    with open_reader(wh.path) as reader:
        hits = search(reader.connection, "refunds")
    assert [(h.call_id, h.utterance_idx) for h in hits] == [("c2", 1), ("c1", 4), ("c1", 1)]
    # more occurrences first; then the shorter of two utterances with one occurrence
    assert hits[0].score > hits[1].score > hits[2].score > 0
    assert hits[0].text == "Refund refund refund, I need my refund now."
    assert hits[0].role == "customer" and hits[0].agent_id == "agent-bo"


@pytest.mark.parametrize(
    ("filters", "expected"),
    [
        ({"role": "agent"}, [("c1", 4)]),
        ({"agent_id": "agent-ana"}, [("c1", 4), ("c1", 1)]),
        ({"since": date(2026, 11, 2)}, [("c2", 1)]),
        ({"until": date(2026, 11, 2)}, [("c1", 4), ("c1", 1)]),
        ({"role": "customer", "since": date(2026, 11, 3)}, []),
    ],
)
def test_filters(wh: Warehouse, filters: dict[str, object], expected: list[object]) -> None:
    with open_reader(wh.path) as reader:
        hits = search(reader.connection, "refund", **filters)  # type: ignore[arg-type]
    assert [(h.call_id, h.utterance_idx) for h in hits] == expected


def test_index_is_incremental_and_follows_the_current_analysis(wh: Warehouse) -> None:
    # Reprocessing c3 (new ETag) makes a new analysis current: only it is searchable.
    wh.land(landed_call("c3", day=3, etag="e2", lines=[("agent", "A refund was issued.")]))
    done = publish(wh)
    assert done.indexed_analyses == 1  # only the new analysis was indexed
    assert publish(wh).indexed_analyses == 0
    with open_reader(wh.path) as reader:
        hits = search(reader.connection, "refund issued", limit=1)
        assert [(h.call_id, h.text) for h in hits] == [("c3", "A refund was issued.")]
        assert search(reader.connection, "nothing relevant") == []
        # The same through the documented SQL macro.
        rows = reader.execute(
            "SELECT call_id, utterance_idx, score FROM search_utterances('router')"
            " ORDER BY score DESC, call_id"
        ).fetchall()
    # Both utterances hold "router" once and have eight terms: the same score.
    assert [r[:2] for r in rows] == [("c1", 3), ("c2", 2)]
    assert rows[0][2] == pytest.approx(rows[1][2])


@pytest.mark.parametrize("query", ["", "   "])
def test_empty_query_is_a_clear_error(wh: Warehouse, query: str) -> None:
    with open_reader(wh.path) as reader, pytest.raises(ConfigError, match="give some words"):
        search(reader.connection, query)
