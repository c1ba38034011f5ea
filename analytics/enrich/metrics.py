"""Conversation metrics computed from utterances: talk time, silences, interruptions,
response latency, monologues, questions and lexicon sentiment over the call.

Only words/utterances (plus optional stored per-utterance loudness) go in, so every metric
can be recomputed from the warehouse at any time without touching the audio.
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import asdict, dataclass
from itertools import pairwise
from typing import Any

import numpy as np

from analytics.audio import DecodedAudio
from analytics.enrich.sentiment import ENGINE, score_text
from analytics.errors import ConfigError
from analytics.models import Utterance

log = logging.getLogger(__name__)

AGENT, CUSTOMER = "agent", "customer"
#: Loudness reported for digital silence, so the value stays finite in JSON and SQL.
DBFS_FLOOR = -120.0
_T = 3  # times rounded to milliseconds

Span = tuple[float, float]


@dataclass(frozen=True)
class MetricsOptions:
    """Thresholds of the conversation metrics (all in seconds unless noted)."""

    #: A gap in everybody's speech longer than 2.0 s is a silence period (leading and
    #: trailing silence included).
    silence_threshold_s: float = 2.0
    #: A silence longer than 20 s looks like a hold (agent muted or customer parked).
    hold_threshold_s: float = 20.0
    #: B interrupts A when B starts at least 0.2 s before A ends; less is turn-taking jitter.
    min_overlap_s: float = 0.2
    #: One speaker's utterances less than 1.5 s apart, nobody else speaking in the gap,
    #: form one monologue.
    monologue_gap_s: float = 1.5
    #: The customer's sentiment trend is "stable" while |last - first| stays below 0.1
    #: (VADER compound units).
    trend_stable_below: float = 0.1


class _Record:
    """``to_dict`` for the frozen dataclasses below."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)  # type: ignore[call-overload]


@dataclass(frozen=True)
class Silence(_Record):
    """A stretch where nobody speaks; ``is_hold`` when it is longer than the hold threshold."""

    start: float
    end: float
    is_hold: bool = False

    @property
    def duration_s(self) -> float:
        return round(self.end - self.start, _T)

    def to_dict(self) -> dict[str, Any]:
        return {**asdict(self), "duration_s": self.duration_s}


@dataclass(frozen=True)
class Interruption(_Record):
    """``interrupter`` started speaking while ``interrupted`` was still talking."""

    start: float
    #: End of the overlap (whoever stopped first).
    end: float
    interrupter: str
    interrupted: str
    overlap_s: float
    interrupter_role: str | None = None
    interrupted_role: str | None = None


@dataclass(frozen=True)
class UtteranceSentiment(_Record):
    """Lexicon sentiment of one utterance (``utterance_idx`` = its index in the input)."""

    utterance_idx: int
    speaker: str
    role: str | None
    start: float
    end: float
    score: float
    label: str
    #: Quarter of the call (1-4) holding the utterance's midpoint.
    quarter: int
    engine: str = ENGINE


@dataclass(frozen=True)
class SpeakerMetrics(_Record):
    """Talk statistics of one speaker id (with its role, None when unknown)."""

    speaker: str
    role: str | None
    talk_s: float
    #: Share of the sum of all speakers' talk time (0..1).
    talk_ratio: float
    words: int
    wpm: float | None
    #: RMS loudness of all the speaker's speech (None without stored loudness).
    loudness_dbfs: float | None
    longest_monologue_s: float
    turns: int
    questions: int
    sentiment_mean: float | None
    #: Mean sentiment per quarter of the call; None where the speaker said nothing.
    sentiment_quarters: tuple[float | None, ...]


@dataclass(frozen=True)
class SentimentTrend(_Record):
    """How one role's sentiment moved from the start to the end of the call."""

    role: str
    first: float
    last: float
    #: ``last - first``.
    delta: float
    label: str  # "improving" | "worsening" | "stable"
    first_quarter: int
    last_quarter: int


@dataclass(frozen=True)
class CallMetrics(_Record):
    """Every conversation metric of one call."""

    duration_s: float
    #: Union of everybody's speech.
    talk_s: float
    non_talk_s: float
    speakers: tuple[SpeakerMetrics, ...]
    silences: tuple[Silence, ...]
    interruptions: tuple[Interruption, ...]
    #: Total overlap time of all interruptions.
    overlap_s: float
    #: Agent response latencies (customer -> agent switches), in time order.
    latencies: tuple[float, ...]
    latency_median_s: float | None
    latency_p90_s: float | None
    utterance_sentiment: tuple[UtteranceSentiment, ...]
    #: Customer sentiment, first vs last quarter with customer speech; None without a
    #: customer role or when the customer spoke in one quarter only.
    customer_trend: SentimentTrend | None
    #: Stored per-utterance loudness (dBFS), aligned with the input utterances.
    utterance_loudness: tuple[float | None, ...]
    options: MetricsOptions

    @property
    def holds(self) -> tuple[Silence, ...]:
        return tuple(s for s in self.silences if s.is_hold)

    @property
    def interruption_counts(self) -> dict[tuple[str, str], int]:
        """Interruptions per (interrupter, interrupted) pair."""
        return dict(Counter((i.interrupter, i.interrupted) for i in self.interruptions))

    def summary(self) -> dict[str, float | int | None]:
        """The call-level numbers by name (``customer_trend`` is the trend's delta)."""
        trend = self.customer_trend
        return {
            "duration_s": self.duration_s,
            "talk_s": self.talk_s,
            "non_talk_s": self.non_talk_s,
            "n_silences": len(self.silences),
            "max_silence_s": max((s.duration_s for s in self.silences), default=0.0),
            "n_holds": len(self.holds),
            "hold_s": round(float(sum(s.duration_s for s in self.holds)), _T),
            "n_interruptions": len(self.interruptions),
            "overlap_s": self.overlap_s,
            "latency_median_s": self.latency_median_s,
            "latency_p90_s": self.latency_p90_s,
            "n_latency": len(self.latencies),
            "customer_trend": trend.delta if trend else None,
        }

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: the fields plus the summary and interruption counts."""
        out = {**asdict(self), **self.summary()}
        out["customer_trend"] = self.customer_trend.to_dict() if self.customer_trend else None
        out["silences"] = [s.to_dict() for s in self.silences]
        out["interruption_counts"] = [
            {"interrupter": a, "interrupted": b, "count": n}
            for (a, b), n in sorted(self.interruption_counts.items())
        ]
        return out


# --- helpers -------------------------------------------------------------------------------
def _mean(values: Sequence[float]) -> float | None:
    return round(sum(values) / len(values), 4) if values else None


def merge_spans(spans: Iterable[Span]) -> list[Span]:
    """Union of time spans as sorted, non-overlapping spans (empty spans dropped)."""
    out: list[Span] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], end))
        else:
            out.append((start, end))
    return out


def _length(spans: Iterable[Span]) -> float:
    return sum(e - s for s, e in spans)


_SENTENCE = re.compile(r"([^.?!]*)([.?!]*)")


def count_questions(text: str) -> int:
    """Sentences (text split after . ? !) whose terminator contains a question mark."""
    return sum(1 for body, end in _SENTENCE.findall(text) if re.search(r"\w", body) and "?" in end)


def _word_count(u: Utterance) -> int:
    return len(u.words) if u.words else len(u.text.split())


def _mean_dbfs(values: Sequence[tuple[float, float]]) -> float | None:
    """Duration-weighted power mean of (dBFS, seconds) pairs, back in dBFS."""
    weight = sum(w for _, w in values)
    if not values or weight <= 0:
        return None
    power = sum(10 ** (db / 10) * w for db, w in values) / weight
    return round(max(10 * math.log10(power), DBFS_FLOOR) if power > 0 else DBFS_FLOOR, 2)


def _silences(speech: list[Span], duration_s: float, opts: MetricsOptions) -> list[Silence]:
    out: list[Silence] = []
    cursor = 0.0
    for start, end in [*speech, (duration_s, duration_s)]:
        if (gap := start - cursor) > opts.silence_threshold_s:
            out.append(Silence(round(cursor, _T), round(start, _T), gap > opts.hold_threshold_s))
        cursor = max(cursor, end)
    return out


def _interruptions(ordered: Sequence[Utterance], opts: MetricsOptions) -> list[Interruption]:
    out: list[Interruption] = []
    for pos, b in enumerate(ordered):
        for a in ordered[:pos]:
            if a.speaker != b.speaker and b.start < a.end - opts.min_overlap_s:
                t0, t1 = round(b.start, _T), round(min(a.end, b.end), _T)
                o = round(t1 - t0, _T)
                out.append(Interruption(t0, t1, b.speaker, a.speaker, o, b.role, a.role))
    return sorted(out, key=lambda i: (i.start, i.end))


def _longest_monologue(speaker: str, ordered: Sequence[Utterance], gap_s: float) -> float:
    def others_speak(a: float, b: float) -> bool:
        return any(u.speaker != speaker and u.start < b and u.end > a for u in ordered)

    own = [u for u in ordered if u.speaker == speaker]
    best = 0.0
    start, end = own[0].start, own[0].end
    for u in own[1:]:
        if u.start - end < gap_s and not others_speak(end, u.start):
            end = max(end, u.end)
        else:
            best = max(best, end - start)
            start, end = u.start, u.end
    return round(max(best, end - start), _T)


def _trend(
    scores: Sequence[UtteranceSentiment], role: str, opts: MetricsOptions
) -> SentimentTrend | None:
    by_q: dict[int, list[float]] = {}
    for s in scores:
        if s.role == role:
            by_q.setdefault(s.quarter, []).append(s.score)
    # Quarter 1 vs quarter 4; where the role is silent there, its nearest quarter with
    # speech. Speech in a single quarter has no trend.
    if len(by_q) < 2:
        return None
    fq, lq = min(by_q), max(by_q)
    first, last = sum(by_q[fq]) / len(by_q[fq]), sum(by_q[lq]) / len(by_q[lq])
    delta = round(last - first, 4)
    label = "improving" if delta > 0 else "worsening"
    label = "stable" if abs(delta) < opts.trend_stable_below else label
    return SentimentTrend(role, round(first, 4), round(last, 4), delta, label, fq, lq)


# --- the metrics ---------------------------------------------------------------------------
def compute_metrics(
    utterances: Sequence[Utterance],
    duration_s: float,
    options: MetricsOptions | None = None,
    *,
    loudness: Sequence[float | None] | None = None,
) -> CallMetrics:
    """All conversation metrics of one call. Pure: no audio, no I/O.

    ``duration_s`` <= 0 means unknown: the call then ends with its last utterance.
    ``loudness`` is the stored per-utterance loudness (:func:`utterance_loudness`), aligned
    with ``utterances``; without it speaker loudness is None.
    """
    opts = options or MetricsOptions()
    utts = list(utterances)
    if loudness is not None and len(loudness) != len(utts):
        raise ConfigError(f"loudness has {len(loudness)} values for {len(utts)} utterances")
    loud = tuple(loudness) if loudness is not None else tuple(None for _ in utts)
    # Without a duration (unknown or zero), the call ends with its last utterance.
    duration = float(duration_s) if duration_s > 0 else max((u.end for u in utts), default=0.0)
    order = sorted(range(len(utts)), key=lambda i: (utts[i].start, utts[i].end, utts[i].speaker))
    ordered = [utts[i] for i in order]

    # Call-level timing: speech union (clipped to the call), silences, interruptions.
    speech = merge_spans((max(u.start, 0.0), min(u.end, duration)) for u in utts)
    talk = _length(speech)
    silences = _silences(speech, duration, opts)
    interruptions = _interruptions(ordered, opts)
    latencies = [
        round(b.start - a.end, _T)
        for a, b in pairwise(ordered)
        if a.role == CUSTOMER and b.role == AGENT
    ]
    lat = np.asarray(latencies, dtype=float)  # percentiles: numpy's default, linear

    # Sentiment per utterance, placed in the quarter holding its midpoint.
    quarter_len = duration / 4 if duration > 0 else 1.0
    scores: list[UtteranceSentiment] = []
    for i, u in enumerate(utts):
        sent = score_text(u.text)
        q = min(max(int(((u.start + u.end) / 2) // quarter_len), 0), 3) + 1
        scores.append(
            UtteranceSentiment(i, u.speaker, u.role, u.start, u.end, sent.score, sent.label, q)
        )

    # Per speaker, in order of first appearance.
    turn_runs = [
        u.speaker for k, u in enumerate(ordered) if k == 0 or ordered[k - 1].speaker != u.speaker
    ]
    talk_by: dict[str, float] = {}
    for spk in dict.fromkeys(u.speaker for u in ordered):
        talk_by[spk] = _length(merge_spans((u.start, u.end) for u in utts if u.speaker == spk))
    total_talk = sum(talk_by.values())
    speakers: list[SpeakerMetrics] = []
    for spk, spk_talk in talk_by.items():
        idx = [i for i in order if utts[i].speaker == spk]
        words = sum(_word_count(utts[i]) for i in idx)
        quarters = tuple(
            _mean([scores[i].score for i in idx if scores[i].quarter == q]) for q in (1, 2, 3, 4)
        )
        speakers.append(
            SpeakerMetrics(
                speaker=spk,
                role=next((utts[i].role for i in idx if utts[i].role), None),
                talk_s=round(spk_talk, _T),
                talk_ratio=round(spk_talk / total_talk, 4) if total_talk > 0 else 0.0,
                words=words,
                wpm=round(words / (spk_talk / 60), 2) if spk_talk > 0 else None,
                loudness_dbfs=_mean_dbfs(
                    [(db, utts[i].end - utts[i].start) for i in idx if (db := loud[i]) is not None]
                ),
                longest_monologue_s=_longest_monologue(spk, ordered, opts.monologue_gap_s),
                turns=turn_runs.count(spk),
                questions=sum(count_questions(utts[i].text) for i in idx),
                sentiment_mean=_mean([scores[i].score for i in idx]),
                sentiment_quarters=quarters,
            )
        )

    metrics = CallMetrics(
        duration_s=round(duration, _T),
        talk_s=round(talk, _T),
        non_talk_s=round(max(duration - talk, 0.0), _T),
        speakers=tuple(speakers),
        silences=tuple(silences),
        interruptions=tuple(interruptions),
        overlap_s=round(float(sum(i.overlap_s for i in interruptions)), _T),
        latencies=tuple(latencies),
        latency_median_s=round(float(np.median(lat)), _T) if lat.size else None,
        latency_p90_s=round(float(np.percentile(lat, 90)), _T) if lat.size else None,
        utterance_sentiment=tuple(scores),
        customer_trend=_trend(scores, CUSTOMER, opts),
        utterance_loudness=loud,
        options=opts,
    )
    log.debug("metrics: %d utterances, %s", len(utts), metrics.summary())
    return metrics


def utterance_loudness(utterances: Sequence[Utterance], audio: DecodedAudio) -> list[float | None]:
    """RMS loudness (dBFS, full scale = RMS 1.0, so a full-scale sine reads -3.01) of each
    utterance's span, from its own channel in stereo or from the mono mix; None when the
    span holds no samples. Digital silence reads ``DBFS_FLOOR``."""
    sr = audio.sample_rate
    mono: np.ndarray | None = None
    out: list[float | None] = []
    for u in utterances:
        if audio.n_channels > 1 and u.channel is not None and 0 <= u.channel < audio.n_channels:
            signal = audio.channels[u.channel]
        else:
            mono = audio.mono() if mono is None else mono
            signal = mono
        a, b = max(round(u.start * sr), 0), min(round(u.end * sr), len(signal))
        if b <= a:
            out.append(None)
            continue
        seg = signal[a:b].astype(np.float64)
        rms = float(np.sqrt(np.mean(seg * seg)))
        out.append(round(max(20 * math.log10(rms), DBFS_FLOOR) if rms > 0 else DBFS_FLOOR, 2))
    return out
