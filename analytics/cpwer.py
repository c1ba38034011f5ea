"""cpWER: concatenated minimum-permutation word error rate (the CHiME-6 / meeteval
definition).

Every speaker's words are concatenated in time order, on both sides; reference and
hypothesis speakers are matched one to one by the assignment that minimises the total
word errors (a speaker left without a partner is scored against nothing: all its words
are deletions or insertions). cpWER = total errors / reference words. It counts word
errors and speaker-attribution errors together, and the order of utterances across
speakers does not matter.

``meeteval`` (the reference implementation) builds from source and is not a dependency;
this one is checked against hand-computed cases in tests/analytics/test_cpwer.py.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from analytics.evaluation import normalize_text, word_errors


@dataclass(frozen=True)
class CpWer:
    """cpWER parts: errors, reference words and the speaker matching used."""

    errors: int
    reference_words: int
    mapping: dict[str, str | None]

    @property
    def cpwer(self) -> float:
        if self.reference_words:
            return self.errors / self.reference_words
        return float(self.errors > 0)


def words_by_speaker(segments: Iterable[tuple[str, float, str]]) -> dict[str, list[str]]:
    """Normalised words per speaker from (speaker, start, text) segments, in time order."""
    out: dict[str, list[str]] = {}
    for speaker, _, text in sorted(segments, key=lambda s: s[1]):
        out.setdefault(speaker, []).extend(normalize_text(text))
    return out


def cp_word_errors(
    reference: Mapping[str, Sequence[str]], hypothesis: Mapping[str, Sequence[str]]
) -> CpWer:
    """cpWER of per-speaker word lists (already normalised)."""
    from scipy.optimize import linear_sum_assignment

    refs, hyps = list(reference), list(hypothesis)
    n = max(len(refs), len(hyps))
    cost = np.zeros((n, n), dtype=np.int64)
    for i in range(n):
        for j in range(n):
            r = reference[refs[i]] if i < len(refs) else ()
            h = hypothesis[hyps[j]] if j < len(hyps) else ()
            cost[i, j] = word_errors(r, h)
    rows, cols = linear_sum_assignment(cost)
    mapping = {
        refs[i]: (hyps[j] if j < len(hyps) else None)
        for i, j in zip(rows, cols, strict=True)
        if i < len(refs)
    }
    return CpWer(
        errors=int(cost[rows, cols].sum()),
        reference_words=sum(len(w) for w in reference.values()),
        mapping=mapping,
    )


def cpwer_of_call(reference_turns: Iterable[Mapping[str, Any]], utterances: Iterable[Any]) -> CpWer:
    """cpWER of a call: reference turns (speaker, start, text) against utterances
    (objects with speaker, start, text)."""
    ref = words_by_speaker(
        (str(t["speaker"]), float(t["start"]), str(t.get("text") or "")) for t in reference_turns
    )
    hyp = words_by_speaker((str(u.speaker), float(u.start), str(u.text)) for u in utterances)
    return cp_word_errors(ref, hyp)
