"""A small warehouse for the dashboard and query tests, built with the real landing code.

Four calls land the way the nightly flow lands them (``add_insights`` + ``land_processed``,
text redacted, categories from the shipped ``config/categories.yaml``, insights from the
offline engine, conversation metrics from ``compute_metrics`` with loudness measured on
synthetic audio):

- a stereo call with agent/customer channels (faster-whisper): the customer interrupts
  once, the agent puts them on hold, the router works again at the end;
- a mono call whose speaker is unknown (no diarization);
- a short stereo call that failed once before it landed; its insights were re-run later
  with an LLM (a scripted OpenAI-compatible engine: real token and cost accounting);
- a mono AssemblyAI call: speakers from the engine's labels, roles from the heuristic
  role assigner (with confidence), billed minutes and cost, the engine's own summary and
  sentiment (native insights). It goes through ``process_call`` on a synthetic WAV.

One more object failed and never landed, so exactly one failure is still open.
"""

from __future__ import annotations

import json
import math
import wave
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar

import numpy as np
import pytest
from pydantic import BaseModel

from analytics.audio import DecodedAudio
from analytics.diarization.passthrough import EngineDiarizer
from analytics.enrich.metrics import compute_metrics, utterance_loudness
from analytics.enrich.privacy import PrivacyPolicy
from analytics.enrich.rules import load_rules
from analytics.insights.base import Pricing
from analytics.insights.llm import LIST_PRICES, Completion, LLMEngine, LLMOptions, Message
from analytics.insights.offline import OfflineEngine
from analytics.landing import add_insights, land_processed
from analytics.models import CallMetadata, CallResult, Utterance, Word
from analytics.pipeline import PipelineOptions, process_call
from analytics.transcription.assemblyai import AssemblyAIOptions, AssemblyAITranscriber
from analytics.warehouse import Warehouse
from analytics.warehouse.insights import land_insights

ROOT = Path(__file__).resolve().parents[2]

STEREO_ID = "call-stereo-001"
MONO_ID = "call-mono-002"
RETRIED_ID = "call-stereo-003"
DIARIZED_ID = "call-diarized-005"
BROKEN_URI = "s3://callscope-recordings/recordings/broken-004.wav"

RATE = 8000
TONE_HZ = 400.0  # 20 samples a period at 8 kHz: spans of whole 0.1 s hold whole periods
#: Sine amplitude per role: a sine of amplitude A reads 20*log10(A/sqrt(2)) dBFS.
AMPLITUDE = {"agent": 0.1, "customer": 0.05, None: 0.07}
AGENT_DBFS = round(20 * math.log10(0.1 / math.sqrt(2)), 2)  # -23.01
CUSTOMER_DBFS = round(20 * math.log10(0.05 / math.sqrt(2)), 2)  # -29.03

# (speaker, role, channel, start_s, end_s, text)
STEREO_LINES = [
    ("ch0", "agent", 0, 0.5, 3.0, "Thank you for calling Acme support, this is Dana."),
    ("ch1", "customer", 1, 3.4, 7.9, "Hi, my router keeps dropping the connection."),
    ("ch0", "agent", 0, 8.2, 12.0, "Sorry to hear that, let me check your line."),
    ("ch1", "customer", 1, 11.2, 13.5, "Is it the modem?"),
    ("ch0", "agent", 0, 62.0, 64.5, "Thanks for waiting, I reset your line."),
    ("ch1", "customer", 1, 65.0, 70.0, "Great, it works now."),
    ("ch0", "agent", 0, 70.6, 73.0, "Anything else? Have a great day."),
]
MONO_LINES = [
    ("unknown", None, None, 1.0, 4.0, "Hello, I am calling about my invoice."),
    ("unknown", None, None, 5.0, 9.5, "The total looks wrong to me."),
]
RETRIED_LINES = [("ch0", "agent", 0, 0.8, 4.0, "Quick follow-up about your refund.")]
# (AssemblyAI speaker label, start_s, end_s, text, the engine's sentence sentiment)
DIARIZED_TURNS = [
    ("A", 0.4, 2.6, "Acme support, good morning.", "POSITIVE"),
    ("B", 3.0, 7.5, "I was charged twice this month and nobody fixed it.", "NEGATIVE"),
    ("A", 7.8, 11.5, "I'm sorry about that, let me take a look.", "NEUTRAL"),
    ("B", 11.0, 14.5, "No, I want to speak to a manager.", "NEGATIVE"),
    ("A", 15.0, 18.5, "I understand, I will transfer you to my supervisor.", "NEUTRAL"),
    ("B", 19.0, 20.6, "Fine, thanks.", "NEUTRAL"),
]
#: Voices of the synthetic WAV (the engine labels speakers; roles come from the heuristic).
DIARIZED_VOICES = {"A": "agent", "B": "customer"}
DIARIZED_DURATION_S = 48.0
DIARIZED_JOB_ID = "aai-transcript-5f2c"
DIARIZED_SUMMARY = (
    "The customer was charged twice and asked for a manager; the agent transferred the"
    " call to a supervisor."
)
ASSEMBLYAI_PRICE_PER_MIN = 0.0025
#: What the scripted LLM reports per request (gpt-4o-mini list prices apply).
LLM_TOKENS_IN, LLM_TOKENS_OUT = 850, 120
LLM_MODEL = "gpt-4o-mini"
LLM_REPLY: dict[str, Any] = {
    "summary": "The agent followed up on the customer's refund and will call back.",
    "reason_for_call": "Follow-up about a pending refund.",
    "issues_detected": [],
    "action_items": [{"text": "Call the customer back about the refund.", "owner": "agent"}],
    "outcome": "callback",
    "customer_sentiment": {"label": "neutral", "score": 0.0},
    "agent_checklist": {
        "greeting": False,
        "identity_verification": False,
        "empathy": False,
        "clear_next_steps": True,
        "closing": False,
    },
    "topics": ["refund"],
}


@dataclass(frozen=True)
class DemoWarehouse:
    """What the ``warehouse`` fixture landed; tests read the constants from here."""

    path: Path
    run_id: str
    n_calls: ClassVar[int] = 4
    audio_s: ClassVar[float] = 125.0 + 65.0 + 30.0 + DIARIZED_DURATION_S
    STEREO_ID: ClassVar[str] = STEREO_ID
    MONO_ID: ClassVar[str] = MONO_ID
    RETRIED_ID: ClassVar[str] = RETRIED_ID
    DIARIZED_ID: ClassVar[str] = DIARIZED_ID
    BROKEN_URI: ClassVar[str] = BROKEN_URI
    STEREO_LINES: ClassVar[list[tuple]] = STEREO_LINES
    MONO_LINES: ClassVar[list[tuple]] = MONO_LINES
    DIARIZED_TURNS: ClassVar[list[tuple]] = DIARIZED_TURNS
    DIARIZED_SUMMARY: ClassVar[str] = DIARIZED_SUMMARY
    #: Billed minutes and cost of the AssemblyAI call (the only one with a price).
    TRANSCRIPTION_USD: ClassVar[float] = round(
        DIARIZED_DURATION_S / 60 * ASSEMBLYAI_PRICE_PER_MIN, 6
    )
    LLM_MODEL: ClassVar[str] = LLM_MODEL
    LLM_TOKENS: ClassVar[tuple[int, int]] = (LLM_TOKENS_IN, LLM_TOKENS_OUT)
    LLM_USD: ClassVar[float] = Pricing(*LIST_PRICES[LLM_MODEL]).cost(LLM_TOKENS_IN, LLM_TOKENS_OUT)
    LLM_REPLY: ClassVar[dict[str, Any]] = LLM_REPLY
    AGENT_DBFS: ClassVar[float] = AGENT_DBFS
    CUSTOMER_DBFS: ClassVar[float] = CUSTOMER_DBFS
    ROOT: ClassVar[Path] = ROOT


def _utterance(
    speaker: str, role: str | None, channel: int | None, start: float, end: float, text: str
) -> Utterance:
    tokens = text.split()
    step = (end - start) / len(tokens)
    words = tuple(
        Word(w, round(start + i * step, 3), round(start + (i + 1) * step, 3), 0.9)
        for i, w in enumerate(tokens)
    )
    role_confidence = 1.0 if role is not None else None  # roles from the sidecar
    return Utterance(speaker, role, start, end, text, words, channel, role_confidence)


def _tone(samples: np.ndarray, role: str | None, start: float, end: float) -> None:
    a, b = round(start * RATE), round(end * RATE)
    t = np.arange(b - a) / RATE
    samples[a:b] += AMPLITUDE[role] * np.sin(2 * np.pi * TONE_HZ * t)


def synthetic_audio(lines: list[tuple], duration_s: float, channels: int) -> DecodedAudio:
    """One steady tone per utterance on its channel (mono: channel 0), silence elsewhere:
    loudness that ``utterance_loudness`` measures like it measures a real call."""
    tracks = [np.zeros(round(duration_s * RATE)) for _ in range(channels)]
    for _speaker, role, channel, start, end, _text in lines:
        _tone(tracks[channel or 0], role, start, end)
    return DecodedAudio(tuple(t.astype(np.float32) for t in tracks), RATE, RATE, "pcm_s16le")


def make_result(
    call_id: str,
    *,
    lines: list[tuple],
    duration_s: float,
    channels: int,
    started_at: datetime,
    agent_id: str,
    direction: str,
    etag: str,
) -> CallResult:
    """A faster-whisper result as the pipeline builds it, metrics included."""
    roles = ("agent", "customer") if channels == 2 else None
    utterances = tuple(_utterance(*line) for line in lines)
    loudness = utterance_loudness(utterances, synthetic_audio(lines, duration_s, channels))
    metrics = compute_metrics(utterances, duration_s, loudness=loudness)
    return CallResult(
        call_id=call_id,
        source_uri=f"s3://callscope-recordings/recordings/{call_id}.wav",
        etag=etag,
        duration_s=duration_s,
        channels=channels,
        sample_rate=8000,
        language="en",
        language_prob=0.98,
        engine="faster-whisper",
        model="tiny.en",
        pipeline_version="0.1.0",
        params={"beam_size": 5, "vad_filter": True},
        metadata=CallMetadata(
            call_id=call_id,
            started_at=started_at,
            agent_id=agent_id,
            direction=direction,
            channel_roles=roles,
            extra={"scenario": "test"},
        ),
        utterances=utterances,
        diarization="channels" if channels == 2 else "none",
        processing_s=1.5,
        lineage={"model_sha256": "0f3c9d"},
        billed_minutes=round(duration_s / 60, 4),
        cost_usd=0.0,  # self-hosted engine: no price configured
        metrics=metrics.to_dict(),
    )


def _assemblyai_transcript() -> dict[str, Any]:
    """A completed AssemblyAI transcript (speaker labels, sentiment, summary) as the API
    returns it: times in milliseconds, ``audio_duration`` in seconds."""
    words: list[dict[str, Any]] = []
    utterances: list[dict[str, Any]] = []
    sentiment: list[dict[str, Any]] = []
    for label, start, end, text, feeling in DIARIZED_TURNS:
        tokens = text.split()
        step = (end - start) / len(tokens)
        own = [
            {
                "text": tok,
                "start": round((start + i * step) * 1000),
                "end": round((start + (i + 1) * step) * 1000),
                "confidence": 0.93,
                "speaker": label,
                "channel": None,
            }
            for i, tok in enumerate(tokens)
        ]
        words += own
        span = {"text": text, "start": own[0]["start"], "end": own[-1]["end"], "speaker": label}
        utterances.append({**span, "confidence": 0.93, "channel": None, "words": own})
        sentiment.append({**span, "channel": None, "sentiment": feeling, "confidence": 0.9})
    return {
        "id": DIARIZED_JOB_ID,
        "status": "completed",
        "text": " ".join(t[3] for t in DIARIZED_TURNS),
        "words": sorted(words, key=lambda w: w["start"]),
        "utterances": utterances,
        "audio_duration": DIARIZED_DURATION_S,
        "language_code": "en",
        "language_confidence": 0.97,
        "speech_model_used": "universal-2",
        "sentiment_analysis_results": sentiment,
        "entities": [],
        "speech_understanding": {
            "request": {"summarization": {"summary_type": "paragraph"}},
            "response": {"summarization": {"status": "success", "block_summary": DIARIZED_SUMMARY}},
        },
    }


def _write_wav(path: Path, audio: DecodedAudio) -> Path:
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(audio.sample_rate)
        w.writeframes((np.clip(audio.channels[0], -1, 1) * 32767).astype("<i2").tobytes())
    return path


def diarized_result(tmp_dir: Path) -> CallResult:
    """The AssemblyAI call through ``process_call``: engine speaker labels, heuristic
    roles with confidence, loudness from the WAV, billed minutes, cost, native extras."""
    lines = [
        (label, DIARIZED_VOICES[label], None, start, end, text)
        for label, start, end, text, _ in DIARIZED_TURNS
    ]
    wav = _write_wav(tmp_dir / f"{DIARIZED_ID}.wav", synthetic_audio(lines, DIARIZED_DURATION_S, 1))
    metadata = CallMetadata(
        call_id=DIARIZED_ID,
        started_at=datetime(2024, 5, 2, 11, 15, tzinfo=UTC),
        agent_id="ag-9",
        direction="inbound",
        extra={"scenario": "test"},
    )
    engine = AssemblyAITranscriber(AssemblyAIOptions(api_key="test-key"))  # no request sent
    return process_call(
        wav,
        transcriber=engine.completed(_assemblyai_transcript(), metadata),
        metadata=metadata,
        source_uri=f"s3://callscope-recordings/recordings/{DIARIZED_ID}.wav",
        etag="etag-d",
        options=PipelineOptions(
            price_per_minute=ASSEMBLYAI_PRICE_PER_MIN, diarizer=EngineDiarizer()
        ),
    )


class ScriptedLLM(LLMEngine):
    """The real LLM engine (prompts, validation, token and cost accounting) with a
    canned reply instead of an HTTP request."""

    name = "openai"

    def __init__(self) -> None:
        super().__init__(LLMOptions(model=LLM_MODEL, pricing=Pricing(*LIST_PRICES[LLM_MODEL])))

    def _send(self, system: str, messages: list[Message], schema: type[BaseModel]) -> Completion:
        return Completion(json.dumps(LLM_REPLY), LLM_TOKENS_IN, LLM_TOKENS_OUT)


#: The sidecars' free field ``scenario`` is on the allow-list; every other one is dropped.
KEEP_SCENARIO = PrivacyPolicy(metadata_keep=("scenario",))


def build_warehouse(path: Path) -> DemoWarehouse:
    wh = Warehouse(path)
    wh.migrate()
    ruleset = load_rules()
    offline = OfflineEngine()
    run_id = wh.start_run("s3://callscope-recordings/recordings/", {"workers": 2})

    def land(result: CallResult) -> str:
        processed = add_insights(result, offline)
        analysis_id = land_processed(
            wh, processed, run_id=run_id, ruleset=ruleset, redact_pii=True, privacy=KEEP_SCENARIO
        )
        assert analysis_id is not None
        return analysis_id

    land(
        make_result(
            STEREO_ID,
            lines=STEREO_LINES,
            duration_s=125.0,
            channels=2,
            started_at=datetime(2024, 5, 1, 9, 0, tzinfo=UTC),
            agent_id="ag-7",
            direction="inbound",
            etag="etag-a",
        )
    )
    land(
        make_result(
            MONO_ID,
            lines=MONO_LINES,
            duration_s=65.0,
            channels=1,
            started_at=datetime(2024, 5, 2, 14, 30, tzinfo=UTC),
            agent_id="ag-9",
            direction="outbound",
            etag="etag-b",
        )
    )
    land(diarized_result(path.parent))
    retried = make_result(
        RETRIED_ID,
        lines=RETRIED_LINES,
        duration_s=30.0,
        channels=2,
        started_at=datetime(2024, 5, 1, 17, 0, tzinfo=UTC),
        agent_id="ag-7",
        direction="inbound",
        etag="etag-c",
    )
    # The retried call failed first, then landed: its failure must not count as open.
    wh.record_error(
        run_id=run_id,
        source_uri=retried.source_uri,
        etag=retried.etag,
        call_id=RETRIED_ID,
        stage="fetch",
        error_type="TransientSourceError",
        reason="connection reset",
        retryable=True,
    )
    retried_analysis = land(retried)
    # Later its insights were run again with an LLM: a second, newer insights row.
    llm = add_insights(retried, ScriptedLLM()).insights
    assert llm is not None and llm.ok, llm
    land_insights(wh, retried_analysis, RETRIED_ID, llm)
    wh.record_error(
        run_id=run_id,
        source_uri=BROKEN_URI,
        etag="etag-x",
        call_id="broken-004",
        stage="decode",
        error_type="DecodeError",
        reason="invalid data found when decoding",
        retryable=False,
    )
    wh.finish_run(
        run_id,
        status="completed",
        discovered=5,
        processed=4,
        failed=1,
        skipped=0,
        audio_s=DemoWarehouse.audio_s,
        wall_s=12.5,
    )
    return DemoWarehouse(path=path, run_id=run_id)


@pytest.fixture(scope="session")
def _warehouse_template(tmp_path_factory: pytest.TempPathFactory) -> DemoWarehouse:
    """Built once per session; each test gets its own copy (some tests write to it)."""
    return build_warehouse(tmp_path_factory.mktemp("warehouse") / "warehouse.duckdb")


@pytest.fixture
def warehouse(
    _warehouse_template: DemoWarehouse, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> DemoWarehouse:
    """A migrated warehouse with four calls and two errors; CALLSCOPE_WAREHOUSE points at it."""
    path = tmp_path / "warehouse.duckdb"
    path.write_bytes(_warehouse_template.path.read_bytes())
    monkeypatch.setenv("CALLSCOPE_WAREHOUSE", str(path))
    return DemoWarehouse(path=path, run_id=_warehouse_template.run_id)


@pytest.fixture
def missing_warehouse(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """CALLSCOPE_WAREHOUSE points at a file that does not exist."""
    path = tmp_path / "nowhere" / "warehouse.duckdb"
    monkeypatch.setenv("CALLSCOPE_WAREHOUSE", str(path))
    return path
