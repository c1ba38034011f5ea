"""Long audio in windows: cuts at pauses, times shifted back, same words as one pass."""

from __future__ import annotations

import difflib
import itertools
import logging
import re

import numpy as np
import pytest

from analytics.audio import decode
from analytics.evaluation import wer
from analytics.transcription.windows import windows
from tests.conftest import sample_audio


def test_windows_cut_at_the_quietest_point_before_the_limit() -> None:
    rate = 1000
    rng = np.random.default_rng(0)
    audio = rng.normal(0, 0.3, 100 * rate).astype(np.float32)
    audio[37_000:37_400] = 0.0  # a pause 37 s in
    audio[76_000:76_300] = 0.0  # and one 76 s in
    pieces = windows(len(audio), audio, rate, window_s=40, search_s=10)
    assert pieces[0][0] == 0 and pieces[-1][1] == len(audio)
    assert all(a[1] == b[0] for a, b in itertools.pairwise(pieces))
    assert 37_000 <= pieces[0][1] <= 37_400
    assert 76_000 <= pieces[1][1] <= 76_300
    assert all((hi - lo) <= 40 * rate for lo, hi in pieces)


@pytest.mark.parametrize(("n", "window_s"), [(10_000, 20), (10_000, 0)])
def test_short_audio_is_one_window(n: int, window_s: float) -> None:
    assert windows(n, np.zeros(n, np.float32), 1000, window_s) == [(0, n)]


@pytest.mark.slow
def test_windowed_transcription_matches_one_pass(caplog: pytest.LogCaptureFixture) -> None:
    from dataclasses import replace

    from analytics.transcription.faster_whisper import (
        FasterWhisperOptions,
        FasterWhisperTranscriber,
    )

    audio = decode(sample_audio("billing_resolved")).channels[1]  # 67 s, the agent's side
    one_pass = FasterWhisperTranscriber(FasterWhisperOptions(window_s=0)).transcribe(audio)
    windowed_tx = FasterWhisperTranscriber(replace(FasterWhisperOptions(), window_s=25))
    with caplog.at_level(logging.INFO, logger="analytics.transcription.faster_whisper"):
        windowed = windowed_tx.transcribe(audio)
    assert re.search(r"in [34] windows", caplog.text)  # the windowed path ran
    starts = [w.start for w in windowed.words]
    assert starts == sorted(starts) and starts[-1] > 40  # times shifted back to the call
    ref = " ".join(w.word for w in one_pass.words)
    hyp = " ".join(w.word for w in windowed.words)
    assert wer(ref, hyp) <= 0.08, (ref, hyp)
    # word times agree where the words agree (aligned as sequences)
    a = [w.word for w in one_pass.words]
    b = [w.word for w in windowed.words]
    pairs = [
        (one_pass.words[m.a + k].start, windowed.words[m.b + k].start)
        for m in difflib.SequenceMatcher(a=a, b=b, autojunk=False).get_matching_blocks()
        for k in range(m.size)
    ]
    assert len(pairs) > 0.9 * len(a)
    assert sum(abs(x - y) < 0.5 for x, y in pairs) / len(pairs) > 0.9
