"""``reprocess``: re-derive selected calls with the current settings, stage-aware.

Calls whose changed stages need no audio (insights, categories, metrics) are re-derived
from stored rows in the flow itself (the single writer); calls that must be transcribed
again are fetched from their stored URI in ``reprocess-from-audio`` tasks, at most
``settings.workers`` at a time, and landed as they finish. Every call gets a new analysis
with full lineage and this run's id; ``current`` moves only once the new one landed whole.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from analytics.config import Settings
from analytics.enrich.rules import load_rules
from analytics.errors import ConfigError, WarehouseError
from analytics.insights import make_insights_engine
from analytics.insights.base import Budget, InsightsEngine
from analytics.landing import Processed, land_processed
from analytics.reprocess import (
    Plan,
    PlannedCall,
    Selector,
    new_lineage,
    parse_stages,
    plan_reprocess,
    rederive_many,
)
from analytics.sources import split_object_uri
from analytics.stages import current_lineage, needs_audio
from analytics.transcription import make_transcriber
from analytics.warehouse import Warehouse
from analytics.warehouse.insights import WarehouseLLMCache
from flows.ingest import (
    CallFailure,
    _retry_transient_only,
    analyse_recording,
    aware,
    finish_failed,
)
from flows.secrets import run_settings

#: Progress listeners (the CLI's progress bar): called with (done, total, call id).
PROGRESS: list[Callable[[int, int, str], None]] = []


@task(
    name="reprocess-from-audio",
    task_run_name="re-transcribe {planned.target.source_uri}",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=_retry_transient_only,
    cache_policy=NO_CACHE,
)
def reprocess_from_audio(
    settings: Settings,
    planned: PlannedCall,
    insights: InsightsEngine | None,
    stages: dict[str, Any],
) -> Processed | CallFailure:
    """Fetch the recording again from its stored URI and run every stage on it."""
    target = planned.target
    folder, key = split_object_uri(target.source_uri)
    return analyse_recording(settings, folder, key, insights, target.call_id, stages)


def _progress(done: int, total: int, call_id: str) -> None:
    for listener in list(PROGRESS):
        listener(done, total, call_id)


@flow(name="reprocess", task_runner=ThreadPoolTaskRunner(), validate_parameters=True)
def reprocess(
    call_ids: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    agent: str | None = None,
    source_prefix: str | None = None,
    category: str | None = None,
    outcome: str | None = None,
    differs: list[str] | None = None,
    failed: bool = False,
    failed_stage: str | None = None,
    insights_status: list[str] | None = None,
    stages: list[str] | None = None,
    dry_run: bool = False,
    force: bool = False,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Reprocess the calls the selectors name (all given selectors must match).

    ``stages``: any of transcribe, diarize, metrics, categories, insights, or ["auto"]
    (default): the stages whose lineage differs from the current settings, plus what
    depends on them. ``differs``: engine, model, pipeline, prompt, rules. ``failed``:
    recordings whose last processing failed (``failed_stage`` narrows it).
    ``insights_status``: failed, skipped_budget. ``dry_run`` returns the plan only;
    ``force`` re-runs even when the lineage would be unchanged. ``settings``: overrides
    of Settings fields (e.g. {"model": "base"}).
    """
    cfg, sel, wanted, wh, ruleset, plan = _plan(
        call_ids, since, until, agent, source_prefix, category, outcome, differs, failed,
        failed_stage, insights_status, stages, settings,
    )  # fmt: skip
    if dry_run:
        return {"dry_run": True, "selector": sel.to_dict(), "plan": plan.to_dict()}
    crashed = wh.mark_crashed_runs()
    params = {"selector": sel.to_dict(), "stages": list(wanted), "force": force, **(settings or {})}
    run_id = wh.start_run("reprocess", params, flow_run_id=flow_run.get_id(), kind="reprocess")
    try:
        summary = _run(cfg, wh, run_id, plan.work, ruleset, force)
    except BaseException as exc:
        finish_failed(wh, run_id, exc, discovered=len(plan.calls))
        raise
    summary.update(selector=sel.to_dict(), calls=len(plan.calls), crashed_runs=crashed)
    return summary


def _plan(
    call_ids: list[str] | None,
    since: datetime | None,
    until: datetime | None,
    agent: str | None,
    source_prefix: str | None,
    category: str | None,
    outcome: str | None,
    differs: list[str] | None,
    failed: bool,
    failed_stage: str | None,
    insights_status: list[str] | None,
    stages: list[str] | None,
    settings: dict[str, Any] | None,
) -> tuple[Settings, Selector, tuple[str, ...], Warehouse, Any, Plan]:
    cfg = run_settings(settings, flow_run.get_id())
    sel = Selector(
        call_ids=tuple(call_ids or ()),
        since=aware(since, cfg.timezone),
        until=aware(until, cfg.timezone),
        agent=agent,
        source_prefix=source_prefix,
        category=category,
        outcome=outcome,
        differs=tuple(differs or ()),
        failed=failed,
        failed_stage=failed_stage,
        insights_status=tuple(insights_status or ()),
    )
    wanted = parse_stages(stages or ["auto"])
    wh = Warehouse(cfg.warehouse)
    wh.migrate()
    ruleset = load_rules(cfg.rules_path)
    return cfg, sel, wanted, wh, ruleset, plan_reprocess(wh, sel, wanted, cfg, ruleset)


def dry_run_plan(
    call_ids: list[str] | None = None,
    since: datetime | None = None,
    until: datetime | None = None,
    agent: str | None = None,
    source_prefix: str | None = None,
    category: str | None = None,
    outcome: str | None = None,
    differs: list[str] | None = None,
    failed: bool = False,
    failed_stage: str | None = None,
    insights_status: list[str] | None = None,
    stages: list[str] | None = None,
    settings: dict[str, Any] | None = None,
    **_: Any,
) -> dict[str, Any]:
    """The plan the flow would follow for these parameters, without a flow run."""
    _, sel, _, _, _, plan = _plan(
        call_ids, since, until, agent, source_prefix, category, outcome, differs, failed,
        failed_stage, insights_status, stages, settings,
    )  # fmt: skip
    return {"dry_run": True, "selector": sel.to_dict(), "plan": plan.to_dict()}


def _run(
    cfg: Settings,
    wh: Warehouse,
    run_id: str,
    work: tuple[PlannedCall, ...],
    ruleset: Any,
    force: bool,
) -> dict[str, Any]:
    log = get_run_logger()
    t0 = time.perf_counter()
    budget = Budget.from_settings(cfg)
    insights = make_insights_engine(cfg, cache=WarehouseLLMCache(wh), budget=budget)
    current = current_lineage(cfg, ruleset.version)
    counts = {"landed": 0, "unchanged": 0, "failed": 0}
    per_stage: dict[str, int] = {}
    total, done = len(work), 0

    def finished(planned: PlannedCall, analysis_id: str | None) -> None:
        nonlocal done
        done += 1
        counts["landed" if analysis_id else "unchanged"] += 1
        for s in planned.stages if analysis_id else ():
            per_stage[s] = per_stage.get(s, 0) + 1
        _progress(done, total, planned.target.call_id or planned.target.source_uri)

    stored = [c for c in work if not needs_audio(c.stages)]
    audio = [c for c in work if needs_audio(c.stages)]
    log.info("reprocess: %d calls from stored rows, %d from audio", len(stored), len(audio))
    for planned, analysis_id in rederive_many(
        wh, stored, settings=cfg, ruleset=ruleset, insights=insights, run_id=run_id, force=force
    ):
        finished(planned, analysis_id)
    if audio:
        make_transcriber(cfg)  # a configuration error (bad model name) fails the run here
        lineage = new_lineage({}, current, tuple(current), run_id if force else "")
        task_fn = reprocess_from_audio.with_options(retries=cfg.task_retries)
        queue = iter(audio)
        pending: dict[PrefectFuture[Any], PlannedCall] = {}

        def submit_next() -> None:
            planned = next(queue, None)
            if planned is not None:
                pending[task_fn.submit(cfg, planned, insights, lineage)] = planned

        for _ in range(max(1, cfg.workers)):
            submit_next()
        while pending:
            fut = next(as_completed(list(pending)))
            planned = pending.pop(fut)
            submit_next()
            try:
                outcome = fut.result()
            except (ConfigError, WarehouseError):
                raise
            except Exception as exc:  # transient errors past their retries, or a bug
                outcome = CallFailure(getattr(exc, "stage", "process"), type(exc).__name__,
                                      str(exc), False)  # fmt: skip
            if isinstance(outcome, CallFailure):
                counts["failed"] += 1
                done += 1
                wh.record_error(
                    run_id=run_id,
                    source_uri=planned.target.source_uri,
                    etag=None,
                    call_id=planned.target.call_id,
                    stage=outcome.stage,
                    error_type=outcome.error_type,
                    reason=outcome.reason,
                    retryable=True,
                )
                continue
            analysis_id = land_processed(
                wh, outcome, run_id=run_id, ruleset=ruleset, redact_pii=cfg.redact_pii
            )
            finished(planned, analysis_id)
    wall_s = time.perf_counter() - t0
    wh.finish_run(
        run_id,
        status="completed",
        discovered=total,
        processed=counts["landed"],
        failed=counts["failed"],
        skipped=counts["unchanged"],
        wall_s=wall_s,
    )
    summary = {
        "run_id": run_id,
        **counts,
        "stages": per_stage,
        "wall_s": round(wall_s, 3),
        "insights": {"engine": cfg.insights_engine, "llm": budget.summary()},
        "warehouse": str(cfg.warehouse),
    }
    log.info("reprocess run %s: %s", run_id, summary)
    return summary
