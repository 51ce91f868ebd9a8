"""Upgrading a ledger to document identity 取引種別 + 帳票番号 (meta ``identity = kind_no``).

Earlier releases keyed every document 取引種別 | 帳票番号 | 取引日, so a document re-dated in
Jobcan was "deleted" and "new" and posted twice. :func:`migrate_identity` re-keys a ledger in
place, inside the caller's upgrade transaction, and is idempotent (keyed on the meta flag), so it
composes with the other upgrade steps of :mod:`converter.ledger.records`:

* an original ``kind|no|date`` becomes ``kind|no``, its corrections ``kind|no|取消n`` /
  ``kind|no|訂正n``, and so do their history lines and the keys of the batches they were sent in;
* documents of :data:`~converter.keys.DATED_KINDS` (the 弥生 profile keeps the date) stay as
  they are, and so do keys not of the ``kind|no|date`` form (a caller's own keys);
* two records of one document (same 取引種別 + 帳票番号, different dates: the old key made the
  second one "new") are never merged: the one FX holds (連携完了; else the latest) takes the new
  key, each other one keeps its old key and status, with a history line (操作種別 キー形式の移行)
  and a message saying what to check; meta ``identity_kept`` lists them. A 連携完了 one is then
  reported 削除あり by the next upload of its period: FX may hold that document twice, and
  ``--corrections`` reverses the extra slip.
"""

from __future__ import annotations

import json
import sqlite3

from converter import clock
from converter.keys import DATED_KINDS, LEDGER_IDENTITY, SEP, dated_key, document_key
from converter.ledger.batches import STATE, encode_keys, fold
from converter.ledger.records import chunks, current_user, insert_events

__all__ = ["KEPT_MESSAGE", "migrate_identity"]

#: What a record kept under its old key says (history, last message).
KEPT_MESSAGE = (
    "台帳の形式更新: 帳票は 取引種別+帳票番号 で 1 件になりましたが、取引日だけが違う同じ帳票の記録が複数ありました。"
    "{new} に {chosen} の記録を引き継ぎ、この記録は元のキーのまま残しています。"
    "連携完了なら FX に同じ帳票の仕訳が二重に登録されている可能性があります: FX で確認し、"
    "二重なら upload --corrections で取消仕訳を送る (書出にない帳票として削除ありになります) か、"
    "FX で削除してから converter forget --force で記録を消してください。未送信なら converter forget で消せます"
)


def migrate_identity(conn: sqlite3.Connection) -> list[str]:
    """Re-key the ledger to ``kind|no`` (see the module docstring); the keys kept as they were
    because another record of the same document took the new key. Runs inside the caller's
    transaction; does nothing when meta ``identity`` is already set."""
    row = conn.execute("SELECT value FROM meta WHERE name = 'identity'").fetchone()
    if row is not None and row[0] == LEDGER_IDENTITY:
        return []
    found = conn.execute(
        f"SELECT d.key, d.kind, d.doc_no, d.ymd, COALESCE(b.status, d.status) = 'done', d.journo_read"
        f" FROM documents d {STATE} WHERE d.role = 'original' AND d.parent = ''").fetchall()
    existing = {r[0] for r in found}
    groups: dict[str, list[tuple[bool, int, str]]] = {}
    for key, kind, doc_no, ymd, done, journo_read in found:
        if kind in DATED_KINDS or key != dated_key(kind, doc_no, ymd):
            continue
        groups.setdefault(document_key(kind, doc_no), []).append((bool(done), journo_read, key))
    rekey: list[tuple[str, str]] = []
    kept: list[tuple[str, str, str]] = []  # (old key kept, the new key, the record that took it)
    for new, records in groups.items():
        records.sort(reverse=True)  # 連携完了 first, then the latest registered
        chosen = records[0][2]
        if new in existing:  # a key of that form is taken already: keep every record as it is
            kept += [(r[2], new, new) for r in records]
            continue
        rekey.append((chosen, new))
        kept += [(r[2], new, chosen) for r in records[1:]]
    if rekey:
        _rename(conn, rekey)
    if kept:
        _keep(conn, kept)
    conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('identity', ?)", (LEDGER_IDENTITY,))
    if kept:  # for the reports of later runs (Ledger.kept_by_upgrade)
        conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('identity_kept', ?)",
                     (json.dumps([k[0] for k in kept], ensure_ascii=False),))
    return [k[0] for k in kept]


def _rename(conn: sqlite3.Connection, rekey: list[tuple[str, str]]) -> None:
    """Originals old → new, with their corrections, history lines and batch keys."""
    conn.execute("CREATE TEMP TABLE IF NOT EXISTS identity_rekey (old TEXT PRIMARY KEY, new TEXT NOT NULL)")
    conn.execute("DELETE FROM identity_rekey")
    conn.executemany("INSERT INTO identity_rekey (old, new) VALUES (?, ?)", rekey)
    # Corrections: parent|取消n → new|取消n (their parent is the original's key).
    conn.execute("INSERT INTO identity_rekey (old, new) SELECT d.key, r.new || substr(d.key, length(r.old) + 1)"
                 " FROM documents d JOIN identity_rekey r ON d.parent = r.old"
                 " WHERE substr(d.key, 1, length(r.old) + 1) = r.old || ?", (SEP,))
    conn.execute("UPDATE documents SET parent = (SELECT new FROM identity_rekey WHERE old = parent)"
                 " WHERE parent IN (SELECT old FROM identity_rekey)")
    conn.execute("UPDATE documents SET key = (SELECT new FROM identity_rekey WHERE old = key)"
                 " WHERE key IN (SELECT old FROM identity_rekey)")
    conn.execute("UPDATE events SET key = (SELECT new FROM identity_rekey WHERE old = key)"
                 " WHERE key IN (SELECT old FROM identity_rekey)")
    mapping = dict(conn.execute("SELECT old, new FROM identity_rekey").fetchall())
    updates = []
    for batch, text in conn.execute("SELECT batch, keys FROM batch_docs").fetchall():
        keys = encode_keys([mapping.get(k, k) for k in _decode(text)])
        if keys != text:
            updates.append((keys, batch))
    conn.executemany("UPDATE batch_docs SET keys = ? WHERE batch = ?", updates)
    conn.execute("DROP TABLE identity_rekey")


def _decode(text: str) -> list[str]:
    keys: list[str] = json.loads(text)
    return keys


def _keep(conn: sqlite3.Connection, kept: list[tuple[str, str, str]]) -> None:
    """Records left under their old key: their own row says why (folded first: a batch's answer
    would otherwise overlay the message), and a history line too."""
    fold(conn, [k[0] for k in kept])
    at, operator = clock.stamp(), current_user()
    messages = {old: KEPT_MESSAGE.format(new=new, chosen=chosen) for old, new, chosen in kept}
    conn.executemany("UPDATE documents SET last_message = ? WHERE key = ?", [(m, k) for k, m in messages.items()])
    statuses: dict[str, str] = {}
    for part in chunks(list(messages)):
        statuses.update(conn.execute(f"SELECT key, status FROM documents WHERE key IN ({','.join('?' * len(part))})",
                                     tuple(part)).fetchall())
    insert_events(conn, [(k, at, "migrate", statuses.get(k, ""), operator, m) for k, m in messages.items()])
