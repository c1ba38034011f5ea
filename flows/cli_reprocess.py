"""``callscope reprocess``, ``retry-failed`` and ``compare``: re-derive and compare analyses."""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from analytics.config import Settings
from analytics.errors import CallscopeError
from analytics.reprocess import DIFFERS, INSIGHTS_STATUSES
from analytics.stages import REPROCESS_STAGES


def render_plan(out: dict[str, Any]) -> str:
    """The dry-run plan: totals, then one line per call with its stages."""
    plan = out["plan"]
    lines = [
        f"calls selected:        {plan['calls']}",
        f"calls with work:       {plan['calls_with_work']}",
        f"engine minutes:        {plan['engine_minutes']:.2f}",
        f"LLM tokens (est.):     {plan['llm_tokens']}",
        f"cost (est., USD):      {plan['cost_usd']:.4f}",
        f"time (est., s):        {plan['est_seconds']:.1f}",
        "",
    ]
    for c in plan["per_call"]:
        who = c["call_id"] or c["source_uri"]
        lines.append(f"  {who:<40} {', '.join(c['stages']) or '(up to date)'}")
    return "\n".join(lines)


def render_result(summary: dict[str, Any]) -> str:
    stages = ", ".join(f"{k} {v}" for k, v in summary.get("stages", {}).items()) or "none"
    return "\n".join(
        [
            f"run {summary['run_id']}: {summary['calls']} calls selected",
            f"  new analyses: {summary['landed']}   unchanged (same lineage):"
            f" {summary['unchanged']}   failed: {summary['failed']}",
            f"  stages run: {stages}",
            f"  wall time: {summary['wall_s']:.1f} s   warehouse: {summary['warehouse']}",
        ]
    )


def _selector_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    from flows.cli_support import IsoDateTime

    options = [
        click.option("--call-id", "call_ids", multiple=True, help="This call (repeatable)."),
        click.option("--since", type=IsoDateTime(), default=None,
                     help="Calls started at or after this ISO date/time."),
        click.option("--until", type=IsoDateTime(), default=None,
                     help="Calls started before this ISO date/time."),
        click.option("--agent", default=None, help="Calls of this agent id."),
        click.option("--source-prefix", default=None,
                     help="Recordings whose URI starts with this (s3://bucket/prefix/, a dir)."),
        click.option("--category", default=None, help="Calls currently in this category."),
        click.option("--outcome", default=None, help="Calls whose insights gave this outcome."),
        click.option("--differs", multiple=True, type=click.Choice(list(DIFFERS)),
                     help="Calls whose lineage differs from the current settings in this"
                     " (repeatable): engine, model, pipeline, prompt, rules."),
        click.option("--insights-status", multiple=True, type=click.Choice(INSIGHTS_STATUSES),
                     help="Calls whose insights failed or were skipped by the budget."),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


def _run_flow(params: dict[str, Any], in_process: bool, verbose: int) -> dict[str, Any]:
    """In this process (a temporary Prefect server when none is configured), or -- with
    PREFECT_API_URL set in the environment -- through the ``reprocess`` deployment."""
    from flows.cli_support import quiet_prefect
    from flows.prefect_api import prefect_api
    from flows.reprocess import PROGRESS, dry_run_plan, reprocess

    if params.get("dry_run"):  # planning reads the warehouse only: no Prefect needed
        return dry_run_plan(**params)
    quiet_prefect(verbose)
    if os.environ.get("PREFECT_API_URL") and not in_process and not params.get("dry_run"):
        from prefect.deployments import run_deployment

        state = run_deployment("reprocess/reprocess", parameters=params).state
        if state is None or not state.is_completed():
            raise click.ClickException(f"the reprocess deployment ended {state}")
        return dict(state.result())  # type: ignore[call-overload]
    with prefect_api(), click.progressbar(length=1, label="reprocessing", file=None) as bar:

        def listener(done: int, total: int, call_id: str) -> None:
            bar.length = max(total, 1)
            bar.update(done - bar.pos)

        PROGRESS.append(listener)
        try:
            return reprocess(**params)
        finally:
            PROGRESS.remove(listener)


def _invoke(ctx: click.Context, params: dict[str, Any], as_json: bool, in_process: bool) -> None:
    verbose = (ctx.obj or {}).get("verbose", 0)
    try:
        out = _run_flow(params, in_process, verbose)
    except CallscopeError as exc:
        from flows.cli_support import cli_error

        raise cli_error(exc) from exc
    if as_json:
        click.echo(json.dumps(out, indent=2, default=str))
    elif out.get("dry_run"):
        click.echo(render_plan(out))
    else:
        click.echo(render_result(out))


def _common(fn: Callable[..., Any]) -> Callable[..., Any]:
    options = [
        click.option("--dry-run", is_flag=True,
                     help="Print the plan (calls, stages, engine minutes, tokens, cost, time)."),
        click.option("--json", "as_json", is_flag=True, help="Print the plan or summary as JSON."),
        click.option("--warehouse", type=click.Path(path_type=Path), default=None,
                     help="DuckDB file (default: CALLSCOPE_WAREHOUSE)."),
        click.option("--in-process", is_flag=True,
                     help="Run here even when PREFECT_API_URL names a server."),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


def register(main: click.Group) -> None:
    """Add the commands to the ``callscope`` group."""
    from flows.cli import ENGINE_KEYS, engine_options

    def _engine_overrides(kwargs: dict[str, Any]) -> dict[str, Any]:
        values = {k: kwargs.pop(k, None) for k in ENGINE_KEYS}
        return {k: v for k, v in values.items() if v is not None}

    @main.command("reprocess")
    @_selector_options
    @click.option("--failed", is_flag=True, help="Recordings whose last processing failed.")
    @click.option("--failed-stage", default=None, help="With --failed: only this stage.")
    @click.option(
        "--stages",
        default="auto",
        show_default=True,
        help=f"Comma-separated: {', '.join(REPROCESS_STAGES)}; auto = what the lineage says"
        " changed (and what depends on it).",
    )
    @click.option("--force", is_flag=True, help="Re-run even when the lineage is unchanged.")
    @click.option("--insights-engine", default=None, help="offline, openai or anthropic.")
    @_common
    @engine_options
    @click.pass_context
    def reprocess_cmd(
        ctx: click.Context,
        call_ids: tuple[str, ...],
        since: datetime | None,
        until: datetime | None,
        stages: str,
        differs: tuple[str, ...],
        insights_status: tuple[str, ...],
        insights_engine: str | None,
        warehouse: Path | None,
        dry_run: bool,
        as_json: bool,
        in_process: bool,
        force: bool,
        **kwargs: Any,
    ) -> None:
        """Reprocess selected calls with the current settings, re-running only the stages
        that need it: a new prompt re-runs insights from stored transcripts, new rules
        re-run categories, another model re-transcribes from the stored recording URI.
        Old analyses stay; `current` moves when the new analysis landed whole."""
        overrides = _engine_overrides(kwargs)
        if warehouse:
            overrides["warehouse"] = str(warehouse)
        if insights_engine:
            overrides["insights_engine"] = insights_engine
        params = dict(
            call_ids=list(call_ids) or None,
            since=since,
            until=until,
            differs=list(differs) or None,
            insights_status=list(insights_status) or None,
            stages=[stages],
            dry_run=dry_run,
            force=force,
            settings=overrides or None,
            **kwargs,
        )
        _invoke(ctx, params, as_json, in_process)

    @main.command("retry-failed")
    @click.option("--failed-stage", default=None, help="Only failures at this stage.")
    @click.option("--source-prefix", default=None, help="Only recordings under this URI.")
    @_common
    @engine_options
    @click.pass_context
    def retry_failed(
        ctx: click.Context,
        failed_stage: str | None,
        source_prefix: str | None,
        warehouse: Path | None,
        dry_run: bool,
        as_json: bool,
        in_process: bool,
        **kwargs: Any,
    ) -> None:
        """Put recordings whose last processing failed back in: each is fetched and
        processed again from its stored URI (a reprocess with the failed selector)."""
        overrides = _engine_overrides(kwargs)
        if warehouse:
            overrides["warehouse"] = str(warehouse)
        params = dict(
            failed=True,
            failed_stage=failed_stage,
            source_prefix=source_prefix,
            dry_run=dry_run,
            settings=overrides or None,
        )
        _invoke(ctx, params, as_json, in_process)

    @main.command("compare")
    @click.argument("call_id")
    @click.argument("analyses", nargs=-1)
    @click.option("--warehouse", type=click.Path(path_type=Path), default=None)
    @click.option("--json", "as_json", is_flag=True, help="Print both analyses as JSON.")
    def compare(
        call_id: str, analyses: tuple[str, ...], warehouse: Path | None, as_json: bool
    ) -> None:
        """Compare two analyses of a call side by side (default: the current one and the
        one before it): lineage, words, speakers, sentiment, outcome, categories."""
        from analytics.warehouse.compare import compare_analyses

        try:
            rows = compare_analyses(warehouse or Settings().warehouse, call_id, analyses)
        except CallscopeError as exc:
            raise click.ClickException(str(exc)) from exc
        if as_json:
            click.echo(json.dumps(rows, indent=2, default=str))
            return
        a, b = rows
        width = max(len(k) for k in a)
        for key in a:
            click.echo(f"{key:<{width}}  {a[key]!s:<40}  {b[key]!s}")
