"""Digit runs in transcripts: cards, accounts, SSNs, phones and spelled digit sequences.

Whisper writes numbers as digits ("4111 1111"), as words ("four one one one") or both,
and splits them across word tokens with punctuation in between. A tokenizer finds **digit
runs** (numeric tokens, digit words, "double five", joined by spaces, dashes, dots, commas,
parentheses or the words "dash"/"hyphen"), and each run is split into the segments that
best explain it:

=========  ===================================================================
type       rule
=========  ===================================================================
card       13-19 digits (written groups of >= 3 digits, or spelled out), whether or
           not they pass the Luhn check: one misheard digit must not keep a card.
ssn        written 3-2-4 groups (123-45-6789), or 9 digits after "ssn"/"social
           security" within the previous few words (written or spelled).
phone      written phone shapes: (555) 123-4567, 555-123-4567, 5551234567,
           1-800-555-0199, 555-0199, UK 0-prefixed, or "+" followed by 8-15 digits.
account    >= 6 written digits that are none of the above (account, order, member,
           routing numbers), or >= 4 after "account"/"routing"/"member"/"policy".
digits     >= 4 spelled digit units in a row ("four seven two nine one", "oh",
           "double five", single written digits), when not one of the above.
=========  ===================================================================

Times ("two thirty"), counts ("one or two") and plain amounts/years stay: tens words are
not digit words, other words break a run, written digit runs need a known shape or six
digits, and money ("$1,234.56", "1,000,000") is blocked before runs are formed.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Sequence
from dataclasses import dataclass

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
_ACCOUNT_CONTEXT = {"account", "routing", "member", "policy", "iban", "sort", "membership"}
_CONTEXT_WINDOW = 8
_GENERIC = frozenset({"account", "digits"})
#: Money and plain large numbers: "$1,234.56", "1,000,000", "$20" are never PII.
_AMOUNT = re.compile(r"[$£€]\s?\d[\d,]*(?:\.\d+)?|\b\d{1,3}(?:,\d{3})+(?:\.\d+)?\b")

_PHONE_SHAPES_10 = {(10,), (3, 3, 4), (3, 7), (3, 3, 2, 2)}
_PHONE_SHAPES_11 = {(11,), (1, 3, 3, 4), (1, 10), (3, 4, 4), (4, 3, 4), (5, 6), (5, 3, 3)}

_TOKEN = re.compile(r"\d+|[A-Za-z]+(?:'[A-Za-z]+)?|\S")


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


def _runs(text: str, blocked: Sequence[tuple[int, int]]) -> list[tuple[list[_Group], int]]:
    """Digit runs as lists of groups, with the index of the run's first token."""
    merged: list[list[int]] = []
    for a, b in sorted(blocked):
        if merged and a <= merged[-1][1]:
            merged[-1][1] = max(merged[-1][1], b)
        else:
            merged.append([a, b])
    starts = [a for a, _ in merged]

    def inside(pos: int) -> bool:
        i = bisect.bisect_right(starts, pos) - 1
        return i >= 0 and pos < merged[i][1]

    def starts_between(lo: int, hi: int) -> bool:
        i = bisect.bisect_left(starts, lo)
        return i < len(starts) and starts[i] < hi

    tokens = [m for m in _TOKEN.finditer(text) if not inside(m.start())]
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
        blocked_gap = prev_end >= 0 and starts_between(prev_end, tok.start())
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


@dataclass(frozen=True)
class _Context:
    ssn: bool
    account: bool


def _context(text: str, start: int) -> _Context:
    window = text[max(0, start - 20 * _CONTEXT_WINDOW) : start].lower()
    before = set(re.findall(r"[a-z]+", window)[-_CONTEXT_WINDOW:])
    return _Context(ssn=bool(before & _SSN_CONTEXT), account=bool(before & _ACCOUNT_CONTEXT))


def _classify(groups: Sequence[_Group], ctx: _Context) -> str | None:
    digits = "".join(g.digits for g in groups)
    n = len(digits)
    spelled = any(g.spelled for g in groups)
    units = sum(g.units for g in groups)
    shape = tuple(len(g.digits) for g in groups)
    if 13 <= n <= 19 and (spelled or all(x >= 3 for x in shape) or luhn_ok(digits)):
        return "card"
    if n == 9 and (ctx.ssn or (not spelled and shape == (3, 2, 4))):
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
    if (ctx.account and n >= 4) or (not spelled and n >= 6):
        return "account"
    if units >= 4:
        return "digits"
    return None


def _best_segments(groups: list[_Group], ctx: _Context) -> list[tuple[int, int, str]]:
    """Split a run into typed segments covering the most digits, then the fewest digits
    left to the generic ``account``/``digits`` types (a phone and a card beat one long
    account number), then the fewest segments."""
    n = len(groups)
    # best[j] = (digits covered, -generic digits, -segments, segments) for groups[:j]
    Score = tuple[int, int, int, list[tuple[int, int, str]]]
    best: list[Score] = [(0, 0, 0, [])] * (n + 1)
    for j in range(1, n + 1):
        cand = best[j - 1]  # group j-1 left uncovered
        for i in range(max(0, j - _MAX_SEGMENT_GROUPS), j):
            kind = _classify(groups[i:j], ctx)
            if kind is None:
                continue
            size = sum(len(g.digits) for g in groups[i:j])
            generic = size if kind in _GENERIC else 0
            score: Score = (
                best[i][0] + size,
                best[i][1] - generic,
                best[i][2] - 1,
                [*best[i][3], (i, j, kind)],
            )
            if score[:3] > cand[:3]:
                cand = score
        best[j] = cand
    return best[n][3]


def amount_spans(text: str) -> list[tuple[int, int]]:
    """Money and comma-grouped numbers, which digit runs must not swallow."""
    return [(m.start(), m.end()) for m in _AMOUNT.finditer(text)]


def digit_spans(text: str, blocked: Sequence[tuple[int, int]]) -> list[tuple[int, int, str]]:
    """(start, end, type) of every PII digit run outside the ``blocked`` ranges."""
    spans: list[tuple[int, int, str]] = []
    for groups, _ in _runs(text, blocked):
        ctx = _context(text, groups[0].start)
        for i, j, kind in _best_segments(groups, ctx):
            spans.append((groups[i].prefix, groups[j - 1].end, kind))
    return spans
