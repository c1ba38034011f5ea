"""Synthetic non-speech audio for hallucination tests: silence, hold music, call tones."""

from __future__ import annotations

import wave
from pathlib import Path

import numpy as np

RATE = 8000


def write_wav(path: Path, samples: np.ndarray, rate: int = RATE, codec: str = "pcm") -> Path:
    """Write mono float samples in [-1, 1] as 16-bit PCM, or as 8-bit G.711 mu-law."""
    if codec == "mulaw":
        import av

        with av.open(str(path), "w", format="wav") as out:
            stream = out.add_stream("pcm_mulaw", rate=rate, layout="mono")
            frame = av.AudioFrame.from_ndarray(
                (np.clip(samples, -1, 1) * 32767).astype("<i2")[None, :],
                format="s16",
                layout="mono",
            )
            frame.sample_rate = rate
            for packet in stream.encode(frame):
                out.mux(packet)
            for packet in stream.encode(None):
                out.mux(packet)
        return path
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((np.clip(samples, -1, 1) * 32767).astype("<i2").tobytes())
    return path


def line_noise(seconds: float, dbfs: float = -60.0, seed: int = 0) -> np.ndarray:
    """A quiet telephone line: white noise at ``dbfs``."""
    rng = np.random.default_rng(seed)
    return rng.normal(0, 10 ** (dbfs / 20), int(seconds * RATE))


def hold_music(seconds: float, seed: int = 1) -> np.ndarray:
    """Chords changing every half second with a plucked envelope: a hold-music stand-in."""
    rng = np.random.default_rng(seed)
    t = np.arange(int(0.5 * RATE)) / RATE
    env = np.exp(-3 * t)
    notes = [261.6, 293.7, 329.6, 349.2, 392.0, 440.0, 493.9, 523.3]
    chunks = []
    for _ in range(int(seconds / 0.5)):
        chord = rng.choice(notes, size=3, replace=False)
        tone = sum(np.sin(2 * np.pi * f * t) + 0.3 * np.sin(4 * np.pi * f * t) for f in chord)
        chunks.append(0.15 * env * tone)
    return np.concatenate(chunks)


def ringback_and_dtmf(seconds: float) -> np.ndarray:
    """US ringback (440+480 Hz, 2 s on / 4 s off), then DTMF digits."""
    out = np.zeros(int(seconds * RATE))
    t2 = np.arange(2 * RATE) / RATE
    ring = 0.2 * (np.sin(2 * np.pi * 440 * t2) + np.sin(2 * np.pi * 480 * t2))
    for start in np.arange(0, seconds - 2, 6.0):
        i = int(start * RATE)
        out[i : i + len(ring)] = ring
    dtmf = {"1": (697, 1209), "5": (770, 1336), "9": (852, 1477), "#": (941, 1477)}
    t = np.arange(int(0.15 * RATE)) / RATE
    pos = int(max(0.0, seconds - 3.0) * RATE)
    for lo, hi in dtmf.values():
        tone = 0.2 * (np.sin(2 * np.pi * lo * t) + np.sin(2 * np.pi * hi * t))
        out[pos : pos + len(tone)] = tone[: len(out) - pos]
        pos += int(0.3 * RATE)
    return out
