"""Full-text search over what was said: an incremental BM25 index in the warehouse itself.

DuckDB's FTS extension builds its index with ``PRAGMA create_fts_index``, which rebuilds
the whole index from scratch: its cost grows with the archive, not with the night's new
calls (``bench/warehouse.py`` measures both). So the postings live in two plain tables
kept incrementally — every publish indexes only the current analyses not yet indexed
(``search_indexed``) and drops those no longer current, in the same transaction that
records the snapshot — and ranking is Okapi BM25 (k1 = 1.2, b = 0.75) in SQL table
macros. Terms are lower-cased,
accent-stripped words stemmed with the FTS extension's Porter ``stem()``, which therefore
loads offline (from its wheel) in the writer and in every reader.

SQL (with fts loaded; :class:`~analytics.warehouse.snapshot.SnapshotReader` loads it)::

    SELECT call_id, role, score FROM search_utterances('refund charge')
    ORDER BY score DESC LIMIT 10;
    -- filters (role, agent_id, since, until; NULL: none) applied before the ranking:
    SELECT call_id, score FROM search_filtered('refund', 'customer', NULL, DATE '2026-11-01', NULL)
    ORDER BY score DESC LIMIT 10;

Only current analyses are searched.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

import duckdb

from analytics.errors import ConfigError

log = logging.getLogger(__name__)

K1 = 1.2
B = 0.75


def tokens_sql(text: str) -> str:
    """The SQL for the index's terms of the expression ``text`` (a column, a macro
    argument or a ``?``): lower-cased, accent-stripped words, Porter-stemmed."""
    return f"""list_transform(
    list_filter(string_split_regex(lower(strip_accents(coalesce({text}, ''))), '[^a-z0-9]+'),
                t -> t <> ''),
    t -> stem(t, 'porter'))"""


TOKENS_MACRO = f"CREATE OR REPLACE MACRO search_tokens(s) AS {tokens_sql('s')}"

# The call's UTC day, as the views' ``timezone('UTC', ...)::DATE`` computes it, from the
# epoch instead of through the time-zone library: ~20x cheaper on every call of the
# archive. Floor division, so instants before 1970 get their day too.
_US = "epoch_us(coalesce(c.started_at, c.first_seen_at))"
_DAY_US = 86_400_000_000
CALL_DAY = (
    f"(DATE '1970-01-01' + CAST(({_US} - ({_US} % {_DAY_US} + {_DAY_US}) % {_DAY_US})"
    f" // {_DAY_US} AS INTEGER))"
)

# ``search_filtered(q, role, agent_id, since, until)``: NULL for no filter; ``since``
# inclusive, ``until`` exclusive (call days). Every column the body names is qualified:
# an unqualified ``role``, ``agent_id``, ``since`` or ``until`` is the macro's parameter.
# The index holds the current analyses (as of the last publish, like ``search_stats``):
# a term's postings are its document frequency, with no test against the calls' current
# pointer. The filters restrict the postings before they are grouped per utterance (the
# calls' ones only when given: a constant NULL folds the test away), and the final join
# keeps the current analyses.
SEARCH_MACRO = f"""
CREATE OR REPLACE MACRO search_filtered(q, role, agent_id, since, until) AS TABLE
WITH qterms AS (SELECT DISTINCT unnest(search_tokens(q)) AS term),
stats AS (
    SELECT greatest(coalesce(max(st.n_docs), 1), 1)::DOUBLE AS n_docs,
           coalesce(max(st.total_terms) / nullif(max(st.n_docs), 0), 1)::DOUBLE AS avgdl
    FROM search_stats st
),
hits AS (
    SELECT t.analysis_id, t.utterance_idx, t.term, t.tf, t.dl, t.role FROM search_terms t
    WHERE t.term IN (SELECT qt.term FROM qterms qt)
),
weights AS (
    SELECT d.term, ln(1 + (s.n_docs - d.df + 0.5) / (d.df + 0.5)) AS idf, s.avgdl
    FROM (SELECT h.term, count(*) AS df FROM hits h GROUP BY h.term) d CROSS JOIN stats s
),
picked AS (
    SELECT c.call_id, c.current_analysis_id AS analysis_id, c.agent_id, c.direction,
           c.started_at, {CALL_DAY} AS call_date
    FROM calls c
    WHERE c.current_analysis_id IS NOT NULL
      AND (agent_id IS NULL OR c.agent_id = agent_id)
      AND (since IS NULL OR {CALL_DAY} >= since)
      AND (until IS NULL OR {CALL_DAY} < until)
),
scored AS (
    SELECT h.analysis_id, h.utterance_idx, any_value(h.role) AS role,
           sum(w.idf * h.tf * {K1 + 1}
               / (h.tf + {K1} * ({1 - B} + {B} * h.dl / w.avgdl))) AS score,
           count(*) AS matched_terms
    FROM hits h JOIN weights w ON w.term = h.term
    WHERE (role IS NULL OR h.role = role)
      AND (agent_id IS NULL AND since IS NULL AND until IS NULL
           OR h.analysis_id IN (SELECT p.analysis_id FROM picked p))
    GROUP BY h.analysis_id, h.utterance_idx
)
SELECT p.call_id, sc.analysis_id, sc.utterance_idx, sc.role, p.agent_id, p.direction,
       p.started_at, p.call_date, sc.score, sc.matched_terms
FROM scored sc
JOIN picked p ON p.analysis_id = sc.analysis_id
"""

# Named arguments with defaults would be simpler, but DuckLake cannot keep a macro whose
# parameters default to NULL: the unfiltered search is its own macro.
SEARCH_ALL_MACRO = """
CREATE OR REPLACE MACRO search_utterances(q) AS TABLE
SELECT * FROM search_filtered(q, NULL, NULL, NULL, NULL)
"""


def ensure_search_macros(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the search macros; the fts extension must be loaded on ``con``."""
    con.execute(TOKENS_MACRO)
    con.execute(SEARCH_MACRO)
    con.execute(SEARCH_ALL_MACRO)


def update_search_index(con: duckdb.DuckDBPyConnection) -> int:
    """Bring the index to the current analyses: index those not indexed yet, drop those
    no longer current (a reprocessed call's old analysis); returns how many were indexed.
    Run inside a transaction."""
    # The index holds the current analyses as of this publish, so ranking reads the
    # postings of its terms without testing each one against the calls' current pointer.
    # New utterances are numbered above every number in use before the old ones leave: a
    # number deleted in this transaction cannot be inserted again in it (unique index).
    top = con.execute("SELECT coalesce(max(doc), 0) FROM search_docs").fetchone()
    first_doc = int(top[0]) if top else 0
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _search_old AS SELECT s.analysis_id FROM search_indexed s"
        " WHERE NOT EXISTS (SELECT 1 FROM calls c WHERE c.current_analysis_id = s.analysis_id)"
    )
    old = con.execute("SELECT count(*) FROM _search_old").fetchone()
    if old and old[0]:
        for table in ("search_terms", "search_docs", "search_indexed"):
            con.execute(
                f"DELETE FROM {table} WHERE analysis_id IN (SELECT analysis_id FROM _search_old)"
            )
        log.info("search index: dropped %d analyses no longer current", old[0])
    con.execute("DROP TABLE _search_old")
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _search_new AS"
        " SELECT DISTINCT c.current_analysis_id AS analysis_id FROM calls c"
        " WHERE c.current_analysis_id IS NOT NULL AND NOT EXISTS"
        " (SELECT 1 FROM search_indexed s WHERE s.analysis_id = c.current_analysis_id)"
    )
    row = con.execute("SELECT count(*) FROM _search_new").fetchone()
    n = int(row[0]) if row else 0
    if n:
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _search_tok AS
            SELECT ?::BIGINT + row_number()
                       OVER (ORDER BY c.started_at NULLS FIRST, u.analysis_id, u.idx) AS doc,
                   u.analysis_id, u.call_id, u.idx, u.role, lower(u.text) AS text_lower,
                   search_tokens(u.text) AS toks
            FROM utterances u LEFT JOIN calls c ON c.call_id = u.call_id
            WHERE u.analysis_id IN (SELECT analysis_id FROM _search_new)
            """,
            [first_doc],
        )
        # Each utterance numbered (doc) above the numbers in use, oldest call first, and
        # stored in that order; its postings carry the number and search_docs its
        # lower-cased text (the calls list's substring test, see text_filter).
        con.execute(
            "INSERT INTO search_docs (analysis_id, call_id, utterance_idx, role, n_terms, doc,"
            " text_lower)"
            " SELECT analysis_id, call_id, idx, role, len(toks), doc, text_lower FROM _search_tok"
            " ORDER BY doc"
        )
        # Sorted by term, so each batch's row groups cover narrow term ranges (zone maps).
        con.execute(
            """
            INSERT INTO search_terms (term, analysis_id, utterance_idx, tf, dl, role, doc)
            SELECT term, analysis_id, idx, count(*)::INTEGER, any_value(dl)::INTEGER,
                   any_value(role), doc
            FROM (SELECT doc, analysis_id, idx, role, unnest(toks) AS term, len(toks) AS dl
                  FROM _search_tok)
            GROUP BY term, analysis_id, idx, doc
            ORDER BY term, doc
            """
        )
        con.execute("DROP TABLE _search_tok")
    con.execute(
        "INSERT INTO search_indexed (analysis_id, indexed_at)"
        " SELECT analysis_id, now() FROM _search_new"
    )
    con.execute("DROP TABLE _search_new")
    # BM25's N and avgdl over the indexed (current) analyses, refreshed at every publish.
    con.execute("DELETE FROM search_stats")
    con.execute(
        "INSERT INTO search_stats (n_docs, total_terms, updated_at)"
        " SELECT count(*), coalesce(sum(n_terms), 0), now() FROM search_docs"
    )
    if n:
        log.info("search index: added %d analyses", n)
    return n


@dataclass(frozen=True)
class SearchHit:
    """One ranked utterance."""

    call_id: str
    utterance_idx: int
    role: str | None
    agent_id: str | None
    started_at: datetime | None
    start_s: float
    end_s: float
    text: str
    score: float


def search(
    con: duckdb.DuckDBPyConnection,
    query: str,
    *,
    role: str | None = None,
    agent_id: str | None = None,
    since: date | datetime | None = None,
    until: date | datetime | None = None,
    limit: int = 20,
) -> list[SearchHit]:
    """Utterances of current analyses ranked by BM25 for ``query``, best first.

    ``role`` (agent | customer), ``agent_id`` and the call date range (``since`` inclusive,
    ``until`` exclusive, UTC days) filter before ranking is cut at ``limit``.
    """
    if not query or not query.strip():
        raise ConfigError("search: give some words to look for, e.g. `callscope search refund`")
    if limit < 1:
        raise ConfigError(f"search: --limit must be at least 1, got {limit}")
    # The filters are the macro's: they restrict calls and postings before the ranking
    # (a filter left out is a NULL constant, which folds its test away).
    args: list[str] = []
    params: list[Any] = [query]
    for value in (role, agent_id, since, until):
        if value is None:
            args.append("NULL")
        else:
            args.append("?")
            params.append(value.date() if isinstance(value, datetime) else value)
    params.append(limit)
    top = con.execute(
        f"""
        SELECT s.call_id, s.analysis_id, s.utterance_idx, s.role, s.agent_id, s.started_at,
               s.score
        FROM search_filtered(?, {", ".join(args)}) s
        ORDER BY s.score DESC, s.call_id, s.utterance_idx LIMIT ?
        """,
        params,
    ).fetchall()
    if not top:
        return []
    # The hits' text: a filter on the utterances scan (the column of ids only, then the
    # text of the matching rows), not a join that reads every utterance's text.
    said = {
        (r[0], r[1]): r[2:]
        for r in con.execute(
            "SELECT analysis_id, idx, start_s, end_s, text FROM utterances WHERE analysis_id IN ?",
            [sorted({r[1] for r in top})],
        ).fetchall()
    }
    hits = []
    for call_id, analysis_id, idx, hit_role, agent, started_at, score in top:
        start_s, end_s, text = said[(analysis_id, idx)]
        hits.append(
            SearchHit(
                call_id=call_id,
                utterance_idx=int(idx),
                role=hit_role,
                agent_id=agent,
                started_at=started_at,
                start_s=float(start_s),
                end_s=float(end_s),
                text=text,
                score=float(score),
            )
        )
    return hits
