"""Long recordings in windows, so memory stays bounded whatever the call's length.

faster-whisper computes the log-mel features of the whole array it is given at once (an
STFT of the full signal): a 20-minute call peaks at ~1.4 GB, a 3-hour one would not fit.
``windows()`` cuts the audio into pieces of at most ``window_s`` seconds, each cut at the
quietest 100 ms within the last ``search_s`` seconds before the limit (a pause between
words, not the middle of one); the caller transcribes each piece and shifts its times.
"""

from __future__ import annotations

import numpy as np

_FRAME_S = 0.1


def _quietest_cut(audio: np.ndarray, lo: int, hi: int, rate: int) -> int:
    """Sample index of the start of the quietest 100 ms frame in ``audio[lo:hi]``."""
    frame = max(1, int(_FRAME_S * rate))
    n = (hi - lo) // frame
    if n < 2:
        return hi
    seg = audio[lo : lo + n * frame].astype(np.float32, copy=False).reshape(n, frame)
    energy = np.einsum("ij,ij->i", seg, seg)
    return lo + int(np.argmin(energy)) * frame + frame // 2


def windows(
    n_samples: int, audio: np.ndarray, rate: int, window_s: float, search_s: float = 30.0
) -> list[tuple[int, int]]:
    """(start, end) sample ranges covering ``audio`` in order, none longer than
    ``window_s`` seconds; one range when the audio is short enough (or window_s <= 0)."""
    size = int(window_s * rate)
    if window_s <= 0 or n_samples <= size:
        return [(0, n_samples)]
    search = min(int(search_s * rate), size // 2)
    out: list[tuple[int, int]] = []
    start = 0
    while n_samples - start > size:
        cut = _quietest_cut(audio, start + size - search, start + size, rate)
        out.append((start, cut))
        start = cut
    out.append((start, n_samples))
    return out
