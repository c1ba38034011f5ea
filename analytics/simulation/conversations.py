"""Simulated conversations from real single-speaker utterances.

The standard recipe of diarization research: utterances of different real speakers are
placed in alternating turns with pauses drawn from conversational statistics, some
hand-overs overlapping, short backchannels of the listener over the talker, each speaker
at their own level (quiet speakers included). The result is a mixture (mono) and one
track per speaker (for stereo calls), with exact reference turns.

Deterministic: everything random comes from the ``rng`` passed in.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np

from analytics.simulation.telephone import rms

RATE = 16_000


@dataclass(frozen=True)
class Segment:
    """A stretch of one speaker alone in a source recording (seconds)."""

    source: str
    speaker: str
    start: float
    end: float

    @property
    def duration(self) -> float:
        return self.end - self.start


@dataclass(frozen=True)
class RefTurn:
    """A reference turn: who talks from ``start`` to ``end`` (seconds)."""

    speaker: str
    start: float
    end: float
    backchannel: bool = False


@dataclass(frozen=True)
class ConversationOptions:
    """Shape of a simulated conversation (defaults follow telephone-call statistics)."""

    #: Target length (seconds); the last turn may run past it.
    duration_s: float = 60.0
    #: Leading silence before the first word (seconds).
    lead_s: tuple[float, float] = (0.3, 1.2)
    #: Utterances per turn.
    turn_utterances: tuple[int, int] = (1, 3)
    #: Longest piece of a source segment used as one utterance (seconds).
    max_utterance_s: float = 7.0
    #: Probability that a hand-over overlaps the previous turn, and by how much.
    overlap_p: float = 0.15
    overlap_s: tuple[float, float] = (0.1, 0.6)
    #: Ordinary pause at a hand-over (seconds), and a rarer long pause.
    pause_s: tuple[float, float] = (0.15, 1.0)
    long_pause_p: float = 0.1
    long_pause_s: tuple[float, float] = (1.5, 3.0)
    #: Probability of a listener backchannel inside a turn of at least 3 s, and its length.
    backchannel_p: float = 0.3
    backchannel_s: tuple[float, float] = (0.3, 0.8)
    #: Each speaker's level relative to the loudest (dB): quiet speakers.
    level_db: tuple[float, float] = (-8.0, 0.0)
    #: Speech level of the loudest speaker (dBFS).
    speech_dbfs: float = -22.0


@dataclass
class Conversation:
    """A simulated conversation: one track per speaker (16 kHz) and the reference turns."""

    speakers: tuple[str, ...]
    tracks: dict[str, np.ndarray]
    turns: list[RefTurn] = field(default_factory=list)

    @property
    def mixture(self) -> np.ndarray:
        mix = np.sum(np.stack(list(self.tracks.values())), axis=0)
        peak = float(np.max(np.abs(mix))) if mix.size else 0.0
        return (mix / peak * 0.95 if peak > 0.95 else mix).astype(np.float32)

    def speech_mask(self) -> np.ndarray:
        n = len(next(iter(self.tracks.values())))
        mask = np.zeros(n, dtype=bool)
        for t in self.turns:
            mask[int(t.start * RATE) : int(t.end * RATE)] = True
        return mask


def solo_segments(
    turns: Sequence[tuple[str, float, float]],
    source: str,
    min_s: float = 1.0,
    margin_s: float = 0.2,
) -> list[Segment]:
    """Stretches where one speaker talks alone (no other speaker within ``margin_s``),
    at least ``min_s`` long, from reference turns (speaker, start, end) of one recording."""
    out: list[Segment] = []
    for spk, start, end in turns:
        others = sorted(
            (a - margin_s, b + margin_s) for s, a, b in turns if s != spk and b > start and a < end
        )
        pieces = [(start, end)]
        for a, b in others:
            nxt = []
            for p, q in pieces:
                if b <= p or a >= q:
                    nxt.append((p, q))
                    continue
                if a > p:
                    nxt.append((p, a))
                if b < q:
                    nxt.append((b, q))
            pieces = nxt
        out += [Segment(source, spk, p, q) for p, q in pieces if q - p >= min_s]
    return out


def _fade(x: np.ndarray, ms: float = 10.0) -> np.ndarray:
    n = min(int(RATE * ms / 1000), len(x) // 2)
    if n > 0:
        ramp = np.linspace(0.0, 1.0, n, dtype=np.float32)
        x = x.copy()
        x[:n] *= ramp
        x[-n:] *= ramp[::-1]
    return x


def _piece(audio: np.ndarray, rng: np.random.Generator, longest_s: float) -> np.ndarray:
    """A random stretch of at most ``longest_s`` of a segment's audio."""
    n = int(longest_s * RATE)
    if len(audio) > n:
        a = int(rng.integers(0, len(audio) - n + 1))
        audio = audio[a : a + n]
    return _fade(audio)


def voiced(
    x: np.ndarray, floor_db: float = 35.0, min_pause_s: float = 0.3, frame_s: float = 0.02
) -> list[tuple[float, float]]:
    """Voiced stretches (seconds) of one clean utterance: its pauses of at least
    ``min_pause_s`` whose frames are ``floor_db`` below the utterance's loud frames (95th
    percentile) are cut out of the reference, as a speaker's labels would be."""
    hop = int(frame_s * RATE)
    n = len(x) // hop
    if n == 0:
        return [(0.0, len(x) / RATE)]
    power = 10 * np.log10(np.mean(x[: n * hop].reshape(n, hop) ** 2, axis=1) + 1e-12)
    loud = power >= np.percentile(power, 95) - floor_db
    out: list[tuple[float, float]] = []
    start: int | None = None
    quiet = 0
    pause = int(min_pause_s / frame_s)
    for i, on in enumerate(loud):
        if on:
            if start is None:
                start = i
            quiet = 0
        elif start is not None:
            quiet += 1
            if quiet >= pause:
                out.append((start * frame_s, (i - quiet + 1) * frame_s))
                start, quiet = None, 0
    if start is not None:
        out.append((start * frame_s, (n - quiet) * frame_s))
    return [(a, b) for a, b in out if b - a >= 0.1] or [(0.0, len(x) / RATE)]


def simulate(
    speakers: Sequence[str],
    utterances: Mapping[str, Sequence[np.ndarray]],
    rng: np.random.Generator,
    opts: ConversationOptions | None = None,
) -> Conversation:
    """A conversation between ``speakers`` (1-4) from their ``utterances`` (16 kHz
    float32 clips of each speaker alone). One speaker gives a voicemail-like monologue."""
    opts = opts or ConversationOptions()
    levels = {s: float(rng.uniform(*opts.level_db)) for s in speakers}
    levels[max(levels, key=lambda s: levels[s])] = 0.0
    target = 10 ** (opts.speech_dbfs / 20)
    placed: list[tuple[str, int, np.ndarray, bool]] = []
    turns: list[RefTurn] = []

    def take(spk: str, longest: float) -> np.ndarray:
        pool = utterances[spk]
        x = _piece(pool[int(rng.integers(0, len(pool)))], rng, longest)
        return (x * target / max(rms(x), 1e-9) * 10 ** (levels[spk] / 20)).astype(np.float32)

    def put(spk: str, t: float, x: np.ndarray, backchannel: bool = False) -> float:
        placed.append((spk, int(t * RATE), x, backchannel))
        turns.extend(RefTurn(spk, t + a, t + b, backchannel) for a, b in voiced(x))
        return t + len(x) / RATE

    t = float(rng.uniform(*opts.lead_s))
    current = speakers[0]
    while t < opts.duration_s:
        turn_start = t
        for i in range(int(rng.integers(opts.turn_utterances[0], opts.turn_utterances[1] + 1))):
            if i:
                t += float(rng.uniform(0.15, 0.5))
            t = put(current, t, take(current, opts.max_utterance_s))
        others = [s for s in speakers if s != current]
        if others and t - turn_start >= 3.0 and rng.random() < opts.backchannel_p:
            who = others[int(rng.integers(0, len(others)))]
            at = float(rng.uniform(turn_start + 1.0, t - 1.5))
            put(who, at, take(who, float(rng.uniform(*opts.backchannel_s))), backchannel=True)
        if not others:
            t += float(rng.uniform(0.5, 2.0))
            continue
        nxt = others[int(rng.integers(0, len(others)))]
        r = rng.random()
        if r < opts.overlap_p:
            t = max(turn_start + 0.5, t - float(rng.uniform(*opts.overlap_s)))
        elif r < opts.overlap_p + opts.long_pause_p:
            t += float(rng.uniform(*opts.long_pause_s))
        else:
            t += float(rng.uniform(*opts.pause_s))
        current = nxt
    length = max(pos + len(x) for _, pos, x, _ in placed) + int(rng.uniform(0.3, 1.0) * RATE)
    tracks = {s: np.zeros(length, dtype=np.float32) for s in speakers}
    for spk, pos, x, _ in placed:
        tracks[spk][pos : pos + len(x)] += x
    turns.sort(key=lambda u: (u.start, u.end))
    return Conversation(tuple(speakers), tracks, turns)
