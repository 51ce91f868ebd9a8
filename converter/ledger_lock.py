"""The run lock of a ledger, and user-only file creation.

``flock`` on ``<ledger>.lock``: the OS drops it when the holder exits, even when killed, so a
crashed run never leaves a stale lock (local file systems only). The lock file holds who took
it, for the message a second run gets.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import threading
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path

from converter.errors import LedgerError, LedgerLocked

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


class RunLock:
    """An exclusive, non-blocking lock for one ledger file; nests within one holder."""

    def __init__(self, ledger_path: Path, operator: str) -> None:
        self.ledger_path = ledger_path
        self.path = ledger_path.with_name(ledger_path.name + ".lock")
        self.operator = operator
        self._fd: int | None = None
        self._depth = 0

    @property
    def held(self) -> bool:
        return self._depth > 0

    def acquire(self) -> None:
        """Take the lock or raise :class:`LedgerLocked` at once."""
        if self._depth:
            self._depth += 1
            return
        try:
            with private_umask():
                self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
                fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        except OSError as err:
            raise LedgerError(f"ロックファイルを作れません ({err})", file=str(self.path)) from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            holder = self._describe_holder(fd)
            os.close(fd)
            raise LedgerLocked(f"別の処理がこの台帳を使用中です: {self.ledger_path}{holder}。"
                               "その処理が終わってから再実行してください") from None
        since = datetime.now().astimezone().isoformat(timespec="seconds")
        info = {"pid": os.getpid(), "operator": self.operator, "since": since}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(info, ensure_ascii=False).encode(), 0)
        self._fd = fd
        self._depth = 1

    def release(self) -> None:
        if self._depth > 1:
            self._depth -= 1
        elif self._depth == 1:
            self.release_all()

    def release_all(self) -> None:
        if self._fd is not None:
            # Closing the descriptor drops the flock; the info text is left for diagnosis.
            os.close(self._fd)
        self._fd = None
        self._depth = 0

    @staticmethod
    def _describe_holder(fd: int) -> str:
        try:
            info = json.loads(os.pread(fd, 4096, 0).decode())
            return f" (pid {info['pid']}, 作業者 {info['operator']}, 開始 {info['since']})"
        except (OSError, ValueError, KeyError, TypeError):
            return ""
