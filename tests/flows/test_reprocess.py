"""The reprocess flow end to end: loopback S3, real Prefect, real engines, DuckDB."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import duckdb
import pytest
from click.testing import CliRunner

from analytics.config import Settings
from analytics.errors import WarehouseError
from analytics.insights.offline import OfflineEngine
from analytics.warehouse import connect_read_only
from analytics.warehouse.compare import compare_analyses
from flows.cli import main
from flows.local_s3 import LocalS3
from tests.flows.clips import speech_clip

pytestmark = [pytest.mark.slow, pytest.mark.e2e]


@pytest.fixture
def env(
    monkeypatch: pytest.MonkeyPatch, settings: Settings, s3_server: LocalS3, tmp_path: Path
) -> Settings:
    monkeypatch.setenv("CALLSCOPE_WAREHOUSE", str(settings.warehouse))
    monkeypatch.setenv("CALLSCOPE_DATA_DIR", str(settings.data_dir))
    monkeypatch.setenv("CALLSCOPE_WORKERS", "1")
    for key, value in s3_server.settings_overrides().items():
        monkeypatch.setenv(f"CALLSCOPE_{key.upper()}", value)
    return settings


@pytest.fixture
def landed(
    prefect_harness: None, env: Settings, s3_client: Any, bucket: str, tmp_path: Path
) -> str:
    """One short call (with a sidecar) ingested from the loopback S3 server."""
    from flows.ingest import nightly_ingest

    clip = speech_clip(tmp_path / "clip.wav", 0.0, seconds=6.0)
    s3_client.upload_file(str(clip), bucket, "calls/q1.wav")
    sidecar = {"call_id": "q1", "agent_id": "agent-ana", "direction": "inbound"}
    s3_client.put_object(Bucket=bucket, Key="calls/q1.json", Body=json.dumps(sidecar).encode())
    assert nightly_ingest(source=f"s3://{bucket}/calls/")["processed"] == 1
    return "q1"


def _rows(env: Settings, sql: str) -> list[tuple[Any, ...]]:
    with connect_read_only(env.warehouse) as con:
        return con.execute(sql).fetchall()


def _current(env: Settings) -> str:
    return str(_rows(env, "SELECT current_analysis_id FROM calls WHERE call_id = 'q1'")[0][0])


def _forbid_audio(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    touched: list[str] = []

    def forbidden(what: str) -> Any:
        def fail(*args: Any, **kwargs: Any) -> None:
            touched.append(what)
            raise AssertionError(f"{what} must not run for this reprocess")

        return fail

    monkeypatch.setattr("analytics.sources.s3.S3Source.fetch", forbidden("fetch"))
    monkeypatch.setattr("analytics.pipeline.decode", forbidden("decode"))
    monkeypatch.setattr("analytics.transcription.make_transcriber", forbidden("transcriber"))
    monkeypatch.setattr("flows.reprocess.make_transcriber", forbidden("transcriber"))
    return touched


def test_a_new_prompt_reruns_insights_only(
    landed: str, env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.reprocess import reprocess

    old = _current(env)
    monkeypatch.setattr("analytics.insights.offline_rules.RULES_VERSION", "rules-v2")
    monkeypatch.setattr(OfflineEngine, "model", "rules-v2")
    plan = reprocess(dry_run=True)["plan"]
    assert plan["per_call"][0]["stages"] == ["insights", "categories"]
    assert plan["engine_minutes"] == 0

    touched = _forbid_audio(monkeypatch)
    summary = reprocess()
    assert touched == []
    assert (summary["landed"], summary["failed"]) == (1, 0)
    assert summary["stages"] == {"insights": 1, "categories": 1}
    new = _current(env)
    assert new != old
    assert _rows(env, "SELECT count(*) FROM analyses") == [(2,)]  # the old one is kept
    ((stages, run_kind),) = _rows(
        env,
        f"SELECT a.stages, r.kind FROM analyses a JOIN runs r USING (run_id)"
        f" WHERE a.analysis_id = '{new}'",
    )
    assert json.loads(stages)["insights"]["prompt_version"] == "rules-v2"
    assert run_kind == "reprocess"
    # the same reprocess again is a no-op
    again = reprocess()
    assert (again["landed"], again["unchanged"]) == (0, 0) and _current(env) == new


def test_another_model_retranscribes_from_s3_and_compares(landed: str, env: Settings) -> None:
    result = CliRunner().invoke(main, ["reprocess", "--differs", "model", "--model", "base",
                                       "--dry-run", "--json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    plan = json.loads(result.output)["plan"]
    assert plan["per_call"][0]["stages"][:3] == ["fetch", "decode", "transcribe"]
    assert plan["engine_minutes"] == pytest.approx(0.1, abs=0.01)

    result = CliRunner().invoke(main, ["reprocess", "--differs", "model", "--model", "base"])
    assert result.exit_code == 0, result.output
    assert "new analyses: 1" in result.output
    models = _rows(env, "SELECT model, stages FROM analyses ORDER BY created_at")
    assert [m for m, _ in models] == ["tiny.en", "base"]
    assert json.loads(models[1][1])["transcribe"]["model"] == "base"
    a, b = compare_analyses(env.warehouse, "q1")
    assert (a["model"], b["model"], b["is_current"]) == ("tiny.en", "base", True)
    assert a["n_words"] > 0 and b["n_words"] > 0
    out = CliRunner().invoke(main, ["compare", "q1"])
    assert out.exit_code == 0 and "tiny.en" in out.output and "base" in out.output
    # the downloaded recording did not stay on disk
    cache = env.data_dir / "cache" / "recordings"
    assert not cache.exists() or not any(cache.iterdir())


def test_a_fault_at_landing_keeps_current_and_fails_the_run(
    landed: str, env: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    from flows.reprocess import reprocess

    old = _current(env)

    def disk_full(*args: Any) -> None:
        raise duckdb.IOException("No space left on device")

    monkeypatch.setattr("analytics.warehouse.derive.write_insights", disk_full)
    with pytest.raises(WarehouseError, match="No space left"):
        reprocess(stages=["insights"], force=True)
    assert _current(env) == old
    assert _rows(env, "SELECT count(*) FROM analyses") == [(1,)]
    ((status, error),) = _rows(env, "SELECT status, error FROM runs WHERE kind = 'reprocess'")
    assert status == "failed" and "No space left" in error


def test_retry_failed_puts_a_failed_recording_back(
    prefect_harness: None, env: Settings, s3_client: Any, bucket: str, tmp_path: Path
) -> None:
    from flows.ingest import nightly_ingest

    s3_client.upload_file(str(speech_clip(tmp_path / "c.wav", 0.0)), bucket, "in/c.wav")
    s3_client.put_object(Bucket=bucket, Key="in/c.json", Body=b"{broken")
    assert nightly_ingest(source=f"s3://{bucket}/in/")["failed"] == 1
    out = CliRunner().invoke(main, ["retry-failed", "--dry-run"])
    assert out.exit_code == 0 and "in-c-" in out.output and "transcribe" in out.output
    # the sidecar is fixed: the nightly run retries it by itself (a new sidecar version)
    s3_client.put_object(Bucket=bucket, Key="in/c.json", Body=b'{"call_id": "c"}')
    assert nightly_ingest(source=f"s3://{bucket}/in/")["processed"] == 1
    out = CliRunner().invoke(main, ["retry-failed", "--dry-run", "--json"])
    assert json.loads(out.output)["plan"]["calls"] == 0
