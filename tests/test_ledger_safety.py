"""Issue 15, situations 2, 3 and 6: the ledger is never created implicitly, is locked by file
identity (every name of it), is checked before anything is sent, and is backed up and restorable.

End to end against the emulator server (a separate process) with the converter as separate
processes, where the issue says so; ``verify``/``restore`` through click's CliRunner. Every
scenario ends by counting what FX stored per 連携番号 (journo_read) and 伝票番号 (journo): each once.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import make_mappings, sale, to_csv
from fault_helpers import ROOT, EmulatorProcess, child_env, converter
from ledger_helpers import new_ledger

from converter.cli import main
from converter.convert.pipeline import Options
from converter.emulator.server import Emulator
from converter.errors import LedgerDamaged, LedgerLocked, LedgerMissing
from converter.ledger.ledger import Ledger
from converter.ledger.safety import backups, newest_backup
from converter.sync.upload import upload_files

OCODE = "tc09999001"


@pytest.fixture
def fx(tmp_path: Path) -> Iterator[EmulatorProcess]:
    emu = EmulatorProcess(tmp_path)
    yield emu
    emu.stop()


def month(tmp_path: Path, n: int = 5, name: str = "oct.csv", first: int = 0) -> Path:
    rows = [sale(f"INV-{i}", 1100 * (i + 1), 100 * (i + 1), date=f"2026/10/{i % 28 + 1:02d}")
            for i in range(first, first + n)]
    path = tmp_path / name
    path.write_bytes(to_csv(rows).encode("cp932"))
    return path


def upload(export: Path, mappings: Path, url: str, ledger: Path | None = None) -> subprocess.CompletedProcess[str]:
    return converter("upload", export, "-m", mappings, "--base-url", url,
                     *(("--ledger", ledger) if ledger is not None else ()))


def stored_once(emu: EmulatorProcess) -> int:
    """How many slips FX holds; fails if any 連携番号 or 伝票番号 is stored twice."""
    slips = emu.slips()
    by_id = Counter(str(s["journo_read"]) for s in slips)
    by_number = Counter(str(s["journo"]) for s in slips if "journo" in s)
    assert [k for k, n in by_id.items() if n > 1] == [], "a 連携番号 stored twice"
    assert [k for k, n in by_number.items() if n > 1] == [], "a 伝票番号 stored twice"
    return len(slips)


def error_lines(result: subprocess.CompletedProcess[str]) -> str:
    """stderr without the progress bar's label."""
    return result.stderr.replace("送信中", "").strip()


def missing_message(path: Path, init: str) -> str:
    return (f"エラー: {path}: 台帳がありません。この会社の最初の連携なら、先に台帳を作成してください: {init}\n"
            "台帳を移動・削除した場合は作り直さず、元の場所に戻すか converter ledger restore でバックアップから"
            "復元してください (新しい台帳では連携済みの帳票がもう一度送信されます)")


def damaged_message(path: Path, detail: str, backup: Path) -> str:
    return (f"エラー: {path}: 台帳が壊れています ({detail})。何も送信していません。\n"
            f"最新のバックアップ: {backup}\n"
            f"復元するには: converter ledger restore {backup} --ledger {path}\n"
            "(バックアップの後に送信した帳票は、復元後に 連携待ち として扱われます。"
            "FX の登録内容と照らし合わせてください)")


# --------------------------------------------------------------------------- situation 2: identity


@pytest.mark.slow
def test_upload_never_creates_a_ledger_and_a_removed_one_is_not_recreated(fx: EmulatorProcess,
                                                                          tmp_path: Path) -> None:
    mappings = make_mappings(tmp_path / "mappings")
    export, ledger = month(tmp_path), tmp_path / "ledgers" / f"{OCODE}.sqlite"

    first = upload(export, mappings, fx.url)
    assert first.returncode == 2
    assert error_lines(first) == missing_message(ledger, f"converter ledger init -m {mappings}")
    assert not ledger.parent.exists() and stored_once(fx) == 0

    made = converter("ledger", "init", "-m", mappings)
    assert (made.returncode, made.stdout) == (0, f"台帳を作成しました: {ledger} (会社コード {OCODE})\n")
    again = converter("ledger", "init", "-m", mappings)
    assert again.returncode == 2
    assert again.stderr == (f"エラー: {ledger}: 台帳はすでにあります。"
                            "作り直すと連携済みの帳票がもう一度送信されるため、"
                            "作成しません (壊れている場合は converter ledger verify / restore を使ってください)\n")
    assert upload(export, mappings, fx.url).returncode == 0 and stored_once(fx) == 5

    for name in ("", "-wal", "-shm"):  # `rm` the ledger: the month must not be posted again
        Path(f"{ledger}{name}").unlink(missing_ok=True)
    gone = upload(export, mappings, fx.url)
    assert gone.returncode == 2
    assert error_lines(gone) == missing_message(ledger, f"converter ledger init -m {mappings}")
    assert not ledger.exists() and stored_once(fx) == 5
    # --ledger given: the command to create it names it
    other = tmp_path / "elsewhere.sqlite"
    assert error_lines(upload(export, mappings, fx.url, other)) == missing_message(
        other, f"converter ledger init -m {mappings} --ledger {other}")


def test_a_zero_length_ledger_is_damaged_never_new(fx: EmulatorProcess, tmp_path: Path) -> None:
    mappings = make_mappings(tmp_path / "mappings")
    export, ledger = month(tmp_path), new_ledger(tmp_path / "ledgers" / f"{OCODE}.sqlite", OCODE)
    assert upload(export, mappings, fx.url).returncode == 0
    os.truncate(ledger, 0)  # `truncate -s 0`
    result = upload(export, mappings, fx.url)
    assert result.returncode == 2
    newest = newest_backup(ledger)
    assert newest is not None
    assert error_lines(result) == damaged_message(ledger, "0 バイトのファイルです", newest)
    assert ledger.stat().st_size == 0 and stored_once(fx) == 5
    # read-only commands say so too, and write nothing
    history = CliRunner().invoke(main, ["history", "-m", str(mappings)])
    assert history.exit_code == 2 and "台帳が壊れています (0 バイトのファイルです)" in history.stderr
    assert ledger.stat().st_size == 0


def test_a_schema_less_file_is_damaged(tmp_path: Path) -> None:
    mappings = make_mappings(tmp_path / "mappings")
    ledger = tmp_path / "ledgers" / f"{OCODE}.sqlite"
    ledger.parent.mkdir()
    sqlite3.connect(ledger).close()  # a database file with no tables
    ledger.write_bytes(b"SQLite format 3\x00" + bytes(4080))
    result = CliRunner().invoke(main, ["ledger", "verify", "-m", str(mappings)])
    assert result.exit_code == 2
    assert result.stderr.startswith(f"エラー: {ledger}: 台帳が壊れています (")
    junk = tmp_path / "junk.sqlite"
    junk.write_bytes(b"not a database at all" * 100)
    with pytest.raises(LedgerDamaged, match="台帳が壊れています"):
        Ledger.open(junk, ocode=OCODE, lock=True)


def test_a_second_mappings_folder_for_the_same_company_gets_no_ledger_of_its_own(
        fx: EmulatorProcess, tmp_path: Path) -> None:
    first = make_mappings(tmp_path / "office" / "mappings")
    new_ledger(tmp_path / "office" / "ledgers" / f"{OCODE}.sqlite", OCODE)
    export = month(tmp_path)
    assert upload(export, first, fx.url).returncode == 0
    second = tmp_path / "laptop" / "mappings"
    shutil.copytree(first, second)
    result = upload(export, second, fx.url)
    assert result.returncode == 2
    assert error_lines(result) == missing_message(tmp_path / "laptop" / "ledgers" / f"{OCODE}.sqlite",
                                                  f"converter ledger init -m {second}")
    assert not (tmp_path / "laptop" / "ledgers").exists() and stored_once(fx) == 5


def test_a_ledger_of_another_company_is_refused(fx: EmulatorProcess, tmp_path: Path) -> None:
    ours = make_mappings(tmp_path / "ours")
    theirs = make_mappings(tmp_path / "theirs")
    settings = theirs / "settings.yaml"
    settings.write_text(settings.read_text("utf-8").replace(OCODE, "tc09999002"), "utf-8")
    ledger = new_ledger(tmp_path / "l.sqlite", "tc09999002")
    result = upload(month(tmp_path), ours, fx.url, ledger)
    assert result.returncode == 2
    assert error_lines(result) == (f"エラー: {ledger}: この台帳は会社コード 'tc09999002' のものです"
                                   f" (指定: '{OCODE}')。台帳のパスを確認してください")
    assert stored_once(fx) == 0
    assert upload(month(tmp_path), theirs, fx.url, ledger).returncode == 2  # FX has no such company here
    with Ledger.open(ledger, ocode="tc09999002", readonly=True) as book:
        assert book.summary()["done"] == 0


# --------------------------------------------------------------------------- situation 3: lock


HOLD = """
import sys, time
from converter.ledger.ledger import Ledger
with Ledger.open(sys.argv[1], ocode=sys.argv[2], operator="holder", lock=True):
    print("locked", flush=True)
    time.sleep(60)
"""


def test_the_lock_holds_for_every_name_of_the_file(tmp_path: Path) -> None:
    real = new_ledger(tmp_path / "ledgers" / f"{OCODE}.sqlite", OCODE)
    link = tmp_path / "link.sqlite"
    link.symlink_to(real)
    hard = tmp_path / "hard.sqlite"
    os.link(real, hard)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(link), OCODE], stdout=subprocess.PIPE, text=True,
                              env=child_env(), cwd=ROOT)
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "locked"
        for name in (real, link, hard, Path(f"{tmp_path}/ledgers/../ledgers/{OCODE}.sqlite")):
            with pytest.raises(LedgerLocked, match=f"別の処理がこの台帳を使用中です: {re.escape(str(name))}"):
                Ledger.open(name, ocode=OCODE, lock=True)
    finally:
        holder.kill()
        holder.wait(10)
    # released by the OS when the holder died; and held within one process
    with Ledger.open(hard, ocode=OCODE, lock=True), pytest.raises(LedgerLocked, match=r"この処理の中"):
        Ledger.open(link, ocode=OCODE, lock=True)


@pytest.mark.slow
def test_three_concurrent_uploads_through_three_names_store_the_month_once(tmp_path: Path) -> None:
    # Each request is answered after 8 s: the first upload holds the lock while the others start.
    emu = EmulatorProcess(tmp_path, "--slow-seconds", "8")
    try:
        mappings = make_mappings(tmp_path / "mappings")
        export, real = month(tmp_path, 40), new_ledger(tmp_path / "ledgers" / f"{OCODE}.sqlite", OCODE)
        link, hard = tmp_path / "link.sqlite", tmp_path / "hard.sqlite"
        link.symlink_to(real)
        os.link(real, hard)
        command = [sys.executable, "-m", "converter", "upload", str(export), "-m", str(mappings),
                   "--base-url", emu.url, "--ledger"]
        first = subprocess.Popen([*command, str(link)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                 env=child_env(), cwd=ROOT)
        deadline = time.monotonic() + 60
        while str(first.pid) not in _text(Path(f"{real}.lock")):  # the first one holds the lock
            assert time.monotonic() < deadline and first.poll() is None, first.communicate()
            time.sleep(0.05)
        others = [subprocess.Popen([*command, str(name)], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                                   env=child_env(), cwd=ROOT) for name in (hard, real)]
        results = [(p, *p.communicate(timeout=120)) for p in (first, *others)]
        assert [p.returncode for p, _, _ in results] == [0, 2, 2], [err for _, _, err in results]
        # the real name finds the holder's description beside the file; the hard link its pid
        assert f"エラー: 別の処理がこの台帳を使用中です: {hard} (pid {first.pid})。" in results[1][2]
        assert f"エラー: 別の処理がこの台帳を使用中です: {real} (pid {first.pid}, 作業者 " in results[2][2]
        assert "連携完了 40 件" in results[0][1]
        assert stored_once(emu) == 40
    finally:
        emu.stop()


def _text(path: Path) -> str:
    try:
        return path.read_text("utf-8")
    except OSError:
        return ""


# --------------------------------------------------------------------------- situation 6: damage


def _flip_in_key_index(ledger: Path) -> str:
    """Change one byte of the largest document key inside the key index only (the table keeps it);
    returns the key. SQLite's quick_check does not look inside index entries."""
    with sqlite3.connect(ledger) as raw:
        page_size = raw.execute("PRAGMA page_size").fetchone()[0]
        (index,) = [name for _, name, _, origin, _ in raw.execute("PRAGMA index_list(documents)")
                    if origin == "pk"]
        root = raw.execute("SELECT rootpage FROM sqlite_master WHERE name = ?", (index,)).fetchone()[0]
        key = raw.execute("SELECT max(key) FROM documents").fetchone()[0]
    raw.close()
    data = bytearray(ledger.read_bytes())
    start = (root - 1) * page_size
    page = bytes(data[start:start + page_size])
    encoded = key.encode("utf-8")
    at = page.index(encoded)
    assert page.count(encoded) == 1
    data[start + at + len(encoded) - 1] += 1  # its last character + 1: still the largest key, still sorted
    ledger.write_bytes(bytes(data))
    return str(key)


@pytest.mark.slow
def test_a_changed_byte_in_the_key_index_is_refused_before_sending(fx: EmulatorProcess, tmp_path: Path) -> None:
    mappings = make_mappings(tmp_path / "mappings")
    export, ledger = month(tmp_path), new_ledger(tmp_path / "ledgers" / f"{OCODE}.sqlite", OCODE)
    assert upload(export, mappings, fx.url).returncode == 0 and stored_once(fx) == 5
    _flip_in_key_index(ledger)
    with sqlite3.connect(ledger) as raw:
        assert raw.execute("PRAGMA quick_check").fetchall() == [("ok",)]  # what SQLite's quick check misses
    raw.close()
    result = upload(export, mappings, fx.url)
    assert result.returncode == 2
    newest = newest_backup(ledger)
    assert newest is not None
    text = error_lines(result)
    assert text.startswith(f"エラー: {ledger}: 台帳が壊れています (")
    assert text.endswith(damaged_message(ledger, "", newest).split("。", 1)[1])
    assert "索引 sqlite_autoindex_documents_1 で見つからない帳票が 1 件あります (索引の破損)" in text
    assert stored_once(fx) == 5  # the document whose key changed was not posted again

    # verify says the same; restore puts the newest backup back; the next upload sends nothing
    runner = CliRunner()
    verify = runner.invoke(main, ["ledger", "verify", "-m", str(mappings)])
    assert verify.exit_code == 2 and verify.stderr.startswith(f"エラー: {ledger}: 台帳が壊れています (")
    restored = runner.invoke(main, ["ledger", "restore", str(newest), "-m", str(mappings)])
    assert restored.exit_code == 0, restored.stderr
    (aside,) = _set_aside(ledger)
    assert restored.stdout == (f"台帳を復元しました: {ledger} ← {newest} (帳票 5 件)。元の台帳は {aside} に残しました。"
                               "バックアップの後に送信した帳票は FX の登録内容と照らし合わせてください\n")
    ok = runner.invoke(main, ["ledger", "verify", "-m", str(mappings)])
    assert (ok.exit_code, ok.stdout) == (0, f"台帳に問題はありません: {ledger} (会社コード {OCODE}, 帳票 5 件)。"
                                            f"最新のバックアップ: {newest_backup(ledger)}\n")
    again = upload(export, mappings, fx.url)
    assert again.returncode == 0 and "連携済みのためスキップ 5 件" in again.stdout
    assert stored_once(fx) == 5


def _break_a_table_page(ledger: Path) -> None:
    """Overwrite the cells of the events table's first page: integrity_check fails."""
    with sqlite3.connect(ledger) as raw:
        page_size = raw.execute("PRAGMA page_size").fetchone()[0]
        root = raw.execute("SELECT rootpage FROM sqlite_master WHERE name = 'events'").fetchone()[0]
    raw.close()
    data = bytearray(ledger.read_bytes())
    end = root * page_size
    data[end - page_size // 2:end] = b"\xff" * (page_size // 2)
    ledger.write_bytes(bytes(data))


def test_an_integrity_check_failure_is_refused_before_sending(fx: EmulatorProcess, tmp_path: Path) -> None:
    mappings = make_mappings(tmp_path / "mappings")
    export, ledger = month(tmp_path), new_ledger(tmp_path / "ledgers" / f"{OCODE}.sqlite", OCODE)
    assert upload(export, mappings, fx.url).returncode == 0
    _break_a_table_page(ledger)
    result = upload(month(tmp_path, 3, "more.csv", first=5), mappings, fx.url)
    assert result.returncode == 2
    newest = newest_backup(ledger)
    assert newest is not None
    text = error_lines(result)
    assert text.startswith(f"エラー: {ledger}: 台帳が壊れています (") and "内部エラー" not in text
    assert f"復元するには: converter ledger restore {newest} --ledger {ledger}" in text
    assert stored_once(fx) == 5
    # the damaged ledger is refused by every command that writes, and by verify
    for args in (["resolve", "x", "--sent"], ["forget", "x"], ["ledger", "verify"]):
        answer = CliRunner().invoke(main, [*args, "-m", str(mappings)])
        assert answer.exit_code == 2 and "台帳が壊れています" in answer.stderr, (args, answer.stderr)


# --------------------------------------------------------------------------- backups


def test_backups_are_made_before_and_after_each_sending_run_and_pruned(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FX_API_TOKEN", "emulator-token")
    mappings = make_mappings(tmp_path / "mappings")
    settings = mappings / "settings.yaml"
    settings.write_text(settings.read_text("utf-8") + "ledger_backups: 3\n", "utf-8")
    ledger, emu = new_ledger(tmp_path / "ledgers" / f"{OCODE}.sqlite", OCODE), Emulator()

    def run(export: Path) -> None:
        upload_files([export], mappings, Options(), ledger_path=ledger, transport=emu.transport())

    run(month(tmp_path, 2, "a.csv"))
    made = backups(ledger)
    assert [p.parent for p in made] == [ledger.parent / "backups"] * 2
    assert all(re.fullmatch(rf"{OCODE}\.\d{{8}}-\d{{6}}(-\d+)?\.sqlite", p.name) for p in made)
    assert [_documents(p) for p in made] == [0, 2]  # before and after the run
    assert all((p.stat().st_mode & 0o777) == 0o600 for p in made)
    run(month(tmp_path, 2, "a.csv"))  # sends nothing: no backup
    assert backups(ledger) == made
    run(month(tmp_path, 4, "b.csv"))
    run(month(tmp_path, 6, "c.csv"))
    kept = backups(ledger)
    assert [_documents(p) for p in kept] == [4, 4, 6] and kept[0] not in made  # the newest 3
    with Ledger.open(kept[-1], ocode=OCODE, readonly=True) as copy:
        assert copy.check() == [] and copy.summary()["done"] == 6


def _set_aside(ledger: Path) -> list[Path]:
    """The damaged ledgers restore kept (without their SQLite logs, kept beside them)."""
    return [p for p in ledger.parent.glob(f"{ledger.name}.damaged-*") if not p.name.endswith(("-wal", "-shm"))]


def _documents(backup: Path) -> int:
    with Ledger.open(backup, ocode=OCODE, readonly=True) as copy:
        return sum(copy.summary().values())


def test_ledger_backups_setting_is_checked(tmp_path: Path) -> None:
    mappings = make_mappings(tmp_path / "mappings")
    settings = mappings / "settings.yaml"
    settings.write_text(settings.read_text("utf-8") + "ledger_backups: 0\n", "utf-8")
    result = CliRunner().invoke(main, ["ledger", "init", "-m", str(mappings)])
    assert result.exit_code == 2
    assert "ledger_backups: 1 以上の整数 (残す台帳バックアップの数) を指定してください ('0')" in result.stderr


# --------------------------------------------------------------------------- verify / restore


def test_verify_and_restore_through_the_command_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FX_API_TOKEN", "emulator-token")
    runner = CliRunner()
    mappings = make_mappings(tmp_path / "mappings")
    ledger = tmp_path / "ledgers" / f"{OCODE}.sqlite"

    missing = runner.invoke(main, ["ledger", "verify", "-m", str(mappings)])
    assert (missing.exit_code, missing.stderr) == (2, missing_message(ledger, f"converter ledger init -m {mappings}")
                                                   + "\n")
    assert runner.invoke(main, ["ledger", "init", "-m", str(mappings)]).exit_code == 0
    fine = runner.invoke(main, ["ledger", "verify", "-m", str(mappings)])
    assert (fine.exit_code, fine.stdout) == (0, f"台帳に問題はありません: {ledger} (会社コード {OCODE}, 帳票 0 件)。"
                                                "バックアップはまだありません\n")
    emu = Emulator()
    upload_files([month(tmp_path)], mappings, Options(), transport=emu.transport())
    newest = newest_backup(ledger)
    assert newest is not None

    os.truncate(ledger, 0)
    broken = runner.invoke(main, ["ledger", "verify", "-m", str(mappings)])
    assert (broken.exit_code, broken.stderr) == (2, damaged_message(ledger, "0 バイトのファイルです", newest) + "\n")

    # a backup that is itself damaged is refused, and nothing is replaced
    bad = tmp_path / "bad.sqlite"
    bad.write_bytes(b"\x00" * 100)
    refused = runner.invoke(main, ["ledger", "restore", str(bad), "-m", str(mappings)])
    assert (refused.exit_code, refused.stderr) == (
        2, f"エラー: {bad}: バックアップも壊れています (SQLite が読めません: file is not a database)。"
           "別のバックアップを指定してください\n")
    assert ledger.stat().st_size == 0 and not _set_aside(ledger)
    other = tmp_path / "other.sqlite"
    refused = runner.invoke(main, ["ledger", "restore", str(other), "-m", str(mappings)])
    assert (refused.exit_code, refused.stderr) == (2, f"エラー: {other}: バックアップファイルがありません\n")

    done = runner.invoke(main, ["ledger", "restore", str(newest), "-m", str(mappings)])
    assert done.exit_code == 0, done.stderr
    (aside,) = _set_aside(ledger)
    assert aside.stat().st_size == 0  # the damaged file is kept as it was
    assert done.stdout.startswith(f"台帳を復元しました: {ledger} ← {newest} (帳票 5 件)。"
                                  f"元の台帳は {aside} に残しました。")
    assert runner.invoke(main, ["ledger", "verify", "-m", str(mappings)]).exit_code == 0
    _, report = upload_files([month(tmp_path)], mappings, Options(), transport=emu.transport())
    assert report.sent == () and len(report.already_done) == 5
    assert len(emu.stored_slips()) == 5

    # restore after `rm`: the ledger comes back from its own backup (no -m needed with --ledger)
    ledger.unlink()
    back = runner.invoke(main, ["ledger", "restore", str(newest_backup(ledger)), "--ledger", str(ledger),
                                "-m", str(tmp_path / "nowhere")])
    assert back.exit_code == 0, back.stderr
    assert "元の台帳は" not in back.stdout and _documents(ledger) == 5


def test_restore_refuses_while_the_ledger_is_in_use_and_a_backup_of_another_company(tmp_path: Path) -> None:
    mappings = make_mappings(tmp_path / "mappings")
    ledger = new_ledger(tmp_path / "ledgers" / f"{OCODE}.sqlite", OCODE)
    with Ledger.open(ledger, ocode=OCODE, lock=True) as book:
        backup = book.backup()
        result = CliRunner().invoke(main, ["ledger", "restore", str(backup), "-m", str(mappings)])
        assert result.exit_code == 2 and "別の処理がこの台帳を使用中です" in result.stderr
    foreign = new_ledger(tmp_path / "other" / "x.sqlite", "tc09999002")
    result = CliRunner().invoke(main, ["ledger", "restore", str(foreign), "-m", str(mappings)])
    assert result.exit_code == 2
    assert result.stderr == (f"エラー: {foreign}: バックアップを使えません: "
                             "この台帳は会社コード 'tc09999002' のものです"
                             " (指定: 'tc09999001')。台帳のパスを確認してください\n")
    assert not _set_aside(ledger)


def test_library_guards(tmp_path: Path) -> None:
    with pytest.raises(LedgerMissing):
        Ledger.open(tmp_path / "none.sqlite", ocode=OCODE)
    with Ledger.open(tmp_path / "none.sqlite", ocode=OCODE, readonly=True) as empty:  # preview: nothing yet
        assert sum(empty.summary().values()) == 0
    assert not (tmp_path / "none.sqlite").exists()
    path = new_ledger(tmp_path / "l.sqlite", OCODE)
    with Ledger.open(path, ocode=OCODE) as book, pytest.raises(Exception, match="ロックが必要"):
        book.backup()


def test_ledger_init_interrupted_halfway_leaves_nothing_and_can_run_again(tmp_path: Path) -> None:
    """A kill or full disk while `ledger init` writes the schema must not leave a schema-less file
    under the ledger's name: that file would be 'damaged' and init would refuse to run again."""
    mappings = make_mappings(tmp_path / "mappings")
    ledger = tmp_path / "ledgers" / f"{OCODE}.sqlite"
    script = (
        "import os, sys\n"
        "import converter.ledger.records as records\n"
        "def killed(conn, ocode):\n"
        "    os._exit(137)  # as kill -9 would, after the file and some of its tables exist\n"
        "records.init_meta = killed\n"
        "from converter.cli import main\n"
        f"main(['ledger', 'init', '-m', {str(mappings)!r}])\n"
    )
    killed = subprocess.run([sys.executable, "-c", script], cwd=ROOT, env=child_env(), timeout=60)
    assert killed.returncode == 137
    assert not ledger.exists()
    drafts = [p.name for p in ledger.parent.iterdir()]
    assert drafts and all(name.startswith(f".{ledger.name}.init-") for name in drafts), drafts
    result = CliRunner().invoke(main, ["ledger", "init", "-m", str(mappings)])
    assert result.exit_code == 0, result.output
    assert [p.name for p in ledger.parent.iterdir()] == [ledger.name]  # the dead draft is gone
    Ledger.open(ledger, ocode=OCODE, lock=True).close()
