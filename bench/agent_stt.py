"""The live agent's STT: Whisper's 30 s encoder window against shorter ones, on real speech.

Usage: python bench/agent_stt.py [--model tiny.en] [--windows 30 20 15 10] [--threads 2]

Set: the real read utterances of bench/real_speech.py (pocketsphinx sdist, with
transcripts), each decoded as the agent decodes a caller's phrase (``agent.stt.decode``:
greedy, no timestamps, the phone prompt), clean and over a phone line (300-3400 Hz, 8 kHz,
G.711 mu-law, noise at 15 dB SNR). Prints WER (jiwer, whisper's English normalizer) and
the median milliseconds per phrase for each window, and the time ratio to 30 s (the
padding every faster-whisper ``transcribe`` call does).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from agent.stt import decode
from analytics.config import Settings
from analytics.transcription.models import resolve
from bench.real_speech import fetch, telephone, utterances
from bench.transcription_real import wer


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", default="tiny.en")
    ap.add_argument("--windows", type=float, nargs="+", default=[30.0, 20.0, 15.0, 10.0])
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--repeats", type=int, default=3, help="Timed decodes per phrase.")
    args = ap.parse_args()

    from faster_whisper import WhisperModel

    s = Settings()
    path = resolve(args.model, s.model_cache_dir, s.model_download).path
    model = WhisperModel(str(path), device="cpu", compute_type="int8", cpu_threads=args.threads)
    utts = utterances(fetch())
    views = {
        "clean": [u.audio for u in utts],
        "phone": [telephone(u.audio, 15.0, seed=i) for i, u in enumerate(utts)],
    }
    refs = [u.text for u in utts]
    mean_s = statistics.mean(u.duration_s for u in utts)
    print(f"{len(utts)} real utterances, mean {mean_s:.1f} s; model {args.model}")
    print(f"{'window s':>8} {'view':>6} {'WER':>6} {'ms/phrase':>10} {'time vs 30 s':>13}")
    base: dict[str, float] = {}
    for window in args.windows:
        for view, audios in views.items():
            hyps, times = [], []
            for x in audios:
                decode(model, x, context_s=window)  # warm this shape
                took = []
                for _ in range(args.repeats):
                    t0 = time.perf_counter()
                    phrases = decode(model, x, context_s=window)
                    took.append(time.perf_counter() - t0)
                times.append(statistics.median(took))
                hyps.append(" ".join(p.text for p in phrases))
            ms = 1000 * statistics.median(times)
            base.setdefault(view, ms)
            print(
                f"{window:8.0f} {view:>6} {wer(refs, hyps):6.3f} {ms:10.0f}"
                f" {ms / base[view]:12.2f}x"
            )


if __name__ == "__main__":
    main()
