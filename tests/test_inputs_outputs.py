"""Exactly once against the user's own hands: one file given twice, and outputs that would clobber data.

Issue 15, situations 1 and 5. An export named twice (the same path, ``./`` spelling, a symlink,
a hard link, an identical copy; also in a batch manifest) is read once with a notice — FX stores
each slip once. ``-o`` must be an ``.xlsx`` that is no input, no ledger file (its side files, lock
and backups included), and is replaced atomically; ``--payload-dir`` never holds an input or is the
ledger's folder.
"""

from __future__ import annotations

import gc
import io
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

import pytest
import yaml
from click.testing import CliRunner
from conftest import SAMPLES, make_mappings, sale, to_csv
from fault_helpers import MAPPINGS as UPLOAD_MAPPINGS  # 随時の取引先 → その他 (FX wants cd_cstm on 売掛金)
from fault_helpers import EmulatorProcess, child_env, stored_counts
from ledger_helpers import new_ledger
from openpyxl import Workbook

import converter.review.workbook as workbook_module
from converter.cli import main
from converter.convert.pipeline import Options, convert
from converter.convert.read import dedupe_inputs
from converter.emulator.server import Emulator, EmulatorServer
from converter.errors import ConverterError
from converter.fx.bodies import write_requests
from converter.outputs import check_outputs, write_atomic
from converter.review.workbook import write_review

OCODE = "tc09999001"
TOKEN = "emulator-token"
DOCS = 4


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.stdout + result.stderr, result.stderr
    assert "内部エラー" not in result.stderr, result.stderr
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def here(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Work in tmp_path, as a user does in the month's folder: relative paths as typed."""
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


def notice(*given: str, copy: bool = False) -> str:
    what = "中身が同じファイル" if copy else "同じファイル"
    listed = "、".join(given[:-1]) + " と " + given[-1]
    return (f"お知らせ: {given[0]}: {what}が{len(given)}回指定されました: {listed} — 1回だけ読み込みます"
            "")


# --------------------------------------------------------------------------- 1. the same file twice

def _linked(link: Callable[[Any, Path], None], source: str | Path, at: Path, name: str) -> str:
    """Make the link ``at`` → ``source`` and give the spelling ``name`` that reaches the file through it."""
    link(source, at)
    return name


SPELLINGS: dict[str, Callable[[Path], str]] = {
    "same path": lambda d: "sep.csv",
    "./ spelling": lambda d: "./sep.csv",
    "absolute path": lambda d: str(d / "sep.csv"),
    "symlink": lambda d: _linked(os.symlink, "sep.csv", d / "link.csv", "link.csv"),
    "hard link": lambda d: _linked(os.link, d / "sep.csv", d / "hard.csv", "hard.csv"),
    "folder symlink": lambda d: _linked(os.symlink, ".", d / "again", "again/sep.csv"),
}


@pytest.mark.parametrize("how", SPELLINGS)
def test_check_reads_a_file_given_twice_once(here: Path, how: str) -> None:
    second = SPELLINGS[how](here)
    code, once, _ = invoke("check", "sep.csv", "-m", "mappings")
    assert code == 0
    code, out, _ = invoke("check", "sep.csv", second, "-m", "mappings")
    assert code == 0, out
    assert notice("sep.csv", second) in out.splitlines()
    assert out.count("入力: ") == 1
    # every total as if the file had been given once
    assert [line for line in out.splitlines() if not line.startswith("お知らせ")] == once.splitlines()


def test_an_identical_copy_is_read_once_and_said_to_be_a_copy(here: Path) -> None:
    shutil.copyfile("sep.csv", "sep (1).csv")
    code, out, _ = invoke("check", "sep.csv", "sep (1).csv", "./sep.csv", "-m", "mappings", "--format", "json")
    assert code == 0
    report = json.loads(out)
    assert report["notices"][0] == {
        "file": "sep.csv", "row": None, "col": None, "column": "", "value": "", "rule": "duplicate_input",
        "document": "",
        "message": "中身が同じファイルが3回指定されました: sep.csv、sep (1).csv と ./sep.csv — 1回だけ読み込みます"}
    assert report["summary"]["files"] == 1 and report["summary"]["documents"] == DOCS


def test_two_different_files_with_the_same_documents_are_still_an_error(here: Path) -> None:
    """A different file (not a copy) repeating documents is the problem it always was."""
    other = to_csv([sale("INV-0", 1100, 100, memo="別の書出")]).encode("cp932")
    Path("other.csv").write_bytes(other)
    code, out, _ = invoke("check", "sep.csv", "other.csv", "-m", "mappings")
    assert code == 1
    assert "duplicate_input" not in out


def test_dedupe_keeps_order_and_missing_files(here: Path) -> None:
    Path("b.csv").write_bytes(Path("sep.csv").read_bytes()[:-1] + b"X")  # same size, other bytes: kept
    kept, repeated = dedupe_inputs(["b.csv", "sep.csv", "missing.csv", "./b.csv", "./missing.csv"])
    assert kept == [Path("b.csv"), Path("sep.csv"), Path("missing.csv")]
    assert [r.given for r in repeated] == [("b.csv", "./b.csv"), ("missing.csv", "./missing.csv")]


def test_preview_of_a_file_given_twice_writes_the_bodies_of_one(here: Path) -> None:
    code, _, err = invoke("preview", "sep.csv", "-m", "mappings", "--payload-dir", "once")
    assert code == 0, err
    os.symlink("sep.csv", "link.csv")
    code, out, err = invoke("preview", "sep.csv", "link.csv", "-m", "mappings", "--payload-dir", "twice",
                            "-o", "review.xlsx")
    assert code == 0, err
    assert notice("sep.csv", "link.csv") in out.splitlines()
    assert Path("twice/request-0001.json").read_bytes() == Path("once/request-0001.json").read_bytes()


@pytest.mark.parametrize("repeats", [("./sep.csv",), ("./sep.csv", "link.csv", "hard.csv", "copy.csv")])
def test_upload_of_one_file_given_again_stores_each_slip_once(here: Path, fx: tuple[Emulator, EmulatorServer],
                                                              repeats: tuple[str, ...]) -> None:
    """Before: ``upload sep.csv ./sep.csv`` stored every amount twice (the rows of both spellings
    fell into the same documents)."""
    emu, server = fx
    ledger = new_ledger(here / "ledgers" / f"{OCODE}.sqlite", OCODE)
    os.symlink("sep.csv", "link.csv")
    os.link("sep.csv", "hard.csv")
    shutil.copyfile("sep.csv", "copy.csv")
    code, out, err = invoke("upload", "sep.csv", *repeats, "-m", "mappings", "--base-url", server.url,
                            "--ledger", ledger)
    assert code == 0, out + err
    assert f"連携完了 {DOCS} 件" in out
    stored = emu.count_by_journo_read(OCODE)
    assert sorted(stored.values()) == [1] * DOCS
    once = [s for r in convert([Path("sep.csv")], Path("mappings"), Options()).requests for s in r.body["slips"]]

    def amounts(slip: dict[str, Any]) -> list[tuple[int, int]]:
        return [(d["is_ocr_dc"], d["amnt_tr"]) for d in slip["detail"]]

    assert [amounts(s["slip"]) for s in emu.stored_slips(OCODE)] == [amounts(s) for s in once]  # not doubled
    assert notice("sep.csv", *repeats, copy="copy.csv" in repeats) in out.splitlines()


def test_retry_of_one_file_twice_reads_it_once(here: Path, fx: tuple[Emulator, EmulatorServer]) -> None:
    _, server = fx
    ledger = new_ledger(here / "l.sqlite", OCODE)
    code, out, _ = invoke("retry", "sep.csv", "./sep.csv", "-m", "mappings", "--base-url", server.url,
                          "--ledger", ledger)
    assert code == 0, out
    assert notice("sep.csv", "./sep.csv") in out.splitlines()


def test_batch_manifest_listing_a_file_twice_stores_it_once(here: Path, fx: tuple[Emulator, EmulatorServer]) -> None:
    emu, server = fx
    settings = here / "mappings" / "settings.yaml"
    settings.write_text(settings.read_text("utf-8").replace("http://127.0.0.1:8765", server.url), "utf-8")
    new_ledger(here / "ledgers" / f"{OCODE}.sqlite", OCODE)
    manifest = here / "manifest.yaml"
    manifest.write_text(yaml.safe_dump({"companies": [
        {"ocode": OCODE, "mappings": "mappings", "ledger": f"ledgers/{OCODE}.sqlite",
         "inputs": ["sep.csv", "./sep.csv"]}]}, allow_unicode=True), "utf-8")
    code, out, err = invoke("batch", manifest, "--format", "json")
    assert code == 0, out + err
    [company] = json.loads(out)
    given = str(here / "sep.csv")
    text = f"同じファイルが2回指定されました: {given} と {given} — 1回だけ読み込みます"
    assert company["sent"] == DOCS
    assert [n["message"] for n in company["notices"] if n["rule"] == "duplicate_input"] == [text]
    assert company["message"] == text
    assert sorted(emu.count_by_journo_read(OCODE).values()) == [1] * DOCS


# --------------------------------------------------------------------------- 5. outputs


def test_review_must_be_xlsx(here: Path) -> None:
    code, out, err = invoke("preview", "sep.csv", "-m", "mappings", "-o", "foo.csv")
    assert code == 2 and out == ""
    assert err == ("エラー: foo.csv: 確認用ブック (-o/--output) は .xlsx で終わる名前にしてください "
                   "(例: -o review.xlsx)。書き出すのは Excel ブックです\n")
    assert not Path("foo.csv").exists()


@pytest.mark.parametrize("command", ["preview", "upload"])
def test_review_over_the_input_csv_is_refused_and_the_csv_untouched(here: Path, command: str,
                                                                     fx: tuple[Emulator, EmulatorServer]) -> None:
    emu, server = fx
    ledger = new_ledger(here / "l.sqlite", OCODE)
    before = Path("sep.csv").read_bytes()
    code, out, err = invoke(command, "sep.csv", "-m", "mappings", "--ledger", ledger, "-o", "./sep.csv",
                            *(["--base-url", server.url] if command == "upload" else []))
    assert code == 2 and out == ""
    assert err == ("エラー: sep.csv: 確認用ブック (-o/--output) が入力ファイル sep.csv と同じファイルです。"
                   "入力を上書きしないよう、別の名前を指定してください\n")
    assert Path("sep.csv").read_bytes() == before
    assert emu.stored_slips() == []  # refused before anything was sent


@pytest.mark.parametrize("target", ["in.xlsx", "./in.xlsx", "link.xlsx", "hard.xlsx"])
def test_review_over_the_input_xlsx_leaves_it_byte_identical(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                                             target: str) -> None:
    monkeypatch.chdir(tmp_path)
    shutil.copyfile(SAMPLES / "jobcan-2026-10.xlsx", "in.xlsx")
    os.symlink("in.xlsx", "link.xlsx")
    os.link("in.xlsx", "hard.xlsx")
    before = Path("in.xlsx").read_bytes()
    code, _, err = invoke("preview", "in.xlsx", "-m", SAMPLES.parent / "mappings", "-o", target)
    assert code == 2
    assert err == (f"エラー: {Path(target)}: 確認用ブック (-o/--output) が入力ファイル in.xlsx と同じファイルです。"
                   "入力を上書きしないよう、別の名前を指定してください\n")
    assert Path("in.xlsx").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["hard.xlsx", "in.xlsx", "link.xlsx"]


@pytest.mark.parametrize("name", ["l.sqlite", "l.sqlite-wal", "l.sqlite-shm", "l.sqlite.lock"])
def test_review_over_the_ledger_or_its_files_is_refused(here: Path, name: str) -> None:
    ledger = new_ledger(here / "ledgers" / "l.sqlite", OCODE)
    target = here / "ledgers" / name
    existed = target.exists()
    before = target.read_bytes() if existed else b""
    code, out, err = invoke("preview", "sep.csv", "-m", "mappings", "--ledger", ledger, "-o", target)
    assert code == 2 and out == ""
    assert err == (f"エラー: {target}: 確認用ブック (-o/--output) が台帳のファイル {target} と同じです。"
                   "台帳を壊さないよう、台帳のフォルダの外に別の名前で指定してください\n")
    assert target.exists() == existed and (not existed or target.read_bytes() == before)


def test_review_over_the_ledger_through_a_link_or_by_default_path_is_refused(here: Path) -> None:
    """No --ledger: the default ledger (next to the mappings folder) is protected too."""
    ledger = new_ledger(here / "ledgers" / f"{OCODE}.sqlite", OCODE)
    os.symlink(ledger, "book.xlsx")
    before = ledger.read_bytes()
    code, _, err = invoke("preview", "sep.csv", "-m", "mappings", "-o", "book.xlsx")
    assert code == 2
    assert "確認用ブック (-o/--output) が台帳のファイル" in err
    assert ledger.read_bytes() == before and Path("book.xlsx").is_symlink()


def test_review_into_the_ledger_backups_is_refused(here: Path) -> None:
    ledger = new_ledger(here / "ledgers" / "l.sqlite", OCODE)
    code, _, err = invoke("preview", "sep.csv", "-m", "mappings", "--ledger", ledger,
                          "-o", here / "ledgers" / "backups" / "r.xlsx")
    assert code == 2
    assert err == (f"エラー: {here / 'ledgers' / 'backups' / 'r.xlsx'}: 確認用ブック (-o/--output) を台帳の"
                   f"バックアップフォルダ {here / 'ledgers' / 'backups'} に書き出すことはできません。"
                   "別の場所を指定してください\n")
    assert not (here / "ledgers" / "backups").exists()


def _unwritable(tmp_path: Path) -> Path:
    """A folder this process cannot create files in (root ignores modes: then sysfs)."""
    if os.geteuid() != 0:
        folder = tmp_path / "readonly"
        folder.mkdir()
        folder.chmod(0o500)
        return folder
    try:
        os.close(tempfile.mkstemp(dir="/sys")[0])
    except OSError:
        return Path("/sys")  # sysfs refuses new files even to root
    pytest.skip("no folder is unwritable for root here")


@pytest.mark.parametrize("command", ["preview", "upload"])
def test_review_into_an_unwritable_folder_is_refused_before_anything_is_sent(
        here: Path, command: str, fx: tuple[Emulator, EmulatorServer]) -> None:
    emu, server = fx
    ledger = new_ledger(here / "l.sqlite", OCODE)
    folder = _unwritable(here)
    code, out, err = invoke(command, "sep.csv", "-m", "mappings", "--ledger", ledger, "-o", folder / "review.xlsx",
                            *(["--base-url", server.url] if command == "upload" else []))
    assert code == 2 and out == ""
    assert err == (f"エラー: {folder / 'review.xlsx'}: 確認用ブック (-o/--output) の保存先フォルダに書き込めません "
                   "(Permission denied)。書き込めるフォルダを指定してください\n")
    assert emu.stored_slips() == []
    assert not [p for p in folder.iterdir() if p.name.startswith(".")]


@pytest.mark.filterwarnings("error::pytest.PytestUnraisableExceptionWarning")  # no sheet left half-built
def test_write_review_into_an_unwritable_folder_says_so_and_leaves_no_temp_file(here: Path) -> None:
    folder = _unwritable(here)
    conversion = convert([Path("sep.csv")], Path("mappings"), Options())
    with pytest.raises(ConverterError) as caught:
        write_review(conversion, folder / "review.xlsx")
    assert str(caught.value) == (f"{folder / 'review.xlsx'}: 確認用ブックを書き出せません (Permission denied)。"
                                 "保存先のフォルダに書き込めるか、空き容量を確認してください")
    assert not [p for p in folder.iterdir() if p.name.startswith(".review.xlsx.")]
    gc.collect()


def test_a_failed_write_keeps_the_old_workbook_and_no_temp_file(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    Path("review.xlsx").write_bytes(b"last month's review")
    real_save = workbook_module._save

    def full_disk(wb: Workbook, handle: BinaryIO) -> None:
        whole = io.BytesIO()
        real_save(wb, whole)
        handle.write(whole.getvalue()[:1000])  # the disk fills up half way
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(workbook_module, "_save", full_disk)
    code, _, err = invoke("preview", "sep.csv", "-m", "mappings", "-o", "review.xlsx")
    assert code == 2
    assert err == ("エラー: review.xlsx: 確認用ブックを書き出せません (No space left on device)。"
                   "保存先のフォルダに書き込めるか、空き容量を確認してください\n")
    assert Path("review.xlsx").read_bytes() == b"last month's review"
    assert sorted(p.name for p in here.iterdir()) == ["mappings", "review.xlsx", "sep.csv"]


def test_review_replaces_the_old_one_user_only(here: Path) -> None:
    Path("review.xlsx").write_bytes(b"old")
    Path("review.xlsx").chmod(0o644)
    code, _, err = invoke("preview", "sep.csv", "-m", "mappings", "-o", "review.xlsx")
    assert code == 0, err
    assert Path("review.xlsx").read_bytes()[:2] == b"PK"
    assert Path("review.xlsx").stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in here.iterdir()) == ["mappings", "review.xlsx", "sep.csv"]


def test_payload_dir_holding_the_input_is_refused(here: Path) -> None:
    code, out, err = invoke("preview", "sep.csv", "-m", "mappings", "--payload-dir", ".")
    assert code == 2 and out == ""
    assert err == ("エラー: .: 送信内容の出力先 (--payload-dir) に入力ファイル sep.csv があります。"
                   "入力を上書きしないよう、入力のないフォルダを指定してください\n")
    assert sorted(p.name for p in here.iterdir()) == ["mappings", "sep.csv"]


def test_payload_dir_that_is_the_input_or_the_ledger_folder_is_refused(here: Path) -> None:
    ledger = new_ledger(here / "ledgers" / "l.sqlite", OCODE)
    code, _, err = invoke("preview", "sep.csv", "-m", "mappings", "--ledger", ledger, "--payload-dir", "sep.csv")
    assert code == 2
    assert err == ("エラー: sep.csv: 送信内容の出力先 (--payload-dir) が入力ファイル sep.csv です。"
                   "空のフォルダを指定してください\n")
    code, _, err = invoke("preview", "sep.csv", "-m", "mappings", "--ledger", ledger, "--payload-dir", "ledgers")
    assert code == 2
    assert err == (f"エラー: ledgers: 送信内容の出力先 (--payload-dir) が台帳のフォルダ {here / 'ledgers'} です。"
                   "台帳を守るため、別のフォルダを指定してください\n")


def test_both_outputs_wrong_lists_both(here: Path) -> None:
    code, _, err = invoke("preview", "sep.csv", "-m", "mappings", "-o", "r.csv", "--payload-dir", ".")
    assert code == 2
    assert err.splitlines() == [
        "エラー: 出力先に問題があります:",
        "  - r.csv: 確認用ブック (-o/--output) は .xlsx で終わる名前にしてください (例: -o review.xlsx)。"
        "書き出すのは Excel ブックです",
        "  - .: 送信内容の出力先 (--payload-dir) に入力ファイル sep.csv があります。"
        "入力を上書きしないよう、入力のないフォルダを指定してください"]


def test_check_outputs_accepts_ordinary_targets(here: Path) -> None:
    check_outputs(review=Path("out/review.XLSX"), payload_dir=Path("payloads"), inputs=["sep.csv"],
                  ledger=here / "ledgers" / "l.sqlite")
    with pytest.raises(ConverterError):
        check_outputs(review=Path("ledgers/l.sqlite-journal"), ledger=Path("ledgers/l.sqlite"))


def test_write_requests_is_atomic_and_undoes_a_failed_run(here: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    conversion = convert([Path("sep.csv")], Path("mappings"), Options())
    requests = list(conversion.requests)
    folder = here / "payloads"
    folder.mkdir()
    (folder / "request-0007.json").write_text("{}")  # stale, from an earlier run
    (folder / "notes.txt").write_text("mine")
    writes: list[Path] = []

    def failing(path: Path, data: bytes, mode: int = 0o600) -> None:
        writes.append(path)
        if len(writes) == 2:
            raise OSError(28, "No space left on device")
        write_atomic(path, data, mode)

    monkeypatch.setattr("converter.fx.bodies.write_atomic", failing)
    with pytest.raises(ConverterError) as caught:
        write_requests([*requests, *requests], folder)
    assert str(caught.value) == (f"{folder}: 送信内容を書き出せません (No space left on device)。"
                                 "途中まで書いたファイルは消しました")
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt"]  # nothing that looks like a run
    monkeypatch.undo()
    paths = write_requests(requests, folder)
    assert [p.read_bytes() for p in paths] == [r.to_json() for r in requests]
    assert sorted(p.name for p in folder.iterdir()) == ["notes.txt", "request-0001.json"]


def test_one_private_file_writer(tmp_path: Path) -> None:
    """masters and suggest write through the same helper as review and payload (outputs)."""
    import converter.config.suggest
    import converter.fx.masters

    assert converter.fx.masters.write_atomic is write_atomic is converter.config.suggest.write_atomic
    target = tmp_path / "x.json"
    target.write_bytes(b"old")
    target.chmod(0o644)
    write_atomic(target, b"{}")
    assert target.read_bytes() == b"{}" and target.stat().st_mode & 0o777 == 0o600
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x.json"]


@pytest.mark.slow
def test_end_to_end_the_month_given_three_ways_is_stored_once(tmp_path: Path) -> None:
    """The real emulator server and the converter as separate processes, on the sample month."""
    shutil.copyfile(SAMPLES / "jobcan-2026-10.csv", tmp_path / "sep.csv")
    os.symlink("sep.csv", tmp_path / "link.csv")
    shutil.copyfile(tmp_path / "sep.csv", tmp_path / "copy.csv")
    ledger = new_ledger(tmp_path / "ledgers" / f"{OCODE}.sqlite", OCODE)
    server = EmulatorProcess(tmp_path)
    try:
        def upload(*inputs: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "converter", "upload", *inputs, "-m", str(UPLOAD_MAPPINGS),
                                   "--base-url", server.url, "--ledger", str(ledger)],
                                  capture_output=True, text=True, env=child_env(), cwd=tmp_path, timeout=300)

        first = upload("sep.csv", "./sep.csv", "link.csv")
        assert first.returncode == 0, first.stdout + first.stderr
        assert ("お知らせ: sep.csv: 同じファイルが3回指定されました: sep.csv、./sep.csv と link.csv"
                " — 1回だけ読み込みます") in first.stdout.splitlines()
        assert "連携完了 359 件" in first.stdout
        again = upload("copy.csv", "sep.csv")
        assert again.returncode == 0 and "送信対象 0 件" in again.stdout
        stored = stored_counts(server.slips())
        # 359 documents, one of them split in two slips (both carry its journo_read)
        assert len(stored) == 359 and sum(stored.values()) == 360 and sorted(set(stored.values())) == [1, 2]
        assert list(stored.values()).count(2) == 1
    finally:
        server.stop()
