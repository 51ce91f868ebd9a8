"""Batches: the documents of one request move through the ledger together, stored once.

An upload request carries ~1000 documents from ``sending`` to ``done`` in about a second.
Writing every document's row (with its slips) twice per request, plus two history lines each,
cost more CPU than everything else the upload does. So a request is recorded as a *batch*:

* ``batches``: one row per request — its status, who moved it and when, FX's messages on its
  documents (written once, with the answer: as :class:`Answers` columns, or one text each);
* ``batch_docs``: what was sent, by position — the keys, 伝票番号, refreshed details — and the
  request body as POSTed with each document's number of slips (a document's slips, as sent);
* ``members``: one short line per document (journo_read → batch, position), the only write per
  document;
* ``events``: one history line per step of the batch (``batch`` > 0, ``key`` empty, its id kept
  in the batch row), read out as one line per document.

A document's own row holds its state up to the last batch folded into it (``synced``); a member
line of a later batch *overlays* it. At most one batch overlays a document: every transition that
is not a whole batch's (a 400 naming some of its documents, 再連携, resolve, forget) first folds
the overlay into the row, then moves the row as before. Readers compose each record from its
row and overlay (:class:`Overlays`), so what the ledger reports is what per-document rows said.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from itertools import accumulate
from typing import Any, Final

from converter.fx_rules import compact_json
from converter.ledger.answers import Answers, deflate, inflate
from converter.ledger.records import DocumentRecord, Event, chunks
from converter.ledger.statuses import Role, Status

DOC_SELECT = (
    "d.key, d.journo_read, d.content_hash, d.status, d.attempts, d.last_message, d.journo, d.kind,"
    " d.doc_no, d.ymd, d.amount, d.created_at, d.updated_at, d.operator, d.parent, d.role"
)
#: A record's columns, then its overlay (batch, position; NULL without one).
RECORD_COLUMNS = DOC_SELECT + ", m.batch, m.pos"
OVERLAY = "LEFT JOIN members m ON m.journo_read = d.journo_read AND m.batch > d.synced"
#: ``COALESCE(b.status, d.status)`` is a document's status with these joins.
STATE = f"{OVERLAY} LEFT JOIN batches b ON b.id = m.batch"
_ENCODE = json.JSONEncoder(ensure_ascii=False, check_circular=False).encode
#: Stored status and role texts as their enums. The ledger's own rules (check) allow no other
#: value; a damaged ledger read without the check keeps its text as read.
class _AsEnum(dict[str, Any]):
    def __missing__(self, key: str) -> str:
        return key


_ENUM: Final = _AsEnum({**{s.value: s for s in Status}, **{r.value: r for r in Role}})


def encode_keys(keys: Sequence[str]) -> str:
    """The keys as stored (and compared: a whole batch is recognised by this text)."""
    return _ENCODE(keys)


def pack(values: Sequence[str | None]) -> tuple[str | None, bytes | None]:
    """Messages by position (a whole request made エラー, 要確認…) as (lengths, their concatenation
    deflated); (None, None) when all are None. Joined rather than JSON: FX's messages are JSON texts,
    full of quotes to escape. Deflated: ~1000 of them repeat one or two sentences."""
    if all(v is None for v in values):
        return None, None
    text = "".join(v for v in values if v is not None)
    return _ENCODE([-1 if v is None else len(v) for v in values]), deflate(text.encode("utf-8"))


def unpack(lengths: str | None, packed: bytes | None) -> list[str | None] | None:
    if lengths is None or packed is None:
        return None
    sizes, text = json.loads(lengths), inflate(packed).decode("utf-8")
    ends = list(accumulate(max(n, 0) for n in sizes))
    return [None if n < 0 else text[end - n:end] for n, end in zip(sizes, ends, strict=True)]


@dataclass
class Batch:
    """One batch as readers need it (JSON columns decoded once per read)."""

    id: int
    status: str
    retries: frozenset[int]
    sent_at: str
    sent_by: str
    answered_at: str
    answered_by: str
    message: str
    messages: list[str | None] | None
    journos: list[int | None] | None
    infos: list[list[Any] | None] | None
    answers: Answers | None = None
    keys: list[str] = field(default_factory=list)
    posted: list[list[Any]] | None = None  # each document's slips as sent (None: not recorded)
    _answered: dict[int, list[int]] | None = None

    def message_at(self, pos: int, default: str) -> str:
        if self.answers is not None:
            if self._answered is None:
                self._answered = self.answers.by_position()
            found = self._answered.get(pos)
            return default if found is None else self.answers.text(found)
        text = self.messages[pos] if self.messages else None
        return default if text is None else text


class Overlays:
    """Reads records through their overlays; each batch is loaded once per instance."""

    def __init__(self, conn: sqlite3.Connection) -> None:
        self.conn = conn
        self.batches: dict[int, Batch] = {}
        self._bodies: set[tuple[int, str]] = set()  # (batch, "keys" | "posted") loaded

    def load(self, ids: Iterable[int], *, keys: bool = False, posted: bool = False) -> None:
        ids = list(dict.fromkeys(ids))
        wanted = [i for i in ids if i not in self.batches]
        for part in chunks(wanted):
            marks = ",".join("?" * len(part))
            for row in self.conn.execute(
                    "SELECT b.id, b.status, b.retries, b.sent_at, b.sent_by, b.answered_at, b.answered_by,"
                    " b.message, b.message_lengths, b.messages, d.journos, d.infos, b.answers FROM batches b"
                    f" JOIN batch_docs d ON d.batch = b.id WHERE b.id IN ({marks})", tuple(part)):
                (batch, status, retries, sent_at, sent_by, answered_at, answered_by, message, lengths, messages,
                 journos, infos, answers) = row
                self.batches[batch] = Batch(
                    batch, status, frozenset(json.loads(retries)), sent_at, sent_by, answered_at, answered_by,
                    message, unpack(lengths, messages), json.loads(journos) if journos else None,
                    json.loads(infos) if infos else None, Answers.decode(answers) if answers else None)
        for name, needed in (("keys", keys), ("posted", posted)):
            if needed:
                self._load_body(name, ids)

    def _load_body(self, name: str, ids: list[int]) -> None:
        todo = [i for i in ids if (i, name) not in self._bodies]
        columns = "keys" if name == "keys" else "slips, body"
        for part in chunks(todo):
            marks = ",".join("?" * len(part))
            for row in self.conn.execute(f"SELECT batch, {columns} FROM batch_docs WHERE batch IN ({marks})",
                                         tuple(part)):
                batch = self.batches[row[0]]
                if name == "keys":
                    batch.keys = json.loads(row[1])
                elif row[1] is not None:
                    counts, slips = json.loads(row[1]), json.loads(row[2])["slips"]
                    ends = list(accumulate(counts))
                    batch.posted = [slips[end - n:end] for n, end in zip(counts, ends, strict=True)]
        self._bodies.update((i, name) for i in todo)

    def records(self, rows: list[tuple[Any, ...]]) -> list[DocumentRecord]:
        """Rows of RECORD_COLUMNS as the records they stand for."""
        self.load(r[16] for r in rows if r[16] is not None)
        return [self.record(r) for r in rows]

    def record(self, row: tuple[Any, ...]) -> DocumentRecord:
        (key, journo_read, content_hash, status, attempts, last_message, journo, kind, doc_no, ymd, amount,
         created_at, updated_at, operator, parent, role, batch_id, pos) = row
        if batch_id is None:
            return DocumentRecord(key, journo_read, content_hash, _ENUM[status], attempts, last_message, journo,
                                  kind, doc_no, ymd, amount, created_at, updated_at, operator, parent, _ENUM[role])
        role = _ENUM[role]
        batch = self.batches[batch_id]
        info = batch.infos[pos] if batch.infos else None
        if info is not None:
            content_hash, kind, doc_no, ymd, amount = info
        if batch.journos and batch.journos[pos] is not None:
            journo = batch.journos[pos]
        sending = batch.status == Status.SENDING  # a send keeps the last message; the answer sets it
        return DocumentRecord(
            key, journo_read, content_hash, _ENUM[batch.status], attempts + 1,
            last_message if sending else batch.message_at(pos, batch.message), journo, kind, doc_no, ymd,
            amount, created_at, batch.sent_at if sending else batch.answered_at,
            batch.sent_by if sending else batch.answered_by, parent, role)

    def posted(self, batch_id: int, pos: int) -> list[Any] | None:
        """The slips the batch sent for the document at ``pos`` (None: it kept the row's)."""
        self.load([batch_id], posted=True)
        found = self.batches[batch_id].posted
        return found[pos] if found else None

    def events(self, rows: list[tuple[Any, ...]]) -> list[Event]:
        """History rows (id, key, at, action, status, operator, message, batch, pos) as lines:
        a batch's line becomes one per document (only ``pos``'s when given), in request order."""
        self.load({r[7] for r in rows if r[7]}, keys=True)
        out: list[Event] = []
        for _, key, at, action, status, operator, message, batch_id, pos in rows:
            if not batch_id:
                out.append(Event(key, at, action, status, operator, message))
                continue
            batch = self.batches[batch_id]
            places = range(len(batch.keys)) if pos is None else (pos,)
            for p in places:
                if action == "send":
                    out.append(Event(batch.keys[p], at, "retry" if p in batch.retries else "send", status,
                                     operator, message))
                else:
                    out.append(Event(batch.keys[p], at, action, status, operator, batch.message_at(p, message)))
        return out


def open_batch(
    conn: sqlite3.Connection, keys_text: str, ids: str, *, at: str, operator: str, retries: str,
    journos: Sequence[int | None] | None, infos: Sequence[Sequence[Any] | None] | None,
    body: bytes | None, slips: Sequence[int] | None,
) -> int:
    """Record documents (``keys_text``: :func:`encode_keys`; ``ids``: a JSON object of their
    journo_read by position; ``retries``: a JSON array of the positions sent again) as sent
    together, the caller having checked they may be: three rows and one short member line per
    document, whatever their number. The body is kept as it is: deflating ~400 KB took ~0.8 ms a
    request, more than writing (and checkpointing) the pages it saved (measured: ~0.4 ms net loss)."""
    batch = int(conn.execute("SELECT COALESCE(MAX(id), 0) + 1 FROM batches").fetchone()[0])
    event = conn.execute("INSERT INTO events (key, at, action, status, operator, message, batch)"
                         " VALUES ('', ?, 'send', 'sending', ?, '', ?)", (at, operator, batch)).lastrowid
    conn.execute("INSERT INTO batches (id, status, retries, sent_at, sent_by, sent_event)"
                 " VALUES (?, 'sending', ?, ?, ?, ?)", (batch, retries, at, operator, event))
    conn.execute("INSERT INTO batch_docs (batch, keys, journos, infos, slips, body) VALUES (?, ?, ?, ?, ?, ?)",
                 (batch, keys_text, _ENCODE(journos) if journos else None, _ENCODE(infos) if infos else None,
                  None if body is None else _ENCODE(slips), body))
    conn.execute("INSERT INTO members (journo_read, batch, pos) SELECT value, ?, CAST(key AS INTEGER)"
                 " FROM json_each(?)", (batch, ids))
    return batch


def batch_of(conn: sqlite3.Connection, key: str) -> int | None:
    """The batch overlaying ``key``'s record, if any."""
    row = conn.execute(f"SELECT m.batch FROM documents d {OVERLAY} WHERE d.key = ?", (key,)).fetchone()
    return None if row is None or row[0] is None else int(row[0])


def answer_batch(
    conn: sqlite3.Connection, batch: int, keys: str | None, *, to: Status, action: str,
    messages: Sequence[str | None] | Answers | None, default: str, at: str, operator: str,
) -> bool:
    """Move a whole batch out of ``sending`` in one row, if it still is one: in ``sending``, none of
    its documents folded, and (``keys`` given) exactly those keys in that order. False: untouched.
    ``messages``: each document's text by position, or FX's messages as columns."""
    lengths, text = pack(messages or ()) if not isinstance(messages, Answers) else (None, None)
    answers = messages.encode() if isinstance(messages, Answers) else None
    same_keys = " AND EXISTS (SELECT 1 FROM batch_docs WHERE batch_docs.batch = batches.id AND keys = ?)"
    changed = conn.execute(
        "UPDATE batches SET status = ?, answered_at = ?, answered_by = ?, message = ?, message_lengths = ?,"
        " messages = ?, answers = ? WHERE id = ? AND status = 'sending' AND folded = 0"
        + (same_keys if keys is not None else ""),
        (to, at, operator, default, lengths, text, answers, batch, *(() if keys is None else (keys,)))).rowcount
    if changed != 1:
        return False
    event = conn.execute("INSERT INTO events (key, at, action, status, operator, message, batch)"
                         " VALUES ('', ?, ?, ?, ?, ?, ?)", (at, action, to, operator, default, batch)).lastrowid
    conn.execute("UPDATE batches SET answer_event = ? WHERE id = ?", (event, batch))
    return True


def fold(conn: sqlite3.Connection, keys: Sequence[str]) -> None:
    """Write the overlay of each of ``keys`` (those that have one) into its row, which then
    stands alone again: the state it reads as does not change."""
    overlays = Overlays(conn)
    rows: list[tuple[Any, ...]] = []
    for part in chunks(keys):
        marks = ",".join("?" * len(part))
        rows += conn.execute(f"SELECT {RECORD_COLUMNS}, d.rowid, d.posted FROM documents d"
                             f" CROSS JOIN members m ON m.journo_read = d.journo_read AND m.batch > d.synced"
                             f" WHERE d.key IN ({marks})",
                             tuple(part)).fetchall()
    if not rows:
        return
    overlays.load(r[16] for r in rows)
    updates = []
    per_batch: dict[int, int] = {}
    for row in rows:
        rec = overlays.record(row[:18])
        posted = overlays.posted(row[16], row[17])
        updates.append((rec.status, rec.attempts, rec.last_message, rec.journo, rec.content_hash, rec.kind,
                        rec.doc_no, rec.ymd, rec.amount, rec.updated_at, rec.operator,
                        row[19] if posted is None else compact_json(posted), row[16], row[18]))
        per_batch[row[16]] = per_batch.get(row[16], 0) + 1
    conn.executemany(
        "UPDATE documents SET status = ?, attempts = ?, last_message = ?, journo = ?, content_hash = ?, kind = ?,"
        " doc_no = ?, ymd = ?, amount = ?, updated_at = ?, operator = ?, posted = ?, synced = ? WHERE rowid = ?",
        updates)
    conn.executemany("UPDATE batches SET folded = folded + ? WHERE id = ?", [(n, b) for b, n in per_batch.items()])
