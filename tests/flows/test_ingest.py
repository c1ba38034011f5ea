"""End to end: S3 API server on loopback -> nightly_ingest (real Prefect) -> DuckDB rows."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from analytics.config import Settings
from analytics.errors import DecodeError, TransientSourceError
from analytics.evaluation import role_attribution, wer
from analytics.models import Utterance
from analytics.warehouse import connect_read_only
from flows.local_s3 import LocalS3
from tests.conftest import sample_audio, sample_sidecar

pytestmark = [pytest.mark.slow, pytest.mark.e2e]

CALLS = ["billing_resolved", "sales_outbound", "wrong_number"]


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch, settings: Settings, s3_server: LocalS3) -> Settings:
    """Configure the flow the way production does: through CALLSCOPE_* variables."""
    monkeypatch.setenv("CALLSCOPE_WAREHOUSE", str(settings.warehouse))
    monkeypatch.setenv("CALLSCOPE_DATA_DIR", str(settings.data_dir))
    for key, value in s3_server.settings_overrides().items():
        monkeypatch.setenv(f"CALLSCOPE_{key.upper()}", value)
    return settings


def _upload(client: Any, bucket: str, names: list[str], prefix: str = "calls/") -> None:
    for name in names:
        audio = sample_audio(name)
        client.upload_file(str(audio), bucket, f"{prefix}{audio.name}")
        client.put_object(
            Bucket=bucket,
            Key=f"{prefix}{name}.json",
            Body=json.dumps(sample_sidecar(name)).encode(),
        )


def _counts(path: Path) -> dict[str, int]:
    with connect_read_only(path) as con:
        return {
            t: con.execute(f"SELECT count(*) FROM {t}").fetchone()[0]  # type: ignore[index]
            for t in ("calls", "analyses", "utterances", "words", "call_errors", "runs")
        }


def test_nightly_ingest_end_to_end(
    prefect_harness: None, env: Settings, s3_client: Any, bucket: str, corrupt_wav: Path
) -> None:
    from flows.ingest import nightly_ingest

    _upload(s3_client, bucket, CALLS)
    s3_client.upload_file(str(corrupt_wav), bucket, "calls/corrupt_call.wav")
    source = f"s3://{bucket}/calls/"

    summary = summary_first = nightly_ingest(source=source)
    assert (summary["processed"], summary["failed"], summary["skipped"]) == (3, 1, 0)
    # the run reports its real-time factor (speed itself is measured in bench/, not here)
    assert summary["audio_minutes"] > 1.5 and summary["rtf"] > 0

    counts = _counts(env.warehouse)
    assert counts["calls"] == 3 and counts["analyses"] == 3 and counts["call_errors"] == 1
    with connect_read_only(env.warehouse) as con:
        err = con.execute(
            "SELECT call_id, stage, error_type, reason, retryable FROM call_errors"
        ).fetchone()
        assert err is not None
        # no sidecar: the id comes from the source and the full key, never the bare name
        assert err[0].startswith("calls-corrupt-call-") and err[1:3] == ("decode", "DecodeError")
        assert "corrupt_call" in err[3] and err[4] is False
        meta = con.execute(
            "SELECT agent_id, direction, channel_roles, channels, sample_rate"
            " FROM calls WHERE call_id = 'billing_resolved'"
        ).fetchone()
        side = sample_sidecar("billing_resolved")
        assert meta == (side["agent_id"], side["direction"], side["channel_roles"], 2, 8000)
        rows = con.execute(
            "SELECT speaker, role, start_s, end_s, text FROM current_utterances"
            " WHERE call_id = 'billing_resolved' ORDER BY start_s"
        ).fetchall()
        lineage = con.execute(
            "SELECT engine, model, pipeline_version, diarization FROM analyses"
            " WHERE call_id = 'billing_resolved'"
        ).fetchone()
        n_words = con.execute(
            "SELECT count(*) FROM words w JOIN calls c ON w.analysis_id = c.current_analysis_id"
        ).fetchone()
    assert lineage == ("faster-whisper", "tiny.en", "1", "channels")
    assert n_words is not None and n_words[0] == counts["words"] > 100
    # accuracy of what landed, read back from DuckDB
    ref = side["reference"]
    landed = [Utterance(s, r, a, b, t, ()) for s, r, a, b, t in rows]
    assert wer(ref["text"], " ".join(u.text for u in landed)) <= 0.35
    assert role_attribution(ref["turns"], landed).accuracy >= 0.90

    # conversation metrics and categories landed with the call, in the same transaction
    with connect_read_only(env.warehouse) as con:
        n_metrics = con.execute("SELECT count(*) FROM current_call_metrics").fetchone()
        talk = con.execute(
            "SELECT role, talk_s FROM current_speaker_metrics"
            " WHERE call_id = 'billing_resolved' ORDER BY role"
        ).fetchall()
    assert n_metrics == (3,)
    # the mono call was diarized: two speakers with roles and a stored role confidence
    with connect_read_only(env.warehouse) as con:
        mono = con.execute(
            "SELECT count(DISTINCT speaker), count(DISTINCT role), min(role_confidence)"
            " FROM current_utterances WHERE call_id = 'wrong_number'"
        ).fetchone()
        diar = con.execute(
            "SELECT diarization FROM current_analyses WHERE call_id = 'wrong_number'"
        ).fetchone()
    assert mono is not None and mono[0] == 2 and mono[1] == 2 and mono[2] is not None
    assert diar == ("clustering",)
    # offline insights (labelled as such) and redaction counts for every landed call
    with connect_read_only(env.warehouse) as con:
        ins = con.execute(
            "SELECT call_id, engine, status, outcome, summary FROM current_insights ORDER BY 1"
        ).fetchall()
        n_redaction = con.execute("SELECT count(DISTINCT call_id) FROM redaction_counts").fetchone()
    assert [(c, e, s) for c, e, s, _, _ in ins] == [(c, "offline", "ok") for c in sorted(CALLS)]
    assert dict((c, o) for c, _, _, o, _ in ins)["billing_resolved"] == "resolved"
    assert all(summary for *_, summary in ins)
    assert n_redaction == (3,)
    assert summary_first["insights"]["engine"] == "offline"
    ref_talk = {
        r: sum(t["end"] - t["start"] for t in ref["turns"] if t["role"] == r)
        for r in ("agent", "customer")
    }
    assert [r for r, _ in talk] == ["agent", "customer"]
    for role, talk_s in talk:
        assert talk_s == pytest.approx(ref_talk[role], rel=0.15)

    # a second run finds nothing new and lands nothing twice
    again = nightly_ingest(source=source)
    assert (again["processed"], again["failed"], again["skipped"]) == (0, 0, 4)
    after = _counts(env.warehouse)
    assert {k: v for k, v in after.items() if k != "runs"} == {
        k: v for k, v in counts.items() if k != "runs"
    }
    assert after["runs"] == counts["runs"] + 1

    # a changed object (new ETag) gets a new analysis of the same call, made current
    s3_client.upload_file(str(sample_audio("tech_support")), bucket, "calls/wrong_number.wav")
    third = nightly_ingest(source=source)
    assert (third["processed"], third["skipped"]) == (1, 3)
    with connect_read_only(env.warehouse) as con:
        n = con.execute("SELECT count(*) FROM analyses WHERE call_id = 'wrong_number'").fetchone()
        cur = con.execute(
            "SELECT a.etag = c.etag FROM calls c JOIN analyses a"
            " ON a.analysis_id = c.current_analysis_id"
            " WHERE c.call_id = 'wrong_number'"
        ).fetchone()
    assert n == (2,) and cur == (True,)


def test_changing_a_rule_recategorizes_past_calls_without_transcribing(
    prefect_harness: None,
    env: Settings,
    s3_client: Any,
    bucket: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from click.testing import CliRunner

    from flows.cli import main
    from flows.ingest import nightly_ingest

    _upload(s3_client, bucket, ["billing_resolved", "wrong_number"])
    nightly_ingest(source=f"s3://{bucket}/calls/")

    def _no_transcribing(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("categorize must not transcribe")

    monkeypatch.setattr("analytics.transcription.faster_whisper.load_model", _no_transcribing)
    rules = tmp_path / "rules.yaml"
    rules.write_text(
        "version: 7\ncategories:\n"
        "  - name: mentions_refund\n    any:\n"
        "      - {kind: phrase, any_of: [refund]}\n"
        "  - name: short_call\n    all:\n"
        "      - {kind: metric, name: duration_s, op: '<', value: 40}\n"
    )
    out = CliRunner().invoke(main, ["categorize", "--rules", str(rules)])
    assert out.exit_code == 0, out.output
    assert "rules version 7" in out.output

    def matches() -> set[tuple[str, str]]:
        with connect_read_only(env.warehouse) as con:
            rows = con.execute("SELECT call_id, category FROM current_category_matches").fetchall()
        return {(c, k) for c, k in rows}

    assert matches() == {("billing_resolved", "mentions_refund"), ("wrong_number", "short_call")}
    rules.write_text(rules.read_text().replace("value: 40", "value: 400").replace("7", "8", 1))
    assert CliRunner().invoke(main, ["categorize", "--rules", str(rules)]).exit_code == 0
    assert matches() == {
        ("billing_resolved", "mentions_refund"),
        ("billing_resolved", "short_call"),
        ("wrong_number", "short_call"),
    }


def test_limit_and_empty_source(
    prefect_harness: None, env: Settings, s3_client: Any, bucket: str
) -> None:
    from flows.ingest import nightly_ingest

    empty = nightly_ingest(source=f"s3://{bucket}/nothing-here/")
    assert (empty["discovered"], empty["processed"]) == (0, 0)
    _upload(s3_client, bucket, ["wrong_number", "appointment_reschedule"])
    one = nightly_ingest(source=f"s3://{bucket}/calls/", limit=1)
    assert one["processed"] == 1
    rest = nightly_ingest(source=f"s3://{bucket}/calls/")
    assert (rest["processed"], rest["skipped"]) == (1, 1)


def test_only_transient_errors_are_retried(prefect_harness: None) -> None:
    from prefect import flow, task

    from flows.ingest import _retry_transient_only

    attempts: dict[str, int] = {"transient": 0, "permanent": 0}

    @task(retries=2, retry_delay_seconds=0, retry_condition_fn=_retry_transient_only)
    def flaky(kind: str) -> str:
        attempts[kind] += 1
        if kind == "transient" and attempts[kind] < 3:
            raise TransientSourceError("S3 said SlowDown")
        if kind == "permanent":
            raise DecodeError("corrupt")
        return "ok"

    @flow
    def harness() -> tuple[str, str]:
        ok = flaky("transient")
        try:
            flaky("permanent")
        except DecodeError:
            return ok, "raised"
        return ok, "not raised"

    assert harness() == ("ok", "raised")
    assert attempts == {"transient": 3, "permanent": 1}
