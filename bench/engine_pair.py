"""faster-whisper vs openai-whisper on the same model weights and the same audio.

openai-whisper runs the packaged model converted from CTranslate2 (analytics/transcription/
ct2_to_openai.py), so both engines decode identical weights. Rows, all with the same beam,
temperature fallback and language, every channel of every file transcribed on its own:

  openai-whisper   fp32 (PyTorch on CPU), no VAD (it has none)
  faster-whisper   float32, no VAD   (same precision and work as openai-whisper)
  faster-whisper   int8, no VAD      (the default precision)
  faster-whisper   int8 + VAD        (the default configuration)

Prints wall time, real-time factor, WER against the sidecar references (when present), and
the speed-up over openai-whisper. The first pass of each engine is a warm-up (not timed).
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path
from typing import Any

from analytics.audio import decode
from analytics.evaluation import normalize_text, word_errors
from analytics.transcription.faster_whisper import FasterWhisperOptions, FasterWhisperTranscriber
from analytics.transcription.openai_whisper import OpenAIWhisperOptions, OpenAIWhisperTranscriber

CORES = os.cpu_count() or 2


def _reference(path: Path) -> str | None:
    side = path.with_suffix(".json")
    if not side.exists():
        return None
    ref = json.loads(side.read_text()).get("reference") or {}
    return ref.get("text") or None


def _engines(model: str, beam: int, threads: int) -> list[tuple[str, str, Any]]:
    common: dict[str, Any] = dict(beam_size=beam, language="en")
    fw = dict(model=model, cpu_threads=threads, **common)
    return [
        (
            "openai-whisper",
            "fp32",
            OpenAIWhisperTranscriber(OpenAIWhisperOptions(checkpoint=model, **common)),
        ),
        (
            "faster-whisper",
            "float32",
            FasterWhisperTranscriber(
                FasterWhisperOptions(compute_type="float32", vad_filter=False, **fw)
            ),
        ),
        (
            "faster-whisper",
            "int8",
            FasterWhisperTranscriber(FasterWhisperOptions(vad_filter=False, **fw)),
        ),
        ("faster-whisper", "int8+VAD", FasterWhisperTranscriber(FasterWhisperOptions(**fw))),
    ]


def _text(t: Any, channels: tuple[Any, ...]) -> str:
    """Words of every channel in time order (what a reference transcript follows)."""
    words = sorted((w for ch in channels for w in t.transcribe(ch).words), key=lambda w: w.start)
    return " ".join(w.word for w in words)


def compare_engines(model: str, files: list[Path], beam: int = 5, threads: int = CORES) -> None:
    """Print the side-by-side table for ``model`` over ``files``, each engine on ``threads``
    intra-op threads (torch / CTranslate2)."""
    import torch

    torch.set_num_threads(threads)
    audio = [(f, decode(f).channels) for f in files]
    seconds = sum(len(chs[0]) / 16_000 * len(chs) for _, chs in audio)
    refs = [_reference(f) for f in files]
    print(
        f"\n{model}: openai-whisper vs faster-whisper, {len(files)} files, "
        f"{seconds / 60:.2f} min of channel audio, beam {beam}, {threads} thread(s) each"
    )
    print(
        f"{'engine':15s} {'precision':9s} {'wall s':>7s} {'RTF':>6s} {'WER':>6s} {'speed-up':>8s}"
    )
    base_wall = None
    for engine, precision, t in _engines(model, beam, threads):
        t.transcribe(audio[0][1][0][: 16_000 * 5])  # warm-up: load, JIT, first-call costs
        start = time.perf_counter()
        texts = [_text(t, chs) for _, chs in audio]
        wall = time.perf_counter() - start
        base_wall = base_wall or wall
        scored = [(r, h) for r, h in zip(refs, texts, strict=True) if r]
        n_ref = sum(len(normalize_text(r)) for r, _ in scored)
        errors = sum(word_errors(normalize_text(r), normalize_text(h)) for r, h in scored)
        wer = f"{errors / n_ref:6.3f}" if n_ref else f"{'-':>6s}"
        print(
            f"{engine:15s} {precision:9s} {wall:7.1f} {wall / seconds:6.3f} {wer} "
            f"{base_wall / wall:7.2f}x",
            flush=True,
        )
