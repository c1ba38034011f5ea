"""faster-whisper (CTranslate2) transcription; the default, self-hosted engine."""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analytics.audio import as_float32
from analytics.errors import TranscriptionError
from analytics.models import Word
from analytics.transcription.base import ChannelTranscript
from analytics.transcription.models import ResolvedModel, resolve
from analytics.transcription.windows import windows

log = logging.getLogger(__name__)

SAMPLE_RATE = 16_000


@dataclass(frozen=True)
class FasterWhisperOptions:
    """Options for faster-whisper. Every field lands in the analysis lineage."""

    #: Model name (tiny.en, base, a hub name) or a local CTranslate2 directory.
    model: str = "tiny.en"
    #: "cpu" or "cuda".
    device: str = "cpu"
    #: CTranslate2 compute type; int8 is fastest on CPU with little accuracy loss.
    compute_type: str = "int8"
    #: Intra-op threads per model worker; 0 lets CTranslate2 choose.
    cpu_threads: int = 0
    #: Model workers that can decode concurrently (threads calling transcribe at once).
    num_workers: int = 1
    #: Beam width for decoding.
    beam_size: int = 5
    #: Batch size for BatchedInferencePipeline; 0 decodes windows one after another.
    batch_size: int = 0
    #: Forced language code, or None to detect it on speech only (VAD-filtered audio).
    language: str | None = None
    #: Skip non-speech with faster-whisper's bundled Silero VAD (no download).
    vad_filter: bool = True
    #: Silero speech probability threshold. 0.35 rather than Silero's 0.5: phone-band speech
    #: scores lower, and on real speech over a phone line 0.35 kept more of the first words
    #: and lowered WER with no loss on clean audio (bench/transcription_real.py).
    vad_threshold: float = 0.35
    #: Silence (ms) that ends a speech chunk.
    vad_min_silence_ms: int = 500
    #: Padding (ms) kept around each speech chunk.
    vad_speech_pad_ms: int = 200
    #: Context for the first window, e.g. product and company names.
    initial_prompt: str | None = None
    #: Words to bias decoding towards (space-separated), e.g. "Northwind FiberMax".
    hotwords: str | None = None
    #: Temperature fallback sequence for windows failing the quality checks.
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    #: A window with no-speech probability above this (and low log prob) is dropped.
    no_speech_threshold: float = 0.6
    #: Windows with average log prob below this are retried at a higher temperature.
    log_prob_threshold: float = -1.0
    #: Windows with a gzip compression ratio above this (repetition) are retried.
    compression_ratio_threshold: float = 2.4
    #: Skip silent stretches longer than this (s) around suspected hallucinations. Applied
    #: only without VAD: on VAD-joined speech the guard treats a low-confidence first segment
    #: of a window as a hallucination (its "silence before" test is true in a window's first
    #: 2 s) and skips ahead 1 s at a time, so a quiet greeting disappears; VAD already removes
    #: the silences it targets. Without VAD it is what keeps rings and DTMF wordless.
    hallucination_silence_threshold: float | None = 2.0
    #: Feed previous text as a prompt; off avoids runaway repetition on phone audio.
    condition_on_previous_text: bool = False
    #: Where packaged models are reassembled; not part of the lineage.
    cache_dir: Path = field(default=Path("data/cache/models"), compare=False)
    #: Allow hub downloads for names that are not installed (online machines only).
    allow_download: bool = field(default=False, compare=False)
    #: Longer audio is transcribed in windows of at most this many seconds, cut at a
    #: pause (memory stays bounded); 0 = one pass. Not part of the lineage.
    window_s: float = field(default=600.0, compare=False)


_MODELS: dict[tuple[str, str, str, int, int], Any] = {}
_MODELS_LOCK = threading.Lock()


def load_model(resolved: ResolvedModel, opts: FasterWhisperOptions) -> Any:
    """Load a WhisperModel once per process and reuse it for every call."""
    from faster_whisper import WhisperModel

    key = (str(resolved.path), opts.device, opts.compute_type, opts.cpu_threads, opts.num_workers)
    with _MODELS_LOCK:
        model = _MODELS.get(key)
        if model is None:
            log.info(
                "loading whisper %s from %s (%s, %s)",
                resolved.name,
                resolved.path,
                opts.device,
                opts.compute_type,
            )
            model = WhisperModel(
                str(resolved.path),
                device=opts.device,
                compute_type=opts.compute_type,
                cpu_threads=opts.cpu_threads,
                num_workers=opts.num_workers,
            )
            _MODELS[key] = model
    return model


class _Shifted:
    """A segment (and its words) with times moved by ``offset`` seconds."""

    def __init__(self, seg: Any, offset: float) -> None:
        self.start = float(seg.start) + offset
        self.end = float(seg.end) + offset
        self.words = [
            _ShiftedWord(w.word, float(w.start) + offset, float(w.end) + offset, w.probability)
            for w in seg.words or ()
        ]


@dataclass(frozen=True)
class _ShiftedWord:
    word: str
    start: float
    end: float
    probability: float


class FasterWhisperTranscriber:
    """Transcribes one channel at a time with word timestamps."""

    engine = "faster-whisper"

    def __init__(self, options: FasterWhisperOptions | None = None) -> None:
        self.options = options or FasterWhisperOptions()
        self.model_name = self.options.model
        self.resolved = resolve(
            self.options.model, self.options.cache_dir, self.options.allow_download
        )
        self.model = load_model(self.resolved, self.options)
        self.multilingual = bool(self.model.model.is_multilingual)
        self._batched: Any = None
        if self.options.batch_size > 0:
            from faster_whisper import BatchedInferencePipeline

            self._batched = BatchedInferencePipeline(model=self.model)

    def params(self) -> dict[str, Any]:
        out = asdict(self.options)
        out.pop("cache_dir")
        out.pop("allow_download")
        out.pop("window_s")  # memory bound only; calls shorter than a window are unchanged
        out["temperatures"] = list(self.options.temperatures)
        return out

    def lineage(self) -> dict[str, Any]:
        return {"model_path": str(self.resolved.path), "model_sha256": self.resolved.sha256}

    def _vad_parameters(self) -> dict[str, Any]:
        o = self.options
        return {
            "threshold": o.vad_threshold,
            "min_silence_duration_ms": o.vad_min_silence_ms,
            "speech_pad_ms": o.vad_speech_pad_ms,
        }

    def detect_language(self, audio: np.ndarray) -> tuple[str, float | None]:
        """Language of the speech in ``audio``; rings, hold music and silence are cut by
        VAD first so a long intro cannot fool detection. An English-only model detects
        nothing: "en" with no probability (see ``confidence.py`` for its flag)."""
        if not self.multilingual:
            return "en", None
        from faster_whisper.vad import VadOptions

        lang, prob, _ = self.model.detect_language(
            audio, vad_filter=True, vad_parameters=VadOptions(**self._vad_parameters())
        )
        return str(lang), float(prob)

    def transcribe(self, audio: np.ndarray) -> ChannelTranscript:
        o = self.options
        pieces = windows(len(audio), audio, SAMPLE_RATE, o.window_s)
        language_prob: float | None
        if o.language:
            language, language_prob = o.language, 1.0
        else:  # detected on the first window: enough speech, bounded memory
            first = as_float32(audio[pieces[0][0] : pieces[0][1]])
            language, language_prob = self.detect_language(first)
        kwargs = self.transcribe_kwargs(language)
        if len(pieces) > 1:
            log.info("transcribing %.0f s in %d windows", len(audio) / SAMPLE_RATE, len(pieces))
        out: list[Any] = []
        for i, (lo, hi) in enumerate(pieces):
            piece_kwargs = kwargs if i == 0 else {**kwargs, "initial_prompt": None}
            piece = as_float32(audio[lo:hi])  # a compacted long call is float16
            try:
                if self._batched is not None:
                    segments, _ = self._batched.transcribe(
                        piece, batch_size=o.batch_size, **piece_kwargs
                    )
                else:
                    segments, _ = self.model.transcribe(piece, **piece_kwargs)
                out.extend(_Shifted(seg, lo / SAMPLE_RATE) for seg in segments)
            except (RuntimeError, ValueError) as exc:
                raise TranscriptionError(f"faster-whisper failed: {exc}") from exc
        return self._to_channel_transcript(out, language, language_prob)

    def transcribe_kwargs(self, language: str | None) -> dict[str, Any]:
        """Keyword arguments for ``WhisperModel.transcribe`` from the options."""
        o = self.options
        return dict(
            language=language,
            beam_size=o.beam_size,
            word_timestamps=True,
            vad_filter=o.vad_filter,
            vad_parameters=self._vad_parameters() if o.vad_filter else None,
            condition_on_previous_text=o.condition_on_previous_text,
            initial_prompt=o.initial_prompt,
            hotwords=o.hotwords,
            temperature=list(o.temperatures),
            no_speech_threshold=o.no_speech_threshold,
            log_prob_threshold=o.log_prob_threshold,
            compression_ratio_threshold=o.compression_ratio_threshold,
            hallucination_silence_threshold=(
                None if o.vad_filter else o.hallucination_silence_threshold
            ),
        )

    @staticmethod
    def _to_channel_transcript(
        segments: list[Any], language: str | None, language_prob: float | None
    ) -> ChannelTranscript:
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
            language=language,
            language_prob=language_prob,
            segments=tuple(spans),
        )
