"""The stage table and what ``auto`` re-runs when the lineage changes."""

from __future__ import annotations

import pytest

from analytics.config import Settings
from analytics.errors import ConfigError
from analytics.reprocess import parse_stages
from analytics.stages import STAGES, current_lineage, downstream, stages_to_rerun


def test_every_stage_is_declared_in_pipeline_order() -> None:
    names = [s.name for s in STAGES]
    assert names == ["fetch", "decode", "transcribe", "diarize", "utterances", "metrics",
                     "insights", "categories", "redact", "land"]  # fmt: skip
    seen: set[str] = set()
    for stage in STAGES:
        assert stage.inputs and stage.outputs and stage.version
        assert set(stage.after) <= seen, f"{stage.name} depends on a later stage"
        seen.add(stage.name)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"insights_engine": "offline"}, []),
        ({"model": "base"}, ["fetch", "decode", "transcribe", "diarize", "utterances",
                             "metrics", "insights", "categories", "redact"]),
        ({"diarizer": "clustering"}, ["fetch", "decode", "transcribe", "diarize", "utterances",
                                      "metrics", "insights", "categories", "redact"]),
        ({"diarization_vad": "silero"}, ["fetch", "decode", "transcribe", "diarize",
                                         "utterances", "metrics", "insights", "categories",
                                         "redact"]),
        ({"speaker_embedding": "ge2e"}, ["fetch", "decode", "transcribe", "diarize",
                                         "utterances", "metrics", "insights", "categories",
                                         "redact"]),
    ],
)  # fmt: skip
def test_auto_reruns_what_changed_and_what_depends_on_it(
    change: dict[str, str], expected: list[str]
) -> None:
    stored = current_lineage(Settings(), "1")
    now = current_lineage(Settings(**change), "1")  # type: ignore[arg-type]
    assert stages_to_rerun(stored, now) == expected


def test_a_new_prompt_reruns_insights_and_categories_only(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    stored = current_lineage(Settings(), "1")
    monkeypatch.setattr("analytics.insights.offline_rules.RULES_VERSION", "rules-v9")
    assert stages_to_rerun(stored, current_lineage(Settings(), "1")) == [
        "insights",
        "categories",
    ]


def test_new_rules_rerun_categories_only() -> None:
    stored = current_lineage(Settings(), "1")
    assert stages_to_rerun(stored, current_lineage(Settings(), "2")) == ["categories"]


def test_an_analysis_without_recorded_stages_rebuilds_them() -> None:
    legacy = {"transcribe": {"engine": "faster-whisper", "model": "tiny.en"}}
    reruns = stages_to_rerun(legacy, current_lineage(Settings(), "1"))
    assert "transcribe" not in reruns and "categories" in reruns and "insights" in reruns


def test_explicit_stages_bring_their_dependants() -> None:
    assert downstream(["metrics"]) == ["metrics", "categories", "land"]
    assert parse_stages("insights,categories") == ("insights", "categories")
    assert parse_stages(["auto"]) == ("auto",)
    with pytest.raises(ConfigError, match=r"unknown stage.*transcrib"):
        parse_stages("transcrib")
