"""Time the review workbook for ~100k detail lines against a bare openpyxl dump of the same cells.

The bare dump is the floor: write-only openpyxl, the same values row by row, no styles, no
summary — and its values are prepared before the clock starts. The review workbook is timed end
to end (every sheet, totals recomputed from the request bodies). The issue asks for ≤ 1.5×.

    .venv/bin/python bench/review_speed.py [--lines 100000]
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd
from openpyxl import Workbook

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from converter.payload import build_requests, plan_chunks  # noqa: E402
from converter.pipeline import Conversion, convert  # noqa: E402
from converter.review import CHUNK, SLIP_COLUMNS, slip_lines, slip_values, write_review  # noqa: E402


def big_conversion(lines_wanted: int) -> Conversion:
    """The October sample repeated as distinct documents until it has ``lines_wanted`` lines."""
    base = convert([ROOT / "samples" / "jobcan-2026-10.csv"], ROOT / "mappings")
    copies = math.ceil(lines_wanted / len(base.lines))
    n_docs = len(base.documents)
    lines, docs = [], []
    for i in range(copies):
        suffix = f"~{i}"
        offset = i * n_docs
        ln = base.lines.assign(doc=base.lines["doc"] + suffix, journo_read=base.lines["journo_read"] + offset)
        lines.append(ln.assign(slip_key=ln["doc"] + "#" + ln["part"].astype(str)))
        docs.append(base.documents.assign(doc=base.documents["doc"] + suffix,
                                          journo_read=base.documents["journo_read"] + offset))
    all_lines = pd.concat(lines, ignore_index=True)
    all_docs = pd.concat(docs, ignore_index=True)
    all_docs["request"], _ = plan_chunks(all_docs)
    requests = build_requests(all_lines, all_docs, base.settings)
    return dataclasses.replace(base, lines=all_lines, documents=all_docs, requests=tuple(requests))


def bare_dump(conv: Conversion, path: Path) -> float:
    lines, marks = slip_lines(conv)
    rows = []
    for start in range(0, len(lines), CHUNK):
        columns, _ = slip_values(lines.iloc[start:start + CHUNK], marks.iloc[start:start + CHUNK])
        rows.extend(zip(*columns, strict=True))
    header = [c.label for c in SLIP_COLUMNS]
    fx = [c.fx or None for c in SLIP_COLUMNS]
    began = time.perf_counter()
    wb = Workbook(write_only=True)
    ws = wb.create_sheet("仕訳明細")
    ws.append(header)
    ws.append(fx)
    for row in rows:
        ws.append(list(row))
    wb.save(path)
    return time.perf_counter() - began


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--lines", type=int, default=100_000)
    args = parser.parse_args()
    conv = big_conversion(args.lines)
    body_lines = sum(r.lines for r in conv.requests)
    print(f"detail lines {len(conv.lines):,} (in bodies {body_lines:,}), requests {len(conv.requests)}")
    with tempfile.TemporaryDirectory() as tmp:
        bare = bare_dump(conv, Path(tmp) / "bare.xlsx")
        print(f"bare openpyxl write-only dump: {bare:6.2f} s")
        began = time.perf_counter()
        write_review(conv, Path(tmp) / "review.xlsx")
        review = time.perf_counter() - began
        print(f"review workbook (all sheets):  {review:6.2f} s")
        sizes = {p.name: p.stat().st_size for p in Path(tmp).iterdir()}
    files = ", ".join(f"{name} {size / 1e6:.1f} MB" for name, size in sizes.items())
    print(f"ratio {review / bare:.2f}  (files: {files})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
