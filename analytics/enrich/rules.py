"""Categories from a versioned rule file (``config/categories.yaml``).

A category holds ``all:`` and/or ``any:`` lists of conditions. Condition kinds:

- ``phrase``: any of ``any_of`` said (case-insensitive, whole words, punctuation ignored),
  optionally by one ``role``, within the first ``first_s`` or last ``last_s`` seconds;
  ``negate: true`` holds when none was said there;
- ``metric``: a :data:`METRIC_NAMES` value compared with ``op`` (> >= < <= ==) to ``value``;
- ``sentiment``: a role's mean lexicon sentiment in ``quarter`` (1-4, or first/last: the
  first/last quarter that role spoke in) compared with ``value``;
- ``outcome``: the call's insight ``outcome`` equals one of ``equals``.

Rules run on stored words and metrics only, so changing the file and calling
``analytics.warehouse.enrichment.categorize_all`` re-categorizes every past call without
transcribing anything.
"""

from __future__ import annotations

import functools
import logging
import operator
import re
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator, model_validator

from analytics.enrich.metrics import CallMetrics
from analytics.errors import ConfigError
from analytics.models import ROLES, Utterance

log = logging.getLogger(__name__)

#: The rule file shipped with the repository.
DEFAULT_RULES_PATH = Path(__file__).resolve().parents[2] / "config" / "categories.yaml"

#: Call-level metric names (``customer_trend`` is the customer's sentiment delta).
CALL_METRICS = (
    "duration_s",
    "talk_s",
    "non_talk_s",
    "n_silences",
    "max_silence_s",
    "n_holds",
    "hold_s",
    "n_interruptions",
    "overlap_s",
    "latency_median_s",
    "latency_p90_s",
    "n_latency",
    "customer_trend",
)
#: Speaker fields available per role as ``agent_<field>`` / ``customer_<field>``.
ROLE_FIELDS = ("talk_s", "talk_ratio", "words", "wpm", "longest_monologue_s", "turns", "questions")
METRIC_NAMES = frozenset(CALL_METRICS) | {f"{r}_{f}" for r in ROLES for f in ROLE_FIELDS}

Op = Literal[">", ">=", "<", "<=", "=="]
_OPS: dict[str, Callable[[float, float], bool]] = {
    ">": operator.gt,
    ">=": operator.ge,
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
}
Role = Literal["agent", "customer"]


# --- the rule file -----------------------------------------------------------------------------
class _Condition(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PhraseCondition(_Condition):
    kind: Literal["phrase"]
    any_of: tuple[str, ...] = Field(min_length=1)
    role: Role | None = None
    first_s: float | None = Field(None, gt=0)
    last_s: float | None = Field(None, gt=0)
    negate: bool = False

    @field_validator("any_of")
    @classmethod
    def _words(cls, v: tuple[str, ...]) -> tuple[str, ...]:
        if not all(normalize(p) for p in v):
            raise ValueError("every phrase needs at least one word")
        return v

    @model_validator(mode="after")
    def _one_window(self) -> PhraseCondition:
        if self.first_s is not None and self.last_s is not None:
            raise ValueError("use first_s or last_s, not both")
        return self


class MetricCondition(_Condition):
    kind: Literal["metric"]
    name: str
    op: Op
    value: float

    @field_validator("name")
    @classmethod
    def _known(cls, v: str) -> str:
        if v not in METRIC_NAMES:
            raise ValueError(f"unknown metric {v!r}; known: {', '.join(sorted(METRIC_NAMES))}")
        return v


class SentimentCondition(_Condition):
    kind: Literal["sentiment"]
    role: Role | None = None
    quarter: Literal[1, 2, 3, 4, "first", "last"] = "last"
    op: Op
    value: float = Field(ge=-1, le=1)


class OutcomeCondition(_Condition):
    kind: Literal["outcome"]
    equals: tuple[str, ...] = Field(min_length=1)

    @field_validator("equals", mode="before")
    @classmethod
    def _listify(cls, v: Any) -> Any:
        return [v] if isinstance(v, str) else v


Condition = Annotated[
    PhraseCondition | MetricCondition | SentimentCondition | OutcomeCondition,
    Field(discriminator="kind"),
]


class Category(BaseModel):
    """One category: every ``all`` condition holds and, if given, at least one ``any``."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    name: str = Field(pattern=r"^[a-z][a-z0-9_]*$")
    description: str = ""
    all_of: tuple[Condition, ...] = Field((), alias="all")
    any_of: tuple[Condition, ...] = Field((), alias="any")

    @model_validator(mode="after")
    def _has_conditions(self) -> Category:
        if not self.all_of and not self.any_of:
            raise ValueError("a category needs conditions under all: or any:")
        return self


class RuleSet(BaseModel):
    """A validated rule file; ``version`` is stored with every match."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: str
    categories: tuple[Category, ...] = Field(min_length=1)

    @field_validator("version", mode="before")
    @classmethod
    def _text(cls, v: Any) -> Any:
        return str(v) if isinstance(v, int | float) else v

    @field_validator("categories")
    @classmethod
    def _unique(cls, v: tuple[Category, ...]) -> tuple[Category, ...]:
        names = [c.name for c in v]
        if dup := sorted({n for n in names if names.count(n) > 1}):
            raise ValueError(f"duplicate category names: {', '.join(dup)}")
        return v


_KINDS = {"phrase", "metric", "sentiment", "outcome"}


def _explain(exc: ValidationError, raw: Any, path: Path) -> ConfigError:
    """A ConfigError naming the category and field of every validation problem."""
    problems = []
    for err in exc.errors():
        loc = list(err["loc"])
        where = "rule file"
        if loc[:1] == ["categories"] and len(loc) > 1 and isinstance(loc[1], int):
            item = raw["categories"][loc[1]]
            name = item.get("name") if isinstance(item, dict) else None
            where = f"category {name!r}" if name else f"categories[{loc[1]}]"
            loc = loc[2:]
        parts: list[str] = []
        for i, part in enumerate(loc):
            if isinstance(part, int):
                parts[-1:] = [f"{parts[-1]}[{part}]" if parts else f"[{part}]"]
            elif not (part in _KINDS and i > 0 and isinstance(loc[i - 1], int)):
                parts.append(str(part))
        field = ".".join(parts) or "(whole entry)"
        problems.append(f"{where}, field {field}: {err['msg']}")
    return ConfigError(f"invalid rule file {path}:\n  " + "\n  ".join(problems))


def load_rules(path: Path | str = DEFAULT_RULES_PATH) -> RuleSet:
    """Read and validate a rule file. Raises ConfigError naming the category and field."""
    path = Path(path)
    try:
        raw = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read rule file {path}: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"rule file {path} is not valid YAML: {exc}") from exc
    if not isinstance(raw, dict):
        raise ConfigError(f"rule file {path} must be a mapping with version: and categories:")
    try:
        rules = RuleSet.model_validate(raw)
    except ValidationError as exc:
        raise _explain(exc, raw, path) from exc
    log.debug(
        "loaded %d categories (version %s) from %s", len(rules.categories), rules.version, path
    )
    return rules


# --- matching ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Evidence:
    """Why a condition held: a time range of the call and a human-readable detail."""

    kind: str
    start_s: float
    end_s: float
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class CategoryMatch:
    category: str
    evidence: tuple[Evidence, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"category": self.category, "evidence": [e.to_dict() for e in self.evidence]}


@functools.lru_cache(maxsize=65536)  # a call's words repeat across rules and calls
def normalize(text: str) -> str:
    """Lower case, curly quotes straightened, everything but letters, digits and inner
    apostrophes turned into spaces."""
    text = text.lower().replace("\u2019", "'").replace("\u2018", "'")
    return " ".join(t.strip("'") for t in re.sub(r"[^\w']+|_", " ", text).split() if t.strip("'"))


def metric_value(metrics: CallMetrics, name: str) -> float | None:
    """A metric by rule name (see :data:`METRIC_NAMES`); None when it does not apply."""
    if name in CALL_METRICS:
        value = metrics.summary()[name]
        return None if value is None else float(value)
    if name not in METRIC_NAMES:
        raise KeyError(name)
    role, _, field = name.partition("_")
    speakers = [s for s in metrics.speakers if s.role == role]
    if not speakers:
        return None
    if field == "longest_monologue_s":
        return max(s.longest_monologue_s for s in speakers)
    if field == "wpm":
        talk = sum(s.talk_s for s in speakers)
        return sum(s.words for s in speakers) / (talk / 60) if talk > 0 else None
    return float(sum(getattr(s, field) for s in speakers))


def role_sentiment(
    metrics: CallMetrics, role: str | None, quarter: int | str
) -> tuple[float | None, int]:
    """(mean sentiment of ``role`` (None: everybody) in ``quarter``, the quarter used);
    "first"/"last" pick the first/last quarter in which that role spoke."""
    by_q: dict[int, list[float]] = {}
    for s in metrics.utterance_sentiment:
        if role is None or s.role == role:
            by_q.setdefault(s.quarter, []).append(s.score)
    if quarter in ("first", "last"):
        if not by_q:
            return None, 1 if quarter == "first" else 4
        quarter = min(by_q) if quarter == "first" else max(by_q)
    q = int(quarter)
    return (round(sum(by_q[q]) / len(by_q[q]), 4) if q in by_q else None), q


def _quarter_span(metrics: CallMetrics, quarter: int) -> tuple[float, float]:
    q = metrics.duration_s / 4
    return round((quarter - 1) * q, 3), round(quarter * q, 3)


def _tokens(u: Utterance) -> list[tuple[str, float, float]]:
    """Normalised tokens of an utterance with their times (word times when known)."""
    if u.words:
        return [(t, w.start, w.end) for w in u.words for t in normalize(w.word).split()]
    return [(t, u.start, u.end) for t in normalize(u.text).split()]


def _find(
    tokens: list[tuple[str, float, float]], phrases: tuple[str, ...], lo: float, hi: float
) -> tuple[str, float] | None:
    """The first phrase said inside (lo, hi), with its start time."""
    words = [t for t, _, _ in tokens]
    for phrase in phrases:
        want = normalize(phrase).split()
        for i in range(len(words) - len(want) + 1):
            start, end = tokens[i][1], tokens[i + len(want) - 1][2]
            if words[i : i + len(want)] == want and start < hi and end > lo:
                return phrase, start
    return None


def _phrase(c: PhraseCondition, utts: Sequence[Utterance], m: CallMetrics) -> list[Evidence] | None:
    if c.role and not any(u.role == c.role for u in utts):
        return None  # no speaker has that role (e.g. mono): undecidable, never holds
    lo = max(m.duration_s - c.last_s, 0.0) if c.last_s is not None else 0.0
    hi = min(c.first_s, m.duration_s) if c.first_s is not None else m.duration_s
    found: list[Evidence] = []
    for u in utts:
        if (not c.role or u.role == c.role) and (hit := _find(_tokens(u), c.any_of, lo, hi)):
            detail = f"{u.role or u.speaker} said {hit[0]!r} at {hit[1]:.1f} s"
            found.append(Evidence("phrase", u.start, u.end, detail))
    if not c.negate:
        return found or None
    if found:
        return None
    detail = f"{c.role or 'nobody'} said none of {list(c.any_of)} in {lo:.1f}-{hi:.1f} s"
    return [Evidence("phrase", round(lo, 3), round(hi, 3), detail)]


_SPANS: dict[str, Callable[[CallMetrics], list[tuple[float, float]]]] = {
    "non_talk_s": lambda m: [(s.start, s.end) for s in m.silences],
    "n_silences": lambda m: [(s.start, s.end) for s in m.silences],
    "max_silence_s": lambda m: [
        (s.start, s.end) for s in sorted(m.silences, key=lambda s: -s.duration_s)[:1]
    ],
    "n_holds": lambda m: [(s.start, s.end) for s in m.holds],
    "hold_s": lambda m: [(s.start, s.end) for s in m.holds],
    "n_interruptions": lambda m: [(i.start, i.end) for i in m.interruptions],
    "overlap_s": lambda m: [(i.start, i.end) for i in m.interruptions],
}


def _evaluate(
    c: Any, utts: Sequence[Utterance], m: CallMetrics, insights: dict[str, Any] | None
) -> list[Evidence] | None:
    """Evidence when the condition holds, None when it does not."""
    whole = (0.0, m.duration_s)
    if isinstance(c, PhraseCondition):
        return _phrase(c, utts, m)
    if isinstance(c, MetricCondition):
        value = metric_value(m, c.name)
        if value is None or not _OPS[c.op](value, c.value):
            return None
        detail = f"{c.name} = {value:g} ({c.op} {c.value:g})"
        spans = _SPANS.get(c.name, lambda _: [])(m) or [whole]
        return [Evidence("metric", s, e, detail) for s, e in spans]
    if isinstance(c, SentimentCondition):
        mean, q = role_sentiment(m, c.role, c.quarter)
        if mean is None or not _OPS[c.op](mean, c.value):
            return None
        detail = f"{c.role or 'overall'} sentiment {mean:+.3f} in quarter {q} ({c.op} {c.value:g})"
        return [Evidence("sentiment", *_quarter_span(m, q), detail)]
    if isinstance(c, OutcomeCondition):
        outcome = (insights or {}).get("outcome")
        if outcome is None or str(outcome).lower() not in {v.lower() for v in c.equals}:
            return None
        return [Evidence("outcome", *whole, f"outcome is {outcome!r}")]
    raise TypeError(f"unknown condition {c!r}")


def apply_rules(
    ruleset: RuleSet,
    utterances: Sequence[Utterance],
    metrics: CallMetrics,
    insights: dict[str, Any] | None = None,
) -> list[CategoryMatch]:
    """The categories one call falls in, in rule-file order, each with its evidence."""
    matches: list[CategoryMatch] = []
    for cat in ruleset.categories:
        evidence: list[Evidence] = []
        ok = True
        for cond in cat.all_of:
            found = _evaluate(cond, utterances, metrics, insights)
            if found is None:
                ok = False
                break
            evidence.extend(found)
        if ok and cat.any_of:
            hits = [e for c in cat.any_of if (e := _evaluate(c, utterances, metrics, insights))]
            ok = bool(hits)
            evidence.extend(x for h in hits for x in h)
        if ok:
            matches.append(CategoryMatch(cat.name, tuple(evidence)))
    return matches
