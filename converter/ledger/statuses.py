"""A ledger document's status and role: the values the ledger stores, and how the accountant
reads them. Their one home (the damage checks in :mod:`converter.ledger.safety` read them too)."""

from __future__ import annotations

from enum import StrEnum
from typing import Final


class Status(StrEnum):
    """Where a document stands towards FX (Jobcan's API連携一覧 plus our 要確認). The values are
    what the ledger file stores: never change one (a ledger written earlier must still read)."""

    PENDING = "pending"  # 連携待ち
    SENDING = "sending"  # 連携中
    DONE = "done"  # 連携完了
    ERROR = "error"  # エラー
    UNKNOWN = "unknown"  # 要確認


class Role(StrEnum):
    """What a ledger document is to its source document (stored, like :class:`Status`)."""

    ORIGINAL = "original"  # the source document itself
    REVERSAL = "reversal"  # 取消: what FX holds, turned around
    REPLACEMENT = "replacement"  # 訂正後: the new version


STATUSES: Final = tuple(Status)
ROLES: Final = tuple(Role)
#: Statuses as the accountant reads them (history, reports, the workbook).
STATUS_LABELS: Final[dict[str, str]] = {
    Status.PENDING: "連携待ち", Status.SENDING: "連携中", Status.DONE: "連携完了", Status.ERROR: "エラー",
    Status.UNKNOWN: "要確認",
}
#: 操作種別 (the history's action column) as the accountant reads them.
ACTION_LABELS: Final[dict[str, str]] = {
    "register": "登録", "send": "連携", "retry": "再連携", "done": "連携完了", "error": "エラー",
    "unknown": "要確認", "unsent": "未送信に戻す", "recover": "中断からの復旧",
    "resolve": "確認結果の登録", "forget": "削除", "migrate": "キー形式の移行",
}
_BY_VALUE: Final = {s.value: s for s in Status} | {r.value: r for r in Role}


def status_of(value: str) -> Status:
    """The stored text as a :class:`Status` (KeyError for a value the ledger never stores)."""
    found = _BY_VALUE[value]
    assert isinstance(found, Status)
    return found
