"""Full ingest vs stage-aware reprocessing, wall time per call, on the sample calls.

Usage: python bench/reprocess.py [--samples data/samples] [--limit N] [--workers 2]

Copies the sample calls (with sidecars) into a temporary directory, runs ``nightly_ingest``
into a fresh warehouse (fetch, decode, transcribe with tiny.en, diarize, metrics, offline
insights, categories, redaction, land), then forces a reprocess of every call with
``--stages insights`` (insights + categories from stored transcripts) and with
``--stages categories`` (categories only). Wall time is what each flow run measured for
its own work (the Prefect server's start-up is outside it); per call = wall / calls.
Both reprocesses run the real flow, land a new analysis per call and switch ``current``.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("PREFECT_SERVER_ANALYTICS_ENABLED", "false")


def _table(rows: list[tuple[str, int, float, str]]) -> str:
    head = ("run", "calls", "wall s", "s / call", "vs full ingest")
    body = []
    full = rows[0][2] / max(rows[0][1], 1)
    for name, n, wall, stages in rows:
        per = wall / max(n, 1)
        body.append((f"{name} ({stages})", str(n), f"{wall:.2f}", f"{per:.3f}",
                     "1x" if per == full else f"{full / per:.0f}x faster"))  # fmt: skip
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    line = "+" + "+".join("-" * (w + 2) for w in widths) + "+"
    out = [line, "| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |"]
    out.append(line)
    out += ["| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |"
            for r in body]  # fmt: skip
    out.append(line)
    return "\n".join(out)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--samples", type=Path, default=Path("data/samples"))
    parser.add_argument("--limit", type=int, default=None, help="At most this many calls.")
    parser.add_argument("--workers", type=int, default=2)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)

    from flows.ingest import nightly_ingest
    from flows.prefect_api import prefect_api
    from flows.reprocess import reprocess

    with tempfile.TemporaryDirectory() as tmp:
        src = Path(tmp) / "recordings"
        src.mkdir()
        audio = sorted(p for p in args.samples.iterdir() if p.suffix != ".json")
        for p in audio[: args.limit]:
            shutil.copy(p, src / p.name)
            side = p.with_suffix(".json")
            if side.exists():
                shutil.copy(side, src / side.name)
        settings: dict[str, Any] = {
            "warehouse": str(Path(tmp) / "w.duckdb"),
            "data_dir": str(Path(tmp) / "data"),
            "workers": args.workers,
        }
        with prefect_api():
            full = nightly_ingest(source=str(src), settings=settings)
            ins = reprocess(stages=["insights"], force=True, settings=settings)
            cat = reprocess(stages=["categories"], force=True, settings=settings)
    rows = [
        ("full ingest", full["processed"], full["wall_s"], "all stages"),
        ("reprocess insights", ins["landed"], ins["wall_s"], "insights+categories"),
        ("reprocess categories", cat["landed"], cat["wall_s"], "categories"),
    ]
    print(f"{full['processed']} calls, {full['audio_minutes']:.2f} audio minutes,"
          f" tiny.en int8, {args.workers} workers, offline insights")  # fmt: skip
    print(_table(rows))


if __name__ == "__main__":
    main()
