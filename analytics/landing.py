"""From a processed call to warehouse rows: insights, redaction, categories, landing.

The pieces run in two places: :func:`add_insights` and :func:`prepare` where the call was
processed (an LLM over the network; redaction's NER and the category rules are CPU work
that would otherwise serialize in the writer), :func:`land_many` / :func:`land_processed`
in the single warehouse writer, which then only writes.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Any

from analytics.agent_metrics import AgentMetrics, agent_metrics
from analytics.enrich.privacy import PrivacyPolicy, privatize_result
from analytics.enrich.rules import CategoryMatch, RuleSet, apply_rules
from analytics.insights import CallContext, analyze_safely
from analytics.insights.base import InsightResult, InsightsEngine
from analytics.models import CallResult
from analytics.warehouse import Warehouse
from analytics.warehouse.agent import agent_rows
from analytics.warehouse.bulk import Landing
from analytics.warehouse.enrichment import CATEGORY_COLUMNS, category_rows, metrics_from_dict
from analytics.warehouse.insights import (
    INSIGHTS_COLUMNS,
    REDACTION_COLUMNS,
    insights_row,
    native_insights_row,
    redaction_rows,
)
from analytics.warehouse.rows import content_rows
from analytics.warehouse.sql import RowBatch

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Processed:
    """A call's result plus its insights, ready for the writer."""

    result: CallResult
    insights: InsightResult | None = None
    #: What the writer lands, when :func:`prepare` made it ahead of the writer.
    landing: Landing | None = None


def add_insights(result: CallResult, engine: InsightsEngine | None) -> Processed:
    """Run the insights engine on a call; failures come back as a ``failed`` result."""
    if engine is None:
        return Processed(result)
    return Processed(
        result, analyze_safely(engine, result.utterances, CallContext.from_result(result))
    )


def redact_for_storage(
    result: CallResult, redact_pii: bool, privacy: PrivacyPolicy | None = None
) -> tuple[CallResult, dict[str, int]]:
    """The result as it is stored (redacted unless the team keeps raw text; whether it
    was is part of the lineage) and the PII counts found.

    ``privacy`` (default: ``PrivacyPolicy(redact_pii)``, which drops every sidecar free
    field) also says which sidecar fields are kept or hashed; engine extras are redacted."""
    policy = privacy if privacy is not None else PrivacyPolicy(redact_pii=redact_pii)
    policy = replace(policy, redact_pii=redact_pii)
    stored, counts = privatize_result(result, policy)
    stored = replace(stored, params={**stored.params, "redact_pii": redact_pii})
    return stored, counts


def _outcome(ins: InsightResult | None) -> dict[str, Any] | None:
    if ins is not None and ins.ok and ins.insights is not None:
        return {"outcome": ins.insights.outcome}
    return None


@dataclass(frozen=True)
class ExtraRows:
    """The rows landing with a call besides its analysis (a plain, picklable value, so a
    prepared landing can come back from a worker process): categories, insights, the
    engine's native insights, agent-side metrics and the redaction counts."""

    call_id: str
    engine: str
    model: str
    insights: InsightResult | None
    counts: dict[str, int]
    agent: AgentMetrics | None
    extra: dict[str, Any]
    native: dict[str, Any] | None
    categories: tuple[CategoryMatch, ...] | None = None
    rule_version: str = ""

    def __call__(self, batch: RowBatch, analysis_id: str) -> None:
        aid, cid = analysis_id, self.call_id
        if self.categories is not None:
            rows = category_rows(aid, cid, self.categories, self.rule_version)
            batch.add("category_matches", CATEGORY_COLUMNS, rows)
        if self.insights is not None:
            batch.add("insights", INSIGHTS_COLUMNS, [insights_row(aid, cid, self.insights)])
        batch.add("redaction_counts", REDACTION_COLUMNS, redaction_rows(aid, cid, self.counts))
        if self.agent is not None:
            for table, (columns, rows) in agent_rows(aid, cid, self.agent, self.extra).items():
                batch.add(table, columns, rows)
        if self.native:
            native = native_insights_row(aid, cid, self.engine, self.model, self.native)
            if native is not None:
                batch.add("insights", INSIGHTS_COLUMNS, [native])


def landing_for(
    processed: Processed,
    *,
    run_id: str | None,
    ruleset: RuleSet | None,
    redact_pii: bool,
    privacy: PrivacyPolicy | None = None,
) -> Landing:
    r"""What the writer lands for one processed call: the stored (redacted unless the team
    keeps raw text) result, its categories, insights, the engine's native insights,
    agent-side metrics and the redaction counts. A :func:`prepare`\ d call's landing is
    reused (with this ``run_id``)."""
    if processed.landing is not None:
        return replace(processed.landing, run_id=run_id)
    result = processed.result
    # agent-side metrics (sidecar events): validated before anything lands
    metrics = agent_metrics(result.metadata.extra, result.utterances)
    stored, counts = redact_for_storage(result, redact_pii, privacy)
    ins = processed.insights
    categories = None
    if ruleset is not None and stored.metrics is not None:
        call_metrics = metrics_from_dict(stored.metrics)
        matches = apply_rules(ruleset, list(stored.utterances), call_metrics, _outcome(ins))
        categories = tuple(matches)
    rows = ExtraRows(
        call_id=result.call_id,
        engine=result.engine,
        model=result.model,
        insights=ins,
        counts=counts,
        agent=metrics,
        extra=dict(result.metadata.extra),
        native=dict(stored.native) if stored.native else None,
        categories=categories,
        rule_version=str(ruleset.version) if ruleset is not None else "",
    )
    return Landing(stored, run_id, rows=rows)


def prepare(
    processed: Processed,
    *,
    ruleset: RuleSet | None,
    redact_pii: bool,
    privacy: PrivacyPolicy | None = None,
) -> Processed:
    """Redact and categorize a call where it was processed (a task thread or worker), so
    the writer only writes: the result carries its :class:`Landing`."""
    landing = landing_for(
        processed, run_id=None, ruleset=ruleset, redact_pii=redact_pii, privacy=privacy
    )
    # Every row but the analyses row, under the analysis id the writer will use.
    analysis_id = uuid.uuid4().hex
    content = RowBatch()
    content_rows(content, landing.result, analysis_id)
    if landing.rows is not None:
        landing.rows(content, analysis_id)
    landing = replace(landing, rows=None, analysis_id=analysis_id, content=content)
    return replace(processed, landing=landing)


def land_processed(
    wh: Warehouse,
    processed: Processed,
    *,
    run_id: str | None,
    ruleset: RuleSet | None,
    redact_pii: bool,
    privacy: PrivacyPolicy | None = None,
) -> str | None:
    """Land one call (:func:`landing_for`) in one transaction. Returns the analysis id,
    or None when this exact lineage had already landed."""
    landing = landing_for(
        processed, run_id=run_id, ruleset=ruleset, redact_pii=redact_pii, privacy=privacy
    )
    return wh.land_batch([landing])[0]


def land_many(
    wh: Warehouse,
    processed: Sequence[Processed],
    *,
    run_id: str | None,
    ruleset: RuleSet | None,
    redact_pii: bool,
    privacy: PrivacyPolicy | None = None,
) -> list[str | None]:
    """Land a batch of calls in one transaction (``Warehouse.land_batch``: whole calls
    only; a failed batch is retried call by call). Per call the analysis id or None."""
    landings = [
        landing_for(p, run_id=run_id, ruleset=ruleset, redact_pii=redact_pii, privacy=privacy)
        for p in processed
    ]
    return wh.land_batch(landings)


def _insights_dict(ins: InsightResult | None) -> dict[str, Any] | None:
    if ins is None:
        return None
    return {
        "status": ins.status,
        "engine": ins.engine,
        "model": ins.model,
        "prompt_version": ins.prompt_version,
        "error": ins.error,
        "tokens_in": ins.tokens_in,
        "tokens_out": ins.tokens_out,
        "cost_usd": ins.cost_usd,
        **(ins.insights.model_dump(mode="json") if ins.insights is not None else {}),
    }


def describe(
    processed: Processed,
    ruleset: RuleSet | None,
    redact_pii: bool,
    privacy: PrivacyPolicy | None = None,
) -> dict[str, Any]:
    """What a nightly run would store for this call, without a warehouse: the stored
    (redacted) result, its categories, insights and redaction counts, as plain data."""
    stored, counts = redact_for_storage(processed.result, redact_pii, privacy)
    ins = processed.insights
    categories: list[dict[str, Any]] = []
    if ruleset is not None and stored.metrics is not None:
        metrics = metrics_from_dict(stored.metrics)
        for m in apply_rules(ruleset, list(stored.utterances), metrics, _outcome(ins)):
            categories.append(m.to_dict())
    return {
        "result": stored.to_dict(),
        "categories": categories,
        "rules_version": ruleset.version if ruleset else None,
        "insights": _insights_dict(ins),
        "redaction_counts": counts,
    }
