"""From a processed call to warehouse rows: insights, redaction, then one landing.

The pieces run in two places: :func:`add_insights` where the call was processed (it may
call an LLM over the network), :func:`land_processed` in the single warehouse writer.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, replace
from typing import Any

from analytics.agent_metrics import agent_metrics
from analytics.enrich.privacy import PrivacyPolicy, privatize_result
from analytics.enrich.rules import RuleSet
from analytics.insights import CallContext, analyze_safely
from analytics.insights.base import InsightResult, InsightsEngine
from analytics.models import CallResult
from analytics.warehouse import Warehouse
from analytics.warehouse.agent import write_agent_metrics
from analytics.warehouse.insights import land_insights, write_native_insights

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Processed:
    """A call's result plus its insights, ready for the writer."""

    result: CallResult
    insights: InsightResult | None = None


def add_insights(result: CallResult, engine: InsightsEngine | None) -> Processed:
    """Run the insights engine on a call; failures come back as a ``failed`` result."""
    if engine is None:
        return Processed(result)
    return Processed(
        result, analyze_safely(engine, result.utterances, CallContext.from_result(result))
    )


def land_processed(
    wh: Warehouse,
    processed: Processed,
    *,
    run_id: str | None,
    ruleset: RuleSet | None,
    redact_pii: bool,
    privacy: PrivacyPolicy | None = None,
) -> str | None:
    """Land one call (redacted unless the team keeps raw text), its categories, insights,
    the engine's native insights and the redaction counts. Returns the analysis id, or
    None when this exact lineage had already landed.

    ``privacy`` (default: ``PrivacyPolicy(redact_pii)``, which drops every sidecar free
    field) also says which sidecar fields are kept or hashed; engine extras are redacted."""
    result = processed.result
    # agent-side metrics (sidecar events): validated before anything lands
    metrics = agent_metrics(result.metadata.extra, result.utterances)
    policy = privacy if privacy is not None else PrivacyPolicy(redact_pii=redact_pii)
    policy = replace(policy, redact_pii=redact_pii)
    stored, counts = privatize_result(result, policy)
    # Whether text was redacted changes what lands, so it is part of the lineage.
    stored = replace(stored, params={**stored.params, "redact_pii": redact_pii})
    ins = processed.insights
    outcome: dict[str, Any] | None = None
    if ins is not None and ins.ok and ins.insights is not None:
        outcome = {"outcome": ins.insights.outcome}
    analysis_id = wh.land(stored, run_id=run_id, ruleset=ruleset, insights=outcome)
    if analysis_id is None:
        return None
    if ins is not None:
        land_insights(wh, analysis_id, result.call_id, ins, counts)
    if metrics is not None:
        with wh.transaction() as con:
            write_agent_metrics(con, analysis_id, result.call_id, metrics, result.metadata.extra)
    if stored.native:
        with wh.transaction() as con:
            write_native_insights(
                con, analysis_id, result.call_id, result.engine, result.model, stored.native
            )
    return analysis_id
