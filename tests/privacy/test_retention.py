"""Retention reaches the caches: after `callscope purge`, a purged call leaves nothing in
the download cache (CALLSCOPE_DOWNLOAD_CACHE_MB keeps recordings there) nor in the LLM
response cache (``llm_cache``). Two calls go through a real nightly_ingest (S3 on
loopback, tiny.en, the echoing OpenAI-compatible fake of conftest.py); one is purged by call id, the
other by age."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pytest
from click.testing import CliRunner

from analytics.warehouse import connect_read_only
from flows.cli import main
from flows.local_s3 import LocalS3
from tests.bad_input.inputs import speech, write_wav
from tests.fakes.openai_server import FakeOpenAIServer
from tests.privacy.conftest import ingest_env

pytestmark = [pytest.mark.e2e, pytest.mark.slow]

CALLS = {  # key -> sidecar
    "calls/kept-then-aged.wav": {"call_id": "aged", "started_at": "2020-01-06T10:00:00+00:00"},
    "calls/deletion-request.wav": {"call_id": "asked", "started_at": "2026-11-29T10:00:00+00:00"},
}


def _caches(tmp_path: Path) -> tuple[dict[str, str], dict[str, str]]:
    """Download cache file -> call id, and LLM cache key -> call id (via its transcript)."""
    with connect_read_only(tmp_path / "w.duckdb") as con:
        etags = dict(con.execute("SELECT etag, call_id FROM calls").fetchall())
        hashes = dict(
            con.execute(
                "SELECT i.transcript_hash, a.call_id FROM insights i JOIN analyses a"
                " USING (analysis_id)"
            ).fetchall()
        )
        llm = con.execute("SELECT cache_key, transcript_hash FROM llm_cache").fetchall()
    cache = tmp_path / "data" / "cache" / "recordings"
    files = {p.name: etags.get(p.name.split("-", 1)[0], "?") for p in cache.iterdir()}
    return files, {key: hashes.get(h, "?") for key, h in llm}


def test_a_purged_call_leaves_nothing_in_either_cache(
    prefect_harness: None,
    tmp_path: Path,
    s3_server: LocalS3,
    s3_client: Any,
    bucket: str,
    llm: FakeOpenAIServer,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from flows.ingest import nightly_ingest

    agent, customer = speech()
    for i, (key, sidecar) in enumerate(CALLS.items()):
        wav = tmp_path / f"{i}.wav"
        lead = np.zeros(i * 16000, np.float32)  # two recordings, two transcripts (times differ)
        write_wav(wav, [np.concatenate([lead, agent]), np.concatenate([lead, customer])], 8000)
        s3_client.upload_file(str(wav), bucket, key)
        sidecar = {**sidecar, "channel_roles": ["agent", "customer"]}
        s3_client.put_object(
            Bucket=bucket, Key=key.replace(".wav", ".json"), Body=json.dumps(sidecar).encode()
        )
    ingest_env(monkeypatch, tmp_path, llm, s3_server, DOWNLOAD_CACHE_MB="100")

    summary = nightly_ingest(source=f"s3://{bucket}/calls/")
    assert (summary["processed"], summary["insights"].get("ok")) == (2, 2), summary
    files, entries = _caches(tmp_path)
    assert sorted(files.values()) == ["aged", "asked"], files  # both kept, both known
    assert sorted(entries.values()) == ["aged", "asked"], entries
    # an entry a run cached but never landed (a worker killed before landing) is no one's
    with connect_read_only(tmp_path / "w.duckdb") as con:
        row = con.execute("SELECT * FROM llm_cache LIMIT 1").fetchone()
    assert row is not None
    with duckdb.connect(str(tmp_path / "w.duckdb")) as con:
        con.execute(
            "INSERT INTO llm_cache VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            ["orphan", *row[1:4], "never-landed", *row[5:]],
        )

    cli = CliRunner()
    dry = cli.invoke(main, ["purge", "--call-id", "asked", "--dry-run"])
    assert dry.exit_code == 0 and "download cache" in dry.output, dry.output
    assert _caches(tmp_path)[0] == files  # a dry run deletes nothing

    done = cli.invoke(main, ["purge", "--call-id", "asked"])
    assert done.exit_code == 0, done.output
    assert "download cache" in done.output and "llm_cache" in done.output, done.output
    files, entries = _caches(tmp_path)
    assert list(files.values()) == ["aged"] and list(entries.values()) == ["aged"]

    done = cli.invoke(main, ["purge", "--older-than", "365d"])
    assert done.exit_code == 0, done.output
    assert _caches(tmp_path) == ({}, {})
    with connect_read_only(tmp_path / "w.duckdb") as con:
        assert con.execute("SELECT count(*) FROM calls").fetchone() == (0,)
        audit = [
            json.loads(r[0]) for r in con.execute("SELECT rows_deleted FROM purge_audit").fetchall()
        ]
    assert sorted(a["download_cache_files"] for a in audit) == [1, 1]
