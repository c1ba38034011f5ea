"""Words onto speaker turns: an interval index, word attribution, turn edges snapped to
words, overlap regions and speaker streams rebuilt from words.

Attribution is O((W + T) log T) for W words and T turns: turns sorted by start with a
running maximum of their ends (numpy ``searchsorted``), so each word looks only at the
few turns that can overlap it.

Overlapped speech: turns may overlap; the overlap is kept in the turn list and listed as
an :class:`OverlapRegion`. Each *word* still goes to exactly one speaker (a transcript
word is one person's word): the turn covering most of it, and when several turns cover
it about equally (inside an overlap), the ``prefer`` callback decides (the clustering
diarizer picks the speaker whose voice embedding matches the word's audio better); without
one, the speaker of the previous word keeps it.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from analytics.align import SpeakerStream
from analytics.diarization.base import DiarizationResult, OverlapRegion, SpeakerTurn
from analytics.models import Word

#: Chooses a speaker for a word among candidate speakers (overlapped speech).
Prefer = Callable[[Word, Sequence[str]], str]

#: Two turns covering a word within this many seconds of each other are a tie.
TIE_S = 0.02


class TurnIndex:
    """Interval index over speaker turns (sorted starts + running max of ends)."""

    def __init__(self, turns: Sequence[SpeakerTurn]) -> None:
        self.turns = tuple(sorted(turns, key=lambda t: (t.start, t.end)))
        self.starts = np.array([t.start for t in self.turns], dtype=np.float64)
        self.ends = np.array([t.end for t in self.turns], dtype=np.float64)
        self.max_ends = np.maximum.accumulate(self.ends) if len(self.ends) else self.ends
        #: index of the turn holding max_ends[i]
        self._argmax_ends = np.zeros(len(self.ends), dtype=np.int64)
        for i in range(1, len(self.ends)):
            prev = self._argmax_ends[i - 1]
            self._argmax_ends[i] = i if self.ends[i] >= self.ends[prev] else prev

    def __len__(self) -> int:
        return len(self.turns)

    def overlapping(self, start: float, end: float) -> list[int]:
        """Indices of turns that overlap [start, end] (touching counts for zero-length)."""
        if not self.turns:
            return []
        hi = int(np.searchsorted(self.starts, end, side="right"))
        lo = int(np.searchsorted(self.max_ends, start, side="left"))
        return [i for i in range(lo, hi) if self.ends[i] >= start and self.starts[i] <= end]

    def nearest(self, t: float) -> int:
        """Index of the turn closest to time ``t`` (0 s away when a turn contains it)."""
        inside = self.overlapping(t, t)
        if inside:
            return inside[0]
        i = int(np.searchsorted(self.starts, t, side="right"))  # turns[:i] start <= t
        best, best_d = -1, float("inf")
        if i > 0:  # the earlier turn that ends last
            j = int(self._argmax_ends[i - 1])
            best, best_d = j, t - self.ends[j]
        if i < len(self.turns) and self.starts[i] - t < best_d:
            best = i
        return best


def attribute_words(
    words: Sequence[Word], turns: Sequence[SpeakerTurn], prefer: Prefer | None = None
) -> list[str]:
    """The speaker of every word (same order as ``words``); never drops a word.

    A word goes to the turn it overlaps most; a word outside every turn goes to the
    nearest turn. Near-ties (overlapped speech) go to ``prefer`` when given, else to the
    previous word's speaker when it is a candidate, else to the earlier turn.
    """
    index = TurnIndex(turns)
    if not len(index):
        raise ValueError("cannot attribute words without any speaker turn")
    out: list[str] = []
    previous: str | None = None
    order = sorted(range(len(words)), key=lambda k: (words[k].start, words[k].end))
    speakers: dict[int, str] = {}
    for k in order:
        w = words[k]
        candidates = index.overlapping(w.start, w.end)
        if not candidates:
            speaker = index.turns[index.nearest((w.start + w.end) / 2)].speaker
        else:
            cover = [
                (min(w.end, index.ends[i]) - max(w.start, index.starts[i]), i) for i in candidates
            ]
            best = max(c for c, _ in cover)
            tied = [index.turns[i].speaker for c, i in cover if c >= best - TIE_S]
            tied = list(dict.fromkeys(tied))
            if len(tied) == 1:
                speaker = tied[0]
            elif prefer is not None:
                speaker = prefer(w, tied)
            elif previous in tied:
                speaker = previous
            else:
                speaker = tied[0]
        speakers[k] = speaker
        previous = speaker
    out = [speakers[k] for k in range(len(words))]
    return out


def snap_turns(
    turns: Sequence[SpeakerTurn], words: Sequence[Word], speakers: Sequence[str]
) -> list[SpeakerTurn]:
    """Move turn edges that cut through a word to that word's edge.

    An edge inside a word of the same speaker grows to include the whole word; an edge
    inside another speaker's word shrinks to leave the word out (unless that would empty
    the turn). Same-speaker turns that then touch are merged.
    """
    by_speaker: dict[str, list[Word]] = defaultdict(list)
    for w, s in zip(words, speakers, strict=True):
        by_speaker[s].append(w)
    all_words = sorted(zip(words, speakers, strict=True), key=lambda p: p[0].start)
    starts = np.array([w.start for w, _ in all_words])
    out: list[SpeakerTurn] = []
    for turn in turns:
        start, end = turn.start, turn.end
        for edge in (turn.start, turn.end):
            # words whose span contains the edge: start < edge < end
            i = int(np.searchsorted(starts, edge, side="left"))
            for j in range(max(0, i - 8), i):
                w, s = all_words[j]
                if not w.start < edge < w.end:
                    continue
                if s == turn.speaker:
                    start, end = min(start, w.start), max(end, w.end)
                elif edge == turn.start and w.end < end:
                    start = max(start, w.end)
                elif edge == turn.end and w.start > start:
                    end = min(end, w.start)
        if end > start:
            out.append(SpeakerTurn(turn.speaker, start, end))
    return merge_turns(out)


def merge_turns(turns: Sequence[SpeakerTurn], gap_s: float = 0.0) -> list[SpeakerTurn]:
    """Merge turns of the same speaker that overlap or are at most ``gap_s`` apart."""
    out: list[SpeakerTurn] = []
    last: dict[str, int] = {}
    for t in sorted(turns, key=lambda t: (t.start, t.end)):
        j = last.get(t.speaker)
        if j is not None and t.start - out[j].end <= gap_s:
            prev = out[j]
            out[j] = SpeakerTurn(t.speaker, prev.start, max(prev.end, t.end))
            continue
        last[t.speaker] = len(out)
        out.append(t)
    return sorted(out, key=lambda t: (t.start, t.end))


def overlap_regions(turns: Sequence[SpeakerTurn], min_s: float = 0.0) -> list[OverlapRegion]:
    """Stretches where turns of different speakers overlap (a sweep over sorted turns)."""
    edges: list[tuple[float, int, str]] = []
    for t in turns:
        if t.end > t.start:
            edges.append((t.start, 1, t.speaker))
            edges.append((t.end, -1, t.speaker))
    edges.sort(key=lambda e: (e[0], e[1]))  # ends before starts at the same instant
    active: dict[str, int] = defaultdict(int)
    out: list[OverlapRegion] = []
    open_at: float | None = None
    for time, delta, speaker in edges:
        talking = tuple(sorted(s for s, n in active.items() if n > 0))
        if open_at is not None and len(talking) >= 2 and time > open_at:
            region = OverlapRegion(open_at, time, talking)
            if out and out[-1].end == region.start and out[-1].speakers == region.speakers:
                region = OverlapRegion(out[-1].start, time, talking)
                out.pop()
            out.append(region)
        active[speaker] += delta
        open_at = time
    return [r for r in out if r.end - r.start >= min_s]


def build_streams(
    words: Sequence[Word],
    speakers: Sequence[str],
    order: Sequence[str] = (),
    roles: dict[str, str | None] | None = None,
) -> tuple[SpeakerStream, ...]:
    """One stream per speaker (in ``order``, then first appearance), words in time order."""
    grouped: dict[str, list[Word]] = {s: [] for s in order}
    for w, s in sorted(zip(words, speakers, strict=True), key=lambda p: p[0].start):
        grouped.setdefault(s, []).append(w)
    roles = roles or {}
    return tuple(SpeakerStream(s, roles.get(s), tuple(ws)) for s, ws in grouped.items())


def turns_from_words(words: Sequence[Word], speaker: str, gap_s: float = 0.6) -> list[SpeakerTurn]:
    """Turns of one speaker from word times: words closer than ``gap_s`` join one turn."""
    out: list[SpeakerTurn] = []
    for w in sorted(words, key=lambda w: w.start):
        if out and w.start - out[-1].end <= gap_s:
            out[-1] = SpeakerTurn(speaker, out[-1].start, max(out[-1].end, w.end))
        else:
            out.append(SpeakerTurn(speaker, w.start, w.end))
    return out


def assemble(
    method: str,
    turns: Sequence[SpeakerTurn],
    words: Sequence[Word],
    prefer: Prefer | None = None,
    params: dict[str, Any] | None = None,
) -> DiarizationResult:
    """Turns + transcript words -> a result: words attributed, turn edges snapped to
    words, streams rebuilt (speakers in order of first turn), overlaps listed."""
    turns = sorted(turns, key=lambda t: (t.start, t.end))
    if not turns and words:  # nothing heard by the diarizer, yet there are words
        turns = [SpeakerTurn("spk0", min(w.start for w in words), max(w.end for w in words))]
    order = list(dict.fromkeys(t.speaker for t in turns))
    labels = attribute_words(words, turns, prefer) if words else []
    if words:
        turns = snap_turns(turns, words, labels)
    streams = build_streams(words, labels, order=order)
    return DiarizationResult(
        method=method,
        turns=tuple(turns),
        streams=streams,
        overlaps=tuple(overlap_regions(turns)),
        params=dict(params or {}),
    )
