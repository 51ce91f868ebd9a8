"""The review workbook's sheets after an upload: 要確認 (what to check in FX) and FX応答 (every answer).

Tables as data (columns and rows); :mod:`converter.review.workbook` writes them like its other list
sheets. A column is ``(label, FX field, kind, widest)`` as ``workbook._Col`` takes it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

import pandas as pd

from converter.clock import shown
from converter.fx.answers import FXMessage, MessageKind, RequestAnswer
from converter.keys import parse
from converter.ledger.unresolved import ORIGIN_LABELS, Unresolved
from converter.messages import number_ranges, plain

Column = tuple[str, str, str, int]

UNRESOLVED_COLUMNS: tuple[Column, ...] = (
    ("帳票キー", "", "text", 40), ("連携番号", "journo_read", "number", 12), ("年度", "", "number", 8),
    ("伝票番号", "journo", "number", 12), ("取引日", "ymd_tr", "date", 12), ("金額", "", "amount", 16),
    ("要求", "送信の番号", "number", 10), ("送信日時", "日本時間", "text", 20), ("同じ要求の帳票", "", "number", 14),
    ("区分", "", "text", 16), ("何が起きたか", "", "wrap", 50), ("FX で確認すること", "", "wrap", 80),
    ("登録済み→", "resolve --sent", "text", 14),
)

#: What each request's answer meant (ImportResult.outcome), as the FX応答 sheet says it.
OUTCOME_LABELS = {"stored": "登録", "rejected": "拒否", "ambiguous": "応答なし", "not_sent": "未送信",
                  "refused": "拒否"}
_OUTCOME_TEXT = {
    "stored": "FX が登録しました",
    "rejected": "FX が要求ごと拒否しました (何も登録されていません)。指摘された帳票はエラー、他は送り直しました",
    "ambiguous": "応答がありませんでした。登録されたか分からないため、帳票は要確認です (要確認シート)",
    "not_sent": "FX に届かなかったか、FX が受け付けませんでした (何も登録されていません)。帳票はエラーです",
    "refused": "FX が要求を拒否しました (認証・権限・形式)。送信を中止しました",
}
RESPONSE_COLUMNS: tuple[Column, ...] = (
    ("種別", "", "text", 60), ("連携番号", "journo_read", "number", 60), ("帳票番号", "", "text", 60),
    ("取引日", "", "date", 60), ("伝票", "groupno", "number", 60), ("明細", "lineno", "number", 60),
    ("貸借", "is_ocr_dc", "text", 60), ("ファイル", "", "text", 40), ("行", "", "number", 60),
    ("内容", "", "wrap", 80), ("要求", "送信の番号", "number", 60),
)
HOT_KINDS = ("エラー", "拒否", "応答なし", "未送信")


def unresolved_rows(rows: Sequence[Unresolved]) -> list[tuple[Any, ...]]:
    """One row per 要確認 document: where to look in FX and what to answer."""
    return [(u.key, u.number, u.fiscal_year or None, u.journo, _date(u.ymd), u.amount, u.request or None,
             _when(u.sent_at), u.request_size or None, ORIGIN_LABELS[u.origin], u.reason, u.check,
             f"converter resolve '{u.key}' --sent") for u in rows]


def response_rows(messages: Sequence[FXMessage], answers: Sequence[RequestAnswer] | None,
                  day: dict[str, str]) -> list[tuple[Any, ...]]:
    """FX's answer to every request of the run (a row each, then its messages: エラー / みなし), so the
    sheet says what happened even when FX had nothing to add. Without ``answers`` (a caller with
    messages only): the messages."""
    if answers is None:
        return [_message_row(m, day, None) for m in messages]
    if not answers:
        return [("送信なし", None, None, None, None, None, None, None, None,
                 "この実行では FX に何も送信していません (送信する帳票がありませんでした)", None)]
    out: list[tuple[Any, ...]] = []
    covered = 0
    for a in answers:
        status = f" ({a.status})" if a.status else ""
        numbers = "連携番号 " + number_ranges(a.numbers)
        start, end = a.messages
        counts = Counter(m.kind for m in messages[start:end])
        said = "".join(f"、{label} {counts[kind]} 件" for kind, label
                       in ((MessageKind.ERROR, "エラー"), (MessageKind.INFORMATION, "みなし処理")) if counts[kind])
        text = f"帳票 {a.documents} 件 ({numbers}): {_OUTCOME_TEXT.get(a.outcome, a.outcome)}{said}"
        if a.message and a.outcome != "stored":
            text += f" — {plain(a.message)}"
        first = min(a.numbers, default=None)
        out.append((OUTCOME_LABELS.get(a.outcome, a.outcome) + status, first, None, None, None, None, None,
                    None, None, text, a.number))
        out += [_message_row(m, day, a.number) for m in messages[start:end]]
        covered = max(covered, end)
    out += [_message_row(m, day, None) for m in messages[covered:]]
    return out


def _message_row(r: FXMessage, day: dict[str, str], request: int | None) -> tuple[Any, ...]:
    side = {1: "借", 0: "貸"}.get(r.is_ocr_dc) if r.is_ocr_dc is not None else None
    when = _date(day.get(r.doc) or parse(r.doc).ymd) if r.doc else None  # ("": a text that is no key)
    return ("エラー" if r.kind == MessageKind.ERROR else "みなし", r.journo_read or None, r.doc_no, when,
            r.groupno, r.lineno, side, r.file or None, r.row, r.content, request)


def _when(text: str) -> str | None:
    return shown(text) if text else None


def _date(text: str) -> Any:
    """An ISO date as a real date (Excel sorts and filters it), or the text when it is not one."""
    if not text:
        return None
    try:
        return pd.Timestamp(text).date()
    except ValueError:
        return text
