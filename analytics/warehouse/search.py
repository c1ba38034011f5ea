"""Full-text search over what was said: an incremental BM25 index in the warehouse itself.

DuckDB's FTS extension builds its index with ``PRAGMA create_fts_index``, which rebuilds
the whole index from scratch: its cost grows with the archive, not with the night's new
calls (``bench/warehouse.py`` measures both). So the postings live in two plain tables
kept incrementally — every publish indexes only the analyses not yet indexed
(``search_indexed``) in the same transaction that records the snapshot — and ranking is
Okapi BM25 (k1 = 1.2, b = 0.75) in one SQL table macro. Terms are lower-cased,
accent-stripped words stemmed with the FTS extension's Porter ``stem()``, which therefore
loads offline (from its wheel) in the writer and in every reader.

SQL (with fts loaded; :class:`~analytics.warehouse.snapshot.SnapshotReader` loads it)::

    SELECT call_id, role, text, score FROM search_utterances('refund charge')
    WHERE role = 'customer' ORDER BY score DESC LIMIT 10;

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

SEARCH_MACRO = f"""
CREATE OR REPLACE MACRO search_utterances(q) AS TABLE
WITH qterms AS (SELECT DISTINCT unnest(search_tokens(q)) AS term),
stats AS (
    SELECT greatest(coalesce(max(n_docs), 1), 1) AS n_docs,
           coalesce(max(total_terms) / nullif(max(n_docs), 0), 1) AS avgdl
    FROM search_stats
),
hits AS (
    SELECT t.analysis_id, t.utterance_idx, t.term, t.tf, t.dl, t.role FROM search_terms t
    WHERE t.term IN (SELECT term FROM qterms)
      AND t.analysis_id IN (
          SELECT current_analysis_id FROM calls WHERE current_analysis_id IS NOT NULL)
),
df AS (SELECT term, count(*) AS df FROM hits GROUP BY term),
scored AS (
    SELECT h.analysis_id, h.utterance_idx, any_value(h.role) AS role,
           sum(ln(1 + (s.n_docs - df.df + 0.5) / (df.df + 0.5))
               * h.tf * ({K1} + 1)
               / (h.tf + {K1} * (1 - {B} + {B} * h.dl / s.avgdl))) AS score,
           count(*) AS matched_terms
    FROM hits h JOIN df USING (term) CROSS JOIN stats s
    GROUP BY h.analysis_id, h.utterance_idx
)
SELECT c.call_id, sc.analysis_id, sc.utterance_idx, sc.role, c.agent_id, c.direction,
       c.started_at, timezone('UTC', coalesce(c.started_at, c.first_seen_at))::DATE AS call_date,
       sc.score, sc.matched_terms
FROM scored sc
JOIN calls c ON c.current_analysis_id = sc.analysis_id
"""


def ensure_search_macros(con: duckdb.DuckDBPyConnection) -> None:
    """(Re)create the search macros; the fts extension must be loaded on ``con``."""
    con.execute(TOKENS_MACRO)
    con.execute(SEARCH_MACRO)


def update_search_index(con: duckdb.DuckDBPyConnection) -> int:
    """Index every analysis not indexed yet; returns how many. Run inside a transaction."""
    con.execute(
        "CREATE OR REPLACE TEMP TABLE _search_new AS SELECT a.analysis_id FROM analyses a"
        " WHERE NOT EXISTS (SELECT 1 FROM search_indexed s WHERE s.analysis_id = a.analysis_id)"
    )
    row = con.execute("SELECT count(*) FROM _search_new").fetchone()
    n = int(row[0]) if row else 0
    if n:
        con.execute(
            """
            CREATE OR REPLACE TEMP TABLE _search_tok AS
            SELECT u.analysis_id, u.call_id, u.idx, u.role, search_tokens(u.text) AS toks
            FROM utterances u WHERE u.analysis_id IN (SELECT analysis_id FROM _search_new)
            """
        )
        con.execute(
            "INSERT INTO search_docs (analysis_id, call_id, utterance_idx, role, n_terms)"
            " SELECT analysis_id, call_id, idx, role, len(toks) FROM _search_tok"
        )
        # Sorted by term, so each batch's row groups cover narrow term ranges (zone maps).
        con.execute(
            """
            INSERT INTO search_terms (term, analysis_id, utterance_idx, tf, dl, role)
            SELECT term, analysis_id, idx, count(*)::INTEGER, any_value(dl)::INTEGER,
                   any_value(role)
            FROM (SELECT analysis_id, idx, role, unnest(toks) AS term, len(toks) AS dl
                  FROM _search_tok)
            GROUP BY term, analysis_id, idx
            ORDER BY term
            """
        )
        con.execute("DROP TABLE _search_tok")
    con.execute(
        "INSERT INTO search_indexed (analysis_id, indexed_at)"
        " SELECT analysis_id, now() FROM _search_new"
    )
    con.execute("DROP TABLE _search_new")
    # BM25's N and avgdl over current analyses (the current pointers move without new
    # analyses too: purge, reprocessing), refreshed at every publish.
    con.execute("DELETE FROM search_stats")
    con.execute(
        "INSERT INTO search_stats (n_docs, total_terms, updated_at)"
        " SELECT count(*), coalesce(sum(n_terms), 0), now() FROM search_docs"
        " WHERE analysis_id IN (SELECT current_analysis_id FROM calls)"
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
    conditions: list[str] = []
    params: list[Any] = [query]
    for column, value, op in (
        ("role", role, "="),
        ("agent_id", agent_id, "="),
        ("call_date", since, ">="),
        ("call_date", until, "<"),
    ):
        if value is not None:
            conditions.append(f"s.{column} {op} ?")
            params.append(value.date() if isinstance(value, datetime) else value)
    where = f"WHERE {' AND '.join(conditions)}" if conditions else ""
    params.append(limit)
    top = con.execute(
        f"""
        SELECT s.call_id, s.analysis_id, s.utterance_idx, s.role, s.agent_id, s.started_at,
               s.score
        FROM search_utterances(?) s {where}
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
