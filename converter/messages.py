"""Japanese texts shown in more than one place (CLI, batch summary, review workbook), each once.

A text used in one place only stays next to its use; a text two places show lives here, so the
accountant reads the same words for the same thing everywhere.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any, Final

#: 要確認: what the accountant does next, in one line (upload summary, history, workbook).
UNRESOLVED_NEXT_STEP: Final = (
    "次の手順: converter history --status 要確認 --format keys > 要確認.txt で一覧を作り、FX で各帳票の"
    "連携番号の仕訳を探して、あった帳票は converter resolve --from 登録済み.txt --sent、"
    "なかった帳票は converter resolve --from 未登録.txt --not-sent (次の upload で送信)")
#: What to look for in FX for one 要確認 document.
UNRESOLVED_CHECK: Final = "FX の仕訳で 連携番号(journo_read) {number}{journo} 取引日 {ymd} 金額 {amount:,} 円を探す"
#: A request is stored whole or not at all (a 400 rejects it whole): one look answers for all of it.
UNRESOLVED_SAME_REQUEST: Final = "同じ送信 (要求 #{batch}) の {size} 件は全部登録済みか全部未登録のどちらかです"

#: 要確認 of one request are all in FX or none is: one look in FX per request answers for all of it.
UNRESOLVED_BY_REQUEST: Final = (
    "送信 (要求) ごとに全部登録済みか全部未登録のどちらかです。各要求の 1 件を FX で探せば、"
    "その要求の全件の答えになります (converter resolve --request 要求番号 --sent / --not-sent): {requests}")


def number_ranges(numbers: Iterable[int], limit: int = 5) -> str:
    """``1〜3, 5, 7〜9``: runs of consecutive numbers (the first ``limit`` runs, then how many more)."""
    runs: list[list[int]] = []
    for n in sorted(set(numbers)):
        if runs and n == runs[-1][1] + 1:
            runs[-1][1] = n
        else:
            runs.append([n, n])
    text = ", ".join(f"{a}〜{b}" if b > a else str(a) for a, b in runs[:limit])
    return text + (f" ほか {len(runs) - limit} 区間" if len(runs) > limit else "")


#: Technical names of network failures (httpx's exception classes) that earlier texts carried in
#: brackets: kept in the ledger and in --format json, never shown in what the accountant reads.
_TECHNICAL = re.compile(r"\s*[(\[](?:httpx\.)?([A-Z][A-Za-z]*(?:Error|Timeout|Exception))[)\]]")
_SIDES: Final = {1: "借方", 0: "貸方"}


def technical_names(text: str) -> list[str]:
    """The exception names a stored message carries (``RemoteProtocolError``…), for --format json."""
    return _TECHNICAL.findall(text)


def plain(text: str) -> str:
    """A stored message as the accountant reads it: without technical names, and FX's answers
    (a JSON list in the ledger, see :class:`~converter.ledger.answers.Answers`) as sentences."""
    text = _TECHNICAL.sub("", text)
    if text.startswith("[{") and text.endswith("}]"):
        try:
            answers = json.loads(text)
        except ValueError:
            return text
        if isinstance(answers, list) and all(isinstance(a, dict) for a in answers):
            return " / ".join(_answer(a) for a in answers)
    return text.replace("送信後に応答がありません。", "送信後に応答がありませんでした。")


def _answer(answer: dict[str, Any]) -> str:
    """One FX message of a document: 「FX エラー: 内容 (借方 2 行目, in.csv:6行)」."""
    label = "FX エラー" if answer.get("kind") == "error" else "FX みなし処理"
    where = []
    dc, line = answer.get("is_ocr_dc"), answer.get("lineno")
    side = _SIDES.get(dc) if isinstance(dc, int) else None
    if isinstance(line, int) and not isinstance(line, bool):
        where.append(f"{side or ''}{' ' if side else ''}{line} 行目")
    elif side:
        where.append(side)
    source = str(answer.get("source") or "")
    if source:
        file, _, row = source.rpartition(":")
        where.append(f"{file}:{row}行" if file else source)
    return f"{label}: {answer.get('content', '')}" + (f" ({', '.join(where)})" if where else "")
