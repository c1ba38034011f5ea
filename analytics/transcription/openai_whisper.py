"""openai-whisper (PyTorch) transcription: the reference implementation, for users with GPUs
and ``.pt`` checkpoints. Optional: needs ``pip install 'callscope[openai-whisper]'``.

Checkpoints are a local ``.pt`` file or an official name (``tiny.en``, ``base``,
``large-v3``...) whose file already sits in the download root. The packaged models
(``tiny.en``, ``base``) are otherwise converted once from their CTranslate2 files into the
model cache (``ct2_to_openai.py``), so this engine runs offline on the same weights as
faster-whisper. Nothing is fetched unless downloads are allowed
(``CALLSCOPE_MODEL_DOWNLOAD=true``, online machines only).
"""

from __future__ import annotations

import logging
import threading
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from analytics.errors import ConfigError, ModelNotFoundError, TranscriptionError
from analytics.models import Word
from analytics.transcription.base import ChannelTranscript
from analytics.transcription.models import file_sha256

log = logging.getLogger(__name__)

EXTRA_HINT = "pip install 'callscope[openai-whisper]'"


@dataclass(frozen=True)
class OpenAIWhisperOptions:
    """Options for openai-whisper. Every field but the download settings lands in the
    analysis lineage."""

    #: Official model name (tiny.en, base, large-v3...) found in ``download_root``, or a
    #: path to a ``.pt`` checkpoint file.
    checkpoint: str = "tiny.en"
    #: PyTorch device: "cpu", "cuda" or "cuda:N".
    device: str = "cpu"
    #: Half precision; None means on for CUDA, off for CPU (where whisper cannot use it).
    fp16: bool | None = None
    #: Beam width for decoding at temperature 0.
    beam_size: int = 5
    #: Candidates sampled at non-zero fallback temperatures; the best one is kept.
    best_of: int = 5
    #: Forced language code, or None to detect it on the first 30 s (multilingual models).
    language: str | None = None
    #: Temperature fallback sequence for windows failing the quality checks.
    temperatures: tuple[float, ...] = (0.0, 0.2, 0.4, 0.6, 0.8, 1.0)
    #: A window with no-speech probability above this (and low log prob) is dropped.
    no_speech_threshold: float | None = 0.6
    #: Windows with average log prob below this are retried at a higher temperature.
    logprob_threshold: float | None = -1.0
    #: Windows with a gzip compression ratio above this (repetition) are retried.
    compression_ratio_threshold: float | None = 2.4
    #: Skip silent stretches longer than this (s) around suspected hallucinations (this
    #: engine has no VAD; see FasterWhisperOptions for why VAD turns the guard off there).
    hallucination_silence_threshold: float | None = 2.0
    #: Context for the first window, e.g. product and company names.
    initial_prompt: str | None = None
    #: Feed previous text as a prompt; off avoids runaway repetition on phone audio.
    condition_on_previous_text: bool = False
    #: Where official checkpoints (``<name>.pt``) are looked up; not part of the lineage.
    download_root: Path = field(default=Path("data/cache/openai-whisper"), compare=False)
    #: Where packaged models (tiny.en, base) are converted to checkpoints once.
    cache_dir: Path = field(default=Path("data/cache/models"), compare=False)
    #: Fetch official checkpoints missing from ``download_root`` (online machines only).
    allow_download: bool = field(default=False, compare=False)

    def use_fp16(self) -> bool:
        """Whether decoding runs in half precision on this device."""
        on_cuda = self.device.startswith("cuda")
        if self.fp16 is None:
            return on_cuda
        if self.fp16 and not on_cuda:
            log.warning("fp16 is not supported on %s; decoding in fp32", self.device)
        return self.fp16 and on_cuda


@dataclass(frozen=True)
class LoadedModel:
    """A loaded whisper model, the checkpoint it came from and the lock that serializes
    decoding (whisper installs hooks on the shared modules while it decodes)."""

    model: Any
    path: Path
    sha256: str
    official_name: str | None
    lock: threading.Lock = field(compare=False)


_MODELS: dict[tuple[str, str], LoadedModel] = {}
_MODELS_LOCK = threading.Lock()


def import_whisper() -> Any:
    """The ``whisper`` module, or a ConfigError naming the extra to install."""
    try:
        import torch  # noqa: F401
        import whisper
    except ImportError as exc:
        raise ConfigError(
            f"engine 'openai-whisper' needs the optional extra: {EXTRA_HINT} "
            f"(missing: {exc.name or exc})"
        ) from exc
    return whisper


def _official(whisper: Any) -> dict[str, str]:
    """Official name -> download URL (the URL's second-last part is the file's sha256)."""
    return dict(getattr(whisper, "_MODELS", {}))


def _official_by_sha(whisper: Any) -> dict[str, str]:
    """sha256 -> an official name, to recognise official checkpoints given as paths."""
    out: dict[str, str] = {}
    for name, url in _official(whisper).items():
        out.setdefault(url.split("/")[-2], name)  # "large-v3" before its alias "large"
    return out


def _not_found(checkpoint: str, root: Path, whisper: Any, detail: str) -> ModelNotFoundError:
    names = ", ".join(_official(whisper)) or "none"
    return ModelNotFoundError(
        f"openai-whisper checkpoint {checkpoint!r} is not available here: {detail}. Set "
        f"CALLSCOPE_MODEL to the path of a .pt checkpoint file, or place the official "
        f"<name>.pt in {root} (CALLSCOPE_OPENAI_WHISPER_DOWNLOAD_ROOT; e.g. copy "
        f"~/.cache/whisper/<name>.pt from a machine that has it), or allow the download "
        f"on an online machine (CALLSCOPE_MODEL_DOWNLOAD=true). Official names: {names}; "
        f"tiny.en and base also convert from their faster-whisper packages when installed."
    )


def resolve_checkpoint(opts: OpenAIWhisperOptions, whisper: Any) -> tuple[Path, str]:
    """The local ``.pt`` file for ``opts.checkpoint`` and its sha256, without any fetch
    unless downloads are allowed: an official file in the download root first, else the
    packaged model converted from CTranslate2, else a download when allowed."""
    name, root = opts.checkpoint, opts.download_root
    urls = _official(whisper)
    if name not in urls:
        path = Path(name).expanduser()
        if path.is_file():
            return path.resolve(), file_sha256(path.resolve())
        detail = "no such file" if path.suffix == ".pt" or "/" in name else "unknown name"
        raise _not_found(name, root, whisper, f"{detail} ({path})")
    expected = urls[name].split("/")[-2]
    path = root / urls[name].rsplit("/", 1)[-1]
    if path.is_file():
        sha = file_sha256(path)
        if sha == expected:
            return path.resolve(), sha
        problem = f"{path} has sha256 {sha[:12]}..., expected {expected[:12]}..."
    else:
        problem = f"{path} does not exist"
    converted = _packaged(name, opts.cache_dir)
    if converted is not None:
        return converted.resolve(), file_sha256(converted.resolve())
    if not opts.allow_download:
        raise _not_found(name, root, whisper, problem)
    log.info("downloading openai-whisper checkpoint %s into %s (%s)", name, root, problem)
    try:
        fetch = getattr(whisper, "_download", None)
        if callable(fetch):  # fetch and verify only; the model is loaded once, below
            fetch(urls[name], str(root), False)
        else:
            whisper.load_model(name, device="cpu", download_root=str(root))
    except Exception as exc:  # offline, proxy, disk: say so, then fail clearly
        raise _not_found(name, root, whisper, f"{problem}; download failed: {exc}") from exc
    if not path.is_file() or file_sha256(path) != expected:
        raise _not_found(name, root, whisper, f"{problem}; download left no valid file")
    return path.resolve(), expected


def _packaged(name: str, cache_dir: Path) -> Path | None:
    from analytics.transcription.ct2_to_openai import packaged_checkpoint

    with _CONVERT_LOCK:
        return packaged_checkpoint(name, cache_dir)


_CONVERT_LOCK = threading.Lock()


def load_model(opts: OpenAIWhisperOptions) -> LoadedModel:
    """Load a whisper checkpoint once per process (per file and device) and reuse it."""
    whisper = import_whisper()
    import torch

    if opts.device.startswith("cuda") and not torch.cuda.is_available():
        raise ConfigError(
            f"openai-whisper device {opts.device!r}: this torch {torch.__version__} has no "
            f"usable CUDA; set CALLSCOPE_DEVICE=cpu or install a CUDA build of torch"
        )
    path, sha = resolve_checkpoint(opts, whisper)
    key = (str(path), opts.device)
    with _MODELS_LOCK:
        loaded = _MODELS.get(key)
        if loaded is None:
            official = _official_by_sha(whisper).get(sha)
            log.info(
                "loading openai-whisper %s from %s (%s, sha256 %s)",
                official or "checkpoint",
                path,
                opts.device,
                sha[:12],
            )
            try:
                model = whisper.load_model(
                    str(path), device=opts.device, download_root=str(opts.download_root)
                )
            except Exception as exc:  # not a torch file, wrong keys, shapes...
                raise ModelNotFoundError(
                    f"could not load {path} as an openai-whisper checkpoint (a torch file "
                    f"with 'dims' and 'model_state_dict') on {opts.device}: {exc}"
                ) from exc
            heads = getattr(whisper, "_ALIGNMENT_HEADS", {}).get(official or "")
            if heads is None:  # a converted checkpoint carries its model's heads
                from analytics.transcription.ct2_to_openai import read_alignment_heads

                stored = read_alignment_heads(path)
                heads = stored.encode("ascii") if stored else None
            if heads is not None:
                # what load_model(name) does: the word-timing heads of official models
                model.set_alignment_heads(heads)
            model.eval()
            loaded = LoadedModel(model, path, sha, official, threading.Lock())
            _MODELS[key] = loaded
    return loaded


class OpenAIWhisperTranscriber:
    """Transcribes one channel at a time with word timestamps (openai-whisper)."""

    engine = "openai-whisper"

    def __init__(self, options: OpenAIWhisperOptions | None = None) -> None:
        self.options = options or OpenAIWhisperOptions()
        self.model_name = self.options.checkpoint
        self._whisper = import_whisper()
        self.loaded = load_model(self.options)
        self.model = self.loaded.model
        self.multilingual = bool(self.model.is_multilingual)
        self.fp16 = self.options.use_fp16()

    def params(self) -> dict[str, Any]:
        out = asdict(self.options)
        out.pop("download_root")
        out.pop("cache_dir")
        out.pop("allow_download")
        out["fp16"] = self.fp16
        out["temperatures"] = list(self.options.temperatures)
        return out

    def lineage(self) -> dict[str, Any]:
        return {
            "model_path": str(self.loaded.path),
            "model_sha256": self.loaded.sha256,
            "official_name": self.loaded.official_name,
        }

    def detect_language(self, audio: np.ndarray) -> tuple[str, float | None]:
        """Language of the first 30 s (whisper's own rule; it has no VAD to skip rings);
        an English-only model detects nothing: "en" with no probability."""
        if not self.multilingual:
            return "en", None
        w = self._whisper
        mel = w.log_mel_spectrogram(w.pad_or_trim(audio), self.model.dims.n_mels)
        mel = mel.to(self.model.device)
        if self.fp16:
            mel = mel.half()
        with self.loaded.lock:
            _, probs = self.model.detect_language(mel)
        lang = max(probs, key=probs.get)
        return str(lang), float(probs[lang])

    def _language(self, audio: np.ndarray) -> tuple[str, float | None]:
        lang = self.options.language
        if lang and not self.multilingual and lang != "en":
            log.warning("%s is English-only; language %r ignored", self.model_name, lang)
            return "en", None
        if lang:
            return lang, 1.0
        return self.detect_language(audio)

    def transcribe(self, audio: np.ndarray) -> ChannelTranscript:
        o = self.options
        audio = np.ascontiguousarray(audio, dtype=np.float32)
        language, language_prob = self._language(audio)
        kwargs: dict[str, Any] = dict(
            language=language,
            task="transcribe",
            word_timestamps=True,
            verbose=None,
            fp16=self.fp16,
            beam_size=o.beam_size,
            best_of=o.best_of,
            temperature=tuple(o.temperatures),
            no_speech_threshold=o.no_speech_threshold,
            logprob_threshold=o.logprob_threshold,
            compression_ratio_threshold=o.compression_ratio_threshold,
            hallucination_silence_threshold=o.hallucination_silence_threshold,
            initial_prompt=o.initial_prompt,
            condition_on_previous_text=o.condition_on_previous_text,
        )
        try:
            with self.loaded.lock:
                result = self.model.transcribe(audio, **kwargs)
        except (RuntimeError, ValueError, IndexError) as exc:
            raise TranscriptionError(f"openai-whisper failed: {exc}") from exc
        words: list[Word] = []
        spans: list[tuple[float, float]] = []
        for seg in result.get("segments", ()):
            spans.append((float(seg["start"]), float(seg["end"])))
            for w in seg.get("words") or ():
                text = str(w["word"]).strip()
                if text:
                    words.append(
                        Word(
                            text,
                            round(float(w["start"]), 3),
                            round(float(w["end"]), 3),
                            round(float(w["probability"]), 4),
                        )
                    )
        return ChannelTranscript(
            words=tuple(words),
            language=str(result.get("language") or language),
            language_prob=language_prob,
            segments=tuple(spans),
        )
