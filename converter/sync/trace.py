"""Where FX's answers point in the source: detail lines indexed by slip key, once per upload.

FX answers a request with messages naming a slip (by its place in the request) and a line
(``lineno`` = pos_dsp, ``is_ocr_dc``); the accountant needs the file and Excel row behind it.
This runs between FX's 201 and the ``done`` commit (a kill there leaves the whole request
要確認), once per answer — one みなし information per slip without a master cache — so each
step is a vectorised lookup or a C-level pass over the answers. Also here: the garbage collector's
pause around the request loop (:func:`collector_paused`).
"""

from __future__ import annotations

import contextlib
import gc
import threading
from collections.abc import Iterator, Mapping, Sequence
from itertools import repeat
from typing import Any

import numpy as np
import pandas as pd

from converter.fx.answers import FXMessage, MessageKind, Owner
from converter.ledger.answers import Answers

_EXACT = {int, float, type(None)}  # answers as FX gives them: converted to floats by numpy at once
_PAUSE = threading.Lock()
_paused = [0, False]  # request loops running now; was the collector on before the first


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

    def codes(self, slips: Sequence[str]) -> list[int]:
        """Each slip key's place in the index (-1: none). Looked up once per run, not per answer: the
        index's hash table is out of the CPU's caches by the time a request's answer comes."""
        code = self.slips.get_indexer(slips) if len(slips) else np.zeros(0, dtype=np.int64)
        if "" in slips:
            code[[not s for s in slips]] = -1
        return code.tolist()

    def rows(self, slips: list[str], linenos: list[Any], sides: list[Any]) -> list[tuple[str, int | None]]:
        """Per answer: the file and row of the first line of its slip with pos_dsp ``lineno`` (and
        side ``is_ocr_dc`` when given), else of the slip's first line; ("", None) without a slip."""
        return list(zip(*self.columns(self.codes(slips), linenos, sides), strict=True)) if slips else []

    def columns(self, codes: list[int], linenos: list[Any], sides: list[Any]) -> tuple[list[str], list[int | None]]:
        """:meth:`rows` as two lists (files, rows), the slips given by :meth:`codes`."""
        code = np.array(codes, dtype=np.int64)
        n = len(code)
        ok = np.flatnonzero(code >= 0)
        chosen = np.full(n, -1, dtype=np.int64)
        if len(ok):
            start, stop = self.bounds[code[ok]], self.bounds[code[ok] + 1]
            count = stop - start
            group = np.repeat(np.arange(len(ok)), count)
            offset = np.arange(count.sum()) - np.repeat(np.cumsum(count) - count, count)  # 0.. within a slip
            line = self.order[np.repeat(start, count) + offset]
            everywhere = len(ok) == n
            pos = _numbers(linenos if everywhere else [linenos[i] for i in ok])
            side = _numbers(sides if everywhere else [sides[i] for i in ok])
            any_side = np.array([s is None for s in sides], dtype=bool)
            if not everywhere:
                any_side = any_side[ok]
            hit = np.flatnonzero((self.pos[line] == pos[group]) & (any_side[group] | (self.side[line] == side[group])))
            best = self.order[start]
            hit_groups, first = np.unique(group[hit], return_index=True)
            best[hit_groups] = line[hit[first]]
            chosen[ok] = best
        if not len(self.file):
            return [""] * n, [None] * n
        at = np.maximum(chosen, 0)
        files, rows = self.file[at].tolist(), self.row[at].tolist()
        if len(ok) == n and set(map(type, files)) == {str} and set(map(type, rows)) == {int}:
            return files, rows
        return ([str(f) if c >= 0 else "" for c, f in zip(chosen.tolist(), files, strict=True)],
                [int(r) if c >= 0 else None for c, r in zip(chosen.tolist(), rows, strict=True)])


def trace(where: LineIndex, owners: Sequence[Owner], doc_at: Sequence[int], codes: Sequence[int],
          answers: Sequence[Mapping[str, Any]], kind: MessageKind) -> tuple[list[FXMessage], Answers]:
    """groupno/lineno/is_ocr_dc → ledger document and source file:row, for each of FX's answers:
    the messages for the report, and those about a document as the ledger keeps them.

    ``owners``, ``doc_at`` and ``codes``, for each slip of the request in order (groupno 1 is the
    first): its document, that document's position in the request, :meth:`LineIndex.codes`.
    """
    groupnos = [answer.get("groupno") for answer in answers]
    linenos = [answer.get("lineno") for answer in answers]
    sides = [answer.get("is_ocr_dc") for answer in answers]
    contents = [answer.get("content", "") for answer in answers]
    if set(map(type, contents)) - {str}:
        contents = [str(content) for content in contents]
    n = len(owners)
    slots = [g - 1 if isinstance(g, int) and 1 <= g <= n else -1 for g in groupnos]
    files, rows = where.columns([codes[s] if s >= 0 else -1 for s in slots], linenos, sides)
    nobody: Owner = ("", "", 0)
    who = [owners[slot] if slot >= 0 else nobody for slot in slots]
    docs, doc_nos, ids = zip(*who, strict=True) if who else ((), (), ())
    found = list(map(FXMessage._make, zip(docs, doc_nos, ids, repeat(kind, len(slots)), contents, groupnos,
                                          linenos, sides, files, rows, strict=True)))
    if -1 in slots:  # some answers name no slip of the request: the ledger has nowhere to put them
        mine = [i for i, slot in enumerate(slots) if slot >= 0]
        slots, contents, files, rows = [slots[i] for i in mine], [contents[i] for i in mine], \
            [files[i] for i in mine], [rows[i] for i in mine]
        linenos, sides = [linenos[i] for i in mine], [sides[i] for i in mine]
    return found, Answers([doc_at[s] for s in slots], [kind] * len(slots), contents, linenos, sides, files, rows)


def ledger_texts(found: Sequence[FXMessage]) -> dict[str, str]:
    """Each document's messages as the ledger shows them (:class:`Answers` text), by key."""
    mine = [m for m in found if m.doc]
    keys = list(dict.fromkeys(m.doc for m in mine))
    at = {key: pos for pos, key in enumerate(keys)}
    return Answers([at[m.doc] for m in mine], [m.kind for m in mine], [m.content for m in mine],
                   [m.lineno for m in mine], [m.is_ocr_dc for m in mine], [m.file for m in mine],
                   [m.row for m in mine]).texts(keys)


def _numbers(values: list[Any]) -> np.ndarray:
    """Numbers as floats, anything else NaN (equal to nothing): FX's lineno/is_ocr_dc as given."""
    if set(map(type, values)) <= _EXACT:  # numpy reads None as NaN
        try:
            out = np.array(values, dtype=np.float64)
        except OverflowError:  # an int beyond float's range
            pass
        else:
            out[~(np.abs(out) < 1e15)] = np.nan
            return out
    return np.array([float(v) if isinstance(v, int | float) and -1e15 < v < 1e15 else np.nan for v in values],
                    dtype=np.float64)


@contextlib.contextmanager
def collector_paused() -> Iterator[None]:
    """The request loop without Python's cyclic garbage collector.

    Each request makes ~1000 containers that live on (FX's answers traced, the report's messages)
    next to millions from the conversion; the collector's passes took 0.4–1.7 ms a request
    (measured with gc.callbacks at 10⁵ rows; more when a full pass over the conversion falls in the
    loop) and find next to nothing: reference counting frees what the loop makes, and the few cycles
    a request leaves (~50 objects) are collected once the loop ends. Concurrent loops (``converter
    batch`` runs companies in threads) share one pause: the collector is back, if it was on, when
    the last of them ends.
    """
    with _PAUSE:
        if not _paused[0]:
            _paused[1] = gc.isenabled()
            gc.disable()
        _paused[0] += 1
    try:
        yield
    finally:
        with _PAUSE:
            _paused[0] -= 1
            if not _paused[0] and _paused[1]:
                gc.enable()
