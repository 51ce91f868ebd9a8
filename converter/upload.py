"""Upload stage: send what the ledger says is not yet in FX, exactly once.

Per request: the documents are committed as ``sending`` *before* the POST, and as ``done``
after the 201. A 400 rejects the whole request (nothing stored): the documents it names
become ``error`` and the rest are sent again in a new request. An ambiguous failure makes
the documents ``unknown`` (要確認); they are never re-sent until the user says what FX holds
(``converter resolve``). A run killed anywhere leaves at most ``sending`` documents, which
the next run turns into ``unknown`` before doing anything else.
"""

from __future__ import annotations

import json
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pandas as pd

from .errors import FXAPIError, ProblemsFound
from .fxapi import FXClient, ImportResult, token_from_env
from .ledger import DocumentInfo, Ledger, default_ledger_path
from .payload import Request, build_requests, plan_chunks
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
    changed: tuple[str, ...] = ()  # done in FX, but the export now differs
    still_unknown: tuple[str, ...] = ()  # 要確認 from an earlier run, not sent
    recovered: tuple[str, ...] = ()  # left in 連携中 by a killed run → 要確認
    requests: int = 0
    messages: tuple[FXMessage, ...] = field(default=())

    @property
    def needs_attention(self) -> bool:
        return bool(self.errors or self.unknown or self.changed or self.still_unknown or self.recovered)


def upload_files(
    inputs: list[Path],
    mappings_dir: Path,
    options: Options,
    *,
    ledger_path: Path | None = None,
    base_url: str | None = None,
    token_env: str = "FX_API_TOKEN",
    dry_run: bool = False,
    only_errors: bool = False,
    transport: httpx.BaseTransport | None = None,
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
            return conversion, plan_upload(conversion, ledger, only_errors=only_errors)
    token = token_from_env(token_env)
    path.parent.mkdir(parents=True, exist_ok=True)
    with Ledger.open(path, ocode=settings.ocode, lock=True) as ledger, FXClient(
        base_url or settings.base_url, settings.ocode, token, locale=settings.locale, transport=transport
    ) as client:
        report = send(conversion, ledger, client, only_errors=only_errors, progress=progress)
    return conversion, report


def _infos(docs: pd.DataFrame) -> list[DocumentInfo]:
    return [
        DocumentInfo(key=str(d), content_hash=str(h), kind=str(k), doc_no=str(n), ymd=str(y), amount=int(a))
        for d, h, k, n, y, a in docs[["doc", "content_hash", "kind", "doc_no", "date", "debit"]].itertuples(
            index=False, name=None)
    ]


def plan_upload(conversion: Conversion, ledger: Ledger, *, only_errors: bool = False) -> UploadReport:
    """What an upload would do, without writing anything (``--dry-run``)."""
    infos = _infos(conversion.documents)
    plan = ledger.classify(infos)
    to_send = _select(plan.to_send, ledger, only_errors)
    requests = plan_chunks(conversion.documents[conversion.documents["doc"].isin(to_send)])[0]
    return UploadReport(dry_run=True, to_send=to_send, already_done=plan.done_same, changed=plan.changed,
                        still_unknown=plan.unknown + plan.sending, requests=int(requests.max() if len(requests) else 0))


def _select(keys: tuple[str, ...], ledger: Ledger, only_errors: bool) -> tuple[str, ...]:
    if not only_errors:
        return keys
    records = ledger.get(keys)
    return tuple(k for k in keys if k in records and records[k].status == "error")


def send(
    conversion: Conversion, ledger: Ledger, client: FXClient, *, only_errors: bool = False,
    progress: Progress | None = None,
) -> UploadReport:
    """Send every document of ``conversion`` that the ledger does not hold as done."""
    recovered = tuple(ledger.recover())
    infos = {i.key: i for i in _infos(conversion.documents)}
    plan = ledger.classify(list(infos.values()))
    to_send = _select(plan.to_send, ledger, only_errors)
    ids = ledger.assign_ids([infos[k] for k in to_send])
    docs = conversion.documents[conversion.documents["doc"].isin(to_send)].copy()
    docs["journo_read"] = docs["doc"].map(ids)
    auto_numbering = client.auto_numbering() if len(docs) else True

    sender = _Sender(conversion, ledger, client, docs, infos, auto_numbering, progress)
    sender.run()
    return UploadReport(
        dry_run=False, to_send=to_send, sent=tuple(sender.sent), errors=tuple(sender.errors),
        unknown=tuple(sender.unknown), already_done=plan.done_same, changed=plan.changed,
        still_unknown=tuple(k for k in plan.unknown + plan.sending if k not in recovered),
        recovered=recovered, requests=sender.requests, messages=tuple(sender.messages),
    )


class _Sender:
    """The request loop; holds the per-run bookkeeping so each step reads as one decision."""

    def __init__(self, conversion: Conversion, ledger: Ledger, client: FXClient, docs: pd.DataFrame,
                 infos: dict[str, DocumentInfo], auto_numbering: bool, progress: Progress | None) -> None:
        self.conversion, self.ledger, self.client = conversion, ledger, client
        self.docs = docs.set_index("doc", drop=False)
        self.journo_reads = {str(k): int(v) for k, v in self.docs["journo_read"].items()}
        self.doc_nos = {str(k): str(v) for k, v in self.docs["doc_no"].items()}
        self.infos, self.auto_numbering, self.progress = infos, auto_numbering, progress
        self.sent: list[str] = []
        self.errors: list[str] = []
        self.unknown: list[str] = []
        self.messages: list[FXMessage] = []
        self.requests = 0
        self.total = len(docs)

    def run(self) -> None:
        numbers, _ = plan_chunks(self.docs.reset_index(drop=True))
        queue: deque[list[str]] = deque(
            list(group) for _, group in self.docs["doc"].groupby(numbers.to_numpy(), sort=True)
        )
        while queue:
            retry_rest = self._send_chunk(queue.popleft())
            if retry_rest:
                queue.appendleft(retry_rest)

    def _send_chunk(self, keys: list[str]) -> list[str]:
        """Send one request; return the documents to send again (after a 400), if any."""
        chunk = self.docs.loc[keys].assign(request=1)
        journos = self._journos(chunk)
        (request,) = build_requests(self.conversion.lines, chunk, self.conversion.settings, journos)
        per_doc = self._journo_per_doc(request, journos)
        self.ledger.mark_sending([self.infos[k] for k in request.docs], journos=per_doc or None)
        try:
            result = self.client.import_slips(request.to_json())
        except FXAPIError:
            # 401/403/406: FX refused before storing anything; stop the run.
            self.ledger.mark_unsent(request.docs, "FX が要求を拒否しました (認証・権限・形式)")
            raise
        self.requests += 1
        return self._record(request, result)

    def _journos(self, chunk: pd.DataFrame) -> dict[str, int] | None:
        if self.auto_numbering:
            return None
        slip_keys = self.conversion.lines.loc[self.conversion.lines["doc"].isin(chunk.index), "slip_key"].unique()
        return dict(zip(slip_keys, self.ledger.issue_journos(len(slip_keys)), strict=True))

    @staticmethod
    def _journo_per_doc(request: Request, journos: dict[str, int] | None) -> dict[str, int]:
        if not journos:
            return {}
        first: dict[str, int] = {}
        for slip_key in request.slip_keys:
            first.setdefault(slip_key.rsplit("#", 1)[0], journos[slip_key])
        return first

    def _record(self, request: Request, result: ImportResult) -> list[str]:
        keys = list(request.docs)
        if result.outcome == "stored":
            found = self._trace(request, result.informations, "information")
            texts = self._texts(found)
            self.ledger.mark_done(keys, messages=texts)
            self.sent += keys
            self._tick(len(keys))
            return []
        if result.outcome == "ambiguous":
            self.ledger.mark_unknown(keys, result.message)
            self.unknown += keys
            self._tick(len(keys))
            return []
        if result.outcome == "not_sent":
            # FX certainly stored nothing: エラー, so that `retry` (or the next upload) sends them again.
            self.ledger.mark_error({k: result.message + "。時間をおいて再連携してください" for k in keys})
            self.errors += keys
            self._tick(len(keys))
            return []
        found = self._trace(request, result.errors, "error")
        named = {m.doc for m in found if m.doc}
        if not named:  # a 400 that names no slip: nothing to separate, all are in error
            named = set(keys)
            content = "; ".join(str(e.get("content", "")) for e in result.errors) or "FX が要求を拒否しました (400)"
            found = [FXMessage(k, self.doc_nos[k], self.journo_reads[k], "error", content) for k in keys]
            self.messages += found
        texts = self._texts(found)
        rejected = [k for k in keys if k in named]
        rest = [k for k in keys if k not in named]
        self.ledger.mark_error({k: texts.get(k, "FX エラー") for k in rejected})
        self.errors += rejected
        self._tick(len(rejected))
        if rest:
            self.ledger.mark_unsent(rest, "同じ要求の他の帳票が FX でエラーになったため再送します")
        return rest

    def _trace(self, request: Request, items: tuple[dict[str, Any], ...], kind: str) -> list[FXMessage]:
        """groupno/lineno/is_ocr_dc → document and source file:row."""
        lines = self.conversion.lines
        found = []
        for item in items:
            groupno = item.get("groupno")
            doc, file, row = "", "", None
            if isinstance(groupno, int) and 1 <= groupno <= len(request.slip_keys):
                slip_key = request.slip_keys[groupno - 1]
                doc = slip_key.rsplit("#", 1)[0]
                match = lines[(lines["slip_key"] == slip_key) & (lines["pos_dsp"] == item.get("lineno"))]
                if item.get("is_ocr_dc") is not None:
                    match = match[match["side"] == item.get("is_ocr_dc")]
                source = match if len(match) else lines[lines["slip_key"] == slip_key]
                file, row = str(source["_file"].iloc[0]), int(source["_row"].iloc[0])
            found.append(FXMessage(doc, self.doc_nos.get(doc, ""), self.journo_reads.get(doc, 0), kind,
                                   str(item.get("content", "")), groupno,
                                   item.get("lineno"), item.get("is_ocr_dc"), file, row))
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
