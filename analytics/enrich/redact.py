"""PII redaction for call transcripts, across word and utterance boundaries.

Detectors (each returns ``(start, end, type)`` spans; earlier ones win overlaps):

1. ``pii_text``: emails (written and spoken), street addresses, dates of birth;
2. ``pii_digits``: digit runs — cards (with or without a valid Luhn check), SSNs, phones,
   account numbers, spelled digit sequences — with money amounts blocked out;
3. names: the spaCy NER model (``pii_ner``, PERSON) plus "my name is …" rules.

A speaker's utterances are joined in time order before detection, so a card number read
in two chunks over a pause ("4111 1111" … "1111 1111") or a spelled email split by the
aligner is found whole; each utterance gets the part of the span that falls in it (each
part becomes a placeholder) and the span is counted once. Word lists are redacted from the
same spans: the words a span touches merge into one placeholder word keeping the times.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from analytics.enrich.pii_digits import amount_spans, digit_spans, luhn_ok
from analytics.enrich.pii_ner import NameFinder, default_finder
from analytics.enrich.pii_text import address_spans, dob_spans, email_spans, name_spans
from analytics.models import Utterance, Word

if TYPE_CHECKING:
    from analytics.models import CallResult

__all__ = [
    "PII_TYPES",
    "PLACEHOLDERS",
    "Redaction",
    "empty_counts",
    "find_pii",
    "luhn_ok",
    "redact",
    "redact_result",
    "redact_utterances",
]

PII_TYPES = ("card", "phone", "email", "ssn", "account", "address", "dob", "name", "digits")
PLACEHOLDERS = {t: f"[{t.upper()}]" for t in PII_TYPES}


class _Default:
    """Use the process-wide NER model (``pii_ner.default_finder``)."""


#: ``names=DEFAULT_NER``: the verified spaCy model when installed; ``names=None``: rules only.
DEFAULT_NER = _Default()
Names = NameFinder | _Default | None


@dataclass(frozen=True)
class Redaction:
    """Redacted text and how many spans of each PII type were replaced."""

    text: str
    counts: dict[str, int]


def empty_counts() -> dict[str, int]:
    return dict.fromkeys(PII_TYPES, 0)


def _placeholder_spans(text: str) -> list[tuple[int, int]]:
    out = []
    for ph in PLACEHOLDERS.values():
        start = text.find(ph)
        while start >= 0:
            out.append((start, start + len(ph)))
            start = text.find(ph, start + 1)
    return out


def _merge(spans: list[tuple[int, int, str]], new: Sequence[tuple[int, int, str]]) -> None:
    for a, b, kind in new:
        if b > a and not any(a < y and x < b for x, y, _ in spans):
            spans.append((a, b, kind))


def _finder(names: Names) -> NameFinder | None:
    return default_finder() if isinstance(names, _Default) else names


def find_pii_many(texts: list[str], names: Names = DEFAULT_NER) -> list[list[tuple[int, int, str]]]:
    """:func:`find_pii` over several texts (the NER model runs them as one batch)."""
    finder = _finder(names)
    ner = finder.spans(texts) if finder is not None and texts else [[] for _ in texts]
    out = []
    for text, ner_spans in zip(texts, ner, strict=True):
        blocked = _placeholder_spans(text)
        spans: list[tuple[int, int, str]] = [(a, b, "_") for a, b in blocked]
        _merge(spans, email_spans(text))
        _merge(spans, address_spans(text))
        _merge(spans, dob_spans(text))
        taken = [(a, b) for a, b, _ in spans] + amount_spans(text)
        _merge(spans, digit_spans(text, taken))
        _merge(spans, name_spans(text))
        _merge(spans, [s for s in ner_spans if not _only_placeholder(text, s)])
        out.append(sorted(s for s in spans if s[2] != "_"))
    return out


def _only_placeholder(text: str, span: tuple[int, int, str]) -> bool:
    inner = text[span[0] : span[1]].strip("[]. ")
    return inner.upper() in {t.upper() for t in PII_TYPES} or not inner


def find_pii(text: str, names: Names = DEFAULT_NER) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, type) spans of PII in ``text``, in order."""
    return find_pii_many([text], names)[0]


def _apply(text: str, spans: Sequence[tuple[int, int, str]]) -> str:
    out: list[str] = []
    pos = 0
    for start, end, kind in spans:
        out.append(text[pos:start])
        out.append(PLACEHOLDERS[kind])
        pos = end
    out.append(text[pos:])
    return "".join(out)


def _count(spans: Sequence[tuple[int, int, str]]) -> dict[str, int]:
    counts = empty_counts()
    for _, _, kind in spans:
        counts[kind] += 1
    return counts


def redact(text: str, names: Names = DEFAULT_NER) -> Redaction:
    """Replace PII in ``text`` with placeholders such as ``[CARD]``; count each type."""
    spans = find_pii(text, names)
    return Redaction(_apply(text, spans), _count(spans))


def redact_texts(texts: Sequence[str], names: Names = DEFAULT_NER) -> list[str]:
    """Each text redacted on its own (free-text fields: summaries, sidecar values)."""
    return [_apply(t, s) for t, s in zip(texts, find_pii_many(list(texts), names), strict=True)]


def _redact_words(words: Sequence[Word], spans: Sequence[tuple[int, int, str]]) -> tuple[Word, ...]:
    """Words whose text overlaps a span (offsets in the words joined by spaces) merge into
    one placeholder word (times kept)."""
    offsets: list[tuple[int, int]] = []
    pos = 0
    for w in words:
        offsets.append((pos, pos + len(w.word)))
        pos += len(w.word) + 1
    joined = " ".join(w.word for w in words)
    if not spans:
        return tuple(words)
    out: list[Word] = []
    k = 0
    s = 0
    while k < len(words):
        while s < len(spans) and spans[s][1] <= offsets[k][0]:
            s += 1
        if s >= len(spans) or spans[s][0] >= offsets[k][1]:
            out.append(words[k])
            k += 1
            continue
        # Cluster: words k..m overlapping spans s..t (a word may touch several spans).
        m, t = k, s
        while True:
            while m + 1 < len(words) and offsets[m + 1][0] < spans[t][1]:
                m += 1
            if t + 1 < len(spans) and spans[t + 1][0] < offsets[m][1]:
                t += 1
                continue
            break
        lo, hi = offsets[k][0], offsets[m][1]
        local = [(a - lo, b - lo, kind) for a, b, kind in spans[s : t + 1]]
        members = words[k : m + 1]
        out.append(
            Word(
                word=_apply(joined[lo:hi], local),
                start=members[0].start,
                end=max(w.end for w in members),
                prob=sum(w.prob for w in members) / len(members),
            )
        )
        k, s = m + 1, t + 1
    return tuple(out)


def _basis(u: Utterance) -> str:
    return " ".join(w.word for w in u.words) if u.words else u.text


def redact_utterances(
    utterances: Sequence[Utterance], names: Names = DEFAULT_NER
) -> tuple[tuple[Utterance, ...], dict[str, int]]:
    """Redacted copies of the utterances (text and words) and the summed counts.

    Each speaker's utterances are joined in time order, so PII spanning a pause or an
    utterance boundary is found; a span is counted once however many utterances it
    touches."""
    counts = empty_counts()
    bases = [_basis(u) for u in utterances]
    by_speaker: dict[str, list[int]] = {}
    for i in sorted(range(len(utterances)), key=lambda k: utterances[k].start):
        by_speaker.setdefault(utterances[i].speaker, []).append(i)
    groups = list(by_speaker.values())
    joined: list[str] = []
    offsets: list[list[tuple[int, int]]] = []
    for idxs in groups:
        pos, ranges = 0, []
        for i in idxs:
            ranges.append((pos, pos + len(bases[i])))
            pos += len(bases[i]) + 1
        joined.append(" ".join(bases[i] for i in idxs))
        offsets.append(ranges)
    local: list[list[tuple[int, int, str]]] = [[] for _ in utterances]
    for idxs, ranges, spans in zip(groups, offsets, find_pii_many(joined, names), strict=True):
        for a, b, kind in spans:
            counts[kind] += 1
            for i, (lo, hi) in zip(idxs, ranges, strict=True):
                if a < hi and lo < b:
                    local[i].append((max(a, lo) - lo, min(b, hi) - lo, kind))
    out: list[Utterance] = []
    for u, basis, spans in zip(utterances, bases, local, strict=True):
        if u.words:
            words = _redact_words(u.words, spans)
            if basis == u.text:
                text = " ".join(w.word for w in words)
            else:  # engine text differs from its words: redact the text on its own too
                text = redact(u.text, names).text
            out.append(replace(u, text=text, words=words))
        else:
            out.append(replace(u, text=_apply(u.text, spans)))
    return tuple(out), counts


def redact_result(
    result: CallResult, names: Names = DEFAULT_NER
) -> tuple[CallResult, dict[str, int]]:
    """A CallResult with redacted utterances (for storage when ``redact_pii`` is on)."""
    utterances, counts = redact_utterances(result.utterances, names)
    return replace(result, utterances=utterances), counts
