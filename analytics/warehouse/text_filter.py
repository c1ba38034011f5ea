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
   utterances only, a chunk at a time (growing fourfold), until the page is full.

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
from collections.abc import Sequence
from typing import Any

import duckdb

from analytics.warehouse.extensions import load_extension
from analytics.warehouse.search import tokens_sql

log = logging.getLogger(__name__)

#: Calls whose utterances the first substring test covers while filling a page.
CHUNK = 1_000

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
        found: list[str] = _tested(con, head, text)
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
    # Postings of one utterance holding every term (of one term: any posting).
    said = f"SELECT analysis_id FROM search_terms WHERE term IN ({', '.join('?' * len(terms))})"
    said_params: list[Any] = list(terms)
    if len(terms) > 1:
        said += " GROUP BY analysis_id, utterance_idx HAVING count(DISTINCT term) = ?"
        said_params.append(len(terms))
    # Newest first: calls matched by id, current analyses holding the terms, and current
    # analyses not indexed yet.
    ordered = con.execute(
        f"""
        SELECT c.call_id, c.current_analysis_id, {_BY_ID} AS by_id
        FROM calls c
        WHERE ({_BY_ID}
               OR c.current_analysis_id IN ({said})
               OR c.current_analysis_id NOT IN (SELECT analysis_id FROM search_indexed))
        {where}
        ORDER BY {ORDER}
        """,
        [text, text, text, text, *said_params, *params],
    ).fetchall()
    found = []
    lo, size = 0, CHUNK
    while lo < len(ordered) and len(found) < limit:
        found += _tested(con, ordered[lo : lo + size], text)
        lo += size
        # Fourfold (a few statements however far the page reaches), or, once some were
        # found, what their rate says fills the page (with a quarter more): each round
        # re-reads the utterances' ids, testing fewer calls is what saves.
        if found:
            fill = math.ceil(1.25 * (limit - len(found)) * lo / len(found))
            size = min(size * 4, max(CHUNK, fill))
        else:
            size *= 4
    return found[:limit]


def _tested(
    con: duckdb.DuckDBPyConnection, chunk: Sequence[tuple[Any, ...]], text: str
) -> list[str]:
    """The call ids of ``chunk`` (call id, current analysis id, matched by id), in order,
    that match: by id, or with an utterance containing ``text``."""
    hits = saying(con, [aid for _, aid, by in chunk if not by and aid is not None], text)
    return [call_id for call_id, aid, by in chunk if by or aid in hits]


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
