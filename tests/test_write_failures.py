"""No traceback, ever (issue 18): a workbook that cannot be written and a damaged ledger page.

* ``-o`` on a disk that fills up: one Japanese line, no "Exception ignored …" from openpyxl's
  half-open streams, no temporary file left (in a real child process whose file size is limited,
  and in-process with a handle that runs out of room).
* ``-o`` failing *after* a successful send: the send is not undone and does not read as a usage
  error — the message says the send is done, the exit code is EXIT_NOT_WRITTEN (3).
* A damaged page of a real ledger file (bytes overwritten): every command says 台帳が壊れています
  with the restore hint and exits 2 — also the read-only ones (preview, history), which find the
  damage only when a query reads the page.
"""

from __future__ import annotations

import contextlib
import errno
import gc
import resource
import signal
import sqlite3
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
from click.testing import CliRunner
from conftest import SAMPLES, make_mappings, sale, to_csv
from ledger_helpers import new_ledger

import converter.review.workbook as workbook
from converter.cli import main
from converter.emulator.server import Emulator, EmulatorServer
from converter.errors import EXIT_NOT_WRITTEN
from converter.ledger.ledger import Ledger
from converter.ledger.safety import newest_backup
from converter.outputs import replace_atomically

OCODE = "tc09999001"
TOKEN = "emulator-token"
DOCS = 4
FULL = ("確認用ブックを書き出せません (No space left on device)。"
        "保存先のフォルダに書き込めるか、空き容量を確認してください")


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert "内部エラー" not in result.stderr, result.stderr
    assert "Exception ignored" not in result.stderr, result.stderr
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("FX_API_TOKEN", TOKEN)
    make_mappings(tmp_path / "mappings")
    (tmp_path / "sep.csv").write_bytes(to_csv([sale(f"INV-{i}", 1100 * (i + 1), 100 * (i + 1))
                                               for i in range(DOCS)]).encode("cp932"))
    return tmp_path


@pytest.fixture
def fx() -> Iterator[tuple[Emulator, EmulatorServer]]:
    emu = Emulator(token=TOKEN)
    with emu.serve(port=0) as server:
        yield emu, server


class _Full:
    """A file handle with ``room`` bytes left on its disk: the write past them fails as a full disk does."""

    def __init__(self, handle: BinaryIO, room: int) -> None:
        self._handle, self._room = handle, room

    def write(self, data: bytes) -> int:
        if len(data) > self._room:
            raise OSError(errno.ENOSPC, "No space left on device")
        self._room -= len(data)
        return self._handle.write(data)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._handle, name)


@pytest.fixture
def full_disk(monkeypatch: pytest.MonkeyPatch) -> None:
    """The review workbook's disk fills up after 3,000 bytes (mid-way through the zip)."""

    @contextlib.contextmanager
    def nearly_full(path: Path, mode: int = 0o600) -> Iterator[Any]:
        with replace_atomically(path, mode) as handle:
            yield _Full(handle, 3000)

    monkeypatch.setattr(workbook, "replace_atomically", nearly_full)


def _no_temp_files(folder: Path) -> list[str]:
    return [p.name for p in folder.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


# --------------------------------------------------------------------------- a full disk


def _limit_file_size() -> None:  # in the child: files may not grow past 20 kB (a full disk, portably)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


def test_a_disk_that_fills_while_the_workbook_is_written_gives_one_line(tmp_path: Path) -> None:
    """A real process on a "full disk": today openpyxl's half-open streams added 5 tracebacks."""
    out = tmp_path / "out"
    out.mkdir()
    done = subprocess.run(
        [sys.executable, "-m", "converter", "preview", str(SAMPLES / "jobcan-2026-10.csv"), "-m",
         str(Path(__file__).parents[1] / "mappings"), "-o", str(out / "review.xlsx")],
        preexec_fn=_limit_file_size, capture_output=True, text=True, timeout=120, check=False)
    assert done.returncode == 2, done.stderr[-2000:]
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr, done.stderr[-2000:]
    assert done.stderr.endswith(f"エラー: {out / 'review.xlsx'}: 確認用ブックを書き出せません (File too large)。"
                                "保存先のフォルダに書き込めるか、空き容量を確認してください\n"), done.stderr[-2000:]
    assert list(out.iterdir()) == []


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_preview_on_a_full_disk_keeps_the_old_workbook(here: Path, full_disk: None) -> None:
    Path("review.xlsx").write_bytes(b"last month's review")
    code, _, err = invoke("preview", "sep.csv", "-m", "mappings", "-o", "review.xlsx")
    gc.collect()  # what openpyxl left open would complain now
    assert code == 2
    assert err == f"エラー: review.xlsx: {FULL}\n"
    assert Path("review.xlsx").read_bytes() == b"last month's review"
    assert _no_temp_files(here) == []


# --------------------------------------------------------------------------- after a send


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")
def test_a_workbook_that_cannot_be_written_after_the_send_says_the_send_is_done(
        here: Path, fx: tuple[Emulator, EmulatorServer], full_disk: None) -> None:
    emu, server = fx
    ledger = new_ledger(here / "l.sqlite", OCODE)
    code, out, err = invoke("upload", "sep.csv", "-m", "mappings", "--ledger", ledger, "--base-url", server.url,
                            "-o", "review.xlsx")
    gc.collect()
    assert code == EXIT_NOT_WRITTEN == 3
    assert "連携完了 4 件" in out, out
    assert err.endswith(
        f"エラー: review.xlsx: {FULL}\n"
        "送信は終わっています: 結果は台帳に記録済みです (converter history で確認できます)。"
        "書き出せなかったのは確認用ブックだけです。もう一度 upload しても同じ帳票を二重に送信することはありません\n")
    assert len(emu.stored_slips()) == DOCS
    with Ledger.open(ledger, ocode=OCODE, readonly=True) as book:
        assert {r.status for r in book.documents()} == {"done"}
    assert not Path("review.xlsx").exists() and _no_temp_files(here) == []
    # And the next run sends nothing again.
    code, _, _ = invoke("upload", "sep.csv", "-m", "mappings", "--ledger", ledger, "--base-url", server.url)
    assert code == 0 and len(emu.stored_slips()) == DOCS


def test_a_dry_run_that_cannot_write_its_workbook_is_an_ordinary_error(
        here: Path, fx: tuple[Emulator, EmulatorServer], full_disk: None) -> None:
    emu, server = fx
    ledger = new_ledger(here / "l.sqlite", OCODE)
    code, _, err = invoke("upload", "sep.csv", "-m", "mappings", "--ledger", ledger, "--base-url", server.url,
                          "--dry-run", "-o", "review.xlsx")
    assert code == 2
    assert err.endswith(f"エラー: review.xlsx: {FULL}\n") and "送信は終わっています" not in err
    assert emu.stored_slips() == []


# --------------------------------------------------------------------------- a damaged page


def _damage_page(ledger: Path, table: str) -> None:
    """Overwrite the root page of ``table`` in the ledger file with junk bytes (a bad sector)."""
    with contextlib.closing(sqlite3.connect(ledger)) as conn:
        page = conn.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)).fetchone()[0]
        size = conn.execute("PRAGMA page_size").fetchone()[0]
    assert not Path(f"{ledger}-wal").exists()  # the bytes below are what SQLite reads
    with open(ledger, "r+b") as handle:
        handle.seek((page - 1) * size)
        handle.write(b"\xde\xad\xbe\xef" * (size // 4))


@pytest.fixture
def damaged_ledger(here: Path, fx: tuple[Emulator, EmulatorServer]) -> tuple[Path, Path]:
    """A ledger after a real upload (so it has backups), with its documents table's page damaged."""
    _, server = fx
    ledger = new_ledger(here / "l.sqlite", OCODE)
    code, _, _ = invoke("upload", "sep.csv", "-m", "mappings", "--ledger", ledger, "--base-url", server.url)
    assert code == 0
    backup = newest_backup(ledger)
    assert backup is not None
    _damage_page(ledger, "documents")
    return ledger, backup


def _damaged_text(ledger: Path, backup: Path) -> str:
    return (f"エラー: {ledger}: 台帳が壊れています (SQLite が読めません: database disk image is malformed)。"
            "何も送信していません。\n"
            f"最新のバックアップ: {backup}\n"
            f"復元するには: converter ledger restore {backup} --ledger {ledger}\n"
            "(バックアップの後に送信した帳票は、復元後に 連携待ち として扱われます。"
            "FX の登録内容と照らし合わせてください)\n")


@pytest.mark.parametrize("command", [
    ["preview", "sep.csv", "-m", "mappings"],
    ["preview", "sep.csv", "-m", "mappings", "-o", "review.xlsx"],
    ["history", "-m", "mappings"],
    ["history", "-m", "mappings", "--format", "json"],
    ["upload", "sep.csv", "-m", "mappings"],
    ["ledger", "verify", "-m", "mappings"],
], ids=["preview", "preview -o", "history", "history json", "upload", "ledger verify"])
def test_a_damaged_ledger_page_says_so_with_the_restore_hint(
        command: list[str], damaged_ledger: tuple[Path, Path], fx: tuple[Emulator, EmulatorServer]) -> None:
    ledger, backup = damaged_ledger
    emu, server = fx
    sent = len(emu.stored_slips())
    extra = ["--base-url", server.url] if command[0] == "upload" else []
    code, _, err = invoke(*command, "--ledger", ledger, *extra)
    assert code == 2
    assert err.endswith(_damaged_text(ledger, backup)), err
    assert len(emu.stored_slips()) == sent  # nothing sent
    assert not Path("review.xlsx").exists()
