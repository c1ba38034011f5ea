"""pipecat's WhisperSTTService on a local CTranslate2 model, loaded once per process and
decoded for the phone: greedy, no timestamps, a prompt that primes digit strings."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncGenerator
from typing import Any

import numpy as np
from faster_whisper import WhisperModel
from pipecat.frames.frames import ErrorFrame, Frame, TranscriptionFrame
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transcriptions.language import Language
from pipecat.utils.time import time_now_iso8601

_MODELS: dict[tuple[str, str, str], WhisperModel] = {}
_LOCK = threading.Lock()

#: Primes the model to write order numbers as digits ("4 1 7 2", not "for one seven two").
PHONE_PROMPT = "4 1 7 2."


def shared_model(model_dir: str, device: str = "cpu", compute_type: str = "int8") -> WhisperModel:
    """One WhisperModel per (dir, device, precision) for all concurrent calls."""
    key = (model_dir, device, compute_type)
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = WhisperModel(model_dir, device=device, compute_type=compute_type)
        return _MODELS[key]


class SharedWhisperSTTService(WhisperSTTService):
    """WhisperSTTService with a process-wide model and latency-first decoding options."""

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
            ttfs_p99_latency=kw.pop("ttfs_p99_latency", 0.6),
            settings=WhisperSTTService.Settings(
                model=model_dir, language=Language.EN, no_speech_prob=no_speech_prob
            ),
            **kw,
        )

    def _load(self) -> None:
        self._model = shared_model(self._model_dir, self._device, self._compute_type)

    async def run_stt(self, audio: bytes) -> AsyncGenerator[Frame, None]:
        model = self._model
        if model is None:
            yield ErrorFrame("Whisper model not available")
            return
        await self.start_processing_metrics()
        samples = np.frombuffer(audio, dtype=np.int16).astype(np.float32) / 32768.0

        def transcribe() -> str:
            segments, _ = model.transcribe(
                samples,
                language="en",
                beam_size=self._beam_size,
                without_timestamps=True,
                condition_on_previous_text=False,
                initial_prompt=PHONE_PROMPT,
            )
            return " ".join(
                s.text.strip() for s in segments if s.no_speech_prob < self._no_speech_threshold
            )

        text = await asyncio.to_thread(transcribe)
        await self.stop_processing_metrics()
        if text:
            yield TranscriptionFrame(text, self._user_id, time_now_iso8601(), Language.EN)
