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
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from .corrections import Plan, plan_documents, reversal_slips
from .errors import FXAPIError, ProblemsFound
from .fxapi import DEFAULT_TOKEN_ENV, FXClient, ImportResult, token_from_env
from .ledger import DocumentInfo, Ledger, default_ledger_path
from .payload import MAX_LINES_PER_REQUEST, build_requests
from .pipeline import Conversion, Options, convert

Progress = Callable[[int, int], None]  # (documents finished, documents to send)


@dataclass(frozen=True)
class FXMessage:
    """One error or みなし information from FX, traced back to the document and source row."""

    doc: str
    doc_no: str
    journo_read: int
    kind: str  # "error" | "information"
    content: str
    groupno: int | None = None
    lineno: int | None = None
    is_ocr_dc: int | None = None
    file: str = ""
    row: int | None = None


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
    still_unknown: tuple[str, ...] = ()  # 要確認 from an earlier run, not sent
    recovered: tuple[str, ...] = ()  # left in 連携中 by a killed run → 要確認
    requests: int = 0
    messages: tuple[FXMessage, ...] = field(default=())

    @property
    def needs_attention(self) -> bool:
        return bool(self.errors or self.unknown or self.changed or self.deleted or self.still_unknown
                    or self.recovered)


@dataclass(frozen=True)
class Item:
    """One ledger document of a unit: its slips as they will be sent (journo added at send)."""

    key: str
    info: DocumentInfo
    slips: tuple[dict[str, Any], ...]
    sources: tuple[str, ...]  # slip_key of each slip in the conversion ("" for a reversal)
    source_doc: str  # the source document (for messages)


@dataclass(frozen=True)
class Unit:
    items: tuple[Item, ...]

    @property
    def lines(self) -> int:
        return sum(len(s["detail"]) for i in self.items for s in i.slips)


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
        with Ledger.open(path, ocode=settings.ocode, readonly=True) as ledger:
            plan = plan_documents(conversion, ledger, only_errors=only_errors, corrections=corrections,
                                  period=period)
            return conversion, _planned(plan, requests=_count_requests(conversion, ledger, plan))
    token = token_from_env(token_env)
    http_timeout = httpx.Timeout(timeout, connect=min(timeout, 10.0)) if timeout else None
    with Ledger.open(path, ocode=settings.ocode, lock=True) as ledger, FXClient(
        base_url or settings.base_url, settings.ocode, token, locale=settings.locale, transport=transport,
        timeout=http_timeout, token_env=token_env,
    ) as client:
        report = send(conversion, ledger, client, only_errors=only_errors, corrections=corrections,
                      correction_date=correction_date, period=period, progress=progress)
    return conversion, report


def correction_rows(report: UploadReport) -> list[tuple[str, str, str]]:
    """The 訂正 sheet: what changed or vanished after upload, and what was done about it."""
    rows = [("変更あり", k, "連携後に内容が変わりました。--corrections で取消仕訳と訂正後の仕訳を送れます")
            for k in report.changed]
    rows += [("削除あり", k, "連携済みの帳票が書出から消えました。--corrections で取消仕訳を送れます")
             for k in report.deleted]
    rows += [("訂正済み", k, "取消仕訳 (と訂正後の仕訳) を送信しました") for k in report.corrected]
    return rows


def correction_status(conversion: Conversion, ledger_path: Path) -> UploadReport | None:
    """For preview: what the ledger says about changed or deleted documents (read-only)."""
    if not conversion.ok or not ledger_path.exists():
        return None
    with Ledger.open(ledger_path, ocode=conversion.settings.ocode, readonly=True) as ledger:
        plan = plan_documents(conversion, ledger)
    return _planned(plan)


def _planned(plan: Plan, requests: int = 0) -> UploadReport:
    """What an upload would do, as a report (nothing sent, nothing recorded)."""
    return UploadReport(dry_run=True, to_send=plan.to_send, already_done=plan.done_same, changed=plan.changed,
                        deleted=plan.deleted, still_unknown=plan.unknown, requests=requests)


def send(
    conversion: Conversion, ledger: Ledger, client: FXClient, *, only_errors: bool = False,
    corrections: bool = False, correction_date: date | None = None, period: tuple[date, date] | None = None,
    progress: Progress | None = None,
) -> UploadReport:
    """Send every unit the plan calls for; record each step in the ledger first."""
    recovered = tuple(ledger.recover())
    plan = plan_documents(conversion, ledger, only_errors=only_errors, corrections=corrections, period=period)
    units = _units(conversion, ledger, plan, correction_date)
    auto_numbering = client.auto_numbering() if units else True
    sender = _Sender(conversion, ledger, client, auto_numbering, progress, sum(len(u.items) for u in units))
    sender.run(units)
    return UploadReport(
        dry_run=False, to_send=plan.to_send, sent=tuple(sender.sent), errors=tuple(sender.errors),
        unknown=tuple(sender.unknown), already_done=plan.done_same,
        changed=tuple(k for k in plan.changed if k not in plan.correct),
        deleted=tuple(k for k in plan.deleted if k not in plan.correct),
        corrected=tuple(k for k in plan.correct
                        if all(key in sender.sent for key, parent in plan.parent_of.items() if parent == k)),
        still_unknown=tuple(k for k in plan.unknown if k not in recovered), recovered=recovered,
        requests=sender.requests, messages=tuple(sender.messages),
    )


def _units(conversion: Conversion, ledger: Ledger, plan: Plan, correction_date: date | None) -> list[Unit]:
    """Register what is new in the ledger and turn the plan into units with their slips."""
    docs = conversion.documents.set_index("doc", drop=False)
    ids = ledger.assign_ids([plan.infos[k] for k in plan.register])
    sources = [plan.source_of[k] for k in plan.register if plan.source_of[k]]
    slips, slip_keys = _slips_by_doc(conversion, docs.loc[list(dict.fromkeys(sources))], ids, plan)
    posted = ledger.posted(plan.reverse_from.values())
    units = []
    for group in plan.units:
        items = []
        for key in group:
            source = plan.source_of[key]
            if key in plan.reverse_from:  # a reversal: what FX holds, turned around
                flipped = reversal_slips(posted[plan.reverse_from[key]], ids[key], correction_date)
                items.append(Item(key, plan.infos[key], tuple(flipped), ("",) * len(flipped), plan.parent_of[key]))
            else:
                items.append(Item(key, plan.infos[key], tuple(_with_id(slips[source], ids[key])),
                                  tuple(slip_keys[source]), source))
        units.append(Unit(tuple(items)))
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


def _slips_by_doc(conversion: Conversion, docs: pd.DataFrame, ids: dict[str, int],
                  plan: Plan) -> tuple[dict[str, list[dict[str, Any]]], dict[str, list[str]]]:
    """Every needed source document's slips, built once from the conversion's lines."""
    if docs.empty:
        return {}, {}
    docs = docs.assign(request=1, journo_read=0)
    slips: dict[str, list[dict[str, Any]]] = {}
    keys: dict[str, list[str]] = {}
    for request in build_requests(conversion.lines, docs.reset_index(drop=True), conversion.settings):
        for slip, slip_key in zip(request.body["slips"], request.slip_keys, strict=True):
            doc = slip_key.rsplit("#", 1)[0]
            slips.setdefault(doc, []).append(slip)
            keys.setdefault(doc, []).append(slip_key)
    return slips, keys


def _with_id(slips: list[dict[str, Any]], journo_read: int) -> list[dict[str, Any]]:
    return [{**s, "journo_read": str(journo_read)} for s in slips]


class _Sender:
    """The request loop; holds the per-run bookkeeping so each step reads as one decision."""

    def __init__(self, conversion: Conversion, ledger: Ledger, client: FXClient, auto_numbering: bool,
                 progress: Progress | None, total: int) -> None:
        self.conversion, self.ledger, self.client = conversion, ledger, client
        self.auto_numbering, self.progress, self.total = auto_numbering, progress, total
        docs = conversion.documents
        self.doc_nos = dict(zip(docs["doc"], docs["doc_no"], strict=True))
        self.sent: list[str] = []
        self.errors: list[str] = []
        self.unknown: list[str] = []
        self.messages: list[FXMessage] = []
        self.requests = 0

    def run(self, units: list[Unit]) -> None:
        queue = list(units)
        while queue:
            batch: list[Unit] = []
            used = 0
            while queue and (not batch or used + queue[0].lines <= MAX_LINES_PER_REQUEST):
                used += queue[0].lines
                batch.append(queue.pop(0))
            queue[:0] = self._send(batch)

    def _send(self, batch: list[Unit]) -> list[Unit]:
        """Send one request; return the units to send again (after a 400), if any."""
        items = [i for u in batch for i in u.items]
        n_slips = sum(len(i.slips) for i in items)
        numbers = iter(self.ledger.issue_journos(n_slips)) if not self.auto_numbering else None
        slips, owners, sources = [], [], []
        journos: dict[str, int] = {}
        posted: dict[str, str] = {}
        for item in items:
            mine = []
            for slip, source in zip(item.slips, item.sources, strict=True):
                if numbers is not None:
                    number = next(numbers)
                    journos.setdefault(item.key, number)
                    slip = {"ymd_tr": slip["ymd_tr"], "journo": str(number),
                            **{k: v for k, v in slip.items() if k not in ("ymd_tr", "journo")}}
                mine.append(slip)
                owners.append(item)
                sources.append(source)
            slips += mine
            posted[item.key] = json.dumps(mine, ensure_ascii=False)
        keys = [i.key for i in items]
        self.ledger.mark_sending([i.info for i in items], journos=journos or None, posted=posted)
        body = json.dumps({"slips": slips}, ensure_ascii=False, separators=(",", ":")).encode("utf-8")
        try:
            result = self.client.import_slips(body)
        except FXAPIError:
            # 401/403/406: FX refused before storing anything; stop the run.
            self.ledger.mark_unsent(keys, "FX が要求を拒否しました (認証・権限・形式)")
            raise
        self.requests += 1
        return self._record(batch, keys, owners, sources, result)

    def _record(self, batch: list[Unit], keys: list[str], owners: list[Item], sources: list[str],
                result: ImportResult) -> list[Unit]:
        if result.outcome == "stored":
            texts = self._texts(self._trace(owners, sources, result.informations, "information"))
            self.ledger.mark_done(keys, messages=texts)
            self.sent += keys
        elif result.outcome == "ambiguous":
            self.ledger.mark_unknown(keys, result.message)
            self.unknown += keys
        elif result.outcome == "not_sent":
            # FX certainly stored nothing: エラー, so that `retry` (or the next upload) sends them again.
            self.ledger.mark_error({k: result.message + "。時間をおいて再連携してください" for k in keys})
            self.errors += keys
        else:
            return self._rejected(batch, keys, owners, sources, result)
        self._tick(len(keys))
        return []

    def _rejected(self, batch: list[Unit], keys: list[str], owners: list[Item], sources: list[str],
                  result: ImportResult) -> list[Unit]:
        """A 400 stored nothing: the units it names are in error, the others go again."""
        found = self._trace(owners, sources, result.errors, "error")
        named_keys = {m.doc for m in found if m.doc}
        bad_units = [u for u in batch if any(i.key in named_keys for i in u.items)] or batch
        if not named_keys:  # a 400 that names no slip: nothing to separate
            content = "; ".join(str(e.get("content", "")) for e in result.errors) or "FX が要求を拒否しました (400)"
            found = [FXMessage(k, "", 0, "error", content) for k in keys]
            self.messages += found
        texts = self._texts(found)
        bad = [i.key for u in bad_units for i in u.items]
        self.ledger.mark_error({k: texts.get(k, "同じ訂正の組の他の伝票が FX でエラーになりました") for k in bad})
        self.errors += bad
        self._tick(len(bad))
        rest = [u for u in batch if u not in bad_units]
        if rest:
            self.ledger.mark_unsent([i.key for u in rest for i in u.items],
                                    "同じ要求の他の帳票が FX でエラーになったため再送します")
        return rest

    def _trace(self, owners: list[Item], sources: list[str], answers: tuple[dict[str, Any], ...],
               kind: str) -> list[FXMessage]:
        """groupno/lineno/is_ocr_dc → ledger document and source file:row.

        One pass over the request's lines builds the lookup: this runs between FX's 201 and the
        ``done`` commit, where a kill leaves the whole request 要確認.
        """
        lines = self.conversion.lines
        wanted = [s for s in sources if s]
        part = lines.loc[lines["slip_key"].isin(wanted), ["slip_key", "pos_dsp", "side", "_file", "_row"]]
        where: dict[tuple[Any, ...], tuple[str, int]] = {}
        for slip_key, pos, side, file, row in part.itertuples(index=False, name=None):
            at = (str(file), int(row))
            where.setdefault((slip_key,), at)
            where.setdefault((slip_key, int(pos)), at)
            where.setdefault((slip_key, int(pos), int(side)), at)
        found = []
        for answer in answers:
            groupno = answer.get("groupno")
            key, doc_no, journo_read, file, row = "", "", 0, "", None
            if isinstance(groupno, int) and 1 <= groupno <= len(owners):
                item, source = owners[groupno - 1], sources[groupno - 1]
                key, doc_no = item.key, self.doc_nos.get(item.source_doc, "")
                journo_read = int(item.slips[0]["journo_read"])
                if source and (source,) in where:
                    lineno, side = answer.get("lineno"), answer.get("is_ocr_dc")
                    exact = (source, lineno) if side is None else (source, lineno, side)
                    file, row = where.get(exact) or where[(source,)]
            found.append(FXMessage(key, doc_no, journo_read, kind, str(answer.get("content", "")), groupno,
                                   answer.get("lineno"), answer.get("is_ocr_dc"), file, row))
        self.messages += found
        return found

    @staticmethod
    def _texts(found: list[FXMessage]) -> dict[str, str]:
        by_doc: dict[str, list[dict[str, Any]]] = {}
        for m in found:
            by_doc.setdefault(m.doc, []).append(
                {"kind": m.kind, "content": m.content, "lineno": m.lineno, "is_ocr_dc": m.is_ocr_dc,
                 "source": f"{m.file}:{m.row}" if m.row else ""})
        return {doc: json.dumps(items, ensure_ascii=False) for doc, items in by_doc.items() if doc}

    def _tick(self, n: int) -> None:
        if self.progress:
            self.progress(n, self.total)
