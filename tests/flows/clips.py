"""Short real-speech clips cut from a sample call (distinct bytes per offset), so flow
tests exercise the real engine without paying for whole calls."""

from __future__ import annotations

from pathlib import Path

from analytics.audio import decode
from tests.audio_fixtures import write_wav
from tests.conftest import sample_audio


def speech_clip(path: Path, offset_s: float, seconds: float = 4.0) -> Path:
    """``seconds`` of the wrong_number sample starting at ``offset_s``, as a mono WAV."""
    audio = decode(sample_audio("wrong_number"))
    start = int(offset_s * audio.sample_rate)
    samples = audio.mono()[start : start + int(seconds * audio.sample_rate)]
    path.parent.mkdir(parents=True, exist_ok=True)
    return write_wav(path, samples, rate=audio.sample_rate)
