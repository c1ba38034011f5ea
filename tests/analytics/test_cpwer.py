"""cpWER against hand-computed cases."""

from __future__ import annotations

from dataclasses import dataclass

import pytest

from analytics.cpwer import cp_word_errors, cpwer_of_call, words_by_speaker


@dataclass(frozen=True)
class Utt:
    speaker: str
    start: float
    text: str


def w(text: str) -> list[str]:
    return text.split()


@pytest.mark.parametrize(
    ("ref", "hyp", "errors", "words"),
    [
        # perfect, speakers named differently: the permutation maps A->x, B->y
        ({"A": w("hello there"), "B": w("hi")}, {"x": w("hello there"), "y": w("hi")}, 0, 3),
        # one substitution inside a speaker
        ({"A": w("a b c")}, {"x": w("a d c")}, 1, 3),
        # all words given to one speaker: B's 2 words are deleted from x's match and
        # inserted into the match of A (A: "a b" vs "a b c d" = 2 ins; B: "c d" vs "" = 2 del)
        ({"A": w("a b"), "B": w("c d")}, {"x": w("a b c d")}, 4, 4),
        # a hypothesis speaker too many: its words are insertions
        ({"A": w("a b")}, {"x": w("a b"), "y": w("uh")}, 1, 2),
        # swapped attribution of one word: A "a b" vs x "a", B "c" vs y "b c"
        ({"A": w("a b"), "B": w("c")}, {"x": w("a"), "y": w("b c")}, 2, 3),
    ],
)
def test_cpwer_hand_computed(
    ref: dict[str, list[str]], hyp: dict[str, list[str]], errors: int, words: int
) -> None:
    got = cp_word_errors(ref, hyp)
    assert (got.errors, got.reference_words) == (errors, words)
    assert got.cpwer == pytest.approx(errors / words)


def test_utterance_order_across_speakers_does_not_count() -> None:
    ref = [
        {"speaker": "agent", "start": 0.0, "text": "Hello, how can I help?"},
        {"speaker": "cust", "start": 2.0, "text": "My bill is wrong."},
        {"speaker": "agent", "start": 4.0, "text": "Let me check."},
    ]
    # the customer's utterance comes out first and the speakers have other names
    hyp = [
        Utt("s1", 1.9, "my bill is wrong"),
        Utt("s0", 0.1, "hello how can i help"),
        Utt("s0", 4.1, "let me check"),
    ]
    got = cpwer_of_call(ref, hyp)
    assert got.errors == 0
    assert got.mapping == {"agent": "s0", "cust": "s1"}


def test_words_by_speaker_orders_by_time_and_normalises() -> None:
    got = words_by_speaker([("a", 2.0, "World!"), ("a", 1.0, "Hello,"), ("b", 0.0, "Hi-there")])
    assert got == {"a": ["hello", "world"], "b": ["hi", "there"]}
