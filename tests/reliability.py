"""The README's "Reliability" section, written from what the tests observed.

``make reliability`` runs the bad-input batch and the faults suite with
``CALLSCOPE_UPDATE_README=1``; each writes its rows between its markers. Fault rows are
written one at a time (each fault test records what it saw), in the order of
:data:`tests.faults.catalogue.FAULTS`, so running part of the suite keeps the other rows.
"""

from __future__ import annotations

import os
import re
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"
BAD_INPUT = ("<!-- reliability:start -->", "<!-- reliability:end -->")
FAULT_MARKERS = ("<!-- faults:start -->", "<!-- faults:end -->")


def updating() -> bool:
    return os.environ.get("CALLSCOPE_UPDATE_README") == "1"


def cell(text: str) -> str:
    """A table cell: what differs between runs (local paths, bucket names, ports, job ids)
    made stable, pipes escaped."""
    text = re.sub(r"(?<![:/\w])(/[^/\s'\"]+)+/", "", text)  # local paths -> file names
    text = re.sub(r"\bfaults-[0-9a-f]{10}\b", "bucket", text)  # per-test names and ids
    text = re.sub(r"127\.0\.0\.1:\d+", "127.0.0.1:PORT", text)
    text = re.sub(r"\b[0-9a-f]{32}\b", "<id>", text)
    text = re.sub(r"\b(calls-call\d)-[0-9a-f]{8}\b", r"\1-<hash>", text)
    return " ".join(text.split()).replace("|", "\\|")


def replace_section(markers: tuple[str, str], body: str) -> None:
    """Put ``body`` between the two markers of the README."""
    start, end = markers
    text = README.read_text(encoding="utf-8")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    README.write_text(f"{head}{start}\n{body}\n{end}{tail}", encoding="utf-8")


def _section(markers: tuple[str, str]) -> str:
    start, end = markers
    return README.read_text(encoding="utf-8").split(start, 1)[1].split(end, 1)[0]


def record_fault(fault_id: str, observed: str) -> None:
    """Write the observed behaviour of one injected fault into the README's fault table
    (only with CALLSCOPE_UPDATE_README=1)."""
    from tests.faults.catalogue import FAULTS

    assert fault_id in FAULTS, f"{fault_id!r} is not in tests/faults/catalogue.py"
    if not updating():
        return
    rows: dict[str, str] = {}
    for line in _section(FAULT_MARKERS).splitlines():
        parts = [p.strip() for p in re.split(r"(?<!\\)\|", line)[1:-1]]
        if len(parts) == 2 and parts[0] not in ("fault", "---"):
            rows[parts[0]] = parts[1]
    rows[FAULTS[fault_id]] = cell(observed)
    lines = ["| fault | observed |", "|---|---|"]
    lines += [f"| {d} | {rows.get(d, 'not run yet')} |" for d in FAULTS.values()]
    replace_section(FAULT_MARKERS, "\n".join(lines))
