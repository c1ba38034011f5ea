"""Agent or customer? Roles for diarized speakers, each with a confidence in [0, 1].

Roles from the sidecar (``channel_roles``, already on the channel streams) are kept with
confidence 1.0. Other speakers go through a :class:`RoleAssigner`; the default is
:class:`HeuristicRoleAssigner`, a scored set of cues. An LLM-backed assigner can implement
the same protocol later (it gets the same speaker streams and call metadata).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from analytics.align import SpeakerStream
from analytics.diarization.base import DiarizationResult
from analytics.models import CallMetadata

AGENT, CUSTOMER = "agent", "customer"


@dataclass(frozen=True)
class RoleGuess:
    """A speaker's role and how sure we are (1.0 = given by the sidecar)."""

    role: str | None
    confidence: float | None


class RoleAssigner(Protocol):
    """Gives each speaker of a diarized call a role."""

    @property
    def name(self) -> str:
        """Stored in the analysis params ("heuristic", later e.g. "llm")."""
        ...

    def assign(self, result: DiarizationResult, metadata: CallMetadata) -> dict[str, RoleGuess]:
        """Role and confidence per speaker label of ``result``."""
        ...


#: (pattern, weight) cues over a speaker's lower-cased words. Agent cues are the company
#: script: greeting, offer to help, name + company, verification, closing question.
THANKS_FOR_CALLING = (r"\bthanks? (you )?for calling\b", 3.0)
CALLING_ABOUT = (r"\bi'?m calling (about|because|to|regarding)\b", 2.0)
AGENT_CUES: tuple[tuple[str, float], ...] = (
    THANKS_FOR_CALLING,
    (r"\bhow (can|may|could) i (help|assist)\b", 3.0),
    (r"\bwhat can i (do|help)\b", 2.0),
    (r"\bis there anything else\b", 3.0),
    (r"\banything else i can\b", 1.0),
    (r"\bmy name is \w+(,)? (and i'm |i'm )?(with|from)\b", 1.5),
    (r"\b(this is|my name is) (\w+,? ){1,2}(calling |speaking )?(from|with)\b", 2.0),
    (r"\b(this is|it's) \w+ speaking\b", 1.5),
    (r"\bcalling from\b", 1.5),
    (r"\b(can|could|may) i (have|get|ask for|confirm) (your|the)\b", 1.5),
    (r"\baccount number\b", 1.0),
    (r"\bverif(y|ication)\b", 1.5),
    (r"\bdate of birth\b", 1.0),
    (r"\blast four digits\b", 1.0),
    (r"\blet me (check|look|pull|see)\b", 1.0),
    (r"\bi can (help|look into|do that|add|send|set|activate)\b", 1.0),
    (r"\bi (have|will|'ll) (added|add|send|sent|activate|remove|schedule|transfer)", 0.5),
    (r"\b(please )?hold (on )?for a moment\b|\bplease hold\b|\bbear with me\b", 1.5),
    (r"\byou're welcome\b|\byou are welcome\b", 1.0),
    (r"\bcall us back\b", 1.5),
    (r"\bour (office|team|technicians?|scheduling|records|system|store|company)\b", 1.0),
    (r"\bhave a (great|nice|good|wonderful) day\b", 0.5),
    (r"\bi'm sorry (to hear|about|for)\b", 0.5),
    (r"\bsupervisor\b.*\bthis is\b|\bthis is \w+, the\b", 0.5),
)
#: Customer cues: why they call, "my" + a product, wanting something from the company.
CUSTOMER_CUES: tuple[tuple[str, float], ...] = (
    CALLING_ABOUT,
    (r"\bmy (bill|account|internet|service|phone|modem|router|plan|payment|refund|card)\b", 1.0),
    (r"\bi (want|would like|need) to (cancel|change|speak|talk|add|return|know)\b", 1.5),
    (r"\b(speak|talk) (to|with) a (supervisor|manager)\b", 2.0),
    (r"\bcan you (send|fix|give|tell|help|let)\b", 1.0),
    (r"\bi (paid|was charged|can't|cannot|lost|tried|returned|just moved)\b", 1.0),
    (r"\bwho is (this|calling)\b|\bwhat is this about\b", 1.5),
    (r"\bthank you (so|very) much\b|\bthanks for your help\b|\bthank you for your help\b", 0.5),
)
#: Outbound calls turn some cues around: the agent says "I'm calling about...", asks for
#: the customer by name; the customer says "thanks for calling".
OUTBOUND_AGENT_CUES: tuple[tuple[str, float], ...] = (
    *(c for c in AGENT_CUES if c != THANKS_FOR_CALLING),
    CALLING_ABOUT,
    (r"\b(may|can) i (speak|talk) (with|to)\b|\bam i speaking (with|to)\b", 2.0),
)
OUTBOUND_CUSTOMER_CUES: tuple[tuple[str, float], ...] = (
    *(c for c in CUSTOMER_CUES if c != CALLING_ABOUT),
    THANKS_FOR_CALLING,
)

_COMPILED: dict[str, re.Pattern[str]] = {}


def _score(text: str, cues: Sequence[tuple[str, float]]) -> float:
    total = 0.0
    for pattern, weight in cues:
        rx = _COMPILED.get(pattern)
        if rx is None:
            rx = _COMPILED[pattern] = re.compile(pattern)
        total += weight * min(len(rx.findall(text)), 2)  # a repeated phrase counts twice
    return total


def _text(stream: SpeakerStream) -> str:
    return " ".join(w.word.strip() for w in stream.words).lower().replace("’", "'")


@dataclass(frozen=True)
class HeuristicRoleAssigner:
    """Scored cues per speaker: agent minus customer phrase scores, plus who talks first
    (the agent answers inbound calls; on outbound calls the customer picks up) and a small
    talk-share term (agents usually talk more). With two or more speakers the highest
    score is the agent and the lowest the customer; anyone else is agent if their score is
    positive. The confidence is a logistic of the score margin (0.5 = a coin flip)."""

    first_speaker_weight: float = 2.0
    talk_share_weight: float = 1.0
    #: Score margin that gives a confidence of ~0.73 (logistic scale).
    scale: float = 2.0
    name: str = "heuristic"

    def scores(self, result: DiarizationResult, metadata: CallMetadata) -> dict[str, float]:
        """Agent-minus-customer score per speaker (positive: sounds like the agent)."""
        outbound = (metadata.direction or "").lower() == "outbound"
        streams = {s.speaker: s for s in result.streams}
        speakers = list(result.speakers)
        talk = {s: result.speech_s(s) for s in speakers}
        total_talk = sum(talk.values()) or 1.0
        first = _first_speaker(result)
        agent_cues = OUTBOUND_AGENT_CUES if outbound else AGENT_CUES
        customer_cues = OUTBOUND_CUSTOMER_CUES if outbound else CUSTOMER_CUES
        out: dict[str, float] = {}
        for spk in speakers:
            text = _text(streams[spk]) if spk in streams else ""
            score = _score(text, agent_cues) - _score(text, customer_cues)
            if spk == first and len(speakers) > 1:
                # inbound: the agent answers; outbound: usually the customer picks up and
                # speaks first, but agents often open outbound calls too (half weight)
                score += -self.first_speaker_weight / 2 if outbound else self.first_speaker_weight
            if len(speakers) > 1:
                score += self.talk_share_weight * (2 * talk[spk] / total_talk - 1)
            out[spk] = score
        return out

    def assign(self, result: DiarizationResult, metadata: CallMetadata) -> dict[str, RoleGuess]:
        scores = self.scores(result, metadata)
        if not scores:
            return {}
        if len(scores) == 1:
            ((spk, s),) = scores.items()
            if s == 0:  # no cue at all: on outbound calls the caller is the agent
                outbound = (metadata.direction or "").lower() == "outbound"
                return {spk: RoleGuess(AGENT if outbound else CUSTOMER, 0.5)}
            return {spk: RoleGuess(AGENT if s > 0 else CUSTOMER, _logistic(abs(s), self.scale))}
        ranked = sorted(scores, key=lambda k: scores[k], reverse=True)
        agent, customer = ranked[0], ranked[-1]
        margin = scores[agent] - scores[customer]
        pair_conf = _logistic(margin, self.scale)
        out = {agent: RoleGuess(AGENT, pair_conf), customer: RoleGuess(CUSTOMER, pair_conf)}
        for spk in ranked[1:-1]:
            s = scores[spk]
            role = AGENT if s > 0 else CUSTOMER
            out[spk] = RoleGuess(role, _logistic(abs(s), self.scale))
        return out


def _logistic(margin: float, scale: float) -> float:
    return round(1.0 / (1.0 + math.exp(-margin / scale)), 3)


def _first_speaker(result: DiarizationResult) -> str | None:
    """Who talks first (turns; words when there are no turns)."""
    if result.turns:
        return min(result.turns, key=lambda t: t.start).speaker
    firsts = [(s.words[0].start, s.speaker) for s in result.streams if s.words]
    return min(firsts)[1] if firsts else None


def assign_roles(
    result: DiarizationResult, metadata: CallMetadata, assigner: RoleAssigner | None
) -> dict[str, RoleGuess]:
    """Roles for every speaker: stream roles already set (sidecar ``channel_roles``) are
    kept at confidence 1.0; the assigner fills in the rest (None: left unknown)."""
    given: Mapping[str, str | None] = {s.speaker: s.role for s in result.streams}
    out: dict[str, RoleGuess] = {}
    missing = [s for s in result.speakers if not given.get(s)]
    guessed = assigner.assign(result, metadata) if assigner is not None and missing else {}
    for spk in result.speakers:
        role = given.get(spk)
        if role:
            out[spk] = RoleGuess(role, 1.0)
        else:
            out[spk] = guessed.get(spk, RoleGuess(None, None))
    return out
