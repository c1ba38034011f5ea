"""PII redaction for call transcripts: card numbers, phones, emails, SSNs, spelled digits.

Whisper writes numbers as digits ("4111 1111"), as words ("four one one one") or both,
and splits them across word tokens with punctuation in between. Detection therefore works
on the utterance *text*: a tokenizer finds **digit runs** (numeric tokens, digit words,
"double five", joined by spaces, dashes, dots, commas, parentheses or the words
"dash"/"hyphen"), and each run is split into the segments that best explain it:

=========  ===================================================================
type       rule
=========  ===================================================================
card       13-19 digits passing the Luhn check (written groups of >= 3 digits, or
           spelled out). Non-Luhn digit runs are *not* cards.
ssn        written 3-2-4 groups (123-45-6789), or 9 digits after "ssn"/"social
           security" within the previous few words (written or spelled).
phone      written phone shapes: (555) 123-4567, 555-123-4567, 5551234567,
           1-800-555-0199, 555-0199, UK 0-prefixed, or "+" followed by 8-15 digits.
digits     >= 4 spelled digit units in a row ("four seven two nine one", "oh",
           "double five", single written digits), when not one of the above.
email      name@domain.tld, and the spoken "jane dot doe at example dot com".
=========  ===================================================================

Times ("two thirty"), counts ("one or two") and plain amounts/years stay: tens words are
not digit words, other words break a run, and written digit runs need a known shape.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from analytics.models import Utterance, Word

if TYPE_CHECKING:
    from analytics.models import CallResult

PII_TYPES = ("card", "phone", "email", "ssn", "digits")
PLACEHOLDERS = {t: f"[{t.upper()}]" for t in PII_TYPES}

_DIGIT_WORDS = {
    "zero": "0",
    "oh": "0",
    "o": "0",
    "nought": "0",
    "one": "1",
    "two": "2",
    "three": "3",
    "four": "4",
    "five": "5",
    "six": "6",
    "seven": "7",
    "eight": "8",
    "nine": "9",
}
_REPEAT = {"double": 2, "triple": 3}
_SEP_WORDS = {"dash", "hyphen"}
_SEP_CHARS = set("-,.()+–—")
_MAX_GAP_TOKENS = 3
_MAX_SEGMENT_GROUPS = 24
_SSN_CONTEXT = {"ssn", "social", "security"}
_SSN_CONTEXT_WINDOW = 8

_PHONE_SHAPES_10 = {(10,), (3, 3, 4), (3, 7), (3, 3, 2, 2)}
_PHONE_SHAPES_11 = {(11,), (1, 3, 3, 4), (1, 10), (3, 4, 4), (4, 3, 4), (5, 6), (5, 3, 3)}

_TOKEN = re.compile(r"\d+|[A-Za-z]+(?:'[A-Za-z]+)?|\S")
_TLDS = r"(?:com|net|org|edu|gov|io|co|uk|us|ca|de|fr|info|biz|me)"
_EMAIL_WRITTEN = re.compile(
    r"[A-Za-z0-9][A-Za-z0-9._%+-]*\s?@\s?[A-Za-z0-9-]+(?:\s?\.\s?[A-Za-z0-9-]+)*\s?\.\s?[A-Za-z]{2,}\b"
)
_EMAIL_SPOKEN = re.compile(
    r"\b[a-z0-9][a-z0-9._-]*(?:\s+(?:dot|underscore|dash)\s+[a-z0-9._-]+)*"
    r"\s+at\s+[a-z0-9-]+(?:(?:\.|\s+dot\s+)[a-z0-9-]+)*(?:\.|\s+dot\s+)" + _TLDS + r"\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Redaction:
    """Redacted text and how many spans of each PII type were replaced."""

    text: str
    counts: dict[str, int]


@dataclass(frozen=True)
class _Span:
    start: int
    end: int
    kind: str


@dataclass
class _Group:
    """One digit item of a run: a numeric token, a digit word or "double X"."""

    start: int
    end: int
    digits: str
    spelled: bool
    units: int  # spelled-digit units (digit words and single written digits)
    prefix: int  # start including an attached "+" or "("
    plus: bool


def luhn_ok(digits: str) -> bool:
    """The Luhn checksum every payment card number satisfies."""
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return bool(digits) and total % 10 == 0


def empty_counts() -> dict[str, int]:
    return dict.fromkeys(PII_TYPES, 0)


def _email_spans(text: str) -> list[_Span]:
    spans: list[_Span] = []
    for rx in (_EMAIL_WRITTEN, _EMAIL_SPOKEN):
        for m in rx.finditer(text):
            if not any(m.start() < s.end and s.start < m.end() for s in spans):
                spans.append(_Span(m.start(), m.end(), "email"))
    return spans


def _runs(text: str, blocked: list[_Span]) -> list[tuple[list[_Group], int]]:
    """Digit runs as lists of groups, with the index of the run's first token."""
    tokens = [
        m for m in _TOKEN.finditer(text) if not any(s.start <= m.start() < s.end for s in blocked)
    ]
    runs: list[tuple[list[_Group], int]] = []
    current: list[_Group] = []
    first_tok = 0
    gap = 0
    pending_prefix: int | None = None
    pending_plus = False
    prev_end = -1
    i = 0
    while i < len(tokens):
        tok = tokens[i]
        word = tok.group().lower()
        blocked_gap = prev_end >= 0 and any(prev_end <= s.start < tok.start() for s in blocked)
        if blocked_gap and current:
            runs.append((current, first_tok))
            current, gap = [], 0
        group: _Group | None = None
        consumed = 1
        if word.isdigit():
            group = _Group(tok.start(), tok.end(), word, False, int(len(word) == 1), 0, False)
        elif word in _DIGIT_WORDS:
            group = _Group(tok.start(), tok.end(), _DIGIT_WORDS[word], True, 1, 0, False)
        elif word in _REPEAT and i + 1 < len(tokens):
            nxt = tokens[i + 1].group().lower()
            digit = _DIGIT_WORDS.get(nxt) or (nxt if nxt.isdigit() and len(nxt) == 1 else None)
            if digit is not None:
                n = _REPEAT[word]
                group = _Group(tok.start(), tokens[i + 1].end(), digit * n, True, n, 0, False)
                consumed = 2
        if group is not None:
            if not current:
                first_tok = i
                group.prefix = pending_prefix if pending_prefix is not None else group.start
                group.plus = pending_plus
            else:
                group.prefix = group.start
            current.append(group)
            gap = 0
        elif current and (word in _SEP_WORDS or word in _SEP_CHARS) and gap < _MAX_GAP_TOKENS:
            gap += 1
        else:
            if current:
                runs.append((current, first_tok))
                current, gap = [], 0
        if not current and group is None:
            # "+" or "(" directly before a number belongs to it (+44 ..., (555) ...).
            attached = i + 1 < len(tokens) and tokens[i + 1].start() == tok.end()
            if word in ("+", "(") and attached:
                pending_prefix = tok.start() if pending_prefix is None else pending_prefix
                pending_plus = pending_plus or word == "+"
            else:
                pending_prefix, pending_plus = None, False
        else:
            pending_prefix, pending_plus = None, False
        prev_end = tokens[i + consumed - 1].end()
        i += consumed
    if current:
        runs.append((current, first_tok))
    return runs


def _ssn_context(text: str, start: int) -> bool:
    before = re.findall(r"[a-z]+", text[:start].lower())[-_SSN_CONTEXT_WINDOW:]
    return any(w in _SSN_CONTEXT for w in before)


def _classify(groups: Sequence[_Group], ssn_context: bool) -> str | None:
    digits = "".join(g.digits for g in groups)
    n = len(digits)
    spelled = any(g.spelled for g in groups)
    units = sum(g.units for g in groups)
    shape = tuple(len(g.digits) for g in groups)
    if 13 <= n <= 19 and luhn_ok(digits) and (spelled or all(x >= 3 for x in shape)):
        return "card"
    if n == 9 and (ssn_context or (not spelled and shape == (3, 2, 4))):
        return "ssn"
    if not spelled:
        if groups[0].plus and 8 <= n <= 15:
            return "phone"
        if (
            (n == 10 and shape in _PHONE_SHAPES_10)
            or (n == 11 and digits[0] in "01" and shape in _PHONE_SHAPES_11)
            or shape == (3, 4)
        ):
            return "phone"
    if units >= 4:
        return "digits"
    return None


def _best_segments(groups: list[_Group], ssn_ctx: bool) -> list[tuple[int, int, str]]:
    """Split a run into typed segments covering the most digits (then fewest segments)."""
    n = len(groups)
    # best[j] = (digits covered, -segments, segments) for groups[:j]
    best: list[tuple[int, int, list[tuple[int, int, str]]]] = [(0, 0, [])] * (n + 1)
    for j in range(1, n + 1):
        cand = best[j - 1]  # group j-1 left uncovered
        for i in range(max(0, j - _MAX_SEGMENT_GROUPS), j):
            kind = _classify(groups[i:j], ssn_ctx)
            if kind is None:
                continue
            covered = best[i][0] + sum(len(g.digits) for g in groups[i:j])
            score = (covered, best[i][1] - 1, [*best[i][2], (i, j, kind)])
            if (score[0], score[1]) > (cand[0], cand[1]):
                cand = score
        best[j] = cand
    return best[n][2]


def find_pii(text: str) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, type) spans of PII in ``text``, in order."""
    spans = _email_spans(text)
    for groups, _ in _runs(text, spans):
        ssn_ctx = _ssn_context(text, groups[0].start)
        for i, j, kind in _best_segments(groups, ssn_ctx):
            spans.append(_Span(groups[i].prefix, groups[j - 1].end, kind))
    spans.sort(key=lambda s: s.start)
    return [(s.start, s.end, s.kind) for s in spans]


def _apply(text: str, spans: Sequence[tuple[int, int, str]]) -> str:
    out: list[str] = []
    pos = 0
    for start, end, kind in spans:
        out.append(text[pos:start])
        out.append(PLACEHOLDERS[kind])
        pos = end
    out.append(text[pos:])
    return "".join(out)


def redact(text: str) -> Redaction:
    """Replace PII in ``text`` with placeholders such as ``[CARD]``; count each type."""
    spans = find_pii(text)
    counts = empty_counts()
    for _, _, kind in spans:
        counts[kind] += 1
    return Redaction(_apply(text, spans), counts)


def _redact_words(words: Sequence[Word]) -> tuple[Word, ...]:
    """Words whose text overlaps a PII span merge into one placeholder word (times kept)."""
    offsets: list[tuple[int, int]] = []
    pos = 0
    for w in words:
        offsets.append((pos, pos + len(w.word)))
        pos += len(w.word) + 1
    joined = " ".join(w.word for w in words)
    spans = find_pii(joined)
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


def redact_utterances(
    utterances: Sequence[Utterance],
) -> tuple[tuple[Utterance, ...], dict[str, int]]:
    """Redacted copies of the utterances (text and words) and the summed counts."""
    counts = empty_counts()
    out: list[Utterance] = []
    for u in utterances:
        red = redact(u.text)
        for kind, n in red.counts.items():
            counts[kind] += n
        words = _redact_words(u.words) if u.words else u.words
        joined_matches = " ".join(w.word for w in u.words) == u.text
        text = " ".join(w.word for w in words) if u.words and joined_matches else red.text
        out.append(replace(u, text=text, words=words))
    return tuple(out), counts


def redact_result(result: CallResult) -> tuple[CallResult, dict[str, int]]:
    """A CallResult with redacted utterances (for storage when ``redact_pii`` is on)."""
    utterances, counts = redact_utterances(result.utterances)
    return replace(result, utterances=utterances), counts
