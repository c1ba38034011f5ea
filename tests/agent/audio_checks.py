"""Measurements on a stereo call recording (caller ch0, agent ch1), from the audio alone."""

from __future__ import annotations

import numpy as np

from agent.audio import frame_energy_db

FRAME_S = 0.02


def active(x: np.ndarray, rate: int, floor_db: float = -45.0) -> np.ndarray:
    """Per 20 ms frame: is there sound on this channel?"""
    return frame_energy_db(x, rate, FRAME_S) > floor_db


def onsets(mask: np.ndarray, min_gap_frames: int = 15) -> list[int]:
    """Frames where sound starts after at least ``min_gap_frames`` of quiet."""
    out, quiet = [], min_gap_frames
    for i, on in enumerate(mask):
        if on and quiet >= min_gap_frames:
            out.append(i)
        quiet = 0 if on else quiet + 1
    return out


def barge_ins(stereo: np.ndarray, rate: int, quiet_frames: int = 10) -> list[tuple[float, float]]:
    """(caller onset s, ms until the agent channel goes quiet) for every caller onset that
    starts while the agent is talking. Quiet = ``quiet_frames`` (200 ms) without sound."""
    caller, agent = active(stereo[:, 0], rate), active(stereo[:, 1], rate)
    n = min(len(caller), len(agent))
    found = []
    for i in onsets(caller[:n]):
        if not agent[max(0, i - 15) : i + 1].any():
            continue  # the agent was not talking: a normal turn
        j = i
        while j < n and agent[j : j + quiet_frames].any():
            j += 1
        found.append((round(i * FRAME_S, 3), round((j - i) * FRAME_S * 1000)))
    return found


def agent_quiet_after(
    stereo: np.ndarray, rate: int, near_s: float, quiet_frames: int = 10
) -> tuple[float, bool, int]:
    """For caller speech starting near ``near_s`` (the caller's own clock): its onset in the
    recording, whether the agent was talking then, and ms until the agent channel is quiet
    for ``quiet_frames`` (200 ms)."""
    caller, agent = active(stereo[:, 0], rate), active(stereo[:, 1], rate)
    n = min(len(caller), len(agent))
    lo, hi = max(0, int((near_s - 0.5) / FRAME_S)), min(n, int((near_s + 1.0) / FRAME_S))
    hits = [i for i in range(lo, hi) if caller[i]]
    if not hits:
        raise AssertionError(f"no caller speech near {near_s}s in the recording")
    i = hits[0]
    talking = bool(agent[max(0, i - 15) : i + 1].any())
    j = i
    while j < n and agent[j : j + quiet_frames].any():
        j += 1
    return round(i * FRAME_S, 3), talking, round((j - i) * FRAME_S * 1000)
