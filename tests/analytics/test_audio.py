from __future__ import annotations

import wave
from pathlib import Path

import numpy as np
import pytest

from analytics.audio import TARGET_RATE, decode
from analytics.errors import DecodeError
from tests.conftest import sample_audio


def _write_wav(path: Path, channels: list[np.ndarray], rate: int) -> Path:
    data = np.stack(channels, axis=1) if len(channels) > 1 else channels[0][:, None]
    with wave.open(str(path), "wb") as w:
        w.setnchannels(len(channels))
        w.setsampwidth(2)
        w.setframerate(rate)
        w.writeframes((data * 32767).astype("<i2").tobytes())
    return path


def test_stereo_channels_stay_apart_and_are_resampled(tmp_path: Path) -> None:
    rate = 8000
    t = np.arange(rate * 2) / rate
    tone = 0.5 * np.sin(2 * np.pi * 440 * t)
    path = _write_wav(tmp_path / "s.wav", [tone, np.zeros_like(tone)], rate)
    audio = decode(path)
    assert audio.n_channels == 2
    assert audio.sample_rate == TARGET_RATE and audio.source_sample_rate == rate
    assert audio.duration_s == pytest.approx(2.0, abs=0.01)
    assert np.abs(audio.channels[0]).max() == pytest.approx(0.5, abs=0.02)
    assert np.abs(audio.channels[1]).max() < 1e-3


@pytest.mark.parametrize(
    ("name", "codec", "channels"),
    [
        ("billing_resolved", "pcm_s16le", 2),
        ("sales_outbound", "mp3", 2),
        ("appointment_reschedule", "flac", 2),
        ("tech_support", "flac", 1),
    ],
)
def test_sample_containers_decode(name: str, codec: str, channels: int) -> None:
    audio = decode(sample_audio(name))
    assert audio.codec.startswith(codec)
    assert audio.n_channels == channels
    assert audio.source_sample_rate == 8000
    assert 20 <= audio.duration_s <= 90


def test_corrupt_file_raises_decode_error_naming_the_file(corrupt_wav: Path) -> None:
    with pytest.raises(DecodeError, match=r"corrupt_call\.wav") as err:
        decode(corrupt_wav)
    assert err.value.stage == "decode"


def test_empty_file_raises_decode_error(tmp_path: Path) -> None:
    path = tmp_path / "empty.wav"
    path.write_bytes(b"")
    with pytest.raises(DecodeError, match=r"empty\.wav"):
        decode(path)


def test_too_short_audio_is_rejected(tmp_path: Path) -> None:
    path = _write_wav(tmp_path / "blip.wav", [np.zeros(40)], 8000)
    with pytest.raises(DecodeError, match="too short"):
        decode(path)
