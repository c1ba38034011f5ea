"""``callscope publish | search | export | purge``: the warehouse for readers and retention."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

import click
import duckdb

from analytics.config import Settings
from analytics.errors import CallscopeError
from analytics.warehouse import Warehouse

WAREHOUSE_OPTION = click.option(
    "--warehouse",
    type=click.Path(path_type=Path),
    default=None,
    help="DuckDB file (default: CALLSCOPE_WAREHOUSE).",
)


def _s3_client(cfg: Settings) -> object:
    from analytics.sources.s3 import make_client

    return make_client(cfg.s3_client_kwargs(), cfg.s3_connect_timeout_s, cfg.s3_max_attempts)


def _warehouse(cfg: Settings, path: Path | None) -> Warehouse:
    """--warehouse FILE, else the configured warehouse (DuckLake when configured)."""
    from analytics.warehouse.lake import open_warehouse

    return Warehouse(path) if path else open_warehouse(cfg)


@contextmanager
def _reader(cfg: Settings, path: Path | None) -> Iterator[duckdb.DuckDBPyConnection]:
    """The published snapshot of the file warehouse, or the lake read-only."""
    from analytics.warehouse.lake import LakeWarehouse
    from analytics.warehouse.snapshot import open_reader

    if cfg.lake_catalog and not path:
        con = LakeWarehouse(cfg).open(read_only=True)
        try:
            yield con
        finally:
            con.close()
        return
    with open_reader(path or cfg.warehouse) as reader:
        yield reader.connection


@click.command()
@WAREHOUSE_OPTION
def publish(warehouse: Path | None) -> None:
    """Index new calls for search and publish the read snapshot (<warehouse>.read.duckdb).

    The nightly flow does this after each landing batch; run it after other writes
    (categorize, recompute-metrics) or on a warehouse built before snapshots existed.
    """
    from analytics.warehouse.snapshot import publish as do_publish

    try:
        wh = _warehouse(Settings(), warehouse)
        wh.migrate()
        done = do_publish(wh)
    except CallscopeError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"published {done.path} ({done.bytes / 1e6:.1f} MB); search index: +{done.indexed_analyses}"
        f" analyses in {done.index_s:.2f} s"
    )


@click.command()
@click.argument("query")
@click.option("--role", type=click.Choice(["agent", "customer"]), default=None)
@click.option("--agent", "agent_id", default=None, help="Only calls of this agent id.")
@click.option("--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="From this day.")
@click.option("--until", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Before this day.")
@click.option("--limit", type=int, default=20, show_default=True)
@WAREHOUSE_OPTION
def search(
    query: str,
    role: str | None,
    agent_id: str | None,
    since: datetime | None,
    until: datetime | None,
    limit: int,
    warehouse: Path | None,
) -> None:
    """Full-text search over what was said (current analyses), best matches first."""
    from analytics.warehouse.search import search as do_search

    try:
        with _reader(Settings(), warehouse) as con:
            hits = do_search(
                con,
                query,
                role=role,
                agent_id=agent_id,
                since=since,
                until=until,
                limit=limit,
            )
    except CallscopeError as exc:
        raise click.ClickException(str(exc)) from exc
    if not hits:
        click.echo("no matches")
    for h in hits:
        day = h.started_at.date().isoformat() if h.started_at else "?"
        who = h.role or "unknown"
        click.echo(
            f"{h.score:6.2f}  {h.call_id}  {day}  {h.agent_id or '-'}  "
            f"[{h.start_s:7.1f}s] {who}: {h.text}"
        )


@click.command()
@click.option("--to", "dest", required=True, help="A directory or s3://bucket/prefix.")
@click.option(
    "--since", type=click.DateTime(["%Y-%m-%d"]), default=None, help="Only days from this one."
)
@WAREHOUSE_OPTION
def export(dest: str, since: datetime | None, warehouse: Path | None) -> None:
    """Export the analyst views as Parquet partitioned by call date (re-exported days are
    replaced whole)."""
    from analytics.warehouse.export import export_views

    cfg = Settings()
    try:
        client = _s3_client(cfg) if dest.startswith("s3://") else None
        with _reader(cfg, warehouse) as con:
            result = export_views(
                con,
                dest,
                since=since.date() if since else None,
                s3_client=client,
            )
    except CallscopeError as exc:
        raise click.ClickException(str(exc)) from exc
    for view, rows in result.rows.items():
        click.echo(f"  {view:<18} {rows:>9} rows  {result.partitions[view]:>5} days")
    click.echo(f"{result.files} Parquet files in {dest}")


@click.command()
@click.option("--older-than", default=None, help="Calls older than this, e.g. 365d, 52w.")
@click.option("--call-id", default=None, help="One call (a deletion request).")
@click.option("--dry-run", is_flag=True, help="Count what would go; delete nothing.")
@click.option(
    "--recordings", is_flag=True, help="Also delete the recordings and sidecars in the source."
)
@WAREHOUSE_OPTION
def purge(
    older_than: str | None,
    call_id: str | None,
    dry_run: bool,
    recordings: bool,
    warehouse: Path | None,
) -> None:
    """Delete calls and every row derived from them, their LLM cache entries and their
    downloaded copies in the download cache; an audit row records who, when and how many
    (no content). Publishes a new read snapshot afterwards."""
    from analytics.warehouse.purge import parse_age
    from analytics.warehouse.purge import purge as do_purge
    from analytics.warehouse.snapshot import publish as do_publish

    cfg = Settings()
    try:
        age = parse_age(older_than) if older_than else None
        wh = _warehouse(cfg, warehouse)
        wh.migrate()
        result = do_purge(
            wh,
            older_than=age,
            call_id=call_id,
            dry_run=dry_run,
            recordings=recordings,
            source_client=_s3_client(cfg) if recordings else None,
            download_cache=cfg.data_dir / "cache" / "recordings",
        )
        if not dry_run:
            do_publish(wh)
    except CallscopeError as exc:
        raise click.ClickException(str(exc)) from exc
    verb = "would delete" if dry_run else "deleted"
    click.echo(f"{verb} {result.calls} calls ({result.criteria})")
    for table, n in sorted(result.rows.items()):
        if n:
            click.echo(f"  {table:<22} {n:>9} rows")
    if result.cached_downloads:
        click.echo(f"  {'download cache':<22} {result.cached_downloads:>9} files")
    if recordings:
        n_rec = len(result.recordings) if dry_run else result.recordings_deleted
        click.echo(f"  recordings+sidecars   {n_rec:>9} {'recordings' if dry_run else 'objects'}")


COMMANDS = (publish, search, export, purge)


@click.command("lake-migrate")
@click.option(
    "--from",
    "source",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="The file warehouse to move (default: CALLSCOPE_WAREHOUSE).",
)
def lake_migrate(source: Path | None) -> None:
    """Copy an existing file warehouse into the (empty) DuckLake named by
    CALLSCOPE_LAKE_CATALOG and CALLSCOPE_LAKE_DATA_PATH, then index it for search."""
    from analytics.warehouse.lake import LakeWarehouse, copy_into_lake
    from analytics.warehouse.snapshot import publish as do_publish

    cfg = Settings()
    try:
        lake = LakeWarehouse(cfg)
        copied = copy_into_lake(source or cfg.warehouse, lake)
        do_publish(lake)
    except CallscopeError as exc:
        raise click.ClickException(str(exc)) from exc
    for table, n in copied.items():
        if n:
            click.echo(f"  {table:<22} {n:>9} rows")
    click.echo(f"moved {copied.get('calls', 0)} calls into DuckLake {lake.catalog}")


COMMANDS = (*COMMANDS, lake_migrate)
