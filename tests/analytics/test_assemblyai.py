"""AssemblyAI engine: the real SDK against a faithful loopback fake of the v2 API."""

from __future__ import annotations

import dataclasses
import itertools
import json
import logging
import socket
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Any

import pytest
from pydantic import SecretStr

from analytics.audio import DecodedAudio, decode
from analytics.config import Settings
from analytics.errors import ConfigError, TranscriptionError
from analytics.evaluation import role_attribution, wer
from analytics.models import CallMetadata, CallResult, Utterance
from analytics.pipeline import PipelineOptions, process_call, process_ref
from analytics.sources import open_source
from analytics.transcription.assemblyai import (
    AssemblyAIOptions,
    AssemblyAITranscriber,
    TransientTranscriptionError,
    make_assemblyai_transcriber,
)
from analytics.transcription.base import Media
from analytics.warehouse.db import Warehouse
from analytics.warehouse.engine_jobs import WarehouseJobStore
from tests.conftest import sample_audio, sample_sidecar
from tests.fakes.assemblyai_server import API_KEY, FakeAssemblyAI, canned_from_turns

STEREO = ["billing_resolved", "angry_unresolved", "sales_outbound", "appointment_reschedule"]
MONO = ["tech_support", "cancellation_retention", "wrong_number"]
SUMMARY = "The customer called about a problem and the agent handled it."
ENTITIES = (("person_name", "Sarah Brown"), ("organization", "Northwind Telecom"))


@cache
def _audio(name: str) -> DecodedAudio:
    return decode(sample_audio(name))


def _metadata(name: str) -> CallMetadata:
    return CallMetadata.from_sidecar(sample_sidecar(name), default_call_id=name)


def _register(fake: FakeAssemblyAI, name: str, error: str | None = None) -> None:
    side = sample_sidecar(name)
    canned = canned_from_turns(
        side["reference"]["turns"],
        duration_s=_audio(name).duration_s,
        channel_roles=side.get("channel_roles"),
        entities=ENTITIES,
        summary=SUMMARY,
        error=error,
    )
    fake.add_recording(sample_audio(name), canned)


@pytest.fixture
def fake() -> Iterator[FakeAssemblyAI]:
    with FakeAssemblyAI() as server:
        for name in STEREO + MONO:
            _register(server, name)
        yield server


def _options(fake: FakeAssemblyAI, **overrides: Any) -> AssemblyAIOptions:
    base = AssemblyAIOptions(
        api_key=API_KEY,
        base_url=fake.base_url,
        poll_interval_s=0.01,
        poll_timeout_s=10,
        retry_base_s=0.01,
        retry_max_s=2.0,
    )
    return dataclasses.replace(base, **overrides)


@pytest.fixture
def aai(fake: FakeAssemblyAI) -> AssemblyAITranscriber:
    return AssemblyAITranscriber(_options(fake))


def _process(name: str, transcriber: Any, media_url: str | None = None) -> CallResult:
    return process_call(
        sample_audio(name),
        transcriber=transcriber,
        metadata=_metadata(name),
        source_uri=f"s3://calls/{name}",
        etag="etag-1",
        options=PipelineOptions(price_per_minute=0.0025),
        media_url=media_url,
    )


def _shape(result: CallResult) -> tuple[set[str], set[str], set[str]]:
    data = result.to_dict()
    utterance = data["utterances"][0]
    return set(data), set(utterance), set(utterance["words"][0])


# --- what the pipeline gets -------------------------------------------------------------------
@pytest.mark.parametrize("name", STEREO)
def test_stereo_call_is_one_stream_per_channel_with_sidecar_roles(
    name: str, fake: FakeAssemblyAI, aai: AssemblyAITranscriber
) -> None:
    result = _process(name, aai)
    ref = sample_sidecar(name)["reference"]
    keys, utterance_keys, word_keys = _shape(result)
    assert keys == {f.name for f in dataclasses.fields(CallResult)}
    assert utterance_keys == {f.name for f in dataclasses.fields(Utterance)}
    assert {"speaker", "role", "start", "end", "text", "words"} <= utterance_keys
    assert word_keys == {"word", "start", "end", "prob"}
    assert (result.engine, result.model, result.diarization) == (
        "assemblyai",
        "universal",
        "channels",
    )
    roles = _metadata(name).channel_roles
    assert roles is not None
    assert {(u.speaker, u.role) for u in result.utterances} == {
        (f"ch{i}", role) for i, role in enumerate(roles)
    }
    assert role_attribution(ref["turns"], result.utterances).accuracy >= 0.95
    assert wer(ref["text"], result.text) <= 0.05
    starts = [u.start for u in result.utterances]
    assert starts == sorted(starts)
    switches = sum(a.role != b.role for a, b in itertools.pairwise(result.utterances))
    assert switches >= len(ref["turns"]) // 2
    request = fake.created[0]
    assert request["multichannel"] is True and "speaker_labels" not in request
    # a local file (no presigned URL) is uploaded exactly once
    assert fake.counts["upload"] == 1 and fake.counts["create"] == 1
    assert request["audio_url"].startswith("https://cdn.assemblyai.com/upload/")


@pytest.mark.parametrize(("name", "expected"), [("tech_support", None), ("wrong_number", 2)])
def test_mono_call_is_split_by_assemblyai_speaker_labels(
    name: str, expected: int | None, fake: FakeAssemblyAI
) -> None:
    result = _process(name, AssemblyAITranscriber(_options(fake, speakers_expected=expected)))
    assert result.diarization == "engine" and result.channels == 1
    assert len({u.speaker for u in result.utterances}) >= 2
    assert {u.role for u in result.utterances} == {None}
    assert {u.speaker for u in result.utterances} <= {"A", "B", "C"}
    request = fake.created[0]
    assert request["speaker_labels"] is True and "multichannel" not in request
    assert request.get("speakers_expected") == expected


def test_presigned_url_is_sent_as_audio_url_and_nothing_is_uploaded(
    fake: FakeAssemblyAI,
    aai: AssemblyAITranscriber,
    settings: Settings,
    s3_client: Any,
    bucket: str,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    name = "billing_resolved"
    s3_client.put_object(Bucket=bucket, Key=f"rec/{name}.wav", Body=sample_audio(name).read_bytes())
    side = json.dumps(sample_sidecar(name)).encode()
    s3_client.put_object(Bucket=bucket, Key=f"rec/{name}.json", Body=side)
    source = open_source(f"s3://{bucket}/rec/", settings)
    caplog.set_level(logging.DEBUG)
    result = process_ref(source, source.ref(f"rec/{name}.wav"), transcriber=aai, cache_dir=tmp_path)
    audio_url = fake.created[0]["audio_url"]
    assert audio_url.startswith(str(settings.s3_endpoint_url)) and "Signature" in audio_url
    assert fake.counts["upload"] == 0 and fake.counts["create"] == 1
    assert result.engine_job_id == fake.job_ids()[0] and result.diarization == "channels"
    # neither the presigned URL's signature nor the API key reach our or the SDK's logs
    ours = ("analytics", "assemblyai", "httpx", "httpcore")
    logged = "\n".join(r.getMessage() for r in caplog.records if r.name.startswith(ours))
    assert "analytics.transcription.assemblyai" in {r.name for r in caplog.records}
    assert "Signature" not in logged and API_KEY not in logged
    assert all(h["authorization"] == API_KEY for h in fake.headers_seen)


def test_native_extras_and_billed_seconds_come_from_the_transcript(
    fake: FakeAssemblyAI, aai: AssemblyAITranscriber
) -> None:
    result = _process("billing_resolved", aai)
    native = result.native
    assert native["summary"] == SUMMARY
    assert {e["entity_type"]: e["text"] for e in native["entities"]} == dict(ENTITIES)
    assert native["sentiment"] and {s["sentiment"] for s in native["sentiment"]} <= {
        "POSITIVE",
        "NEUTRAL",
        "NEGATIVE",
    }
    assert all(0 <= s["start"] <= s["end"] <= result.duration_s for s in native["sentiment"])
    audio_duration = round(_audio("billing_resolved").duration_s)
    assert result.billed_minutes == round(audio_duration / 60, 4)
    assert result.cost_usd == round(audio_duration / 60 * 0.0025, 6)
    assert result.language == "en_us" and result.language_prob == pytest.approx(0.97)
    request = fake.created[0]
    assert request["sentiment_analysis"] and request["entity_detection"]
    summarization = request["speech_understanding"]["request"]["summarization"]
    assert summarization == {"summary_type": "paragraph"} and "summarization" not in request


@pytest.mark.parametrize(
    ("overrides", "expected", "absent"),
    [
        (
            {"sentiment": False, "entities": False, "summarization": False},
            {},
            {"sentiment_analysis", "entity_detection", "speech_understanding"},
        ),
        (
            {"word_boost": ("Northwind Telecom",)},
            {"keyterms_prompt": ["Northwind Telecom"]},
            {"word_boost"},
        ),
        (
            {"word_boost": ("Northwind",), "vocabulary_param": "word_boost"},
            {"word_boost": ["Northwind"]},
            {"keyterms_prompt"},
        ),
        ({"language_code": "en"}, {"language_code": "en"}, {"language_detection"}),
        ({"speech_model": "universal-3-pro"}, {"speech_models": ["universal-3-pro"]}, set()),
        (
            {"redact_pii": True, "pii_policies": ("person_name", "phone_number")},
            {"redact_pii": True, "redact_pii_policies": ["person_name", "phone_number"]},
            set(),
        ),
    ],
)
def test_options_shape_the_request(
    overrides: dict[str, Any], expected: dict[str, Any], absent: set[str], fake: FakeAssemblyAI
) -> None:
    transcriber = AssemblyAITranscriber(_options(fake, **overrides))
    result = _process("billing_resolved", transcriber)
    request = fake.created[0]
    assert {k: request[k] for k in expected} == expected
    assert not absent & set(request)
    if not overrides.get("sentiment", True):
        assert result.native == {"speech_model_used": "universal-2"}
    assert result.model == overrides.get("speech_model", "universal")


# --- failures ---------------------------------------------------------------------------------
def test_error_status_raises_transcription_error_with_assemblyai_text(
    fake: FakeAssemblyAI, aai: AssemblyAITranscriber
) -> None:
    _register(fake, "wrong_number", error="File does not appear to contain audio.")
    with pytest.raises(TranscriptionError, match="File does not appear to contain audio") as err:
        _process("wrong_number", aai)
    assert not err.value.transient and err.value.stage == "transcribe"


def test_undownloadable_url_fails_without_leaking_its_signature(
    fake: FakeAssemblyAI, aai: AssemblyAITranscriber
) -> None:
    url = "http://127.0.0.1:9/calls/x.wav?X-Amz-Signature=s3cr3t"
    with pytest.raises(TranscriptionError, match="Download error") as err:
        _process("wrong_number", aai, media_url=url)
    assert "s3cr3t" not in str(err.value) and fake.counts["upload"] == 0


@pytest.mark.parametrize("endpoint", ["upload", "create", "get"])
@pytest.mark.parametrize(("status", "retry_after"), [(429, 0.3), (503, None)])
def test_throttling_and_server_errors_are_retried_with_backoff(
    endpoint: str,
    status: int,
    retry_after: float | None,
    fake: FakeAssemblyAI,
    aai: AssemblyAITranscriber,
) -> None:
    fake.fail_next(endpoint, status, times=2, retry_after=retry_after)
    result = _process("billing_resolved", aai)
    assert result.engine_job_id == fake.job_ids()[0]
    normal = {"upload": 1, "create": 1, "get": 3}[endpoint]
    assert (
        fake.counts[endpoint] == normal + 2
        and fake.counts["create"] == 1 + (endpoint == "create") * 2
    )
    times = [t for e, t in fake.log if e == endpoint]
    gaps = [b - a for a, b in itertools.pairwise(times[:3])]
    if retry_after is not None:  # Retry-After is honoured
        assert min(gaps) >= retry_after * 0.95
    else:  # exponential backoff: base 0.01 s, doubled, jitter in [0.5, 1]
        assert gaps[0] >= 0.005 and gaps[1] >= 0.01


def test_retries_run_out_into_a_transient_error(fake: FakeAssemblyAI) -> None:
    aai = AssemblyAITranscriber(_options(fake, max_retries=2))
    fake.fail_next("create", 500, times=3)
    with pytest.raises(TransientTranscriptionError, match="after 3 attempts") as err:
        _process("billing_resolved", aai)
    assert err.value.transient and fake.counts["create"] == 3


def test_network_errors_are_transient(tmp_path: Path) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    options = AssemblyAIOptions(
        api_key=API_KEY, base_url=f"http://127.0.0.1:{port}", max_retries=1, retry_base_s=0.01
    )
    with pytest.raises(TransientTranscriptionError, match="network error"):
        _process("wrong_number", AssemblyAITranscriber(options))


def test_missing_key_is_a_config_error_naming_the_setting() -> None:
    with pytest.raises(ConfigError, match="CALLSCOPE_ASSEMBLYAI_API_KEY"):
        AssemblyAITranscriber(AssemblyAIOptions())


# --- jobs: submit once, poll many, resume -------------------------------------------------------
@pytest.fixture
def jobs(tmp_path: Path) -> WarehouseJobStore:
    warehouse = Warehouse(tmp_path / "wh.duckdb")
    warehouse.migrate()
    return WarehouseJobStore(warehouse)


def _submit(aai: AssemblyAITranscriber, jobs: WarehouseJobStore, name: str, etag: str) -> str:
    return aai.submit_or_resume(
        jobs,
        Media(sample_audio(name)),
        _audio(name),
        _metadata(name),
        source_uri=f"s3://calls/{name}",
        etag=etag,
    )


def test_poll_timeout_is_transient_and_the_next_run_resumes_the_same_job(
    fake: FakeAssemblyAI, aai: AssemblyAITranscriber, jobs: WarehouseJobStore
) -> None:
    name = "billing_resolved"
    fake.never_complete = True
    job_id = _submit(aai, jobs, name, "etag-1")
    outcome = aai.poll([job_id], timeout_s=0.1, jobs=jobs)[job_id]
    assert isinstance(outcome, TranscriptionError) and outcome.transient
    assert "poll timeout" in str(outcome)
    job = jobs.get(f"s3://calls/{name}", "etag-1", aai.params_key())
    assert job is not None and job.status == "processing"

    fake.never_complete = False
    next_run = AssemblyAITranscriber(_options(fake))
    assert _submit(next_run, jobs, name, "etag-1") == job_id
    assert fake.counts["create"] == 1  # never submitted twice
    transcript = next_run.poll([job_id], jobs=jobs)[job_id]
    assert isinstance(transcript, dict) and transcript["status"] == "completed"
    job = jobs.get(f"s3://calls/{name}", "etag-1", aai.params_key())
    assert job is not None and job.status == "completed"
    result = _process(name, next_run.completed(transcript, _metadata(name)))
    assert result.engine_job_id == job_id and result.engine == "assemblyai"
    # the engine's settings, plus the transcript's own confidence note
    assert 0 < result.params.pop("transcript_mean_word_prob") <= 1
    assert result.params == {**aai.params(), "utterance_gap_s": 1.0}
    assert fake.counts["create"] == 1


def test_one_poll_loop_serves_many_calls(
    fake: FakeAssemblyAI, aai: AssemblyAITranscriber, jobs: WarehouseJobStore
) -> None:
    ids = [_submit(aai, jobs, name, "e") for name in STEREO + MONO]
    results = aai.poll(ids, jobs=jobs)
    assert set(results) == set(ids) and all(isinstance(r, dict) for r in results.values())
    # queued, processing, completed: three rounds, one GET per id per round
    assert fake.counts["get"] == 3 * len(ids)


def test_submit_or_resume_returns_the_stored_id_and_waits_for_a_new_etag_after_an_error(
    fake: FakeAssemblyAI, aai: AssemblyAITranscriber, jobs: WarehouseJobStore
) -> None:
    name = "wrong_number"
    jobs.record_submit(f"s3://calls/{name}", "etag-1", aai.params_key(), "stored-job")
    assert _submit(aai, jobs, name, "etag-1") == "stored-job"
    assert fake.counts["create"] == 0
    jobs.update("stored-job", "error", "Transcoding failed")
    with pytest.raises(TranscriptionError, match=r"Transcoding failed.*new ETag"):
        _submit(aai, jobs, name, "etag-1")
    new_id = _submit(aai, jobs, name, "etag-2")
    assert new_id == fake.job_ids()[0] and fake.counts["create"] == 1
    other_options = AssemblyAITranscriber(_options(fake, summarization=False))
    assert _submit(other_options, jobs, name, "etag-2") != new_id  # options are part of the key


def test_an_error_seen_by_poll_is_recorded_in_the_job_store(
    fake: FakeAssemblyAI, aai: AssemblyAITranscriber, jobs: WarehouseJobStore
) -> None:
    _register(fake, "wrong_number", error="Audio duration is too short.")
    job_id = _submit(aai, jobs, "wrong_number", "etag-1")
    outcome = aai.poll([job_id], jobs=jobs)[job_id]
    assert isinstance(outcome, TranscriptionError) and not outcome.transient
    job = jobs.get("s3://calls/wrong_number", "etag-1", aai.params_key())
    assert job is not None and (job.status, job.error) == ("error", "Audio duration is too short.")


def test_options_from_settings_and_lineage(fake: FakeAssemblyAI) -> None:
    settings = Settings(
        assemblyai_api_key=SecretStr(API_KEY),
        assemblyai_base_url=fake.base_url,
        assemblyai_word_boost=("Northwind",),
        assemblyai_speakers_expected=2,
        language="en",
    )
    options = AssemblyAIOptions.from_settings(settings)
    assert (options.api_key, options.base_url, options.word_boost) == (
        API_KEY,
        fake.base_url,
        ("Northwind",),
    )
    assert (options.speakers_expected, options.language_code) == (2, "en")
    transcriber = make_assemblyai_transcriber(settings)
    assert transcriber.options == options and transcriber.options.api_key == API_KEY
    assert transcriber.lineage()["api"] == "v2" and transcriber.lineage()["sdk"]
    assert API_KEY not in repr(options) and API_KEY not in json.dumps(transcriber.params())


# --- one call, two engines, one warehouse --------------------------------------------------------
@pytest.mark.slow
def test_faster_whisper_and_assemblyai_analyses_land_side_by_side(
    aai: AssemblyAITranscriber, transcriber: Any, tmp_path: Path
) -> None:
    local = _process("billing_resolved", transcriber)
    cloud = _process("billing_resolved", aai)
    assert _shape(local) == _shape(cloud)
    warehouse = Warehouse(tmp_path / "wh.duckdb")
    warehouse.migrate()
    assert warehouse.land(local) and warehouse.land(cloud)
    with warehouse.connect() as con:
        rows = con.execute(
            "SELECT engine, model, diarization, engine_job_id FROM analyses WHERE call_id = ?"
            " ORDER BY engine",
            ["billing_resolved"],
        ).fetchall()
        calls = con.execute("SELECT count(*) FROM calls").fetchone()
    assert calls == (1,)
    assert [r[:3] for r in rows] == [
        ("assemblyai", "universal", "channels"),
        ("faster-whisper", local.model, "channels"),
    ]
    assert rows[0][3] == cloud.engine_job_id and rows[1][3] is None
