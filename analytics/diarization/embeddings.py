"""Speech regions (Silero VAD bundled with faster-whisper) and speaker embeddings
(Resemblyzer's GE2E encoder, weights shipped inside the package; loaded once per process).

Both run offline. Resemblyzer needs the ``diarization`` extra (torch, and ``setuptools<81``
for the ``pkg_resources`` import of its ``webrtcvad`` dependency).
"""

from __future__ import annotations

import logging
import math
import threading
import warnings
from collections.abc import Sequence
from typing import Any

import numpy as np

from analytics.diarization.base import DiarizerUnavailableError
from analytics.transcription.windows import windows

log = logging.getLogger(__name__)

RATE = 16_000
#: Resemblyzer's mel frames: 25 ms windows every 10 ms.
FRAME_S = 0.01
#: Resemblyzer normalises input to this speech loudness before the mel spectrogram.
TARGET_DBFS = -30.0
#: Long calls are read in blocks of this many seconds (VAD, loudness, mel frames), so
#: memory stays bounded whatever the call's length. On 20 minutes of audio, Silero over
#: 600 s blocks peaked 309 MB above its input, over 60 s blocks 111 MB.
BLOCK_S = 60.0

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
    """Speech stretches (seconds) of 16 kHz mono audio by Silero VAD (ONNX, no torch).

    Run in blocks of at most ``BLOCK_S`` cut at pauses (Silero copies its whole input
    twice: a 3-hour call would need ~1.5 GB more); regions split by a cut are joined."""
    from faster_whisper.vad import VadOptions, get_speech_timestamps

    opts = VadOptions(
        threshold=threshold,
        min_silence_duration_ms=min_silence_ms,
        speech_pad_ms=speech_pad_ms,
        min_speech_duration_ms=min_speech_ms,
    )
    out: list[tuple[float, float]] = []
    for lo, hi in windows(len(samples), samples, RATE, BLOCK_S):
        block = samples[lo:hi].astype(np.float32, copy=False)
        for i, stamp in enumerate(get_speech_timestamps(block, opts)):
            start, end = (stamp["start"] + lo) / RATE, (stamp["end"] + lo) / RATE
            # only a region cut in two by the block edge is joined again
            if i == 0 and lo > 0 and out and start - out[-1][1] < min_silence_ms / 1000:
                start = out.pop()[0]
            out.append((start, end))
    return out


def loudness_gain(
    samples: np.ndarray, regions: Sequence[tuple[float, float]], target_dbfs: float = TARGET_DBFS
) -> float:
    """The factor that brings the RMS over ``regions`` (all of ``samples`` when there are
    none) to ``target_dbfs`` (what GE2E was trained on); 1.0 for silence. Summed a block
    at a time in float64: no copy of the call."""
    spans = [(int(a * RATE), int(b * RATE)) for a, b in regions] or [(0, len(samples))]
    total, n = 0.0, 0
    step = int(BLOCK_S * RATE)
    for a, b in spans:
        for lo in range(a, min(b, len(samples)), step):
            block = samples[lo : min(lo + step, b)].astype(np.float64)
            total += float(np.dot(block, block))
            n += len(block)
    rms = math.sqrt(total / n) if n else 0.0
    return 1.0 if rms < 1e-6 else 10 ** (target_dbfs / 20) / rms


def normalize_loudness(
    samples: np.ndarray, regions: Sequence[tuple[float, float]], target_dbfs: float = TARGET_DBFS
) -> np.ndarray:
    """``samples`` scaled by :func:`loudness_gain` (a copy; short audio only)."""
    gain = loudness_gain(samples, regions, target_dbfs)
    return (samples * gain).astype(np.float32) if gain != 1.0 else samples


def mel_frames(samples: np.ndarray, gain: float = 1.0) -> np.ndarray:
    """Resemblyzer's mel spectrogram of the whole call, ``samples * gain``: (frames, 40),
    one frame per 10 ms. Computed in blocks of ``BLOCK_S`` (a one-pass STFT of a 3-hour
    call needs several GB) with the same frames as one pass: each block is framed without
    centring from the samples its frames cover, zeros outside the call."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        import librosa
        from resemblyzer import audio as ra
    n_fft = int(ra.sampling_rate * ra.mel_window_length / 1000)
    hop = int(ra.sampling_rate * ra.mel_window_step / 1000)
    n_frames = 1 + len(samples) // hop
    out = np.empty((n_frames, ra.mel_n_channels), dtype=np.float32)
    per_block = max(1, int(BLOCK_S * RATE) // hop)
    for k0 in range(0, n_frames, per_block):
        k1 = min(k0 + per_block, n_frames)
        a, b = k0 * hop - n_fft // 2, (k1 - 1) * hop + n_fft // 2
        seg = np.zeros(b - a, dtype=np.float32)
        lo, hi = max(a, 0), min(b, len(samples))
        seg[lo - a : hi - a] = samples[lo:hi].astype(np.float32) * gain
        mel = librosa.feature.melspectrogram(
            y=seg,
            sr=ra.sampling_rate,
            n_fft=n_fft,
            hop_length=hop,
            n_mels=ra.mel_n_channels,
            center=False,
        )
        out[k0:k1] = mel.T
    return out


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


def embed_windows(
    samples: np.ndarray,
    regions: Sequence[tuple[float, float]],
    spans: Sequence[tuple[int, int]],
    embedding: str = "ge2e",
    ecapa_weight: float = 0.6,
) -> tuple[int, np.ndarray]:
    """(frames in the call, L2-normalised embeddings of the 10 ms frame ``spans``) with the
    chosen speaker embedding: "ge2e" (256-d), "ecapa" (192-d) or "fused" (both, weighted so
    the cosine similarity is ``ecapa_weight`` x ECAPA's + the rest x GE2E's)."""
    parts: list[tuple[float, np.ndarray]] = []
    n_frames = 1 + len(samples) // round(FRAME_S * RATE)
    if embedding in ("ge2e", "fused"):
        mel = mel_frames(samples, loudness_gain(samples, regions))
        n_frames = max(n_frames, len(mel))
        weight = 1.0 - ecapa_weight if embedding == "fused" else 1.0
        parts.append((weight, embed_spans(mel, spans)))
        del mel  # a 3-hour call's frames are ~170 MB: not held while ECAPA runs
    if embedding in ("ecapa", "fused"):
        from analytics.diarization import ecapa

        weight = ecapa_weight if embedding == "fused" else 1.0
        parts.append((weight, ecapa.embed_call(samples, spans)))  # features block by block
    if not parts:
        raise ValueError(f"unknown speaker embedding {embedding!r}: use ge2e, ecapa or fused")
    out = np.concatenate([math.sqrt(w) * e for w, e in parts], axis=1)
    return n_frames, out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-9)
