"""process_call vs raw faster-whisper on the same file and model.

Usage: python bench/transcribe.py FILE [--runs 5] [--model tiny.en]

"Raw" is what a user would write by hand for the same output: faster-whisper's own
decode_audio (split per channel for stereo) and WhisperModel.transcribe on each channel
with exactly the same options (beam, VAD, guards, word timestamps), consuming every
segment. process_call adds PyAV decoding, utterance building and conversation metrics. Both use the
same loaded model. Prints medians and the ratio process_call / raw.
"""

from __future__ import annotations

import argparse
import logging
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from faster_whisper import decode_audio

from analytics.models import CallMetadata
from analytics.pipeline import process_call
from analytics.transcription.channels import ChannelCallTranscriber
from analytics.transcription.faster_whisper import (
    FasterWhisperOptions,
    FasterWhisperTranscriber,
)


def raw_faster_whisper(path: Path, t: FasterWhisperTranscriber, channels: int) -> int:
    o = t.options
    audio = decode_audio(str(path), split_stereo=channels == 2)
    parts = list(audio) if channels == 2 else [audio]
    n = 0
    for part in parts:
        language = o.language or ("en" if not t.multilingual else None)
        segments, _ = t.model.transcribe(part, **t.transcribe_kwargs(language))
        n += sum(len(s.words or ()) for s in segments)
    return n


def compare(file: Path, runs: int = 5, model: str = "tiny.en") -> None:
    """Print the process_call vs raw faster-whisper table for one file."""
    args = argparse.Namespace(file=file, runs=runs, model=model)
    t = FasterWhisperTranscriber(FasterWhisperOptions(model=args.model))
    engine = ChannelCallTranscriber(t)
    md = CallMetadata(args.file.stem)
    warm = process_call(args.file, transcriber=engine, metadata=md, source_uri=str(args.file))
    raw_s: list[float] = []
    ours_s: list[float] = []
    for i in range(args.runs):
        # alternate the order so neither side always runs on a warmer cache
        order = ("raw", "ours") if i % 2 == 0 else ("ours", "raw")
        for which in order:
            t0 = time.perf_counter()
            if which == "raw":
                raw_faster_whisper(args.file, t, warm.channels)
                raw_s.append(time.perf_counter() - t0)
            else:
                process_call(args.file, transcriber=engine, metadata=md, source_uri=str(args.file))
                ours_s.append(time.perf_counter() - t0)
    raw_med, ours_med = statistics.median(raw_s), statistics.median(ours_s)
    audio = warm.duration_s
    rows = [
        ("raw faster-whisper", raw_med, min(raw_s), max(raw_s)),
        ("process_call", ours_med, min(ours_s), max(ours_s)),
    ]
    print(
        f"file: {args.file}  ({audio:.1f} s audio, {warm.channels} ch, model {args.model}, "
        f"{args.runs} runs each, median)"
    )
    print(f"{'':20s} {'median s':>9s} {'min s':>7s} {'max s':>7s} {'RTF':>7s}")
    for name, med, lo, hi in rows:
        print(f"{name:20s} {med:9.2f} {lo:7.2f} {hi:7.2f} {med / audio:7.3f}")
    print(f"ratio process_call / raw: {ours_med / raw_med:.3f}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("file", type=Path)
    ap.add_argument("--runs", type=int, default=5)
    ap.add_argument("--model", default="tiny.en")
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    compare(args.file, args.runs, args.model)


if __name__ == "__main__":
    main()
