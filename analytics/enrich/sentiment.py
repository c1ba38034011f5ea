"""Lexicon sentiment (VADER) per utterance: transparent, offline, and labelled as such."""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

#: Engine name stored with every lexicon score so nobody mistakes it for an LLM's output.
ENGINE = "vader"

#: VADER's own recommended thresholds on the compound score.
POSITIVE_AT = 0.05
NEGATIVE_AT = -0.05

_ANALYZER: Any = None
_LOCK = threading.Lock()


@dataclass(frozen=True)
class Sentiment:
    """Compound score in [-1, 1] and its label."""

    score: float
    label: str  # "positive" | "neutral" | "negative"


def label_for(score: float) -> str:
    if score >= POSITIVE_AT:
        return "positive"
    if score <= NEGATIVE_AT:
        return "negative"
    return "neutral"


def _analyzer() -> Any:
    global _ANALYZER
    with _LOCK:
        if _ANALYZER is None:
            from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

            _ANALYZER = SentimentIntensityAnalyzer()
    return _ANALYZER


def score_text(text: str) -> Sentiment:
    """VADER compound sentiment of one piece of text."""
    score = float(_analyzer().polarity_scores(text)["compound"]) if text.strip() else 0.0
    return Sentiment(round(score, 4), label_for(score))
