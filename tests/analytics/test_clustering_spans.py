"""Which audio the clustering diarizer embeds: short speech regions are widened (a short
reply gets windows long enough to take part in clustering) without ever reaching into a
neighbour's speech; which frames count as speech is left to the VAD's own regions."""

from __future__ import annotations

from itertools import pairwise

import numpy as np
import pytest

from analytics.diarization import clustering
from analytics.diarization.clustering import ClusteringDiarizer, widen
from analytics.diarization.counting import ClusteringOptions


def test_short_regions_are_widened_within_the_pauses_around_them() -> None:
    regions = [(1.0, 5.0), (5.4, 5.9), (8.0, 8.5), (9.5, 12.0)]
    wide = widen(regions, pad_s=0.4, short_s=1.5, duration_s=12.2)
    assert wide[0] == regions[0]  # long: kept
    assert wide[3] == regions[3]
    # 0.4 s pause before: widened to its middle only; 2.1 s after: the whole pad
    assert np.allclose(wide[1], (5.2, 6.3))
    # 2.1 s before, 1.0 s after (middle at 9.0): the whole pad both ways
    assert np.allclose(wide[2], (7.6, 8.9))
    for (_, b), (c, _) in pairwise(wide):
        assert b <= c  # never overlapping: no window spans two regions' speech


def test_widening_stops_at_the_ends_of_the_call() -> None:
    assert widen([(0.1, 0.5), (9.8, 10.0)], 0.4, 1.5, 10.0) == [(0.0, 0.9), (9.4, 10.0)]
    assert widen([(0.1, 0.5)], 0.0, 1.5, 10.0) == [(0.1, 0.5)]


def test_speech_frames_follow_the_vad_not_the_widened_regions(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A 0.5 s reply between two long stretches of another voice: its window is widened
    for the embedding, and its turn still covers only the VAD's 0.5 s."""
    seen: list[tuple[int, int]] = []

    def fake_embed(samples, regions, spans, *args):  # type: ignore[no-untyped-def]
        seen.extend(spans)
        emb = np.zeros((len(spans), 4))
        for i, (a, b) in enumerate(spans):
            emb[i, 1 if 390 <= (a + b) / 2 <= 460 else 0] = 1.0
        return 901, emb

    monkeypatch.setattr(clustering, "embed_windows", fake_embed)
    diarizer = ClusteringDiarizer(ClusteringOptions(embed_pad_s=0.4, num_speakers=2))
    regions = [(0.0, 3.0), (4.0, 4.5), (6.0, 9.0)]
    turns, _ = diarizer.speaker_turns(np.zeros(9 * 16000, np.float32), regions)
    assert (360, 490) in seen  # the reply's window: 0.4 s more on each side
    reply = [t for t in turns if t.speaker == "spk1"]
    assert len(reply) == 1
    assert reply[0].start >= 4.0 - 1e-9 and reply[0].end <= 4.5 + 1e-9
