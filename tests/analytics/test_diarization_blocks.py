"""The diarizer's audio front end in blocks (bounded memory on long calls) gives what one
pass gives: the same mel frames, the same loudness gain, the same speech regions."""

from __future__ import annotations

import warnings
from itertools import pairwise

import numpy as np
import pytest

from analytics.audio import decode
from analytics.diarization import embeddings
from analytics.diarization.embeddings import loudness_gain, mel_frames, speech_regions
from tests.conftest import sample_audio

pytestmark = pytest.mark.slow  # torch and Resemblyzer imports; ~80 s on 2 busy cores


@pytest.fixture(scope="module")
def call() -> np.ndarray:
    """25 s of a sample call, mono, at an odd length (not a multiple of the hop)."""
    return decode(sample_audio("billing_resolved")).mono()[: 25 * 16000 + 123]


def test_mel_frames_in_blocks_equal_one_pass(
    call: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from resemblyzer.audio import wav_to_mel_spectrogram
    one_pass = wav_to_mel_spectrogram(call * 0.5)
    monkeypatch.setattr(embeddings, "BLOCK_S", 7.0)
    blocks = mel_frames(call, gain=0.5)
    assert blocks.shape == one_pass.shape
    np.testing.assert_allclose(blocks, one_pass, rtol=1e-4, atol=1e-6)


def test_loudness_gain_matches_the_rms_of_the_speech(
    call: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    regions = [(0.3, 3.9), (4.8, 12.7), (20.0, 26.0)]  # the last runs past the end
    speech = np.concatenate([call[int(a * 16000) : int(b * 16000)] for a, b in regions])
    expected = 10 ** (-30 / 20) / np.sqrt(np.mean(speech.astype(np.float64) ** 2))
    monkeypatch.setattr(embeddings, "BLOCK_S", 2.0)
    assert loudness_gain(call, regions) == pytest.approx(expected, rel=1e-9)
    assert loudness_gain(np.zeros(16000, np.float32), []) == 1.0


def test_speech_regions_in_blocks_match_one_pass(
    call: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    one_pass = speech_regions(call)
    monkeypatch.setattr(embeddings, "BLOCK_S", 6.0)
    blocks = speech_regions(call)
    # Silero restarts its state at each block, so a few regions split or join
    # differently; the speech found stays the same
    assert len(blocks) == pytest.approx(len(one_pass), abs=2)
    covered = sum(b - a for a, b in one_pass)
    assert sum(b - a for a, b in blocks) == pytest.approx(covered, rel=0.05)
    assert all(b1 <= a2 for (_, b1), (a2, _) in pairwise(blocks))
