"""The warehouse at archive scale: landing, no-op nightly, dashboard/analyst queries, search.

Builds a synthetic archive (default 100k calls x 30 utterances x 10 words = 3M utterances,
30M words) in bulk SQL shaped exactly like landed calls (calls, analyses, utterances, words,
metrics, insights, categories), publishes it (search index + read snapshot), then measures:

- landing throughput: ``--land`` calls through the flow's landing path: ``prepare`` (the
  redaction NER and category rules, which the flow runs in its parallel tasks; timed
  apart, one thread) then the writer's ``land_many`` in batches of ``--batch`` calls a
  transaction (call rows, analyses, utterances, words, metrics, categories, insights);
- index upkeep + publish for those new calls (the per-night cost);
- a no-op nightly: ``--listed`` already-processed recordings listed from the loopback S3
  server, minus what the warehouse knows (the flow's discovery step);
- p50/p95 of every dashboard query and every analyst example in docs/warehouse.md;
- full-text search p50/p95;
- bytes per call.

``--mode lake`` runs the same on DuckLake with its catalog in a loopback PostgreSQL and
data in a local folder (S3 on the loopback moto server holds GBs in memory: use
``--lake-s3`` for small archives only).

    .venv/bin/python bench/warehouse.py --calls 100000
    .venv/bin/python bench/warehouse.py --calls 20000 --land 2000 --mode lake
"""

from __future__ import annotations

import argparse
import random
import re
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import duckdb  # noqa: E402

from analytics.config import Settings  # noqa: E402
from analytics.enrich.metrics import compute_metrics  # noqa: E402
from analytics.enrich.rules import load_rules  # noqa: E402
from analytics.insights.offline import OfflineEngine  # noqa: E402
from analytics.landing import (  # noqa: E402
    Processed,
    add_insights,
    land_many,
    prepare,
)
from analytics.models import CallMetadata, CallResult, Utterance, Word  # noqa: E402
from analytics.sources import open_source  # noqa: E402
from analytics.sources.s3 import make_client  # noqa: E402
from analytics.warehouse import Warehouse, queries  # noqa: E402
from analytics.warehouse.lake import LakeWarehouse  # noqa: E402
from analytics.warehouse.search import search  # noqa: E402
from analytics.warehouse.snapshot import open_reader, publish  # noqa: E402
from analytics.warehouse.sql import RowBatch  # noqa: E402
from bench.warehouse_synth import AGENTS, synth_archive, vocabulary  # noqa: E402


def new_call(i: int, vocab: list[str], rng: random.Random) -> CallResult:
    """One call like a night brings: 30 utterances of 10 words, sidecar metadata."""
    utts = []
    for u in range(30):
        start = u * 6.0
        words = tuple(
            Word(
                vocab[int(rng.random() ** 3 * len(vocab))],
                start + k * 0.5,
                start + k * 0.5 + 0.4,
                0.9,
            )
            for k in range(10)
        )
        utts.append(
            Utterance(
                speaker=f"ch{u % 2}",
                role=("agent", "customer")[u % 2],
                start=start,
                end=start + 5.0,
                text=" ".join(w.word for w in words),
                words=words,
                channel=u % 2,
            )
        )
    md = CallMetadata(f"new-{i}", agent_id=f"agent-{i % AGENTS}", direction="inbound",
                      channel_roles=("agent", "customer"))  # fmt: skip
    result = CallResult(
        call_id=f"new-{i}", source_uri=f"s3://bench/new/new-{i}.wav", etag=f"e{i}",
        duration_s=180.0, channels=2, sample_rate=8000, language="en", language_prob=1.0,
        engine="faster-whisper", model="tiny.en", pipeline_version="1", params={},
        metadata=md, utterances=tuple(utts), diarization="channels",
    )  # fmt: skip
    metrics = compute_metrics(list(result.utterances), result.duration_s).to_dict()
    return replace(result, metrics=metrics)


def as_call(template: Processed, i: int) -> Processed:
    """A prepared call under a new identity (call id, URI, ETag, analysis id): the
    writer's input, as a task hands it over."""
    landing = template.landing
    assert landing is not None and landing.content is not None
    call_id, analysis_id = f"new-{i}", uuid.uuid4().hex
    md = replace(landing.result.metadata, call_id=call_id)
    uri = f"s3://bench/new/{call_id}.wav"
    result = replace(landing.result, call_id=call_id, source_uri=uri, etag=f"e{i}", metadata=md)
    content = RowBatch()
    for (table, columns), rows in landing.content._rows.items():
        content.add(table, columns, [[analysis_id, call_id, *r[2:]] for r in rows])
    landing = replace(landing, result=result, analysis_id=analysis_id, content=content)
    return replace(template, landing=landing)


def timed(fn: Callable[[], Any], repeat: int) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - t0) * 1000)
    samples.sort()
    p95 = samples[min(len(samples) - 1, round(0.95 * (len(samples) - 1)))]
    return statistics.median(samples), p95


def doc_examples() -> list[tuple[str, str]]:
    """(title, SQL) of every example in docs/warehouse.md: the title is the line before
    its fence, e.g. "talk time per role and day"."""
    text = (ROOT / "docs" / "warehouse.md").read_text()
    found = re.findall(r"([^\n]*)\n\n```sql\n(.*?)```", text, flags=re.S)
    return [(title.strip().rstrip(":").lower(), sql) for title, sql in found]


def upload_listing(client: Any, bucket: str, n: int) -> None:
    from botocore.exceptions import ClientError

    def put(i: int) -> None:
        for attempt in range(5):  # moto's threaded server answers 500 under load now and then
            try:
                client.put_object(Bucket=bucket, Key=f"rec/call-{i}.wav", Body=f"rec-{i}".encode())
                return
            except ClientError:
                time.sleep(0.5 * (attempt + 1))
        raise RuntimeError(f"upload of rec/call-{i}.wav kept failing")

    with ThreadPoolExecutor(2) as pool:
        list(pool.map(put, range(n)))


@contextmanager
def environment(args: argparse.Namespace) -> Iterator[tuple[Settings, Any, Any]]:
    from flows.local_s3 import local_s3_server

    with ExitStack() as stack:
        s3 = stack.enter_context(local_s3_server())
        tmp = Path(stack.enter_context(tempfile.TemporaryDirectory(dir=args.dir)))
        overrides: dict[str, Any] = {**s3.settings_overrides(), "data_dir": tmp / "data",
                                     "warehouse": tmp / "warehouse.duckdb"}  # fmt: skip
        if args.mode == "lake":
            from flows.local_postgres import local_postgres

            pg = stack.enter_context(local_postgres())
            pg.create_database("bench")
            overrides["lake_catalog"] = pg.lake_catalog("bench")
            overrides["lake_data_path"] = (
                "s3://bench/lake/" if args.lake_s3 else str(tmp / "lake") + "/"
            )
        cfg = Settings(**overrides)
        client = make_client(cfg.s3_client_kwargs())
        client.create_bucket(Bucket="bench")
        yield cfg, client, tmp


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--calls", type=int, default=100_000, help="archive size (calls)")
    ap.add_argument("--land", type=int, default=10_000, help="calls through the landing path")
    ap.add_argument("--upkeep", type=int, default=1_000, help="calls per measured nightly index")
    ap.add_argument("--batch", type=int, default=500, help="calls per landing transaction")
    ap.add_argument("--prepare", type=int, default=100, help="distinct calls prepared (NER)")
    ap.add_argument("--listed", type=int, default=10_000, help="recordings listed from S3")
    ap.add_argument("--repeat", type=int, default=20, help="runs per query")
    ap.add_argument("--mode", choices=["file", "lake"], default="file")
    ap.add_argument("--lake-s3", action="store_true", help="lake data in loopback S3")
    ap.add_argument("--dir", default=None, help="where the archive is built (a temp dir)")
    ap.add_argument(
        "--only",
        default=None,
        help="measure only the queries whose name matches this regex, e.g."
        " 'list_calls\\(search\\)|talk time' (names as in the results table)",
    )
    args = ap.parse_args()
    rows: list[tuple[str, str, str]] = []

    def row(what: str, value: str, target: str = "") -> None:
        rows.append((what, value, target))
        print(f"  {what}: {value}", file=sys.stderr, flush=True)

    with environment(args) as (cfg, client, _tmp):
        wh: Warehouse = LakeWarehouse(cfg) if args.mode == "lake" else Warehouse(cfg.warehouse)
        wh.migrate()
        t0 = time.perf_counter()
        with wh.connect() as con:
            synth_archive(con, args.calls, "bench")
        row(f"synthesize {args.calls:,} calls (bulk SQL)", f"{time.perf_counter() - t0:.1f} s")
        first = publish(wh)
        row("first search index build + publish", f"{first.index_s + first.copy_s:.1f} s")

        # Landing throughput through the flow's path: each task prepares its call (redaction
        # NER, category rules) in parallel, the single writer lands batches of finished calls.
        # Preparing is timed on --prepare distinct calls (NER costs ~0.2 s a call: 10k would
        # take the bench half an hour); the writer lands --land calls made from them.
        rules = load_rules(ROOT / "config" / "categories.yaml")
        vocab, rng, engine = vocabulary(), random.Random(1), OfflineEngine()
        made = [add_insights(new_call(i, vocab, rng), engine)
                for i in range(min(args.prepare, args.land))]  # fmt: skip
        t0 = time.perf_counter()
        templates = [prepare(p, ruleset=rules, redact_pii=True) for p in made]
        prepare_s = time.perf_counter() - t0
        land_s = land_cpu = 0.0  # CPU: what the landing costs however loaded the machine is
        upkeep = None
        for start in range(0, args.land, args.upkeep):
            batch = [as_call(templates[i % len(templates)], i)
                     for i in range(start, min(args.land, start + args.upkeep))]  # fmt: skip
            t0, c0 = time.perf_counter(), time.process_time()
            with wh.session():  # what the flow's writer does per landing batch
                for lo in range(0, len(batch), args.batch):
                    land_many(wh, batch[lo : lo + args.batch], run_id=None, ruleset=rules,
                              redact_pii=True)  # fmt: skip
            land_s += time.perf_counter() - t0
            land_cpu += time.process_time() - c0
            if upkeep is None:
                upkeep = publish(wh)  # the nightly index upkeep + publish of one batch
            print(f"  landed {start + len(batch):>6}", file=sys.stderr, flush=True)
        row(f"prepare (redaction NER + rules; in the tasks), {len(made)} calls, 1 thread",
            f"{prepare_s / len(made) * 1000:.0f} ms a call")  # fmt: skip
        row(f"landing {args.land:,} calls (writer, {args.batch} a transaction)",
            f"{land_s:.1f} s ({args.land / land_s:.0f} calls/s), CPU {land_cpu:.1f} s",
            "< 120 s for 10k")  # fmt: skip
        assert upkeep is not None
        row(f"index upkeep, {args.upkeep:,} new calls", f"{upkeep.index_s:.2f} s", "< 30 s")
        if args.mode != "lake":
            row("publish copy (whole file)", f"{upkeep.copy_s:.2f} s")
        final = publish(wh)

        # Queries, on the reader readers use.
        reader_con: duckdb.DuckDBPyConnection
        if isinstance(wh, LakeWarehouse):
            reader_con = wh.open(read_only=True)
        else:
            reader_con = open_reader(wh.path).connection
        call_id = "call-4242"
        dashboard: dict[str, Callable[[], Any]] = {
            "overview": lambda: queries.overview(reader_con),
            "calls_per_day": lambda: queries.calls_per_day(reader_con),
            "outcome_distribution": lambda: queries.outcome_distribution(reader_con),
            "calls_per_category": lambda: queries.calls_per_category(reader_con),
            "cost_summary": lambda: queries.cost_summary(reader_con),
            "list_calls": lambda: queries.list_calls(reader_con),
            "list_calls(search)": lambda: queries.list_calls(reader_con, search="refund"),
            "list_calls(search, phrase)": lambda: queries.list_calls(
                reader_con, search="router outage"
            ),
            "list_calls(search, part of a word)": lambda: queries.list_calls(
                reader_con, search="refu"
            ),
            "filter_options": lambda: queries.filter_options(reader_con),
            "call_detail": lambda: queries.call_detail(reader_con, call_id),
            "call_utterances": lambda: queries.call_utterances(reader_con, call_id),
            "talk_time_by_role": lambda: queries.talk_time_by_role(reader_con, call_id),
            "recent_runs": lambda: queries.recent_runs(reader_con),
        }
        for title, sql in doc_examples():
            dashboard[f"doc: {title}"] = lambda sql=sql: reader_con.execute(sql).fetchall()
        only = re.compile(args.only) if args.only else None

        def wanted(name: str) -> bool:
            return only is None or only.search(name) is not None

        for name, fn in dashboard.items():
            if not wanted(name):
                continue
            p50, p95 = timed(fn, args.repeat)
            row(f"query {name}", f"p50 {p50:.0f} ms, p95 {p95:.0f} ms", "p95 < 300 ms")

        searches = [("refund", {}), ("router outage", {}), ("billing charge", {"role": "customer"}),
                    ("cancel contract", {"agent_id": "agent-7"}), ("password reset", {}),
                    ("supervisor complaint", {"role": "agent"})]  # fmt: skip
        if wanted("full-text search (6 queries)"):
            samples = []
            for q, kw in searches:
                samples.append(timed(lambda q=q, kw=kw: search(reader_con, q, **kw), args.repeat))
            p50 = statistics.median(s[0] for s in samples)
            p95 = max(s[1] for s in samples)
            row("full-text search (6 queries)", f"p50 {p50:.0f} ms, p95 {p95:.0f} ms",
                "p95 < 500 ms")  # fmt: skip
        reader_con.close()

        # A no-op nightly: list recordings from S3, drop what the warehouse knows.
        n_list = min(args.listed, args.calls)
        upload_listing(client, "bench", n_list)
        t0 = time.perf_counter()
        refs = list(open_source("s3://bench/rec/", cfg).list())
        list_s = time.perf_counter() - t0
        todo = wh.new_objects(refs)  # the flow's discovery step
        assert len(refs) == n_list and not todo, (len(refs), len(todo))
        total_s = time.perf_counter() - t0
        row(f"no-op nightly: list {n_list:,} from S3 + skip known",
            f"{total_s:.2f} s (listing {list_s:.2f} s)", "< 10 s")  # fmt: skip

        total = args.calls + args.land
        if isinstance(wh, LakeWarehouse):
            lake_dir = Path(str(cfg.lake_data_path))
            size = sum(p.stat().st_size for p in lake_dir.rglob("*") if p.is_file())
            row("lake data bytes per call", f"{size / total:,.0f} B")
        else:
            row("warehouse bytes per call", f"{wh.path.stat().st_size / total:,.0f} B")
            row("snapshot bytes", f"{final.bytes / 1e9:.2f} GB")

    width = max(len(r[0]) for r in rows)
    print(f"\n{args.mode} mode, {args.calls:,} archived + {args.land:,} landed calls")
    print(f"| {'measure':<{width}} | {'result':<28} | target |")
    print(f"|{'-' * (width + 2)}|{'-' * 30}|--------|")
    for what, value, target in rows:
        print(f"| {what:<{width}} | {value:<28} | {target} |")


if __name__ == "__main__":
    main()
