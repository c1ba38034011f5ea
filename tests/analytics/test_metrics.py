"""Conversation metrics: hand-built calls with known times, the sample calls' reference turns
(checked against an independent 1 ms timeline), and loudness on synthetic audio."""

from __future__ import annotations

import itertools
import json
import math
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from analytics.audio import DecodedAudio, decode
from analytics.enrich.metrics import (
    DBFS_FLOOR,
    Interruption,
    MetricsOptions,
    Silence,
    compute_metrics,
    count_questions,
    utterance_loudness,
)
from analytics.enrich.sentiment import score_text
from analytics.errors import ConfigError
from analytics.models import Utterance, Word

SAMPLES = Path(__file__).resolve().parents[2] / "data" / "samples"
SAMPLE_NAMES = sorted(p.stem for p in SAMPLES.glob("*.json"))
ROLE_CH = {"customer": 0, "agent": 1}


def utt(
    speaker: str,
    start: float,
    end: float,
    text: str,
    role: str | None = None,
    channel: int | None = None,
) -> Utterance:
    """An utterance whose words split its span evenly."""
    tokens = text.split()
    step = (end - start) / len(tokens)
    words = tuple(
        Word(t, start + i * step, start + (i + 1) * step, 0.9) for i, t in enumerate(tokens)
    )
    return Utterance(speaker, role, start, end, text, words, channel)


def a(start: float, end: float, text: str) -> Utterance:
    return utt("ch1", start, end, text, "agent", 1)


def c(start: float, end: float, text: str) -> Utterance:
    return utt("ch0", start, end, text, "customer", 0)


# A 60 s call: leading silence 0-3, agent interrupts at 9.5, a 6 s pause 14-20, customer
# interrupts at 29.0, agent answers 0.1 s early at 30.9 (jitter, not an interruption),
# a 22 s hold 33-55, trailing silence 57.5-60.
CALL = (
    a(3.0, 6.0, "Hello, thank you for calling. How can I help?"),
    c(6.5, 10.0, "I want to cancel my account. It is too expensive!"),
    a(9.5, 12.0, "Are you sure? We have offers."),
    a(12.5, 14.0, "Let me check."),
    c(20.0, 25.0, "Why is this so expensive? Why?! I am angry and this is terrible."),
    a(26.0, 30.0, "I understand. I can offer a discount."),
    c(29.0, 31.0, "Okay?"),
    a(30.9, 33.0, "Great, thank you."),
    c(55.0, 57.5, "Thanks, that is great. Goodbye."),
)


@pytest.fixture(scope="module")
def call() -> Any:
    return compute_metrics(CALL, 60.0)


def _speaker(metrics: Any, role: str) -> Any:
    return next(s for s in metrics.speakers if s.role == role)


def test_talk_time_non_talk_and_ratios(call: Any) -> None:
    agent, customer = _speaker(call, "agent"), _speaker(call, "customer")
    assert agent.talk_s == pytest.approx(3 + 2.5 + 1.5 + 4 + 2.1)
    assert customer.talk_s == pytest.approx(3.5 + 5 + 2 + 2.5)
    # Union of speech: [3,6] [6.5,12] [12.5,14] [20,25] [26,33] [55,57.5].
    assert call.talk_s == pytest.approx(3 + 5.5 + 1.5 + 5 + 7 + 2.5)
    assert call.non_talk_s == pytest.approx(60 - 24.5)
    assert agent.talk_ratio == pytest.approx(13.1 / 26.1, abs=1e-4)
    assert agent.talk_ratio + customer.talk_ratio == pytest.approx(1.0, abs=1e-3)
    assert agent.words == sum(len(u.words) for u in CALL if u.role == "agent") == 9 + 6 + 3 + 7 + 3
    assert agent.wpm == pytest.approx(28 / (13.1 / 60), abs=0.01)


def test_silences_with_leading_trailing_and_holds(call: Any) -> None:
    assert call.silences == (
        Silence(0.0, 3.0, False),
        Silence(14.0, 20.0, False),
        Silence(33.0, 55.0, True),
        Silence(57.5, 60.0, False),
    )
    assert call.holds == (Silence(33.0, 55.0, True),)
    s = call.summary()
    assert (s["n_silences"], s["max_silence_s"], s["n_holds"], s["hold_s"]) == (4, 22.0, 1, 22.0)


def test_interruptions_who_whom_and_overlap(call: Any) -> None:
    assert call.interruptions == (
        Interruption(9.5, 10.0, "ch1", "ch0", 0.5, "agent", "customer"),
        Interruption(29.0, 30.0, "ch0", "ch1", 1.0, "customer", "agent"),
    )
    assert call.interruption_counts == {("ch1", "ch0"): 1, ("ch0", "ch1"): 1}
    assert call.overlap_s == pytest.approx(1.5)


def test_agent_response_latency_keeps_negative_values(call: Any) -> None:
    # customer->agent switches: 9.5-10.0, 26.0-25.0, 30.9-31.0
    assert call.latencies == pytest.approx((-0.5, 1.0, -0.1))
    assert call.latency_median_s == pytest.approx(-0.1)
    # linear p90 of [-0.5, -0.1, 1.0]: position 1.8 -> -0.1 + 0.8 * 1.1
    assert call.latency_p90_s == pytest.approx(-0.1 + 0.8 * 1.1)
    assert call.summary()["n_latency"] == 3


def test_turns_monologues_questions(call: Any) -> None:
    agent, customer = _speaker(call, "agent"), _speaker(call, "customer")
    # order: a c a a c a c a c -> agent runs 4, customer runs 4
    assert (agent.turns, customer.turns) == (4, 4)
    # 9.5-12.0 and 12.5-14.0 merge (0.5 s gap, nobody between); 26-30 and 30.9-33 do not
    # (the customer speaks in the gap).
    assert agent.longest_monologue_s == pytest.approx(4.5)
    assert customer.longest_monologue_s == pytest.approx(5.0)
    assert (agent.questions, customer.questions) == (2, 3)


def test_monologue_gap_option() -> None:
    utts = (a(0, 5, "one two"), a(6, 10, "three four"), c(20, 21, "ok"))
    assert _speaker(compute_metrics(utts, 30), "agent").longest_monologue_s == 10.0
    narrow = compute_metrics(utts, 30, MetricsOptions(monologue_gap_s=0.5))
    assert _speaker(narrow, "agent").longest_monologue_s == 5.0


@pytest.mark.parametrize(
    ("text", "n"),
    [
        ("How are you?", 1),
        ("Fine. And you? Really?!", 2),
        ("No questions here.", 0),
        ("What? Why? Where", 2),
        ("", 0),
        ("?", 0),
        ("It costs 3.5 dollars?", 1),
    ],
)
def test_count_questions(text: str, n: int) -> None:
    assert count_questions(text) == n


@pytest.mark.parametrize(
    ("b_start", "interrupts"),
    [(9.0, True), (9.7, True), (9.85, False), (9.95, False), (10.5, False)],
)
def test_min_overlap_threshold(b_start: float, interrupts: bool) -> None:
    m = compute_metrics((a(0, 10, "long answer"), c(b_start, 12, "wait")), 20)
    assert (m.summary()["n_interruptions"] == 1) is interrupts
    if interrupts:
        (i,) = m.interruptions
        assert (i.start, i.end, i.interrupter_role) == (b_start, 10.0, "customer")
        assert i.overlap_s == pytest.approx(10 - b_start)


@pytest.mark.parametrize(("gap", "silences"), [(1.9, 0), (2.0, 0), (2.1, 1), (25.0, 1)])
def test_silence_threshold(gap: float, silences: int) -> None:
    m = compute_metrics((a(0, 5, "hi there"), c(5 + gap, 10 + gap, "hello")), 10 + gap)
    assert m.summary()["n_silences"] == silences
    if silences:
        assert m.silences[0].start == 5.0
        assert m.silences[0].end == pytest.approx(5 + gap)
        assert m.silences[0].is_hold is (gap > 20)


def test_silent_call_is_one_silence() -> None:
    m = compute_metrics((), 12.0)
    assert m.silences == (Silence(0.0, 12.0, False),)
    assert (m.talk_s, m.non_talk_s, m.speakers, m.customer_trend) == (0.0, 12.0, (), None)


def test_sentiment_quarters_and_customer_trend(call: Any) -> None:
    scores = [score_text(u.text).score for u in CALL]
    assert [s.score for s in call.utterance_sentiment] == scores
    # midpoints: 4.5 8.25 10.75 13.25 | 22.5 28 | 30 31.95 | 56.25 (quarters of 15 s)
    assert [s.quarter for s in call.utterance_sentiment] == [1, 1, 1, 1, 2, 2, 3, 3, 4]
    agent, customer = _speaker(call, "agent"), _speaker(call, "customer")
    assert agent.sentiment_quarters[0] == pytest.approx(
        (scores[0] + scores[2] + scores[3]) / 3, abs=1e-4
    )
    assert agent.sentiment_quarters[3] is None
    assert customer.sentiment_quarters == pytest.approx(
        (scores[1], scores[4], scores[6], scores[8]), abs=1e-4
    )
    assert customer.sentiment_mean == pytest.approx(
        (scores[1] + scores[4] + scores[6] + scores[8]) / 4, abs=1e-4
    )
    trend = call.customer_trend
    assert (trend.first, trend.last) == pytest.approx((scores[1], scores[8]), abs=1e-4)
    assert trend.delta == pytest.approx(scores[8] - scores[1], abs=1e-4)
    assert trend.label == "improving" and trend.delta >= 0.1


@pytest.mark.parametrize(
    ("first", "last", "label"),
    [
        ("Thank you, this is wonderful.", "This is terrible and I hate it.", "worsening"),
        ("This is terrible and I hate it.", "Thank you, this is wonderful.", "improving"),
        ("I have a question about my bill.", "I see, the bill is for May.", "stable"),
    ],
)
def test_trend_labels(first: str, last: str, label: str) -> None:
    m = compute_metrics((c(1, 3, first), a(4, 6, "okay"), c(35, 38, last)), 40)
    assert m.customer_trend is not None
    assert m.customer_trend.label == label
    assert (m.customer_trend.first_quarter, m.customer_trend.last_quarter) == (1, 4)


def test_unknown_roles_keep_speaker_values_without_trend() -> None:
    utts = (
        utt("unknown", 1, 4, "Hello, how can I help?"),
        utt("unknown", 20, 25, "This is terrible."),
    )
    m = compute_metrics(utts, 30)
    (spk,) = m.speakers
    assert (spk.speaker, spk.role, spk.talk_s, spk.questions, spk.turns) == (
        "unknown",
        None,
        8.0,
        1,
        1,
    )
    assert spk.sentiment_mean is not None
    assert m.customer_trend is None
    assert m.latencies == () and m.latency_median_s is None and m.latency_p90_s is None


def test_same_speaker_overlaps_merge_in_talk_time() -> None:
    m = compute_metrics((a(0, 4, "one two"), a(3, 6, "three four")), 10)
    assert _speaker(m, "agent").talk_s == 6.0
    assert m.interruptions == ()


def test_to_dict_is_json_with_summary(call: Any) -> None:
    data = json.loads(json.dumps(call.to_dict()))
    assert data["n_interruptions"] == 2 and data["n_silences"] == 4
    assert data["silences"][2] == {"start": 33.0, "end": 55.0, "is_hold": True, "duration_s": 22.0}
    assert data["customer_trend"]["label"] == "improving"
    assert data["interruption_counts"] == [
        {"interrupter": "ch0", "interrupted": "ch1", "count": 1},
        {"interrupter": "ch1", "interrupted": "ch0", "count": 1},
    ]


# --- the sample calls ---------------------------------------------------------------------
def _mask(spans: list[tuple[float, float]], duration_s: float) -> np.ndarray:
    """A 1 ms timeline: True where any of ``spans`` is speaking."""
    mask = np.zeros(round(duration_s * 1000), dtype=bool)
    for start, end in spans:
        mask[round(start * 1000) : round(end * 1000)] = True
    return mask


def _runs_of_silence(mask: np.ndarray, longer_than_s: float) -> list[tuple[float, float]]:
    padded = np.concatenate([[True], mask, [True]]).astype(np.int8)
    starts = np.flatnonzero(np.diff(padded) == -1)
    ends = np.flatnonzero(np.diff(padded) == 1)
    return [
        (s / 1000, e / 1000)
        for s, e in zip(starts, ends, strict=True)
        if e - s > longer_than_s * 1000
    ]


def _linear_percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    pos = q / 100 * (len(ordered) - 1)
    lo = math.floor(pos)
    hi = min(lo + 1, len(ordered) - 1)
    return ordered[lo] + (ordered[hi] - ordered[lo]) * (pos - lo)


def sample_utterances(name: str) -> tuple[list[dict[str, Any]], list[Utterance]]:
    side = json.loads((SAMPLES / f"{name}.json").read_text())
    turns = side["reference"]["turns"]
    roles = side.get("channel_roles")
    utts = [
        utt(
            t["speaker"],
            t["start"],
            t["end"],
            t["text"],
            t["role"],
            roles.index(t["role"]) if roles else None,
        )
        for t in turns
    ]
    return turns, utts


@pytest.fixture(scope="module")
def durations() -> dict[str, float]:
    out = {}
    for name in SAMPLE_NAMES:
        audio = next(p for p in SAMPLES.glob(f"{name}.*") if p.suffix != ".json")
        out[name] = decode(audio).duration_s
    return out


@pytest.mark.parametrize("name", SAMPLE_NAMES)
@pytest.mark.parametrize("silence_s", [2.0, 0.6])
def test_sample_metrics_match_reference_turns(
    name: str, silence_s: float, durations: dict[str, float]
) -> None:
    turns, utts = sample_utterances(name)
    duration = durations[name]
    m = compute_metrics(utts, duration, MetricsOptions(silence_threshold_s=silence_s))

    for role in ("agent", "customer"):
        spans = [(t["start"], t["end"]) for t in turns if t["role"] == role]
        expected = _mask(spans, duration).sum() / 1000
        got = sum(s.talk_s for s in m.speakers if s.role == role)
        assert got == pytest.approx(expected, abs=0.01), role

    everyone = _mask([(t["start"], t["end"]) for t in turns], duration)
    assert m.non_talk_s == pytest.approx(duration - everyone.sum() / 1000, abs=0.01)
    silences = _runs_of_silence(everyone, silence_s)
    if silence_s < 1:
        assert len(silences) >= 3, "the pauses between turns show at a 0.6 s threshold"
    assert len(m.silences) == len(silences)
    for got_s, (start, end) in zip(m.silences, silences, strict=True):
        assert (got_s.start, got_s.end) == pytest.approx((start, end), abs=0.002)

    ordered = sorted(turns, key=lambda t: t["start"])
    latencies = [
        b["start"] - p["end"]
        for p, b in itertools.pairwise(ordered)
        if p["role"] == "customer" and b["role"] == "agent"
    ]
    assert m.latencies == pytest.approx(latencies, abs=0.001)
    assert m.latency_median_s == pytest.approx(float(np.median(latencies)), abs=0.001)
    assert m.latency_p90_s == pytest.approx(_linear_percentile(latencies, 90), abs=0.001)
    # Reference turns alternate speakers without overlap, so every turn is a turn.
    for role in ("agent", "customer"):
        assert sum(s.turns for s in m.speakers if s.role == role) == sum(
            1 for t in turns if t["role"] == role
        )
    assert m.interruptions == ()
    assert m.customer_trend is not None


# --- loudness -------------------------------------------------------------------------------
SR = 16_000


def _audio(*channels: np.ndarray) -> DecodedAudio:
    return DecodedAudio(tuple(ch.astype(np.float32) for ch in channels), SR, 8000, "pcm_s16le")


def _sine(amplitude: float, seconds: float = 4.0, hz: float = 440.0) -> np.ndarray:
    t = np.arange(int(seconds * SR)) / SR
    return amplitude * np.sin(2 * np.pi * hz * t)


@pytest.mark.parametrize("amplitude", [1.0, 0.5, 0.1, 0.01])
def test_loudness_of_a_sine_on_its_own_channel(amplitude: float) -> None:
    audio = _audio(np.zeros(4 * SR), _sine(amplitude))
    utts = [
        utt("ch1", 1.0, 2.0, "agent words", "agent", 1),
        utt("ch0", 1.0, 2.0, "customer words", "customer", 0),
        utt("mix", 1.0, 2.0, "mono words"),
        utt("ch1", 3.5, 3.5, "empty"),
        utt("ch1", 5.0, 6.0, "after the end", "agent", 1),
    ]
    loud = utterance_loudness(utts, audio)
    expected = 20 * math.log10(amplitude / math.sqrt(2))
    assert loud[0] == pytest.approx(expected, abs=0.5)
    assert loud[1] == DBFS_FLOOR  # the other channel is digital silence
    assert loud[2] == pytest.approx(expected - 20 * math.log10(2), abs=0.5)  # mono mix: half
    assert loud[3] is None and loud[4] is None


def test_loudness_of_mono_audio_ignores_channel() -> None:
    audio = _audio(_sine(0.5))
    (loud,) = utterance_loudness([utt("x", 0.5, 1.5, "hi", channel=1)], audio)
    assert loud == pytest.approx(20 * math.log10(0.5 / math.sqrt(2)), abs=0.5)


def test_speaker_loudness_is_the_power_mean_of_its_utterances() -> None:
    utts = (a(0, 1, "one"), a(2, 3, "two"), c(4, 6, "three"))
    m = compute_metrics(utts, 10, loudness=[-10.0, -20.0, None])
    assert _speaker(m, "agent").loudness_dbfs == pytest.approx(
        10 * math.log10((0.1 + 0.01) / 2), abs=0.01
    )
    assert _speaker(m, "customer").loudness_dbfs is None
    assert m.utterance_loudness == (-10.0, -20.0, None)
    assert _speaker(compute_metrics(utts, 10), "agent").loudness_dbfs is None


def test_loudness_length_must_match() -> None:
    with pytest.raises(ConfigError, match="2 values for 3 utterances"):
        compute_metrics((a(0, 1, "x"), a(2, 3, "y"), c(4, 5, "z")), 10, loudness=[-1.0, -2.0])


def test_measured_loudness_flows_into_speaker_metrics() -> None:
    audio = _audio(_sine(0.05), _sine(0.5))
    utts = (c(0.5, 1.5, "quiet customer"), a(2.0, 3.0, "loud agent"))
    m = compute_metrics(utts, 4.0, loudness=utterance_loudness(utts, audio))
    assert _speaker(m, "agent").loudness_dbfs == pytest.approx(-9.03, abs=0.5)
    assert _speaker(m, "customer").loudness_dbfs == pytest.approx(-29.03, abs=0.5)
