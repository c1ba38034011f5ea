"""The offline engine's keyword rules, kept as a plain table so anyone can read and tune them.

Patterns are case-insensitive regular expressions matched on whole words of one utterance.
``roles`` limits a rule to utterances of those roles; utterances without a role (mono calls,
speakers not identified) match every rule. Change a rule -> bump :data:`RULES_VERSION`.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

#: Stored as the offline engine's ``model`` and ``prompt_version``.
RULES_VERSION = "rules-v1"

AGENT = ("agent",)
CUSTOMER = ("customer",)


@dataclass(frozen=True)
class PhraseRule:
    label: str
    patterns: tuple[str, ...]
    roles: tuple[str, ...] | None = None
    weight: float = 1.0
    regex: re.Pattern[str] = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        joined = "|".join(f"(?:{p})" for p in self.patterns)
        object.__setattr__(self, "regex", re.compile(rf"\b(?:{joined})\b", re.IGNORECASE))

    def applies_to(self, role: str | None) -> bool:
        return role is None or self.roles is None or role in self.roles

    def search(self, text: str, role: str | None) -> re.Match[str] | None:
        return self.regex.search(text) if self.applies_to(role) else None


# --- outcome -----------------------------------------------------------------------------
# Each matching utterance adds weight x (0.5 + 0.5 x its relative position in the call), so
# how a call ends counts twice as much as how it started. Highest score wins; ties go to the
# earlier rule. No signal at all: "unresolved" when issues were raised, else
# "no_resolution_needed".
OUTCOME_RULES: tuple[PhraseRule, ...] = (
    PhraseRule(
        "no_resolution_needed",
        (
            r"wrong number",
            r"(?:dialed|dialled|called|rang) the wrong",
            r"misdial(?:ed|led)?",
            r"(?:just|only) (?:wanted|calling) to (?:ask|check|confirm|let you know)",
        ),
        weight=3.0,
    ),
    PhraseRule(
        "escalated",
        (
            r"supervisor",
            r"(?:a|your|the) manager",
            r"escalat(?:e|ed|ing|ion)",
            r"transfer(?:ring)? you (?:to|over)",
            r"(?:specialist|senior|second[- ]level|tier (?:two|2)) (?:team|agent|department)",
        ),
        weight=2.0,
    ),
    PhraseRule(
        "callback",
        (
            r"call you back",
            r"get back to you",
            r"return your call",
            r"follow up with you",
            r"(?:call|ring) you (?:tomorrow|later|this afternoon|on \w+day)",
            r"someone will (?:call|contact) you",
        ),
        weight=2.0,
    ),
    PhraseRule(
        "unresolved",
        (
            r"still (?:not|isn't|doesn't|won't|can't|cannot) \w+",
            r"still (?:broken|down|waiting)",
            r"not good enough",
            r"unacceptable",
            r"nothing (?:you|anyone) can do",
            r"(?:this|that) is (?:a joke|ridiculous|absurd)",
            r"waste of (?:my )?time",
            r"(?:find|switch to|go with|move to) (?:a )?(?:new|another|different) "
            r"(?:company|provider|carrier)",
            r"not what you wanted to hear",
            r"(?:doesn't|does not|didn't|did not) (?:help|solve|fix)",
            r"(?:can't|cannot|can not) (?:fix|solve|do anything)",
        ),
        weight=1.5,
    ),
    PhraseRule(
        "resolved",
        (
            r"(?:that|it)(?:'s| is| has been)? (?:resolved|fixed|sorted)",
            r"(?:works|working) (?:now|again)",
            r"that works",
            r"works for me",
            r"sounds (?:good|great|fair|perfect)",
            r"(?:thank you|thanks) (?:so|very) much",
            r"that(?:'s| is) (?:everything|all I needed|perfect|great)",
            r"perfect",
            r"let's do it",
            r"(?:problem|issue) (?:is )?solved",
            r"all set",
            r"I will keep",
            r"that helps",
        ),
        roles=CUSTOMER,
    ),
)


# --- topics (ordered by how many utterances mention them; at most five) -------------------
TOPIC_RULES: tuple[PhraseRule, ...] = (
    PhraseRule("billing", (r"bill(?:s|ed|ing)?", r"charged?", r"payments?", r"invoice")),
    PhraseRule("refund", (r"refunds?", r"money back", r"credit")),
    PhraseRule("cancellation", (r"cancel(?:led|ling|lation)?", r"close my account")),
    PhraseRule(
        "outage",
        (
            r"outage",
            r"(?:internet|service|connection|line) (?:is |has been |was )?(?:down|out)",
            r"without service",
        ),
    ),
    PhraseRule(
        "technical support",
        (r"router", r"modem", r"reset", r"restart", r"(?:stopped|not) working", r"wi-?fi"),
    ),
    PhraseRule("appointment", (r"appointment", r"technician", r"reschedul\w*", r"visit")),
    PhraseRule("upgrade", (r"upgrade", r"fiber", r"faster plan", r"new plan")),
    PhraseRule("pricing", (r"price", r"expensive", r"cheaper", r"discount", r"\w+ dollars")),
    PhraseRule("account", (r"password", r"log ?in", r"account details", r"update my address")),
    PhraseRule("wrong number", (r"wrong number",)),
)


# --- agent checklist -----------------------------------------------------------------------
GREETING = PhraseRule(
    "greeting",
    (
        r"thank(?:s| you) for calling",
        r"hello",
        r"hi",
        r"good (?:morning|afternoon|evening)",
        r"how (?:can|may) I help",
        r"my name is",
        r"calling from",
    ),
    roles=AGENT,
)
IDENTITY = PhraseRule(
    "identity_verification",
    (
        r"(?:name|address|date of birth|email) on the account",
        r"(?:may|can|could) I (?:have|get|take|confirm) your (?:full )?"
        r"(?:name|address|account|date of birth|phone number|email|postcode|zip)",
        r"(?:verify|confirm) (?:your|the) (?:identity|name|address|account|details)",
        r"last four",
        r"security (?:question|code|pin)",
        r"may I speak (?:with|to)",
    ),
    roles=AGENT,
)
EMPATHY = PhraseRule(
    "empathy",
    (
        r"(?:I'm|I am) (?:so |really |very |truly )?sorry (?:to hear|about|for)",
        r"I (?:completely |totally |fully )?understand",
        r"I apologi[sz]e",
        r"that must be",
        r"I can imagine",
        r"I know (?:that's|this is|how)",
    ),
    roles=AGENT,
)
NEXT_STEPS = PhraseRule(
    "clear_next_steps",
    (
        r"you(?:'ll| will) (?:see|get|receive|be|have)",
        r"(?:it|this|that) (?:should|will) (?:show up|arrive|be (?:back|fixed|done))",
        r"(?:in|within) \w+ (?:to \w+ )?(?:business |working )?(?:days|hours|minutes)",
        r"I(?:'ve| have) (?:started|added|scheduled|booked|sent|submitted|opened|fixed)",
        r"I(?:'ll| will) (?:send|call|email|schedule|add|note|follow)",
        r"I can (?:schedule|add|send|report|book)",
        r"we(?:'ll| will) (?:send|call|email|be)",
        r"next step",
        r"(?:the technician|someone|they) will (?:call|come|arrive)",
    ),
    roles=AGENT,
)
CLOSING = PhraseRule(
    "closing",
    (
        r"anything else",
        r"have a (?:good|great|nice|lovely|wonderful) (?:day|evening|night|weekend|one)",
        r"thank(?:s| you) for (?:calling|your (?:time|patience))",
        r"(?:good)?bye",
        r"take care",
        r"you're welcome",
    ),
    roles=AGENT,
)
#: Greeting is looked for in the agent's first two utterances, closing in the last 40 %.
CHECKLIST_RULES = (GREETING, IDENTITY, EMPATHY, NEXT_STEPS, CLOSING)


# --- issues and action items (sentence-level) ----------------------------------------------
ISSUE = PhraseRule(
    "issue",
    (
        r"(?:not|stopped|isn't|doesn't|won't|never) work(?:ing|s|ed)?",
        r"down",
        r"outage",
        r"broken",
        r"error",
        r"problem",
        r"issue",
        r"charged (?:me )?twice",
        r"double (?:charge|payment)",
        r"too expensive",
        r"(?:can't|cannot|unable to) (?:log ?in|connect|pay|access)",
        r"wrong (?:charge|amount|bill|plan)",
    ),
    roles=CUSTOMER,
)
#: Sentence rules for action items: (rule, owner).
ACTION_RULES: tuple[tuple[PhraseRule, str], ...] = (
    (
        PhraseRule(
            "agent",
            (
                r"I(?:'ll| will) \w+",
                r"I(?:'ve| have) (?:started|added|scheduled|booked|sent|submitted|opened)",
                r"I can (?:schedule|add|send|report|book)",
            ),
            roles=AGENT,
        ),
        "agent",
    ),
    (
        PhraseRule(
            "company",
            (
                r"we(?:'ll| will) \w+",
                r"(?:the|a) technician will",
                r"someone will",
                r"you(?:'ll| will) (?:get|receive)",
            ),
            roles=AGENT,
        ),
        "company",
    ),
    (PhraseRule("customer", (r"I(?:'ll| will) \w+",), roles=CUSTOMER), "customer"),
)


# --- extractive summary --------------------------------------------------------------------
#: Words that carry no content in a call: stopwords, greetings, fillers, politeness.
NON_CONTENT = frozenset(
    """
    a about after again all also am an and any anything are as at be because been before
    being but by can could did do does doing don't done for from get got had has have having
    he her here him his how i i'd i'll i'm i've if in into is isn't it it's its just let let's
    me more my no not now of off oh ok okay on one only or our out over please right same so
    some still sure than that that's the their them then there these they this those to too
    up us very was we we'll we're were what when where which while who why will with would
    yeah yes you you'll you're your yours
    hi hello hey bye goodbye thanks thank welcome sorry great good fine perfect alright
    um uh er hmm mm well like really actually just kind sort know mean see look okay
    today day help calling call moment minute second
    """.split()  # noqa: SIM905 (a word list reads better as text)
)
