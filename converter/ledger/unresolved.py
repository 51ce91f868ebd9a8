"""要確認 (unknown) documents as the accountant works through them.

A request whose answer never came may or may not be stored in FX, and the FX API cannot be asked.
The accountant looks in FX and answers with ``converter resolve`` (see :meth:`Ledger.resolve`).
This module gives what that needs: each 要確認 document with what to look for in FX
(:func:`unresolved`), and the documents a ``resolve`` names, by key or by 連携番号 (:func:`targets`).
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from converter import messages
from converter.errors import InputError, LedgerError
from converter.ledger.ledger import DocumentRecord, Ledger
from converter.ledger.records import shorten

#: Where a 要確認 came from: this run's request got no answer; an earlier run's did not; or a run
#: was killed while sending (recovered at the start of this one).
Origin = Literal["this_run", "earlier", "interrupted"]
ORIGIN_LABELS: dict[str, str] = {"this_run": "今回の送信", "earlier": "前回までの送信", "interrupted": "中断した送信"}


@dataclass(frozen=True)
class Unresolved:
    """One 要確認 document and what to check in FX for it."""

    key: str
    number: int  # 連携番号 (journo_read) FX got
    fiscal_year: int  # of its numbers (0: numbered before per-year numbering)
    journo: int | None  # 伝票番号, when the ledger issued one
    ymd: str
    amount: int
    request: int  # the ledger's batch id of the request it was last sent in (0: not known)
    sent_at: str  # when that request was sent (Japan time, ISO)
    request_size: int  # documents in that request
    origin: Origin
    reason: str  # what happened, as the accountant reads it
    technical: str  # the stored message as it is (technical names included): --format json only

    @property
    def check(self) -> str:
        """What to look for in FX, in one sentence."""
        journo = f" / 伝票番号(journo) {self.journo}" if self.journo else ""
        text = messages.UNRESOLVED_CHECK.format(number=self.number, journo=journo, ymd=self.ymd or "-",
                                                amount=self.amount)
        if self.request and self.request_size > 1:
            text += "。" + messages.UNRESOLVED_SAME_REQUEST.format(batch=self.request, size=self.request_size)
        return text


def unresolved(ledger: Ledger, keys: Sequence[str], origin: dict[str, Origin] | None = None) -> list[Unresolved]:
    """The 要確認 documents among ``keys`` (in that order), each with what to check in FX.
    ``origin``: where each came from (default ``earlier``)."""
    records = ledger.get(keys)
    sent = ledger.requests_of(keys)
    out = []
    for key in keys:
        r = records.get(key)
        if r is None or r.status != "unknown":
            continue
        request, at, size = sent.get(key, (0, r.updated_at, 0))
        out.append(Unresolved(key, r.number, r.fy, r.journo, r.ymd, r.amount, request, at, size,
                              (origin or {}).get(key, "earlier"), messages.plain(r.last_message), r.last_message))
    return out


def read_targets(path: Path) -> list[str]:
    """The keys or 連携番号 of a ``resolve --from`` file: one a line; blank lines and lines starting
    with ``#`` are skipped (UTF-8 with or without BOM, else CP932: a list saved by Excel or Notepad)."""
    try:
        data = path.read_bytes()
    except OSError as err:
        raise InputError(f"一覧ファイルを読めません ({err.strerror or err})。パスを確認してください",
                         file=str(path)) from None
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        try:
            text = data.decode("cp932")
        except UnicodeDecodeError:
            raise InputError("一覧ファイルの文字コードが UTF-8 でも CP932 でもありません。"
                             "帳票キーか連携番号を 1 行に 1 つ書いたテキストにしてください", file=str(path)) from None
    return [line.strip() for line in text.splitlines() if line.strip() and not line.lstrip().startswith("#")]


def targets(ledger: Ledger, tokens: Iterable[str]) -> list[str]:
    """The ledger keys ``tokens`` name: a token of digits only (full-width too) is a 連携番号
    (journo_read), anything else a 帳票キー (取引種別|帳票番号). A 連携番号 is looked up among the
    要確認 documents; one that two fiscal years share is refused (give the key instead)."""
    tokens = list(dict.fromkeys(tokens))
    numbers = {t: int(n) for t in tokens if (n := unicodedata.normalize("NFKC", t)).isdigit()}
    if not numbers:
        return tokens
    by_number: dict[int, list[DocumentRecord]] = {}
    for r in ledger.documents("unknown"):
        by_number.setdefault(r.number, []).append(r)
    missing = [t for t, n in numbers.items() if n not in by_number]
    if missing:
        found = {r.number: r for r in ledger.documents() if r.number in {numbers[t] for t in missing}}
        details = [f"{t} ({found[numbers[t]].key}: {found[numbers[t]].status_label})" if numbers[t] in found
                   else f"{t} (台帳にありません)" for t in missing]
        raise LedgerError(f"要確認の帳票にない連携番号です: {shorten(details)}。"
                          "converter history --status 要確認 で連携番号を確認してください", file=str(ledger.path))
    shared = [t for t, n in numbers.items() if len(by_number[n]) > 1]
    if shared:
        keys = [f"{t} ({'・'.join(r.key for r in by_number[numbers[t]])})" for t in shared]
        raise LedgerError(f"連携番号が複数の年度の要確認の帳票にあります: {shorten(keys)}。"
                          "帳票キーで指定してください", file=str(ledger.path))
    return list(dict.fromkeys(by_number[numbers[t]][0].key if t in numbers else t for t in tokens))


# The FX reference is silent on whether a request is stored atomically (it documents 201, and a 400
# that lists errors); like corrections (a reversal and its new version in one request), answering
# for a whole request assumes all or nothing. The README says so next to `resolve --request`.
def in_requests(ledger: Ledger, requests: Iterable[int]) -> list[str]:
    """The 要確認 documents sent in the given requests (the 要求 # the summary, the workbook's 要確認
    sheet and :class:`Unresolved` show). A number that names no request with 要確認 documents is refused."""
    wanted = list(dict.fromkeys(requests))
    if not wanted:
        return []
    keys = [r.key for r in ledger.documents("unknown")]
    sent = ledger.requests_of(keys)
    chosen = [k for k in keys if k in sent and sent[k][0] in wanted]
    found = {sent[k][0] for k in chosen}
    missing = [f"#{r}" for r in wanted if r not in found]
    if missing:
        raise LedgerError(f"要確認の帳票がない要求です: {shorten(missing)}。"
                          "要求の番号は upload の送信結果か確認用ブックの要確認シートにあります", file=str(ledger.path))
    return chosen
