"""pipecat's WhisperSTTService on a local CTranslate2 model, loaded once per process (and
warmed up before the first call) and decoded for the phone: greedy, no timestamps, a prompt
that primes digit strings. The pipeline hears the line at 8 kHz; each finished segment is
resampled to Whisper's 16 kHz in one piece."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import numpy as np
import soxr
from faster_whisper import WhisperModel
from faster_whisper.tokenizer import Tokenizer
from faster_whisper.transcribe import get_compression_ratio, get_suppressed_tokens
from pipecat.frames.frames import ControlFrame, ErrorFrame, Frame, TranscriptionFrame
from pipecat.processors.frame_processor import FrameDirection
from pipecat.services.stt_service import STTService
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transcriptions.language import Language
from pipecat.turns.types import ProcessFrameResult
from pipecat.turns.user_stop import SpeechTimeoutUserTurnStopStrategy
from pipecat.utils.time import time_now_iso8601

_MODELS: dict[tuple[str, str, str], WhisperModel] = {}
_LOCK = threading.Lock()

#: The encoder window for short phrases (s); see ``decode``.
CONTEXT_S = 15.0
#: Token budget of a windowed decode: fast speech is ~4 tokens/s; a loop stops here.
MAX_TOKENS_PER_S = 6.0
#: Primes the model to write order numbers as digits ("4 1 7 2", not "for one seven two").
PHONE_PROMPT = "4 1 7 2."
WHISPER_RATE = 16000

log = logging.getLogger(__name__)


def shared_model(model_dir: str, device: str = "cpu", compute_type: str = "int8") -> WhisperModel:
    """One WhisperModel per (dir, device, precision) for all concurrent calls."""
    key = (model_dir, device, compute_type)
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = WhisperModel(model_dir, device=device, compute_type=compute_type)
        return _MODELS[key]


class SegmentsDoneFrame(ControlFrame):
    """The STT finished every caller segment and the last one held no words (a cough, a
    breath, line noise). Without it the turn-stop strategy waits its whole STT safety
    net (``ttfs_p99_latency``, 3 s) for a transcript that never comes."""


@dataclass(frozen=True)
class Phrase:
    """What Whisper heard in one caller segment, and how sure it is there was speech."""

    text: str
    no_speech_prob: float


def decode(
    model: WhisperModel, samples: np.ndarray, beam_size: int = 1, context_s: float = CONTEXT_S
) -> list[Phrase]:
    """One phrase (16 kHz float32) -> what was said, decoded for latency.

    Whisper pads every input to 30 s, and on a phone phrase of a few seconds the encoder
    over those 30 s is most of the time (~1 s on 2 cores). CTranslate2's encoder accepts
    fewer frames: a phrase shorter than ``context_s - 1`` s is encoded in a ``context_s``
    window and decoded greedily once (token budget by duration). Measured on real read
    speech (``bench/agent_stt.py``): 15 s keeps the 30 s WER and halves the time; shorter
    windows lose words. A decode that repeats itself (compression ratio > 2.4) and every
    longer phrase take the standard path.
    """
    duration_s = len(samples) / WHISPER_RATE
    if context_s < 30.0 and duration_s <= context_s - 1.0:
        phrase = _decode_windowed(model, samples, beam_size, context_s)
        if phrase is not None:
            return [phrase]
    segments, _ = model.transcribe(
        samples,
        language="en",
        beam_size=beam_size,
        without_timestamps=True,
        condition_on_previous_text=False,
        initial_prompt=PHONE_PROMPT,
    )
    return [Phrase(s.text, s.no_speech_prob) for s in segments]


_DECODING: dict[int, tuple[Tokenizer, list[int], list[int]]] = {}


def _decoding(model: WhisperModel) -> tuple[Tokenizer, list[int], list[int]]:
    """The tokenizer, phone prompt and suppressed tokens of ``model``, made once per model."""
    with _LOCK:
        if id(model) not in _DECODING:
            tok = Tokenizer(
                model.hf_tokenizer, model.model.is_multilingual, task="transcribe", language="en"
            )
            prompt = model.get_prompt(tok, tok.encode(" " + PHONE_PROMPT), without_timestamps=True)
            _DECODING[id(model)] = (tok, prompt, list(get_suppressed_tokens(tok, (-1,)) or []))
        return _DECODING[id(model)]


def _decode_windowed(
    model: WhisperModel, samples: np.ndarray, beam_size: int, context_s: float
) -> Phrase | None:
    frames = int(context_s * 100)  # 10 ms hop
    features = model.feature_extractor(samples, padding=30 * WHISPER_RATE)[:, :frames]
    encoded = model.encode(features)
    tok, prompt, suppress = _decoding(model)
    budget = int(MAX_TOKENS_PER_S * len(samples) / WHISPER_RATE) + 8
    result = model.model.generate(
        encoded,
        [prompt],
        beam_size=beam_size,
        max_length=len(prompt) + budget,
        return_no_speech_prob=True,
        suppress_blank=True,
        suppress_tokens=suppress,
    )[0]
    text = tok.decode([t for t in result.sequences_ids[0] if t < tok.eot]).strip()
    if text and get_compression_ratio(text) > 2.4:
        return None
    return Phrase(text, float(result.no_speech_prob))


def warm_up(model_dir: str, device: str = "cpu", compute_type: str = "int8") -> float:
    """Load the shared model and decode once, so the first caller does not wait for it;
    returns the seconds it took."""
    t0 = time.perf_counter()
    model = shared_model(model_dir, device, compute_type)
    decode(model, np.zeros(WHISPER_RATE, dtype=np.float32))
    took = time.perf_counter() - t0
    log.info("whisper %s loaded and warmed up in %.2fs", model_dir, took)
    return took


class SharedWhisperSTTService(WhisperSTTService):
    """WhisperSTTService with a process-wide model and latency-first decoding options.

    A caller's line often reaches the STT as several VAD segments (a pause at a comma is
    longer than the VAD's ``stop_secs``), transcribed one after the other. pipecat marks
    every segment's transcript final, and the user turn ends on the first final transcript
    after the caller stops. When decoding lags (a busy machine), that is the transcript of
    an earlier segment: the brain answered half a line ("Hello.") and the rest arrived
    later as a new turn that interrupted the answer. Here a transcript is final only when
    no segment is waiting behind it, and the turn waits up to ``ttfs_p99_latency`` for it.
    """

    def __init__(
        self,
        *,
        model_dir: str,
        device: str = "cpu",
        compute_type: str = "int8",
        beam_size: int = 1,
        no_speech_prob: float = 0.6,
        **kw: Any,
    ) -> None:
        self._model_dir = model_dir
        self._beam_size = beam_size
        self._no_speech_threshold = no_speech_prob
        super().__init__(
            device=device,
            compute_type=compute_type,
            ttfs_p99_latency=kw.pop("ttfs_p99_latency", 3.0),
            settings=WhisperSTTService.Settings(
                model=model_dir, language=Language.EN, no_speech_prob=no_speech_prob
            ),
            **kw,
        )

    async def push_frame(
        self, frame: Frame, direction: FrameDirection = FrameDirection.DOWNSTREAM
    ) -> None:
        if isinstance(frame, TranscriptionFrame):
            frame.finalized = self._segment_queue.empty()
            await STTService.push_frame(self, frame, direction)  # keeps ``finalized`` as set
            return
        await super().push_frame(frame, direction)

    def _load(self) -> None:
        self._model = shared_model(self._model_dir, self._device, self._compute_type)

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        model = self._model
        if model is None:
            yield ErrorFrame("Whisper model not available")
            return
        await self.start_processing_metrics()
        samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0
        rate = self.sample_rate

        def transcribe() -> str:
            x = samples if rate == WHISPER_RATE else soxr.resample(samples, rate, WHISPER_RATE)
            segments = decode(model, np.asarray(x, dtype=np.float32), self._beam_size)
            return " ".join(
                s.text.strip() for s in segments if s.no_speech_prob < self._no_speech_threshold
            )

        text = await asyncio.to_thread(transcribe)
        await self.stop_processing_metrics()
        if text:
            yield TranscriptionFrame(text, self._user_id, time_now_iso8601(), Language.EN)
        elif self._segment_queue.empty():
            yield SegmentsDoneFrame()  # nothing heard, nothing behind: do not wait for text


class PhoneTurnStop(SpeechTimeoutUserTurnStopStrategy):
    """pipecat's speech-timeout turn stop, told by :class:`SegmentsDoneFrame` that the STT
    has nothing more to send: the turn ends on the text it already has (as after a
    finalized transcript) instead of waiting out the STT safety net."""

    async def process_frame(self, frame: Frame) -> ProcessFrameResult:
        if isinstance(frame, SegmentsDoneFrame):
            done = TranscriptionFrame("", "", time_now_iso8601())
            done.finalized = True
            await self._handle_transcription(done)  # adds no text; ends the STT wait
            return ProcessFrameResult.CONTINUE
        return await super().process_frame(frame)
