"""Reprocessing: which calls, which stages, what it will cost -- then re-derive them.

:func:`select_targets` turns combinable selectors into calls (their current analysis, or
a failed recording that never landed). :func:`make_plan` gives each call its stages --
asked for explicitly, or ``auto``: the stages whose lineage differs from the current
settings (``analytics.stages``) -- and estimates engine minutes, LLM tokens, cost and
time. :func:`rederive` runs stages that need no audio from stored rows; calls that need
transcription go through the normal pipeline from their stored URI (the flow does that).
"""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from functools import partial
from typing import Any

import duckdb

from analytics.config import Settings
from analytics.enrich.metrics import compute_metrics
from analytics.enrich.rules import RuleSet, apply_rules
from analytics.errors import ConfigError
from analytics.insights import CallContext, analyze_safely
from analytics.insights.base import InsightsEngine
from analytics.stages import REPROCESS_STAGES, current_lineage, downstream, stages_to_rerun
from analytics.warehouse.db import Warehouse
from analytics.warehouse.derive import (
    Derived,
    StoredCall,
    load_stored,
    stored_metrics,
    stored_outcome,
    stored_stages,
    write_derived,
)

log = logging.getLogger(__name__)

#: ``--differs`` names -> (stage, lineage key) compared with the current settings.
DIFFERS = {
    "engine": ("transcribe", "engine"),
    "model": ("transcribe", "model"),
    "pipeline": ("transcribe", "pipeline_version"),
    "prompt": ("insights", "prompt_version"),
    "rules": ("categories", "rules_version"),
}
INSIGHTS_STATUSES = ("failed", "skipped_budget")
#: Seconds of work per call for a time estimate when the warehouse has no history of the
#: engine (its measured processing time per audio second is used when it has):
#: bench/reprocess.py measures them.
_SECONDS = {"audio_rtf": 0.7, "llm": 4.0, "offline": 0.05, "stored": 0.3}


@dataclass(frozen=True)
class Selector:
    """Which calls to reprocess. Every given field narrows the selection."""

    call_ids: tuple[str, ...] = ()
    #: Calls started (else first seen) in [since, until).
    since: datetime | None = None
    until: datetime | None = None
    agent: str | None = None
    #: Recording URIs starting with this (``s3://bucket/prefix/``, a directory).
    source_prefix: str | None = None
    category: str | None = None
    outcome: str | None = None
    #: Lineage parts that differ from the current settings: engine, model, pipeline,
    #: prompt, rules.
    differs: tuple[str, ...] = ()
    #: Recordings whose last processing failed and that never landed since.
    failed: bool = False
    #: With ``failed``: only failures at this stage (fetch, metadata, decode, ...).
    failed_stage: str | None = None
    #: Calls whose insights failed or were skipped by the budget.
    insights_status: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        bad = set(self.differs) - set(DIFFERS)
        if bad:
            raise ConfigError(
                f"unknown --differs {', '.join(sorted(bad))}; choose from {', '.join(DIFFERS)}"
            )
        bad = set(self.insights_status) - set(INSIGHTS_STATUSES)
        if bad:
            raise ConfigError(
                f"unknown insights status {', '.join(sorted(bad))};"
                f" choose from {', '.join(INSIGHTS_STATUSES)}"
            )

    def to_dict(self) -> dict[str, Any]:
        return {k: v for k, v in asdict(self).items() if v not in (None, (), False)}


@dataclass(frozen=True)
class Target:
    """One call to reprocess (``analysis_id`` None: a failed recording, never landed)."""

    call_id: str | None
    source_uri: str
    analysis_id: str | None
    duration_s: float
    n_words: int
    stages: dict[str, Any] = field(default_factory=dict)


def _current_rows(con: duckdb.DuckDBPyConnection, sel: Selector) -> list[Target]:
    where: list[str] = ["true"]
    args: list[Any] = []
    if sel.call_ids:
        where.append("list_contains(?, c.call_id)")
        args.append(list(sel.call_ids))
    if sel.since is not None:
        where.append("coalesce(c.started_at, c.first_seen_at) >= ?")
        args.append(sel.since)
    if sel.until is not None:
        where.append("coalesce(c.started_at, c.first_seen_at) < ?")
        args.append(sel.until)
    if sel.agent:
        where.append("c.agent_id = ?")
        args.append(sel.agent)
    if sel.source_prefix:
        where.append("starts_with(a.source_uri, ?)")
        args.append(sel.source_prefix)
    if sel.category:
        where.append(
            "EXISTS (SELECT 1 FROM category_matches m WHERE m.analysis_id = a.analysis_id"
            " AND m.category = ?)"
        )
        args.append(sel.category)
    if sel.outcome:
        where.append(
            "EXISTS (SELECT 1 FROM insights i WHERE i.analysis_id = a.analysis_id"
            " AND i.outcome = ? AND i.prompt_version <> 'native')"
        )
        args.append(sel.outcome)
    if sel.insights_status:
        where.append(
            "EXISTS (SELECT 1 FROM insights i WHERE i.analysis_id = a.analysis_id"
            " AND list_contains(?, i.status))"
        )
        args.append(list(sel.insights_status))
    rows = con.execute(
        "SELECT c.call_id, a.source_uri, a.analysis_id, a.duration_s, a.n_words FROM calls c"
        " JOIN analyses a ON a.analysis_id = c.current_analysis_id"
        f" WHERE {' AND '.join(where)} ORDER BY c.call_id",
        args,
    ).fetchall()
    return [Target(c, u, a, d or 0.0, n or 0) for c, u, a, d, n in rows]


def _failed_rows(con: duckdb.DuckDBPyConnection, sel: Selector) -> list[Target]:
    """Recordings whose newest failure is not followed by a landed analysis."""
    where = [
        "NOT EXISTS (SELECT 1 FROM analyses a WHERE a.source_uri = e.source_uri"
        " AND a.created_at >= e.occurred_at)"
    ]
    args: list[Any] = []
    if sel.failed_stage:
        where.append("e.stage = ?")
        args.append(sel.failed_stage)
    if sel.call_ids:
        where.append("list_contains(?, e.call_id)")
        args.append(list(sel.call_ids))
    if sel.source_prefix:
        where.append("starts_with(e.source_uri, ?)")
        args.append(sel.source_prefix)
    rows = con.execute(
        "SELECT e.call_id, e.source_uri FROM (SELECT *, row_number() OVER (PARTITION BY"
        " source_uri ORDER BY occurred_at DESC) AS n FROM call_errors) e"
        f" WHERE e.n = 1 AND {' AND '.join(where)} ORDER BY e.source_uri",
        args,
    ).fetchall()
    return [Target(c, u, None, 0.0, 0) for c, u in rows]


def select_targets(
    wh: Warehouse, sel: Selector, current: dict[str, dict[str, Any]]
) -> list[Target]:
    """The calls the selector names, each with its stored stage lineage."""
    with wh.connect() as con:
        if sel.failed:
            return _failed_rows(con, sel)
        out = []
        for t in _current_rows(con, sel):
            out.append(replace(t, stages=stored_stages(con, t.analysis_id or "")))
    if sel.differs:
        out = [
            t
            for t in out
            if any(
                (t.stages.get(stage) or {}).get(key) != current[stage][key]
                for stage, key in (DIFFERS[d] for d in sel.differs)
            )
        ]
    return out


@dataclass(frozen=True)
class PlannedCall:
    target: Target
    stages: tuple[str, ...]


@dataclass(frozen=True)
class Plan:
    """What a reprocess will do, and an estimate of what it will cost."""

    calls: tuple[PlannedCall, ...]
    engine_minutes: float
    llm_tokens: int
    cost_usd: float
    est_seconds: float

    @property
    def work(self) -> tuple[PlannedCall, ...]:
        """Calls with at least one stage to run."""
        return tuple(c for c in self.calls if c.stages)

    def to_dict(self) -> dict[str, Any]:
        return {
            "calls": len(self.calls),
            "calls_with_work": len(self.work),
            "engine_minutes": round(self.engine_minutes, 2),
            "llm_tokens": self.llm_tokens,
            "cost_usd": round(self.cost_usd, 4),
            "est_seconds": round(self.est_seconds, 1),
            "per_call": [
                {
                    "call_id": c.target.call_id,
                    "source_uri": c.target.source_uri,
                    "analysis_id": c.target.analysis_id,
                    "stages": list(c.stages),
                }
                for c in self.calls
            ],
        }


def parse_stages(stages: str | list[str] | tuple[str, ...]) -> tuple[str, ...]:
    """``auto`` or names from ``REPROCESS_STAGES`` (comma-separated or a list)."""
    names = [stages] if isinstance(stages, str) else list(stages)
    names = [n.strip() for part in names for n in part.split(",") if n.strip()]
    if not names or names == ["auto"]:
        return ("auto",)
    bad = [n for n in names if n not in REPROCESS_STAGES]
    if bad:
        raise ConfigError(
            f"unknown stage(s) {', '.join(bad)}; choose from {', '.join(REPROCESS_STAGES)} or auto"
        )
    return tuple(names)


def make_plan(
    targets: list[Target],
    stages: tuple[str, ...],
    settings: Settings,
    current: dict[str, dict[str, Any]],
    rtf: float | None = None,
) -> Plan:
    """Stages per call and the estimate (engine minutes at the configured price, LLM
    tokens ~ 1.35 per word plus prompt and answer, time from rough per-stage rates)."""
    full = tuple(s for s in downstream(["transcribe"]) if s != "land")
    planned, minutes, tokens, seconds = [], 0.0, 0, 0.0
    llm = settings.insights_engine != "offline"
    for t in targets:
        if t.analysis_id is None:
            run = full
        elif stages == ("auto",):
            run = tuple(stages_to_rerun(t.stages, current))
        else:
            run = tuple(s for s in downstream(stages) if s != "land")
        planned.append(PlannedCall(t, run))
        if "transcribe" in run:
            minutes += t.duration_s / 60
            seconds += t.duration_s * (rtf or _SECONDS["audio_rtf"])
        if "insights" in run:
            tokens += int(t.n_words * 1.35) + 900 if llm else 0
            seconds += _SECONDS["llm" if llm else "offline"]
        if run:
            seconds += _SECONDS["stored"]
    cost = minutes * settings.price_per_minute(settings.engine)
    cost += tokens * (settings.llm_price_in_per_mtok + settings.llm_price_out_per_mtok) / 2e6
    return Plan(tuple(planned), minutes, tokens, cost, seconds)


def plan_reprocess(
    wh: Warehouse, sel: Selector, stages: tuple[str, ...], settings: Settings, ruleset: RuleSet
) -> Plan:
    """Select the calls and plan their stages; time estimates use the processing time per
    audio second this warehouse measured for the configured engine and model."""
    current = current_lineage(settings, ruleset.version)
    targets = select_targets(wh, sel, current)
    with wh.connect() as con:
        row = con.execute(
            "SELECT sum(processing_s) / nullif(sum(duration_s), 0) FROM analyses"
            " WHERE engine = ? AND model = ? AND processing_s > 0",
            [settings.engine, settings.model],
        ).fetchone()
    return make_plan(targets, stages, settings, current, rtf=row[0] if row else None)


def new_lineage(
    stored: dict[str, Any], current: dict[str, dict[str, Any]], ran: tuple[str, ...], force: str
) -> dict[str, Any]:
    """The stored lineage with the stages that ran replaced by their current lineage;
    ``force`` (a run id) makes the lineage new even when nothing changed."""
    out = {**stored, **{s: current[s] for s in ran if s in current}}
    if force:
        out["land"] = {**current["land"], "forced_by": force}
    return out


def _derive(
    stored: StoredCall,
    outcome: dict[str, Any] | None,
    run: tuple[str, ...],
    *,
    current: dict[str, dict[str, Any]],
    ruleset: RuleSet,
    insights: InsightsEngine | None,
    force: str,
) -> Derived:
    """Re-run ``run`` (metrics / insights / categories) on a stored analysis."""
    result = stored.result
    utts = list(result.utterances)
    metrics = None
    if "metrics" in run:
        metrics = compute_metrics(utts, result.duration_s, loudness=list(stored.loudness))
        result = replace(result, metrics=json.loads(json.dumps(metrics.to_dict())))
    ins = None
    if "insights" in run and insights is not None:
        ins = analyze_safely(insights, utts, CallContext.from_result(result))
        outcome = {"outcome": ins.insights.outcome} if ins.ok and ins.insights else None
    categories = None
    if "categories" in run:
        m = metrics or stored_metrics(stored)
        if m is None:
            m = compute_metrics(utts, result.duration_s, loudness=list(stored.loudness))
        categories = apply_rules(ruleset, utts, m, outcome)
    result = replace(result, stages=new_lineage(stored.stages, current, run, force))
    return Derived(result, metrics, ins, categories, ruleset)


def rederive_many(
    wh: Warehouse,
    calls: Sequence[PlannedCall],
    *,
    settings: Settings,
    ruleset: RuleSet,
    insights: InsightsEngine | None,
    run_id: str,
    force: bool = False,
    batch: int = 16,
) -> Iterator[tuple[PlannedCall, str | None]]:
    """Re-run metrics / insights / categories of calls from their stored analyses (no
    audio, no transcriber); yield each call with its new analysis id (None: same lineage,
    nothing done). One transaction per call; calls share an opening of the file in
    batches (opening and closing DuckDB costs more than re-deriving a call), except that
    LLM requests are never made while the warehouse is open."""
    current = current_lineage(settings, ruleset.version)
    derive = partial(
        _derive, current=current, ruleset=ruleset, insights=insights,
        force=run_id if force else "",
    )  # fmt: skip
    remote = insights is not None and insights.name != "offline"
    for i in range(0, len(calls), batch):
        chunk = calls[i : i + batch]
        if remote and any("insights" in c.stages for c in chunk):
            with wh.connect() as con:
                loaded = [_load(con, c) for c in chunk]
            derived = [derive(s, o, c.stages) for c, (s, o) in zip(chunk, loaded, strict=True)]
            with wh.connect() as con:
                for c, (s, _), d in zip(chunk, loaded, derived, strict=True):
                    yield c, write_derived(con, s, d, run_id=run_id)
            continue
        with wh.connect() as con:
            for c in chunk:
                s, o = _load(con, c)
                yield c, write_derived(con, s, derive(s, o, c.stages), run_id=run_id)


def _load(
    con: duckdb.DuckDBPyConnection, planned: PlannedCall
) -> tuple[StoredCall, dict[str, Any] | None]:
    assert planned.target.analysis_id is not None, "a call that never landed needs audio"
    stored = load_stored(con, planned.target.analysis_id)
    return stored, stored_outcome(con, stored.analysis_id)


def rederive(
    wh: Warehouse,
    planned: PlannedCall,
    *,
    settings: Settings,
    ruleset: RuleSet,
    insights: InsightsEngine | None,
    run_id: str,
    force: bool = False,
) -> str | None:
    """:func:`rederive_many` for one call."""
    ((_, analysis_id),) = rederive_many(wh, [planned], settings=settings, ruleset=ruleset,
                                        insights=insights, run_id=run_id, force=force)  # fmt: skip
    return analysis_id
