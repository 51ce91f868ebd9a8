"""Where the converter may write, and how it writes: files the user asked for never clobber data.

Two rules, one home each:

* :func:`check_outputs` — the review workbook (``-o``) must be an ``.xlsx`` and must not be any
  input file (by file identity: every spelling, symlink and hard link of it), the ledger, its
  SQLite side files (``-wal``, ``-shm``, ``-journal``), its run lock (``<ledger>.lock``) or
  anything in the ledger's ``backups/`` folder. The payload folder (``--payload-dir``) must not be
  an input, contain an input, be the ledger's folder or lie in its backups. Checked before
  anything is read or sent, so a refused run has done nothing.
* :func:`replace_atomically` / :func:`write_atomic` — every private file the converter writes
  (review workbook, request bodies, FX master cache, mapping tables appended by ``suggest``) is
  written to a temporary file in the same folder, synced and renamed over the target: a reader
  sees the old file or the new one, never half; a failed write leaves the old file as it was
  and no temporary file behind. The temporary file is created user-only (0600) by ``mkstemp``,
  so company data is never readable by others, not even briefly.

Renaming over a symlink replaces the link, not what it points to, so writing can never reach an
input through a link; the check still refuses such a target, because the user meant the input.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import BinaryIO

from converter.errors import ConverterError
from converter.ledger.lock import info_path
from converter.ledger.safety import BACKUPS_FOLDER, backup_folder

__all__ = ["BACKUPS_FOLDER", "LEDGER_SIDE_SUFFIXES", "REVIEW_SUFFIX", "check_outputs", "file_identity",
           "ledger_files", "replace_atomically", "same_file", "write_atomic"]

REVIEW_SUFFIX = ".xlsx"
#: Files SQLite keeps next to a ledger ``X.sqlite``: ``X.sqlite-wal`` and so on (the run lock's
#: info file is asked of :func:`~converter.ledger.lock.info_path`, the backups folder of
#: :func:`~converter.ledger.safety.backup_folder`: their one home).
LEDGER_SIDE_SUFFIXES = ("-wal", "-shm", "-journal")


# --------------------------------------------------------------------------- identity


def _real(path: str | Path) -> Path:
    """The absolute path with every link resolved, also for a path that does not exist (yet)."""
    return Path(os.path.realpath(path))


def file_identity(path: str | Path) -> tuple[int, int] | str:
    """What makes a file itself: (device, inode) — the same for every spelling, symlink and hard
    link of it; for a path that names nothing (yet), its real path."""
    try:
        st = os.stat(path)
    except OSError:
        return str(_real(path))
    return st.st_dev, st.st_ino


def same_file(a: str | Path, b: str | Path) -> bool:
    """Whether two paths name one file (see :func:`file_identity`)."""
    return file_identity(a) == file_identity(b)


def _inside(path: str | Path, folder: Path) -> bool:
    return _real(path).is_relative_to(_real(folder))


def ledger_files(ledger: Path) -> list[Path]:
    """The ledger and every file kept beside it (for the spelling given and its real path)."""
    names = [Path(ledger), _real(ledger)]
    return [p.with_name(p.name + suffix) for p in names for suffix in ("", *LEDGER_SIDE_SUFFIXES)] + [
        info_path(ledger), ledger.with_name(ledger.name + ".lock")]


def _backup_folders(ledger: Path) -> list[Path]:
    return [ledger.parent / BACKUPS_FOLDER, backup_folder(ledger)]


# --------------------------------------------------------------------------- the rule


def check_outputs(*, review: Path | None = None, payload_dir: Path | None = None,
                  inputs: Sequence[str | Path] = (), ledger: Path | None = None) -> None:
    """Refuse (``ConverterError``, exit 2) an output that would overwrite an input or the ledger.

    Every problem of both outputs is listed in one message."""
    problems: list[tuple[Path, str]] = []
    if review is not None:
        problems += [(review, p) for p in _review_problems(review, inputs, ledger)]
    if payload_dir is not None:
        problems += [(payload_dir, p) for p in _payload_problems(payload_dir, inputs, ledger)]
    if len(problems) == 1:
        path, text = problems[0]
        raise ConverterError(text, file=str(path))
    if problems:
        raise ConverterError("出力先に問題があります:\n" + "\n".join(f"  - {p}: {t}" for p, t in problems))


def _review_problems(review: Path, inputs: Sequence[str | Path], ledger: Path | None) -> list[str]:
    # What the target is comes first: "-o ledger.sqlite" is told it names the ledger, not only
    # that the name is wrong.
    for source in inputs:
        if same_file(review, source):
            return [f"確認用ブック (-o/--output) が入力ファイル {source} と同じファイルです。"
                    "入力を上書きしないよう、別の名前を指定してください"]
    if ledger is not None:
        for protected in ledger_files(ledger):
            if same_file(review, protected):
                return [f"確認用ブック (-o/--output) が台帳のファイル {protected} と同じです。"
                        "台帳を壊さないよう、台帳のフォルダの外に別の名前で指定してください"]
        for backups in _backup_folders(ledger):
            if _inside(review, backups):
                return [f"確認用ブック (-o/--output) を台帳のバックアップフォルダ {backups} に"
                        "書き出すことはできません。別の場所を指定してください"]
    if review.suffix.lower() != REVIEW_SUFFIX:
        return [f"確認用ブック (-o/--output) は {REVIEW_SUFFIX} で終わる名前にしてください "
                f"(例: -o review{REVIEW_SUFFIX})。書き出すのは Excel ブックです"]
    if review.is_dir():
        return ["確認用ブック (-o/--output) に指定した名前はフォルダです。"
                f"ファイル名 (例: review{REVIEW_SUFFIX}) を指定してください"]
    refused = _unwritable(review.parent)
    if refused:
        return [f"確認用ブック (-o/--output) の保存先フォルダに書き込めません ({refused})。"
                "書き込めるフォルダを指定してください"]
    return []


def _payload_problems(folder: Path, inputs: Sequence[str | Path], ledger: Path | None) -> list[str]:
    for source in inputs:
        if same_file(folder, source):
            return [f"送信内容の出力先 (--payload-dir) が入力ファイル {source} です。空のフォルダを指定してください"]
        if _inside(source, folder):
            return [f"送信内容の出力先 (--payload-dir) に入力ファイル {source} があります。"
                    "入力を上書きしないよう、入力のないフォルダを指定してください"]
    if ledger is not None:
        if any(same_file(folder, p) for p in ledger_files(ledger)):
            return [f"送信内容の出力先 (--payload-dir) が台帳のファイル {ledger} です。別のフォルダを指定してください"]
        if any(same_file(folder, p) for p in (ledger.parent, _real(ledger).parent)):
            return [f"送信内容の出力先 (--payload-dir) が台帳のフォルダ {ledger.parent} です。"
                    "台帳を守るため、別のフォルダを指定してください"]
        if any(_inside(folder, b) for b in _backup_folders(ledger)):
            return ["送信内容の出力先 (--payload-dir) を台帳のバックアップフォルダに置くことはできません。"
                    "別のフォルダを指定してください"]
    refused = _unwritable(folder) if folder.is_dir() else ""
    if refused:
        return [f"送信内容の出力先 (--payload-dir) に書き込めません ({refused})。書き込めるフォルダを指定してください"]
    return []


def _unwritable(folder: Path) -> str:
    """Why no file can be created in ``folder`` ("" when one can, or when it does not exist yet:
    writing creates it). Tried for real, because permissions say nothing to root or on a
    read-only mount: an upload must not find out only after it has sent everything."""
    if not folder.is_dir():
        return ""
    try:
        fd, probe = tempfile.mkstemp(prefix=".converter-probe-", dir=folder)
    except OSError as err:
        return str(err.strerror or err)
    os.close(fd)
    os.unlink(probe)
    return ""


# --------------------------------------------------------------------------- writing


@contextlib.contextmanager
def replace_atomically(path: Path, mode: int = 0o600) -> Iterator[BinaryIO]:
    """Yield a binary handle on a temporary file beside ``path``; on a clean exit it is synced,
    given ``mode`` and renamed over ``path``. Any failure removes it and leaves ``path`` untouched.
    Raises ``OSError`` (callers say in Japanese what could not be written)."""
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def write_atomic(path: Path, data: bytes, mode: int = 0o600) -> None:
    """Write ``data`` to ``path`` through :func:`replace_atomically` (creating its folder)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    with replace_atomically(path, mode) as handle:
        handle.write(data)
