"""Retention: purge deletes every derived row, audits without content, spares the rest."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from analytics.enrich.metrics import compute_metrics
from analytics.enrich.rules import load_rules
from analytics.errors import ConfigError
from analytics.warehouse import Warehouse, connect_read_only
from analytics.warehouse.purge import parse_age, purge
from analytics.warehouse.snapshot import publish
from tests.analytics.warehouse_helpers import landed_call
from tests.conftest import ROOT

OLD, NEW = "call-x9", "call-y7"
NOW = datetime(2026, 12, 1, tzinfo=UTC)


def _tables_with_call_rows(wh: Warehouse, call_id: str) -> dict[str, int]:
    with connect_read_only(wh.path) as con:
        tables = [
            r[0]
            for r in con.execute(
                "SELECT table_name FROM information_schema.columns WHERE column_name = 'call_id'"
                " AND table_name IN (SELECT table_name FROM information_schema.tables"
                " WHERE table_type = 'BASE TABLE')"
            ).fetchall()
        ]
        counts = {
            t: con.execute(f"SELECT count(*) FROM {t} WHERE call_id = ?", [call_id]).fetchone()[0]  # type: ignore[index]
            for t in tables
        }
    return {t: n for t, n in counts.items() if n}


@pytest.fixture
def wh(tmp_path: Path) -> Warehouse:
    w = Warehouse(tmp_path / "w.duckdb")
    w.migrate()
    rules = load_rules(ROOT / "config" / "categories.yaml")
    for call_id, day in ((OLD, 1), (NEW, 20)):
        result = landed_call(call_id, day=day)
        metrics = compute_metrics(list(result.utterances), result.duration_s)
        w.land(replace(result, metrics=metrics.to_dict()), ruleset=rules)
    w.record_error(
        run_id=None,
        source_uri="s3://b/old.wav",
        etag="e0",
        call_id=OLD,
        stage="decode",
        error_type="DecodeError",
        reason="corrupt",
        retryable=False,
    )
    publish(w)  # search rows too
    return w


def test_parse_age() -> None:
    assert parse_age("365d") == timedelta(days=365)
    assert parse_age("2w") == timedelta(weeks=2)
    for bad in ("365", "d", "-3d", "3y"):
        with pytest.raises(ConfigError, match="365d"):
            parse_age(bad)


def test_purge_older_than_deletes_every_derived_row(wh: Warehouse) -> None:
    before = _tables_with_call_rows(wh, OLD)
    assert {"calls", "analyses", "utterances", "talk_by_role", "words", "search_docs",
            "call_errors"} <= set(before)  # fmt: skip
    dry = purge(wh, older_than=timedelta(days=20), dry_run=True, now=NOW)
    assert dry.calls == 1 and dry.rows["utterances"] == 5 and dry.purge_id is None
    assert _tables_with_call_rows(wh, OLD) == before  # a dry run deletes nothing

    done = purge(wh, older_than=timedelta(days=20), now=NOW, purged_by="dpo")
    assert done.rows == dry.rows and done.rows["search_terms"] > 0
    assert done.rows["talk_by_role"] == 2  # the call's agent and customer rollup rows
    assert _tables_with_call_rows(wh, OLD) == {}
    assert _tables_with_call_rows(wh, NEW)["utterances"] == 5  # the rest stays
    with connect_read_only(wh.path) as con:
        audit = con.execute("SELECT purged_by, criteria, calls, rows_deleted FROM purge_audit")
        (who, criteria, calls, rows), *more = audit.fetchall()
    assert not more and (who, criteria, calls) == ("dpo", "older_than=20d", 1)
    assert json.loads(rows)["calls"] == 1
    assert OLD not in json.dumps([who, criteria, rows])  # counts only, no content


def test_purge_call_id_keeps_only_a_hash_and_deletes_recordings(
    wh: Warehouse, tmp_path: Path
) -> None:
    rec = tmp_path / "old.wav"
    rec.write_bytes(b"RIFF")
    rec.with_suffix(".json").write_text("{}")
    with wh.transaction() as con:
        con.execute("UPDATE calls SET source_uri = ? WHERE call_id = ?", [str(rec), OLD])
        con.execute("UPDATE analyses SET source_uri = ? WHERE call_id = ?", [str(rec), OLD])
    done = purge(wh, call_id=OLD, recordings=True, now=NOW)
    assert done.calls == 1 and done.recordings_deleted == 2
    assert not rec.exists() and not rec.with_suffix(".json").exists()
    with connect_read_only(wh.path) as con:
        criteria, n_rec = con.execute(
            "SELECT criteria, recordings_deleted FROM purge_audit"
        ).fetchone()  # type: ignore[misc]
    assert criteria.startswith("call_id_sha256=") and OLD not in criteria and n_rec == 2


def test_purge_recordings_in_s3(wh: Warehouse, s3_client: Any, bucket: str) -> None:
    s3_client.put_object(Bucket=bucket, Key="calls/old.wav", Body=b"RIFF")
    s3_client.put_object(Bucket=bucket, Key="calls/old.json", Body=b"{}")
    s3_client.put_object(Bucket=bucket, Key="calls/new.wav", Body=b"RIFF")
    uri = f"s3://{bucket}/calls/old.wav"
    with wh.transaction() as con:
        con.execute("UPDATE analyses SET source_uri = ? WHERE call_id = ?", [uri, OLD])
    done = purge(wh, call_id=OLD, recordings=True, source_client=s3_client, now=NOW)
    assert done.recordings_deleted == 2
    left = [o["Key"] for o in s3_client.list_objects_v2(Bucket=bucket)["Contents"]]
    assert left == ["calls/new.wav"]


def test_purge_needs_one_rule(wh: Warehouse) -> None:
    with pytest.raises(ConfigError, match="exactly one"):
        purge(wh)


def _cache_entry(con: Any, key: str, transcript_hash: str) -> None:
    con.execute(
        "INSERT INTO llm_cache VALUES (?, 'openai', 'm', 'v1', ?, '{}', 1, 1, 0, ?)",
        [key, transcript_hash, NOW],
    )


def test_purge_empties_both_caches_of_the_purged_call(wh: Warehouse, tmp_path: Path) -> None:
    """The download cache (``<etag>-<name>``, partial downloads too) and the LLM cache:
    the purged call's entries go, another call's stay, an entry no landed call refers to
    (cached by a run that never landed it) goes too; a dry run only counts."""
    cache = tmp_path / "cache" / "recordings"
    cache.mkdir(parents=True)
    for name in ("e1-call-x9.wav", "e1-call-x9.wav.part", "e1-call-y7.wav"):
        (cache / name).write_bytes(b"RIFF")
    with wh.transaction() as con:
        for call_id, thash in ((OLD, "h-old"), (NEW, "h-new")):
            con.execute(
                "INSERT INTO insights (analysis_id, call_id, engine, model, prompt_version,"
                " status, transcript_hash, created_at) SELECT analysis_id, call_id, 'openai',"
                " 'm', 'v1', 'ok', ?, ? FROM analyses WHERE call_id = ?",
                [thash, NOW, call_id],
            )
            _cache_entry(con, f"k-{call_id}", thash)
        _cache_entry(con, "k-orphan", "h-never-landed")

    dry = purge(wh, call_id=OLD, dry_run=True, download_cache=cache, now=NOW)
    assert dry.cached_downloads == 2 and dry.rows["llm_cache"] == 2
    assert len(list(cache.iterdir())) == 3

    done = purge(wh, call_id=OLD, download_cache=cache, now=NOW)
    assert done.cached_downloads == 2 and done.rows["llm_cache"] == 2
    assert [p.name for p in cache.iterdir()] == ["e1-call-y7.wav"]
    with connect_read_only(wh.path) as con:
        keys = [r[0] for r in con.execute("SELECT cache_key FROM llm_cache").fetchall()]
        (rows,) = con.execute("SELECT rows_deleted FROM purge_audit").fetchone()  # type: ignore[misc]
    assert keys == [f"k-{NEW}"]
    assert json.loads(rows)["download_cache_files"] == 2
