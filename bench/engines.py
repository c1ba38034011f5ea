"""Throughput and accuracy per engine / model / mode on the sample calls.

Usage: python bench/engines.py [--models tiny.en base] [--repeat 1] [--samples data/samples]

Modes (same model and beam for all):
  sequential   one call after another, channels one after another, one model worker
               using every core (cpu_threads = cores)
  concurrent   `workers` calls in flight, stereo channels in parallel, model with
               `workers` CTranslate2 workers of cores/workers threads each
  batched      one call at a time through faster-whisper's BatchedInferencePipeline
  conc+batch   both

Prints audio minutes, wall time, real-time factor (wall / audio), WER against the
reference transcripts, and the speed-up over sequential. Then faster-whisper vs openai-whisper
on the same weights (the packaged model converted for openai-whisper) and the same files
(bench/engine_pair.py; --vs-openai, --only-vs). AssemblyAI is not measured: offline it can
only be a local fake (its "WER" would be the canned reference). Then process_call vs raw
faster-whisper on one stereo file (see bench/transcribe.py).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.evaluation import normalize_text, word_errors
from analytics.models import CallMetadata, CallResult
from analytics.pipeline import process_call
from analytics.transcription.channels import ChannelCallTranscriber
from analytics.transcription.faster_whisper import FasterWhisperOptions, FasterWhisperTranscriber
from bench.engine_pair import compare_engines
from bench.transcribe import compare

CORES = os.cpu_count() or 2


def _calls(folder: Path) -> list[tuple[Path, CallMetadata, str]]:
    out = []
    for side in sorted(folder.glob("*.json")):
        data = json.loads(side.read_text())
        audio = next(p for p in folder.glob(side.stem + ".*") if p.suffix != ".json")
        out.append((audio, CallMetadata.from_sidecar(data, side.stem), data["reference"]["text"]))
    return out


def _engine(model: str, mode: str, workers: int) -> ChannelCallTranscriber:
    concurrent = mode.startswith("conc")
    opts = FasterWhisperOptions(
        model=model,
        cpu_threads=max(1, CORES // workers) if concurrent else CORES,
        num_workers=workers if concurrent else 1,
        batch_size=8 if "batch" in mode else 0,
    )
    return ChannelCallTranscriber(FasterWhisperTranscriber(opts), parallel_channels=concurrent)


def run_mode(model: str, mode: str, calls: list, workers: int) -> tuple[float, float, float]:
    """Returns (audio seconds, wall seconds, WER) for one pass over ``calls``."""
    engine = _engine(model, mode, workers)

    def one(item: tuple[Path, CallMetadata, str]) -> CallResult:
        path, md, _ = item
        return process_call(path, transcriber=engine, metadata=md, source_uri=str(path))

    process_call(calls[0][0], transcriber=engine, metadata=calls[0][1], source_uri="warm-up")
    t0 = time.perf_counter()
    if mode.startswith("conc"):
        with ThreadPoolExecutor(max_workers=workers) as pool:
            results = list(pool.map(one, calls))
    else:
        results = [one(c) for c in calls]
    wall = time.perf_counter() - t0
    errors = sum(
        word_errors(normalize_text(ref), normalize_text(r.text))
        for r, (_, _, ref) in zip(results, calls, strict=True)
    )
    n_ref = sum(len(normalize_text(ref)) for _, _, ref in calls)
    return sum(r.duration_s for r in results), wall, errors / n_ref


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["tiny.en", "base"])
    ap.add_argument(
        "--modes", nargs="+", default=["sequential", "concurrent", "batched", "conc+batch"]
    )
    ap.add_argument("--repeat", type=int, default=1, help="passes per mode (median wall)")
    ap.add_argument("--workers", type=int, default=2)
    ap.add_argument("--samples", type=Path, default=Path("data/samples"))
    ap.add_argument(
        "--vs-openai",
        nargs="*",
        default=["tiny.en"],
        help="models to run through both faster-whisper and openai-whisper (none to skip)",
    )
    ap.add_argument(
        "--vs-paths",
        nargs="+",
        type=Path,
        default=[
            Path("data/samples/wrong_number.wav"),
            Path("data/samples/cancellation_retention.wav"),
        ],
        help="recordings for that comparison (references from their sidecars)",
    )
    ap.add_argument("--only-vs", action="store_true", help="skip the faster-whisper modes")
    ap.add_argument("--vs-threads", type=int, default=CORES, help="threads per engine there")
    ap.add_argument(
        "--compare-file",
        type=Path,
        default=Path("data/samples/billing_resolved.wav"),
        help="then: process_call vs raw faster-whisper on this file ('' to skip)",
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    calls = _calls(args.samples)

    print(
        f"{len(calls)} calls from {args.samples}, {CORES} cores, beam 5, int8, "
        f"median of {args.repeat} pass(es)\n"
    )
    head = f"{'engine':15s} {'model':8s} {'mode':11s} {'audio min':>9s} {'wall s':>7s} "
    print(head + f"{'RTF':>6s} {'WER':>6s} {'speed-up':>8s}")
    for model in [] if args.only_vs else args.models:
        base_wall = None
        for mode in args.modes:
            runs = [run_mode(model, mode, calls, args.workers) for _ in range(args.repeat)]
            audio, wer = runs[0][0], runs[0][2]
            wall = statistics.median(r[1] for r in runs)
            base_wall = base_wall or wall
            print(
                f"{'faster-whisper':15s} {model:8s} {mode:11s} {audio / 60:9.2f} {wall:7.1f} "
                f"{wall / audio:6.3f} {wer:6.3f} {base_wall / wall:7.2f}x"
            )
    for model in args.vs_openai:
        compare_engines(model, args.vs_paths, threads=args.vs_threads)
    if args.only_vs:
        return
    if args.compare_file and str(args.compare_file) not in ("", "."):
        print()
        compare(args.compare_file, runs=5, model=args.models[0])


if __name__ == "__main__":
    main()
