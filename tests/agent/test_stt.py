"""The agent's phrase decoder: a short phrase is encoded in a 15 s window instead of
Whisper's 30 s padding, and must hear what the standard path hears."""

from __future__ import annotations

import numpy as np
import pytest
import soxr

from agent.stt import CONTEXT_S, WHISPER_RATE, decode, shared_model
from analytics.audio import decode as decode_audio
from analytics.config import Settings
from analytics.evaluation import normalize_text
from analytics.transcription.models import resolve
from tests.flows.clips import sample_audio


@pytest.fixture(scope="module")
def model():  # type: ignore[no-untyped-def]
    s = Settings()
    return shared_model(str(resolve("tiny.en", s.model_cache_dir, s.model_download).path))


def _speech(offset_s: float, seconds: float) -> np.ndarray:
    audio = decode_audio(sample_audio("wrong_number"))
    x = audio.mono()[int(offset_s * audio.sample_rate) :][: int(seconds * audio.sample_rate)]
    return soxr.resample(x, audio.sample_rate, WHISPER_RATE).astype(np.float32)


def _words(phrases: list) -> list[str]:  # type: ignore[type-arg]
    return normalize_text(" ".join(p.text for p in phrases))


def test_a_short_phrase_in_the_window_hears_what_the_30_s_path_hears(model) -> None:  # type: ignore[no-untyped-def]
    x = _speech(0.0, 4.0)
    windowed = _words(decode(model, x))
    standard = _words(decode(model, x, context_s=30.0))
    assert len(standard) >= 4, standard
    same = sum(a == b for a, b in zip(windowed, standard, strict=False))
    assert same >= len(standard) - 1, (windowed, standard)


def test_silence_is_no_speech_in_the_window(model) -> None:  # type: ignore[no-untyped-def]
    phrases = decode(model, np.zeros(2 * WHISPER_RATE, dtype=np.float32))
    assert all(p.no_speech_prob > 0.5 or not p.text.strip() for p in phrases), phrases


def test_a_phrase_longer_than_the_window_takes_the_standard_path(model, monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import agent.stt as stt

    calls: list[int] = []
    real = stt._decode_windowed
    monkeypatch.setattr(stt, "_decode_windowed", lambda *a, **k: calls.append(1) or real(*a, **k))
    decode(model, _speech(0.0, CONTEXT_S))  # longer than the window minus its margin
    assert not calls
    decode(model, _speech(0.0, 3.0))
    assert calls == [1]
