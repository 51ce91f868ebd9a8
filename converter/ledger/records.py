"""Ledger records, statuses, the SQLite schema and how a ledger file is opened and written to
(the :class:`~converter.ledger.ledger.Ledger` uses them)."""

from __future__ import annotations

import getpass
import os
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Final, TypeVar

from converter.errors import LedgerError
from converter.fx_rules import MAX_JOURNO as MAX_JOURNO
from converter.fx_rules import MAX_JOURNO_READ as MAX_JOURNO_READ
from converter.keys import LEDGER_IDENTITY
from converter.ledger.lock import private_umask
from converter.ledger.numbering import (
    ID_CHECK,
    ID_SPAN,
    MIGRATED_FLAG,
    NUMBERING_SCHEMA,
    migrate_numbering,
)
from converter.ledger.safety import damaged
from converter.ledger.statuses import ACTION_LABELS as ACTION_LABELS
from converter.ledger.statuses import ROLES as ROLES
from converter.ledger.statuses import STATUS_LABELS as STATUS_LABELS
from converter.ledger.statuses import STATUSES as STATUSES
from converter.ledger.statuses import Role, Status

T = TypeVar("T")

#: 2: parent/role/posted for corrections (赤黒訂正); 3: batches (one row per request); 4: numbers per fiscal
#: year (ledger_numbering: table numbering, ids fy * 10⁶ + journo_read). Document identity (meta
#: ``identity``) is a flagged step of its own (an earlier release reads its keys as they are).
SCHEMA_VERSION: Final = 4


CHUNK = 500  # keys per IN (...) query, well under SQLite's parameter limit
PAGE_SIZE = 16_384  # bytes per SQLite page of a new ledger
CACHE_KIB = 65_536  # SQLite page cache of a writing ledger (64 MB at most)
EVENT_BATCH = 256  # history lines per INSERT (× 6 values, within SQLite's usual 32766)

#: Version 3: a request's documents move together as one batch (see ledger_batches). Kept apart
#: from SCHEMA so that it can be added to an older ledger in place. Few indexes: each is one more
#: page written at every commit. ``members`` is keyed by journo_read, which a request's documents
#: mostly take in order (its lines land on one or two pages) and which is never reused.
#: ``documents_parent`` holds the corrections only (an original's parent is empty).
BATCH_SCHEMA = """
CREATE TABLE IF NOT EXISTS batches (
    id INTEGER PRIMARY KEY,
    status TEXT NOT NULL CHECK (status IN ('pending','sending','done','error','unknown')),
    folded INTEGER NOT NULL DEFAULT 0, retries TEXT NOT NULL DEFAULT '[]',
    sent_at TEXT NOT NULL, sent_by TEXT NOT NULL, sent_event INTEGER NOT NULL,
    answered_at TEXT NOT NULL DEFAULT '', answered_by TEXT NOT NULL DEFAULT '',
    answer_event INTEGER NOT NULL DEFAULT 0,
    message TEXT NOT NULL DEFAULT '', message_lengths TEXT, messages BLOB, answers BLOB);
CREATE TABLE IF NOT EXISTS batch_docs (
    batch INTEGER PRIMARY KEY, keys TEXT NOT NULL, journos TEXT, infos TEXT, slips TEXT, body BLOB);
CREATE TABLE IF NOT EXISTS members (
    journo_read INTEGER NOT NULL, batch INTEGER NOT NULL, pos INTEGER NOT NULL,
    PRIMARY KEY (journo_read, batch)) WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS documents_parent ON documents (parent) WHERE parent != '';
"""

SCHEMA = f"""
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS documents (
    key TEXT PRIMARY KEY,
    journo_read INTEGER NOT NULL UNIQUE {ID_CHECK},
    content_hash TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('pending','sending','done','error','unknown')),
    attempts INTEGER NOT NULL DEFAULT 0, last_message TEXT NOT NULL DEFAULT '',
    journo INTEGER CHECK (journo IS NULL OR journo BETWEEN 1 AND {MAX_JOURNO}),
    kind TEXT NOT NULL DEFAULT '', doc_no TEXT NOT NULL DEFAULT '', ymd TEXT NOT NULL DEFAULT '',
    amount INTEGER NOT NULL DEFAULT 0, created_at TEXT NOT NULL, updated_at TEXT NOT NULL,
    operator TEXT NOT NULL DEFAULT '', parent TEXT NOT NULL DEFAULT '',
    role TEXT NOT NULL DEFAULT 'original', posted TEXT NOT NULL DEFAULT '',
    synced INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS documents_status ON documents (status);
CREATE TABLE IF NOT EXISTS events (
    id INTEGER PRIMARY KEY AUTOINCREMENT, key TEXT NOT NULL, at TEXT NOT NULL,
    action TEXT NOT NULL, status TEXT NOT NULL, operator TEXT NOT NULL,
    message TEXT NOT NULL DEFAULT '', batch INTEGER NOT NULL DEFAULT 0);
CREATE INDEX IF NOT EXISTS events_key ON events (key) WHERE key != '';
{BATCH_SCHEMA}{NUMBERING_SCHEMA}"""

#: Columns added after version 1, with their definitions (migrated in place on open).
ADDED_COLUMNS = {
    ("documents", "parent"): "TEXT NOT NULL DEFAULT ''",  # version 2
    ("documents", "role"): "TEXT NOT NULL DEFAULT 'original'",
    ("documents", "posted"): "TEXT NOT NULL DEFAULT ''",
    ("documents", "synced"): "INTEGER NOT NULL DEFAULT 0",  # version 3
    ("events", "batch"): "INTEGER NOT NULL DEFAULT 0",
}


def connect_rw(path: Path, ocode: str, *, create: bool = False) -> sqlite3.Connection:
    """Open an existing ledger file for writing (migrating an older one), or with ``create`` make a
    new one with its schema (never over an existing file). A file that is empty or has no ledger
    tables raises ``LedgerDamaged`` (never read as a new ledger)."""
    # umask covers the -wal/-shm side files; SQLite also copies the main file's mode.
    with private_umask():
        if create:
            path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))
        # mode=rw: SQLite must not create a missing file (it may have vanished since it was looked at)
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=rw", uri=True, isolation_level=None,
                               timeout=10.0)
        try:
            # A new ledger gets 16 KB pages (no effect on an existing one: the size is fixed once
            # written). Every request commits its body (~400 KB) and SQLite writes its log a page at
            # a time: larger pages mean a quarter of the system calls for the same bytes.
            if create:
                conn.execute(f"PRAGMA page_size={PAGE_SIZE}")
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=FULL")
            # A month's ledger outgrows SQLite's default 2 MB page cache (each request keeps its
            # body); re-reading its pages from the OS costs CPU at every transition.
            # Memory only, used as pages are touched: no effect on what is durable.
            conn.execute(f"PRAGMA cache_size=-{CACHE_KIB}")
            tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
            if create:
                conn.execute("BEGIN IMMEDIATE")
                for statement in SCHEMA.split(";"):
                    if statement.strip():
                        conn.execute(statement)
                init_meta(conn, ocode)
                conn.execute("COMMIT")
            elif "meta" not in tables or "documents" not in tables:
                what = "表が一つもありません" if not tables else "変換ツールの台帳の表がありません"
                raise damaged(path, f"台帳の形式ではありません: {what}")
            else:
                migrate(conn)
        except BaseException:
            conn.close()
            raise
    return conn


def _missing_columns(conn: sqlite3.Connection) -> dict[tuple[str, str], str]:
    have = {(table, r[1]) for table in ("documents", "events")
            for r in conn.execute(f"PRAGMA table_info({table})")}
    return {name: spec for name, spec in ADDED_COLUMNS.items() if name not in have}


def needs_upgrade(conn: sqlite3.Connection) -> bool:
    """Whether a ledger (with a meta table) lacks a step of :func:`migrate`."""
    flags = dict(conn.execute("SELECT name, value FROM meta WHERE name IN ('identity', ?)", (MIGRATED_FLAG,)))
    return (flags.get("identity") != LEDGER_IDENTITY or MIGRATED_FLAG not in flags
            or bool(_missing_columns(conn)))


def migrate(conn: sqlite3.Connection) -> None:
    """Older ledgers gain the correction columns (version 2), the batch tables (version 3),
    document identity 取引種別 + 帳票番号 (meta ``identity``, :mod:`converter.ledger.identity`) and
    numbering per fiscal year (version 4, meta ``numbering_per_fy``, :func:`migrate_numbering`) in
    one transaction; their rows otherwise stay as they are (a document outside every batch is read
    from its own row). Each step is idempotent and checked inside the transaction (two processes
    may open an old ledger at once)."""
    if not needs_upgrade(conn):
        return
    from converter.ledger.identity import migrate_identity  # (it reads batches: ledger_batches imports us)

    conn.execute("BEGIN IMMEDIATE")
    try:
        missing = _missing_columns(conn)
        for (table, name), spec in missing.items():
            conn.execute(f"ALTER TABLE {table} ADD COLUMN {name} {spec}")
        for statement in BATCH_SCHEMA.split(";"):
            if statement.strip():
                conn.execute(statement)
        migrate_identity(conn)
        migrate_numbering(conn)
        conn.execute("UPDATE meta SET value = ? WHERE name = 'schema_version'"
                     " AND CAST(value AS INTEGER) < ?", (str(SCHEMA_VERSION), SCHEMA_VERSION))
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise


def shadow_legacy(conn: sqlite3.Connection) -> None:
    """A read-only connection to a version 1–3 ledger reads it as a current one: temp views add the
    missing columns (with their defaults) and empty temp tables stand for the tables it lacks
    (batches, numbering). The temp schema shadows the main one, so the same queries work. Its
    per-year counters are read as a migration would start them (meta ``legacy_*`` absent: the
    old single counters stand for every year — see ledger_numbering)."""
    for table in ("documents", "events"):
        have = {r[1] for r in conn.execute(f"PRAGMA main.table_info({table})")}
        added = "".join(f", {spec.split('DEFAULT ')[1]} AS {name}"
                        for (t, name), spec in ADDED_COLUMNS.items() if t == table and name not in have)
        conn.execute(f"CREATE TEMP VIEW {table} AS SELECT *{added} FROM main.{table}")
    tables = {r[0] for r in conn.execute("SELECT name FROM main.sqlite_master WHERE type = 'table'")}
    for statement in (BATCH_SCHEMA + NUMBERING_SCHEMA).split(";"):
        name = statement.split("EXISTS", 1)[-1].split("(", 1)[0].strip()
        if statement.strip().startswith("CREATE TABLE") and name not in tables:
            conn.execute(statement.replace("CREATE TABLE IF NOT EXISTS", "CREATE TEMP TABLE"))


def init_meta(conn: sqlite3.Connection, ocode: str) -> None:
    """The counters and identity of a new ledger."""
    conn.executemany(
        "INSERT OR IGNORE INTO meta (name, value) VALUES (?, ?)",
        [("schema_version", str(SCHEMA_VERSION)), ("ocode", ocode), ("identity", LEDGER_IDENTITY),
         ("next_journo_read", "1"), ("next_journo", "1"), (MIGRATED_FLAG, "1")],
    )


def insert_events(conn: sqlite3.Connection, values: Sequence[tuple[str, str, str, str, str, str]]) -> None:
    """Append history lines (key, at, action, status, operator, message), in order.

    Multi-row INSERTs: one statement per row costs more than the row itself when a month's
    documents are registered, or part of a request moves alone. Ids follow the VALUES order. Batch
    sizes are powers of two, so only a handful of statement texts are ever compiled (and cached).
    """
    limit = conn.getlimit(sqlite3.SQLITE_LIMIT_VARIABLE_NUMBER) // 6
    start = 0
    while start < len(values):
        size = min(EVENT_BATCH, 1 << ((len(values) - start).bit_length() - 1))
        while size > limit:
            size //= 2
        conn.execute("INSERT INTO events (key, at, action, status, operator, message) VALUES "
                     + ",".join(("(?,?,?,?,?,?)",) * size), [x for row in values[start:start + size] for x in row])
        start += size


def refreshed(info: DocumentInfo | None) -> tuple[Any, ...]:
    """The stored details a send refreshes (all None, kept as they are, for a key without info)."""
    if info is None:
        return (None,) * 5
    return info.content_hash, info.kind, info.doc_no, info.ymd, int(info.amount)


def default_ledger_path(mappings_dir: Path, ocode: str) -> Path:
    """``<mappings_dir>/../ledgers/<ocode>.sqlite``: one ledger per company, beside the mappings."""
    return Path(mappings_dir).parent / "ledgers" / f"{ocode}.sqlite"


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
    role: Role = Role.ORIGINAL


@dataclass(frozen=True)
class DocumentRecord:
    """One row of the ledger (``journo_read``: its ledger id, see :attr:`number`)."""

    key: str
    journo_read: int
    content_hash: str
    status: Status
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
    role: Role = Role.ORIGINAL

    @property
    def status_label(self) -> str:
        return STATUS_LABELS[self.status]

    @property
    def number(self) -> int:
        """The 連携番号 (journo_read) FX got: unique within the fiscal year :attr:`fy`."""
        return self.journo_read % ID_SPAN

    @property
    def fy(self) -> int:
        """The fiscal year its numbers belong to (0: numbered before per-year numbering, or undated)."""
        return self.journo_read // ID_SPAN


@dataclass(frozen=True)
class Event:
    """One line of a document's API連携履歴; ``status``: the status after (``""``: forgotten)."""

    key: str
    at: str
    action: str
    status: str
    operator: str
    message: str


def chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), CHUNK):
        yield items[start : start + CHUNK]


def shorten(keys: Iterable[str], limit: int = 5) -> str:
    keys = list(keys)
    text = ", ".join(keys[:limit])
    return text + (f" ほか {len(keys) - limit} 件" if len(keys) > limit else "")


def unique(keys: Iterable[str]) -> list[str]:
    """The keys as a list, or LedgerError for an invalid or repeated one."""
    keys = list(keys)
    if set(map(type, keys)) <= {str}:
        distinct = set(keys)
        if len(distinct) == len(keys) and "" not in distinct:
            return keys  # the usual case, checked in C-speed passes (a request moves ~1000 keys)
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
