"""Performance kernels of the convert stage: numpy fast paths, each with its general fallback.

The stage modules (documents, lines, hashing, validate) say *what* is computed; this module says how
to compute it fast on a million rows. Every function here answers exactly what its fallback would:
the fast path covers what exports hold (text keys, documents whose rows sit together, no ``|``
inside a 取引種別), and the fallback — plain pandas, never quadratic — covers the rest (a missing
key part, a ``|`` that lets two documents share a key text, a NUL, a non-text cell). Tests compare
the two (tests/test_convert.py) and measurements live in bench/README.md, not here.
"""

from __future__ import annotations

import csv
import hashlib
import io

import numpy as np
import pandas as pd

from converter.fx_rules import CREDIT, DEBIT
from converter.keys import Identity, can_share_key, document_keys

# --------------------------------------------------------------------------- document codes


def document_codes(keys: pd.Series, *, together: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ``keys`` numbered in order of first appearance (as ``pd.factorize``), and where each
    key first appears. Documents usually sit together (a file lists a document's rows together;
    lines are sorted by document): then comparing neighbours finds them without hashing every key.
    ``together=True`` is the caller's word that equal keys sit together (detail lines, which
    ``to_lines`` lays out document by document), so that is not checked again."""
    values = keys.to_numpy(dtype=object)
    heads = np.flatnonzero(np.r_[True, values[1:] != values[:-1]]) if len(values) else np.zeros(0, np.int64)
    # (several runs of NaN are not unique: factorize decides)
    if (together and not keys.hasnans) or pd.Index(values[heads]).is_unique:
        return np.repeat(np.arange(len(heads)), np.diff(np.r_[heads, len(values)])), heads
    codes = pd.factorize(keys, sort=False, use_na_sentinel=False)[0]
    return codes, first_rows(codes)


def first_rows(codes: np.ndarray) -> np.ndarray:
    """Where each code first appears, for codes numbered in order of first appearance."""
    if not len(codes):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, codes[1:] > np.maximum.accumulate(codes)[:-1]])


def document_keys_and_codes(rows: pd.DataFrame, identity: Identity = "kind_no") -> tuple[pd.Series, np.ndarray]:
    """The document key of every row (:func:`converter.keys.document_keys`), and the rows' document
    codes (as :func:`document_codes`).

    取引種別 and 取引日 take a few values each and 帳票番号 one per document: the parts are
    numbered apart, a document is their combination, and its key text is made once per document
    (not per row). Later stages take the codes from the ``_doc`` column instead of hashing the keys
    again.
    """
    kind, number = rows["kind"], rows["doc_no"]
    date = rows["date"] if identity == "kind_no_date" else None
    if kind.hasnans or number.hasnans or (date is not None and date.hasnans):
        keys = document_keys(kind, number, date)
        return keys, document_codes(keys)[0]
    # (use_na_sentinel=False: there is no NaN, and for the str dtype it is pandas' faster path)
    kind_codes, kind_values = pd.factorize(kind, use_na_sentinel=False)
    if date is None:
        date_codes, dates = np.zeros(len(rows), dtype=np.int64), np.array([""], dtype=object)
    else:
        date_codes, date_values = pd.factorize(date, use_na_sentinel=False)
        dates = np.asarray(date_values, dtype=object)
    number_codes, numbers = pd.factorize(number, use_na_sentinel=False)
    kinds = np.asarray(kind_values, dtype=object)
    if can_share_key(kinds) or can_share_key(dates) or float(len(kinds)) * len(dates) * len(numbers) > 2**62:
        keys = document_keys(kind, number, date)  # the key text decides
        return keys, document_codes(keys)[0]
    combined = (number_codes.astype(np.int64) * len(kinds) + kind_codes) * len(dates) + date_codes
    codes = pd.factorize(combined)[0]
    heads = first_rows(codes)
    text = document_keys(kinds[kind_codes[heads]], number.to_numpy(dtype=object)[heads],
                         None if date is None else dates[date_codes[heads]])
    return pd.Series(text[codes], index=rows.index, dtype=kind.dtype), codes


def document_rank(rows: pd.DataFrame, codes: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Rank of each document (by code) in document order: (first date, kind, number, key).

    The sort runs over documents, not rows, with numpy: the number as a fixed-width unicode array
    (compared in C, by code point as Python does) and the key's only other part, the date, as
    sorted codes: ``kind|number|date`` orders like the date once kind and number are equal.
    """
    kinds = pd.unique(rows["kind"].to_numpy())
    numbers = rows["doc_no"].to_numpy(dtype=object)[at]
    rank = np.empty(len(at), dtype=np.int64)
    if (rows["doc"].hasnans or rows["doc_no"].hasnans or rows["date"].hasnans
            or can_share_key(kinds) or "\x00" in "".join(numbers)):
        # "|" in a 取引種別 lets two (kind, number) pairs share a key, and numpy drops a trailing
        # NUL: sort the documents' first rows as pandas does
        first = rows.iloc[at][["ymd", "kind", "doc_no", "doc"]].reset_index(drop=True)
        order = first.sort_values(["ymd", "kind", "doc_no", "doc"], kind="stable").index.to_numpy()
        rank[order] = np.arange(len(at))
        return rank
    first_date = rows["ymd"].to_numpy()[at]
    when = np.where(np.isnat(first_date), np.iinfo(np.int64).max, first_date.view(np.int64))  # NaT last
    kind = pd.factorize(rows["kind"].to_numpy()[at], sort=True)[0]
    date = pd.factorize(rows["date"].to_numpy()[at], sort=True)[0]
    rank[np.lexsort((date, np.asarray(numbers, dtype=str), kind, when))] = np.arange(len(at))
    return rank


# --------------------------------------------------------------------------- document table


def document_totals(lines: pd.DataFrame) -> pd.DataFrame:
    """One row per document of the detail lines, in order of first line: doc, kind, doc_no, date,
    debit, credit, lines, slips, file, row (its first line's)."""
    if lines["doc"].hasnans:  # a line without a document key: the groupby below leaves it out
        return _document_totals_grouped(lines)
    codes, at = document_codes(lines["doc"], together=True)  # at: each document's first line
    side = lines["side"].to_numpy()
    amount = lines["amount"]
    # slip_key is "<doc>#<part>" (number_slips): distinct parts of a document are its slips
    parts = lines["part"] if "part" in lines else pd.factorize(lines["slip_key"], use_na_sentinel=False)[0]
    slips: np.ndarray = np.ones(len(at), dtype=np.int64)  # nearly always: no document was split
    if np.any(parts):
        slips = pd.Series(parts).groupby(codes).nunique().to_numpy(dtype=np.int64)
    return pd.DataFrame({
        "doc": lines["doc"].to_numpy(dtype=object)[at],
        **{name: lines[column].array.take(at) for name, column in
           (("kind", "kind"), ("doc_no", "doc_no"), ("date", "date"))},
        "debit": amount.where(side == DEBIT, 0).groupby(codes).sum().to_numpy(),
        "credit": amount.where(side == CREDIT, 0).groupby(codes).sum().to_numpy(),
        "lines": np.bincount(codes, minlength=len(at)).astype(np.int64),
        "slips": slips,
        "file": lines["_file"].array.take(at),
        "row": lines["_row"].to_numpy()[at],
    })


def _document_totals_grouped(lines: pd.DataFrame) -> pd.DataFrame:
    debit = lines["amount"].where(lines["side"] == DEBIT, 0)
    credit = lines["amount"].where(lines["side"] == CREDIT, 0)
    return (
        lines.assign(debit=debit, credit=credit)
        .groupby("doc", sort=False)
        .agg(kind=("kind", "first"), doc_no=("doc_no", "first"), date=("date", "first"),
             debit=("debit", "sum"), credit=("credit", "sum"), lines=("side", "size"),
             slips=("slip_key", "nunique"), file=("_file", "first"), row=("_row", "first"))
        .reset_index()
    )


# --------------------------------------------------------------------------- slip balances


def slip_balances(lines: pd.DataFrame) -> pd.DataFrame:
    """Per slip (``slip_key``), in order of first line: ``first`` (the position of its first line in
    ``lines``), ``debit`` (Σ debit amounts) and ``balance`` (Σ debit − Σ credit). Lines without a
    slip key belong to no slip."""
    debit_side = (lines["side"] == DEBIT).to_numpy()
    amount = lines["amount"].to_numpy()
    sums = pd.DataFrame({"balance": np.where(debit_side, amount, -amount), "debit": np.where(debit_side, amount, 0)})
    if lines["slip_key"].hasnans:
        # A line outside any slip: grouping by the key text leaves it out (one pass, no search per slip).
        sums["first"] = np.arange(len(lines))
        by_key = sums.groupby(lines["slip_key"].to_numpy(), sort=False)
        out = by_key[["balance", "debit"]].sum().assign(first=by_key["first"].min())
        return out.reset_index(drop=True)[["first", "debit", "balance"]]
    # Slips by integer code (their lines sit together), with each one's first line: no hashing of
    # every line's key.
    codes, heads = document_codes(lines["slip_key"], together=True)
    out = sums.groupby(codes).sum()
    return pd.DataFrame({"first": heads, "debit": out["debit"].to_numpy(), "balance": out["balance"].to_numpy()})


# --------------------------------------------------------------------------- content hashes

_HASH_CHUNK = 1 << 16
_US, _RS, _GS = "\x1f", "\x1e", "\x1d"


def content_hashes(rows: pd.DataFrame, fields: tuple[str, ...], row_codes: tuple[np.ndarray, np.ndarray] | None
                   ) -> pd.DataFrame:
    """sha256 of each document's ``fields`` (:mod:`converter.convert.hashing` defines the text): doc,
    content_hash, documents in first-row order. ``row_codes``: the rows' document codes and first
    rows, when the caller has them.

    Built for many documents at a time: rows sorted by document (stably), cells and separators laid
    out in one object array and joined by one C call, documents ended by GS (0x1d) and split apart
    again as bytes; only the sha256 itself runs once per document.
    """
    if rows.empty or rows["doc"].hasnans or row_codes is None:
        return _content_hashes_grouped(rows, fields)
    codes, at = row_codes
    docs = rows["doc"].to_numpy(dtype=object)[at]
    together = len(codes) < 2 or bool((codes[1:] >= codes[:-1]).all())
    order = np.arange(len(codes)) if together else np.argsort(codes, kind="stable")
    last = np.r_[codes[order][1:] != codes[order][:-1], True]  # each document's last row, in that order
    ends = np.flatnonzero(last) + 1
    try:
        hashes = _hash_sorted(rows, fields, order, last, ends)
    except TypeError:  # a cell that is not text (NaN, a number): the exact, slower way
        return _content_hashes_grouped(rows, fields)
    return pd.DataFrame({"doc": docs, "content_hash": hashes})


def _hash_sorted(rows: pd.DataFrame, fields: tuple[str, ...], order: np.ndarray, last: np.ndarray,
                 ends: np.ndarray) -> list[str]:
    texts = [_hash_text(rows[name]) for name in fields]
    hashes: list[str] = []
    start = 0
    while start < len(order):  # ~64k rows at a time: the cell array stays small
        stop = int(ends[min(int(np.searchsorted(ends, start + _HASH_CHUNK)), len(ends) - 1)])
        rows_here = order[start:stop]
        cells = np.empty((len(rows_here), 2 * len(texts)), dtype=object)
        for i, text in enumerate(texts):
            cells[:, 2 * i] = text[rows_here]
        cells[:, 1:-1:2] = _US
        cells[:, -1] = np.where(last[start:stop], _GS, _RS)
        pieces = "".join(cells.ravel().tolist()).encode("utf-8").split(_GS.encode())[:-1]
        if len(pieces) != np.count_nonzero(last[start:stop]):  # a GS inside a field: document by document
            docs_here = np.cumsum(np.r_[True, last[start:stop][:-1]])
            per_row = pd.Series([_US.join(r) for r in cells[:, 0::2].tolist()])
            pieces = [v.encode("utf-8") for v in per_row.groupby(docs_here, sort=True).agg(_RS.join)]
        hashes += [hashlib.sha256(p).hexdigest() for p in pieces]
        start = stop
    return hashes


def _hash_text(column: pd.Series) -> np.ndarray:
    """A column as the hashed text: what ``astype("string").fillna("")`` gives."""
    if pd.api.types.is_integer_dtype(column.dtype):  # amounts: each distinct one formatted once
        codes, values = pd.factorize(column, use_na_sentinel=False)
        text = np.empty(len(values), dtype=object)
        text[:] = ["" if v is pd.NA or v is None else str(int(v)) for v in values]
        return text[codes]
    return column.to_numpy(dtype=object)  # text already; anything else makes the join raise TypeError


def _content_hashes_grouped(rows: pd.DataFrame, fields: tuple[str, ...]) -> pd.DataFrame:
    text = rows[list(fields)].astype("string").fillna("")
    joined = text.iloc[:, 0].str.cat(text.iloc[:, 1:], sep=_US).astype(str)
    per_doc = joined.groupby(rows["doc"], sort=False).agg(_RS.join)
    hashes = [hashlib.sha256(v.encode("utf-8")).hexdigest() for v in per_doc.to_numpy()]
    return pd.DataFrame({"doc": per_doc.index, "content_hash": hashes})


# --------------------------------------------------------------------------- CSV field counts


def field_counts(raw: bytes) -> np.ndarray:
    """Fields per record (UTF-8 bytes), exactly as ``csv.reader`` counts them (0 for a blank line)."""
    counts = fast_field_counts(raw)
    if counts is None:
        text = raw.decode("utf-8")
        # newline="": a record ends at CR, LF or CRLF, as in pandas (old Mac exports end lines with CR).
        counts = np.fromiter((len(rec) for rec in csv.reader(io.StringIO(text, newline=""))), dtype=np.int64)
    return counts


_QUOTE, _COMMA, _CR, _LF = (np.uint8(ord(c)) for c in '",\r\n')
_FIELD_START = np.frombuffer(b",\r\n", dtype=np.uint8)
_FIELD_END = np.frombuffer(b',\r\n"', dtype=np.uint8)
_BLOCK = 1 << 20  # bytes scanned at a time: small temporaries stay in cache and are not page-faulted in


def fast_field_counts(raw: bytes) -> np.ndarray | None:
    """``field_counts`` with numpy, or None for a file it cannot be sure about.

    The csv module takes ~1.4 s per million rows. Here records end at the line feeds outside quotes
    (quote parity), and a record has one field more than it has commas outside quotes: commas are
    summed per record with ``reduceat``, less those inside quoted stretches. That is exact while
    every quote opens a field or closes one (a doubled quote inside a field is a close and a reopen)
    and every CR is followed by LF; for any other file (a stray quote, a bare CR, an unclosed
    quote) csv and pandas part ways in details, and the csv module decides, as before.
    """
    buf = np.frombuffer(raw, dtype=np.uint8)
    last = len(buf) - 1
    if last < 0:
        return np.zeros(0, dtype=np.int64)
    feeds, quotes = _positions(buf, _LF), _positions(buf, _QUOTE)
    if len(quotes) % 2 or raw.count(b"\r") != np.count_nonzero(buf[feeds[feeds > 0] - 1] == _CR):
        return None
    opens, closes = quotes[0::2], quotes[1::2]
    before = buf[np.maximum(opens - 1, 0)]
    after = buf[np.minimum(closes + 1, last)]
    good_open = np.isin(before, _FIELD_START) | (opens == 0) | (before == _QUOTE)
    good_close = np.isin(after, _FIELD_END) | (closes == last)
    if not (good_open.all() and good_close.all()):
        return None
    ends = feeds[np.searchsorted(quotes, feeds) % 2 == 0]  # line feeds outside quotes end records
    if buf[last] != _LF:
        ends = np.append(ends, len(buf))  # the last record, without a line break
    starts = np.concatenate(([0], ends[:-1] + 1))
    commas = np.zeros(len(ends), dtype=np.int64)
    first = 0  # the first record of the current block (blocks hold whole records)
    while first < len(ends):
        stop = max(int(np.searchsorted(starts, starts[first] + _BLOCK, side="right")), first + 1)
        lo, hi = int(starts[first]), min(int(ends[stop - 1]) + 1, len(buf))
        is_comma = buf[lo:hi] == _COMMA
        commas[first:stop] = np.add.reduceat(is_comma, starts[first:stop] - lo, dtype=np.int32)
        a, b = np.searchsorted(opens, [lo, hi])
        if b > a:  # commas between a pair of quotes are text, not separators
            bounds = np.column_stack((opens[a:b], closes[a:b])).ravel() - lo
            quoted = np.add.reduceat(is_comma, bounds, dtype=np.int32)[0::2]
            np.subtract.at(commas, np.searchsorted(ends, opens[a:b]), quoted)
        first = stop
    length = ends - starts - ((ends > starts) & (buf[np.maximum(ends - 1, 0)] == _CR))  # less a CRLF's CR
    return np.where(length > 0, commas + 1, 0)


def _positions(buf: np.ndarray, byte: np.uint8) -> np.ndarray:
    found = [np.flatnonzero(buf[lo:lo + _BLOCK] == byte) + lo for lo in range(0, len(buf), _BLOCK)]
    return np.concatenate(found)
