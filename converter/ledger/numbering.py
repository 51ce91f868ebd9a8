"""FX numbers per fiscal year: ``journo_read`` (連携番号) and ``journo`` (伝票番号).

The FX reference gives their ranges — ``journo`` 半角数字 5 桁 (1…99999) and ``journo_read``
半角数字 6 桁 (1…999999), see the slips/import schema — and for ``journo`` says the caller keeps
the last number it issued (starting at 1) and increments it. It says nothing about fiscal years
(会計期間), about resetting, or about whether FX checks either number for uniqueness. FX keeps
each 会計期間's data apart (issue 15), so the ledger numbers per fiscal year: the counters restart
each year and stay unique within it, and a company never reaches the ceiling through normal use.
Where the reference is silent we do not assume FX rejects a repeated number: the ledger simply
never issues one twice within a fiscal year.

A document's fiscal year is that of its slips' date (``ymd_tr``; a reversal dated by
``--correction-date`` belongs to that date's year), with ``fiscal_year_start`` (settings.yaml,
default 4 = April) as the first month. The ledger records the start month with the first numbers
and refuses a later change (numbers already in FX would no longer be unique within a year).

Storage: table ``numbering (fy, field, next)``, one row per fiscal year and field, created as
numbers are issued. A document's ledger id (column ``documents.journo_read``, the key every batch
line refers to) is ``fy * ID_SPAN + number``: unique for ever, while FX gets ``number``. ``fy`` 0
holds the numbers of a ledger from before per-year numbering and of documents without a date; it
keeps the old single counters (meta ``next_journo_read`` / ``next_journo``). A ledger upgraded in
place keeps its documents' numbers (they are in FX); the fiscal years its documents' dates cover
continue above its old counters (meta ``legacy_*``), later ones start at 1.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Mapping
from typing import Final

from converter.errors import LedgerError
from converter.fx_rules import MAX_JOURNO, MAX_JOURNO_READ

ID_SPAN: Final = 1_000_000  # ledger id = fy * ID_SPAN + journo_read
CEILING: Final[dict[str, int]] = {"journo_read": MAX_JOURNO_READ, "journo": MAX_JOURNO}
LABEL: Final[dict[str, str]] = {"journo_read": "連携番号 (journo_read)", "journo": "伝票番号 (journo)"}
DEFAULT_START: Final = 4
MIGRATED_FLAG: Final = "numbering_per_fy"  # meta flag: migrate_numbering has run

NUMBERING_SCHEMA = """
CREATE TABLE IF NOT EXISTS numbering (
    fy INTEGER NOT NULL CHECK (fy >= 1), field TEXT NOT NULL CHECK (field IN ('journo_read', 'journo')),
    next INTEGER NOT NULL CHECK (next >= 1), PRIMARY KEY (fy, field)) WITHOUT ROWID;
"""

#: The documents table's id rule since per-year numbering (was: BETWEEN 1 AND 999999).
ID_CHECK = f"CHECK (journo_read >= 1 AND journo_read % {ID_SPAN} BETWEEN 1 AND {MAX_JOURNO_READ})"


def fiscal_year(ymd: str, start: int) -> int:
    """The fiscal year (the calendar year it starts in) of a date ``YYYYMMDD`` / ``YYYY-MM-DD``;
    0 when there is no date."""
    digits = ymd.replace("-", "").replace("/", "")[:6]
    if len(digits) != 6 or not digits.isdigit():
        return 0
    year, month = int(digits[:4]), int(digits[4:])
    return year if month >= start else year - 1


def year_label(fy: int, start: int) -> str:
    """``2026年度 (2026-04〜2027-03)``; fy 0: the numbers from before per-year numbering."""
    if fy == 0:
        return "年度別の採番より前の番号・日付のない帳票"
    last_year, last_month = (fy, 12) if start == 1 else (fy + 1, start - 1)
    return f"{fy}年度 ({fy}-{start:02d}〜{last_year}-{last_month:02d})"


def number_of(ledger_id: int) -> int:
    """What FX gets as ``journo_read`` for a ledger id."""
    return ledger_id % ID_SPAN


def migrate_numbering(conn: sqlite3.Connection) -> None:
    """Upgrade a ledger to per-year numbering, inside the caller's write transaction. Idempotent:
    keyed on the meta flag ``numbering_per_fy``.

    Adds ``numbering``; lifts the documents table's id rule (SQLite cannot alter a CHECK: the table
    is rebuilt, rows and rowids as they are); records the old counters and the span of the dates
    already numbered, so that those fiscal years continue above the numbers FX holds.
    """
    if conn.execute("SELECT 1 FROM meta WHERE name = ?", (MIGRATED_FLAG,)).fetchone():
        return
    conn.execute(NUMBERING_SCHEMA)
    sql = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'documents'").fetchone()[0]
    old_check = f"CHECK (journo_read BETWEEN 1 AND {MAX_JOURNO_READ})"
    if old_check in sql:
        columns = ", ".join(r[1] for r in conn.execute("PRAGMA table_info(documents)"))
        conn.execute(sql.replace("CREATE TABLE documents", "CREATE TABLE documents_numbered", 1)
                     .replace(old_check, ID_CHECK))
        conn.execute(f"INSERT INTO documents_numbered (rowid, {columns}) SELECT rowid, {columns} FROM documents")
        indexes = [r[0] for r in conn.execute("SELECT sql FROM sqlite_master WHERE type = 'index'"
                                              " AND tbl_name = 'documents' AND sql IS NOT NULL")]
        conn.execute("DROP TABLE documents")
        conn.execute("ALTER TABLE documents_numbered RENAME TO documents")
        for statement in indexes:
            conn.execute(statement)
    # The dates the old counters numbered, as YYYYMM ('' for a document without a date).
    low, high, undated = conn.execute(
        "SELECT min(m), max(m), total(m = '') FROM (SELECT substr(replace(replace(ymd, '-', ''), '/', ''), 1, 6)"
        " AS m FROM documents)").fetchone()
    meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
    legacy = [("legacy_journo_read", meta.get("next_journo_read", "1")),
              ("legacy_journo", meta.get("next_journo", "1")),
              ("legacy_from", "000000" if undated else (low or "")),
              ("legacy_to", "999999" if undated else (high or "")), (MIGRATED_FLAG, "1")]
    conn.executemany("INSERT OR REPLACE INTO meta (name, value) VALUES (?, ?)", legacy)


def _floor(meta: Mapping[str, str], fy: int, start: int, field: str) -> int:
    """Where a fiscal year's counter starts: above the old counter if the old numbers may be in it."""
    if MIGRATED_FLAG not in meta:  # an older ledger read without upgrading it: assume the worst
        return int(meta.get(f"next_{field}", "1"))
    low, high = meta.get("legacy_from", ""), meta.get("legacy_to", "")
    if not low or not high:
        return 1
    first = f"{fy:04d}{start:02d}"
    last = f"{fy:04d}12" if start == 1 else f"{fy + 1:04d}{start - 1:02d}"
    overlaps = not (high < first or low > last)
    return int(meta.get(f"legacy_{field}", "1")) if overlaps else 1


def next_numbers(conn: sqlite3.Connection, field: str, years: list[int], start: int) -> dict[int, int]:
    """The next ``field`` number of each fiscal year (fy 0: the old single counter)."""
    meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
    stored = dict(conn.execute("SELECT fy, next FROM numbering WHERE field = ?", (field,)).fetchall())
    out = {}
    for fy in years:
        if fy == 0:
            out[fy] = int(meta.get(f"next_{field}", "1"))
        else:
            out[fy] = int(stored[fy]) if fy in stored else _floor(meta, fy, start, field)
    return out


def shortages(field: str, needed: Mapping[int, int], nexts: Mapping[int, int], start: int) -> list[str]:
    """One line per fiscal year whose numbers would go past the ceiling (empty: they all fit)."""
    ceiling = CEILING[field]
    return [f"{year_label(fy, start)}: 次の番号 {nexts[fy]:,}、必要数 {n:,}、残り {max(ceiling - nexts[fy] + 1, 0):,}"
            for fy, n in sorted(needed.items()) if n and nexts[fy] + n - 1 > ceiling]


def refuse(field: str, lines: list[str], path: str) -> LedgerError:
    """The error for numbers that do not fit (nothing is sent or issued)."""
    hint = ("FX の「仕訳の入力設定」で伝票番号を「システム自動付番」にすると、この上限なしで連携できます"
            if field == "journo" else "年度内の帳票数が上限を超えています。送信する期間を分けてください")
    return LedgerError(f"{LABEL[field]} の上限 {CEILING[field]} を超えるため、何も送信していません。"
                       + " / ".join(lines) + "。" + hint, file=path)


def advance(conn: sqlite3.Connection, field: str, nexts: Mapping[int, int]) -> None:
    """Store each fiscal year's new next number."""
    for fy, value in nexts.items():
        if fy == 0:
            conn.execute("UPDATE meta SET value = ? WHERE name = ?", (str(value), f"next_{field}"))
        else:
            conn.execute("INSERT OR REPLACE INTO numbering (fy, field, next) VALUES (?, ?, ?)", (fy, field, value))


def settle_start(conn: sqlite3.Connection, start: int | None, path: str) -> int:
    """The ledger's fiscal_year_start (recorded, else the default April). ``start`` other than that:
    recorded if no per-year number was issued yet, else refused (write transaction needed then).
    Returns the start month in force."""
    row = conn.execute("SELECT value FROM meta WHERE name = 'fiscal_year_start'").fetchone()
    current = int(row[0]) if row and str(row[0]).isdigit() else DEFAULT_START
    if start is None or start == current:
        return current
    if conn.execute("SELECT 1 FROM numbering LIMIT 1").fetchone():
        raise LedgerError(f"この台帳は会計期間の開始月 {current} 月で伝票番号・連携番号を年度ごとに発行済みです。"
                          f"settings.yaml の fiscal_year_start を {start} に変えると年度内の番号が重なるため"
                          f"使えません。fiscal_year_start: {current} に戻してください", file=path)
    conn.execute("INSERT OR REPLACE INTO meta (name, value) VALUES ('fiscal_year_start', ?)", (str(start),))
    return start
