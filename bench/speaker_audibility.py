"""Is every reference speaker of a labelled set audible and found by the VAD?

Usage: python bench/speaker_audibility.py [--set DIR ...] [--floor-db 6]

A diarizer cannot count a speaker whose speech never reaches it. Per call and reference
speaker this prints the speaker's solo speech (no other reference speaker talking), the
level of that speech above the call's non-speech level (median and 90th percentile of
10 ms frame energies, dB) and the share of it the clustering diarizer's VAD (Silero, the
default ClusteringOptions) marks as speech. Speakers whose 90th percentile is less than
``--floor-db`` above the non-speech level, or whose VAD coverage is under 30 %, are
flagged: on them a speaker-count miss says nothing about embeddings or clustering.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.audio import decode
from analytics.diarization import ClusteringOptions
from analytics.diarization.embeddings import speech_regions
from analytics.evaluation import labelled_set

FRAME = 160  # 10 ms at 16 kHz
DEFAULT_SETS = ["data/real/tel-dev", "data/real/ami-dev", "data/diarization"]


def frame_db(samples: np.ndarray) -> np.ndarray:
    """Energy (dBFS) of each 10 ms frame."""
    n = len(samples) // FRAME
    frames = samples[: n * FRAME].reshape(n, FRAME).astype(np.float64)
    out: np.ndarray = 10 * np.log10(np.mean(frames**2, axis=1) + 1e-12)
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", action="append", dest="sets", help="labelled set folder(s)")
    ap.add_argument("--floor-db", type=float, default=6.0, help="flag below this (dB)")
    args = ap.parse_args()
    opts = ClusteringOptions()
    head = f"{'call':24} {'speaker':16} {'solo s':>7} {'p50 dB':>7} {'p90 dB':>7} {'VAD':>5}"
    for folder in [Path(s) for s in args.sets or DEFAULT_SETS]:
        if not folder.is_dir():
            print(f"{folder}: missing (run scripts/fetch_real_sets.py)")
            continue
        print(f"\n{folder}\n{head}\n{'-' * len(head)}")
        flagged = total = 0
        for call in labelled_set(folder):
            samples = decode(call.audio).mono()
            energy = frame_db(samples)
            n = len(energy)
            turns = call.reference["turns"]
            speakers = sorted({t["speaker"] for t in turns})
            talk = np.zeros((n, len(speakers)), dtype=bool)
            for t in turns:
                talk[int(t["start"] * 100) : int(t["end"] * 100), speakers.index(t["speaker"])] = (
                    True
                )
            vad = np.zeros(n, dtype=bool)
            regions = speech_regions(
                samples, opts.vad_threshold, opts.vad_min_silence_ms, opts.vad_speech_pad_ms
            )
            for a, b in regions:
                vad[int(a * 100) : int(b * 100)] = True
            quiet = ~talk.any(axis=1)
            floor = float(np.median(energy[quiet])) if quiet.any() else float(energy.min())
            for j, spk in enumerate(speakers):
                solo = talk[:, j] & ~np.delete(talk, j, axis=1).any(axis=1)
                if not solo.any():
                    continue
                p50, p90 = (float(np.percentile(energy[solo], q)) - floor for q in (50, 90))
                cover = float(vad[solo].mean())
                bad = p90 < args.floor_db or cover < 0.3
                flagged += bad
                total += 1
                print(
                    f"{call.call_id[:24]:24} {spk[:16]:16} {solo.sum() / 100:7.1f} "
                    f"{p50:7.1f} {p90:7.1f} {cover:5.2f}{'  <- inaudible/unfound' if bad else ''}"
                )
        print(f"{flagged} of {total} speaker(s) flagged in {folder.name}")


if __name__ == "__main__":
    main()
