"""The calls list's free-text filter: what was said, found through the search index.

``list_calls(search=...)`` keeps a call when the text is a case-insensitive substring of
its call id, its agent id or one utterance of its current analysis. Testing every
utterance for that takes a second or more on an archive of tens of thousands of calls, so
the utterances to test come from the incremental search index
(:mod:`analytics.warehouse.search`):

1. the text's words are made terms the way the index makes them (lower-cased,
   accent-stripped, Porter-stemmed), and those that no indexed utterance holds are set
   aside (a part of a word such as ``"refu"``, a word nobody said);
2. the candidates are the current analyses with one utterance holding every remaining
   term, plus every current analysis the index has not taken in yet (landed since the
   last publish: on the writer's own file, or DuckLake between publishes);
3. calls are walked newest first and the exact substring test runs on the candidates'
   utterances only, a chunk at a time (growing fourfold), until the page is full. The
   utterances holding the terms come from the postings with their numbers (``doc``,
   migration 44), and their lower-cased text is read from ``search_docs`` by those
   numbers (through its index on ``doc``), so no round reads every utterance's analysis
   id; the utterances table is read only for analyses not indexed yet.

So a word of the text that is an indexed term matches where that word was said, in any
case and as any word of the same stem that contains it (``"refund"`` finds "Refund," and
"refunded"), and the whole text must still be a substring of one utterance (``"charged
twice"`` needs those two words in that order). Such a word is not found *inside* longer
words (``"fund"`` does not find "refund" once "fund" is itself an indexed term). The
words set aside in step 1 are left to the substring test alone: ``"charged tw"`` finds
"charged twice" as long as nobody said "tw".

When no word of the text is an indexed term — only punctuation (``"?"``), a part of a
word (``"refu"``), an id, a word nobody said — the newest ``CHUNK`` calls are tested
first, and when they do not fill the page every utterance is tested: every substring
match is found, at the cost of a scan that grows with the archive.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Sequence
from typing import Any

import duckdb

from analytics.warehouse.extensions import load_extension
from analytics.warehouse.search import tokens_sql

log = logging.getLogger(__name__)

#: Calls whose utterances the first substring test covers while filling a page.
CHUNK = 1_000

#: Utterances fetched by number in one statement (DuckDB's smallest index scan limit).
DOCS_AT_ONCE = 2_048

ORDER = "c.started_at DESC NULLS LAST, c.call_id"

# Case-insensitive substring tests; the same as ``ILIKE '%text%'`` (DuckDB's ILIKE lowers
# both sides the way lower() does) without LIKE's wildcards, and faster.
_BY_ID = "(contains(lower(c.call_id), lower(?)) OR contains(lower(c.agent_id), lower(?)))"


def query_terms(con: duckdb.DuckDBPyConnection, text: str) -> list[str]:
    """The distinct index terms of ``text``, in order (the fts extension is loaded for
    the stemmer if the connection has not yet)."""
    load_extension(con, "fts")
    row = con.execute(f"SELECT {tokens_sql('?')}", [text]).fetchone()
    return list(dict.fromkeys(row[0])) if row and row[0] else []


def indexed(con: duckdb.DuckDBPyConnection, term: str) -> bool:
    """Whether any indexed utterance holds ``term``."""
    row = con.execute("SELECT 1 FROM search_terms WHERE term = ? LIMIT 1", [term]).fetchone()
    return row is not None


def calls_saying(
    con: duckdb.DuckDBPyConnection,
    text: str,
    limit: int,
    conditions: Sequence[str] = (),
    params: Sequence[Any] = (),
) -> list[str]:
    """The ids of the newest ``limit`` calls (``started_at`` descending, then call id)
    whose call id, agent id or current utterances contain ``text`` (case-insensitive),
    among the calls ``c`` that meet every SQL condition of ``conditions`` (with their
    ``params``). See the module docstring for how the index is used."""
    terms = [t for t in query_terms(con, text) if indexed(con, t)]
    where = "".join(f" AND {c}" for c in conditions)
    if not terms:
        # The newest calls first: a part of a word said often fills the page from them
        # alone; otherwise every utterance is tested.
        head = con.execute(
            f"SELECT c.call_id, c.current_analysis_id, {_BY_ID} FROM calls c WHERE true {where}"
            f" ORDER BY {ORDER} LIMIT ?",
            [text, text, *params, CHUNK],
        ).fetchall()
        found: list[str] = _tested_docs(con, head, lambda _: {}, text)
        if len(found) >= limit or len(head) < CHUNK:
            return found[:limit]
        log.debug("calls list: no word of %r is an indexed term: testing every utterance", text)
        rows = con.execute(
            f"""
            SELECT c.call_id FROM calls c
            WHERE ({_BY_ID} OR c.current_analysis_id IN (
                SELECT u.analysis_id FROM utterances u WHERE contains(lower(u.text), lower(?))))
            {where}
            ORDER BY {ORDER} LIMIT ?
            """,
            [text, text, text, *params, int(limit)],
        ).fetchall()
        return [r[0] for r in rows]
    # The utterances holding every term, straight from their postings: their analyses,
    # and their numbers (docs) for the substring test. Those of one term are looked up a
    # chunk at a time (a word said often has many); those of several terms are grouped
    # once (their intersection, seldom many) and kept.
    cand_params: list[Any]
    if len(terms) == 1:
        cand_sql, cand_params = "SELECT analysis_id FROM search_terms WHERE term = ?", [*terms]
        docs_of = _postings_of(con, terms[0])
    else:
        # The first term's postings whose numbers the others' postings hold too: integer
        # semi-joins, several times cheaper than grouping every term's postings.
        also = " AND doc IN (SELECT doc FROM search_terms WHERE term = ?)" * (len(terms) - 1)
        pairs = con.execute(
            f"SELECT analysis_id, doc FROM search_terms WHERE term = ?{also}", terms
        ).fetchall()
        held: dict[str, list[int]] = {}
        for aid, doc in pairs:
            held.setdefault(aid, []).append(doc)
        cand_sql, cand_params = "SELECT unnest(?::VARCHAR[])", [list(held)]
        docs_of = lambda aids: {a: held[a] for a in aids if a in held}  # noqa: E731
    # Newest first: calls matched by id, current analyses holding the terms, and current
    # analyses not indexed yet.
    ordered = con.execute(
        f"""
        SELECT c.call_id, c.current_analysis_id, {_BY_ID} AS by_id
        FROM calls c
        WHERE ({_BY_ID}
               OR c.current_analysis_id IN ({cand_sql})
               OR c.current_analysis_id NOT IN (SELECT analysis_id FROM search_indexed))
        {where}
        ORDER BY {ORDER}
        """,
        [text, text, text, text, *cand_params, *params],
    ).fetchall()
    found = []
    lo, size = 0, CHUNK
    while lo < len(ordered) and len(found) < limit:
        found += _tested_docs(con, ordered[lo : lo + size], docs_of, text)
        lo += size
        # Fourfold (a few statements however far the page reaches), or, once some were
        # found, what their rate says fills the page (with a quarter more).
        if found:
            fill = math.ceil(1.25 * (limit - len(found)) * lo / len(found))
            size = min(size * 4, max(CHUNK, fill))
        else:
            size *= 4
    return found[:limit]


def _postings_of(
    con: duckdb.DuckDBPyConnection, term: str
) -> Callable[[list[str]], dict[str, list[int]]]:
    """A lookup of the docs holding ``term`` among some analyses, from its postings."""

    def docs_of(aids: list[str]) -> dict[str, list[int]]:
        held: dict[str, list[int]] = {}
        for aid, doc in con.execute(
            "SELECT t.analysis_id, t.doc FROM search_terms t"
            " JOIN (SELECT unnest(?::VARCHAR[]) AS analysis_id) k USING (analysis_id)"
            " WHERE t.term = ?",
            [aids, term],
        ).fetchall():
            held.setdefault(aid, []).append(doc)
        return held

    return docs_of


def _tested_docs(
    con: duckdb.DuckDBPyConnection,
    chunk: Sequence[tuple[Any, ...]],
    docs_of: Callable[[list[str]], dict[str, list[int]]],
    text: str,
) -> list[str]:
    """The call ids of ``chunk`` (call id, current analysis id, matched by id), in order,
    that match: by id, with one of its utterances holding the terms (``docs_of`` its
    analyses) containing ``text``, or (``docs_of`` gives none: not indexed, or no term
    to look up) with an utterance containing it."""
    rest = [aid for _, aid, by in chunk if not by and aid is not None]
    docs = docs_of(rest) if rest else {}
    hits = docs_saying(con, sorted(d for ds in docs.values() for d in ds), text)
    hits |= saying(con, [aid for aid in rest if aid not in docs], text)
    return [call_id for call_id, aid, by in chunk if by or aid in hits]


def docs_saying(con: duckdb.DuckDBPyConnection, docs: list[int], text: str) -> set[str]:
    """The analyses of the indexed utterances numbered ``docs`` that contain ``text``
    (case-insensitive), read from ``search_docs``."""
    hits: set[str] = set()
    # The numbers are written into the statement, at most DOCS_AT_ONCE a statement: a
    # constant IN list that short fetches its rows through the index on doc (DuckDB scans
    # the table instead above max(2,048, 0.1% of its rows)); a joined list, or a list
    # parameter, reads every row's text. The text comes in as a joined column, so its
    # test runs on the fetched rows only, not in the scan.
    for lo in range(0, len(docs), DOCS_AT_ONCE):
        numbers = ", ".join(str(int(d)) for d in docs[lo : lo + DOCS_AT_ONCE])
        rows = con.execute(
            f"""
            SELECT DISTINCT d.analysis_id
            FROM (SELECT analysis_id, text_lower FROM search_docs WHERE doc IN ({numbers})) d
            JOIN (SELECT lower(?) AS needle) k ON contains(d.text_lower, k.needle)
            """,
            [text],
        ).fetchall()
        hits.update(r[0] for r in rows)
    return hits


def saying(con: duckdb.DuckDBPyConnection, analysis_ids: list[str], text: str) -> set[str]:
    """Which of these analyses have an utterance containing ``text`` (case-insensitive)."""
    if not analysis_ids:
        return set()
    # The text comes in as a column beside the ids: as a constant, its test would be
    # pushed into the utterances scan and run on every utterance (most of a second on an
    # archive); this way only the joined utterances of these analyses are tested.
    rows = con.execute(
        """
        SELECT DISTINCT u.analysis_id
        FROM utterances u
        JOIN (SELECT unnest(?::VARCHAR[]) AS analysis_id, lower(?) AS needle) k
          USING (analysis_id)
        WHERE contains(lower(u.text), k.needle)
        """,
        [analysis_ids, text],
    ).fetchall()
    return {r[0] for r in rows}
