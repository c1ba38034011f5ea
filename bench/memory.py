"""Peak memory (RSS) of process_call on long calls, with and without transcription windows.

Usage: python bench/memory.py [--minutes 20 60 180] [--windows 0 600] [--channels 1]
       [--diarizer none|auto] [--stage pipeline|diarizer-audio|diarize]

Each case builds a long 8 kHz telephone call by repeating a committed sample call (its
own speech, pauses kept), then runs ``process_call`` (decode -> transcribe with tiny.en
-> utterances -> metrics) in a fresh child process and reads the child's peak resident
set size from the kernel (``os.wait4``). Prints one row per case: audio minutes,
channels, window, peak RSS, wall time and real-time factor. ``--stage diarizer-audio``
runs only decode and the clustering diarizer's audio front end (Silero VAD, loudness, mel
frames): minutes instead of an hour for a 3-hour call. ``--stage diarize`` runs decode
and the whole configured diarizer (front end, speaker embeddings, clustering) on an empty
transcript: the diarizer's share of the peak without an hour of transcription.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
import wave
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SAMPLE = ROOT / "data" / "samples" / "billing_resolved.wav"

CHILD = """
import json, sys
from analytics.config import Settings
from analytics.models import CallMetadata
from analytics.pipeline import PipelineOptions, process_call
from analytics.transcription import make_transcriber
path, window, diarizer = sys.argv[1], float(sys.argv[2]), sys.argv[3]
settings = Settings(_env_file=None, workers=1, transcribe_window_s=window, diarizer=diarizer)
options = PipelineOptions.from_settings(settings) if diarizer != "none" else PipelineOptions()
result = process_call(path, transcriber=make_transcriber(settings),
                      metadata=CallMetadata("bench"), source_uri=path, options=options)
print(json.dumps({"words": len(result.words), "duration_s": result.duration_s}))
"""

FRONT_END = """
import json, sys
from analytics.audio import decode
from analytics.diarization.embeddings import loudness_gain, mel_frames, speech_regions
samples = decode(sys.argv[1]).mono()
regions = speech_regions(samples)
mel = mel_frames(samples, loudness_gain(samples, regions))
print(json.dumps({"words": 0, "duration_s": len(samples) / 16000}))
"""

DIARIZE = """
import json, sys
from analytics.audio import decode
from analytics.config import Settings
from analytics.models import CallMetadata
from analytics.pipeline import PipelineOptions
from analytics.transcription.base import EngineTranscript
settings = Settings(_env_file=None, workers=1, diarizer="auto")
audio = decode(sys.argv[1])
found = PipelineOptions.from_settings(settings).diarizer.diarize(
    audio, EngineTranscript((), "en", 1.0, "none", audio.duration_s), CallMetadata("bench"))
print(json.dumps({"words": len(found.turns), "duration_s": audio.duration_s}))
"""

STAGES = {"pipeline": CHILD, "diarizer-audio": FRONT_END, "diarize": DIARIZE}


def long_call(minutes: float, channels: int, folder: Path) -> Path:
    """The sample call repeated to ``minutes`` (written in blocks: bounded memory here too)."""
    with wave.open(str(SAMPLE), "rb") as src:
        rate, width, n_src = src.getframerate(), src.getsampwidth(), src.getnchannels()
        frames = src.readframes(src.getnframes())
    if channels == 1 and n_src == 2:  # keep one side: the mono case of a summed line
        step = width * 2
        frames = b"".join(frames[i : i + width] for i in range(0, len(frames), step))
        n_src = 1
    out = folder / f"call_{minutes:g}min_{channels}ch.wav"
    target = int(minutes * 60 * rate) * width * n_src
    with wave.open(str(out), "wb") as dst:
        dst.setnchannels(n_src)
        dst.setsampwidth(width)
        dst.setframerate(rate)
        written = 0
        while written < target:
            block = frames[: target - written]
            dst.writeframes(block)
            written += len(block)
    return out


def run_case(path: Path, window: float, diarizer: str, stage: str = "pipeline") -> dict[str, float]:
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    t0 = time.perf_counter()
    code = STAGES[stage]
    proc = subprocess.Popen(
        [sys.executable, "-c", code, str(path), str(window), diarizer],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    assert proc.stdout is not None
    out = proc.stdout.read()
    _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - t0
    if os.waitstatus_to_exitcode(status) != 0:
        return {"peak_mb": usage.ru_maxrss / 1024, "wall_s": wall, "failed": 1.0}
    info = json.loads(out.decode().strip().splitlines()[-1])
    return {
        "peak_mb": usage.ru_maxrss / 1024,  # Linux reports KiB
        "wall_s": wall,
        "rtf": wall / info["duration_s"],
        "words": info["words"],
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--minutes", type=float, nargs="+", default=[20.0, 60.0, 180.0])
    ap.add_argument("--windows", type=float, nargs="+", default=[600.0])
    ap.add_argument("--channels", type=int, default=1, choices=[1, 2])
    ap.add_argument("--diarizer", default="none", help="none (transcription only) or auto")
    ap.add_argument("--stage", default="pipeline", choices=sorted(STAGES))
    args = ap.parse_args()
    print(f"{'minutes':>7} {'ch':>3} {'window_s':>8} {'peak RSS MB':>11} {'wall s':>8} {'RTF':>6}")
    with tempfile.TemporaryDirectory() as tmp:
        for minutes in args.minutes:
            path = long_call(minutes, args.channels, Path(tmp))
            for window in args.windows:
                r = run_case(path, window, args.diarizer, args.stage)
                rtf = f"{r['rtf']:.3f}" if "rtf" in r else "failed"
                print(
                    f"{minutes:>7g} {args.channels:>3} {window:>8g} {r['peak_mb']:>11.0f}"
                    f" {r['wall_s']:>8.1f} {rtf:>6}",
                    flush=True,
                )
            path.unlink()


if __name__ == "__main__":
    main()
