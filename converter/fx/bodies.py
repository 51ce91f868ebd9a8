"""Payload stage: numbered detail lines → FX slips/import request bodies, ≤2000 lines each.

Bodies follow the reference schema exactly. Optional fields that carry nothing are left out:
the API's みなし処理 asks callers not to send fields a slip does not need. All slips of one
source document go in the same request, so a document's upload state is all-or-nothing.

Bodies are serialised from the columns, not from one dict per detail line: each field's JSON text
is made once per distinct value (a million lines carry a few dozen codes and some thousand
amounts), laid out as an array of fragments, and each request is one ``str.join``. The bytes are
what :func:`~converter.fx_rules.compact_json` gives; ``Request.body`` parses them back when a
caller wants the dict.

The upload does not cut bodies apart: :func:`document_slips` hands it each document's slip texts
(:class:`DraftSlip`, typed, split where the 連携番号 goes), and :func:`join_slips` makes a body of
them. Every request, here and in the upload loop, is packed by the one rule :func:`pack`.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any, NamedTuple

import numpy as np
import pandas as pd

from converter.config.settings import Settings
from converter.errors import ConverterError, Problem
from converter.fx_rules import MAX_JOURNO_READ, compact_json
from converter.fx_rules import MAX_LINES_PER_REQUEST as MAX_LINES_PER_REQUEST
from converter.keys import parse
from converter.outputs import write_atomic

JOURNO_READ_MAX = MAX_JOURNO_READ


@dataclass(frozen=True)
class Request:
    """One POST body and what it carries, so answers can be traced back to documents."""

    number: int
    data: bytes = field(repr=False)  # the exact bytes that are POSTed
    docs: tuple[str, ...]  # document keys, in order
    slip_keys: tuple[str, ...]  # groupno - 1 → slip key
    lines: int

    @cached_property
    def body(self) -> dict[str, Any]:
        """The body as a dict (parsed from the bytes, so it is what is sent)."""
        body: dict[str, Any] = json.loads(self.data)
        return body

    def to_json(self) -> bytes:
        """The exact bytes that are POSTed (UTF-8, no ASCII escaping, compact)."""
        return self.data


def plan_chunks(docs: pd.DataFrame) -> tuple[pd.Series, list[Problem]]:
    """Request number per document: greedy packing in document order, never splitting one."""
    sizes = docs["lines"].to_numpy(dtype=np.int64)
    problems = []
    for doc, size, file, row in docs.loc[sizes > MAX_LINES_PER_REQUEST, ["doc", "lines", "file", "row"]].itertuples(
            index=False, name=None):
        problems.append(Problem(str(file), int(row), "", parse(doc).doc_no, "request_size",
                                f"1 帳票の明細が {size} 行あり、1 回の送信上限 {MAX_LINES_PER_REQUEST} "
                                "明細を超えます。帳票を分けてください", document=doc))
    numbers = pack(sizes)
    return pd.Series(numbers, index=docs.index, dtype="int64"), problems


def pack(sizes: Sequence[int] | np.ndarray) -> np.ndarray:
    """The one packing rule of requests: each item's request number (1, 2, …), greedily in order,
    as many whole items as fit in MAX_LINES_PER_REQUEST detail lines; an item over the limit goes
    alone (the conversion reports it). Items are documents, or an upload's units.

    The items that fit are found by bisection on the running total, so the loop runs once per
    request, not once per item."""
    sizes = np.asarray(sizes, dtype=np.int64)
    numbers = np.empty(len(sizes), dtype=np.int64)
    total = np.concatenate(([0], np.cumsum(sizes)))
    start, number = 0, 1
    while start < len(sizes):
        stop = int(np.searchsorted(total, total[start] + MAX_LINES_PER_REQUEST, side="right")) - 1
        stop = max(stop, start + 1)  # an item over the limit still goes, alone
        numbers[start:stop] = number
        start, number = stop, number + 1
    return numbers


def first_request(sizes: Iterable[int]) -> int:
    """How many of the leading items :func:`pack` puts in the first request (read lazily: the
    upload loop asks once per request of a queue of a month's documents)."""
    window, it = 256, iter(sizes)
    head: list[int] = []
    while True:
        head += itertools.islice(it, window - len(head))
        n = int(np.count_nonzero(pack(head) == 1)) if head else 0
        if n < len(head) or len(head) < window:
            return n
        window *= 4


_TEXT_FIELDS = ("cd_dep", "nm_dep", "cd_act", "cd_auxact", "nm_auxact", "cd_cstm", "nm_cstm", "tptn", "tbptn")
_NONZERO_FIELDS = ("is_reduce_cmtxrate", "cmtxrate", "is_autocalccmtx")
_LINE_COLUMNS = ("doc", "pos_dsp", "side", *_TEXT_FIELDS, "amount", "tax_amount", *_NONZERO_FIELDS, "cat_purday",
                 "ymd_purday1", "ymd_purday2", "rcj_slip")


def _fragments(values: pd.Series | np.ndarray, text: Callable[[Any], str]) -> np.ndarray:
    """``text(value)`` as UTF-8 for each line, made once per distinct value."""
    codes, uniques = pd.factorize(values, use_na_sentinel=False)
    table = np.empty(len(uniques), dtype=object)
    table[:] = [text(u).encode("utf-8") for u in uniques]
    return table[codes]


def _optional(name: str) -> Callable[[Any], str]:
    """The ``,"name":value`` of a field left out when it carries nothing (falsy)."""
    key = f',"{name}":'
    return lambda v: key + compact_json(v) if v else ""


def _nonzero(name: str) -> Callable[[Any], str]:
    key = f',"{name}":'
    return lambda v: f"{key}{int(v)}" if v else ""


def _detail_columns(lines: pd.DataFrame) -> list[np.ndarray]:
    """The fragments of each detail object, column by column, in the key order of the body."""
    columns = [
        # an int's JSON is its str(): json.dumps for each of ~100k distinct amounts costs ~0.2 s a million lines
        _fragments(lines["pos_dsp"].to_numpy(), lambda v: f'{{"pos_dsp":{int(v)}'),
        _fragments(lines["side"].to_numpy(), lambda v: f',"is_ocr_dc":{int(v)}'),
    ]
    columns += [_fragments(lines[name], _optional(name)) for name in _TEXT_FIELDS]
    columns.append(_fragments(lines["amount"].to_numpy(), lambda v: f',"amnt_tr":{int(v)}'))
    columns.append(_fragments(lines["tax_amount"].to_numpy(), lambda v: f',"amnt_cmtx":{int(v)}' if v else ""))
    for name in _NONZERO_FIELDS:
        ints = lines[name].fillna(0).astype("int64").to_numpy()
        columns.append(_fragments(ints, _nonzero(name)))
    cat_purday = lines["cat_purday"].astype("Int64")
    columns.append(_fragments(cat_purday, lambda v: "" if v is pd.NA else f',"cat_purday":{int(v)}'))
    columns += [_fragments(lines[name], _optional(name)) for name in ("ymd_purday1", "ymd_purday2")]
    memo = _optional("rcj_slip")
    columns.append(_fragments(lines["rcj_slip"], lambda v: memo(v) + "}"))  # the detail object ends here
    return columns


def iter_requests(
    lines: pd.DataFrame,
    docs: pd.DataFrame,
    settings: Settings,
    journos: Mapping[str, int] | None = None,
) -> Iterator[Request]:
    """Request bodies for the documents in ``docs`` (which carry ``journo_read`` and ``request``),
    one at a time, so that a caller writing them out never holds every body at once (a million-line
    month is ~300 MB of JSON)."""
    for number, data, keys, doc_of_slip, n_lines in _chunks(lines, docs, settings, journos, draft=False):
        once = np.r_[True, doc_of_slip[1:] != doc_of_slip[:-1]]  # a document's slips are listed once
        yield Request(number, data, tuple(str(d) for d in doc_of_slip[once]), tuple(str(k) for k in keys), n_lines)


class SlipText(NamedTuple):
    """One slip's JSON text (UTF-8), cut where FX's 伝票番号 goes: ``head [,"journo":"N"] tail``.

    ``head`` is ``{"ymd_tr":"…"``; ``tail`` the rest (``,"journo_read":"…",…}``). With a number,
    they are the bytes :func:`~converter.fx_rules.compact_json` gives for the slip with ``journo``
    as its second key; without, those of the slip as it is (``plain`` when that is not ``head + tail``).
    """

    head: bytes
    tail: bytes
    plain: bytes = b""

    def text(self, journo: int | None) -> bytes:
        if journo is None:
            return self.plain or self.head + self.tail
        return SlipText.numbered([self], journo)[0]

    @staticmethod
    def numbered(slips: list[SlipText], first: int) -> list[bytes]:
        """``text`` of each slip, numbered from ``first`` (one pass: a request has ~1000 slips)."""
        return [b'%s,"journo":"%d"%s' % (s.head, n, s.tail) for n, s in enumerate(slips, first)]

    @classmethod
    def of(cls, slip: dict[str, Any]) -> SlipText:
        """The text of a slip given as a dict (a reversal, built from what the ledger keeps)."""
        rest = compact_json({k: v for k, v in slip.items() if k not in ("ymd_tr", "journo")}).encode("utf-8")
        head = _SLIP_OPEN + compact_json(slip["ymd_tr"]).encode("utf-8")
        tail = b"," + rest[1:] if rest != b"{}" else b"}"
        plain = compact_json(slip).encode("utf-8")
        return cls(head, tail, b"" if plain == head + tail else plain)


class DraftSlip(NamedTuple):
    """A slip's text before the ledger gives its document a 連携番号: ``head`` (``{"ymd_tr":"…"``)
    and ``rest`` (what follows ``"journo_read":"…"``, up to the slip's closing ``]}``)."""

    head: bytes
    rest: bytes

    def numbered(self, journo_read: int) -> SlipText:
        return SlipText(self.head, b',"journo_read":"%d"%s' % (journo_read, self.rest))


@dataclass(frozen=True)
class DocumentSlips:
    """One source document's slips as the upload sends them: their keys and texts, in order."""

    keys: tuple[str, ...]
    texts: tuple[DraftSlip, ...]


def document_slips(lines: pd.DataFrame, docs: pd.DataFrame, settings: Settings) -> dict[str, DocumentSlips]:
    """The slips of every document in ``docs``, built once, laid out as :func:`iter_requests` lays
    them (the same fragments: a body of them is the bytes a request would carry)."""
    if docs.empty:
        return {}
    docs = docs.reset_index(drop=True).assign(request=np.arange(len(docs)) // _DRAFT_DOCS + 1, journo_read=0)
    out: dict[str, DocumentSlips] = {}
    for _, data, keys, doc_of_slip, _ in _chunks(lines, docs, settings, None, draft=True):
        # A \x00 is never inside JSON text (json escapes control characters): it marks where each
        # slip starts and where its 連携番号 goes, and one split cuts the whole chunk.
        parts = data.split(b"\x00")
        if len(parts) != 2 * len(keys) + 1:
            raise AssertionError("slip texts are not laid out as expected")  # a defect, never input
        drafts = list(map(DraftSlip, parts[1::2], parts[2::2]))
        starts = np.flatnonzero(np.r_[True, doc_of_slip[1:] != doc_of_slip[:-1]])
        for a, b in zip(starts.tolist(), [*starts[1:].tolist(), len(keys)], strict=True):
            out[str(doc_of_slip[a])] = DocumentSlips(tuple(str(k) for k in keys[a:b]), tuple(drafts[a:b]))
    return out


def join_slips(texts: list[bytes]) -> bytes:
    """A request's body from its slip texts in one allocation (each fresh one of ~400 KB costs page
    faults): the brackets go on the first and last slip (``texts`` is changed)."""
    if not texts:
        return _SLIPS_OPEN + _SLIP_CLOSE
    texts[0] = _SLIPS_OPEN + texts[0]
    texts[-1] = texts[-1] + _SLIP_CLOSE
    return b",".join(texts)


_SLIPS_OPEN, _SLIP_OPEN, _SLIP_CLOSE = b'{"slips":[', b'{"ymd_tr":', b"]}"
_BATCH = 1 << 17
_DRAFT_DOCS = 500  # documents per chunk when building slip texts (bounds the bytes held at once)


def _chunks(lines: pd.DataFrame, docs: pd.DataFrame, settings: Settings, journos: Mapping[str, int] | None,
            draft: bool) -> Iterator[tuple[int, bytes, np.ndarray, np.ndarray, int]]:
    """Per request: its number, bytes, slip keys, each slip's document and its detail lines.
    ``draft``: the bytes are the slips' :class:`DraftSlip` parts, each after a \x00 (see :func:`_slip_heads`)."""
    if docs.empty:
        return
    at, picked = _request_order(lines, docs)
    req = docs["request"].to_numpy(dtype=np.int64)[at]
    ids = docs["journo_read"].to_numpy(dtype=np.int64)[at]
    # Fund categories (収支区分/内訳区分) are slip fields; the masters check puts them on every line.
    fund = [c for c in ("cd_fbcat", "cd_fbbdcat") if c in lines.columns]
    columns = [*_LINE_COLUMNS, "slip_key", "date", *fund]
    # In a conversion every line is wanted and already in request order: no reordering copy then.
    whole = len(picked) == len(lines) and bool((picked == np.arange(len(lines))).all())
    order = lines[columns] if whole else lines[columns].take(picked)
    n = len(order)
    slip_key = order["slip_key"].to_numpy()
    new_req = np.r_[True, req[1:] != req[:-1]]
    new_slip = new_req | np.r_[True, slip_key[1:] != slip_key[:-1]]
    head = ('","cd_coopsystem":' + compact_json(settings.cd_coopsystem), "")
    for flag in ("is_add_depmaster", "is_add_cstmmaster", "is_add_auxmaster"):
        if getattr(settings, flag):
            head = (head[0], head[1] + f',"{flag}":1')

    bounds = np.r_[np.flatnonzero(new_req), n]
    close = _SLIP_CLOSE if draft else b"]}]}"
    first = 0  # requests are built in batches of ~128k lines: the fragment arrays stay small
    while first < len(bounds) - 1:
        last = max(int(np.searchsorted(bounds, bounds[first] + _BATCH, side="right")) - 1, first + 1)
        lo, hi = int(bounds[first]), int(bounds[last])
        starts = np.flatnonzero(new_slip[lo:hi])
        cells = _slip_heads(order.iloc[lo:hi], starts, new_req[lo:hi], ids[lo:hi], head, journos, draft)
        cells += _detail_columns(order.iloc[lo:hi])
        keys, doc_of_slip = slip_key[lo:hi][starts], order["doc"].to_numpy()[lo:hi][starts]
        slip_bounds = np.asarray(np.searchsorted(starts, bounds[first:last + 1] - lo))
        for i in range(last - first):
            a, b = int(bounds[first + i]) - lo, int(bounds[first + i + 1]) - lo
            data = b"".join(np.column_stack([c[a:b] for c in cells]).ravel().tolist()) + close
            s0, s1 = int(slip_bounds[i]), int(slip_bounds[i + 1])
            yield int(req[lo + a]), data, keys[s0:s1], doc_of_slip[s0:s1], b - a
        first = last


def _slip_heads(lines: pd.DataFrame, starts: np.ndarray, new_req: np.ndarray, ids: np.ndarray,
                head: tuple[str, str], journos: Mapping[str, int] | None, draft: bool) -> list[np.ndarray]:
    """What goes before each detail object: "," within a slip; at a slip's first line
    '{"ymd_tr":…[,"journo":…],"journo_read":"…","cd_coopsystem":…[,"cd_fbcat":…,"cd_fbbdcat":…]
    [,"is_add_…":1],"detail":[' after '{"slips":[' (a request's first slip) or ']},' (the slip
    before it ends). Every piece is UTF-8.

    ``draft``: a slip starts with \x00 (after the ']}' of the one before, if any) and its
    ``"journo_read":"…"`` is a \x00: the chunk splits into each slip's head and rest."""
    n = len(lines)
    lead = np.full(n, b",", dtype=object)
    ymd, journo, id_open, digits, id_close = (np.full(n, b"", dtype=object) for _ in range(5))
    ymd[starts] = _fragments(lines["date"].to_numpy()[starts], lambda v: '{"ymd_tr":' + compact_json(v))
    if draft:
        # (object arrays throughout: numpy's bytes dtype drops trailing \x00s)
        lead[starts] = np.where(new_req[starts], np.array([b"\x00"], dtype=object), np.array([b"]}\x00"], dtype=object))
        journo[starts] = b"\x00"
        id_close[starts] = head[0][1:].encode("utf-8")  # without the '"' that closes the journo_read
    else:
        lead[starts] = np.where(new_req[starts], b'{"slips":[', b"]},").astype(object)
        if journos is not None:
            journo[starts] = [(',"journo":' + compact_json(str(journos[k]))).encode("utf-8") if k in journos
                              else b"" for k in lines["slip_key"].to_numpy()[starts]]
        id_open[starts] = b',"journo_read":"'
        digits[starts] = ids[starts].astype(bytes).astype(object)
        id_close[starts] = head[0].encode("utf-8")
    fund = np.full(n, b"", dtype=object)
    if "cd_fbcat" in lines.columns:
        pairs = zip(lines["cd_fbcat"].to_numpy()[starts], lines["cd_fbbdcat"].to_numpy()[starts], strict=True)
        fund[starts] = [((',"cd_fbcat":' + compact_json(a) if a else "")
                         + (',"cd_fbbdcat":' + compact_json(b) if b else "")).encode("utf-8") for a, b in pairs]
    tail = np.full(n, b"", dtype=object)
    tail[starts] = (head[1] + ',"detail":[').encode("utf-8")
    return [lead, ymd, journo, id_open, digits, id_close, fund, tail]


def _request_order(lines: pd.DataFrame, docs: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """For the lines of the documents in ``docs``, in request order (stable): each one's row in
    ``docs`` and its position in ``lines``. Runs of one document are looked up once."""
    doc = lines["doc"].to_numpy()
    heads = np.flatnonzero(np.r_[True, doc[1:] != doc[:-1]]) if len(doc) else np.zeros(0, dtype=np.int64)
    keys = docs["doc"].to_numpy(dtype=object)
    if len(heads) == len(keys) and bool((doc[heads] == keys).all()):
        found = np.arange(len(keys))  # a conversion's documents are its lines' runs, in order
    else:
        found = pd.Index(keys).get_indexer(doc[heads])
    at = np.repeat(found, np.diff(np.r_[heads, len(doc)]))
    wanted = np.flatnonzero(at >= 0)
    at = at[wanted]
    perm = np.argsort(docs["request"].to_numpy(dtype=np.int64)[at], kind="stable")
    return at[perm], wanted[perm]


def write_requests(requests: Iterable[Request], folder: Path) -> list[Path]:
    """``request-0001.json`` … exactly as they would be POSTed; each written atomically (user-only
    from the moment it exists). Stale request files of an earlier run are removed first, and a
    failed run removes what it wrote: the folder never holds a mix that looks like one run."""
    paths: list[Path] = []
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        for old in folder.glob("request-*.json"):
            old.unlink()  # a stale request file from an earlier run must never look current
        for request in requests:
            path = folder / f"request-{request.number:04d}.json"
            write_atomic(path, request.to_json())
            paths.append(path)
    except OSError as err:
        for path in paths:
            path.unlink(missing_ok=True)
        undone = "。途中まで書いたファイルは消しました" if paths else ""
        raise ConverterError(f"送信内容を書き出せません ({err.strerror or err}){undone}", file=str(folder)) from None
    return paths
