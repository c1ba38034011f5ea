"""A flag for transcripts the model most likely did not understand.

An English-only model (``tiny.en``, any ``*.en``) cannot detect a language: given German or
Spanish speech it writes fluent-looking English words, and its language is "en" whatever
was said. What gives it away is its own word confidence. With tiny.en on the same sentences
spoken by espeak-ng, the mean word probability is 0.94 in English, 0.46 in German and
0.49 in Spanish; on real telephone English (data/real tel-test and syn-degraded calls) it
was 0.66 to 0.84. So a mean below 0.6 is recorded with the analysis (``params``) as a flag
naming the likely cause (foreign speech, or a line too poor to trust), never passed off as
a plain English transcript.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from typing import Any

from analytics.models import Word

log = logging.getLogger(__name__)

#: A transcript whose mean word probability is below this is flagged.
LOW_CONFIDENCE = 0.6
#: Fewer words than this say too little to flag (a "yes", a name).
MIN_WORDS = 8


def english_only(model: str) -> bool:
    """Whisper's English-only checkpoints are named ``<size>.en``."""
    return model.rstrip("/").endswith(".en")


def confidence_notes(
    words: Iterable[Word], *, model: str, language: str | None, label: str
) -> dict[str, Any]:
    """``transcript_mean_word_prob`` for every transcript with words, and
    ``transcript_flag`` (with ``transcript_flag_reason``) when it is low: with an
    English-only model ``possibly_not_english``, else ``low_confidence``."""
    probs = [w.prob for w in words]
    if not probs:
        return {}
    mean = sum(probs) / len(probs)
    notes: dict[str, Any] = {"transcript_mean_word_prob": round(mean, 3)}
    if len(probs) < MIN_WORDS or mean >= LOW_CONFIDENCE:
        return notes
    if english_only(model):
        notes["transcript_flag"] = "possibly_not_english"
        notes["transcript_flag_reason"] = (
            f"mean word confidence {mean:.2f} < {LOW_CONFIDENCE}: the speech is probably not"
            f" English (or the line is very poor), and the English-only model {model} cannot"
            " tell; use a multilingual model (CALLSCOPE_MODEL=base) to detect the language"
        )
    else:
        notes["transcript_flag"] = "low_confidence"
        notes["transcript_flag_reason"] = (
            f"mean word confidence {mean:.2f} < {LOW_CONFIDENCE} (language {language}):"
            " the transcript is unreliable; check the audio or force CALLSCOPE_LANGUAGE"
        )
    log.warning("%s: %s", label, notes["transcript_flag_reason"])
    return notes
