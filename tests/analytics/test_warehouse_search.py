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


@pytest.mark.parametrize(
    ("args", "where"),
    [
        ("'customer', NULL, NULL, NULL", "role = 'customer'"),
        ("NULL, 'agent-ana', NULL, NULL", "agent_id = 'agent-ana'"),
        ("NULL, NULL, DATE '2026-11-02', NULL", "call_date >= DATE '2026-11-02'"),
        ("'agent', NULL, NULL, DATE '2026-11-03'", "role = 'agent' AND call_date < '2026-11-03'"),
        ("NULL, NULL, NULL, NULL", "true"),
    ],
)
def test_search_filtered_ranks_as_a_where_over_search_utterances(
    wh: Warehouse, args: str, where: str
) -> None:
    # Filters before the ranking give the same rows and scores (BM25 still counts every
    # current utterance), only cheaper.
    with open_reader(wh.path) as reader:
        filtered = reader.execute(
            f"SELECT * FROM search_filtered('refund router', {args}) ORDER BY ALL"
        ).fetchall()
        after = reader.execute(
            f"SELECT * FROM search_utterances('refund router') WHERE {where} ORDER BY ALL"
        ).fetchall()
    assert filtered == after and (where != "true" or len(after) == 5)


def test_call_day_is_the_views_utc_day() -> None:
    # search's epoch arithmetic for the call's day agrees with the views' time-zone one,
    # around midnight, before 1970 and without a start time.
    import duckdb

    from analytics.warehouse.migrations_archive import CALL_DATE
    from analytics.warehouse.search import CALL_DAY

    con = duckdb.connect()
    con.execute("SET TimeZone = 'America/New_York'")  # the session zone plays no part
    con.execute("CREATE TABLE c (started_at TIMESTAMPTZ, first_seen_at TIMESTAMPTZ)")
    con.execute(
        "INSERT INTO c VALUES ('2026-11-01 23:59:59.999999+00', NULL),"
        " ('2026-11-02 00:00:00+00', NULL), ('2026-11-01 22:30:00-05', NULL),"
        " ('1969-12-31 23:59:59.5+00', NULL), ('1969-12-31 00:00:00+00', NULL),"
        " ('1900-03-01 12:00:00+00', NULL), (NULL, '2026-05-05 01:00:00+02'), (NULL, NULL)"
    )
    rows = con.execute(f"SELECT {CALL_DAY}, {CALL_DATE} FROM c").fetchall()
    assert all(a == b for a, b in rows) and rows[2][0].isoformat() == "2026-11-02"


def test_the_index_drops_analyses_no_longer_current(wh: Warehouse) -> None:
    # c2 reprocessed: its old analysis leaves the index (postings, documents, statistics)
    # at the publish that indexes the new one.
    wh.land(landed_call("c2", agent="agent-bo", day=2, etag="e2",
                        lines=[("customer", "Refund please.")]))  # fmt: skip
    assert publish(wh).indexed_analyses == 1
    with wh.connect() as con:
        current = "SELECT current_analysis_id FROM calls"
        for table in ("search_terms", "search_docs", "search_indexed"):
            stale = con.execute(
                f"SELECT count(*) FROM {table} WHERE analysis_id NOT IN ({current})"
            ).fetchone()
            assert stale == (0,), table
        docs = con.execute("SELECT count(*), sum(n_terms) FROM search_docs").fetchone()
        assert con.execute("SELECT n_docs, total_terms FROM search_stats").fetchone() == docs
        df = con.execute("SELECT count(*) FROM search_terms WHERE term = 'refund'").fetchone()
    with open_reader(wh.path) as reader:
        hits = search(reader.connection, "refund")
    assert ("c2", 0) in [(h.call_id, h.utterance_idx) for h in hits]
    assert df == (len(hits),)  # one posting a matching current utterance


def test_migration_43_drops_the_stale_postings(tmp_path: Path) -> None:
    w = Warehouse(tmp_path / "old.duckdb")
    w.migrate()
    w.land(landed_call("c1", day=1))
    publish(w)
    w.land(landed_call("c1", day=1, etag="e2", lines=[("customer", "A refund.")]))
    with w.transaction() as con:  # indexed as the index was kept before migration 43
        con.execute(
            "INSERT INTO search_terms (term, analysis_id, utterance_idx, tf, dl, role)"
            " SELECT 'stale', 'gone-analysis', 0, 1, 1, 'agent'"
        )
        con.execute("INSERT INTO search_indexed VALUES ('gone-analysis', now())")
        con.execute("DELETE FROM schema_migrations WHERE version = 43")
    assert 43 in w.migrate()
    with w.connect() as con:
        assert con.execute("SELECT count(*) FROM search_terms WHERE term = 'stale'").fetchone() == (
            0,
        )
        assert con.execute(
            "SELECT count(*) FROM search_indexed WHERE analysis_id = 'gone-analysis'"
        ).fetchone() == (0,)
