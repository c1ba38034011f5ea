"""Cross-channel leakage in stereo calls: echo, sidetone and crosstalk put a quiet copy of
each side into the other channel, and a per-channel engine transcribes it a second time.

A stretch of a channel is its *own* speech when ``(own_db - other_db) + (own_db -
loud_db) >= -threshold_db``: how much louder this channel is than the other at that
moment, plus how close it is to this channel's own loud level (its 95th percentile
frame). Leakage is quieter than the other channel (the source) *and* far below the
channel's own speech; a quiet speaker's backchannel over a loud far side is close to its
own channel's level, and stays. The threshold was set on the stereo dev set
(data/real/stereo-dev: leakage -25..-10 dB, noise 5-20 dB SNR).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics.models import Word

RATE = 16_000
FRAME_S = 0.01


@dataclass(frozen=True)
class LeakageGate:
    """Options of the leakage gate (see the module docs)."""

    #: Own speech when (own - other) + (own - own loud level) is at least -threshold (dB).
    threshold_db: float = 10.0
    #: Percentile of a channel's 10 ms frame levels taken as its loud (speech) level.
    loud_percentile: float = 95.0
    #: Leakage runs shorter than this are not cut out of a channel's turns (seconds).
    min_cut_s: float = 0.2


def frame_levels(channels: Sequence[np.ndarray]) -> np.ndarray:
    """Per-channel power per 10 ms frame, in dB: shape (channels, frames)."""
    hop = int(FRAME_S * RATE)
    n = min(len(c) for c in channels) // hop
    out = np.empty((len(channels), n))
    step = 60_000  # frames per block (10 min): no float64 copy of a whole long call
    for i, c in enumerate(channels):
        for k in range(0, n, step):
            m = min(step, n - k)
            frames = c[k * hop : (k + m) * hop].astype(np.float64).reshape(m, hop)
            out[i, k : k + m] = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-10)
    return out


def own_score(own_db: np.ndarray | float, other_db: np.ndarray | float, loud_db: float) -> Any:
    """(own - other) + (own - loud): >= -threshold_db is the channel's own speech."""
    return (own_db - other_db) + (own_db - loud_db)


def _span_db(level: np.ndarray, a: int, b: int) -> float:
    seg = level[a : max(b, a + 1)]
    return float(10 * np.log10(np.mean(10 ** (seg / 10)))) if seg.size else -100.0


def own_words(
    words: Sequence[Word], levels: np.ndarray, own: int, gate: LeakageGate
) -> tuple[list[Word], list[Word]]:
    """(kept, leaked) words of channel ``own`` in a two-channel call."""
    other = 1 - own
    loud = float(np.percentile(levels[own], gate.loud_percentile)) if levels.size else 0.0
    kept: list[Word] = []
    leaked: list[Word] = []
    n = levels.shape[1]
    for w in words:
        a, b = min(int(w.start / FRAME_S), max(n - 1, 0)), min(int(np.ceil(w.end / FRAME_S)), n)
        mine = _span_db(levels[own], a, b)
        score = own_score(mine, _span_db(levels[other], a, b), loud)
        (kept if score >= -gate.threshold_db else leaked).append(w)
    return kept, leaked


def own_regions(
    regions: Sequence[tuple[float, float]], levels: np.ndarray, own: int, gate: LeakageGate
) -> list[tuple[float, float]]:
    """Speech regions of channel ``own`` with the leaked stretches cut out."""
    from scipy.ndimage import uniform_filter1d

    other = 1 - own
    if levels.shape[1] == 0:
        return list(regions)
    loud = float(np.percentile(levels[own], gate.loud_percentile))
    # 300 ms power averages (about a word), as for words
    power = uniform_filter1d(10 ** (levels / 10), size=31, axis=1, mode="nearest")
    smooth = 10 * np.log10(power + 1e-10)
    mine = own_score(smooth[own], smooth[other], loud) >= -gate.threshold_db
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
