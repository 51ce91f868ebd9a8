"""The run lock of a ledger, and user-only file creation.

The lock holds for the *file*, not for the name it was reached by: ``flock`` is taken on the
ledger database itself (opened by its real path), so a symlink, a hard link or another spelling
of the same ledger meets the same lock. The OS drops it when the holder exits, even when killed,
so a crashed run never leaves a stale lock. ``<ledger>.lock`` beside the real file is kept as an
info file (who holds the lock, since when) for the message a second run gets; it is locked too,
so a run of an earlier release (which locked only that file) is still kept out.

Not guarded: two machines using one ledger on a network share (``flock`` over NFS/SMB may be
emulated, local to one client, or ignored), and programs that write the ledger without the
converter.

SQLite keeps POSIX (``fcntl``) locks on the database file, and POSIX drops *all* of a process's
locks on a file when *any* descriptor of it is closed. The descriptor taken here for ``flock``
is therefore kept open until the last ledger connection of this process to that file has been
closed (:func:`attach` / :func:`detach` count them), and ``flock`` is exclusive per open file
description, so exclusivity within one process is kept in a table here too.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from converter import clock
from converter.errors import LedgerError, LedgerLocked, LedgerMissing

_UMASK_LOCK = threading.Lock()


@contextlib.contextmanager
def private_umask() -> Iterator[None]:
    """Files created inside are user-only. umask is process-wide, so one thread at a time
    (``converter batch`` opens the ledgers of several companies in threads)."""
    with _UMASK_LOCK:
        old = os.umask(0o077)
        try:
            yield
        finally:
            os.umask(old)


Identity = tuple[int, int]  # (st_dev, st_ino): the same for every name of one file


@dataclass
class _OpenFile:
    """This process's use of one ledger file: open ledger objects, the flock descriptor, the holder."""

    users: int = 0
    fd: int | None = None
    holder: RunLock | None = None


_FILES: dict[Identity, _OpenFile] = {}
_FILES_LOCK = threading.Lock()


def info_path(ledger_path: Path | str) -> Path:
    """``<real ledger>.lock``: the holder's description (one home, also for ``-o`` safety)."""
    real = Path(os.path.realpath(ledger_path))
    return real.with_name(real.name + ".lock")


class RunLock:
    """An exclusive, non-blocking lock for one ledger file (every name of it); nests within one holder.

    The ledger object calls :meth:`attach` once its connection to the file is open and
    :meth:`detach` after closing that connection.
    """

    def __init__(self, ledger_path: Path, operator: str) -> None:
        self.ledger_path = ledger_path
        self.path = info_path(ledger_path)
        self.operator = operator
        self._identity: Identity | None = None
        self._info_fd: int | None = None
        self._depth = 0

    @property
    def held(self) -> bool:
        return self._depth > 0

    # ------------------------------------------------------------- lifetime of the file's use
    def attach(self) -> None:
        """Count this ledger object as a user of its file (by identity)."""
        if self._identity is not None:
            return
        try:
            st = os.stat(self.ledger_path)
        except FileNotFoundError:
            raise LedgerMissing(str(self.ledger_path)) from None
        except OSError as err:
            raise LedgerError(f"台帳ファイルを開けません ({err.strerror})", file=str(self.ledger_path)) from None
        identity = (st.st_dev, st.st_ino)
        with _FILES_LOCK:
            _FILES.setdefault(identity, _OpenFile()).users += 1
        self._identity = identity

    def detach(self) -> None:
        """Drop the lock and this user; the last user of the file closes the flock descriptor
        (after every SQLite connection of the file in this process is closed: see the module doc)."""
        self.release_all()
        if self._identity is None:
            return
        with _FILES_LOCK:
            entry = _FILES[self._identity]
            entry.users -= 1
            if entry.users <= 0:
                if entry.fd is not None:
                    os.close(entry.fd)
                del _FILES[self._identity]
        self._identity = None

    # ------------------------------------------------------------- the lock
    def acquire(self) -> None:
        """Take the lock or raise :class:`LedgerLocked` at once."""
        if self._depth:
            self._depth += 1
            return
        self.attach()
        assert self._identity is not None
        with _FILES_LOCK:
            entry = _FILES[self._identity]
            if entry.holder is not None:  # another ledger object of this process holds it
                raise LedgerLocked(self._busy(f" (この処理の中, 作業者 {entry.holder.operator})"))
            try:
                if entry.fd is None:
                    entry.fd = os.open(os.path.realpath(self.ledger_path), os.O_RDONLY | os.O_CLOEXEC)
                fd = entry.fd
            except OSError as err:
                raise LedgerError(f"台帳ファイルを開けません ({err.strerror})", file=str(self.ledger_path)) from None
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except OSError:
                raise LedgerLocked(self._busy(self._describe_holder(self._identity))) from None
            try:
                self._info_fd = self._lock_info()
            except BaseException:
                fcntl.flock(fd, fcntl.LOCK_UN)
                raise
            entry.holder = self
        self._depth = 1

    def release(self) -> None:
        if self._depth > 1:
            self._depth -= 1
        elif self._depth == 1:
            self.release_all()

    def release_all(self) -> None:
        if not self._depth:
            return
        self._depth = 0
        if self._info_fd is not None:
            # Closing the descriptor drops its flock; the info text is left for diagnosis.
            os.close(self._info_fd)
            self._info_fd = None
        if self._identity is None:
            return
        with _FILES_LOCK:
            entry = _FILES.get(self._identity)
            if entry is not None and entry.holder is self:
                entry.holder = None
                if entry.fd is not None:
                    fcntl.flock(entry.fd, fcntl.LOCK_UN)  # the descriptor stays open (module doc)

    # ------------------------------------------------------------- helpers
    def _busy(self, holder: str) -> str:
        return (f"別の処理がこの台帳を使用中です: {self.ledger_path}{holder}。"
                "その処理が終わってから再実行してください")

    def _lock_info(self) -> int:
        """Lock the info file too (what earlier releases locked) and write who holds the lock."""
        try:
            with private_umask():
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as err:
            raise LedgerError(f"ロックファイルを作れません ({err.strerror})", file=str(self.path)) from None
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = self._describe_holder()
            os.close(fd)
            raise LedgerLocked(self._busy(holder)) from None
        since = clock.stamp()
        info = {"pid": os.getpid(), "operator": self.operator, "since": since,
                "ledger": str(Path(os.path.realpath(self.ledger_path)))}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info, ensure_ascii=False).encode(), 0)
        return fd

    def _describe_holder(self, identity: Identity | None = None) -> str:
        """Who holds the lock: the info file beside the real file; for another hard link of it
        (whose info file is beside that name) at least the pid, from Linux's /proc/locks."""
        try:
            info = json.loads(self.path.read_text(encoding="utf-8"))
            pid = int(info["pid"])
            if identity is None or pid in _flock_holders(identity):
                return f" (pid {pid}, 作業者 {info['operator']}, 開始 {info['since']})"
        except (OSError, ValueError, KeyError, TypeError):
            pass
        holders = _flock_holders(identity) if identity is not None else []
        return f" (pid {holders[0]})" if holders else ""


def _flock_holders(identity: Identity) -> list[int]:
    """Pids holding a flock on the file ``identity`` (Linux ``/proc/locks``; empty elsewhere)."""
    dev, ino = identity
    want = f"{os.major(dev):02x}:{os.minor(dev):02x}:{ino}"
    try:
        lines = Path("/proc/locks").read_text().splitlines()
    except OSError:
        return []
    pids = []
    for line in lines:
        fields = line.split()
        if len(fields) >= 6 and fields[1] == "FLOCK" and fields[5] == want and fields[4].isdigit():
            pids.append(int(fields[4]))
    return pids
