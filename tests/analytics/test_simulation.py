"""Simulated conversations and the telephone degradation chain."""

from __future__ import annotations

import numpy as np
import pytest

from analytics.simulation.conversations import (
    RATE,
    ConversationOptions,
    simulate,
    solo_segments,
    voiced,
)
from analytics.simulation.telephone import (
    TelephoneOptions,
    add_noise,
    leak,
    mu_law,
    packet_loss,
    rms,
    telephone,
)


def _voice(seed: int, seconds: float, f0: float) -> np.ndarray:
    """A harmonic, amplitude-modulated tone standing in for one talker's utterance."""
    t = np.arange(int(seconds * RATE)) / RATE
    rng = np.random.default_rng(seed)
    x = sum(np.sin(2 * np.pi * f0 * h * t + rng.uniform(0, 6)) / h for h in range(1, 8))
    env = 0.5 + 0.5 * np.sin(2 * np.pi * 3 * t) ** 2
    return (0.1 * x * env).astype(np.float32)


def test_solo_segments_cut_out_other_speakers() -> None:
    turns = [("A", 0.0, 5.0), ("B", 2.0, 3.0), ("A", 6.0, 6.5)]
    got = [(s.speaker, round(s.start, 2), round(s.end, 2)) for s in solo_segments(turns, "c")]
    # A minus B's (2.0, 3.0) widened by 0.2 s; the 0.5 s turn is too short
    assert got == [("A", 0.0, 1.8), ("A", 3.2, 5.0)]


def test_voiced_cuts_pauses_out_of_an_utterance() -> None:
    x = np.concatenate([_voice(0, 1.0, 120), np.zeros(RATE // 2, np.float32), _voice(1, 1.0, 120)])
    got = voiced(x)
    assert len(got) == 2
    assert got[0][1] == pytest.approx(1.0, abs=0.05)
    assert got[1][0] == pytest.approx(1.5, abs=0.05)


def test_simulated_conversation_is_deterministic_with_turns_backchannels_and_overlap() -> None:
    pool = {
        "A": [_voice(i, 3.0, 110 + i) for i in range(4)],
        "B": [_voice(10 + i, 2.5, 210 + i) for i in range(4)],
    }
    opts = ConversationOptions(duration_s=90.0, backchannel_p=0.8, overlap_p=0.3)
    one = simulate(["A", "B"], pool, np.random.default_rng(3), opts)
    two = simulate(["A", "B"], pool, np.random.default_rng(3), opts)
    assert np.array_equal(one.mixture, two.mixture)
    assert one.turns == two.turns
    assert {t.speaker for t in one.turns} == {"A", "B"}
    assert one.turns[0].speaker == "A" and one.turns[0].start >= 0.3
    assert any(t.backchannel for t in one.turns)
    length = len(one.mixture) / RATE
    assert all(0 <= t.start < t.end <= length for t in one.turns)
    # somebody talks over somebody else somewhere (backchannels, overlapped hand-overs)
    ends = sorted((t.start, t.end, t.speaker) for t in one.turns)
    assert any(
        b[0] < a[1] and b[2] != a[2] for i, a in enumerate(ends) for b in ends[i + 1 : i + 4]
    )
    # each track is silent outside its speaker's turns
    mask = np.zeros(len(one.tracks["B"]), bool)
    for t in one.turns:
        if t.speaker == "B":
            mask[int(t.start * RATE) : int(t.end * RATE)] = True
    assert rms(one.tracks["B"][~mask]) < 0.05 * rms(one.tracks["B"][mask])


def test_voicemail_is_one_speaker() -> None:
    pool = {"A": [_voice(i, 3.0, 130) for i in range(3)]}
    conv = simulate(["A"], pool, np.random.default_rng(0), ConversationOptions(duration_s=20))
    assert {t.speaker for t in conv.turns} == {"A"}


def test_telephone_chain_is_8khz_band_limited_and_deterministic() -> None:
    x = np.random.default_rng(0).standard_normal(RATE * 2).astype(np.float32) * 0.1
    opts = TelephoneOptions(snr_db=20, packet_loss=0.0)
    y = telephone(x, RATE, opts, np.random.default_rng(1))
    assert len(y) == 2 * 8000
    assert np.array_equal(y, telephone(x, RATE, opts, np.random.default_rng(1)))
    spec = np.abs(np.fft.rfft(y)) ** 2
    freqs = np.fft.rfftfreq(len(y), 1 / 8000)
    in_band = spec[(freqs > 500) & (freqs < 3000)].mean()
    assert spec[freqs < 100].mean() < 0.01 * in_band
    assert spec[freqs > 3900].mean() < 0.05 * in_band


def test_mu_law_has_256_levels_and_small_error() -> None:
    x = np.linspace(-1, 1, 10_000, dtype=np.float32)
    y = mu_law(x)
    assert len(np.unique(y)) <= 256
    assert float(np.max(np.abs(y - x))) < 0.04


@pytest.mark.parametrize("snr", [5.0, 20.0])
def test_noise_is_added_at_the_requested_snr(snr: float) -> None:
    x = _voice(0, 2.0, 150)
    noisy = add_noise(x, snr, np.random.default_rng(0))
    got = 20 * np.log10(rms(x) / rms(noisy - x))
    assert got == pytest.approx(snr, abs=0.1)


def test_packet_loss_zeroes_whole_packets() -> None:
    x = np.ones(8000 * 10, np.float32)
    y = packet_loss(x, 8000, 0.05, np.random.default_rng(0))
    lost = 1 - y.mean()
    assert 0.02 < lost < 0.12
    packets = y.reshape(-1, 160)
    assert set(np.unique(packets.mean(axis=1))) <= {0.0, 1.0}


def test_leak_adds_a_delayed_copy_at_the_level() -> None:
    own = np.zeros(RATE, np.float32)
    other = _voice(0, 1.0, 150)
    got = leak(own, other, -15.0, RATE, delay_s=0.03)
    d = int(0.03 * RATE)
    assert np.allclose(got[d:], other[:-d] * 10 ** (-15 / 20), atol=1e-6)
