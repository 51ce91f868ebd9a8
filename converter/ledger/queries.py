"""Reading the ledger: records, history, counts and the questions an upload's plan asks
(which documents vanished from an export, each document's chain of corrections, what was sent).

Every record is composed from its row and the batch that overlays it
(:class:`~converter.ledger.batches.Overlays`), so what is read is what per-document rows said.
The transitions are in :mod:`converter.ledger.ledger`.
"""

from __future__ import annotations

import json
from collections.abc import Iterable
from typing import Any

from converter.errors import LedgerError
from converter.ledger.batches import DOC_SELECT, OVERLAY, RECORD_COLUMNS, STATE, Overlays
from converter.ledger.file import LedgerFile
from converter.ledger.records import STATUSES, DocumentRecord, Event, chunks
from converter.ledger.statuses import Role, Status


class LedgerQueries(LedgerFile):
    """The read side of :class:`~converter.ledger.ledger.Ledger`."""

    # ----------------------------------------------------------------- reading
    def get(self, keys: Iterable[str]) -> dict[str, DocumentRecord]:
        return self._rows(list(dict.fromkeys(keys)))

    def documents(self, status: str | None = None) -> list[DocumentRecord]:
        """All records (or those in ``status``) in ``journo_read`` order."""
        if status is not None and status not in STATUSES:
            raise LedgerError(f"不明なステータスです: {status}")
        params: tuple[str, ...] = ()
        if status is None:
            sql = f"SELECT {RECORD_COLUMNS} FROM documents d {OVERLAY} ORDER BY d.journo_read"
        else:  # records whose own row says so, then those a batch in that status overlays (CROSS JOIN:
            # batch by batch, else SQLite may scan every batch's keys for each document)
            sql = (f"SELECT {RECORD_COLUMNS} FROM documents d {OVERLAY} WHERE d.status = ?1 AND m.batch IS NULL"
                   f" UNION ALL SELECT {DOC_SELECT}, b.id, j.key FROM batches b CROSS JOIN batch_docs bd"
                   " ON bd.batch = b.id CROSS JOIN json_each(bd.keys) j CROSS JOIN documents d ON d.key = j.value"
                   " WHERE b.status = ?1 AND d.synced < b.id ORDER BY 2")
            params = (status,)
        return Overlays(self._conn).records(self._conn.execute(sql, params).fetchall())

    def events(self, key: str | None = None) -> list[Event]:
        """The history (API連携履歴) of one key, or of the whole ledger, oldest first."""
        columns = "id, key, at, action, status, operator, message, batch"
        if key is None:
            rows = self._conn.execute(f"SELECT {columns}, NULL FROM events ORDER BY id").fetchall()
        else:  # its own lines, and those of the batches it was sent in
            # journo_read of each record the key has had (a forgotten one is in its snapshot)
            ids = ("SELECT journo_read FROM documents WHERE key = ?1 UNION SELECT json_extract(message,"
                   " '$.journo_read') FROM events WHERE key = ?1 AND key != '' AND action = 'forget'")
            rows = self._conn.execute(
                f"SELECT {columns}, NULL FROM events WHERE key = ?1 AND key != '' AND batch = 0 UNION ALL"
                " SELECT e.id, e.key, e.at, e.action, e.status, e.operator, e.message, e.batch, m.pos"
                " FROM members m JOIN batches b ON b.id = m.batch JOIN events e ON e.id IN (b.sent_event,"
                f" b.answer_event) WHERE m.journo_read IN ({ids}) ORDER BY 1", (key,)).fetchall()
        return Overlays(self._conn).events(rows)

    def requests_of(self, keys: Iterable[str]) -> dict[str, tuple[int, str, int]]:
        """The request each document was last sent in: (its batch id, when it was sent, how many
        documents it carried). Documents never sent in a batch (or sent before ledger version 3)
        are left out."""
        wanted = list(dict.fromkeys(keys))
        last: dict[str, int] = {}
        for part in chunks(wanted):
            marks = ",".join("?" * len(part))
            last.update(self._conn.execute(
                "SELECT d.key, MAX(m.batch) FROM documents d JOIN members m ON m.journo_read = d.journo_read"
                f" WHERE d.key IN ({marks}) GROUP BY d.key", tuple(part)).fetchall())
        batches = sorted(set(last.values()))
        sent: dict[int, tuple[str, int]] = {}
        for ids in chunks(batches):
            marks = ",".join("?" * len(ids))
            for batch, at, size in self._conn.execute(
                    "SELECT b.id, b.sent_at, json_array_length(d.keys) FROM batches b JOIN batch_docs d"
                    f" ON d.batch = b.id WHERE b.id IN ({marks})", tuple(ids)):
                sent[batch] = (at, size)
        return {k: (b, *sent[b]) for k, b in last.items() if b in sent}

    def summary(self) -> dict[str, int]:
        """Count per status, every status present."""
        sql = f"SELECT COALESCE(b.status, d.status), COUNT(*) FROM documents d {STATE} GROUP BY 1"
        return dict.fromkeys((s.value for s in STATUSES), 0) | dict(self._conn.execute(sql).fetchall())

    def vanished(
        self, present: Iterable[str], *, ymd_from: str, ymd_to: str,
        kinds: Iterable[str] | None = None,
    ) -> list[DocumentRecord]:
        """Done documents dated ``ymd_from``..``ymd_to`` (inclusive) missing from ``present``.

        A ledger keeps every month, so only candidates are read: originals whose own row is dated in
        the period, those a batch sent with refreshed details (which may carry another date), and
        those with a correction (訂正後) dated in it — a re-dated document's version in FX may carry
        another date than its original (the caller checks the date of what FX holds now).
        The records are then checked as read.
        """
        here = set(present)
        kind_set = set(kinds) if kinds is not None else None
        in_period = (f"SELECT {RECORD_COLUMNS} FROM documents d {OVERLAY}"
                     " WHERE d.role = 'original' AND d.ymd BETWEEN ?1 AND ?2")
        refreshed = (f"SELECT {DOC_SELECT}, b.id, j.key FROM batch_docs bd CROSS JOIN batches b ON b.id = bd.batch"
                     " CROSS JOIN json_each(bd.keys) j CROSS JOIN documents d ON d.key = j.value"
                     " WHERE bd.infos IS NOT NULL AND d.synced < b.id AND d.role = 'original'")
        redated = (f"SELECT {RECORD_COLUMNS} FROM documents d {OVERLAY} WHERE d.role = 'original' AND d.key IN"
                   " (SELECT parent FROM documents WHERE role = 'replacement' AND ymd BETWEEN ?1 AND ?2)")
        rows = self._conn.execute(f"{in_period} UNION {refreshed} UNION {redated} ORDER BY 2",
                                  (ymd_from, ymd_to)).fetchall()
        replaced = {p for (p,) in self._conn.execute(
            "SELECT DISTINCT parent FROM documents WHERE role = 'replacement' AND ymd BETWEEN ? AND ?",
            (ymd_from, ymd_to))}
        return [rec for rec in Overlays(self._conn).records(rows)
                if rec.status == Status.DONE and rec.role == Role.ORIGINAL
                and (ymd_from <= rec.ymd <= ymd_to or rec.key in replaced)
                and rec.key not in here and (kind_set is None or rec.kind in kind_set)]

    def chains(self, keys: Iterable[str]) -> dict[str, list[DocumentRecord]]:
        """Each source document's records: the original, then its corrections in order."""
        found: dict[str, list[DocumentRecord]] = {}
        wanted = list(dict.fromkeys(keys))
        records = self._select(f"SELECT {RECORD_COLUMNS} FROM documents d {OVERLAY} WHERE d.key IN ({{marks}})",
                               wanted)
        # Corrections are few: all at once, through their own index. "key IN (…) OR parent IN (…)"
        # made SQLite scan the whole ledger for every 500 keys (a month of 750k documents against
        # a ledger of earlier months: quadratic).
        parents, seen = set(wanted), {r.journo_read for r in records}
        every = self._conn.execute(f"SELECT {RECORD_COLUMNS} FROM documents d {OVERLAY} WHERE d.parent != ''")
        records += [r for r in Overlays(self._conn).records(every.fetchall())
                    if r.parent in parents and r.journo_read not in seen]
        for record in sorted(records, key=lambda r: r.journo_read):
            found.setdefault(record.parent or record.key, []).append(record)
        return found

    def posted(self, keys: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """The slips each document was sent as (empty list if it never was)."""
        result: dict[str, list[dict[str, Any]]] = {}
        overlays = Overlays(self._conn)
        for part in chunks(list(dict.fromkeys(keys))):
            marks = ",".join("?" * len(part))
            for key, body, batch, pos in self._conn.execute(
                    f"SELECT d.key, d.posted, m.batch, m.pos FROM documents d {OVERLAY} WHERE d.key IN ({marks})",
                    tuple(part)).fetchall():
                sent = None if batch is None else overlays.posted(batch, pos)
                result[key] = sent if sent is not None else json.loads(body) if body else []
        return result

    def known(self, keys: Iterable[str]) -> set[str]:
        """Those of ``keys`` the ledger has records of: as a document, or as the source of corrections."""
        wanted = list(dict.fromkeys(keys))
        parents = {p for (p,) in self._conn.execute("SELECT DISTINCT parent FROM documents WHERE parent != ''")}
        return set(self._ids(wanted)) | (parents & set(wanted))

    def kept_by_upgrade(self) -> frozenset[str]:
        """Keys the identity upgrade left under their dated form: a second record of a document
        (see :mod:`converter.ledger.identity`); empty for most ledgers."""
        row = self._conn.execute("SELECT value FROM meta WHERE name = 'identity_kept'").fetchone()
        return frozenset(json.loads(row[0])) if row else frozenset()

