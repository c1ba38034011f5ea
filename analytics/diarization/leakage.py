"""Cross-channel leakage in stereo calls: echo, sidetone and crosstalk put a quiet copy of
each side into the other channel, and a per-channel engine transcribes it a second time.

A stretch of a channel is *leakage* when that channel is not clearly louder, relative to
the other channel, than the line's coupling: ``own_db - other_db < coupling_db +
margin_db``. The coupling (how loud the far side arrives in this channel) is estimated
per call and direction from the frames where the far side talks alone (its loudest
frames while this channel is quiet), so speakers at different levels and lines with
different echo keep working; short backchannels over the other speaker stay with their
own channel, being far above the coupling.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from analytics.models import Word

RATE = 16_000
FRAME_S = 0.01


@dataclass(frozen=True)
class LeakageGate:
    """Options of the leakage gate (0 < margin; see the module docs)."""

    #: How far above the coupling a channel must be to count as its own speech (dB).
    margin_db: float = 6.0
    #: Coupling assumed when a call has too few single-talk frames to estimate it (dB).
    default_coupling_db: float = -20.0
    #: Coupling estimates are clamped to this range (dB).
    coupling_range_db: tuple[float, float] = (-40.0, -3.0)
    #: Leakage runs shorter than this are not cut out of a channel's turns (seconds).
    min_cut_s: float = 0.2


def frame_levels(channels: Sequence[np.ndarray]) -> np.ndarray:
    """Per-channel power per 10 ms frame, in dB: shape (channels, frames)."""
    hop = int(FRAME_S * RATE)
    n = min(len(c) for c in channels) // hop
    out = np.empty((len(channels), n))
    for i, c in enumerate(channels):
        frames = c[: n * hop].astype(np.float64).reshape(n, hop)
        out[i] = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    return out


def coupling_db(levels: np.ndarray, src: int, dst: int, gate: LeakageGate) -> float:
    """How loud channel ``src`` arrives in channel ``dst`` (dB, median of dst - src over
    frames where src is in its loudest fifth and dst is at most its median)."""
    s, d = levels[src], levels[dst]
    if s.size < 50:
        return gate.default_coupling_db
    mask = (s >= np.percentile(s, 80)) & (d <= np.percentile(d, 50))
    if mask.sum() < 20:
        return gate.default_coupling_db
    lo, hi = gate.coupling_range_db
    return float(np.clip(np.median(d[mask] - s[mask]), lo, hi))


def _span_db(level: np.ndarray, a: int, b: int) -> float:
    seg = level[a : max(b, a + 1)]
    return float(10 * np.log10(np.mean(10 ** (seg / 10)))) if seg.size else -100.0


def own_words(
    words: Sequence[Word], levels: np.ndarray, own: int, gate: LeakageGate
) -> tuple[list[Word], list[Word]]:
    """(kept, leaked) words of channel ``own`` in a two-channel call."""
    other = 1 - own
    c = coupling_db(levels, other, own, gate)
    kept, leaked = [], []
    n = levels.shape[1]
    for w in words:
        a, b = min(int(w.start / FRAME_S), n - 1), min(int(np.ceil(w.end / FRAME_S)), n)
        diff = _span_db(levels[own], a, b) - _span_db(levels[other], a, b)
        (kept if diff >= c + gate.margin_db else leaked).append(w)
    return kept, leaked


def own_regions(
    regions: Sequence[tuple[float, float]], levels: np.ndarray, own: int, gate: LeakageGate
) -> list[tuple[float, float]]:
    """Speech regions of channel ``own`` with the leaked stretches cut out."""
    from scipy.ndimage import median_filter

    other = 1 - own
    c = coupling_db(levels, other, own, gate)
    diff = median_filter(levels[own] - levels[other], size=15, mode="nearest")
    mine = diff >= c + gate.margin_db
    min_cut = round(gate.min_cut_s / FRAME_S)
    n = len(mine)
    out: list[tuple[float, float]] = []
    for start, end in regions:
        a, b = min(round(start / FRAME_S), n), min(round(end / FRAME_S), n)
        seg = mine[a:b].copy()
        # leakage runs shorter than min_cut stay (a dip inside one's own speech)
        i = 0
        while i < len(seg):
            if not seg[i]:
                j = i
                while j < len(seg) and not seg[j]:
                    j += 1
                if j - i < min_cut:
                    seg[i:j] = True
                i = j
            else:
                i += 1
        i = 0
        while i < len(seg):
            if seg[i]:
                j = i
                while j < len(seg) and seg[j]:
                    j += 1
                out.append(((a + i) * FRAME_S, (a + j) * FRAME_S))
                i = j
            else:
                i += 1
    return out
