"""What an upload must do with each source document, given its history in the ledger.

The FX API only adds slips. Jobcan re-exports an edited document and simply drops a deleted
one, so a document already in FX can be *changed* (same key, new content hash) or *deleted*
(in the export's period and kind, but gone). With ``--corrections`` they are fixed the way an
accountant would by hand (赤黒訂正): a reversing slip — what FX holds, debit and credit swapped,
摘要 prefixed 「取消:」 — followed by the new version (for a deletion, the reversal alone).

Ledger records of one source document ``K`` form a chain: the original ``K``, then correction
groups ``K|取消n`` (reversal) and ``K|訂正n`` (replacement). A group is sent in one request, so
it is stored whole or not at all. The *effective* version — what FX holds now — is the last
replacement of a done group, nothing after a done reversal-only group, else the original.
"""

from __future__ import annotations

import math
from collections.abc import Sequence, Set
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import StrEnum
from typing import Any

import pandas as pd

from converter.config.settings import Settings
from converter.convert.pipeline import Conversion
from converter.convert.validate import cut_to_width
from converter.fx_rules import RCJ_SLIP_WIDTH
from converter.keys import correction_key, correction_number
from converter.ledger.ledger import DocumentInfo, DocumentRecord, Ledger
from converter.ledger.statuses import Role, Status

REVERSAL_PREFIX = "取消:"


class Verdict(StrEnum):
    """What the plan says of one source document of the export (or of the ledger, gone from it)."""

    TO_SEND = "to_send"  # new, or not in FX yet (連携待ち, エラー): sent
    DONE_SAME = "done_same"  # in FX as it is now: skipped
    CHANGED = "changed"  # in FX, but the export differs (not corrected in this run)
    DELETED = "deleted"  # in FX, gone from the export (not corrected in this run)
    UNKNOWN = "unknown"  # 要確認 or 連携中: never sent until the user resolves it
    CORRECT = "correct"  # in FX and changed or deleted: corrected in this run (--corrections)


@dataclass(frozen=True, slots=True)
class Send:
    """One ledger document the upload registers and sends."""

    info: DocumentInfo  # what is registered (``info.key`` is its ledger key)
    source: str = ""  # the export's document whose slips it sends ("" for a reversal)
    reverses: str = ""  # the ledger key whose slips (as FX holds them) it reverses ("" unless a reversal)

    @property
    def key(self) -> str:
        return self.info.key

    @property
    def parent(self) -> str:
        """The source document it belongs to (itself for an original)."""
        return self.info.parent or self.info.key


@dataclass
class Plan:
    sends: dict[str, Send] = field(default_factory=dict)  # ledger key → what is sent, in registering order
    units: list[tuple[str, ...]] = field(default_factory=list)  # keys that travel together (one request)
    to_send: tuple[str, ...] = ()  # source documents with something to send
    done_same: tuple[str, ...] = ()
    changed: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    unknown: tuple[str, ...] = ()
    correct: tuple[str, ...] = ()  # source documents corrected by this run

    def reversals(self) -> list[Send]:
        return [s for s in self.sends.values() if s.reverses]


def parse_day(text: str) -> date:
    """A date as typed on the command line: 2026-10-31 or 2026/10/31 (as Jobcan writes dates);
    ValueError with the Japanese reason."""
    for form in ("%Y-%m-%d", "%Y/%m/%d"):
        try:
            return datetime.strptime(text.strip(), form).date()
        except ValueError:
            pass
    raise ValueError(f"「{text}」は日付として読めません。2026-10-31 (または 2026/10/31) の形で指定してください")


def parse_period(text: str) -> tuple[date, date]:
    """``FROM:TO`` (dates as :func:`parse_day` reads them) as the export's 出力期間; ValueError
    with the Japanese reason."""
    try:
        first, last = (parse_day(part) for part in text.split(":"))
    except ValueError:
        raise ValueError("FROM:TO の形で指定してください (例 2026-10-01:2026-10-31)") from None
    if first > last:
        raise ValueError("開始日が終了日より後です")
    return first, last


@dataclass(frozen=True)
class Held:
    """``--corrections`` held back: it would reverse ``reversals`` of the ``done`` 連携完了
    documents the export was compared with, more than ``limit`` (settings.yaml:
    ``corrections_guard_percent`` % of them or ``corrections_guard_min``, whichever is larger)."""

    reversals: int
    done: int
    limit: int
    percent: float
    minimum: int

    def message(self) -> str:
        percent = f"{self.percent:g}"
        return (f"取消仕訳の送信を保留しました: --corrections で連携完了の帳票 {self.reversals} 件を"
                "取り消すことになります"
                f" (この書出と比べた連携完了 {self.done} 件のうち。上限は {self.limit} 件 = {percent}% か"
                f" {self.minimum} 件の多い方)。書出が一部だけ (取引先や出力取引を絞った書出) か、--period が書出の"
                "出力期間と違う可能性があります。何も送信していません。書出と --period を確かめ、意図どおりなら"
                " --yes を付けて再実行してください")


def mass_reversal(plan: Plan, settings: Settings) -> Held | None:
    """The guard against a partial export or a wrong ``--period`` with ``--corrections``: what to
    say when the plan reverses more 連携完了 documents than the settings allow (None: fine)."""
    reversed_docs = len({s.parent for s in plan.reversals()})
    done = len(plan.done_same) + len(set(plan.changed) | set(plan.deleted))
    percent, minimum = settings.corrections_guard_percent, settings.corrections_guard_min
    limit = max(minimum, math.floor(done * percent / 100))
    if reversed_docs <= limit:
        return None
    return Held(reversed_docs, done, limit, percent, minimum)


def _infos(docs: pd.DataFrame) -> dict[str, DocumentInfo]:
    # Columns as lists: iterating a str-dtype column (itertuples) goes through pandas element by
    # element, ~5 µs a value, which made this 5 s for a month of 750k documents.
    columns = (docs[c].tolist() for c in ("doc", "content_hash", "kind", "doc_no", "date", "debit"))
    return {str(d): DocumentInfo(key=str(d), content_hash=str(h), kind=str(k), doc_no=str(n), ymd=str(y),
                                 amount=int(a))
            for d, h, k, n, y, a in zip(*columns, strict=True)}


def _groups(chain: Sequence[DocumentRecord]) -> list[list[DocumentRecord]]:
    """Correction groups in order (the original is ``chain[0]``)."""
    by_number: dict[int, list[DocumentRecord]] = {}
    for record in chain[1:]:
        by_number.setdefault(correction_number(record.key), []).append(record)
    return [by_number[n] for n in sorted(by_number)]


def _held_in(chain: list[DocumentRecord], first: str, last: str) -> bool:
    """Whether the version FX holds now (or, reversed already, the original) is dated first..last."""
    held = _effective(chain, _groups(chain)) or chain[0]
    return first <= held.ymd <= last


def _effective(chain: Sequence[DocumentRecord], groups: list[list[DocumentRecord]]) -> DocumentRecord | None:
    """What FX holds after the given (done) groups: None when the last one only reversed."""
    current: DocumentRecord | None = chain[0]
    for group in groups:
        replacement = [r for r in group if r.role == Role.REPLACEMENT]
        current = replacement[0] if replacement else None
    return current


def plan_documents(conversion: Conversion, ledger: Ledger, *, only_errors: bool = False,
                   corrections: bool = False, period: tuple[date, date] | None = None,
                   verdicts_only: bool = False, known: Set[str] | None = None) -> Plan:
    """``period``: the export's 出力期間 as the user chose it in Jobcan. The file does not record
    it, so without it the period is taken as the first to the last date in the export.

    ``verdicts_only`` (preview): the verdicts without the units for the documents the ledger has
    never seen — nearly all of a month, and each one's :class:`DocumentInfo` is only needed to send it.
    ``known``: which of the export's documents the ledger has records of (:meth:`Ledger.known`),
    when the caller has asked already; the others are not looked up again.
    """
    plan = Plan()
    docs = conversion.documents
    keys: list[str] = [str(d) for d in docs["doc"].tolist()]
    vanished: list[str] = []
    if len(docs):
        kinds = set(docs["kind"].unique().tolist())
        first, last = (p.isoformat() for p in period) if period else (str(docs["date"].min()),
                                                                        str(docs["date"].max()))
        vanished = [r.key for r in ledger.vanished(keys, ymd_from=first, ymd_to=last, kinds=kinds)]
    chains = ledger.chains([*(keys if known is None else [k for k in keys if k in known]), *vanished])
    if vanished:  # a document re-dated out of the period (corrected since) is not missing from it
        vanished = [k for k in vanished if _held_in(chains[k], first, last)]
    export = _infos(docs[docs["doc"].isin(list(chains))] if verdicts_only else docs)
    outcome: dict[Verdict, list[str]] = {v: [] for v in Verdict}
    for key in [*keys, *vanished]:
        chain = chains.get(key)
        if chain is None:  # new to the ledger (every vanished key has a chain)
            if not only_errors:
                outcome[Verdict.TO_SEND].append(key)
                if not verdicts_only:
                    _add_new(plan, key, export[key])
            continue
        here = export.get(key)
        verdict = _decide(key, here, chain, plan, only_errors, corrections)
        if verdict:
            outcome[verdict].append(key)
            if verdict == Verdict.CORRECT:
                outcome[Verdict.CHANGED if here else Verdict.DELETED].append(key)
    plan.to_send = tuple(dict.fromkeys(outcome[Verdict.TO_SEND] + outcome[Verdict.CORRECT]))
    plan.done_same, plan.changed, plan.deleted = (tuple(outcome[v]) for v in (Verdict.DONE_SAME, Verdict.CHANGED,
                                                                              Verdict.DELETED))
    plan.unknown, plan.correct = tuple(outcome[Verdict.UNKNOWN]), tuple(outcome[Verdict.CORRECT])
    return plan


def _decide(key: str, here: DocumentInfo | None, chain: list[DocumentRecord], plan: Plan, only_errors: bool,
            corrections: bool) -> Verdict | None:
    """The verdict on one source document the ledger has records of (None: nothing to say); adds the
    units to send to ``plan``."""
    groups = _groups(chain)
    last = groups[-1] if groups else [chain[0]]
    statuses = {r.status for r in last}
    if statuses & {Status.UNKNOWN, Status.SENDING}:
        return Verdict.UNKNOWN
    if statuses & {Status.PENDING, Status.ERROR}:
        if only_errors and Status.ERROR not in statuses:
            return None
        if not groups:
            if here is None:  # never reached FX and now gone from the export: nothing to send
                return None
            _add_new(plan, key, here)
            return Verdict.TO_SEND
        return _resend_group(key, here, chain, groups, plan)
    effective = _effective(chain, groups)
    if here is not None and effective is not None and effective.content_hash == here.content_hash:
        return Verdict.DONE_SAME
    if here is None and effective is None:
        return None  # deleted before, and reversed already
    if not corrections or only_errors:
        return Verdict.CHANGED if here is not None else Verdict.DELETED
    number = len(groups) + 1
    members = []
    if effective is not None:
        members.append(Send(_reversal_info(key, effective, number), reverses=effective.key))
    if here is not None:
        members.append(Send(_replacement_info(key, here, number), source=key))
    _add(plan, members)
    return Verdict.CORRECT


def _resend_group(key: str, here: DocumentInfo | None, chain: list[DocumentRecord],
                  groups: list[list[DocumentRecord]], plan: Plan) -> Verdict:
    """A correction that did not reach FX: send the same group again (its reversal unchanged)."""
    before = _effective(chain, groups[:-1])
    members = []
    for record in groups[-1]:
        if record.role == Role.REVERSAL and before is not None:
            members.append(Send(_reversal_info(key, before, 0, record.key), reverses=before.key))
        elif record.role == Role.REPLACEMENT:
            if here is None:
                return Verdict.CHANGED  # its new version vanished from the export before it was sent
            members.append(Send(_replacement_info(key, here, 0, record.key), source=key))
    _add(plan, members)
    return Verdict.CORRECT


def _reversal_info(parent: str, reversed_: DocumentRecord, number: int, key: str = "") -> DocumentInfo:
    return DocumentInfo(key=key or correction_key(parent, "reversal", number), content_hash=reversed_.content_hash,
                        kind=reversed_.kind, doc_no=reversed_.doc_no, ymd=reversed_.ymd,
                        amount=-reversed_.amount, parent=parent, role=Role.REVERSAL)


def _replacement_info(parent: str, here: DocumentInfo, number: int, key: str = "") -> DocumentInfo:
    return DocumentInfo(key=key or correction_key(parent, "replacement", number), content_hash=here.content_hash,
                        kind=here.kind, doc_no=here.doc_no, ymd=here.ymd, amount=here.amount, parent=parent,
                        role=Role.REPLACEMENT)


def _add_new(plan: Plan, key: str, info: DocumentInfo) -> None:
    """A document sent as itself (nearly every one of a month)."""
    plan.sends[key] = Send(info, source=key)
    plan.units.append((key,))


def _add(plan: Plan, members: list[Send]) -> None:
    """A correction group: its members travel together."""
    for send in members:
        plan.sends[send.key] = send
    plan.units.append(tuple(m.key for m in members))


def reversal_slips(posted: list[dict[str, Any]], journo_read: int, on: date | None) -> list[dict[str, Any]]:
    """What FX holds, turned around: debit ↔ credit, 摘要 prefixed 「取消:」, a new journo_read."""
    slips = []
    for slip in posted:
        head = {k: v for k, v in slip.items() if k not in ("ymd_tr", "journo", "journo_read", "detail")}
        details = []
        for line in slip["detail"]:
            flipped = {**line, "is_ocr_dc": 1 - int(line["is_ocr_dc"])}
            flipped["rcj_slip"] = cut_to_width(REVERSAL_PREFIX + str(line.get("rcj_slip", "")), RCJ_SLIP_WIDTH)
            details.append(flipped)
        slips.append({"ymd_tr": on.isoformat() if on else slip["ymd_tr"], "journo_read": str(journo_read),
                      **head, "detail": details})
    return slips
