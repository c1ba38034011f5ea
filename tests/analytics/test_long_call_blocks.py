"""Long calls in blocks or subsamples (bounded memory) decide as one pass does: the stereo
checks, per-frame levels, and the clustering of a long call's windows."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.audio import DecodedAudio
from analytics.diarization.leakage import frame_levels
from analytics.transcription import channels as ch
from analytics.transcription.channels import is_fake_stereo

RNG = np.random.default_rng(7)
VOICE = (RNG.standard_normal(50_000) * 0.1).astype(np.float32)
OTHER = (RNG.standard_normal(50_000) * 0.1).astype(np.float32)


def _one_pass(a: np.ndarray, b: np.ndarray, threshold: float = 0.98) -> bool:
    if float(np.abs(a - b).max(initial=0.0)) < 1e-4:
        return True
    if float(a.std()) < 1e-6 or float(b.std()) < 1e-6:
        return False
    return float(np.corrcoef(a, b)[0, 1]) > threshold


@pytest.mark.parametrize(
    ("left", "right"),
    [
        (VOICE, VOICE.copy()),  # a mono mix saved twice
        (VOICE, VOICE * 0.7),  # the same signal at another level
        (VOICE, VOICE * 0.9 + OTHER * 0.05),  # nearly the same
        (VOICE, OTHER),  # two speakers
        (VOICE, np.zeros_like(VOICE)),  # one silent side
    ],
    ids=["identical", "scaled", "nearly", "independent", "silent"],
)
def test_fake_stereo_in_blocks_decides_as_one_pass(
    left: np.ndarray, right: np.ndarray, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ch, "_BLOCK", 4096)
    audio = DecodedAudio((left, right.astype(np.float32)), 16_000, 16_000, "pcm")
    assert is_fake_stereo(audio) is _one_pass(left, right.astype(np.float32))


def test_frame_levels_in_blocks_equal_one_pass() -> None:
    n = 16_000 * 60 * 11 + 77  # 11 minutes: two blocks and a tail
    a = np.tile(VOICE, n // len(VOICE) + 1)[:n]
    b = np.tile(OTHER, n // len(OTHER) + 1)[:n] * 0.5
    hop = 160
    m = n // hop
    expected = np.stack(
        [
            10 * np.log10(np.mean(c[: m * hop].astype(np.float64).reshape(m, hop) ** 2, 1) + 1e-10)
            for c in (a, b)
        ]
    )
    np.testing.assert_allclose(frame_levels([a, b]), expected)


def test_long_calls_cluster_a_subsample_and_label_every_window() -> None:
    from analytics.diarization.clustering import ClusteringOptions, cluster_subsampled

    rng = np.random.default_rng(3)
    voices = rng.standard_normal((2, 256))
    emb = np.concatenate(
        [voices[i] + 0.3 * rng.standard_normal((1500, 256)) for i in (0, 1, 0)]
    ).astype(np.float32)
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    truth = np.repeat([0, 1, 0], 1500)
    found = cluster_subsampled(emb, ClusteringOptions(), max_spans=500)
    assert found.centroids.shape[0] == 2 and len(found.labels) == len(emb)
    agree = float(np.mean(found.labels == truth))
    assert max(agree, 1 - agree) > 0.99
