"""Speech regions (Silero VAD bundled with faster-whisper) and speaker embeddings
(Resemblyzer's GE2E encoder, weights shipped inside the package; loaded once per process).

Both run offline. Resemblyzer needs the ``diarization`` extra (torch, and ``setuptools<81``
for the ``pkg_resources`` import of its ``webrtcvad`` dependency).
"""

from __future__ import annotations

import logging
import threading
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from analytics.diarization.base import DiarizerUnavailableError

log = logging.getLogger(__name__)

RATE = 16_000
#: Resemblyzer's mel frames: 25 ms windows every 10 ms.
FRAME_S = 0.01
#: Resemblyzer normalises input to this speech loudness before the mel spectrogram.
TARGET_DBFS = -30.0

_ENCODER: Any = None
_LOCK = threading.Lock()

EXTRA_HINT = (
    "install the diarization extra: pip install 'callscope[diarization]' "
    "(resemblyzer, torch==2.13.0, setuptools<81)"
)


def voice_encoder() -> Any:
    """Resemblyzer's ``VoiceEncoder`` on CPU, created once per process (thread-safe)."""
    global _ENCODER
    with _LOCK:
        if _ENCODER is None:
            try:
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")  # pkg_resources deprecation (webrtcvad)
                    from resemblyzer import VoiceEncoder
            except ImportError as exc:
                raise DiarizerUnavailableError(
                    f"the clustering diarizer needs Resemblyzer ({exc}); {EXTRA_HINT}"
                ) from exc
            _ENCODER = VoiceEncoder("cpu", verbose=False)
            _ENCODER.eval()
            log.info("loaded the Resemblyzer GE2E voice encoder (cpu)")
        return _ENCODER


def speech_regions(
    samples: np.ndarray,
    threshold: float = 0.5,
    min_silence_ms: int = 150,
    speech_pad_ms: int = 30,
    min_speech_ms: int = 120,
) -> list[tuple[float, float]]:
    """Speech stretches (seconds) of 16 kHz mono audio by Silero VAD (ONNX, no torch)."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    opts = VadOptions(
        threshold=threshold,
        min_silence_duration_ms=min_silence_ms,
        speech_pad_ms=speech_pad_ms,
        min_speech_duration_ms=min_speech_ms,
    )
    stamps = get_speech_timestamps(samples.astype(np.float32, copy=False), opts)
    return [(s["start"] / RATE, s["end"] / RATE) for s in stamps]


def normalize_loudness(
    samples: np.ndarray, regions: Sequence[tuple[float, float]], target_dbfs: float = TARGET_DBFS
) -> np.ndarray:
    """Scale so that the RMS over ``regions`` is ``target_dbfs`` (what GE2E was trained on)."""
    parts = [samples[int(a * RATE) : int(b * RATE)] for a, b in regions]
    speech = np.concatenate(parts) if parts else samples
    rms = float(np.sqrt(np.mean(np.square(speech, dtype=np.float64)))) if speech.size else 0.0
    if rms < 1e-6:
        return samples.astype(np.float32, copy=False)
    gain = 10 ** (target_dbfs / 20) / rms
    return (samples * gain).astype(np.float32)


def mel_frames(samples: np.ndarray) -> np.ndarray:
    """Resemblyzer's mel spectrogram of the whole call: (frames, 40), one frame per 10 ms."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from resemblyzer.audio import wav_to_mel_spectrogram
    mel: np.ndarray = wav_to_mel_spectrogram(samples)
    return mel


def embed_spans(
    mel: np.ndarray, spans: Sequence[tuple[int, int]], batch_size: int = 64
) -> np.ndarray:
    """L2-normalised GE2E embeddings of mel frame spans [a, b) -> (len(spans), 256).

    Spans of equal length run as one batch through the LSTM (no padding, which would
    change the final hidden state)."""
    import torch

    encoder = voice_encoder()
    out = np.zeros((len(spans), 256), dtype=np.float32)
    by_len: dict[int, list[int]] = {}
    for i, (a, b) in enumerate(spans):
        by_len.setdefault(b - a, []).append(i)
    with torch.inference_mode():
        for length, idx in by_len.items():
            for k in range(0, len(idx), batch_size):
                chunk = idx[k : k + batch_size]
                batch = np.stack([mel[spans[i][0] : spans[i][0] + length] for i in chunk])
                emb = encoder(torch.from_numpy(batch)).numpy()
                out[chunk] = emb
    norms = np.linalg.norm(out, axis=1, keepdims=True)
    return out / np.maximum(norms, 1e-9)
