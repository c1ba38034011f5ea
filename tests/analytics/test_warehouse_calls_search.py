"""The calls list's free-text box: candidates from the search index, the exact substring
test on theirs, every utterance tested when the index cannot answer, and calls the index
has not taken in yet always found."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from analytics.warehouse import Warehouse, connect_read_only, queries, text_filter
from analytics.warehouse.snapshot import open_reader, publish
from tests.analytics.warehouse_helpers import landed_call

# c1 (day 1) says the default lines: "... charged twice and I want a refund for the second
# charge.", "The router keeps dropping ...", "how can I help?".
C2 = [
    ("agent", "Hello, you reached Acme billing."),
    ("customer", "The fund is closed, I want my money back."),
    ("agent", "Refunded yesterday, señor."),
]
C3 = [("customer", "Nothing relevant here.")]
C4 = [("customer", "My REFUND never came and the router is broken.")]


def _build(path: Path) -> Warehouse:
    """c1-c3 landed and published (indexed); c4 landed after the publish (not indexed)."""
    w = Warehouse(path)
    w.migrate()
    w.land(landed_call("c1", day=1))
    w.land(landed_call("c2", day=2, agent="agent-bo", lines=C2))
    w.land(landed_call("c3", day=3, lines=C3))
    publish(w)
    w.land(landed_call("c4", day=4, lines=C4))
    return w


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Warehouse:
    """The warehouse of :func:`_build` for the tests that only read."""
    return _build(tmp_path_factory.mktemp("calls-search") / "w.duckdb")


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    """The warehouse of :func:`_build` for a test that lands or publishes more."""
    return _build(tmp_path / "w.duckdb")


def _ids(con: duckdb.DuckDBPyConnection, text: str, **kw: object) -> list[str]:
    return queries.list_calls(con, search=text, **kw)["call_id"].tolist()  # type: ignore[arg-type]


def _every_utterance(con: duckdb.DuckDBPyConnection, text: str) -> list[str]:
    """The calls list's filter as it was: ILIKE over every utterance, newest first."""
    pattern = "%" + text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
    rows = con.execute(
        "SELECT call_id FROM calls c WHERE c.call_id ILIKE ? ESCAPE '\\'"
        " OR c.agent_id ILIKE ? ESCAPE '\\' OR c.current_analysis_id IN (SELECT analysis_id"
        " FROM utterances WHERE text ILIKE ? ESCAPE '\\')"
        " ORDER BY c.started_at DESC NULLS LAST, c.call_id",
        [pattern, pattern, pattern],
    ).fetchall()
    return [r[0] for r in rows]


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("refund", ["c2", "c1"]),  # "Refunded" holds the word's stem and the substring
        ("REFUND", ["c2", "c1"]),  # any case
        ("refunds", []),  # the same stem, but nobody said "refunds"
        ("charged twice", ["c1"]),  # a phrase: both words in one utterance, in order
        ("twice charged", []),
        ("how can I help?", ["c1"]),  # punctuation is part of the substring
        ("help!", []),
        ("señor", ["c2"]),  # accents: stripped for the index, kept by the substring test
        ("senor", []),
        ("the router", ["c1"]),
        ("agent-bo", ["c2"]),  # the agent id; "bo" is no word anybody said
        ("c3", ["c3"]),  # the call id
        ("fund", ["c2"]),  # a word said on its own is not looked for inside "refund"
        ("refu", ["c2", "c1"]),  # part of a word: no indexed term, every utterance tested
        ("charged tw", ["c1"]),  # "tw" is set aside, "charged" finds the candidates
        ("?", ["c1"]),  # no word at all: every utterance tested
        ("no such words anywhere", []),
        ("%", []),  # no LIKE wildcards
        ("_", []),
    ],
)
def test_the_published_snapshot(built: Warehouse, text: str, expected: list[str]) -> None:
    with open_reader(built.path) as reader:
        assert _ids(reader.connection, text) == expected


@pytest.mark.parametrize(
    "text",
    ["refund", "Refund", "charged twice", "the router", "help?", "señor", "refu", "?", "c4"],
)
def test_whole_words_parts_and_punctuation_agree_with_testing_every_utterance(
    built: Warehouse, text: str
) -> None:
    with connect_read_only(built.path) as con:
        assert _ids(con, text) == _every_utterance(con, text)
        assert _ids(con, text)


def test_calls_landed_since_the_last_publish_are_found(wh: Warehouse) -> None:
    # The writer's file: c4 is not indexed yet, the others are.
    with connect_read_only(wh.path) as con:
        assert _ids(con, "refund") == ["c4", "c2", "c1"]
        assert _ids(con, "router") == ["c4", "c1"]
        assert _ids(con, "broken") == ["c4"]  # a word only c4 said: no indexed term
    # The snapshot holds c4 once it is published, indexed.
    with open_reader(wh.path) as reader:
        assert _ids(reader.connection, "router") == ["c1"]
        publish(wh)
        assert _ids(reader.connection, "router") == ["c4", "c1"]
        assert _ids(reader.connection, "broken") == ["c4"]


def test_only_the_current_analysis_is_searched(wh: Warehouse) -> None:
    # c1 is processed again (a new version): its new analysis is current and not indexed;
    # its old one, indexed, still holds "router" and "refund".
    wh.land(landed_call("c1", day=1, etag="e2", lines=[("agent", "All sorted, goodbye.")]))
    with connect_read_only(wh.path) as con:
        assert _ids(con, "router") == ["c4"]
        assert _ids(con, "refund") == ["c4", "c2"]
        assert _ids(con, "sorted") == ["c1"]
    publish(wh)
    with open_reader(wh.path) as reader:
        assert _ids(reader.connection, "router") == ["c4"]
        assert _ids(reader.connection, "all sorted") == ["c1"]


def test_the_page_fills_chunk_by_chunk_with_the_other_filters(
    wh: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    publish(wh)
    monkeypatch.setattr(text_filter, "CHUNK", 1)  # one call, then four, ...
    with open_reader(wh.path) as reader:
        con = reader.connection
        assert _ids(con, "refund") == ["c4", "c2", "c1"]
        assert _ids(con, "refund", limit=2) == ["c4", "c2"]
        assert _ids(con, "refund", limit=1) == ["c4"]
        assert _ids(con, "Refund", outcome="resolved") == []  # no insights landed
        assert _ids(con, "router", category="nothing-like-it") == []


@pytest.mark.parametrize("chunk", [1, 2, 100])
@pytest.mark.parametrize("limit", [1, 2, 3, 10])
@pytest.mark.parametrize("text", ["refu", "?", "ROUTER IS", "c", "e", "zzz", "refund", "router"])
def test_the_newest_calls_first_then_every_utterance(
    built: Warehouse,
    monkeypatch: pytest.MonkeyPatch,
    chunk: int,
    limit: int,
    text: str,
) -> None:
    # A box without an indexed term tests the newest calls first and every utterance only
    # when they do not fill the page; with terms, the rounds grow by what the first found:
    # either way the page is the newest matches, as testing every utterance gives them.
    monkeypatch.setattr(text_filter, "CHUNK", chunk)
    with connect_read_only(built.path) as con:
        assert _ids(con, text, limit=limit) == _every_utterance(con, text)[:limit]


def test_the_index_numbers_each_utterance_and_keeps_its_lower_cased_text(wh: Warehouse) -> None:
    publish(wh)
    wh.land(landed_call("c1", day=1, etag="e2", lines=[("agent", "ALL Sorted, goodbye.")]))
    publish(wh)  # c1's old analysis leaves the index, its new one comes in numbered above
    with connect_read_only(wh.path) as con:
        docs = con.execute(
            "SELECT d.doc, d.text_lower, lower(u.text) FROM search_docs d JOIN utterances u"
            " ON u.analysis_id = d.analysis_id AND u.idx = d.utterance_idx ORDER BY d.doc"
        ).fetchall()
        assert len(docs) == len({d[0] for d in docs}) == 6  # c1 (new) 1, c2 3, c3 1, c4 1
        assert all(text == lowered for _, text, lowered in docs)
        assert docs[-1][1] == "all sorted, goodbye."
        orphans = con.execute(
            "SELECT count(*) FROM search_terms t LEFT JOIN search_docs d ON d.doc = t.doc"
            " AND d.analysis_id = t.analysis_id AND d.utterance_idx = t.utterance_idx"
            " WHERE d.doc IS NULL"
        ).fetchone()
        assert orphans == (0,)


def test_indexed_candidates_are_tested_without_reading_the_utterances(
    wh: Warehouse, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Everything published: the candidates' text comes from search_docs by number, a few
    # numbers a statement; the utterances are read only for analyses not indexed yet.
    publish(wh)

    def no_utterances(con: duckdb.DuckDBPyConnection, ids: list[str], text: str) -> set[str]:
        assert not ids, f"utterances read for {ids}"
        return set()

    monkeypatch.setattr(text_filter, "saying", no_utterances)
    monkeypatch.setattr(text_filter, "DOCS_AT_ONCE", 1)
    with open_reader(wh.path) as reader:
        con = reader.connection
        assert _ids(con, "refund") == ["c4", "c2", "c1"]
        assert _ids(con, "charged twice") == ["c1"]
        assert _ids(con, "twice charged") == []
        assert _ids(con, "refund never") == ["c4"]
        assert _ids(con, "router is broken") == ["c4"]


def test_migration_44_numbers_an_existing_index(wh: Warehouse) -> None:
    publish(wh)
    with connect_read_only(wh.path) as con:
        before = {t: _ids(con, t) for t in ("refund", "charged twice", "the router", "señor")}
    # The index as it was before migration 44: no numbers, no text.
    with wh.transaction() as con:
        con.execute("DROP INDEX search_docs_doc")
    with wh.transaction() as con:
        for table, column in (
            ("search_terms", "doc"),
            ("search_docs", "doc"),
            ("search_docs", "text_lower"),
        ):
            con.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        con.execute("DELETE FROM schema_migrations WHERE version = 44")
    assert wh.migrate() == [44]
    with connect_read_only(wh.path) as con:
        # numbered oldest call first: c4's utterances hold the highest numbers
        newest = con.execute("SELECT call_id FROM search_docs ORDER BY doc DESC LIMIT 1")
        assert newest.fetchone() == ("c4",)
        assert {t: _ids(con, t) for t in before} == before
    wh.land(landed_call("c5", day=5, lines=[("customer", "Refund please.")]))
    publish(wh)
    with open_reader(wh.path) as reader:
        assert _ids(reader.connection, "refund please") == ["c5"]
