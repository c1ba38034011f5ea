"""Small pieces the CLI commands share: clean errors, dates, Prefect's logging, rendering."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import click

from analytics.errors import CallscopeError, ConfigError, WarehouseLockedError


def cli_error(exc: CallscopeError, what: str = "") -> click.ClickException:
    """One clean ``Error:`` line for a domain error (no traceback)."""
    prefix = f"{what}: " if what else ""
    if isinstance(exc, WarehouseLockedError):
        return click.ClickException(f"{prefix}{exc}")
    if isinstance(exc, ConfigError):
        return click.ClickException(f"{prefix}configuration error: {exc}")
    return click.ClickException(f"{prefix}{exc.stage} failed: {exc}")


class IsoDateTime(click.ParamType):
    """An ISO-8601 date or time, with or without a time zone (``2026-11-01``,
    ``2026-11-01T08:00``, ``2026-11-01T08:00:00+02:00``, ``...Z``)."""

    name = "datetime"

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        if isinstance(value, datetime):
            return value
        try:
            return datetime.fromisoformat(str(value).strip().replace("Z", "+00:00"))
        except ValueError:
            self.fail(
                f"{value!r} is not an ISO-8601 date/time (e.g. 2026-11-01, 2026-11-01T08:00,"
                " 2026-11-01T08:00+02:00)",
                param,
                ctx,
            )


def quiet_prefect(verbose: int) -> None:
    """Prefect logs a failed flow's traceback itself; the CLI prints one ``Error:`` line
    instead (``-v`` keeps Prefect's logs)."""
    if verbose:
        return
    for name in ("prefect.flow_runs", "prefect.task_runs", "prefect.engine", "prefect"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


def render_enrichment(out: dict[str, Any]) -> str:
    """Insights, categories and redaction counts under the transcript."""
    ins = out.get("insights") or {}
    lines = ["", f"insights ({ins.get('engine')}/{ins.get('model')}, {ins.get('status')}):"]
    for key in ("summary", "reason_for_call", "outcome"):
        if ins.get(key):
            lines.append(f"  {key.replace('_', ' ')}: {ins[key]}")
    sentiment = ins.get("customer_sentiment") or {}
    if sentiment:
        lines.append(f"  customer sentiment: {sentiment.get('label')} ({sentiment.get('score')})")
    cats = ", ".join(c["category"] for c in out.get("categories") or []) or "none"
    lines.append(f"categories (rules {out.get('rules_version')}): {cats}")
    counts = out.get("redaction_counts") or {}
    found = ", ".join(f"{k} {v}" for k, v in sorted(counts.items()) if v) or "none found"
    lines.append(f"redaction: {found}")
    return "\n".join(lines)
