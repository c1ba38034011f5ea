"""One accuracy table over every labelled set: WER, cpWER, DER, speaker count, roles, speed.

Usage: python bench/accuracy.py [--words] [--set DIR ...] [--cache data/cache/accuracy]

Rows are sets: the synthetic TTS set clean (data/diarization) and through the telephone
chain (data/real/syn-degraded), and every real set built by scripts/fetch_real_sets.py
(AMI meeting excerpts, simulated telephone calls from real AMI speakers, mono and stereo;
each split dev / test by speaker). The diarizer is ``auto`` with default options
(stereo: one speaker per channel; mono: clustering).

Columns:
* DER: pyannote.metrics, optimal mapping, overlap scored, pyannote ``collar=0.25``
  (0.125 s each side of a reference boundary; the issue's target), and ``DER nist``
  with NIST md-eval's +-0.25 s (pyannote ``collar=0.5``); both pooled over the set.
* spk: share of calls with the right number of speakers; roles: share of reference
  speech time given the right role (sets with roles only).
* s/min: diarization seconds per audio minute (audio only, no transcription).
* ``<set> · 2-party`` rows: the same scores over the set's calls with two reference
  speakers only (the issue's targets are stated for 2-party recordings), printed for
  sets that also hold calls of 1, 3 or 4 speakers. Words are not re-scored there.
* WER / cpWER (``--words``, sets whose references have words): the whole pipeline with
  the default engine (tiny.en); transcripts are cached on disk per call and model.
  cpWER is concatenated minimum-permutation WER (analytics/cpwer.py).
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import pickle
import sys
import warnings
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from analytics.config import Settings
from analytics.cpwer import cpwer_of_call
from analytics.diarization import AutoDiarizer, ClusteringDiarizer
from analytics.diarization.counting import EMBEDDING_THRESHOLDS, options_for
from analytics.diarization.embeddings import voice_encoder
from analytics.evaluation import labelled_set, normalize_text, word_errors
from analytics.models import CallMetadata
from analytics.pipeline import PipelineOptions, process_call_detailed
from analytics.set_scores import SetDiarization, score_set
from analytics.transcription import make_transcriber

DEFAULT_SETS = [
    "data/diarization",
    "data/real/syn-degraded",
    "data/real/ami-dev",
    "data/real/ami-test",
    "data/real/tel-dev",
    "data/real/tel-test",
    "data/real/stereo-dev",
    "data/real/stereo-test",
]


class CachedTranscriber:
    """The engine's transcript of each call, kept on disk (transcription dominates)."""

    def __init__(self, inner: Any, cache: Path) -> None:
        self.inner, self.cache = inner, cache

    def params(self) -> dict[str, Any]:
        return dict(self.inner.params())

    def transcribe_call(self, audio: Any, metadata: Any, media: Any) -> Any:
        digest = hashlib.sha256(Path(media.path).read_bytes()).hexdigest()[:16]
        key = hashlib.sha256(repr(sorted(self.params().items())).encode()).hexdigest()[:8]
        path = self.cache / f"{Path(media.path).stem}-{digest}-{key}.pkl"
        if path.is_file():
            return pickle.loads(path.read_bytes())
        out = self.inner.transcribe_call(audio, metadata, media)
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(pickle.dumps(out))
        return out


def word_scores(folder: Path, transcriber: CachedTranscriber) -> tuple[float, float] | None:
    """(WER, cpWER) pooled over the set, or None when the references have no words."""
    calls = [c for c in labelled_set(folder) if normalize_text(str(c.reference.get("text")))]
    if not calls:
        return None
    options = PipelineOptions.from_settings(Settings())
    ref_words = errors = cp_errors = 0
    for call in calls:
        md = CallMetadata.from_sidecar(call.sidecar, default_call_id=call.audio.stem)
        processed = process_call_detailed(
            call.audio, transcriber=transcriber, metadata=md, source_uri=str(call.audio),
            options=options,
        )  # fmt: skip
        ref = normalize_text(str(call.reference["text"]))
        ref_words += len(ref)
        errors += word_errors(ref, normalize_text(processed.result.text))
        cp_errors += cpwer_of_call(call.reference["turns"], processed.result.utterances).errors
    return errors / ref_words, cp_errors / ref_words


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--set", dest="sets", action="append", default=None)
    ap.add_argument("--words", action="store_true", help="also WER and cpWER (transcribes)")
    ap.add_argument("--cache", type=Path, default=Path("data/cache/accuracy"))
    ap.add_argument(
        "--embedding",
        default="fused",
        choices=sorted(EMBEDDING_THRESHOLDS),
        help="speaker embeddings of the clustering diarizer (each with its thresholds)",
    )
    args = ap.parse_args()
    logging.basicConfig(level=logging.WARNING)
    warnings.filterwarnings("ignore", category=UserWarning)
    sets = [Path(s) for s in (args.sets or DEFAULT_SETS)]
    missing = [str(s) for s in sets if not s.is_dir()]
    if missing:
        sys.exit(f"missing sets {missing}: run `make real-sets` (scripts/fetch_real_sets.py)")
    voice_encoder()
    transcriber = None
    if args.words:
        transcriber = CachedTranscriber(make_transcriber(Settings()), args.cache)
    head = (
        f"{'set':<24} {'calls':>5} {'audio min':>9} {'WER':>6} {'cpWER':>6} {'DER':>6} "
        f"{'DER nist':>8} {'spk':>5} {'roles':>6} {'s/min':>6}"
    )
    print(head)
    print("-" * len(head))
    for folder in sets:
        diarizer = AutoDiarizer(ClusteringDiarizer(options_for(args.embedding)))
        scored = score_set(folder, diarizer, folder.name)
        words = word_scores(folder, transcriber) if transcriber else None
        wer, cp = (f"{words[0]:>6.3f}", f"{words[1]:>6.3f}") if words else ("     -", "     -")
        has_roles = any(t.get("role") for c in labelled_set(folder) for t in c.reference["turns"])
        roles = f"{scored.role_accuracy:>6.3f}" if has_roles else "     -"
        _row(scored, wer, cp, roles)
        two = scored.with_speakers(2)
        if 0 < len(two.calls) < len(scored.calls):
            _row(two, "     -", "     -", f"{two.role_accuracy:>6.3f}" if has_roles else "     -")


def _row(scored: SetDiarization, wer: str, cp: str, roles: str) -> None:
    minutes = sum(c.audio_s for c in scored.calls) / 60
    print(
        f"{scored.name:<24} {len(scored.calls):>5} {minutes:>9.1f} {wer} {cp} "
        f"{scored.der(0.125):>6.3f} {scored.der(0.25):>8.3f} {scored.count_accuracy:>5.2f} "
        f"{roles} {scored.s_per_audio_min:>6.2f}",
        flush=True,
    )


if __name__ == "__main__":
    main()
