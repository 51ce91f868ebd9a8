"""Ledger records, statuses and the SQLite schema (the :class:`~converter.ledger.Ledger` uses them)."""

from __future__ import annotations

import getpass
import os
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from converter.errors import LedgerError

SCHEMA_VERSION: Final = 2  # 2: parent/role/posted for corrections (赤黒訂正)
MAX_JOURNO_READ: Final = 999_999  # journo_read: 6 half-width digits
MAX_JOURNO: Final = 99_999  # journo: 5 half-width digits

STATUSES: Final = ("pending", "sending", "done", "error", "unknown")
STATUS_LABELS: Final[dict[str, str]] = {
    "pending": "連携待ち", "sending": "連携中", "done": "連携完了", "error": "エラー",
    "unknown": "要確認",
}
ACTION_LABELS: Final[dict[str, str]] = {  # 操作種別 for the history display
    "register": "登録", "send": "連携", "retry": "再連携", "done": "連携完了", "error": "エラー",
    "unknown": "要確認", "unsent": "未送信に戻す", "recover": "中断からの復旧",
    "resolve": "確認結果の登録", "forget": "削除",
}

CHUNK = 500  # keys per IN (...) query, well under SQLite's parameter limit

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    key TEXT PRIMARY KEY,
    journo_read INTEGER NOT NULL UNIQUE CHECK (journo_read BETWEEN 1 AND {MAX_JOURNO_READ}),
    content_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending','sending','done','error','unknown')),
    attempts INTEGER NOT NULL DEFAULT 0, last_message TEXT NOT NULL DEFAULT '',
    journo INTEGER CHECK (journo IS NULL OR journo BETWEEN 1 AND {MAX_JOURNO}),
    kind TEXT NOT NULL DEFAULT '', doc_no TEXT NOT NULL DEFAULT '', ymd TEXT NOT NULL DEFAULT '',
    amount INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    operator TEXT NOT NULL DEFAULT '', parent TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL DEFAULT 'original', posted TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS documents_status ON documents (status);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, at TEXT NOT NULL,
    action TEXT NOT NULL, status TEXT NOT NULL, operator TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '');
CREATE INDEX IF NOT EXISTS events_key ON events (key);
"""

DOC_COLUMNS = (
    "key, journo_read, content_hash, status, attempts, last_message, journo, kind, doc_no,"
    " ymd, amount, created_at, updated_at, operator, parent, role"
)
#: Columns added after version 1, with their definitions (migrated in place on open).
V2_COLUMNS = {
    "parent": "TEXT NOT NULL DEFAULT ''",
    "role": "TEXT NOT NULL DEFAULT 'original'",
    "posted": "TEXT NOT NULL DEFAULT ''",
}
ROLES: Final = ("original", "reversal", "replacement")


def default_ledger_path(mappings_dir: Path, ocode: str) -> Path:
    """``<mappings_dir>/../ledgers/<ocode>.sqlite``: one ledger per company, beside the mappings."""
    return Path(mappings_dir).parent / "ledgers" / f"{ocode}.sqlite"


def document_key(kind: str, doc_no: str, ymd: str) -> str:
    """A document's ledger key: 取引種別 | 帳票番号 | 取引日 (callers may build their own)."""
    return f"{kind}|{doc_no}|{ymd}"


@dataclass(frozen=True)
class DocumentInfo:
    """What the caller knows of a source document (``ymd`` should sort, e.g. YYYYMMDD)."""

    key: str
    content_hash: str
    kind: str = ""
    doc_no: str = ""
    ymd: str = ""
    amount: int = 0
    parent: str = ""  # for a correction: the source document it corrects
    role: str = "original"  # original | reversal (取消) | replacement (訂正後)


@dataclass(frozen=True)
class DocumentRecord:
    """One row of the ledger."""

    key: str
    journo_read: int
    content_hash: str
    status: str
    attempts: int
    last_message: str
    journo: int | None
    kind: str
    doc_no: str
    ymd: str
    amount: int
    created_at: str
    updated_at: str
    operator: str
    parent: str = ""
    role: str = "original"

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]


@dataclass(frozen=True)
class Event:
    """One line of a document's API連携履歴; ``status``: the status after (``""``: forgotten)."""

    key: str
    at: str
    action: str
    status: str
    operator: str
    message: str


@dataclass(frozen=True)
class Classification:
    """Incoming documents by what an upload must do with them (each tuple in input order)."""

    new: tuple[str, ...]  # not in the ledger: register and send
    unsent: tuple[str, ...]  # pending or error: send
    done_same: tuple[str, ...]  # done with the same content: skip
    changed: tuple[str, ...]  # done, content differs: report, never resend silently
    unknown: tuple[str, ...]  # 要確認: skip and report until resolved
    sending: tuple[str, ...]  # only if recover() was not run: skip and report

    @property
    def to_send(self) -> tuple[str, ...]:
        return self.new + self.unsent


def chunks(items: Sequence[str]) -> Iterator[Sequence[str]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def shorten(keys: Iterable[str], limit: int = 5) -> str:
    keys = list(keys)
    text = ", ".join(keys[:limit])
    return text + (f" ほか {len(keys) - limit} 件" if len(keys) > limit else "")


def unique(keys: Iterable[str]) -> list[str]:
    seen: set[str] = set()
    out: list[str] = []
    dup: list[str] = []
    for key in keys:
        if not isinstance(key, str) or not key:
            raise LedgerError(f"台帳のキーが不正です: {key!r}")
        (dup if key in seen else out).append(key)
        seen.add(key)
    if dup:
        raise LedgerError(f"同じ帳票が重複して指定されました: {shorten(dup)}")
    return out


def current_user() -> str:
    try:
        return getpass.getuser()
    except Exception:  # no login name in a container: fall back to the uid
        return f"uid{os.getuid()}"
