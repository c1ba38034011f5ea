"""Accuracy against reference transcripts: word error rate, speaker-role attribution and
diarization error rate (DER)."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from analytics.models import Utterance

_PUNCT = re.compile(r"[^\w\s']")
_SPACE = re.compile(r"\s+")


def normalize_text(text: str) -> list[str]:
    """Lower-case words without punctuation (apostrophes kept, hyphens split)."""
    text = text.lower().replace("-", " ")
    text = _PUNCT.sub(" ", text).replace(" '", " ").replace("' ", " ")
    return [w for w in _SPACE.split(text) if w]


def word_errors(reference: Sequence[str], hypothesis: Sequence[str]) -> int:
    """Levenshtein distance over words (substitutions + deletions + insertions)."""
    prev = list(range(len(hypothesis) + 1))
    for i, ref_word in enumerate(reference, 1):
        cur = [i] + [0] * len(hypothesis)
        for j, hyp_word in enumerate(hypothesis, 1):
            cur[j] = min(prev[j] + 1, cur[j - 1] + 1, prev[j - 1] + (ref_word != hyp_word))
        prev = cur
    return prev[-1]


def wer(reference: str, hypothesis: str) -> float:
    """Word error rate of ``hypothesis`` against ``reference`` after normalisation."""
    ref, hyp = normalize_text(reference), normalize_text(hypothesis)
    if not ref:
        return 0.0 if not hyp else 1.0
    return word_errors(ref, hyp) / len(ref)


@dataclass(frozen=True)
class RoleAttribution:
    """How much reference speech time the hypothesis gave to the right role."""

    reference_s: float
    correct_s: float
    wrong_s: float
    missed_s: float

    @property
    def accuracy(self) -> float:
        return self.correct_s / self.reference_s if self.reference_s else 1.0


def role_attribution(
    reference_turns: Iterable[dict[str, Any]],
    utterances: Iterable[Utterance],
    resolution_s: float = 0.01,
    collar_s: float = 0.25,
) -> RoleAttribution:
    """Share of reference speech time whose hypothesis role matches the reference role.

    Time is sampled every ``resolution_s``. Hypothesis utterances are widened by
    ``collar_s`` on both sides (word timestamps sit inside the speech), the usual
    forgiveness at turn edges in diarization scoring.
    """
    turns = list(reference_turns)
    utts = list(utterances)
    end = max([t["end"] for t in turns] + [u.end for u in utts] + [0.0]) + collar_s
    n = int(np.ceil(end / resolution_s)) + 1
    codes = {"agent": 1, "customer": 2}
    ref = np.zeros(n, dtype=np.int8)
    for t in turns:
        ref[int(t["start"] / resolution_s) : int(t["end"] / resolution_s)] = codes.get(t["role"], 3)
    hyp = np.zeros((3, n), dtype=bool)  # covered by [any, agent, customer]
    for u in utts:
        a = max(0, int((u.start - collar_s) / resolution_s))
        b = int((u.end + collar_s) / resolution_s)
        hyp[0, a:b] = True
        if u.role in codes:
            hyp[codes[u.role], a:b] = True
    speech = ref > 0
    correct = np.zeros(n, dtype=bool)
    for code in codes.values():
        correct |= (ref == code) & hyp[code]
    missed = speech & ~hyp[0]
    wrong = speech & hyp[0] & ~correct
    return RoleAttribution(
        reference_s=float(speech.sum() * resolution_s),
        correct_s=float(correct.sum() * resolution_s),
        wrong_s=float(wrong.sum() * resolution_s),
        missed_s=float(missed.sum() * resolution_s),
    )


# --- diarization ----------------------------------------------------------------------


def _turn_fields(turn: Any) -> tuple[str, float, float]:
    """(speaker, start, end) of a reference dict or a turn-like object."""
    if isinstance(turn, Mapping):
        return str(turn["speaker"]), float(turn["start"]), float(turn["end"])
    return str(turn.speaker), float(turn.start), float(turn.end)


@dataclass(frozen=True)
class DiarizationScore:
    """Diarization error components (seconds) of one call or a whole set.

    DER = (missed + false alarm + confusion) / reference speech, with the optimal
    one-to-one speaker mapping (Hungarian) and a collar around reference boundaries.
    """

    reference_s: float
    missed_s: float
    false_alarm_s: float
    confusion_s: float

    @property
    def der(self) -> float:
        errors = self.missed_s + self.false_alarm_s + self.confusion_s
        return errors / self.reference_s if self.reference_s else float(errors > 0)

    def __add__(self, other: DiarizationScore) -> DiarizationScore:
        return DiarizationScore(
            self.reference_s + other.reference_s,
            self.missed_s + other.missed_s,
            self.false_alarm_s + other.false_alarm_s,
            self.confusion_s + other.confusion_s,
        )


def diarization_error(
    reference_turns: Iterable[Any],
    hypothesis_turns: Iterable[Any],
    collar_s: float = 0.25,
    duration_s: float | None = None,
) -> DiarizationScore:
    """DER components by ``pyannote.metrics`` (the ``diarization`` extra).

    Turns are reference dicts (``speaker``, ``start``, ``end``) or objects with those
    attributes. ``collar_s`` is forgiven on *each* side of every reference boundary
    (pyannote's ``collar`` is the total width, so it gets 2 x collar_s). Overlapped
    speech is scored (``skip_overlap=False``). ``duration_s`` bounds the scored region
    (default: the extent of both annotations).
    """
    try:
        from pyannote.core import Annotation, Segment, Timeline
        from pyannote.metrics.diarization import DiarizationErrorRate
    except ImportError as exc:  # pragma: no cover - depends on the installed extras
        raise ImportError(
            "DER needs pyannote.metrics: pip install 'callscope[diarization]'"
        ) from exc

    def annotation(turns: Iterable[Any]) -> Any:
        ann = Annotation()
        for i, turn in enumerate(turns):
            speaker, start, end = _turn_fields(turn)
            if end > start:
                ann[Segment(start, end), i] = speaker
        return ann

    ref, hyp = annotation(reference_turns), annotation(hypothesis_turns)
    end = duration_s
    if end is None:
        end = max([s.end for s in ref.itersegments()] + [s.end for s in hyp.itersegments()] + [0])
    uem = Timeline([Segment(0.0, max(end, 1e-3))])
    metric = DiarizationErrorRate(collar=2 * collar_s, skip_overlap=False)
    parts = metric(ref, hyp, uem=uem, detailed=True)
    return DiarizationScore(
        reference_s=float(parts["total"]),
        missed_s=float(parts["missed detection"]),
        false_alarm_s=float(parts["false alarm"]),
        confusion_s=float(parts["confusion"]),
    )


def role_accuracy(
    reference_turns: Iterable[dict[str, Any]],
    hypothesis_turns: Iterable[Any],
    roles: Mapping[str, str | None],
    collar_s: float = 0.25,
) -> RoleAttribution:
    """:func:`role_attribution` for speaker turns whose roles come from ``roles``
    (speaker -> role): the share of reference speech time given the right role."""
    utterances = []
    for turn in hypothesis_turns:
        speaker, start, end = _turn_fields(turn)
        utterances.append(Utterance(speaker, roles.get(speaker), start, end, "", ()))
    return role_attribution(reference_turns, utterances, collar_s=collar_s)


@dataclass(frozen=True)
class CallScore:
    """Accuracy of one analysed call against its reference."""

    call_id: str
    audio_s: float
    processing_s: float
    reference_words: int
    word_errors: int
    diarization: DiarizationScore
    roles: RoleAttribution
    reference_speakers: int
    hypothesis_speakers: int
    #: DER with NIST md-eval's +-0.25 s collar (pyannote ``collar=0.5``).
    diarization_nist: DiarizationScore | None = None
    #: cpWER parts (speaker-attributed words; 0/0 when the reference has no words).
    cp_errors: int = 0
    cp_words: int = 0
    #: Calls whose speaker count is right (1 per call; summed in the overall row).
    count_right: int = 0
    calls: int = 1

    @property
    def wer(self) -> float:
        return self.word_errors / self.reference_words if self.reference_words else 0.0

    @property
    def cpwer(self) -> float:
        return self.cp_errors / self.cp_words if self.cp_words else 0.0


def score_call(
    reference: Mapping[str, Any],
    hypothesis_text: str,
    hypothesis_turns: Sequence[Any],
    roles: Mapping[str, str | None],
    *,
    call_id: str,
    audio_s: float,
    processing_s: float = 0.0,
    collar_s: float = 0.25,
    utterances: Sequence[Any] = (),
) -> CallScore:
    """WER, DER (at ``collar_s`` per side and at NIST's 0.25 s), cpWER (from
    ``utterances``: speaker, start, text) and role accuracy of one call; ``reference`` is
    a sidecar's ``reference`` (``text`` and ``turns`` with speaker, role, start, end)."""
    from analytics.cpwer import cpwer_of_call

    ref_turns = list(reference["turns"])
    ref_words = normalize_text(str(reference["text"]))
    cp = cpwer_of_call(ref_turns, utterances)
    n_ref = len({t["speaker"] for t in ref_turns})
    n_hyp = len({_turn_fields(t)[0] for t in hypothesis_turns})
    return CallScore(
        call_id=call_id,
        audio_s=audio_s,
        processing_s=processing_s,
        reference_words=len(ref_words),
        word_errors=word_errors(ref_words, normalize_text(hypothesis_text)),
        diarization=diarization_error(ref_turns, hypothesis_turns, collar_s, audio_s),
        roles=role_accuracy(ref_turns, hypothesis_turns, roles, collar_s),
        reference_speakers=n_ref,
        hypothesis_speakers=n_hyp,
        diarization_nist=diarization_error(ref_turns, hypothesis_turns, 0.25, audio_s),
        cp_errors=cp.errors if cp.reference_words else 0,
        cp_words=cp.reference_words,
        count_right=int(n_ref == n_hyp),
    )


def overall_score(scores: Sequence[CallScore]) -> CallScore:
    """All calls pooled: WER over all reference words, DER and role accuracy over all
    reference speech time (long calls weigh more, as in the standard definitions)."""
    diar = nist = DiarizationScore(0.0, 0.0, 0.0, 0.0)
    roles = RoleAttribution(0.0, 0.0, 0.0, 0.0)
    for s in scores:
        diar = diar + s.diarization
        nist = nist + (s.diarization_nist or s.diarization)
        roles = RoleAttribution(
            roles.reference_s + s.roles.reference_s,
            roles.correct_s + s.roles.correct_s,
            roles.wrong_s + s.roles.wrong_s,
            roles.missed_s + s.roles.missed_s,
        )
    return CallScore(
        call_id="overall",
        audio_s=sum(s.audio_s for s in scores),
        processing_s=sum(s.processing_s for s in scores),
        reference_words=sum(s.reference_words for s in scores),
        word_errors=sum(s.word_errors for s in scores),
        diarization=diar,
        roles=roles,
        reference_speakers=sum(s.reference_speakers for s in scores),
        hypothesis_speakers=sum(s.hypothesis_speakers for s in scores),
        diarization_nist=nist,
        cp_errors=sum(s.cp_errors for s in scores),
        cp_words=sum(s.cp_words for s in scores),
        count_right=sum(s.count_right for s in scores),
        calls=sum(s.calls for s in scores),
    )


# --- labelled sets ----------------------------------------------------------------------

AUDIO_SUFFIXES = (".wav", ".flac", ".mp3", ".ogg", ".m4a", ".opus")


@dataclass(frozen=True)
class LabelledCall:
    """A recording with a sidecar holding reference turns."""

    audio: Path
    sidecar: dict[str, Any]

    @property
    def call_id(self) -> str:
        return str(self.sidecar.get("call_id") or self.audio.stem)

    @property
    def reference(self) -> dict[str, Any]:
        return dict(self.sidecar["reference"])


def labelled_set(directory: Path, only: Sequence[str] = ()) -> list[LabelledCall]:
    """Recordings in ``directory`` whose sidecar ``<stem>.json`` has reference turns with
    speakers (sorted by name; ``only`` keeps those stems)."""
    out = []
    for audio in sorted(directory.iterdir()):
        if audio.suffix.lower() not in AUDIO_SUFFIXES or (only and audio.stem not in only):
            continue
        side = audio.with_suffix(".json")
        if not side.is_file():
            continue
        data = json.loads(side.read_text(encoding="utf-8"))
        turns = (data.get("reference") or {}).get("turns") or []
        if turns and all("speaker" in t for t in turns):
            out.append(LabelledCall(audio, data))
    return out


def evaluate_call(call: LabelledCall, processed: Any, collar_s: float = 0.25) -> CallScore:
    """Score a :class:`analytics.pipeline.ProcessedCall` against its reference.

    DER uses the diarizer's turns (the utterances' spans when no diarizer ran); role
    accuracy gives each turn its speaker's role."""
    result = processed.result
    if processed.diarization is not None and processed.diarization.turns:
        turns: list[Any] = list(processed.diarization.turns)
        roles = {spk: guess.role for spk, guess in processed.roles.items()}
    else:
        turns = list(result.utterances)
        roles = {u.speaker: u.role for u in result.utterances}
    return score_call(
        call.reference,
        result.text,
        turns,
        roles,
        call_id=call.call_id,
        audio_s=result.duration_s,
        processing_s=result.processing_s,
        collar_s=collar_s,
        utterances=result.utterances,
    )


def format_scores(scores: Sequence[CallScore], methods: Mapping[str, str] | None = None) -> str:
    """Per-call rows and an ``overall`` row: WER, cpWER, DER at two collars (with its
    missed / false-alarm / confusion seconds), role accuracy, processing time; then the
    share of calls whose speaker count is right."""
    methods = methods or {}
    head = (
        f"{'call':<26} {'audio s':>8} {'speakers':>9} {'by':>10} {'WER':>6} {'cpWER':>6} "
        f"{'DER':>6} {'nist':>6} {'miss':>6} {'FA':>6} {'conf':>6} {'roles':>6} {'proc s':>7}"
    )
    lines = [head, "-" * len(head)]

    def row(s: CallScore, by: str) -> str:
        d = s.diarization
        nist = (s.diarization_nist or d).der
        cp = f"{s.cpwer:>6.3f}" if s.cp_words else f"{'-':>6}"
        return (
            f"{s.call_id:<26} {s.audio_s:>8.1f} "
            f"{f'{s.reference_speakers}/{s.hypothesis_speakers}':>9} {by:>10} "
            f"{s.wer:>6.3f} {cp} {d.der:>6.3f} {nist:>6.3f} {d.missed_s:>6.1f} "
            f"{d.false_alarm_s:>6.1f} {d.confusion_s:>6.1f} {s.roles.accuracy:>6.3f} "
            f"{s.processing_s:>7.1f}"
        )

    lines += [row(s, methods.get(s.call_id, "")) for s in scores]
    lines.append("-" * len(head))
    total = overall_score(scores)
    lines.append(row(total, ""))
    lines.append(
        f"speaker count right: {total.count_right}/{total.calls} calls; "
        "nist = DER with NIST's +-0.25 s collar"
    )
    return "\n".join(lines)
