"""The benchmark's months: generated ``jobcan`` exports, cached by size, seed and messiness.

Both come from ``tests/factories.py``'s ``iter_jobcan_rows`` (CP932, ~1.33 rows per document,
every document balances and every value is in ``mappings/``):

  standard  the generator as it is: 摘要 drawn from a small vocabulary (``10月分 システム保守料``,
            ``買掛金支払 <取引先>``, ``振込手数料``), so a few dozen distinct texts per month
  unique    the same documents, each row's 摘要 rewritten the way real 取引明細 carry it: the
            document's 帳票番号 and 取引先 in front (``INV-202610-0123 株式会社北斗商事 10月分 導入支援費``),
            so nearly every document has its own 摘要 (one distinct text per document, ~750k at 10⁶)

The rewritten memo stays within FX's 元帳摘要 width (rcj_slip, 80 half-width): when the long form would
not fit, the item is dropped (``帳票番号 取引先 10月分``), which always fits.
"""

from __future__ import annotations

import importlib.util
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
ROWS_PER_DOCUMENT = 1.33  # what make_samples' generator averages; N rows ≈ N / 1.33 documents
MONTHS = ("standard", "unique")
MEMO_WIDTH = 80  # FX 元帳摘要 (rcj_slip): 全角40 / 半角80 — the generator must not make problems


def make_samples() -> Any:
    """tests/factories.py (the sample generator) imported by path: one generator for samples, tests and
    benchmarks."""
    spec = importlib.util.spec_from_file_location("factories", ROOT / "tests" / "factories.py")
    assert spec is not None and spec.loader is not None
    module = sys.modules.setdefault("factories", importlib.util.module_from_spec(spec))
    spec.loader.exec_module(module)
    return module


def unique_memos(rows: Iterable[dict[str, str]]) -> Iterator[dict[str, str]]:
    """``rows`` with each 摘要 led by its document's 帳票番号 and 取引先名 (the unique-摘要 month).

    The name is taken out of the old memo where it was already there (``買掛金支払 <取引先>``)."""
    width = make_samples().text_width
    for row in rows:
        number, name = row["帳票番号"].strip(), row["取引先名"]
        item = row["摘要"].replace(name, "").strip()
        memo = f"{number} {name} {item}" if item else f"{number} {name}"
        if width(memo) > MEMO_WIDTH:
            memo = f"{number} {name} {int(row['取引日'].split('/')[1])}月分"
        row["摘要"] = memo
        yield row


def export_file(workdir: Path, n_rows: int, seed: int, messy: float, month: str = "standard") -> Path:
    """The export of ``month`` for ``n_rows`` (cached in ``workdir``: same arguments, same bytes)."""
    if month not in MONTHS:
        raise ValueError(f"unknown month {month!r} (one of {', '.join(MONTHS)})")
    prefix = "jobcan" if month == "standard" else f"jobcan-{month}"
    path = workdir / f"{prefix}-{n_rows}-s{seed}-m{messy:g}.csv"
    if not path.exists():
        samples = make_samples()
        documents = max(1, round(n_rows / ROWS_PER_DOCUMENT))
        rows = samples.iter_jobcan_rows(documents, seed, messy_rate=messy)
        tmp = path.with_suffix(".part")
        samples.write_jobcan_csv(unique_memos(rows) if month == "unique" else rows, tmp)
        tmp.replace(path)
    return path
