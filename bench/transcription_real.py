"""WER of the offline whisper models on real human speech, clean and over a phone line,
with and without voice activity detection (and its parameters) and, without VAD, the
hallucination guard (hallucination_silence_threshold, "hs2" = 2 s; with VAD the engine no
longer applies it).

Usage: python bench/transcription_real.py [--models tiny.en base] [--vad off default ...]
       [--snr 15] [--cache data/cache/real-speech]

Set: bench/real_speech.py (real recordings with transcripts from the pocketsphinx sdist,
fetched once with pip). Two views of it:
  utts   every utterance transcribed on its own
  calls  the utterances strung into call-like recordings (lead-in, 1-3 s pauses), where
         VAD and the start-of-call behaviour matter; "first" is the share of the first
         utterance's words (the greeting) that come out
WER: jiwer on whisper's English normalizer applied to reference and hypothesis alike.
Degraded: 300-3400 Hz, 8 kHz, G.711 mu-law, noise at --snr dB (seeded).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from dataclasses import replace
from pathlib import Path

import jiwer
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.transcription.faster_whisper import (
    FasterWhisperOptions,
    FasterWhisperTranscriber,
)
from bench.real_speech import Call, Utterance, calls, fetch, telephone, utterances

#: name -> (vad_filter, threshold, min_silence_ms, speech_pad_ms, hallucination_silence_s)
VAD: dict[str, tuple[bool, float, int, int, float | None]] = {
    "off+hs2": (False, 0.5, 500, 200, 2.0),
    "off": (False, 0.5, 500, 200, None),
    "on": (True, 0.5, 500, 200, None),
    "thr.35": (True, 0.35, 500, 200, None),
    "thr.35pad400": (True, 0.35, 500, 400, None),
    "pad400": (True, 0.5, 500, 400, None),
    "sil2000pad400": (True, 0.5, 2000, 400, None),  # faster-whisper's own VAD defaults
}


def _normalizer() -> object:
    from whisper.normalizers import EnglishTextNormalizer

    return EnglishTextNormalizer()


NORM = _normalizer()


def norm(text: str) -> str:
    return " ".join(NORM(text).split())  # type: ignore[operator]


def wer(refs: list[str], hyps: list[str]) -> float:
    pairs = [(norm(r), norm(h)) for r, h in zip(refs, hyps, strict=True)]
    return float(jiwer.wer([r for r, _ in pairs], [h or "<none>" for _, h in pairs]))


def first_recall(call: Call, hyp: str) -> float:
    """Share of the first utterance's words found in order at the start of the hypothesis."""
    ref = norm(call.first_text).split()
    head = norm(hyp).split()[: len(ref) + 3]
    out = jiwer.process_words(" ".join(ref), " ".join(head) or "<none>")
    hits = sum(a.ref_end_idx - a.ref_start_idx for a in out.alignments[0] if a.type == "equal")
    return hits / len(ref)


def run(
    engine: FasterWhisperTranscriber,
    utts: list[Utterance],
    cs: list[Call],
    degrade: bool,
    snr: float,
) -> tuple[float, float, float, float]:
    """(utterance WER, call WER, first-utterance recall, real-time factor)."""
    audio_s, wall = 0.0, 0.0

    def text(audio: np.ndarray, seed: int) -> str:
        nonlocal audio_s, wall
        if degrade:
            audio = telephone(audio, snr_db=snr, seed=seed)
        t0 = time.perf_counter()
        words = engine.transcribe(audio).words
        wall += time.perf_counter() - t0
        audio_s += len(audio) / 16_000
        return " ".join(w.word for w in words)

    u_hyp = [text(u.audio, i) for i, u in enumerate(utts)]
    c_hyp = [text(c.audio, 100 + i) for i, c in enumerate(cs)]
    first = sum(first_recall(c, h) for c, h in zip(cs, c_hyp, strict=True)) / max(1, len(cs))
    return (
        wer([u.text for u in utts], u_hyp),
        wer([c.text for c in cs], c_hyp),
        first,
        wall / audio_s,
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--models", nargs="+", default=["tiny.en", "base"])
    ap.add_argument("--vad", nargs="+", default=list(VAD), choices=list(VAD))
    ap.add_argument("--snr", type=float, default=15.0, help="SNR (dB) of the degraded copy")
    ap.add_argument("--beam", type=int, default=5)
    ap.add_argument("--language", default=None, help="force a language (default: detect)")
    ap.add_argument("--cache", type=Path, default=Path("data/cache/real-speech"))
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    utts = utterances(fetch(args.cache))
    cs = calls(utts)
    minutes = sum(u.duration_s for u in utts) / 60
    print(
        f"real set: {len(utts)} utterances ({minutes:.2f} min, "
        f"{len({u.speaker for u in utts})} speakers), {len(cs)} calls; beam {args.beam}, "
        f"int8, language {args.language or 'detected'}; "
        f"degraded = phone line at {args.snr:g} dB SNR\n"
    )
    head = f"{'model':8s} {'VAD':13s} {'audio':8s} {'WER utts':>8s} {'WER calls':>9s} "
    print(head + f"{'first':>6s} {'RTF':>6s}")
    for model in args.models:
        base = FasterWhisperOptions(model=model, beam_size=args.beam, language=args.language)
        for name in args.vad:
            on, thr, silence, pad, hs = VAD[name]
            opts = replace(
                base,
                vad_filter=on,
                vad_threshold=thr,
                vad_min_silence_ms=silence,
                vad_speech_pad_ms=pad,
                hallucination_silence_threshold=hs,
            )
            engine = FasterWhisperTranscriber(opts)
            for degrade in (False, True):
                u, c, first, rtf = run(engine, utts, cs, degrade, args.snr)
                cond = "phone" if degrade else "clean"
                print(
                    f"{model:8s} {name:13s} {cond:8s} {u:8.3f} {c:9.3f} {first:6.2f} {rtf:6.3f}",
                    flush=True,
                )


if __name__ == "__main__":
    main()
