"""The default insights engine: transparent rules and VADER, no network, no key.

Stored with engine ``offline`` and model/prompt version ``rules-v1`` so nobody mistakes it
for an LLM; the summary starts with ``[extractive]``.

* **summary**: the 2 (3 for calls of more than 8 utterances) most informative utterances,
  in time order, prefixed with their role. An utterance's score is the sum of the IDF
  weights ``log(1 + N / df)`` of its distinct content words (N utterances in the call, df
  those containing the word), so words specific to this call count most; greetings,
  fillers and stopwords (``offline_rules.NON_CONTENT``) count nothing, and utterances
  with fewer than four content words are never picked.
* **sentiment**: VADER per utterance (``analytics.enrich.sentiment``); the customer's is
  the mean over customer utterances (all utterances when no role is known). ``mixed``:
  the customer was clearly positive (>= 0.5) and clearly negative (<= -0.5) at times and
  the mean is within +-0.3.
* **outcome, topics, checklist, issues, action items**: the phrase rules in
  ``offline_rules``.

The transcript is redacted before anything is extracted, so the stored summary never
holds PII.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence

from analytics.enrich.redact import redact_utterances
from analytics.enrich.sentiment import label_for, score_text
from analytics.insights import offline_rules as rules
from analytics.insights.base import CallContext, InsightResult, UtteranceSentiment, text_hash
from analytics.insights.prompts import render_context, transcript_lines
from analytics.insights.schema import (
    ActionItem,
    AgentChecklist,
    CallInsights,
    CustomerSentiment,
    Outcome,
    Owner,
    SentimentLabel,
)
from analytics.models import Utterance

SUMMARY_PREFIX = "[extractive]"
_WORD = re.compile(r"[a-z]+(?:'[a-z]+)?")
_SENTENCE = re.compile(r"(?<=[.!?])\s+")
_MAX_QUOTE = 220
_MIN_CONTENT_WORDS = 4
#: A customer sentence at or below this VADER score counts as an issue.
_NEGATIVE_ISSUE = -0.5


def _content_words(text: str) -> list[str]:
    return [w for w in _WORD.findall(text.lower()) if w not in rules.NON_CONTENT and len(w) > 2]


def _quote(text: str, limit: int = _MAX_QUOTE) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1].rsplit(" ", 1)[0] + "…"


def _role_name(u: Utterance) -> str:
    return (u.role or "speaker").capitalize()


def _is_customer(u: Utterance, any_role: bool) -> bool:
    return u.role == "customer" or (not any_role and u.role is None)


def informativeness(utterances: Sequence[Utterance]) -> list[float]:
    """Per utterance: sum of IDF weights of its distinct content words (0 if too few)."""
    words = [set(_content_words(u.text)) for u in utterances]
    df = Counter(w for ws in words for w in ws)
    n = len(utterances)
    scores = []
    for ws in words:
        if len(ws) < _MIN_CONTENT_WORDS:
            scores.append(0.0)
        else:
            scores.append(sum(math.log(1 + n / df[w]) for w in ws))
    return scores


def extractive_summary(utterances: Sequence[Utterance]) -> str:
    scores = informativeness(utterances)
    k = 3 if len(utterances) > 8 else 2
    ranked = sorted((i for i, s in enumerate(scores) if s > 0), key=lambda i: -scores[i])
    picked = sorted(ranked[:k])
    if not picked:
        picked = [i for i, u in enumerate(utterances) if u.text.strip()][:1]
    if not picked:
        return f"{SUMMARY_PREFIX} (no speech transcribed)"
    parts = [f"{_role_name(utterances[i])}: {_quote(utterances[i].text)}" for i in picked]
    return f"{SUMMARY_PREFIX} " + " / ".join(parts)


def _outcome(utterances: Sequence[Utterance], has_issues: bool) -> Outcome:
    scores: dict[str, float] = {}
    n = len(utterances)
    for i, u in enumerate(utterances):
        position = i / (n - 1) if n > 1 else 1.0
        for rule in rules.OUTCOME_RULES:
            if rule.search(u.text, u.role):
                scores[rule.label] = scores.get(rule.label, 0.0) + rule.weight * (
                    0.5 + 0.5 * position
                )
    if not scores:
        return "unresolved" if has_issues else "no_resolution_needed"
    order = [r.label for r in rules.OUTCOME_RULES]
    best = max(scores, key=lambda label: (scores[label], -order.index(label)))
    return best  # type: ignore[return-value]


def _topics(utterances: Sequence[Utterance]) -> list[str]:
    hits = Counter(
        rule.label for u in utterances for rule in rules.TOPIC_RULES if rule.search(u.text, None)
    )
    order = [r.label for r in rules.TOPIC_RULES]
    return sorted(hits, key=lambda t: (-hits[t], order.index(t)))[:5]


def _checklist(utterances: Sequence[Utterance]) -> AgentChecklist:
    agent = [u for u in utterances if u.role in (None, "agent")]
    first = agent[:2]
    cutoff = utterances[int(len(utterances) * 0.6)].start if utterances else 0.0
    last = [u for u in agent if u.start >= cutoff] or agent[-1:]

    def said(rule: rules.PhraseRule, among: Sequence[Utterance]) -> bool:
        return any(rule.search(u.text, u.role) for u in among)

    return AgentChecklist(
        greeting=said(rules.GREETING, first),
        identity_verification=said(rules.IDENTITY, agent),
        empathy=said(rules.EMPATHY, agent),
        clear_next_steps=said(rules.NEXT_STEPS, agent),
        closing=said(rules.CLOSING, last),
    )


def _sentences(u: Utterance) -> list[str]:
    return [s for s in _SENTENCE.split(" ".join(u.text.split())) if s]


def _issues(utterances: Sequence[Utterance], any_role: bool) -> list[str]:
    found: list[str] = []
    for u in utterances:
        if not _is_customer(u, any_role):
            continue
        for sentence in _sentences(u):
            hit = (
                rules.ISSUE.search(sentence, u.role)
                or score_text(sentence).score <= _NEGATIVE_ISSUE
            )
            if hit and _quote(sentence, 160) not in found:
                found.append(_quote(sentence, 160))
    return found[:3]


def _action_items(utterances: Sequence[Utterance]) -> list[ActionItem]:
    items: list[ActionItem] = []
    for u in utterances:
        for sentence in _sentences(u):
            for rule, owner in rules.ACTION_RULES:
                if rule.search(sentence, u.role):
                    items.append(ActionItem(text=_quote(sentence, 160), owner=_owner(owner)))
                    break
    return items[:5]


def _owner(name: str) -> Owner:
    return "customer" if name == "customer" else "company" if name == "company" else "agent"


def _reason(utterances: Sequence[Utterance], any_role: bool, outbound: bool) -> str:
    """The customer's first substantial utterance (the agent's, on outbound calls)."""
    wanted = "agent" if outbound else "customer"
    for u in utterances:
        if any_role and u.role != wanted:
            continue
        if not outbound and u.role is None and rules.GREETING.search(u.text, "agent"):
            continue  # an unknown speaker opening the call is usually the agent
        sentences = _sentences(u)
        while len(sentences) > 1 and len(sentences[0].split()) < 3:
            sentences = sentences[1:]  # drop "Hi." / "Oh, hi."
        text = " ".join(sentences)
        # An outbound call's purpose comes after "may I speak with ...": ask for more.
        if len(_content_words(text)) >= (6 if outbound else 2):
            return _quote(text, 200)
    return "(not stated)"


def _customer_sentiment(
    utterances: Sequence[Utterance], scores: Sequence[float], any_role: bool
) -> CustomerSentiment:
    own = [s for u, s in zip(utterances, scores, strict=True) if _is_customer(u, any_role)]
    if not own:
        own = list(scores)
    mean = sum(own) / len(own) if own else 0.0
    label: SentimentLabel = label_for(mean)  # type: ignore[assignment]
    if own and max(own) >= 0.5 and min(own) <= -0.5 and abs(mean) < 0.3:
        label = "mixed"
    return CustomerSentiment(label=label, score=round(max(-1.0, min(1.0, mean)), 4))


class OfflineEngine:
    """Rules and lexicon sentiment; instant, free and deterministic."""

    name = "offline"
    model = rules.RULES_VERSION

    def analyze(
        self, utterances: Sequence[Utterance], call_context: CallContext | None = None
    ) -> InsightResult:
        red, _ = redact_utterances([u for u in utterances])
        any_role = any(u.role is not None for u in red)
        outbound = call_context is not None and call_context.direction == "outbound"
        sentiments = [score_text(u.text) for u in red]
        issues = _issues(red, any_role)
        insights = CallInsights(
            summary=extractive_summary(red),
            reason_for_call=_reason(red, any_role, outbound),
            issues_detected=issues,
            action_items=_action_items(red),
            outcome=_outcome(red, bool(issues)),
            customer_sentiment=_customer_sentiment(red, [s.score for s in sentiments], any_role),
            agent_checklist=_checklist(red),
            topics=_topics(red),
        )
        thash = text_hash(render_context(call_context), "\n".join(transcript_lines(red)))
        return InsightResult(
            insights,
            engine=self.name,
            model=self.model,
            prompt_version=rules.RULES_VERSION,
            transcript_hash=thash,
            utterance_sentiment=tuple(
                UtteranceSentiment(i, s.score, s.label) for i, s in enumerate(sentiments)
            ),
        )
