"""The ledger file: opening it (migrating, read-only), checking and backing it up, the run lock,
durable write transactions and the readers of its rows — what every
:class:`~converter.ledger.ledger.Ledger` operation stands on. Creating and restoring the file are
in :mod:`converter.ledger.install`; the statuses and their transitions in
:mod:`converter.ledger.ledger`, the queries in :mod:`converter.ledger.queries`; backups and the
damage checks in :mod:`converter.ledger.safety`.
"""

from __future__ import annotations

import contextlib
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any, Self

from converter import clock
from converter.errors import LedgerError, LedgerMissing
from converter.fx_rules import MAX_JOURNO
from converter.ledger.batches import OVERLAY, RECORD_COLUMNS, STATE, Overlays
from converter.ledger.install import create_ledger, restore_ledger
from converter.ledger.lock import RunLock
from converter.ledger.numbering import DEFAULT_START, settle_start
from converter.ledger.records import (
    SCHEMA,
    SCHEMA_VERSION,
    STATUS_LABELS,
    STATUSES,
    DocumentRecord,
    chunks,
    connect_rw,
    current_user,
    init_meta,
    insert_events,
    migrate,
    needs_upgrade,
    shadow_legacy,
    shorten,
    unique,
)
from converter.ledger.safety import (
    DEFAULT_KEEP,
    damaged,
    guard,
    is_damage,
    make_backup,
    own_problems,
)
from converter.ledger.statuses import Status


def _must_be_a_file(path: Path) -> None:
    """A ledger that is not there is missing (never made here); one of zero bytes is damaged."""
    try:
        size = path.stat().st_size
    except FileNotFoundError:
        raise LedgerMissing(str(path)) from None
    except OSError as err:
        raise LedgerError(f"台帳ファイルを開けません ({err.strerror})", file=str(path)) from None
    if path.is_dir():
        raise LedgerError("台帳のパスがフォルダです。台帳ファイル (.sqlite) を指定してください", file=str(path))
    if size == 0:
        raise damaged(path, "0 バイトのファイルです")


def _upgraded_copy(conn: sqlite3.Connection) -> sqlite3.Connection:
    """A read-only ledger of an earlier release that the upgrade would re-key (document identity)
    is read as a copy in memory, upgraded there (the file is not touched): its keys are then those
    of this release. Any other ledger is read as it is (version 1/2: see shadow_legacy)."""
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
    if "meta" not in tables or "documents" not in tables or not needs_upgrade(conn):
        return conn
    version = conn.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone()
    if version is None or not str(version[0]).isdigit() or int(version[0]) > SCHEMA_VERSION:
        return conn  # a newer release's ledger: _check_meta says so
    copy = sqlite3.connect(":memory:", isolation_level=None)
    try:
        conn.backup(copy)
        migrate(copy)
    except BaseException:
        copy.close()
        raise
    finally:
        conn.close()
    return copy


class LedgerFile:
    """One company's ledger file, open. Use :meth:`open`; the object is a context manager."""

    def __init__(
        self, conn: sqlite3.Connection, path: Path, *, ocode: str, operator: str, readonly: bool
    ) -> None:
        self._conn = conn
        self.path = path
        self.ocode = ocode
        self.operator = operator
        self.readonly = readonly
        self._run_lock = RunLock(path, operator)
        self._depth = 0  # > 0 inside transaction(): writes join it, its end commits
        self._sent: tuple[list[str], str, int] | None = None  # the last batch opened: keys, as stored, id
        self._version = SCHEMA_VERSION
        self.fiscal_year_start = DEFAULT_START  # month the 会計期間 starts (settled by open)

    # ----------------------------------------------------------------- open / close / lock
    @classmethod
    def open(
        cls, path: Path | str, *, ocode: str, operator: str | None = None, lock: bool = False,
        readonly: bool = False, fiscal_year_start: int | None = None,
    ) -> Self:
        """Open the existing ledger of company ``ocode`` (never created here: :meth:`create`).

        ``readonly=True`` never writes (preview, history): a missing file is read as an empty
        ledger, and nothing is created. Otherwise a missing file raises
        :class:`~converter.errors.LedgerMissing`; an empty file, one without the ledger's tables
        or one SQLite calls corrupt raises :class:`~converter.errors.LedgerDamaged`.
        ``lock=True`` takes the run lock now (released on :meth:`close`) and then checks the
        ledger (:meth:`verify`): every command that writes opens it so, and finds damage
        before anything is sent.
        ``fiscal_year_start`` (settings.yaml): recorded when it differs from the ledger's (default
        April), refused once per-year numbers were issued (None: the ledger's own).
        """
        path = Path(path)
        if not ocode:
            raise LedgerError("台帳を開くには会社コード (ocode) が必要です", file=str(path))
        who = operator if operator is not None else current_user()
        if not (readonly and not path.exists()):
            _must_be_a_file(path)
        try:
            with guard(path):
                if readonly and not path.exists():
                    conn = sqlite3.connect(":memory:", isolation_level=None)
                    conn.executescript(SCHEMA)
                    init_meta(conn, ocode)
                elif readonly:
                    conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                           isolation_level=None, timeout=10.0)
                    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
                    if "meta" not in tables or "documents" not in tables:
                        conn.close()
                        what = "表が一つもありません" if not tables else "変換ツールの台帳の表がありません"
                        raise damaged(path, f"台帳の形式ではありません: {what}")
                    conn = _upgraded_copy(conn)
                else:
                    conn = connect_rw(path, ocode)
        except sqlite3.Error as err:
            raise LedgerError(f"台帳ファイルを開けません ({err})", file=str(path)) from err
        except OSError as err:  # no permission, a folder in the way
            raise LedgerError(f"台帳ファイルを開けません ({err.strerror})", file=str(path)) from None
        ledger = cls(conn, path, ocode=ocode, operator=who, readonly=readonly)
        try:
            with guard(path):
                if path.exists():
                    ledger._run_lock.attach()
                ledger._version = ledger._check_meta()
                if ledger._version < SCHEMA_VERSION:  # read-only: an older ledger is read as it is
                    shadow_legacy(conn)
                recorded = settle_start(conn, None, str(path))
                if readonly or fiscal_year_start in (None, recorded):
                    ledger.fiscal_year_start = fiscal_year_start or recorded
                else:  # written once (or refused); a write lock only then: a run may be sending now
                    with ledger._write() as rw:
                        ledger.fiscal_year_start = settle_start(rw, fiscal_year_start, str(path))
                if lock:
                    ledger.acquire_lock()
                    ledger.verify()
        except BaseException as err:
            ledger.close()
            if isinstance(err, sqlite3.Error):
                raise LedgerError(f"台帳ファイルを開けません ({err})", file=str(path)) from err
            raise
        return ledger

    @classmethod
    def create(cls, path: Path | str, *, ocode: str) -> None:
        """Make a new, empty ledger for ``ocode`` at ``path`` (:func:`~converter.ledger.install.create_ledger`)."""
        create_ledger(path, ocode=ocode)

    def check(self) -> list[str]:
        """Problems found by SQLite's integrity check and the ledger's own rules (empty: fine)."""
        with guard(self.path):
            problems = [r[0] for r in self._conn.execute("PRAGMA integrity_check(20)") if r[0] != "ok"]
            if self._version >= SCHEMA_VERSION:  # an older ledger read as it is: its rows are views
                problems += own_problems(self._conn)
            return problems + self._rules()

    def _rules(self) -> list[str]:
        """Rules of the ledger's numbering and batches (:class:`~converter.ledger.ledger.Ledger`)."""
        return []

    def verify(self) -> None:
        """:meth:`check`, raising :class:`~converter.errors.LedgerDamaged` (with the newest backup)."""
        problems = self.check()
        if problems:
            shown = "; ".join(problems[:3]) + (f" ほか {len(problems) - 3} 件" if len(problems) > 3 else "")
            raise damaged(self.path, shown)

    def backup(self, keep: int = DEFAULT_KEEP) -> Path:
        """A consistent copy into ``backups/`` beside the real file, keeping the newest ``keep``
        (the caller holds the run lock: nothing changes while it is taken)."""
        if not self.locked:
            raise LedgerError("バックアップには台帳のロックが必要です (lock())", file=str(self.path))
        return make_backup(self._conn, self.path, keep)

    @classmethod
    def restore(cls, backup: Path | str, path: Path | str, *, ocode: str | None,
                operator: str | None = None) -> Path | None:
        """Replace the ledger at ``path`` by ``backup``; the one that was there is kept aside
        (returned). See :func:`~converter.ledger.install.restore_ledger`."""
        return restore_ledger(cls.open, backup, path, ocode=ocode, operator=operator)

    def _check_meta(self) -> int:
        meta = dict(self._conn.execute("SELECT name, value FROM meta").fetchall())
        version = meta.get("schema_version", "")
        if not version.isdigit() or int(version) > SCHEMA_VERSION:
            raise LedgerError(f"台帳の形式 (版 {version or '不明'}) に対応していません。"
                              "ツールを更新してください", file=str(self.path))
        if meta.get("ocode") != self.ocode:
            raise LedgerError(f"この台帳は会社コード {meta.get('ocode')!r} のものです"
                              f" (指定: {self.ocode!r})。台帳のパスを確認してください",
                              file=str(self.path))
        return int(version)

    def close(self) -> None:
        self._run_lock.release_all()
        self._conn.close()
        self._run_lock.detach()  # after the connection: see ledger_lock

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: object, err: BaseException | None, tb: object) -> None:
        self.close()
        # A damaged page is often found only when a query reads it (opening read-only checks
        # nothing: preview, history): the same message as a damage found on opening, not 内部エラー.
        if isinstance(err, sqlite3.Error) and is_damage(err):
            raise damaged(self.path, f"SQLite が読めません: {err}") from None

    @property
    def lock_path(self) -> Path:
        return self._run_lock.path

    @property
    def locked(self) -> bool:
        return self._run_lock.held

    def acquire_lock(self) -> None:
        """Take the run lock or raise :class:`LedgerLocked` at once (nests within one object)."""
        self._run_lock.acquire()

    def release_lock(self) -> None:
        self._run_lock.release()

    @contextlib.contextmanager
    def lock(self) -> Iterator[Self]:
        """``with ledger.lock():`` — the run lock for the block."""
        self.acquire_lock()
        try:
            yield self
        finally:
            self.release_lock()

    # ----------------------------------------------------------------- helpers
    def _now(self) -> str:
        return clock.stamp()

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Self]:
        """``with ledger.transaction():`` — the writes inside are one durable transaction, committed
        (and fsynced) when the block ends, or none of them if it raises. A sender reserves the
        伝票番号 of a request and marks its documents ``sending`` in one commit before the POST."""
        with self._write():
            self._depth += 1
            try:
                yield self
            finally:
                self._depth -= 1

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise LedgerError("読み取り専用で開いた台帳には書き込めません", file=str(self.path))
        conn = self._conn
        # Inside transaction(): a savepoint, so a failed step is undone as a whole even if the
        # caller goes on; the outer block commits.
        begin, commit, undo = (("SAVEPOINT step", "RELEASE step", ("ROLLBACK TO step", "RELEASE step"))
                               if self._depth else ("BEGIN IMMEDIATE", "COMMIT", ("ROLLBACK",)))
        try:
            conn.execute(begin)
        except sqlite3.Error as err:
            if is_damage(err):
                raise damaged(self.path, f"SQLite が読めません: {err}") from None
            raise LedgerError(f"台帳に書き込めません ({err})", file=str(self.path)) from err
        try:
            yield conn
            conn.execute(commit)
        except BaseException as err:
            if conn.in_transaction:
                for statement in undo:
                    conn.execute(statement)
            if isinstance(err, sqlite3.Error):
                if is_damage(err):
                    raise damaged(self.path, f"SQLite が読めません: {err}") from None
                raise LedgerError(f"台帳に書き込めません ({err})", file=str(self.path)) from err
            raise

    def _meta_int(self, name: str) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        if row is None or not str(row[0]).isdigit():
            raise LedgerError(f"台帳の管理情報 {name} が壊れています", file=str(self.path))
        return int(row[0])

    def _rows(self, keys: Sequence[str]) -> dict[str, DocumentRecord]:
        return {r.key: r for r in self._select(f"SELECT {RECORD_COLUMNS} FROM documents d {OVERLAY}"
                                               " WHERE d.key IN ({marks})", keys)}

    def _select(self, sql: str, keys: Sequence[str]) -> list[DocumentRecord]:
        """Records of a query on RECORD_COLUMNS whose ``{marks}`` take ``keys``, 500 at a time."""
        rows: list[tuple[Any, ...]] = []
        for part in chunks(keys):
            rows += self._conn.execute(sql.format(marks=",".join("?" * len(part))), tuple(part))
        return Overlays(self._conn).records(rows)

    def _events(self, conn: sqlite3.Connection, rows: Iterable[tuple[str, str, str, str]]) -> None:
        at, operator = self._now(), self.operator
        insert_events(conn, [(key, at, action, status, operator, msg) for key, action, status, msg in rows])

    def _statuses(self, keys: Sequence[str]) -> dict[str, tuple[str, int, bool]]:
        """Each key's status, rowid and whether a batch overlays it (as of now)."""
        found: dict[str, tuple[str, int, bool]] = {}
        for part in chunks(keys):
            marks = ",".join("?" * len(part))
            for key, status, rowid, batch in self._conn.execute(
                    f"SELECT d.key, COALESCE(b.status, d.status), d.rowid, m.batch FROM documents d {STATE}"
                    f" WHERE d.key IN ({marks})", tuple(part)):
                found[key] = status, rowid, batch is not None
        return found

    def _checked(self, keys: Iterable[str], allowed: Iterable[Status], what: str) -> dict[str, tuple[str, int, bool]]:
        """Current status, rowid and overlay of each of ``keys``, in order, or LedgerError naming
        every key not in ``allowed``. Only these are read.

        Called inside the caller's write transaction, so nothing changes between check and update
        (the rowid too: it can only change by VACUUM, which cannot run inside a transaction).
        """
        wanted = unique(keys)
        found = self._statuses(wanted)
        allowed_set = set(allowed)
        missing = [k for k in wanted if k not in found]
        if missing:
            raise LedgerError(f"{what}: 台帳にない帳票です: {shorten(missing)}",
                              file=str(self.path))
        bad = [f"{k} ({STATUS_LABELS[found[k][0]]})" for k in wanted
               if found[k][0] not in allowed_set]
        if bad:
            allowed_text = "・".join(STATUS_LABELS[s] for s in STATUSES if s in allowed_set)
            raise LedgerError(f"{what}できるのは {allowed_text} の帳票だけです: {shorten(bad)}",
                              file=str(self.path))
        return {k: found[k] for k in wanted}

    @staticmethod
    def _check_journos(journos: Mapping[str, int] | None, keys: Iterable[str]) -> None:
        if not journos:
            return
        known = set(keys)
        numbers = journos.values()
        if known.issuperset(journos) and set(map(type, numbers)) == {int} and min(numbers) >= 1 \
                and max(numbers) <= MAX_JOURNO:
            return  # the usual case, checked in C-speed passes
        for key, number in journos.items():
            if key not in known:
                raise LedgerError(f"伝票番号の対象が指定の帳票にありません: {key}")
            if isinstance(number, bool) or not isinstance(number, int) \
                    or not 1 <= number <= MAX_JOURNO:
                raise LedgerError(f"伝票番号は 1〜{MAX_JOURNO} の整数です: {key} = {number!r}")

    def _ids(self, keys: Sequence[str]) -> dict[str, int]:
        found: dict[str, int] = {}
        for part in chunks(keys):
            marks = ",".join("?" * len(part))
            found.update(self._conn.execute(f"SELECT key, journo_read FROM documents WHERE key IN ({marks})",
                                            tuple(part)).fetchall())
        return found

