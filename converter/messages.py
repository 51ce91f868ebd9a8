"""Japanese texts shown in more than one place (CLI, batch summary, review workbook), each once.

A text used in one place only stays next to its use; a text two places show lives here, so the
accountant reads the same words for the same thing everywhere. Also here: the one mapping of an
exception that ended a run to what the accountant reads and the exit code (:func:`failure`), used
by the CLI's error trap and by each company of ``converter batch``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Final

from converter.errors import ConverterError, FXAuthError, ProblemsFound

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


# --------------------------------------------------------------------------- after an upload

#: A document in FX whose export changed since (report, batch summary, workbook 訂正 sheet).
CHANGED: Final = "変更あり"
CHANGED_WHY: Final = "連携後に内容が変わりました"
#: A document in FX gone from the export.
DELETED: Final = "削除あり"
DELETED_WHY: Final = "連携済みの帳票が書出から消えました"
#: A document corrected in this run (赤黒訂正).
CORRECTED: Final = "訂正済み"

# --------------------------------------------------------------------------- mapping tables

#: The mapping tables as the accountant knows them (workbook, masters).
TABLE_LABELS: Final[dict[str, str]] = {"accounts": "勘定科目", "tax": "税区分", "departments": "部門",
                                       "customers": "取引先"}

# --------------------------------------------------------------------------- failures

INTERNAL_ERROR: Final = "内部エラー"
INTERNAL_ERROR_HELP: Final = ("変換ツールの不具合です。入力ファイルは変更されていません。"
                              "CONVERTER_DEBUG=1 を付けて再実行した出力を添えて報告してください")


@dataclass(frozen=True)
class Failure:
    """What the accountant reads of an exception that ended a run, and the exit code it means."""

    text: str
    exit_code: int
    internal: bool = False  # a bug of ours (not the user's data, settings or FX)


def failure(err: Exception, *, token_env: str | None = None, technical: bool = False) -> Failure:
    """The one mapping of an exception to its message and exit code (exit codes: see errors.py).

    ``token_env``: the variable the token was read from, named for an authentication failure
    (in a batch each company has its own; FX's message names the default). ``technical``: keep
    the technical names (ConnectError …) a message carries (debugging, --format json); else the
    text is :func:`plain`."""
    if isinstance(err, ProblemsFound):
        return Failure(f"{err}。converter check で確認し、直してから送信してください", err.exit_code)
    if isinstance(err, FXAuthError) and token_env:
        return Failure(f"{err} (この会社のトークンの環境変数: {token_env})", err.exit_code)
    if isinstance(err, ConverterError):
        return Failure(str(err) if technical else plain(str(err)), err.exit_code)
    return Failure(f"{INTERNAL_ERROR}: {type(err).__name__}: {err} — {INTERNAL_ERROR_HELP}", 2, internal=True)
