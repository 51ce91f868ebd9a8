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

Storage: a request's documents are sent together and answered together, so they are stored
together — one batch (:mod:`converter.ledger.batches`): a few rows and one short line per
document, instead of rewriting every document's row and adding two history lines per document
at each of the request's two commits. Everything the ledger reports (records, slips, history) is
what one row per document gave; documents moved on their own are kept in their own rows.
Reading (records, history, the upload plan's questions) is in :mod:`converter.ledger.queries`.

Default location (the CLI's policy): ``ledgers/<ocode>.sqlite`` next to the mappings folder,
see :func:`default_ledger_path`. Files are created user-only (0o600): they hold company data.
A ledger is made only by :meth:`Ledger.create` (``converter ledger init``), never by opening it.
A run that sends takes the run lock (``flock`` on the ledger file itself, so every name of it —
symlink, hard link — meets it; released by the OS even when the holder is killed; local file
systems only, see :mod:`converter.ledger.lock`), which also checks the ledger
(:meth:`Ledger.check`: integrity_check and the ledger's own rules) before anything is sent; it
is backed up before and after each sending run (:mod:`converter.ledger.safety`). Preview opens
with ``readonly=True``.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import cast

from converter.errors import LedgerError
from converter.fx_rules import MAX_JOURNO, MAX_JOURNO_READ
from converter.keys import document_key
from converter.ledger.answers import Answers
from converter.ledger.batches import (
    OVERLAY,
    answer_batch,
    batch_of,
    encode_keys,
    fold,
    open_batch,
)
from converter.ledger.numbering import (
    ID_SPAN,
    advance,
    fiscal_year,
    next_numbers,
    refuse,
    shortages,
)
from converter.ledger.queries import LedgerQueries
from converter.ledger.records import (
    ACTION_LABELS,
    ROLES,
    STATUS_LABELS,
    STATUSES,
    DocumentInfo,
    DocumentRecord,
    Event,
    default_ledger_path,
    refreshed,
    shorten,
    unique,
)
from converter.ledger.statuses import Status

__all__ = [
    "ACTION_LABELS", "MAX_JOURNO", "MAX_JOURNO_READ", "STATUSES", "STATUS_LABELS",
    "Answers", "DocumentInfo", "DocumentRecord", "Event", "Ledger",
    "default_ledger_path", "document_key",
]


class Ledger(LedgerQueries):
    """One company's upload ledger. Use :meth:`open`; the object is a context manager."""

    # ----------------------------------------------------------------- ids
    def assign_ids(self, docs: Sequence[DocumentInfo]) -> dict[str, int]:
        """Ledger ids for every document; new keys are registered ``pending`` in order (see :meth:`register`)."""
        return self.register(docs)[0]

    def register(self, docs: Sequence[DocumentInfo]) -> tuple[dict[str, int], set[str]]:
        """Ledger ids for every document, and the keys registered (``pending``) just now, in order.

        A new document's id is ``fy * ID_SPAN + journo_read``: its 連携番号 is the next of its fiscal
        year (by ``ymd``; fy 0 without a date), see :mod:`converter.ledger.numbering`. All of them
        fit under the ceiling or none is registered.
        """
        keys = unique(d.key for d in docs)
        with self._write() as conn:
            ids = self._ids(keys)
            new = [d for d in docs if d.key not in ids]
            if new:
                start = self.fiscal_year_start
                years = [fiscal_year(d.ymd, start) for d in new]
                needed = Counter(years)
                nexts = next_numbers(conn, "journo_read", list(needed), start)
                short = shortages("journo_read", needed, nexts, start)
                if short:
                    raise refuse("journo_read", short, str(self.path))
                now = self._now()
                # Batches of a forgotten key's earlier life must not overlay the new record.
                synced = conn.execute("SELECT COALESCE(MAX(id), 0) FROM batches").fetchone()[0]
                rows = []
                for doc, fy in zip(new, years, strict=True):
                    number = nexts[fy]
                    nexts[fy] = number + 1
                    ids[doc.key] = fy * ID_SPAN + number
                    if doc.role not in ROLES:
                        raise LedgerError(f"不明な役割です: {doc.role}")
                    rows.append((doc.key, ids[doc.key], doc.content_hash, doc.kind, doc.doc_no,
                                 doc.ymd, int(doc.amount), now, now, self.operator, doc.parent,
                                 doc.role, synced))
                conn.executemany(
                    "INSERT INTO documents (key, journo_read, content_hash, status, kind, doc_no,"
                    " ymd, amount, created_at, updated_at, operator, parent, role, synced)"
                    " VALUES (?, ?, ?, 'pending', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
                advance(conn, "journo_read", nexts)
                self._events(conn, ((d.key, "register", Status.PENDING, "") for d in new))
        return {k: ids[k] for k in keys}, {d.key for d in new}

    def fiscal_year(self, ymd: str) -> int:
        """The fiscal year a date belongs to under this ledger's ``fiscal_year_start`` (0: no date)."""
        return fiscal_year(ymd, self.fiscal_year_start)

    def next_id(self) -> int:
        """The ``journo_read`` the next new document without a date (fiscal year 0) would get."""
        return self._meta_int("next_journo_read")

    def next_numbers(self, field: str, years: Iterable[int]) -> dict[int, int]:
        """The next ``journo_read`` / ``journo`` of each fiscal year (read-only)."""
        return next_numbers(self._conn, field, sorted(set(years)), self.fiscal_year_start)

    def check_room(self, field: str, needed: Mapping[int, int]) -> None:
        """LedgerError (naming every fiscal year short of numbers) unless ``needed`` fits: a run asks
        before its first request, so that it sends everything or nothing."""
        short = shortages(field, needed, self.next_numbers(field, needed), self.fiscal_year_start)
        if short:
            raise refuse(field, short, str(self.path))

    def issue_journos(self, n: int, fy: int = 0) -> list[int]:
        """Reserve ``n`` FX 伝票番号 of fiscal year ``fy`` (durably, never handed out twice)."""
        if n < 0:
            raise LedgerError(f"伝票番号の発行数が不正です: {n}")
        return [first + i for first in self.reserve_journos({fy: n}).values() for i in range(n)]

    def reserve_journos(self, needed: Mapping[int, int]) -> dict[int, int]:
        """Reserve ``needed[fy]`` FX 伝票番号 of each fiscal year at once; the first of each.
        All or nothing: LedgerError naming the years past the ceiling (99999)."""
        with self._write() as conn:
            nexts = next_numbers(conn, "journo", list(needed), self.fiscal_year_start)
            short = shortages("journo", needed, nexts, self.fiscal_year_start)
            if short:
                raise refuse("journo", short, str(self.path))
            advance(conn, "journo", {fy: nexts[fy] + n for fy, n in needed.items()})
        return dict(nexts)

    def give_back_journos(self, firsts: Mapping[int, int], needed: Mapping[int, int]) -> None:
        """Return the numbers :meth:`reserve_journos` handed to a request FX stored nothing of, so
        that the next request reuses them: a rejection leaves no gap. Only while they are the last
        ones issued (always, under the run lock)."""
        with self._write() as conn:
            nexts = next_numbers(conn, "journo", list(needed), self.fiscal_year_start)
            advance(conn, "journo", {fy: first for fy, first in firsts.items()
                                     if nexts[fy] == first + needed[fy]})

    def next_journo(self, fy: int = 0) -> int:
        """The FX 伝票番号 :meth:`issue_journos` would hand out next in ``fy`` (read-only)."""
        return self.next_numbers("journo", [fy])[fy]

    # ----------------------------------------------------------------- transitions
    def mark_sending(
        self, items: Iterable[str | DocumentInfo], *, journos: Mapping[str, int] | None = None,
        body: bytes | None = None, slips: Sequence[int] | None = None,
    ) -> None:
        """pending/error → sending, attempts + 1; commit BEFORE the POST.

        A :class:`DocumentInfo` refreshes the stored hash and details to what is being sent.
        ``journos`` records the FX 伝票番号 put in the payload (needed to check 要確認 slips).
        ``body`` (the request as POSTed, ``{"slips": [...]}``) and ``slips`` (how many of its slips
        each document has, in order) keep each document's slips exactly as sent: a later correction
        must reverse what FX holds, and the API cannot be asked for it.
        Requires the run lock: concurrent senders are how slips get posted twice.

        The documents become one batch: a few rows whatever their number (see ledger_batches).
        """
        if not self.locked:
            raise LedgerError("送信の記録には台帳のロックが必要です (lock())", file=str(self.path))
        items = list(items)
        if set(map(type, items)) <= {str}:  # keys only: nothing to refresh (a request's usual case)
            infos: dict[str, DocumentInfo] = {}
            keys = unique(cast("list[str]", items))
        else:
            infos = {i.key: i for i in items if isinstance(i, DocumentInfo)}
            keys = unique(i.key if isinstance(i, DocumentInfo) else i for i in items)
        if body is not None and (slips is None or len(slips) != len(keys)):
            raise LedgerError("送信した伝票の数が帳票ごとに必要です (slips)")
        if not keys:
            return
        with self._write() as conn:
            listed = encode_keys(keys)
            # One row, in SQL: how many found, overlaid or not sendable, each one's journo_read by its
            # position (for the member lines) and the positions of the エラー ones (再連携).
            check = ("SELECT count(*), count(m.batch), total(d.status NOT IN ('pending', 'error')),"
                     " json_group_object(j.key, d.journo_read),"
                     " json_group_array(j.key) FILTER (WHERE d.status = 'error')"
                     f" FROM json_each(?) j CROSS JOIN documents d ON d.key = j.value {OVERLAY}")
            found, overlaid, bad, ids, retries = conn.execute(check, (listed,)).fetchone()
            if found != len(keys) or overlaid or bad:
                before = self._checked(keys, (Status.PENDING, Status.ERROR), "送信")  # raises unless only overlaid
                fold(conn, [k for k, (_, _, o) in before.items() if o])  # 再連携 of a batch's エラー
                _, _, _, ids, retries = conn.execute(check, (listed,)).fetchone()  # the rows stand alone now
            self._check_journos(journos, keys)
            batch = open_batch(conn, listed, ids, at=self._now(), operator=self.operator, retries=retries,
                               journos=[journos.get(k) for k in keys] if journos else None,
                               infos=[refreshed(infos.get(k)) if k in infos else None for k in keys] if infos else None,
                               body=body, slips=slips)
            self._sent = keys, listed, batch

    def _move(
        self, keys: Iterable[str], *, allowed: Sequence[Status], to: Status, action: str, what: str,
        messages: Mapping[str, str] | None = None, default_message: str = "",
        journos: Mapping[str, int] | None = None, answers: Answers | None = None,
    ) -> list[str]:
        """Check every key, then move them all in one transaction (all or nothing).

        A whole batch still ``sending`` (a request's answer) moves as one row; anything else
        moves row by row, each overlay folded into its row first.
        """
        messages = messages or {}
        with self._write() as conn:
            keys, sent = list(keys), self._sent
            whole = Status.SENDING in allowed and not journos  # may be a request's answer: one row for all
            batch: int | None = None
            if sent is not None and keys == sent[0]:  # the answer to the request just sent (the usual case)
                listed, batch = sent[1], sent[2]
            else:
                keys = unique(keys)
                if not keys:
                    return []
                listed = encode_keys(keys)
                batch = batch_of(conn, keys[0]) if whole else None
            if whole and batch is not None and answer_batch(
                    conn, batch, listed, to=to, action=action, default=default_message,
                    messages=answers or ([messages.get(k) for k in keys] if messages else None),
                    at=self._now(), operator=self.operator):
                return keys
            if answers is not None:
                messages = answers.texts(keys)
            before = self._checked(keys, allowed, what)
            self._check_journos(journos, before)
            fold(conn, [k for k, (_, _, o) in before.items() if o])
            msgs = [messages.get(k, default_message) for k in keys]
            now = self._now()
            if journos:
                conn.executemany("UPDATE documents SET status = ?, updated_at = ?, operator = ?, last_message = ?,"
                                 " journo = COALESCE(?, journo) WHERE rowid = ?",
                                 [(to, now, self.operator, msg, journos.get(k), before[k][1])
                                  for k, msg in zip(keys, msgs, strict=True)])
            else:
                conn.executemany("UPDATE documents SET status = ?, updated_at = ?, operator = ?, last_message = ?"
                                 " WHERE rowid = ?", [(to, now, self.operator, msg, before[k][1])
                                                      for k, msg in zip(keys, msgs, strict=True)])
            self._events(conn, ((k, action, to, msg) for k, msg in zip(keys, msgs, strict=True)))
        return keys

    def mark_done(
        self, keys: Iterable[str], messages: Mapping[str, str] | None = None,
        journos: Mapping[str, int] | None = None, *, answers: Answers | None = None,
    ) -> None:
        """sending → done after FX's 201 (``messages``: its みなし informations per key, or
        ``answers``: the same as columns, by position in ``keys``)."""
        self._move(keys, allowed=(Status.SENDING,), to=Status.DONE, action="done", what="連携完了に",
                   messages=messages, journos=journos, answers=answers)

    def mark_error(self, keys_to_messages: Mapping[str, str]) -> None:
        """pending/sending → error with FX's (or our) message per key."""
        self._move(keys_to_messages, allowed=(Status.PENDING, Status.SENDING), to=Status.ERROR, action="error",
                   what="エラーに", messages=keys_to_messages)

    def mark_unknown(self, keys: Iterable[str], message: str) -> None:
        """sending → unknown: the request may have been stored (timeout after the body was sent)."""
        self._move(keys, allowed=(Status.SENDING,), to=Status.UNKNOWN, action="unknown", what="要確認に",
                   default_message=message)

    def mark_unsent(self, keys: Iterable[str], message: str = "") -> None:
        """sending → pending: ONLY when FX surely stored nothing (connect error, 429/503, 400)."""
        self._move(keys, allowed=(Status.SENDING,), to=Status.PENDING, action="unsent", what="未送信に",
                   default_message=message)

    def recover(self) -> list[str]:
        """Documents a killed run left in ``sending`` become ``unknown``; returns their keys."""
        if not self.locked:
            # Without the lock, "sending" may belong to a run that is alive right now.
            raise LedgerError("復旧には台帳のロックが必要です (lock())", file=str(self.path))
        message = "前回の処理が送信中に中断しました。FX に登録済みか確認してください"
        with self.transaction():
            keys = [r.key for r in self.documents(Status.SENDING)]
            if not keys:
                return []
            for (batch,) in self._conn.execute(
                    "SELECT id FROM batches WHERE status = 'sending' AND folded = 0").fetchall():
                answer_batch(self._conn, batch, None, to=Status.UNKNOWN, action="recover", messages=None,
                             default=message, at=self._now(), operator=self.operator)
            rest = [r.key for r in self.documents(Status.SENDING)]
            if rest:
                self._move(rest, allowed=(Status.SENDING,), to=Status.UNKNOWN, action="recover", what="復旧",
                           default_message=message)
        return keys

    # ----------------------------------------------------------------- user actions
    def resolve(self, keys: Iterable[str], sent: bool, message: str = "") -> None:
        """The user's answer for 要確認: FX has the slip (→ done) or not (→ pending)."""
        self._move(keys, allowed=(Status.UNKNOWN,), to=Status.DONE if sent else Status.PENDING,
                   action="resolve", what="確認結果を登録",
                   default_message=message or ("FX に登録済み" if sent else "FX に未登録"))

    def forget(self, keys: Iterable[str], *, force: bool = False, message: str = "") -> None:
        """Delete records (Jobcan's 削除); a done one only with ``force`` (its slip is gone in FX).

        The event keeps a snapshot; a forgotten key registered again gets a new ``journo_read``.
        """
        allowed = (Status.PENDING, Status.ERROR, Status.UNKNOWN) + ((Status.DONE,) if force else ())
        with self._write() as conn:
            checked = self._checked(keys, allowed, "削除")
            fold(conn, [k for k, (_, _, o) in checked.items() if o])
            before = self._rows(list(checked))
            conn.executemany("DELETE FROM documents WHERE key = ?", [(k,) for k in before])
            snapshot = {
                k: json.dumps({"status": r.status, "journo_read": r.journo_read,
                               "journo": r.journo, "content_hash": r.content_hash,
                               "attempts": r.attempts, "note": message}, ensure_ascii=False)
                for k, r in before.items()}
            self._events(conn, ((k, "forget", "", snapshot[k]) for k in before))

    def _rules(self) -> list[str]:
        """The numbering and batch rules :meth:`check` adds to SQLite's and the file's checks."""
        problems: list[str] = []
        tops = self._conn.execute(f"SELECT journo_read / {ID_SPAN}, MAX(journo_read % {ID_SPAN}) FROM documents"
                                  " GROUP BY 1").fetchall()
        nexts = self.next_numbers("journo_read", [fy for fy, _ in tops])
        problems += [f"journo_read {top} ({fy}年度) が次の番号 {nexts[fy]} 以上です" if fy else
                     f"journo_read {top} が次の番号 {nexts[fy]} 以上です" for fy, top in tops if top >= nexts[fy]]
        # Every transition folds a document's batch into its row before it joins another one.
        doubled = [key for (key,) in self._conn.execute(
            "SELECT d.key FROM documents d JOIN members m ON m.journo_read = d.journo_read AND m.batch > d.synced"
            " GROUP BY d.key HAVING count(*) > 1 LIMIT 6")]
        if doubled:
            problems.append(f"複数の送信バッチに重ねて記録された帳票があります: {shorten(doubled)}")
        return problems
