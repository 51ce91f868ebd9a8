"""Putting a ledger file in place: a new, empty one (``converter ledger init``) or a backup over a
damaged one (``converter ledger restore``). Both build the file under a hidden name and link or
rename it into place, so a kill halfway never leaves a half-made ledger under the real name.
:class:`~converter.ledger.file.LedgerFile` offers them as ``create`` and ``restore``.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import sqlite3
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from converter.errors import LedgerDamaged, LedgerError
from converter.ledger.lock import RunLock
from converter.ledger.records import connect_rw, current_user
from converter.ledger.safety import backups, link_to_free_name, sync_folder, timestamp


def create_ledger(path: Path | str, *, ocode: str) -> None:
    """Make a new, empty ledger for ``ocode`` at ``path`` (``converter ledger init``); refuses
    when anything is there already — an existing ledger is never replaced by an empty one."""
    path = Path(path)
    if not ocode:
        raise LedgerError("台帳を作るには会社コード (ocode) が必要です", file=str(path))
    if os.path.lexists(path):
        raise LedgerError("台帳はすでにあります。作り直すと連携済みの帳票がもう一度送信されるため、"
                          "作成しません (壊れている場合は converter ledger verify / restore を使ってください)",
                          file=str(path))
    # Built under a hidden name and linked into place complete: a kill or a full disk halfway
    # leaves no schema-less file under the ledger's name (that would be "damaged", and `init`
    # would then refuse to run again).
    draft = path.with_name(f".{path.name}.init-{os.getpid()}.tmp")
    _remove_dead_drafts(path)
    try:
        conn = connect_rw(draft, ocode, create=True)
        try:
            conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")  # everything in the file itself
        finally:
            conn.close()
        os.link(draft, path)  # never over a file made meanwhile (FileExistsError)
        sync_folder(path.parent)
    except FileExistsError:
        raise LedgerError("台帳はすでにあります (同時に作成されました)。作成しません", file=str(path)) from None
    except OSError as err:  # the folder cannot be made (a file in the way, no permission)
        raise LedgerError(f"台帳ファイルを作れません ({err.strerror})", file=str(path)) from None
    except sqlite3.Error as err:
        raise LedgerError(f"台帳ファイルを作れません ({err})", file=str(path)) from err
    finally:
        for leftover in (draft, Path(f"{draft}-wal"), Path(f"{draft}-shm")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def restore_ledger(open_ledger: Callable[..., Any], backup: Path | str, path: Path | str, *, ocode: str | None,
                   operator: str | None = None) -> Path | None:
    """Replace the ledger at ``path`` by ``backup`` after checking the backup; the ledger that
    was there is kept aside (``<name>.damaged-<time>``, returned; None if there was none).

    ``ocode``: the company the backup must belong to (None: only a backup of this very ledger,
    from its backups folder, is accepted). The swap is a rename under the run lock: a reader
    sees the old file or the restored one, never half of either.
    """
    backup, path = Path(backup), Path(path)
    if not backup.is_file():
        raise LedgerError("バックアップファイルがありません", file=str(backup))
    if ocode is None and backup.resolve() not in {b.resolve() for b in backups(path)}:
        raise LedgerError("この台帳のバックアップフォルダにないファイルです。会社を確かめるため -m で"
                          "設定フォルダを指定してください", file=str(backup))
    real = Path(os.path.realpath(path))
    try:
        real.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd, tmp_name = tempfile.mkstemp(prefix=f".{real.name}.restore-", suffix=".tmp", dir=real.parent)
        os.close(fd)
    except OSError as err:
        raise LedgerError(f"台帳のフォルダに書き込めません ({err.strerror})", file=str(real.parent)) from None
    tmp = Path(tmp_name)
    holder: RunLock | None = None
    try:
        shutil.copyfile(backup, tmp)
        try:
            with open_ledger(tmp, ocode=ocode or _recorded_ocode(tmp, backup), operator=operator) as copy:
                problems = copy.check()
        except LedgerDamaged as err:
            raise LedgerDamaged(f"バックアップも壊れています ({err.detail})。別のバックアップを指定してください",
                                path=str(backup)) from None
        except LedgerError as err:  # another company's, a newer format: said of the backup, not the copy
            text = str(err).removeprefix(f"{tmp}: ")
            raise LedgerError(f"バックアップを使えません: {text}", file=str(backup)) from None
        if problems:
            raise LedgerDamaged(f"バックアップも壊れています ({'; '.join(problems[:3])})。"
                                "別のバックアップを指定してください", path=str(backup))
        if real.exists():  # nobody may use the ledger while it is swapped
            holder = RunLock(real, operator if operator is not None else current_user())
            holder.acquire()
        aside = _set_aside(real) if real.exists() else None
        os.replace(tmp, real)
        sync_folder(real.parent)
        return aside
    except OSError as err:
        raise LedgerError(f"台帳を復元できません ({err.strerror or err})", file=str(path)) from None
    finally:
        if holder is not None:
            holder.detach()
        for leftover in (tmp, Path(f"{tmp}-wal"), Path(f"{tmp}-shm")):
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()


def _remove_dead_drafts(path: Path) -> None:
    """Drafts of a `ledger init` that was killed (its process is gone) are removed."""
    for leftover in path.parent.glob(f".{path.name}.init-*.tmp*"):
        pid = leftover.name.removeprefix(f".{path.name}.init-").split(".", 1)[0]
        if not pid.isdigit():
            continue
        try:
            os.kill(int(pid), 0)
        except ProcessLookupError:
            with contextlib.suppress(FileNotFoundError):
                leftover.unlink()
        except PermissionError:  # alive, another user's
            pass


def _recorded_ocode(copy: Path, backup: Path) -> str:
    """The company a backup copy records (when the caller has no settings to compare with)."""
    try:
        with contextlib.closing(sqlite3.connect(f"{copy.resolve().as_uri()}?mode=ro", uri=True)) as conn:
            row = conn.execute("SELECT value FROM meta WHERE name = 'ocode'").fetchone()
    except sqlite3.Error as err:
        raise LedgerDamaged(f"バックアップも壊れています ({err})。別のバックアップを指定してください",
                            path=str(backup)) from None
    if row is None or not row[0]:
        raise LedgerDamaged("バックアップも壊れています (会社コードがありません)。別のバックアップを指定してください",
                            path=str(backup))
    return str(row[0])


def _set_aside(real: Path) -> Path:
    """Keep the ledger at ``real`` (and its SQLite log) as ``<name>.damaged-<time>``; the name
    stays in place (a hard link) until the restored file is renamed over it."""
    stamp = timestamp()
    aside = link_to_free_name(real, lambda n: real.with_name(f"{real.name}.damaged-{stamp}"
                                                             + (f"-{n}" if n > 1 else "")))
    wal = Path(f"{real}-wal")
    if wal.exists():  # its log belongs to it: left beside the restored file it would be replayed into it
        os.replace(wal, Path(f"{aside}-wal"))
    with contextlib.suppress(FileNotFoundError):
        Path(f"{real}-shm").unlink()
    return aside


