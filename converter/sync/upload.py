"""Upload stage: send what the ledger says is not yet in FX, exactly once.

Per request: the documents are committed as ``sending`` *before* the POST, and as ``done``
after the 201. A 400 rejects the whole request (nothing stored): the units it names become
``error`` and the rest are sent again in a new request. An ambiguous failure makes the
documents ``unknown`` (要確認); they are never re-sent until the user says what FX holds
(``converter resolve``). A run killed anywhere leaves at most ``sending`` documents, which the
next run turns into ``unknown`` before doing anything else.

A *unit* is what must reach FX together: one source document, or a correction (赤黒訂正:
the reversal of what FX holds plus the new version). A unit always travels in one request,
and FX stores a request whole or not at all, so the books never hold half a correction.

Per request the work is kept proportional to the request (a month is ~900 of them): slip texts
are cut once, before the first request, from the bodies :mod:`payload` writes (a body is a join
of their bytes, never a re-encoding), answers are traced through a line index built once per run,
and the ledger records the request as one batch (its body as sent, FX's messages as columns).
"""

from __future__ import annotations

import contextlib
import json
import re
from collections import Counter, deque
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass, field, replace
from datetime import date
from itertools import accumulate
from pathlib import Path
from typing import Any, Literal, NamedTuple

import httpx
import numpy as np
import pandas as pd

from converter.convert.pipeline import Conversion, Options, convert
from converter.errors import FXAPIError, FXAuthError, FXFormatError, LedgerError, LedgerMissing, ProblemsFound
from converter.fx.bodies import MAX_LINES_PER_REQUEST, Request, iter_requests
from converter.fx.client import DEFAULT_TOKEN_ENV, FXClient, ImportResult, token_from_env
from converter.keys import slip_document
from converter.ledger.ledger import Answers, DocumentInfo, Ledger, default_ledger_path
from converter.ledger.numbering import number_of
from converter.ledger.safety import guard, init_command
from converter.ledger.unresolved import Origin, Unresolved, unresolved
from converter.sync.plan import Held, Plan, mass_reversal, plan_documents, reversal_slips
from converter.sync.trace import FXMessage, LineIndex, Owner, RequestAnswer, collector_paused, ledger_texts, trace

__all__ = ["FXMessage", "SlipText", "UploadReport", "correction_rows", "correction_status", "open_to_write", "send",
           "upload_files"]

Progress = Callable[[int, int], None]  # (documents finished, documents to send)

# Slip texts are what payload.py writes: json.dumps(..., ensure_ascii=False, separators=(",", ":")).
_ENCODE = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), check_circular=False).encode
_SLIPS_OPEN, _SLIP_OPEN, _SLIP_CLOSE = b'{"slips":[', b'{"ymd_tr":', b"]}"
_SLIP_SEP = _SLIP_CLOSE + b"," + _SLIP_OPEN  # where one slip of a body ends and the next begins
# The rest of a slip's head as payload.py writes it with journo_read 0 (an id is put in per document).
_UNNUMBERED = re.compile(rb'("(?:[^"\\]|\\.)*"),"journo_read":"0"(?=[,}])')
_BATCH_DOCS = 500  # documents per body when cutting slip texts (bounds the body held at once)
#: Requests rejected in a row for the same reason (the same FX message) before a run stops: a
#: systematic mistake (an account code FX does not know) would otherwise reject every request of
#: the month. What FX named is エラー; the rest stays 連携待ち for the run after the fix.
STORM_LIMIT = 3

StopKind = Literal["storm", "refused"]


@dataclass(frozen=True)
class Stop:
    """Why a run ended before sending everything: ``storm`` (the same rejection again and again)
    or ``refused`` (FX refused the token, the permission or the format after some requests)."""

    kind: StopKind
    reason: str  # FX's message
    requests: int  # rejected in a row (storm)


@dataclass(frozen=True)
class UploadReport:
    dry_run: bool
    to_send: tuple[str, ...]
    sent: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()  # became 要確認 in this run
    already_done: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()  # in FX, but the export now differs (not corrected in this run)
    deleted: tuple[str, ...] = ()  # in FX, gone from the export (not corrected in this run)
    corrected: tuple[str, ...] = ()  # reversal (+ new version) sent in this run
    withdrawn: tuple[str, ...] = ()  # those of ``corrected`` gone from the export: reversed only
    still_unknown: tuple[str, ...] = ()  # 要確認 from an earlier run, not sent
    recovered: tuple[str, ...] = ()  # left in 連携中 by a killed run → 要確認
    requests: int = 0
    messages: tuple[FXMessage, ...] = field(default=())
    held: Held | None = None  # --corrections would reverse too many: nothing sent (needs --yes)
    #: Of ``deleted``: second records of a document the ledger upgrade kept (FX may hold it twice)
    duplicates: tuple[str, ...] = ()
    stop: Stop | None = None  # the run ended early (see Stop)
    left_pending: tuple[str, ...] = ()  # not sent because the run stopped early (連携待ち)
    #: Every 要確認 document after the run (unknown + recovered + still_unknown) with what to check in FX
    attention: tuple[Unresolved, ...] = ()
    answers: tuple[RequestAnswer, ...] = ()  # what FX answered each request, in order

    @property
    def needs_attention(self) -> bool:
        return bool(self.errors or self.unknown or self.changed or self.deleted or self.still_unknown
                    or self.recovered or self.held or self.stop)

    @property
    def exit_code(self) -> int:
        """The one exit code rule of upload, retry and batch: 2 FX refused the run (token, permission,
        format), 1 something needs attention (エラー, 要確認, changed, held, stopped early), 0 all done."""
        if self.stop is not None and self.stop.kind == "refused":
            return 2
        return 1 if self.needs_attention else 0


class SlipText(NamedTuple):
    """One slip's JSON text (UTF-8), cut where FX's 伝票番号 goes: ``head [,"journo":"N"] tail``.

    ``head`` is ``{"ymd_tr":"…"``; ``tail`` the rest (``,"journo_read":"…",…}``). With a number,
    they are the bytes ``json.dumps`` gives for the slip with ``journo`` as its second key; without,
    those of the slip as it is (``plain`` when that is not ``head + tail``).
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
        rest = _ENCODE({k: v for k, v in slip.items() if k not in ("ymd_tr", "journo")}).encode("utf-8")
        head = _SLIP_OPEN + _ENCODE(slip["ymd_tr"]).encode("utf-8")
        tail = b"," + rest[1:] if rest != b"{}" else b"}"
        plain = _ENCODE(slip).encode("utf-8")
        return cls(head, tail, b"" if plain == head + tail else plain)


@dataclass(frozen=True, slots=True)
class Item:
    """One ledger document of a unit: its slips as they will be sent (journo added at send).

    Slotted: a request reads ~1000 of them, long out of the CPU's caches by then (an attribute is
    then one memory read, not a dict's)."""

    key: str
    info: DocumentInfo
    journo_read: int  # its ledger id (fy * 10⁶ + the 連携番号 FX gets)
    fy: int  # the fiscal year its numbers belong to
    slips: tuple[SlipText, ...]
    codes: tuple[int, ...]  # where each slip's lines are in the run's LineIndex (-1: a reversal)
    lines: int  # detail lines of all its slips
    owner: Owner  # what FX's answers on its slips are traced to (key, 帳票番号 of its source, 連携番号)
    refresh: bool = True  # the ledger's details may differ from ``info`` (not registered by this run)


@dataclass(frozen=True, slots=True)
class Unit:
    items: tuple[Item, ...]
    lines: int


def upload_files(
    inputs: list[Path],
    mappings_dir: Path,
    options: Options,
    *,
    ledger_path: Path | None = None,
    base_url: str | None = None,
    token_env: str = DEFAULT_TOKEN_ENV,
    dry_run: bool = False,
    only_errors: bool = False,
    corrections: bool = False,
    correction_date: date | None = None,
    period: tuple[date, date] | None = None,
    yes: bool = False,
    transport: httpx.BaseTransport | None = None,
    timeout: float | None = None,
    progress: Progress | None = None,
) -> tuple[Conversion, UploadReport]:
    """Convert, refuse on any problem, then send through the ledger (the CLI's one call)."""
    conversion = convert(inputs, mappings_dir, options)
    if not conversion.ok:
        raise ProblemsFound(conversion.problems)
    settings = conversion.settings
    path = ledger_path or default_ledger_path(mappings_dir, settings.ocode)
    if dry_run:
        with Ledger.open(path, ocode=settings.ocode, readonly=True,
                         fiscal_year_start=settings.fiscal_year_start) as ledger:
            plan = plan_documents(conversion, ledger, only_errors=only_errors, corrections=corrections,
                                  period=period)
            report = _planned(plan, requests=_count_requests(conversion, ledger, plan),
                              held=None if yes else mass_reversal(plan, settings))
            kept = ledger.kept_by_upgrade()
            return conversion, replace(report, duplicates=tuple(k for k in plan.deleted if k in kept),
                                       attention=tuple(unresolved(ledger, plan.unknown)))
    token = token_from_env(token_env)
    http_timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0)) if timeout else None
    # Opening with the lock checks the ledger (integrity_check and its own rules): a damaged one
    # is refused before anything is sent, as is a missing one (never created here).
    with open_to_write(path, settings.ocode, mappings_dir, explicit=ledger_path is not None,
                       fiscal_year_start=settings.fiscal_year_start) as ledger, \
            guard(path), FXClient(
                base_url or settings.base_url, settings.ocode, token, locale=settings.locale, transport=transport,
                timeout=http_timeout, token_env=token_env) as client:
        report = send(conversion, ledger, client, only_errors=only_errors, corrections=corrections,
                      correction_date=correction_date, period=period, yes=yes, progress=progress)
    return conversion, report


def open_to_write(path: Path, ocode: str, mappings_dir: Path, *, explicit: bool,
                  fiscal_year_start: int | None = None) -> Ledger:
    """The ledger opened, locked and checked for a command that writes; a missing one is named
    with the command that creates it (``converter ledger init``) — it is never created here."""
    try:
        return Ledger.open(path, ocode=ocode, lock=True, fiscal_year_start=fiscal_year_start)
    except LedgerMissing:
        raise LedgerMissing(str(path), init_command=init_command(mappings_dir, path if explicit else None)) from None


def correction_rows(report: UploadReport) -> list[tuple[str, str, str]]:
    """The 訂正 sheet: what changed or vanished after upload, and what was done about it."""
    rows = [("変更あり", k, "連携後に内容が変わりました。--corrections で取消仕訳と訂正後の仕訳を送れます")
            for k in report.changed]
    rows += [("削除あり", k, "連携済みの帳票が書出から消えました。--corrections で取消仕訳を送れます")
             for k in report.deleted]
    rows += [("訂正済み", k, "取消仕訳を送信しました" if k in report.withdrawn
              else "取消仕訳と訂正後の仕訳を送信しました") for k in report.corrected]
    return rows


def correction_status(conversion: Conversion, ledger_path: Path,
                      known: Set[str] | None = None) -> UploadReport | None:
    """For preview: what the ledger says about changed or deleted documents (read-only).
    ``known``: the documents the ledger has, when the caller has asked it already."""
    if not conversion.ok or not ledger_path.exists():
        return None
    with Ledger.open(ledger_path, ocode=conversion.settings.ocode, readonly=True,
                     fiscal_year_start=conversion.settings.fiscal_year_start) as ledger:
        plan = plan_documents(conversion, ledger, verdicts_only=True, known=known)
        return replace(_planned(plan), attention=tuple(unresolved(ledger, plan.unknown)))


def _planned(plan: Plan, requests: int = 0, held: Held | None = None) -> UploadReport:
    """What an upload would do, as a report (nothing sent, nothing recorded)."""
    return UploadReport(dry_run=True, to_send=plan.to_send, already_done=plan.done_same, changed=plan.changed,
                        deleted=plan.deleted, still_unknown=plan.unknown, requests=requests, held=held)


def send(
    conversion: Conversion, ledger: Ledger, client: FXClient, *, only_errors: bool = False,
    corrections: bool = False, correction_date: date | None = None, period: tuple[date, date] | None = None,
    yes: bool = False, progress: Progress | None = None,
) -> UploadReport:
    """Send every unit the plan calls for; record each step in the ledger first.

    Unless ``yes``, a plan reversing more 連携完了 documents than the settings allow
    (:func:`~converter.sync.plan.mass_reversal`) sends and registers nothing: the report says why."""
    recovered = tuple(ledger.recover())
    plan = plan_documents(conversion, ledger, only_errors=only_errors, corrections=corrections, period=period)
    held = None if yes else mass_reversal(plan, conversion.settings)
    kept = ledger.kept_by_upgrade()
    if held is not None:
        still = tuple(k for k in plan.unknown if k not in recovered)
        return UploadReport(dry_run=False, to_send=plan.to_send, already_done=plan.done_same, changed=plan.changed,
                            deleted=plan.deleted, still_unknown=still, recovered=recovered, held=held,
                            duplicates=tuple(k for k in plan.deleted if k in kept),
                            attention=_attention(ledger, (), recovered, still))
    where = LineIndex(conversion.lines if plan.register else conversion.lines.iloc[:0])
    keep = conversion.settings.ledger_backups
    if plan.units:  # a run that will send: a consistent copy of the ledger first (ledger_safety)
        ledger.backup(keep)
    auto_numbering = client.auto_numbering() if plan.units else True
    units = _units(conversion, ledger, plan, correction_date, where, auto_numbering)
    sender = _Sender(conversion, ledger, client, auto_numbering, progress, sum(len(u.items) for u in units), where)
    try:
        sender.run(units)
    except (FXAuthError, FXFormatError) as err:
        if not sender.requests:
            raise  # refused at the first request: nothing was done, the error says it all
        sender.stop = Stop("refused", str(err), 0)
    finally:
        if units:  # and one after, so that the newest backup knows what this run sent
            with contextlib.suppress(LedgerError):  # the one taken before stays the newest
                ledger.backup(keep)
    finished = set(sender.sent) | set(sender.errors) | set(sender.unknown)
    left = tuple(i.key for u in units for i in u.items if i.key not in finished) if sender.stop else ()
    corrected = tuple(k for k in plan.correct
                      if all(key in sender.sent for key, parent in plan.parent_of.items() if parent == k))
    deleted = set(plan.deleted)
    duplicates = tuple(k for k in plan.deleted if k in kept and k not in plan.correct)
    still = tuple(k for k in plan.unknown if k not in recovered)
    return UploadReport(
        dry_run=False, to_send=plan.to_send, sent=tuple(sender.sent), errors=tuple(sender.errors),
        unknown=tuple(sender.unknown), already_done=plan.done_same,
        changed=tuple(k for k in plan.changed if k not in plan.correct),
        deleted=tuple(k for k in plan.deleted if k not in plan.correct),
        corrected=corrected, withdrawn=tuple(k for k in corrected if k in deleted), duplicates=duplicates,
        still_unknown=still, recovered=recovered,
        requests=sender.requests, messages=tuple(sender.messages), stop=sender.stop, left_pending=left,
        attention=_attention(ledger, sender.unknown, recovered, still), answers=tuple(sender.answers),
    )


def _attention(ledger: Ledger, new: Sequence[str], recovered: Sequence[str],
               still: Sequence[str]) -> tuple[Unresolved, ...]:
    """Every 要確認 document after a run, this run's first, with what to check in FX."""
    origin: dict[str, Origin] = {k: "this_run" for k in new}
    origin.update({k: "interrupted" for k in recovered})
    return tuple(unresolved(ledger, [*new, *recovered, *still], origin))


def _units(conversion: Conversion, ledger: Ledger, plan: Plan, correction_date: date | None,
           where: LineIndex, auto_numbering: bool = True) -> list[Unit]:
    """Register what is new in the ledger and turn the plan into units with their slips.

    Before anything is registered, the numbers the whole run needs are counted per fiscal year:
    if they do not fit under FX's ceilings, LedgerError, and nothing is sent.
    """
    docs = conversion.documents.set_index("doc", drop=False)
    if correction_date is not None:  # a reversal's slips carry the correction date: its fiscal year
        on = correction_date.isoformat()
        plan.infos.update({k: replace(plan.infos[k], ymd=on) for k in plan.reverse_from})
    sources = [plan.source_of[k] for k in plan.register if plan.source_of[k]]
    wanted = docs.loc[list(dict.fromkeys(sources))]
    slips, slip_keys = _slips_by_doc(conversion, wanted)
    posted = ledger.posted(plan.reverse_from.values())
    years = {k: ledger.fiscal_year(plan.infos[k].ymd) for k in plan.register}
    if not auto_numbering:
        needed: Counter[int] = Counter()
        for key in plan.register:
            source = plan.source_of[key]
            needed[years[key]] += len(slips[source]) if source else len(posted[plan.reverse_from[key]])
        ledger.check_room("journo", needed)
    ids, new = ledger.register([plan.infos[k] for k in plan.register])
    flat = where.codes([k for keys in slip_keys.values() for k in keys])
    ends = accumulate(len(keys) for keys in slip_keys.values())
    codes = {doc: tuple(flat[end - len(keys):end]) for (doc, keys), end in zip(slip_keys.items(), ends, strict=True)}
    lines = dict(zip(wanted["doc"], wanted["lines"].tolist(), strict=True))
    doc_nos = dict(zip(docs["doc"], docs["doc_no"], strict=True))
    units = []
    for group in plan.units:
        items = []
        for key in group:
            source, journo_read = plan.source_of[key], ids[key]
            # 伝票番号 come from the fiscal year of the slips' date; the 連携番号 is the one it was given
            number, fy = number_of(journo_read), years[key]
            refresh = key not in new  # registered just now: the ledger holds this very info
            if key in plan.reverse_from:  # a reversal: what FX holds, turned around
                flipped = reversal_slips(posted[plan.reverse_from[key]], number, correction_date)
                parent = plan.parent_of[key]
                items.append(Item(key, plan.infos[key], journo_read, fy, tuple(SlipText.of(s) for s in flipped),
                                  (-1,) * len(flipped), sum(len(s["detail"]) for s in flipped),
                                  (key, doc_nos.get(parent, ""), number), refresh))
            else:
                items.append(Item(key, plan.infos[key], journo_read, fy, _numbered(slips[source], number),
                                  codes[source], lines[source], (key, doc_nos.get(source, ""), number), refresh))
        units.append(Unit(tuple(items), sum(i.lines for i in items)))
    return units


def _count_requests(conversion: Conversion, ledger: Ledger, plan: Plan) -> int:
    """How many requests the plan's units pack into (for --dry-run)."""
    lines: dict[str, int] = {str(d): int(n) for d, n in zip(conversion.documents["doc"],
                                                            conversion.documents["lines"], strict=True)}
    for key, reversed_key in plan.reverse_from.items():
        slips = ledger.posted([reversed_key]).get(reversed_key, [])
        lines[key] = sum(len(slip["detail"]) for slip in slips)
    requests, used = 0, 0
    for unit in plan.units:
        size = sum(lines.get(plan.source_of[k] or k, 0) for k in unit)
        if not requests or used + size > MAX_LINES_PER_REQUEST:
            requests, used = requests + 1, 0
        used += size
    return requests


_Cut = tuple[bytes, bytes] | dict[str, Any]  # (head, rest after journo_read) or, if not cut, the slip


def _slips_by_doc(conversion: Conversion, docs: pd.DataFrame) -> tuple[dict[str, list[_Cut]], dict[str, list[str]]]:
    """Every needed source document's slips (journo_read 0), built once."""
    if docs.empty:
        return {}, {}
    docs = docs.assign(request=np.arange(len(docs)) // _BATCH_DOCS + 1, journo_read=0)
    slips: dict[str, list[_Cut]] = {}
    keys: dict[str, list[str]] = {}
    for request in iter_requests(conversion.lines, docs.reset_index(drop=True), conversion.settings):
        for text, slip_key in zip(_cut(request), request.slip_keys, strict=True):
            doc = slip_document(slip_key)
            slips.setdefault(doc, []).append(text)
            keys.setdefault(doc, []).append(slip_key)
    return slips, keys


def _cut(request: Request) -> list[_Cut]:
    """A body's slips as (head, rest after ``"journo_read":"0"``), cut at the slip boundaries.

    In JSON every ``"`` inside a string is escaped, so ``]},{"ymd_tr":`` can only be where a slip
    ends and the next begins (in UTF-8 too: no byte of a multi-byte character is ASCII). A body not
    laid out as expected is parsed instead (same bytes sent). Bytes all along: a request's body is
    then a join of them, with no text to encode.
    """
    text = request.data
    n = len(request.slip_keys)
    pieces: list[bytes] = []
    if text.startswith(_SLIPS_OPEN + _SLIP_OPEN) and text.endswith(_SLIP_CLOSE * 2):
        pieces = text[len(_SLIPS_OPEN + _SLIP_OPEN):-len(_SLIP_CLOSE * 2)].split(_SLIP_SEP)
    found = [_UNNUMBERED.match(p) for p in pieces] if len(pieces) == n else []
    if n and len(found) == n and all(found):
        return [(_SLIP_OPEN + m[1], p[m.end():] + _SLIP_CLOSE)
                for p, m in zip(pieces, found, strict=True) if m is not None]
    slips: list[dict[str, Any]] = request.body["slips"]
    return list(slips)


def _numbered(slips: list[_Cut], journo_read: int) -> tuple[SlipText, ...]:
    """A document's slip texts with its journo_read."""
    tail = b',"journo_read":"%d"' % journo_read
    return tuple(SlipText(s[0], tail + s[1]) if isinstance(s, tuple)
                 else SlipText.of({**s, "journo_read": str(journo_read)}) for s in slips)


def _numbered_per_year(items: list[Item], slips: list[SlipText], counts: list[int],
                       firsts: dict[int, int]) -> tuple[list[bytes], dict[str, int]]:
    """A request's slip texts with their 伝票番号, consecutive within each fiscal year from
    ``firsts[fy]``, and each document's first number."""
    if len(firsts) == 1:  # the usual case: one fiscal year, one pass
        number = next(iter(firsts.values()))
        return SlipText.numbered(slips, number), {
            i.key: first for i, first, n in zip(items, accumulate(counts[:-1], initial=number), counts,
                                                strict=True) if n}
    cursor, texts, journos = dict(firsts), [], {}
    for i in items:
        if i.slips:
            journos[i.key] = cursor[i.fy]
            texts += SlipText.numbered(list(i.slips), cursor[i.fy])
            cursor[i.fy] += len(i.slips)
    return texts, journos


def _joined(texts: list[bytes]) -> bytes:
    """A request's body from its slip texts in one ~400 KB allocation (each fresh one costs page
    faults): the brackets go on the first and last slip."""
    if not texts:
        return _SLIPS_OPEN + _SLIP_CLOSE
    texts[0] = _SLIPS_OPEN + texts[0]
    texts[-1] = texts[-1] + _SLIP_CLOSE
    return b",".join(texts)


class _Slips(NamedTuple):
    """A request's slips, in order: whose they are (for FX's answers)."""

    owners: list[Owner]
    doc_at: list[int]  # the position of its document in the request
    codes: list[int]  # LineIndex.codes


class _Sender:
    """The request loop; holds the per-run bookkeeping so each step reads as one decision."""

    def __init__(self, conversion: Conversion, ledger: Ledger, client: FXClient, auto_numbering: bool,
                 progress: Progress | None, total: int, where: LineIndex) -> None:
        self.conversion, self.ledger, self.client = conversion, ledger, client
        self.auto_numbering, self.progress, self.total = auto_numbering, progress, total
        self.sent: list[str] = []
        self.errors: list[str] = []
        self.unknown: list[str] = []
        self.messages: list[FXMessage] = []
        self.answers: list[RequestAnswer] = []
        self.requests = 0
        self.where = where
        self.stop: Stop | None = None
        self._storm: tuple[frozenset[str], int] = (frozenset(), 0)  # the reason rejected in a row, how often
        self._issued: tuple[dict[int, int], dict[int, int]] = ({}, {})  # the last request's 伝票番号: firsts, counts

    def run(self, units: list[Unit]) -> None:
        queue = deque(units)
        with collector_paused():
            while queue and self.stop is None:
                batch: list[Unit] = []
                used = 0
                while queue and (not batch or used + queue[0].lines <= MAX_LINES_PER_REQUEST):
                    used += queue[0].lines
                    batch.append(queue.popleft())
                queue.extendleft(reversed(self._send(batch)))

    def _send(self, batch: list[Unit]) -> list[Unit]:
        """Send one request; return the units to send again (after a 400), if any."""
        items = [i for u in batch for i in u.items]
        slips = [s for i in items for s in i.slips]
        counts = [len(i.slips) for i in items]
        owners = [i.owner for i in items for _ in i.slips]
        doc_at = [pos for pos, n in enumerate(counts) for _ in range(n)]
        codes = [c for i in items for c in i.codes]
        journos: dict[str, int] = {}
        # One commit before the POST: the 伝票番号 in the body are reserved and the documents are 連携中.
        with self.ledger.transaction():
            if slips and not self.auto_numbering:
                needed: dict[int, int] = {}
                for i in items:
                    needed[i.fy] = needed.get(i.fy, 0) + len(i.slips)
                firsts = self.ledger.reserve_journos(needed)
                self._issued = firsts, needed
                texts, journos = _numbered_per_year(items, slips, counts, firsts)
            else:
                self._issued = {}, {}
                texts = [s.text(None) for s in slips]
            body = _joined(texts)
            # The ledger keeps the body as sent: a later correction reverses what FX holds.
            self.ledger.mark_sending([i.info if i.refresh else i.key for i in items], journos=journos or None,
                                     body=body, slips=counts)
        keys = [i.key for i in items]
        start = len(self.messages)

        def answer(outcome: str, status: int | None, message: str) -> RequestAnswer:
            return RequestAnswer(len(self.answers) + 1, outcome, status, len(items),
                                 tuple(i.owner[2] for i in items), message, (start, len(self.messages)))
        try:
            result = self.client.import_slips(body)
        except FXAPIError as err:
            # 401/403/406: FX refused before storing anything; stop the run.
            if isinstance(err, FXAuthError | FXFormatError):
                self._give_back()
            self.ledger.mark_unsent(keys, "FX が要求を拒否しました (認証・権限・形式)")
            self.answers.append(answer("refused", None, str(err)))
            raise
        self.requests += 1
        again = self._record(batch, keys, _Slips(owners, doc_at, codes), result)
        self.answers.append(answer(result.outcome, result.status, result.message))
        return again

    def _give_back(self) -> None:
        """FX stored nothing of the request: its 伝票番号 go to the next one (no gap, nothing burnt)."""
        firsts, needed = self._issued
        if firsts:
            self.ledger.give_back_journos(firsts, needed)
        self._issued = {}, {}

    def _record(self, batch: list[Unit], keys: list[str], slips: _Slips, result: ImportResult) -> list[Unit]:
        if result.outcome in ("not_sent", "rejected"):
            self._give_back()
        if result.outcome != "rejected":
            self._storm = frozenset(), 0
        if result.outcome == "stored":
            _, answers = self._trace(slips, result.informations, "information")
            self.ledger.mark_done(keys, answers=answers)
            self.sent += keys
        elif result.outcome == "ambiguous":
            self.ledger.mark_unknown(keys, result.message)
            self.unknown += keys
        elif result.outcome == "not_sent":
            # FX certainly stored nothing: エラー, so that `retry` (or the next upload) sends them again.
            self.ledger.mark_error({k: result.message + "。時間をおいて再連携してください" for k in keys})
            self.errors += keys
        else:
            return self._rejected(batch, keys, slips, result)
        self._tick(len(keys))
        return []

    def _rejected(self, batch: list[Unit], keys: list[str], slips: _Slips, result: ImportResult) -> list[Unit]:
        """A 400 stored nothing: the units it names are in error, the others go again."""
        found, _ = self._trace(slips, result.errors, "error")
        named_keys = {m.doc for m in found if m.doc}
        bad_units = [u for u in batch if any(i.key in named_keys for i in u.items)] or batch
        if not named_keys:  # a 400 that names no slip: nothing to separate
            content = "; ".join(str(e.get("content", "")) for e in result.errors) or "FX が要求を拒否しました (400)"
            found = [FXMessage(k, "", 0, "error", content) for k in keys]
            self.messages += found
        self._count_rejection(found)
        texts = ledger_texts(found)
        bad = [i.key for u in bad_units for i in u.items]
        self.ledger.mark_error({k: texts.get(k, "同じ訂正の組の他の伝票が FX でエラーになりました") for k in bad})
        self.errors += bad
        self._tick(len(bad))
        rest = [u for u in batch if u not in bad_units]
        if rest:
            self.ledger.mark_unsent([i.key for u in rest for i in u.items],
                                    "同じ要求の他の帳票が FX でエラーになったため再送します")
        return rest

    def _count_rejection(self, found: list[FXMessage]) -> None:
        """Rejections in a row that share an FX message: at STORM_LIMIT the run stops (see STORM_LIMIT)."""
        reasons = frozenset(m.content for m in found if m.kind == "error")
        same, count = self._storm
        common = same & reasons if count else reasons
        self._storm = (common, count + 1) if common else (reasons, 1)
        if self._storm[1] >= STORM_LIMIT:
            self.stop = Stop("storm", " / ".join(sorted(self._storm[0])), self._storm[1])

    def _trace(self, slips: _Slips, answers: tuple[dict[str, Any], ...], kind: str) -> tuple[list[FXMessage], Answers]:
        """FX's answers traced to ledger documents and source rows (kept for the report)."""
        found, columns = trace(self.where, slips.owners, slips.doc_at, slips.codes, answers, kind)
        self.messages += found
        return found, columns

    def _tick(self, n: int) -> None:
        if self.progress:
            self.progress(n, self.total)

