"""Long calls are held in float16 (half the memory); every reader gives what float32 gives."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analytics import audio as audio_mod
from analytics.audio import DecodedAudio, _Buffer, decode
from analytics.models import CallMetadata
from analytics.pipeline import PipelineOptions, process_call_detailed
from analytics.transcription.windows import windows
from tests.conftest import sample_audio

CALL = Path(__file__).resolve().parents[2] / "data" / "diarization" / "dz_billing_dispute.flac"


def test_a_call_longer_than_the_limit_is_held_in_float16() -> None:
    short = decode(sample_audio("billing_resolved"))
    compact = decode(sample_audio("billing_resolved"), compact_after_s=5.0)
    assert short.channels[0].dtype == np.float32
    assert all(c.dtype == np.float16 for c in compact.channels)
    assert compact.n_channels == short.n_channels == 2
    assert compact.duration_s == short.duration_s
    # a call just under the limit stays float32 (the buffer's slack does not count)
    just_under = decode(sample_audio("billing_resolved"), compact_after_s=short.duration_s + 0.5)
    assert just_under.channels[0].dtype == np.float32
    for a, b in zip(short.channels, compact.channels, strict=True):
        # 11 significant bits: relative error <= 2^-11 (subnormals: absolute 6e-8)
        np.testing.assert_allclose(b.astype(np.float32), a, rtol=2**-11, atol=1e-7)


def test_a_stream_without_a_stated_length_is_compacted_when_it_grows_past_the_limit() -> None:
    buf = _Buffer(2, capacity=10, compact_after=25, compact=False)
    blocks = [np.full((2, 8), i + 0.25, np.float32) for i in range(5)]
    for block in blocks[:2]:
        buf.append(block)
    assert buf.data.dtype == np.float32  # 16 samples: below the limit
    for block in blocks[2:]:
        buf.append(block)
    assert buf.data.dtype == np.float16
    np.testing.assert_array_equal(buf.result(), np.concatenate(blocks, axis=1))


def test_the_mono_mix_keeps_the_dtype_and_is_mixed_in_blocks(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    rng = np.random.default_rng(5)
    left, right = (rng.standard_normal(10_001) * 0.2).astype(np.float16), np.zeros(10_001)
    monkeypatch.setattr(audio_mod, "_BLOCK", 1_000)
    audio = DecodedAudio((left, right.astype(np.float16)), 16_000, 16_000, "pcm")
    mono = audio.mono()
    assert mono.dtype == np.float16
    np.testing.assert_allclose(
        mono.astype(np.float32), left.astype(np.float32) / 2, rtol=1e-3, atol=1e-7
    )


def test_window_cuts_are_the_same_in_float16() -> None:
    x = decode(CALL).mono()
    assert windows(len(x), x, 16_000, 15.0) == windows(len(x), x.astype(np.float16), 16_000, 15.0)


def _timeline(turns: Any, n: int) -> np.ndarray:
    """Speaker label per 100 ms frame (-1: nobody; the later turn wins an overlap)."""
    out = np.full(n, -1)
    for t in turns:
        out[int(t.start * 10) : int(t.end * 10)] = int(t.speaker[3:])
    return out


@pytest.mark.slow  # tiny.en and both speaker embeddings on a 54 s call, twice
def test_a_compacted_call_is_transcribed_and_diarized_as_well(
    transcriber: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """float16 is not bit-exact: tiny.en's beam search flips on tiny differences (even
    white noise at -96 dBFS changed 6 % of this call's words), so the words are compared
    with the reference, not with each other; the speakers must agree frame by frame."""
    from analytics.config import Settings
    from analytics.evaluation import wer

    options = PipelineOptions.from_settings(Settings(_env_file=None, diarizer="auto"))
    reference = json.loads(CALL.with_suffix(".json").read_text())["reference"]["text"]

    def run() -> Any:
        return process_call_detailed(
            CALL,
            transcriber=transcriber,
            metadata=CallMetadata("c"),
            source_uri=str(CALL),
            options=options,
        )

    full = run()
    monkeypatch.setattr(audio_mod, "COMPACT_AFTER_S", 0.0)
    assert decode(CALL).channels[0].dtype == np.float16
    compact = run()
    texts = [
        " ".join(w.word for u in r.result.utterances for w in u.words) for r in (full, compact)
    ]
    full_wer, compact_wer = (wer(reference, t) for t in texts)
    assert compact_wer <= full_wer + 0.08, (full_wer, compact_wer)
    assert full.diarization and compact.diarization
    assert len(full.diarization.speakers) == len(compact.diarization.speakers) == 2
    n = int(full.result.duration_s * 10) + 1
    a, b = _timeline(full.diarization.turns, n), _timeline(compact.diarization.turns, n)
    speech = (a >= 0) | (b >= 0)
    assert np.mean(a[speech] == b[speech]) >= 0.95
