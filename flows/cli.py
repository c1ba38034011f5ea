"""The ``callscope`` command line: a thin edge that reads settings and calls the library."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import click

from analytics.config import Settings
from analytics.errors import CallscopeError
from analytics.models import CallResult
from analytics.transcription import ENGINE_NAMES
from flows.cli_support import IsoDateTime, cli_error, quiet_prefect, render_enrichment

log = logging.getLogger("callscope.cli")


def _settings(**overrides: Any) -> Settings:
    return Settings(**{k: v for k, v in overrides.items() if v is not None})


def _ts(seconds: float) -> str:
    m, s = divmod(seconds, 60)
    return f"{int(m):02d}:{s:04.1f}"


def render_transcript(result: CallResult) -> str:
    """Human-readable transcript, one utterance a line."""
    head = (
        f"{result.call_id}  {result.duration_s:.1f} s  {result.channels} ch  "
        f"{result.sample_rate} Hz  lang={result.language}  {result.engine}/{result.model}  "
        f"speakers by {result.diarization}"
    )
    lines = [head, "-" * len(head)]
    for u in result.utterances:
        who = u.role or "unknown role" if u.speaker != "unknown" else "unknown speaker"
        lines.append(f"[{_ts(u.start)}-{_ts(u.end)}] {who} ({u.speaker}): {u.text}")
    return "\n".join(lines)


def _insights_line(ins: dict[str, Any]) -> str:
    counts = ", ".join(f"{k} {v}" for k, v in ins.items() if k not in ("engine", "llm"))
    line = f"{ins.get('engine', '?')}: {counts or 'none'}"
    llm = ins.get("llm") or {}
    if llm.get("requests"):
        line += f"; {llm['tokens_in'] + llm['tokens_out']} tokens, ${llm['cost_usd']:.4f}"
    if llm.get("exceeded"):
        line += " (budget reached: later calls skipped)"
    return line


def render_summary(summary: dict[str, Any]) -> str:
    """The run summary as a two-column table."""
    rows = [
        ("source", summary["source"]),
        ("calls discovered", summary["discovered"]),
        ("calls processed", summary["processed"]),
        ("calls failed", summary["failed"]),
        ("calls skipped (already done)", summary["skipped"]),
        ("audio minutes", f"{summary['audio_minutes']:.2f}"),
        ("wall time (s)", f"{summary['wall_s']:.1f}"),
        (
            "real-time factor (wall/audio)",
            "n/a" if summary["rtf"] is None else f"{summary['rtf']:.3f}",
        ),
        ("insights", _insights_line(summary.get("insights") or {})),
        ("warehouse", summary["warehouse"]),
    ]
    width = max(len(k) for k, _ in rows)
    bar = "+" + "-" * (width + 2) + "+" + "-" * 50 + "+"
    body = [f"| {k:<{width}} | {v!s:<48} |" for k, v in rows]
    return "\n".join([bar, *body, bar])


def engine_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    """Engine/model options shared by commands that transcribe (collected as overrides)."""
    options = [
        click.option("--engine", type=click.Choice(list(ENGINE_NAMES)), default=None,
                     help="Transcription engine (default: CALLSCOPE_ENGINE)."),
        click.option("--model", default=None,
                     help="Model name (tiny.en, base...) or a local model directory."),
        click.option("--device", default=None, help="cpu or cuda."),
        click.option("--compute-type", default=None, help="CTranslate2 compute type (int8...)."),
        click.option("--beam-size", type=int, default=None, help="Beam size."),
        click.option("--batch-size", type=int, default=None,
                     help="Batched inference batch size (0 = sequential)."),
        click.option("--language", default=None, help="Force a language code (else detect)."),
        click.option("--vad/--no-vad", "vad_filter", default=None,
                     help="Skip non-speech with Silero VAD."),
        click.option("--initial-prompt", default=None, help="Context text / custom vocabulary."),
        click.option("--hotwords", default=None,
                     help="Product or company names to bias decoding towards."),
    ]  # fmt: skip
    for option in reversed(options):
        fn = option(fn)
    return fn


ENGINE_KEYS = ("engine", "model", "device", "compute_type", "beam_size", "batch_size",
               "language", "vad_filter", "initial_prompt", "hotwords")  # fmt: skip


def _engine_overrides(kwargs: dict[str, Any]) -> dict[str, Any]:
    return {k: kwargs.pop(k) for k in ENGINE_KEYS if kwargs.get(k) is not None}


@click.group()
@click.option("-v", "--verbose", count=True, help="More logging (-v info, -vv debug).")
@click.pass_context
def main(ctx: click.Context, verbose: int) -> None:
    """callscope: call-recording analytics (S3 recordings -> DuckDB)."""
    ctx.obj = {"verbose": verbose}
    level = logging.WARNING - 10 * min(verbose, 2)
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    for noisy in ("httpx", "werkzeug"):  # one line per HTTP request otherwise
        logging.getLogger(noisy).setLevel(max(level, logging.WARNING))


@main.command()
@click.argument("uri")
@click.option(
    "--json",
    "as_json",
    is_flag=True,
    help="Print the stored CallResult plus categories, insights and redaction counts as JSON.",
)
@engine_options
def analyze(uri: str, as_json: bool, **kwargs: Any) -> None:
    """Analyse one recording (local path or s3://bucket/key) and print the result.

    Runs the same stages as a nightly run (transcription, speakers, metrics, insights,
    categories, redaction) without touching the warehouse. A sidecar <name>.json next to
    the recording supplies call metadata and channel roles.
    """
    from analytics.pipeline import analyze_stages

    try:
        out = analyze_stages(uri, _settings(**_engine_overrides(kwargs)))
    except CallscopeError as exc:
        raise cli_error(exc, uri) from exc
    if as_json:
        click.echo(json.dumps({**out["result"], **{k: v for k, v in out.items() if k != "result"}},
                              indent=2, ensure_ascii=False, default=str))  # fmt: skip
        return
    click.echo(render_transcript(CallResult.from_dict(out["result"])))
    click.echo(render_enrichment(out))


@main.command()
@click.argument("source", required=False)
@click.option(
    "--since",
    type=IsoDateTime(),
    default=None,
    help="Only recordings modified at or after this ISO date/time; without a time zone it"
    " is read in CALLSCOPE_TIMEZONE.",
)
@click.option(
    "--limit", type=click.IntRange(min=0), default=None, help="At most this many new calls."
)
@click.option(
    "--warehouse",
    type=click.Path(path_type=Path),
    default=None,
    help="DuckDB file (default: CALLSCOPE_WAREHOUSE).",
)
@engine_options
def ingest(
    source: str | None,
    since: datetime | None,
    limit: int | None,
    warehouse: Path | None,
    **kwargs: Any,
) -> None:
    """Run the nightly_ingest flow now on SOURCE (s3://bucket/prefix or a directory)."""
    from flows.ingest import nightly_ingest
    from flows.prefect_api import prefect_api

    overrides = _engine_overrides(kwargs)
    if warehouse:
        overrides["warehouse"] = str(warehouse)
    quiet_prefect(click.get_current_context().obj.get("verbose", 0))
    try:
        with prefect_api():
            summary = nightly_ingest(source=source, since=since, limit=limit, settings=overrides)
    except CallscopeError as exc:
        raise cli_error(exc) from exc
    click.echo(render_summary(summary))


@main.command()
@click.option(
    "--samples",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=Path("data/samples"),
    show_default=True,
    help="Recordings (+ sidecars) to upload.",
)
@click.option("--bucket", default="callscope-demo", show_default=True)
@click.option("--prefix", default="recordings", show_default=True)
@click.option(
    "--with-corrupt/--no-corrupt",
    default=True,
    show_default=True,
    help="Also upload one deliberately broken recording to show failure handling.",
)
def demo(samples: Path, bucket: str, prefix: str, with_corrupt: bool) -> None:
    """Start a local S3 server, upload the samples, run nightly_ingest, print a summary."""
    import tempfile

    from analytics.sources.s3 import make_client
    from flows.ingest import nightly_ingest
    from flows.local_s3 import local_s3_server, upload_dir

    with local_s3_server() as s3, tempfile.TemporaryDirectory() as tmp:
        overrides = s3.settings_overrides()
        client = make_client(_settings(**overrides).s3_client_kwargs())
        staging = Path(tmp)
        for p in samples.iterdir():
            if p.is_file():
                (staging / p.name).write_bytes(p.read_bytes())
        if with_corrupt:
            # A WAV header followed by garbage: decodes to nothing, must not stop the batch.
            (staging / "corrupt_upload.wav").write_bytes(b"RIFF\x24\x00\x00\x00WAVE" + b"\x00" * 64)
        keys = upload_dir(client, bucket, prefix, staging)
        click.echo(f"uploaded {len(keys)} objects to s3://{bucket}/{prefix}/ at {s3.endpoint_url}")
        s3.export_credentials()  # secrets reach the flow through the environment only
        summary = nightly_ingest(source=f"s3://{bucket}/{prefix}/", settings=s3.flow_overrides())
    click.echo(render_summary(summary))


@main.command()
@click.option("--warehouse", type=click.Path(path_type=Path), default=None)
def migrate(warehouse: Path | None) -> None:
    """Create or upgrade the warehouse schema."""
    from analytics.warehouse import Warehouse
    from analytics.warehouse.snapshot import publish

    wh = Warehouse(warehouse or Settings().warehouse)
    applied = wh.migrate()
    if applied:
        publish(wh)  # readers get the new schema
    click.echo(
        f"{wh.path}: schema version {wh.schema_version()} (applied now: {applied or 'none'})"
    )


@main.command()
@click.option(
    "--rules",
    type=click.Path(path_type=Path, exists=True, dir_okay=False),
    default=None,
    help="Rule file (default: CALLSCOPE_RULES_PATH).",
)
@click.option("--warehouse", type=click.Path(path_type=Path), default=None)
def categorize(rules: Path | None, warehouse: Path | None) -> None:
    """Re-apply the category rules to every past call from stored data (no transcription).

    Edit config/categories.yaml (or pass --rules), run this, and every call's categories
    reflect the new rules; prints how many calls fall in each category.
    """
    from analytics.enrich.rules import load_rules
    from analytics.warehouse import Warehouse
    from analytics.warehouse.enrichment import categorize_all
    from analytics.warehouse.snapshot import publish

    cfg = Settings()
    try:
        ruleset = load_rules(rules or cfg.rules_path)
        wh = Warehouse(warehouse or cfg.warehouse)
        wh.migrate()
        counts = categorize_all(wh, ruleset)
        publish(wh)  # readers see the new categories
    except CallscopeError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"rules version {ruleset.version}; calls per category:")
    for name, n in counts.items():
        click.echo(f"  {name:<28} {n}")


@main.command("recompute-metrics")
@click.option("--warehouse", type=click.Path(path_type=Path), default=None)
def recompute_metrics_cmd(warehouse: Path | None) -> None:
    """Recompute conversation metrics of every current analysis from stored words."""
    from analytics.warehouse import Warehouse
    from analytics.warehouse.enrichment import recompute_metrics
    from analytics.warehouse.snapshot import publish

    wh = Warehouse(warehouse or Settings().warehouse)
    wh.migrate()
    n = recompute_metrics(wh)
    publish(wh)  # readers see the new metrics
    click.echo(f"recomputed metrics of {n} calls in {wh.path}")


@main.command()
def settings() -> None:
    """Print the effective settings (secrets masked) as JSON."""
    click.echo(json.dumps(Settings().model_dump(mode="json"), indent=2))


@main.command("eval")
@click.argument(
    "directory",
    type=click.Path(path_type=Path, exists=True, file_okay=False),
    default=Path("data/diarization"),
    required=False,
)
@click.option(
    "--diarizer",
    default=None,
    help="auto, clustering, channels, engine, pyannote or none (default: CALLSCOPE_DIARIZER).",
)
@click.option("--speakers", type=int, default=None, help="Force the number of speakers.")
@click.option("--only", multiple=True, help="Only this call (file stem); repeatable.")
@click.option(
    "--collar",
    type=float,
    default=0.125,
    show_default=True,
    help="DER collar (s) per side (0.125 = pyannote collar=0.25; NIST's 0.25 is always shown).",
)
@engine_options
def eval_cmd(
    directory: Path,
    diarizer: str | None,
    speakers: int | None,
    only: tuple[str, ...],
    collar: float,
    **kwargs: Any,
) -> None:
    """Run the pipeline over a labelled set and print WER, cpWER, DER, speaker count and
    role accuracy.

    DIRECTORY (default data/diarization) holds recordings with sidecars whose reference
    turns name speaker, role, start and end. DER: pyannote.metrics, optimal speaker
    mapping, COLLAR seconds forgiven on each side of reference boundaries, overlap scored;
    also with NIST's +-0.25 s. cpWER: concatenated minimum-permutation WER (words per
    speaker, best speaker matching). Role accuracy: share of reference speech time whose
    speaker got the right role.
    """
    from analytics.evaluation import evaluate_call, format_scores, labelled_set
    from analytics.models import CallMetadata
    from analytics.pipeline import PipelineOptions, process_call_detailed
    from analytics.transcription import make_transcriber

    overrides = _engine_overrides(kwargs)
    if diarizer:
        overrides["diarizer"] = diarizer
    if speakers:
        overrides["diarization_speakers"] = speakers
    calls = labelled_set(directory, only)
    if not calls:
        raise click.ClickException(f"{directory}: no recordings with reference turns")
    try:
        cfg = _settings(**overrides)
        transcriber = make_transcriber(cfg)
        options = PipelineOptions.from_settings(cfg)
        scores, methods = [], {}
        for call in calls:
            md = CallMetadata.from_sidecar(call.sidecar, default_call_id=call.audio.stem)
            processed = process_call_detailed(
                call.audio,
                transcriber=transcriber,
                metadata=md,
                source_uri=str(call.audio),
                options=options,
            )
            scores.append(evaluate_call(call, processed, collar_s=collar))
            methods[scores[-1].call_id] = processed.result.diarization
    except CallscopeError as exc:
        raise click.ClickException(f"{exc.stage} failed: {exc}") from exc
    click.echo(format_scores(scores, methods))


from flows.cli_models import models  # noqa: E402  (registered on the group above)

main.add_command(models)

from flows.cli_warehouse import COMMANDS as _WAREHOUSE_COMMANDS  # noqa: E402

for _command in _WAREHOUSE_COMMANDS:  # publish, search, export, purge
    main.add_command(_command)

from flows.cli_reprocess import register  # noqa: E402 - commands of flows/cli_reprocess.py

register(main)

if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
