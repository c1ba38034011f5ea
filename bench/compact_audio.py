"""WER of the default engine on calls held as decoded (float32), in float16 (how calls
longer than ``analytics.audio.COMPACT_AFTER_S`` are held) and rounded to 16-bit integers.

Usage: python bench/compact_audio.py [DIR ...]   (default: data/diarization data/real/syn-degraded)

Each DIR holds labelled calls: ``<call>.json`` with ``reference.text`` beside its audio
(sets without reference text are skipped). Prints one row per set: words, and WER for each
form of the same decoded samples. tiny.en changes words on any tiny change of its input,
so compare the float16 column with the int16 one (another change of the same size), not
only with float32.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from analytics.audio import decode  # noqa: E402
from analytics.config import Settings  # noqa: E402
from analytics.evaluation import normalize_text, word_errors  # noqa: E402
from analytics.transcription import make_transcriber  # noqa: E402

FORMS = {
    "float32": lambda x: x,
    "float16": lambda x: x.astype(np.float16),
    "int16": lambda x: (np.clip(np.round(x * 32767), -32768, 32767) / 32767).astype(np.float32),
}


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument(
        "dirs",
        nargs="*",
        type=Path,
        default=[ROOT / "data/diarization", ROOT / "data/real/syn-degraded"],
    )
    args = ap.parse_args()
    engine = make_transcriber(Settings(_env_file=None)).transcriber
    print(f"{'set':<24} {'words':>6} " + " ".join(f"{f:>8}" for f in FORMS))
    for folder in args.dirs:
        errors = dict.fromkeys(FORMS, 0)
        words = 0
        for sidecar in sorted(folder.glob("*.json")):
            reference = normalize_text(json.loads(sidecar.read_text())["reference"].get("text", ""))
            audio = [
                p for p in folder.glob(sidecar.stem + ".*") if p.suffix not in (".json", ".rttm")
            ]
            if not reference or not audio:
                continue
            samples = decode(audio[0]).mono()
            words += len(reference)
            for name, form in FORMS.items():
                said = engine.transcribe(form(samples)).words
                errors[name] += word_errors(
                    reference, normalize_text(" ".join(w.word for w in said))
                )
        if words:
            print(
                f"{folder.name:<24} {words:>6} "
                + " ".join(f"{errors[f] / words:>8.3f}" for f in FORMS),
                flush=True,
            )


if __name__ == "__main__":
    main()
