"""One call: a pipecat pipeline on a Twilio Media Streams WebSocket, recorded in stereo.

transport.input -> Silero VAD -> Whisper STT -> user context -> brain -> piper TTS
-> transport.output -> assistant context, with the recorder's taps after transport.input
(caller, ch0) and transport.output (agent, ch1): agent/recorder.py
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import tempfile
import uuid
from collections import deque
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
from fastapi import WebSocket
from pipecat.audio.vad.vad_analyzer import VADParams
from pipecat.frames.frames import EndFrame, LLMMessagesAppendFrame, TTSSpeakFrame
from pipecat.pipeline.pipeline import Pipeline
from pipecat.pipeline.worker import PipelineParams, PipelineWorker
from pipecat.processors.aggregators.llm_context import LLMContext
from pipecat.processors.aggregators.llm_response_universal import (
    LLMContextAggregatorPair,
    LLMUserAggregatorParams,
)
from pipecat.processors.audio.vad_processor import VADProcessor
from pipecat.runner.utils import parse_telephony_websocket
from pipecat.serializers.twilio import TwilioFrameSerializer
from pipecat.transports.websocket.fastapi import (
    FastAPIWebsocketParams,
    FastAPIWebsocketTransport,
)
from pipecat.turns.user_mute import MuteUntilFirstBotCompleteUserMuteStrategy
from pipecat.turns.user_start import (
    TranscriptionUserTurnStartStrategy,
    VADUserTurnStartStrategy,
)
from pipecat.turns.user_turn_strategies import UserTurnStrategies
from pipecat.workers.runner import WorkerRunner

from agent.brain import LOOKUP_ORDER, SYSTEM_PROMPT, ScriptedBrain, greeting, make_openai_brain
from agent.observer import CallEventsObserver
from agent.orders import OrderTable
from agent.recorder import CallRecorder, LineClockSerializer
from agent.recording import CallRecord, first_sound_s, recording_key, write_stereo_wav
from agent.stt import PhoneTurnStop, SharedWhisperSTTService
from agent.tts import PiperServerTTSService
from agent.upload import RecordingUploader, UploadResult
from agent.vad import PhoneVADAnalyzer
from analytics.config import Settings

log = logging.getLogger(__name__)

# The pipeline runs at the phone line's 8 kHz both ways. Inbound, no resampler sits between
# the caller and the VAD: pipecat's streaming resampler (soxr VHQ) hands 8 -> 16 kHz audio
# on in ~95 ms bursts, which delayed every speech onset and end by up to 100 ms. Silero
# scores 8 kHz natively; Whisper's 16 kHz is made from each finished segment (agent/stt.py).
IN_RATE = 8000
OUT_RATE = 8000  # piper's 22.05 kHz is resampled down once
RECORDING_RATE = 8000
#: Outbound audio goes in 20 ms messages (Twilio's own frame), so at most 20 ms is already on
#: the wire when a barge-in stops the agent.
OUT_10MS_CHUNKS = 2


@dataclass
class AgentDeps:
    """What every call shares: settings, the order table, the uploader, the model dir."""

    settings: Settings
    orders: OrderTable
    uploader: RecordingUploader
    stt_model_dir: str
    http: aiohttp.ClientSession | None = None
    #: The latest finished calls (for /health and tests); bounded for a long-running server.
    results: deque[CallResultInfo] = field(default_factory=lambda: deque(maxlen=100))
    calls_served: int = 0


@dataclass(frozen=True)
class CallResultInfo:
    call_id: str
    key: str
    upload: UploadResult
    sidecar: dict[str, Any]


async def run_call(websocket: WebSocket, deps: AgentDeps) -> CallResultInfo | None:
    """Serve one Media Streams connection until hang-up; then record and upload it."""
    s = deps.settings
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    _, call_data = await parse_telephony_websocket(websocket)
    stream_sid = call_data["stream_id"]
    call_sid = call_data["call_id"]
    body = call_data.get("body") or {}
    record = CallRecord(
        call_id=f"agent-{call_sid or uuid.uuid4().hex[:12]}",
        direction=str(body.get("direction") or "inbound"),
        from_number=body.get("from_number"),
        to_number=body.get("to_number"),
        stream_sid=stream_sid,
        call_sid=call_sid,
        brain=s.agent_brain,
        consent_message=s.agent_consent_message.strip() or None,
    )
    token = s.agent_twilio_auth_token
    hang_up_via_api = bool(s.agent_twilio_account_sid and token and call_sid)
    serializer = LineClockSerializer(
        stream_sid=stream_sid,
        call_sid=call_sid,
        account_sid=s.agent_twilio_account_sid,
        auth_token=token.get_secret_value() if token else None,
        params=TwilioFrameSerializer.InputParams(auto_hang_up=hang_up_via_api),
    )
    transport = FastAPIWebsocketTransport(
        websocket=websocket,
        params=FastAPIWebsocketParams(
            audio_in_enabled=True,
            audio_out_enabled=True,
            add_wav_header=False,
            serializer=serializer,
            session_timeout=s.agent_max_call_s + 30,
            audio_out_10ms_chunks=OUT_10MS_CHUNKS,
        ),
    )
    vad = VADProcessor(
        vad_analyzer=PhoneVADAnalyzer(
            params=VADParams(
                confidence=s.agent_vad_confidence,
                start_secs=s.agent_vad_start_s,
                stop_secs=s.agent_vad_stop_s,
            )
        )
    )
    stt = SharedWhisperSTTService(model_dir=deps.stt_model_dir)
    http = deps.http or aiohttp.ClientSession()
    tts = PiperServerTTSService(base_url=s.agent_tts_url, voice=s.agent_tts_voice, session=http)
    opening = greeting(s.agent_consent_message)
    filler_after_s = s.agent_filler_after_ms / 1000.0
    if s.agent_brain == "openai":
        key = s.llm_api_key.get_secret_value() if s.llm_api_key else None
        brain: Any = make_openai_brain(
            base_url=s.llm_base_url,
            api_key=key,
            model=s.llm_model,
            orders=deps.orders,
            record=record,
            filler_phrase=s.agent_filler_phrase,
            filler_after_s=filler_after_s,
        )
        context = LLMContext(
            messages=[{"role": "system", "content": SYSTEM_PROMPT}], tools=[LOOKUP_ORDER]
        )
    else:
        brain = ScriptedBrain(
            orders=deps.orders,
            record=record,
            filler_phrase=s.agent_filler_phrase,
            filler_after_s=filler_after_s,
        )
        context = LLMContext()
    aggregators = LLMContextAggregatorPair(
        context,
        user_params=LLMUserAggregatorParams(
            # the opening (with the consent line) is always heard in full
            user_mute_strategies=[MuteUntilFirstBotCompleteUserMuteStrategy()],
            user_turn_strategies=UserTurnStrategies(
                start=[VADUserTurnStartStrategy(), TranscriptionUserTurnStartStrategy()],
                stop=[PhoneTurnStop(user_speech_timeout=s.agent_turn_timeout_s)],
            ),
        ),
    )
    recorder = CallRecorder(sample_rate=RECORDING_RATE, line=serializer)
    recorder.start()  # from the first media frame: the caller's stream is the clock
    pipeline = Pipeline(
        [
            transport.input(),
            recorder.caller_tap(),
            vad,
            stt,
            aggregators.user(),
            brain,
            tts,
            transport.output(),
            recorder.agent_tap(),
            aggregators.assistant(),
        ]
    )
    worker = PipelineWorker(
        pipeline,
        params=PipelineParams(
            audio_in_sample_rate=IN_RATE,
            audio_out_sample_rate=OUT_RATE,
            enable_metrics=True,
            enable_usage_metrics=True,
        ),
        observers=[CallEventsObserver(record)],
        idle_timeout_secs=max(60.0, s.agent_max_call_s),
    )

    @transport.event_handler("on_client_connected")
    async def _on_connected(_t: Any, _ws: Any) -> None:
        record.restart_clock()
        record.add("consent" if record.consent_message else "greeting", text=opening)
        await worker.queue_frames(
            [
                LLMMessagesAppendFrame([{"role": "assistant", "content": opening}]),
                TTSSpeakFrame(opening),
            ]
        )

    @transport.event_handler("on_client_disconnected")
    async def _on_disconnected(_t: Any, _ws: Any) -> None:
        record.end("caller_hangup")
        await worker.cancel()

    llm_usd_per_token = (s.llm_price_in_per_mtok + s.llm_price_out_per_mtok) / 2 / 1e6
    caps = asyncio.create_task(
        _enforce_caps(worker, record, s, llm_usd_per_token if s.agent_brain == "openai" else 0)
    )
    runner = WorkerRunner(handle_sigint=False)
    try:
        await runner.run(worker)
    except Exception:
        log.exception("call %s failed", record.call_id)
        record.end("error")
    finally:
        caps.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await caps
        if deps.http is None:
            await http.close()
    recorder.stop()
    record.end("caller_hangup")  # no-op when another reason came first
    audio = {"pcm": recorder.stereo_pcm(), "rate": recorder.sample_rate, "channels": 2}
    return await asyncio.to_thread(_finish, record, audio, deps, llm_usd_per_token)


async def _enforce_caps(
    worker: PipelineWorker, record: CallRecord, s: Settings, llm_usd_per_token: float
) -> None:
    """End the call from the server side when it runs too long or costs too much."""
    while True:
        await asyncio.sleep(0.25)
        reason = None
        if record.now() >= s.agent_max_call_s:
            reason, line = "duration_cap", "We have reached the time limit for this call."
        elif record.spend_usd(s.agent_cost_per_min_usd, llm_usd_per_token) >= (
            s.agent_max_spend_usd
        ):
            reason, line = "spend_cap", "We have reached the limit for this call."
        if reason:
            log.info("call %s: %s reached, hanging up", record.call_id, reason)
            record.end(reason)
            await worker.queue_frames([TTSSpeakFrame(f"{line} Goodbye!"), EndFrame()])
            return


def _finish(
    record: CallRecord, audio: dict[str, Any], deps: AgentDeps, llm_usd_per_token: float
) -> CallResultInfo | None:
    """Write the stereo WAV + sidecar into the spool and upload them."""
    s = deps.settings
    if not audio.get("pcm"):
        log.warning("call %s ended with no audio; nothing recorded", record.call_id)
        return None
    spend = record.spend_usd(s.agent_cost_per_min_usd, llm_usd_per_token)
    with tempfile.NamedTemporaryFile(suffix=".wav", delete=False, dir=_tmp_dir(s)) as fh:
        tmp = Path(fh.name)
    duration = write_stereo_wav(tmp, audio["pcm"], audio["rate"], audio["channels"])
    record.align_to_recording(
        first_sound_s(audio["pcm"], audio["rate"], audio["channels"], channel=1)
    )
    salt = s.agent_hash_salt.get_secret_value() if s.agent_hash_salt else None
    sidecar = record.sidecar(
        duration_s=duration,
        hash_salt=salt,
        hash_numbers=s.agent_hash_numbers,
        stt=f"faster-whisper:{s.agent_stt_model}",
        tts=f"piper:{s.agent_tts_voice}",
        spend_usd=spend,
    )
    key = deps.uploader.full_key(
        recording_key("", s.agent_recordings_prefix, record.started_at, record.call_id)
    )
    deps.uploader.spool(key, tmp, sidecar)
    result = deps.uploader.upload(key)
    info = CallResultInfo(record.call_id, key, result, sidecar)
    deps.results.append(info)
    deps.calls_served += 1
    return info


def _tmp_dir(s: Settings) -> str:
    path = s.agent_spool_dir.parent / "tmp"
    path.mkdir(parents=True, exist_ok=True)
    return str(path)
