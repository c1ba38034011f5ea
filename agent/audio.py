"""G.711 μ-law and small resampling helpers (numpy) for the simulated caller and analysis."""

from __future__ import annotations

import io
import wave

import numpy as np

_BIAS = 0x84
_CLIP = 32635


def ulaw_encode(pcm: np.ndarray) -> bytes:
    """int16 PCM -> G.711 μ-law bytes."""
    x = np.clip(pcm.astype(np.int32), -_CLIP, _CLIP)
    sign = np.where(x < 0, 0x80, 0)
    x = np.abs(x) + _BIAS
    exponent = np.floor(np.log2(x)).astype(np.int32) - 7
    exponent = np.clip(exponent, 0, 7)
    mantissa = (x >> (exponent + 3)) & 0x0F
    return (~(sign | (exponent << 4) | mantissa) & 0xFF).astype(np.uint8).tobytes()


def ulaw_decode(data: bytes) -> np.ndarray:
    """G.711 μ-law bytes -> int16 PCM."""
    u = ~np.frombuffer(data, dtype=np.uint8).astype(np.int32) & 0xFF
    sign = u & 0x80
    exponent = (u >> 4) & 0x07
    mantissa = u & 0x0F
    x = (((mantissa << 3) + _BIAS) << exponent) - _BIAS
    return np.where(sign != 0, -x, x).astype(np.int16)


def resample(pcm: np.ndarray, src: int, dst: int) -> np.ndarray:
    """Linear-interpolation resampling (enough for synthetic test speech)."""
    if src == dst or len(pcm) == 0:
        return pcm
    n = round(len(pcm) * dst / src)
    t = np.linspace(0, len(pcm) - 1, n)
    return np.interp(t, np.arange(len(pcm)), pcm.astype(np.float64)).astype(np.int16)


def read_wav(data: bytes) -> tuple[np.ndarray, int, int]:
    """WAV bytes -> (int16 samples shaped (frames, channels), rate, channels)."""
    with wave.open(io.BytesIO(data)) as w:
        rate, channels = w.getframerate(), w.getnchannels()
        raw = w.readframes(w.getnframes())
    return np.frombuffer(raw, dtype=np.int16).reshape(-1, channels), rate, channels


def frame_energy_db(x: np.ndarray, rate: int, frame_s: float = 0.02) -> np.ndarray:
    """dBFS per frame of a mono int16 signal."""
    n = max(1, int(rate * frame_s))
    usable = len(x) - len(x) % n
    frames = x[:usable].astype(np.float64).reshape(-1, n) / 32768.0
    rms = np.sqrt(np.mean(frames**2, axis=1)) + 1e-9
    return np.asarray(20 * np.log10(rms))
