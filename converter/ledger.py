"""The upload ledger: where each source document stands towards FX, one SQLite file per company.

The FX slips API has no read-back, so the ledger is the only memory of what was posted. Its
job is that a month-end upload never posts a slip twice and never loses one.

Statuses (Jobcan's API連携一覧 plus our 要確認) and the only transitions allowed::

    pending 連携待ち  ─send──────────▶ sending 連携中    (mark_sending; attempts + 1)
    error   エラー    ─retry─────────▶ sending           (mark_sending: 再連携)
    sending           ─done──────────▶ done 連携完了      (mark_done)
    sending, pending  ─error─────────▶ error             (mark_error)
    sending           ─unknown───────▶ unknown 要確認     (mark_unknown; recover() after a crash)
    sending           ─unsent────────▶ pending           (mark_unsent)
    unknown           ─resolve───────▶ done | pending    (the user checked FX)
    pending, error, unknown (done: force) ─forget─▶ deleted, event kept (Jobcan's 削除)

* The caller commits ``sending`` *before* the POST and ``done`` / ``error`` / ``unknown``
  after the answer; every transition is its own durable transaction (WAL, synchronous=FULL),
  or part of the caller's :meth:`Ledger.transaction` (one commit for several steps, e.g. the
  伝票番号 and the ``sending`` mark of one request).
* ``unsent`` (sending → pending) is only for requests that certainly did not store anything
  (connect error, 429/503, a 400 that rejects the request whole).
* ``recover()`` turns documents left in ``sending`` by a killed run into ``unknown``: the POST
  may have been stored, so they are never sent again without the user's answer (``resolve``).
* ``done`` is never left, except by ``forget(force=True)`` (the user deleted the slip in FX).
* ``journo_read`` (the FX field tying a slip to its source document) is assigned here: 1, 2, …
  ≤ 999999, never reused, not even after ``forget``.
* ``issue_journos`` hands out FX 伝票番号 (1 … 99999) for companies that do not auto-number.

Default location (the CLI's policy): ``ledgers/<ocode>.sqlite`` next to the mappings folder,
see :func:`default_ledger_path`. Files are created user-only (0o600): they hold company data.
A run that sends takes the run lock (``flock`` on ``<ledger>.lock``; released by the OS even
when the holder is killed; local file systems only). Preview opens with ``readonly=True``.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Iterable, Iterator, Mapping, Sequence
from datetime import datetime
from itertools import repeat
from pathlib import Path
from typing import Any

from converter.errors import LedgerError
from converter.ledger_lock import RunLock
from converter.ledger_records import (
    ACTION_LABELS,
    DOC_COLUMNS,
    MAX_JOURNO,
    MAX_JOURNO_READ,
    ROLES,
    SCHEMA,
    SCHEMA_VERSION,
    STATUS_LABELS,
    STATUSES,
    Classification,
    DocumentInfo,
    DocumentRecord,
    Event,
    chunks,
    connect_rw,
    current_user,
    default_ledger_path,
    document_key,
    init_meta,
    insert_events,
    refreshed,
    shorten,
    unique,
)

__all__ = [
    "ACTION_LABELS", "MAX_JOURNO", "MAX_JOURNO_READ", "STATUSES", "STATUS_LABELS",
    "Classification", "DocumentInfo", "DocumentRecord", "Event", "Ledger",
    "default_ledger_path", "document_key",
]


class Ledger:
    """One company's upload ledger. Use :meth:`open`; the object is a context manager."""

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

    # ----------------------------------------------------------------- open / close / lock
    @classmethod
    def open(
        cls, path: Path | str, *, ocode: str, operator: str | None = None, lock: bool = False,
        readonly: bool = False,
    ) -> Ledger:
        """Open (creating if missing) the ledger of company ``ocode``.

        ``readonly=True`` never writes (preview): a missing file is read as an empty ledger.
        ``lock=True`` takes the run lock now and releases it on :meth:`close`.
        """
        path = Path(path)
        if not ocode:
            raise LedgerError("台帳を開くには会社コード (ocode) が必要です", file=str(path))
        who = operator if operator is not None else current_user()
        try:
            if readonly and not path.exists():
                conn = sqlite3.connect(":memory:", isolation_level=None)
                conn.executescript(SCHEMA)
                init_meta(conn, ocode)
            elif readonly:
                conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True,
                                       isolation_level=None, timeout=10.0)
            else:
                conn = connect_rw(path, ocode)
        except sqlite3.Error as err:
            raise LedgerError(f"台帳ファイルを開けません ({err})", file=str(path)) from err
        except OSError as err:  # the folder cannot be made (a file in the way, no permission)
            raise LedgerError(f"台帳ファイルを作れません ({err.strerror})", file=str(path)) from None
        ledger = cls(conn, path, ocode=ocode, operator=who, readonly=readonly)
        try:
            ledger._check_meta()
            if lock:
                ledger.acquire_lock()
        except BaseException as err:
            ledger.close()
            if isinstance(err, sqlite3.Error):
                raise LedgerError(f"台帳ファイルを開けません ({err})", file=str(path)) from err
            raise
        return ledger

    def _check_meta(self) -> None:
        meta = dict(self._conn.execute("SELECT name, value FROM meta").fetchall())
        version = meta.get("schema_version", "")
        if not version.isdigit() or int(version) > SCHEMA_VERSION:
            raise LedgerError(f"台帳の形式 (版 {version or '不明'}) に対応していません。"
                              "ツールを更新してください", file=str(self.path))
        if meta.get("ocode") != self.ocode:
            raise LedgerError(f"この台帳は会社コード {meta.get('ocode')!r} のものです"
                              f" (指定: {self.ocode!r})。台帳のパスを確認してください",
                              file=str(self.path))

    def close(self) -> None:
        self._run_lock.release_all()
        self._conn.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

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
    def lock(self) -> Iterator[Ledger]:
        """``with ledger.lock():`` — the run lock for the block."""
        self.acquire_lock()
        try:
            yield self
        finally:
            self.release_lock()

    # ----------------------------------------------------------------- helpers
    def _now(self) -> str:
        return datetime.now().astimezone().isoformat(timespec="seconds")

    @contextlib.contextmanager
    def transaction(self) -> Iterator[Ledger]:
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
            raise LedgerError(f"台帳に書き込めません ({err})", file=str(self.path)) from err
        try:
            yield conn
            conn.execute(commit)
        except BaseException as err:
            if conn.in_transaction:
                for statement in undo:
                    conn.execute(statement)
            if isinstance(err, sqlite3.Error):
                raise LedgerError(f"台帳に書き込めません ({err})", file=str(self.path)) from err
            raise

    def _meta_int(self, name: str) -> int:
        row = self._conn.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        if row is None or not str(row[0]).isdigit():
            raise LedgerError(f"台帳の管理情報 {name} が壊れています", file=str(self.path))
        return int(row[0])

    def _rows(self, keys: Sequence[str]) -> dict[str, DocumentRecord]:
        found: dict[str, DocumentRecord] = {}
        for part in chunks(keys):
            marks = ",".join("?" * len(part))
            sql = f"SELECT {DOC_COLUMNS} FROM documents WHERE key IN ({marks})"
            for row in self._conn.execute(sql, tuple(part)):
                found[row[0]] = DocumentRecord(*row)
        return found

    def _events(self, conn: sqlite3.Connection, rows: Iterable[tuple[str, str, str, str]]) -> None:
        at, operator = self._now(), self.operator
        insert_events(conn, [(key, at, action, status, operator, msg) for key, action, status, msg in rows])

    def _statuses(self, keys: Sequence[str]) -> dict[str, tuple[str, int]]:
        found: dict[str, tuple[str, int]] = {}
        for part in chunks(keys):
            marks = ",".join("?" * len(part))
            for key, status, rowid in self._conn.execute(
                    f"SELECT key, status, rowid FROM documents WHERE key IN ({marks})", tuple(part)):
                found[key] = status, rowid
        return found

    def _checked(self, keys: Iterable[str], allowed: Iterable[str], what: str) -> dict[str, tuple[str, int]]:
        """Current status (and rowid) of each of ``keys``, in order, or LedgerError naming every
        key not in ``allowed``. Only these are read: a request's transition checks ~1000 keys.

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
        for key, number in journos.items():
            if key not in known:
                raise LedgerError(f"伝票番号の対象が指定の帳票にありません: {key}")
            if isinstance(number, bool) or not isinstance(number, int) \
                    or not 1 <= number <= MAX_JOURNO:
                raise LedgerError(f"伝票番号は 1〜{MAX_JOURNO} の整数です: {key} = {number!r}")

    # ----------------------------------------------------------------- ids
    def assign_ids(self, docs: Sequence[DocumentInfo]) -> dict[str, int]:
        """``journo_read`` for every document; new keys are registered ``pending`` in order."""
        keys = unique(d.key for d in docs)
        with self._write() as conn:
            ids = {r.key: r.journo_read for r in self._rows(keys).values()}
            new = [d for d in docs if d.key not in ids]
            if new:
                first = self._meta_int("next_journo_read")
                if first + len(new) - 1 > MAX_JOURNO_READ:
                    raise LedgerError(
                        f"連携番号 (journo_read) の上限 {MAX_JOURNO_READ} を超えます (次の番号"
                        f" {first}、新しい帳票 {len(new)} 件)。新しい台帳への切り替えが必要です",
                        file=str(self.path))
                now = self._now()
                rows = []
                for offset, doc in enumerate(new):
                    ids[doc.key] = first + offset
                    if doc.role not in ROLES:
                        raise LedgerError(f"不明な役割です: {doc.role}")
                    rows.append((doc.key, first + offset, doc.content_hash, doc.kind, doc.doc_no,
                                 doc.ymd, int(doc.amount), now, now, self.operator, doc.parent,
                                 doc.role))
                conn.executemany(
                    "INSERT INTO documents (key, journo_read, content_hash, status, kind, doc_no,"
                    " ymd, amount, created_at, updated_at, operator, parent, role)"
                    " VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                conn.execute("UPDATE meta SET value = ? WHERE name = 'next_journo_read'",
                             (str(first + len(new)),))
                self._events(conn, ((d.key, "register", "pending", "") for d in new))
        return {k: ids[k] for k in keys}

    def peek_ids(self, keys: Iterable[str]) -> dict[str, int]:
        """Ids of the keys already in the ledger (read-only; unknown keys are left out)."""
        return {k: r.journo_read for k, r in self._rows(list(dict.fromkeys(keys))).items()}

    def next_id(self) -> int:
        """The ``journo_read`` the next new document would get."""
        return self._meta_int("next_journo_read")

    def provisional_ids(self, keys: Iterable[str]) -> dict[str, int]:
        """What :meth:`assign_ids` would return for these keys in this order, without writing."""
        ordered = list(dict.fromkeys(keys))
        known = self.peek_ids(ordered)
        fresh = [k for k in ordered if k not in known]
        known.update(zip(fresh, range(self.next_id(), self.next_id() + len(fresh)), strict=True))
        return {k: known[k] for k in ordered}

    def issue_journos(self, n: int) -> list[int]:
        """Reserve ``n`` FX 伝票番号 (durably, never handed out twice)."""
        if n < 0:
            raise LedgerError(f"伝票番号の発行数が不正です: {n}")
        with self._write() as conn:
            first = self._meta_int("next_journo")
            if first + n - 1 > MAX_JOURNO:
                raise LedgerError(f"伝票番号 (journo) の上限 {MAX_JOURNO} を超えます (次の番号"
                                  f" {first}、必要数 {n})", file=str(self.path))
            conn.execute("UPDATE meta SET value = ? WHERE name = 'next_journo'", (str(first + n),))
        return list(range(first, first + n))

    def next_journo(self) -> int:
        """The FX 伝票番号 :meth:`issue_journos` would hand out next (read-only)."""
        return self._meta_int("next_journo")

    # ----------------------------------------------------------------- reading
    def get(self, keys: Iterable[str]) -> dict[str, DocumentRecord]:
        return self._rows(list(dict.fromkeys(keys)))

    def documents(self, status: str | None = None) -> list[DocumentRecord]:
        """All records (or those in ``status``) in ``journo_read`` order."""
        if status is not None and status not in STATUSES:
            raise LedgerError(f"不明なステータスです: {status}")
        where = "" if status is None else " WHERE status = ?"
        sql = f"SELECT {DOC_COLUMNS} FROM documents{where} ORDER BY journo_read"
        return [DocumentRecord(*r) for r in self._conn.execute(sql, () if status is None
                                                                else (status,))]

    def events(self, key: str | None = None) -> list[Event]:
        """The history (API連携履歴) of one key, or of the whole ledger, oldest first."""
        where = "" if key is None else " WHERE key = ?"
        sql = f"SELECT key, at, action, status, operator, message FROM events{where} ORDER BY id"
        return [Event(*r) for r in self._conn.execute(sql, () if key is None else (key,))]

    def summary(self) -> dict[str, int]:
        """Count per status, every status present."""
        sql = "SELECT status, COUNT(*) FROM documents GROUP BY status"
        return dict.fromkeys(STATUSES, 0) | dict(self._conn.execute(sql).fetchall())

    def retry_candidates(self) -> list[DocumentRecord]:
        """Documents in エラー: what ``converter retry`` re-sends (再連携)."""
        return self.documents("error")

    def classify(self, docs: Sequence[DocumentInfo]) -> Classification:
        keys = unique(d.key for d in docs)
        rows = self._rows(keys)
        groups: dict[str, list[str]] = {
            c: [] for c in ("new", "unsent", "done_same", "changed", "unknown", "sending")}
        for doc in docs:
            row = rows.get(doc.key)
            if row is None or row.status in ("pending", "error"):
                group = "new" if row is None else "unsent"
            elif row.status == "done":
                group = "done_same" if row.content_hash == doc.content_hash else "changed"
            else:
                group = row.status
            groups[group].append(doc.key)
        return Classification(**{c: tuple(v) for c, v in groups.items()})

    def vanished(
        self, present: Iterable[str], *, ymd_from: str, ymd_to: str,
        kinds: Iterable[str] | None = None,
    ) -> list[DocumentRecord]:
        """Done documents dated ``ymd_from``..``ymd_to`` (inclusive) missing from ``present``."""
        here = set(present)
        kind_set = set(kinds) if kinds is not None else None
        rows = self._conn.execute(
            f"SELECT {DOC_COLUMNS} FROM documents WHERE status = 'done' AND role = 'original'"
            " AND ymd BETWEEN ? AND ? ORDER BY journo_read", (ymd_from, ymd_to))
        return [rec for rec in (DocumentRecord(*r) for r in rows)
                if rec.key not in here and (kind_set is None or rec.kind in kind_set)]

    def chains(self, keys: Iterable[str]) -> dict[str, list[DocumentRecord]]:
        """Each source document's records: the original, then its corrections in order."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, list[DocumentRecord]] = {}
        for part in chunks(wanted):
            marks = ",".join("?" * len(part))
            sql = (f"SELECT {DOC_COLUMNS} FROM documents WHERE key IN ({marks})"
                   f" OR parent IN ({marks}) ORDER BY journo_read")
            for row in self._conn.execute(sql, tuple(part) * 2):
                record = DocumentRecord(*row)
                found.setdefault(record.parent or record.key, []).append(record)
        return found

    def posted(self, keys: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The slips each document was sent as (empty list if it never was)."""
        result: dict[str, list[dict[str, Any]]] = {}
        for part in chunks(list(dict.fromkeys(keys))):
            marks = ",".join("?" * len(part))
            for key, body in self._conn.execute(
                    f"SELECT key, posted FROM documents WHERE key IN ({marks})", tuple(part)):
                result[key] = json.loads(body) if body else []
        return result

    # ----------------------------------------------------------------- transitions
    def mark_sending(
        self, items: Iterable[str | DocumentInfo], *, journos: Mapping[str, int] | None = None,
        posted: Mapping[str, str] | None = None,
    ) -> None:
        """pending/error → sending, attempts + 1; commit BEFORE the POST.

        A :class:`DocumentInfo` refreshes the stored hash and details to what is being sent.
        ``journos`` records the FX 伝票番号 put in the payload (needed to check 要確認 slips).
        ``posted`` keeps each document's slips exactly as sent (JSON): a later correction must
        reverse what FX holds, and the API cannot be asked for it.
        Requires the run lock: concurrent senders are how slips get posted twice.
        """
        if not self.locked:
            raise LedgerError("送信の記録には台帳のロックが必要です (lock())", file=str(self.path))
        items = list(items)
        infos = {i.key: i for i in items if isinstance(i, DocumentInfo)}
        keys = [i.key if isinstance(i, DocumentInfo) else i for i in items]
        self._move(keys, allowed=("pending", "error"), to="sending", action="send", what="送信",
                   journos=journos, refresh=infos, posted=posted)

    def _move(
        self, keys: Iterable[str], *, allowed: Sequence[str], to: str, action: str, what: str,
        messages: Mapping[str, str] | None = None, default_message: str = "",
        journos: Mapping[str, int] | None = None, refresh: Mapping[str, DocumentInfo] | None = None,
        posted: Mapping[str, str] | None = None,
    ) -> list[str]:
        """Check every key, then move them all in one transaction (all or nothing).

        One UPDATE per document sets everything that changes: SQLite rewrites the whole row
        (with its posted slips) on every UPDATE, and a request moves ~1000 documents twice.
        """
        sending = to == "sending"  # a send attempt: count it, keep the last FX message visible
        with self._write() as conn:
            before = self._checked(keys, allowed, what)
            self._check_journos(journos, before)
            moved = list(before)
            messages = messages or {}
            msgs = [messages.get(k, default_message) for k in moved]
            n = len(moved)
            # One column of values per "?" (zipped into rows below); a send keeps the last FX
            # message (visible until the answer) and counts the attempt.
            sets = "status = ?, updated_at = ?, operator = ?"
            columns: list[Iterable[Any]] = [repeat(to, n), repeat(self._now(), n), repeat(self.operator, n)]
            if sending:
                sets += ", attempts = attempts + 1"
            else:
                sets += ", last_message = ?"
                columns.append(msgs)
            if journos:
                sets += ", journo = COALESCE(?, journo)"
                columns.append([journos.get(k) for k in moved])
            if refresh:
                sets += (", content_hash = COALESCE(?, content_hash), kind = COALESCE(?, kind),"
                         " doc_no = COALESCE(?, doc_no), ymd = COALESCE(?, ymd), amount = COALESCE(?, amount)")
                columns += zip(*[refreshed(refresh.get(k)) for k in moved], strict=True) if n else [()] * 5
            if posted:
                sets += ", posted = COALESCE(?, posted)"
                columns.append([posted.get(k) for k in moved])
            columns.append([rowid for _, rowid in before.values()])
            conn.executemany(f"UPDATE documents SET {sets} WHERE rowid = ?", zip(*columns, strict=True))
            self._events(conn, ((k, "retry" if sending and status == "error" else action, to, msg)
                                for (k, (status, _)), msg in zip(before.items(), msgs, strict=True)))
        return moved

    def mark_done(
        self, keys: Iterable[str], messages: Mapping[str, str] | None = None,
        journos: Mapping[str, int] | None = None,
    ) -> None:
        """sending → done after FX's 201 (``messages``: its みなし informations per key)."""
        self._move(keys, allowed=("sending",), to="done", action="done", what="連携完了に",
                   messages=messages, journos=journos)

    def mark_error(self, keys_to_messages: Mapping[str, str]) -> None:
        """pending/sending → error with FX's (or our) message per key."""
        self._move(keys_to_messages, allowed=("pending", "sending"), to="error", action="error",
                   what="エラーに", messages=keys_to_messages)

    def mark_unknown(self, keys: Iterable[str], message: str) -> None:
        """sending → unknown: the request may have been stored (timeout after the body was sent)."""
        self._move(keys, allowed=("sending",), to="unknown", action="unknown", what="要確認に",
                   default_message=message)

    def mark_unsent(self, keys: Iterable[str], message: str = "") -> None:
        """sending → pending: ONLY when FX surely stored nothing (connect error, 429/503, 400)."""
        self._move(keys, allowed=("sending",), to="pending", action="unsent", what="未送信に",
                   default_message=message)

    def recover(self) -> list[str]:
        """Documents a killed run left in ``sending`` become ``unknown``; returns their keys."""
        if not self.locked:
            # Without the lock, "sending" may belong to a run that is alive right now.
            raise LedgerError("復旧には台帳のロックが必要です (lock())", file=str(self.path))
        keys = [r.key for r in self.documents("sending")]
        if not keys:
            return []
        return self._move(keys, allowed=("sending",), to="unknown", action="recover", what="復旧",
                          default_message="前回の処理が送信中に中断しました。"
                                          "FX に登録済みか確認してください")

    # ----------------------------------------------------------------- user actions
    def resolve(self, keys: Iterable[str], sent: bool, message: str = "") -> None:
        """The user's answer for 要確認: FX has the slip (→ done) or not (→ pending)."""
        self._move(keys, allowed=("unknown",), to="done" if sent else "pending",
                   action="resolve", what="確認結果を登録",
                   default_message=message or ("FX に登録済み" if sent else "FX に未登録"))

    def forget(self, keys: Iterable[str], *, force: bool = False, message: str = "") -> None:
        """Delete records (Jobcan's 削除); a done one only with ``force`` (its slip is gone in FX).

        The event keeps a snapshot; a forgotten key registered again gets a new ``journo_read``.
        """
        allowed = ("pending", "error", "unknown") + (("done",) if force else ())
        with self._write() as conn:
            before = self._rows(list(self._checked(keys, allowed, "削除")))
            conn.executemany("DELETE FROM documents WHERE key = ?", [(k,) for k in before])
            snapshot = {
                k: json.dumps({"status": r.status, "journo_read": r.journo_read,
                               "journo": r.journo, "content_hash": r.content_hash,
                               "attempts": r.attempts, "note": message}, ensure_ascii=False)
                for k, r in before.items()}
            self._events(conn, ((k, "forget", "", snapshot[k]) for k in before))

    def check(self) -> list[str]:
        """Problems found by SQLite's integrity check and the ledger's own rules (empty: fine)."""
        problems = [r[0] for r in self._conn.execute("PRAGMA integrity_check") if r[0] != "ok"]
        top = self._conn.execute("SELECT MAX(journo_read) FROM documents").fetchone()[0]
        if top is not None and top >= self.next_id():
            problems.append(f"journo_read {top} が次の番号 {self.next_id()} 以上です")
        return problems
