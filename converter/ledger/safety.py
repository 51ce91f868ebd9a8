"""Keeping the ledger safe: its backups, the checks that find damage, and the damage message.

The ledger is the company's only memory of what FX holds (the API has no read-back), so:

* **Backups**: before every upload that will send, a consistent copy (SQLite's online backup
  API, taken under the run lock) goes to ``backups/`` beside the real ledger file, named
  ``<stem>.<YYYYMMDD-HHMMSS>.sqlite`` in Japan time (``-2``, ``-3``… within one second); the newest
  ``ledger_backups`` (settings.yaml, default 10) are kept.
* **Damage**: every command that writes first runs ``PRAGMA integrity_check`` and the ledger's
  own rules (:func:`own_problems`: each index of ``documents`` agrees with the table row by row,
  statuses and roles are known ones, the meta rows are there). A zero-length file, a file without
  the ledger's tables and any SQLite "corrupt / not a database" error are damage too. Damage is
  always :class:`~converter.errors.LedgerDamaged`: nothing is sent, and the message names the
  newest backup and ``converter ledger restore``.

The folder name has one home here (:data:`BACKUPS_FOLDER`); :mod:`converter.outputs` keeps
``-o`` out of it.
"""

from __future__ import annotations

import contextlib
import os
import re
import sqlite3
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Final

from converter import clock
from converter.errors import LedgerDamaged, LedgerError
from converter.ledger.statuses import ROLES, STATUSES

__all__ = ["BACKUPS_FOLDER", "DEFAULT_KEEP", "backup_folder", "backups", "damaged", "guard", "init_command",
           "link_to_free_name", "make_backup", "newest_backup", "own_problems", "sync_folder", "timestamp"]

BACKUPS_FOLDER: Final = "backups"
DEFAULT_KEEP: Final = 10  # settings.yaml ledger_backups
REQUIRED_META: Final = ("schema_version", "ocode")
#: SQLite result codes that mean the file itself is bad (SQLITE_CORRUPT, SQLITE_NOTADB).
_DAMAGE_CODES: Final = (11, 26)


def _real(path: Path | str) -> Path:
    return Path(os.path.realpath(path))


def timestamp() -> str:
    """Now in Japan time, as backup and set-aside names carry it: ``YYYYMMDD-HHMMSS``."""
    return clock.now().strftime("%Y%m%d-%H%M%S")


# --------------------------------------------------------------------------- backups


def backup_folder(ledger: Path | str) -> Path:
    """``backups/`` beside the real ledger file (a symlinked ledger keeps its backups by the file)."""
    return _real(ledger).parent / BACKUPS_FOLDER


def _pattern(ledger: Path | str) -> re.Pattern[str]:
    return re.compile(re.escape(_real(ledger).stem) + r"\.(\d{8}-\d{6})(?:-(\d+))?\.sqlite")


def backups(ledger: Path | str) -> list[Path]:
    """This ledger's backups, oldest first (by the time in their name, then the ``-n`` counter)."""
    folder, pattern = backup_folder(ledger), _pattern(ledger)
    try:
        names = os.listdir(folder)
    except OSError:
        return []
    found = []
    for name in names:
        match = pattern.fullmatch(name)
        if match:
            found.append(((match[1], int(match[2] or 1)), folder / name))
    return [path for _, path in sorted(found)]


def newest_backup(ledger: Path | str) -> Path | None:
    found = backups(ledger)
    return found[-1] if found else None


def make_backup(conn: sqlite3.Connection, ledger: Path | str, keep: int = DEFAULT_KEEP) -> Path:
    """Copy the open ledger ``conn`` (a consistent snapshot) into its backups folder, then keep
    only the newest ``keep``. Written to a temporary file and renamed: a backup is whole or absent."""
    if keep < 1:
        raise LedgerError(f"ledger_backups は 1 以上です ({keep})")
    folder = backup_folder(ledger)
    stem, stamp = _real(ledger).stem, timestamp()
    try:
        folder.mkdir(mode=0o700, exist_ok=True)
        fd, tmp = tempfile.mkstemp(prefix=f".{stem}.", suffix=".tmp", dir=folder)  # user-only (0600)
        os.close(fd)
        try:
            target = sqlite3.connect(tmp, isolation_level=None)
            try:
                conn.backup(target)
            finally:
                target.close()
            with open(tmp, "rb") as handle:
                os.fsync(handle.fileno())
            # after every backup of this second, also one pruned already: names sort in time order
            n = 1 + max((int(m[2] or 1) for m in map(_pattern(ledger).fullmatch, os.listdir(folder))
                         if m and m[1] == stamp), default=0)
            path = link_to_free_name(tmp, lambda k: folder / (f"{stem}.{stamp}.sqlite" if k == 1
                                                             else f"{stem}.{stamp}-{k}.sqlite"), start=n)
        finally:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        sync_folder(folder)
        for old in backups(ledger)[:-keep]:
            with contextlib.suppress(FileNotFoundError):
                old.unlink()
    except OSError as err:
        raise LedgerError(f"台帳のバックアップを作れません ({err.strerror or err})。何も送信していません",
                          file=str(folder)) from None
    except sqlite3.Error as err:
        raise damaged(ledger, f"バックアップ中に読めない箇所がありました: {err}") from None
    return path


def link_to_free_name(source: Path | str, name: Callable[[int], Path], start: int = 1) -> Path:
    """Hard-link ``source`` as ``name(n)`` for the first ``n`` from ``start`` that is free: never
    over an existing file, even one made a moment ago by another process."""
    n = start
    while True:
        try:
            os.link(source, name(n))
            return name(n)
        except FileExistsError:
            n += 1


def sync_folder(folder: Path) -> None:
    """Make a rename or new file in this folder durable (its entry, not only its bytes)."""
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def init_command(mappings_dir: Path | str, ledger: Path | str | None = None) -> str:
    """The command that creates this company's ledger, as the user would type it."""
    return f"converter ledger init -m {mappings_dir}" + (f" --ledger {ledger}" if ledger is not None else "")


# --------------------------------------------------------------------------- damage


def damaged(ledger: Path | str, detail: str) -> LedgerDamaged:
    """The one message for a damaged ledger: what was found, that nothing was sent, and how to
    restore the newest backup (or that there is none)."""
    newest = newest_backup(ledger)
    head = f"台帳が壊れています ({detail})。何も送信していません。"
    if newest is None:
        return LedgerDamaged(head + f"\nバックアップがありません ({backup_folder(ledger)})。"
                             "FX に登録済みの仕訳を確かめてから、担当者に相談してください", path=str(ledger),
                             detail=detail)
    return LedgerDamaged(head + f"\n最新のバックアップ: {newest}\n"
                         f"復元するには: converter ledger restore {newest} --ledger {ledger}\n"
                         "(バックアップの後に送信した帳票は、復元後に 連携待ち として扱われます。"
                         "FX の登録内容と照らし合わせてください)", path=str(ledger), backup=str(newest),
                         detail=detail)


def is_damage(err: sqlite3.Error) -> bool:
    """SQLite says the file is corrupt or not a database (not: busy, locked, permissions)."""
    code = getattr(err, "sqlite_errorcode", None)
    if code is not None:
        return code & 0xFF in _DAMAGE_CODES
    return isinstance(err, sqlite3.DatabaseError) and not isinstance(err, sqlite3.OperationalError)


@contextlib.contextmanager
def guard(ledger: Path | str) -> Iterator[None]:
    """Inside, a SQLite error saying the file is damaged becomes :func:`damaged` (never 内部エラー)."""
    try:
        yield
    except sqlite3.Error as err:
        if is_damage(err):
            raise damaged(ledger, f"SQLite が読めません: {err}") from None
        raise


def own_problems(conn: sqlite3.Connection) -> list[str]:
    """The ledger's own rules, beyond SQLite's integrity_check (empty: fine).

    Each index of ``documents`` must agree with the table: as many entries as rows, and for a
    unique one (the document key, journo_read) every row found through it by its own values — a
    changed byte in the key index (which ``quick_check`` does not see) would otherwise make a
    posted document look new, and post it again.
    """
    problems: list[str] = []
    rows = conn.execute("SELECT count(*) FROM documents NOT INDEXED").fetchone()[0]
    for _, name, unique, _origin, partial in conn.execute("PRAGMA index_list(documents)").fetchall():
        if partial:
            continue
        quoted = '"' + name.replace('"', '""') + '"'
        columns = [r[2] for r in conn.execute(f"PRAGMA index_info({quoted})").fetchall()]
        if not columns or None in columns:
            continue
        counted = conn.execute(f"SELECT count(*) FROM documents INDEXED BY {quoted}").fetchone()[0]
        if counted != rows:
            problems.append(f"索引 {name} の件数 {counted} が表の件数 {rows} と一致しません")
            continue
        if unique:
            same = " AND ".join(f'x."{c}" = d."{c}"' for c in columns)
            lost = conn.execute(
                f"SELECT count(*) FROM documents AS d NOT INDEXED WHERE NOT EXISTS (SELECT 1 FROM documents"
                f" AS x INDEXED BY {quoted} WHERE {same} AND x.rowid = d.rowid)").fetchone()[0]
            if lost:
                problems.append(f"索引 {name} で見つからない帳票が {lost} 件あります (索引の破損)")
    listed = ",".join(f"'{s}'" for s in STATUSES)
    for table in ("documents", "batches"):
        bad = conn.execute(f"SELECT count(*) FROM {table} NOT INDEXED WHERE status NOT IN ({listed})").fetchone()[0]
        if bad:
            problems.append(f"{table} に不明なステータスが {bad} 件あります")
    roles = ",".join(f"'{r}'" for r in ROLES)
    bad = conn.execute(f"SELECT count(*) FROM documents NOT INDEXED WHERE role NOT IN ({roles})").fetchone()[0]
    if bad:
        problems.append(f"documents に不明な役割 (role) が {bad} 件あります")
    meta = dict(conn.execute("SELECT name, value FROM meta").fetchall())
    for name in REQUIRED_META:
        if not meta.get(name):
            problems.append(f"管理情報 {name} がありません")
    for name, value in sorted(meta.items()):
        if name.startswith("next_") and not str(value).isdigit():
            problems.append(f"管理情報 {name} が数ではありません ({value!r})")
    return problems
