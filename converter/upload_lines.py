"""Where FX's answers point in the source: detail lines indexed by slip key, once per upload.

FX answers a request with messages naming a slip (by its place in the request) and a line
(``lineno`` = pos_dsp, ``is_ocr_dc``); the accountant needs the file and Excel row behind it.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import numpy as np
import pandas as pd


class LineIndex:
    """Where each detail line of the conversion came from, found by slip key (indexed once per run)."""

    def __init__(self, lines: pd.DataFrame) -> None:
        codes, slips = pd.factorize(lines["slip_key"].to_numpy(dtype=object))
        self.order = np.argsort(codes, kind="stable")  # each slip's lines together, in lines order
        self.bounds = np.searchsorted(codes[self.order], np.arange(len(slips) + 1))
        self.slips = pd.Index(slips)
        self.pos, self.side = (pd.to_numeric(lines[c], errors="coerce").to_numpy(dtype=np.float64, na_value=np.nan)
                               for c in ("pos_dsp", "side"))
        self.file, self.row = lines["_file"].to_numpy(), lines["_row"].to_numpy()

    def rows(self, slips: list[str], linenos: list[Any], sides: list[Any]) -> list[tuple[str, int | None]]:
        """Per answer: the file and row of the first line of its slip with pos_dsp ``lineno`` (and
        side ``is_ocr_dc`` when given), else of the slip's first line; ("", None) without a slip."""
        code = self.slips.get_indexer(slips) if slips else np.zeros(0, dtype=np.int64)
        code[[not s for s in slips]] = -1
        ok = np.flatnonzero(code >= 0)
        chosen = np.full(len(slips), -1, dtype=np.int64)
        if len(ok):
            start, stop = self.bounds[code[ok]], self.bounds[code[ok] + 1]
            count = stop - start
            group = np.repeat(np.arange(len(ok)), count)
            offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)  # 0.. within a slip
            line = self.order[np.repeat(start, count) + offset]
            pos, side = _numbers([linenos[i] for i in ok]), _numbers([sides[i] for i in ok])
            any_side = np.array([sides[i] is None for i in ok], dtype=bool)
            hit = np.flatnonzero((self.pos[line] == pos[group]) & (any_side[group] | (self.side[line] == side[group])))
            best = self.order[start]
            hit_groups, first = np.unique(group[hit], return_index=True)
            best[hit_groups] = line[hit[first]]
            chosen[ok] = best
        if not len(self.file):
            return [("", None)] * len(slips)
        at = np.maximum(chosen, 0)
        return [(str(file), int(row)) if c >= 0 else ("", None)
                for c, file, row in zip(chosen.tolist(), self.file[at].tolist(), self.row[at].tolist(), strict=True)]



def _numbers(values: Iterable[Any]) -> np.ndarray:
    """Numbers as floats, anything else NaN (equal to nothing): FX's lineno/is_ocr_dc as given."""
    return np.array([float(v) if isinstance(v, int | float) and -1e15 < v < 1e15 else np.nan for v in values],
                    dtype=np.float64)
