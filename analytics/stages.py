"""The per-call pipeline as named stages: what each reads, writes, and which version made it.

This table is the one place to learn what re-runs what. An analysis stores the lineage of
its stages (:func:`current_lineage` at the time it was made: each stage's version plus the
settings that shape its output). Reprocessing compares a stored lineage with the current
one (:func:`stages_to_rerun`) and re-runs only the stages whose inputs changed, plus what
depends on them. Stages that need audio (fetch, decode, transcribe, diarize) run only when
``transcribe`` or ``diarize`` must; everything else runs from stored rows.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from analytics import PIPELINE_VERSION
from analytics.config import Settings
from analytics.errors import ConfigError


@dataclass(frozen=True)
class Stage:
    """One named step of the per-call pipeline."""

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    #: Bumped when a code change alters the stage's output for the same inputs.
    version: str
    #: Stages whose outputs this one reads: re-running one of them re-runs this.
    after: tuple[str, ...] = ()
    #: Whether running it needs the recording's audio.
    needs_audio: bool = False


STAGES: tuple[Stage, ...] = (
    Stage("fetch", ("source object (uri, etag)",), ("local audio file",), "1", (), True),
    Stage("decode", ("local audio file",), ("16 kHz PCM per channel",), "1", ("fetch",), True),
    Stage(
        "transcribe",
        ("PCM", "engine, model, decoding options"),
        ("words per speaker stream", "language"),
        "1",
        ("decode",),
        True,
    ),
    Stage(
        "diarize",
        ("PCM", "words", "sidecar channel_roles", "diarizer options"),
        ("speaker streams", "roles"),
        "1",
        ("transcribe",),
        True,
    ),
    Stage("utterances", ("speaker streams", "utterance_gap_s"), ("utterances",), "1", ("diarize",)),
    Stage(
        "metrics",
        ("utterances", "per-utterance loudness"),
        ("call/speaker metrics", "silences", "interruptions", "sentiment"),
        "1",
        ("utterances",),
    ),
    Stage(
        "insights",
        ("utterances (redacted)", "insights engine, model, prompt version"),
        ("summary", "outcome", "sentiment", "action items"),
        "1",
        ("utterances",),
    ),
    Stage(
        "categories",
        ("utterances", "metrics", "insights outcome", "rules version"),
        ("category matches with evidence",),
        "1",
        ("metrics", "insights"),
    ),
    Stage(
        "redact",
        ("utterances", "redact_pii"),
        ("stored text", "redaction counts"),
        "1",
        ("utterances",),
    ),
    Stage(
        "land",
        ("everything above",),
        ("one analysis in one transaction; current moves",),
        "1",
        ("metrics", "insights", "categories", "redact"),
    ),
)
BY_NAME = {s.name: s for s in STAGES}
#: Stages a reprocess can be asked for (``auto`` derives them from the lineage).
REPROCESS_STAGES = ("transcribe", "diarize", "metrics", "categories", "insights")
#: Stages whose lineage is compared by ``auto`` (utterances and redact map to diarize and
#: transcribe: their inputs are not stored, so they re-run from audio).
_COMPARED = {
    "transcribe": "transcribe",
    "redact": "transcribe",
    "diarize": "diarize",
    "utterances": "diarize",
    "metrics": "metrics",
    "insights": "insights",
    "categories": "categories",
}


def downstream(names: Iterable[str]) -> list[str]:
    """``names`` plus every stage that depends on them, in pipeline order."""
    chosen = set(names)
    unknown = chosen - set(BY_NAME)
    if unknown:
        raise ConfigError(
            f"unknown stage(s) {', '.join(sorted(unknown))}; choose from"
            f" {', '.join(REPROCESS_STAGES)} or auto"
        )
    for stage in STAGES:  # STAGES is topologically ordered
        if any(a in chosen for a in stage.after):
            chosen.add(stage.name)
    if chosen & {"transcribe", "diarize"}:  # speaker streams are not stored: from audio
        chosen |= {"fetch", "decode", "transcribe", "diarize", "utterances", "redact"}
        chosen |= set(downstream(["utterances"]))
    return [s.name for s in STAGES if s.name in chosen]


def needs_audio(names: Iterable[str]) -> bool:
    return any(BY_NAME[n].needs_audio for n in names)


def insights_lineage(settings: Settings) -> dict[str, Any]:
    """Engine, model and prompt version the configured insights engine would record."""
    name = settings.insights_engine
    if name == "offline":
        from analytics.insights import offline_rules

        return {"engine": "offline", "model": offline_rules.RULES_VERSION,
                "prompt_version": offline_rules.RULES_VERSION}  # fmt: skip
    from analytics.insights import prompts
    from analytics.insights.llm import LLMOptions

    return {
        "engine": name,
        "model": LLMOptions.from_settings(settings, name).model,
        "prompt_version": prompts.PROMPT_VERSION,
    }


def current_lineage(settings: Settings, rules_version: str | None) -> dict[str, dict[str, Any]]:
    """What each stage would record if it ran now with ``settings``."""
    v: dict[str, dict[str, Any]] = {s.name: {"version": s.version} for s in STAGES}
    v["transcribe"].update(
        engine=settings.engine,
        model=settings.model,
        pipeline_version=PIPELINE_VERSION,
        language=settings.language,
        beam_size=settings.beam_size,
        batch_size=settings.batch_size,
        vad_filter=settings.vad_filter,
        initial_prompt=settings.initial_prompt,
        hotwords=settings.hotwords,
        compute_type=settings.compute_type,
    )
    v["diarize"].update(
        diarizer=settings.diarizer,
        speakers=settings.diarization_speakers,
        min_speakers=settings.diarization_min_speakers,
        max_speakers=settings.diarization_max_speakers,
        speaker_embedding=settings.speaker_embedding,
        vad=settings.diarization_vad,
        roles=settings.role_assigner,
    )
    v["utterances"].update(utterance_gap_s=settings.utterance_gap_s)
    v["insights"].update(insights_lineage(settings))
    v["categories"].update(rules_version=rules_version)
    v["redact"].update(redact_pii=settings.redact_pii)
    return v


def _differs(stored: dict[str, Any] | None, now: dict[str, Any], from_audio: bool) -> bool:
    """A stage differs when a key both sides know differs. A stage with no stored lineage
    (analyses landed before it was recorded) re-runs when that is cheap; one that needs
    the audio is assumed unchanged rather than re-transcribing a whole archive."""
    if not stored:
        return not from_audio
    return any(stored[k] != now[k] for k in stored.keys() & now.keys())


def stages_to_rerun(
    stored: dict[str, dict[str, Any]], current: dict[str, dict[str, Any]]
) -> list[str]:
    """The stages to re-run (in order, dependants included) so an analysis made with the
    ``stored`` lineage matches ``current``; empty when nothing changed."""
    changed = {
        target
        for name, target in _COMPARED.items()
        if _differs(stored.get(name), current[name], target in ("transcribe", "diarize"))
    }
    return [s for s in downstream(changed) if s != "land"] if changed else []
