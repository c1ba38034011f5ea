"""pipecat's WhisperSTTService on a local CTranslate2 model, loaded once per process."""

from __future__ import annotations

import threading
from typing import Any

from faster_whisper import WhisperModel
from pipecat.services.whisper.stt import WhisperSTTService
from pipecat.transcriptions.language import Language

_MODELS: dict[tuple[str, str, str], WhisperModel] = {}
_LOCK = threading.Lock()


def shared_model(model_dir: str, device: str = "cpu", compute_type: str = "int8") -> WhisperModel:
    """One WhisperModel per (dir, device, precision) for all concurrent calls."""
    key = (model_dir, device, compute_type)
    with _LOCK:
        if key not in _MODELS:
            _MODELS[key] = WhisperModel(model_dir, device=device, compute_type=compute_type)
        return _MODELS[key]


class SharedWhisperSTTService(WhisperSTTService):
    """WhisperSTTService that reuses a process-wide model instead of loading one per call."""

    def __init__(
        self, *, model_dir: str, device: str = "cpu", compute_type: str = "int8", **kw: Any
    ) -> None:
        self._model_dir = model_dir
        super().__init__(
            device=device,
            compute_type=compute_type,
            settings=WhisperSTTService.Settings(
                model=model_dir, language=Language.EN, no_speech_prob=0.6
            ),
            **kw,
        )

    def _load(self) -> None:
        self._model = shared_model(self._model_dir, self._device, self._compute_type)
