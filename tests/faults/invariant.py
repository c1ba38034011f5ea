"""The one invariant every fault test checks when its runs are over.

1. Each discovered recording ends in exactly one of: processed (its current analysis is of
   the object version that was listed), failed with a stage and a reason (its last
   ``call_errors`` row, newer than any analysis of it), or skipped with a reason the test
   names (e.g. deleted before it was downloaded and never listed again).
2. No duplicate analyses: one analysis per object version and lineage, one call per
   recording, one recording per call.
3. No half-written analysis is current (or exists at all): the current pointer names an
   analysis of that call with its metrics, insights and as many utterances and words as it
   says; no row of any per-analysis table belongs to an analysis that does not exist.
4. No run stays ``running`` and no claim outlives its run.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path

from analytics.warehouse import connect_read_only


def check_invariant(
    warehouse: Path,
    discovered: Iterable[str],
    skipped: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Assert the invariant over ``discovered`` recording URIs; ``skipped`` maps the URIs
    expected to end neither processed nor failed to their reason. Returns each URI's end
    state ("processed", "failed at <stage>: <reason>" or "skipped: <reason>")."""
    skipped = dict(skipped or {})
    problems: list[str] = []
    with connect_read_only(warehouse) as con:
        current = {
            uri: (aid, created)
            for uri, aid, created in con.execute(
                "SELECT a.source_uri, a.analysis_id, a.created_at FROM calls c"
                " JOIN analyses a ON a.analysis_id = c.current_analysis_id"
            ).fetchall()
        }
        last_error = {
            uri: (stage, reason, at)
            for uri, stage, reason, at in con.execute(
                "SELECT source_uri, arg_max(stage, occurred_at), arg_max(reason, occurred_at),"
                " max(occurred_at) FROM call_errors GROUP BY source_uri"
            ).fetchall()
        }
        dup_versions = con.execute(
            "SELECT source_uri, etag, lineage_key, count(*) FROM analyses"
            " GROUP BY ALL HAVING count(*) > 1"
        ).fetchall()
        calls_per_uri = con.execute(
            "SELECT source_uri, count(DISTINCT call_id) FROM analyses GROUP BY ALL"
            " HAVING count(DISTINCT call_id) > 1"
        ).fetchall()
        uris_per_call = con.execute(
            "SELECT call_id, count(DISTINCT source_uri) FROM analyses GROUP BY ALL"
            " HAVING count(DISTINCT source_uri) > 1"
        ).fetchall()
        dangling = con.execute(
            "SELECT c.call_id, c.current_analysis_id FROM calls c LEFT JOIN analyses a"
            " ON a.analysis_id = c.current_analysis_id AND a.call_id = c.call_id"
            " WHERE c.current_analysis_id IS NOT NULL AND a.analysis_id IS NULL"
        ).fetchall()
        incomplete = con.execute(
            "SELECT a.analysis_id, a.n_utterances, a.n_words,"
            " (SELECT count(*) FROM utterances u WHERE u.analysis_id = a.analysis_id),"
            " (SELECT count(*) FROM words w WHERE w.analysis_id = a.analysis_id),"
            " (SELECT count(*) FROM call_metrics m WHERE m.analysis_id = a.analysis_id),"
            " (SELECT count(*) FROM insights i WHERE i.analysis_id = a.analysis_id)"
            " FROM analyses a"
        ).fetchall()
        tables = [
            t
            for (t,) in con.execute(
                "SELECT DISTINCT c.table_name FROM information_schema.columns c"
                " JOIN information_schema.tables t USING (table_name)"
                " WHERE c.column_name = 'analysis_id' AND t.table_type = 'BASE TABLE'"
                " AND c.table_name NOT IN ('analyses', 'llm_cache')"
            ).fetchall()
        ]
        orphans = {
            t: n
            for t in tables
            if (
                n := con.execute(
                    f'SELECT count(*) FROM "{t}" x WHERE NOT EXISTS'
                    " (SELECT 1 FROM analyses a WHERE a.analysis_id = x.analysis_id)"
                ).fetchone()[0]  # type: ignore[index]
            )
        }
        running = con.execute("SELECT run_id FROM runs WHERE status = 'running'").fetchall()
        claims = con.execute(
            "SELECT k.source_uri FROM call_claims k JOIN runs r USING (run_id)"
            " WHERE r.status <> 'running'"
        ).fetchall()

    states: dict[str, str] = {}
    for uri in discovered:
        ends = []
        if uri in current:
            ends.append("processed")
        err = last_error.get(uri)
        if err is not None and (uri not in current or err[2] > current[uri][1]):
            stage, reason, _ = err
            if not stage or not reason:
                problems.append(f"{uri}: failed without a stage or reason")
            ends.append(f"failed at {stage}: {reason}")
        if uri in skipped:
            ends.append(f"skipped: {skipped[uri]}")
        if len(ends) != 1:
            problems.append(f"{uri} ends in {len(ends)} states: {ends or 'none (lost)'}")
        states[uri] = ends[0] if ends else "lost"
    problems += [f"duplicate analyses of one version: {r}" for r in dup_versions]
    problems += [f"one recording became several calls: {r}" for r in calls_per_uri]
    problems += [f"recordings merged into one call: {r}" for r in uris_per_call]
    problems += [f"current analysis does not exist: {r}" for r in dangling]
    for aid, n_utt, n_words, utt, words, metrics, insights in incomplete:
        if (n_utt, n_words) != (utt, words) or metrics != 1 or insights < 1:
            problems.append(
                f"analysis {aid} half-written: {utt}/{n_utt} utterances, {words}/{n_words}"
                f" words, {metrics} metrics rows, {insights} insights rows"
            )
    problems += [f"{n} rows of {t} belong to no analysis" for t, n in orphans.items()]
    problems += [f"run {r[0]} is still 'running'" for r in running]
    problems += [f"claim on {r[0]} outlived its run" for r in claims]
    assert not problems, "invariant broken:\n" + "\n".join(problems)
    return states
