"""``nightly_ingest``: new recordings in a source -> analysed calls in the warehouse.

One task per call (fetch, decode, transcribe, align, insights, redaction, categories;
retried only for transient errors); the flow itself is the single writer: as tasks finish
it lands every finished call in one transaction (a landing batch, whole calls only),
inside one write session, and publishes the read snapshot after a batch.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from prefect import flow, get_run_logger, task
from prefect.cache_policies import NO_CACHE
from prefect.futures import PrefectFuture, as_completed
from prefect.runtime import flow_run
from prefect.task_runners import ThreadPoolTaskRunner

from analytics.config import Settings
from analytics.enrich.privacy import PrivacyPolicy
from analytics.enrich.rules import RuleSet, load_rules
from analytics.errors import CallscopeError, ConfigError, WarehouseError
from analytics.insights import make_insights_engine
from analytics.insights.base import Budget, InsightsEngine
from analytics.landing import Processed, add_insights, land_many, prepare
from analytics.models import RecordingRef
from analytics.pipeline import PipelineOptions, process_ref
from analytics.sources import open_source
from analytics.stages import current_lineage
from analytics.transcription import make_transcriber
from analytics.warehouse import Warehouse
from analytics.warehouse.insights import WarehouseLLMCache
from analytics.warehouse.lake import open_warehouse
from analytics.warehouse.snapshot import Publisher
from flows.secrets import run_settings


@dataclass(frozen=True)
class CallFailure:
    """A call that failed for a reason a retry will not fix."""

    stage: str
    error_type: str
    reason: str
    #: A property of this object version (corrupt audio, bad sidecar): not retried until
    #: the object or its sidecar changes. Access and network errors are not permanent.
    permanent: bool = True


def _retry_transient_only(task: Any, task_run: Any, state: Any) -> bool:
    """Prefect retry condition: retry only errors marked transient (network, throttling)."""
    try:
        state.result()
    except CallscopeError as exc:
        return exc.transient
    except Exception:  # an unexpected bug: retrying will not fix it
        return False
    return False


@task(
    name="process-call",
    task_run_name="process {ref.key}",
    retries=2,
    retry_delay_seconds=[2, 10],
    retry_condition_fn=_retry_transient_only,
    cache_policy=NO_CACHE,
)
def process_recording(
    settings: Settings,
    source_uri: str,
    ref: RecordingRef,
    insights: InsightsEngine | None,
    call_id: str | None = None,
    stages: dict[str, Any] | None = None,
    ruleset: RuleSet | None = None,
) -> Processed | CallFailure:
    """Fetch, decode, transcribe, diarize, measure, summarise, redact and categorize one
    recording (what the writer lands comes back ready: see ``landing.prepare``). Never
    writes the warehouse (the LLM cache aside, which is a short connection of its own).
    A configuration error is raised (it fails the run), never recorded against the call."""
    outcome = analyse_recording(settings, source_uri, ref, insights, call_id, stages)
    if isinstance(outcome, CallFailure):
        return outcome
    try:
        return prepare(
            outcome,
            ruleset=ruleset,
            redact_pii=settings.redact_pii,
            privacy=PrivacyPolicy.from_settings(settings),
        )
    except CallscopeError as exc:
        if exc.transient or isinstance(exc, ConfigError):
            raise
        return CallFailure(exc.stage, type(exc).__name__, str(exc), exc.permanent)


def analyse_recording(
    settings: Settings,
    source_uri: str,
    ref: RecordingRef | str,
    insights: InsightsEngine | None,
    call_id: str | None = None,
    stages: dict[str, Any] | None = None,
) -> Processed | CallFailure:
    """Every stage of one recording (``ref``: a listed ref, or a key in ``source_uri``);
    a permanent failure comes back as data, transient and configuration errors raise."""
    try:
        source = open_source(source_uri, settings)
        if isinstance(ref, str):
            ref = source.ref(ref)
        result = process_ref(
            source,
            ref,
            transcriber=make_transcriber(settings),  # models are cached per process
            cache_dir=settings.data_dir / "cache" / "recordings",
            options=PipelineOptions.from_settings(settings),
            call_id=call_id,
            stages=stages,
            cache_bytes=settings.download_cache_mb * 1024 * 1024,
        )
        return add_insights(result, insights)
    except CallscopeError as exc:
        if exc.transient or isinstance(exc, ConfigError):
            raise
        return CallFailure(exc.stage, type(exc).__name__, str(exc), exc.permanent)


class _Writer:
    """The flow's single warehouse writer: lands calls or records their failures."""

    def __init__(
        self,
        wh: Warehouse,
        run_id: str,
        ruleset: RuleSet,
        cfg: Settings,
        call_ids: dict[str, str] | None = None,
    ) -> None:
        self.wh, self.run_id, self.ruleset, self.cfg = wh, run_id, ruleset, cfg
        self.call_ids = call_ids or {}
        self.processed = self.failed = 0
        self.audio_s = 0.0
        self.insights: dict[str, int] = {}
        self.publisher: Publisher | None = None  # publishes read snapshots between landings
        self.pending: list[Processed] = []  # finished calls waiting for the next flush

    def future(self, fut: PrefectFuture[Any], ref: RecordingRef) -> None:
        try:
            outcome = fut.result()
        except (ConfigError, WarehouseError):
            raise  # not the call's fault: the run fails with this reason
        except Exception as exc:  # transient errors that outlived their retries, or a bug
            self.fail(ref, getattr(exc, "stage", "process"), type(exc).__name__, str(exc), True)
            return
        if isinstance(outcome, CallFailure):
            retryable = not outcome.permanent
            self.fail(ref, outcome.stage, outcome.error_type, outcome.reason, retryable)
        else:
            self.land(ref, outcome)

    def outcome(self, ref: RecordingRef, outcome: Processed | CallscopeError) -> None:
        if isinstance(outcome, ConfigError | WarehouseError):
            raise outcome
        if isinstance(outcome, CallscopeError):
            retryable = outcome.transient or not outcome.permanent
            self.fail(ref, outcome.stage, type(outcome).__name__, str(outcome), retryable)
        else:
            self.land(ref, outcome)

    def land(self, ref: RecordingRef, processed: Processed) -> None:
        """Queue one finished call for the next :meth:`flush`."""
        self.pending.append(processed)

    def flush(self) -> None:
        """Land the queued calls in one transaction (whole calls only; a failed batch is
        landed call by call) and publish if the interval has passed. A warehouse error
        fails the run (nothing of the failing call landed)."""
        batch, self.pending = self.pending, []
        if not batch:
            return
        with self.wh.session():  # one connection for the batch and its publish
            land_many(
                self.wh,
                batch,
                run_id=self.run_id,
                ruleset=self.ruleset,
                redact_pii=self.cfg.redact_pii,
                privacy=PrivacyPolicy.from_settings(self.cfg),
            )
            for processed in batch:
                self.processed += 1
                self.audio_s += processed.result.duration_s
                if processed.insights is not None:
                    status = processed.insights.status
                    self.insights[status] = self.insights.get(status, 0) + 1
            if self.publisher is not None:
                self.publisher.after_landing()

    def fail(
        self, ref: RecordingRef, stage: str, error_type: str, reason: str, retryable: bool
    ) -> None:
        self.failed += 1
        self.wh.record_error(
            run_id=self.run_id,
            source_uri=ref.uri,
            etag=ref.etag,
            call_id=self.call_ids.get(ref.uri, ref.default_call_id),
            stage=stage,
            error_type=error_type,
            reason=reason,
            retryable=retryable,
            sidecar_etag=ref.sidecar_etag or "",
        )


def aware(when: datetime | None, timezone: str) -> datetime | None:
    """``--since`` without a time zone is read in ``timezone`` (CALLSCOPE_TIMEZONE)."""
    if when is None or when.tzinfo is not None:
        return when
    try:
        return when.replace(tzinfo=ZoneInfo(timezone))
    except (KeyError, ValueError) as exc:
        raise ConfigError(f"CALLSCOPE_TIMEZONE={timezone!r} is not a time zone name") from exc


def finish_failed(wh: Warehouse, run_id: str, exc: BaseException, discovered: int = 0) -> None:
    """Record a run's failure; when the warehouse refuses that too (locked), the next run
    marks the row ``crashed`` and the original error is what the caller sees."""
    try:
        wh.finish_run(run_id, status="failed", discovered=discovered, error=reason_of(exc))
    except WarehouseError as err:
        get_run_logger().error("run %s failed (%s) and could not record it: %s", run_id,
                               reason_of(exc), err)  # fmt: skip


def reason_of(exc: BaseException) -> str:
    """One line for ``runs.error``: the error type and message."""
    if isinstance(exc, KeyboardInterrupt):
        return "interrupted"
    return f"{type(exc).__name__}: {exc}"[:2000]


@flow(
    name="nightly-ingest",
    task_runner=ThreadPoolTaskRunner(),  # in-flight calls are bounded by settings.workers
    validate_parameters=True,
)
def nightly_ingest(
    source: str | None = None,
    since: datetime | None = None,
    limit: int | None = None,
    settings: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """Process every recording in ``source`` the warehouse does not hold yet.

    ``source``: s3://bucket/prefix or a local directory (default: settings.source).
    ``since``: only objects modified at or after this time (no time zone: read in
    CALLSCOPE_TIMEZONE). ``limit``: at most this many new calls. ``settings``: overrides
    of Settings fields (e.g. {"model": "tiny.en"}), never a secret: parameters are stored
    by Prefect, so secrets come from the environment or Prefect Secret blocks.

    The run row never stays ``running``: any error finishes it as ``failed`` with the
    reason; a run whose process died is marked ``crashed`` by the next run, which then
    processes what that run left (landing is idempotent, so each call lands once).
    """
    cfg = run_settings(settings, flow_run.get_id())
    if limit is not None and limit < 0:
        raise ConfigError(f"limit must be 0 or more (got {limit}); leave it unset for all")
    uri = source or cfg.source
    wh = open_warehouse(cfg)  # the file, or DuckLake when CALLSCOPE_LAKE_CATALOG is set
    applied = wh.migrate()
    publisher = Publisher(wh, cfg.snapshot_interval_s)
    publisher.ensure(schema_changed=bool(applied))  # readers get a snapshot from the start
    crashed = wh.mark_crashed_runs()
    run_id = wh.start_run(
        uri, {"since": since, "limit": limit, **(settings or {})}, flow_run_id=flow_run.get_id()
    )
    try:
        summary = _ingest(cfg, wh, publisher, run_id, uri, aware(since, cfg.timezone), limit)
    except BaseException as exc:
        finish_failed(wh, run_id, exc)
        raise
    summary["crashed_runs"] = crashed
    return summary


def _ingest(
    cfg: Settings,
    wh: Warehouse,
    publisher: Publisher,
    run_id: str,
    uri: str,
    since: datetime | None,
    limit: int | None,
) -> dict[str, Any]:
    log = get_run_logger()
    t0 = time.perf_counter()
    ruleset = load_rules(cfg.rules_path)  # a bad rule file stops the run before any work
    refs = list(open_source(uri, cfg).list(since=since))
    todo = wh.new_objects(refs)  # one anti-join, not every known version in Python
    skipped = len(refs) - len(todo)
    if limit is not None:
        todo = todo[:limit]
    claimed = wh.claim(run_id, todo)
    skipped += len(todo) - len(claimed)
    todo = claimed
    call_ids = wh.call_ids_for([r.uri for r in todo])
    stages = current_lineage(cfg, ruleset.version)
    log.info("%s: %d recordings, %d new, %d already done", uri, len(refs), len(todo), skipped)

    budget = Budget.from_settings(cfg)
    insights = make_insights_engine(cfg, cache=WarehouseLLMCache(wh), budget=budget)
    writer = _Writer(wh, run_id, ruleset, cfg, call_ids)
    writer.publisher = publisher
    if cfg.engine == "assemblyai":
        from flows.cloud import assemblyai_batch

        for ref, outcome in assemblyai_batch(cfg, uri, todo, wh, insights, call_ids):
            if not isinstance(outcome, CallscopeError):
                outcome = replace(outcome, result=_versioned(outcome.result, ref, stages))
            writer.outcome(ref, outcome)
            writer.flush()
    else:
        if todo:
            make_transcriber(cfg)  # a configuration error (bad model name) fails the run here
        task_fn = process_recording.with_options(retries=cfg.task_retries)
        queue = iter(todo)
        pending: dict[PrefectFuture[Any], RecordingRef] = {}

        def submit_next() -> None:
            ref = next(queue, None)
            if ref is not None:
                call_id = call_ids.get(ref.uri)
                fut = task_fn.submit(cfg, uri, ref, insights, call_id, stages, ruleset)
                pending[fut] = ref

        for _ in range(max(1, cfg.workers)):  # at most `workers` calls in flight
            submit_next()
        while pending:
            # one finished call, plus every other one finished meanwhile: one landing batch
            first = next(as_completed(list(pending)))
            try:
                for fut in [first, *(f for f in pending if f is not first and _done(f))]:
                    ref = pending.pop(fut)
                    submit_next()
                    writer.future(fut, ref)
            finally:  # a call that fails the run does not take finished ones with it
                writer.flush()
    processed, failed, audio_s = writer.processed, writer.failed, writer.audio_s
    wall_s = time.perf_counter() - t0
    summary = {
        "run_id": run_id,
        "source": uri,
        "discovered": len(refs),
        "processed": processed,
        "failed": failed,
        "skipped": skipped,
        "audio_minutes": round(audio_s / 60, 2),
        "wall_s": round(wall_s, 2),
        "rtf": round(wall_s / audio_s, 3) if audio_s else None,
        "warehouse": str(Path(cfg.warehouse)),
        "insights": {"engine": cfg.insights_engine, **writer.insights, "llm": budget.summary()},
    }
    wh.finish_run(
        run_id,
        status="completed",
        discovered=len(refs),
        processed=processed,
        failed=failed,
        skipped=skipped,
        audio_s=audio_s,
        wall_s=wall_s,
    )
    if processed or failed:  # the last batch; a run that changed nothing copies nothing
        publisher.publish()
    log.info("run %s: %s", run_id, summary)
    return summary


def _done(fut: PrefectFuture[Any]) -> bool:
    """Whether a task future has finished, without waiting (or asking the API)."""
    wrapped = getattr(fut, "wrapped_future", None)
    return bool(wrapped is not None and wrapped.done())


def _versioned(result: Any, ref: RecordingRef, stages: dict[str, Any]) -> Any:
    return replace(
        result,
        source_modified_at=ref.last_modified,
        sidecar_etag=ref.sidecar_etag or "",
        stages=stages,
    )
