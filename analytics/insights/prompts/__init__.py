"""Versioned prompt templates (``<name>_v<N>.md`` in this package) and transcript rendering.

A template file starts with ``<!-- version: <name>_v<N> ... -->`` (checked against the file
name, so a copied file cannot keep a stale version), then a ``## system`` and a ``## user``
section. Placeholders use ``string.Template`` syntax (``$transcript``). The newest version
of each template is used; adding ``call_insights_v2.md`` changes :data:`PROMPT_VERSION`
and therefore the cache key, so cached answers of the old prompt are not reused.

Text given to an LLM is always redacted here, whatever ``redact_pii`` says about storage.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import cache
from importlib import resources
from string import Template

from analytics.enrich.redact import redact, redact_utterances
from analytics.insights.base import CallContext
from analytics.models import Utterance

_HEADER = re.compile(r"^<!--\s*version:\s*(\S+)")
_FILE = re.compile(r"^(?P<name>[a-z_]+)_v(?P<n>\d+)\.md$")


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: str
    system: str
    user: str

    def render(self, **values: object) -> tuple[str, str]:
        """(system, user) with placeholders filled; a missing value raises KeyError."""
        text = {k: str(v) for k, v in values.items()}
        return Template(self.system).substitute(text), Template(self.user).substitute(text)


def _parse(filename: str, text: str) -> PromptTemplate:
    lines = text.splitlines()
    header = _HEADER.match(lines[0]) if lines else None
    stem = filename.removesuffix(".md")
    if not header or header.group(1) != stem:
        raise ValueError(f"prompt {filename}: first line must be '<!-- version: {stem} ...'")
    body = "\n".join(lines[1:])
    parts = re.split(r"^## (system|user)\s*$", body, flags=re.MULTILINE)
    sections = dict(zip(parts[1::2], (p.strip() for p in parts[2::2]), strict=True))
    if set(sections) != {"system", "user"}:
        raise ValueError(f"prompt {filename}: needs a '## system' and a '## user' section")
    match = _FILE.match(filename)
    assert match is not None
    return PromptTemplate(match["name"], stem, sections["system"], sections["user"])


@cache
def load(name: str) -> PromptTemplate:
    """The newest version of the named template."""
    found: list[tuple[int, str]] = []
    for entry in resources.files(__name__).iterdir():
        m = _FILE.match(entry.name)
        if m and m["name"] == name:
            found.append((int(m["n"]), entry.name))
    if not found:
        raise FileNotFoundError(f"no prompt template {name}_v<N>.md in {__name__}")
    _, filename = max(found)
    return _parse(filename, resources.files(__name__).joinpath(filename).read_text("utf-8"))


#: Version of the single-pass prompt; stored with every insight and part of the cache key.
PROMPT_VERSION = load("call_insights").version
#: Version of the map-reduce prompt pair used for calls longer than the context window.
MAP_REDUCE_VERSION = f"{load('chunk_notes').version}+{load('combine').version}"


def timestamp(seconds: float) -> str:
    """``[mm:ss]`` (minutes keep counting past 59)."""
    total = max(0, int(seconds))
    return f"[{total // 60:02d}:{total % 60:02d}]"


def transcript_lines(utterances: Sequence[Utterance]) -> list[str]:
    """One redacted ``[mm:ss] ROLE: text`` line per non-empty utterance. Redaction sees
    each speaker's whole side of the call, so a number read in chunks is caught whole."""
    lines = []
    for u in redact_utterances(utterances)[0]:
        text = " ".join(u.text.split())
        if not text:
            continue
        role = (u.role or "unknown").upper()
        lines.append(f"{timestamp(u.start)} {role}: {text}")
    return lines


def render_context(context: CallContext | None) -> str:
    """The call facts an LLM may see (redacted; no ids, names or phone numbers)."""
    if context is None:
        return "(none)"
    facts = []
    if context.direction:
        facts.append(f"direction: {context.direction}")
    if context.duration_s is not None:
        minutes, seconds = divmod(round(context.duration_s), 60)
        facts.append(f"duration: {minutes}m {seconds:02d}s")
    if context.started_at is not None:
        facts.append(f"weekday: {context.started_at.strftime('%A')}")
    if context.language:
        facts.append(f"language: {context.language}")
    return redact("\n".join(facts)).text if facts else "(none)"
