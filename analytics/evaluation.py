"""Accuracy against reference transcripts: word error rate and speaker-role attribution."""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics.models import Utterance

_PUNCT = re.compile(r"[^\w\s']")
_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> list[str]:
    """Lower-case words without punctuation (apostrophes kept, hyphens split)."""
    text = text.lower().replace("-", " ")
    text = _PUNCT.sub(" ", text).replace(" '", " ").replace("' ", " ")
    return [w for w in _SPACE.split(text) if w]


def word_errors(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance over words (substitutions + deletions + insertions)."""
    prev = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, 1):
        cur = [i] + [0] * len(hypothesis)
        for j, hyp_word in enumerate(hypothesis, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ref_word != hyp_word))
        prev = cur
    return prev[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference`` after normalisation."""
    ref, hyp = normalize_text(reference), normalize_text(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return word_errors(ref, hyp) / len(ref)


@dataclass(frozen=True)
class RoleAttribution:
    """How much reference speech time the hypothesis gave to the right role."""

    reference_s: float
    correct_s: float
    wrong_s: float
    missed_s: float

    @property
    def accuracy(self) -> float:
        return self.correct_s / self.reference_s if self.reference_s else 1.0


def role_attribution(
    reference_turns: Iterable[dict[str, Any]],
    utterances: Iterable[Utterance],
    resolution_s: float = 0.01,
    collar_s: float = 0.25,
) -> RoleAttribution:
    """Share of reference speech time whose hypothesis role matches the reference role.

    Time is sampled every ``resolution_s``. Hypothesis utterances are widened by
    ``collar_s`` on both sides (word timestamps sit inside the speech), the usual
    forgiveness at turn edges in diarization scoring.
    """
    turns = list(reference_turns)
    utts = list(utterances)
    end = max([t["end"] for t in turns] + [u.end for u in utts] + [0.0]) + collar_s
    n = int(np.ceil(end / resolution_s)) + 1
    codes = {"agent": 1, "customer": 2}
    ref = np.zeros(n, dtype=np.int8)
    for t in turns:
        ref[int(t["start"] / resolution_s) : int(t["end"] / resolution_s)] = codes.get(t["role"], 3)
    hyp = np.zeros((3, n), dtype=bool)  # covered by [any, agent, customer]
    for u in utts:
        a = max(0, int((u.start - collar_s) / resolution_s))
        b = int((u.end + collar_s) / resolution_s)
        hyp[0, a:b] = True
        if u.role in codes:
            hyp[codes[u.role], a:b] = True
    speech = ref > 0
    correct = np.zeros(n, dtype=bool)
    for code in codes.values():
        correct |= (ref == code) & hyp[code]
    missed = speech & ~hyp[0]
    wrong = speech & hyp[0] & ~correct
    return RoleAttribution(
        reference_s=float(speech.sum() * resolution_s),
        correct_s=float(correct.sum() * resolution_s),
        wrong_s=float(wrong.sum() * resolution_s),
        missed_s=float(missed.sum() * resolution_s),
    )
