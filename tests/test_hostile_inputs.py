"""Hostile input files are refused early, in bounded time and memory (issue 18).

Each file is generated in tmp_path: a 1,000,000-column row, a 10 MB cell, millions of blank or
short lines, ragged rows, an .xlsx zip bomb, an .xlsx with a far corner cell (calamine aborted the
process on it), a CSV renamed .xlsx. The CLI tests assert the exact Japanese message and exit code;
the subprocess test bounds the time and peak memory of a whole ``converter check`` of each.
"""

from __future__ import annotations

import json
import subprocess
import sys
import zipfile
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from conftest import sale, to_csv

from converter.cli import main
from converter.convert.read_guard import MAX_COLUMNS, check_csv_shape

DATA = Path(__file__).parent / "data"
REDO = "ジョブカン (または弥生) から書き出し直したファイルを指定してください"


def check(path: Path, mappings: Path) -> tuple[int, str]:
    result = CliRunner().invoke(main, ["check", str(path), "-m", str(mappings)])
    assert "Traceback" not in result.output
    return result.exit_code, result.stderr.strip()


# --------------------------------------------------------------------------- builders


def wide_row(folder: Path) -> Path:
    """2 MB: a good row, then one row of 1,000,000 commas (1,000,001 columns)."""
    path = folder / "wide.csv"
    path.write_bytes((to_csv([sale()]) + "," * 1_000_000 + "\r\n").encode("cp932"))
    return path


def big_cell(folder: Path) -> Path:
    path = folder / "bigcell.csv"
    path.write_bytes(to_csv([sale(), sale("INV-2", memo="x" * 10_000_000)]).encode("cp932"))
    return path


def blank_lines(folder: Path) -> Path:
    path = folder / "blank.csv"
    path.write_bytes((to_csv([sale()]) + "\r\n" * 4_000_000).encode("cp932"))
    return path


def short_rows(folder: Path) -> Path:
    """10 MB of 310,000 rows of 32 bytes: empty fields and a little text (each would be 3 problems)."""
    path = folder / "short.csv"
    path.write_bytes((to_csv([sale()]) + ("," * 20 + "a" * 10 + "\r\n") * 310_000).encode("cp932"))
    return path


def junk_rows(folder: Path) -> Path:
    """10 MB of 218,000 rows of 48 bytes (what the read guard lets through): only a 摘要-like text."""
    path = folder / "junk.csv"
    path.write_bytes((to_csv([sale()]) + ("," * 20 + "a" * 26 + "\r\n") * 218_000).encode("cp932"))
    return path


def sheet_with(folder: Path, name: str, extra: bytes, after: bytes = b"") -> Path:
    """The serial-dates workbook with ``extra`` added to its sheet data and ``after`` behind it."""
    source = zipfile.ZipFile(DATA / "serial-dates.xlsx")
    path = folder / name
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in source.infolist():
            data = source.read(info.filename)
            if info.filename == "xl/worksheets/sheet1.xml":
                data = data.replace(b"</sheetData>", extra + b"</sheetData>" + after)
            out.writestr(info.filename, data, compresslevel=9)
    return path


def zip_bomb(folder: Path) -> Path:
    """~1 MB on disk, 1 GB of sheet XML once inflated."""
    return sheet_with(folder, "bomb.xlsx", b"", b" " * 1_000_000_000)


def far_corner(folder: Path) -> Path:
    cell = b'<row r="1048576"><c r="XFD1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    return sheet_with(folder, "far.xlsx", cell)


def far_row(folder: Path) -> Path:
    cell = b'<row r="1048576"><c r="U1048576" t="inlineStr"><is><t>x</t></is></c></row>'
    return sheet_with(folder, "tall.xlsx", cell)


# --------------------------------------------------------------------------- messages


def test_a_million_column_row_is_refused_naming_row_and_limit(tmp_path: Path, mappings: Path) -> None:
    path = wide_row(tmp_path)
    assert check(path, mappings) == (2, f"エラー: {path}:3行: 1,000,001 列あります (上限 1,000 列)。区切りのカンマが"
                                        f"崩れたファイルか、取引明細ではないファイルです。{REDO}")


def test_a_10_mb_cell_is_refused_naming_row_and_column(tmp_path: Path, mappings: Path) -> None:
    path = big_cell(tmp_path)
    assert check(path, mappings) == (2, f"エラー: {path}:3行: 「摘要」(20列目)の値が 10,000,000 バイトあります "
                                        f"(1 つの値の上限 1,000,000 バイト)。取引明細の値としては長すぎます。"
                                        f"値を確かめ、{REDO}")


def test_millions_of_blank_lines_are_refused(tmp_path: Path, mappings: Path) -> None:
    path = blank_lines(tmp_path)
    raw = path.read_bytes()
    lines = raw.count(b"\n")
    assert lines == 4_000_002
    assert check(path, mappings) == (2, f"エラー: {path}: 4,000,002 行ありますが、1 行が平均 "
                                        f"{len(raw) / lines:.1f} バイトしかありません (取引明細の 1 行は 48 バイト"
                                        f"以上)。空行ばかりか、取引明細ではないファイルです。{REDO}")


def test_many_blank_lines_among_long_rows_are_refused(tmp_path: Path, mappings: Path) -> None:
    path = tmp_path / "blanks.csv"
    rows = [sale(f"INV-{i}", memo="x" * 999_000) for i in range(6)]
    path.write_bytes((to_csv(rows) + "\r\n" * 110_000).encode("cp932"))
    assert check(path, mappings) == (2, f"エラー: {path}: 空行が 110,000 行あります (上限 100,000 行)。取引明細"
                                        f"ではないか、壊れたファイルです。{REDO}")


def test_thousands_of_ragged_rows_refuse_the_file(tmp_path: Path, mappings: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_bytes((to_csv([sale()]) + "2026/10/01,売上,INV-9,,締切済,C-001\r\n" * 2000).encode("cp932"))
    assert check(path, mappings) == (2, f"エラー: {path}: 列数が見出しの 21 列と合わない行が 2,000 行あります "
                                        f"(最初は 3 行目、上限 1,000 行)。区切りのカンマや引用符 (\") が崩れた"
                                        f"ファイルです。{REDO}")


def test_a_few_ragged_rows_are_still_reported_one_by_one(tmp_path: Path, mappings: Path) -> None:
    path = tmp_path / "ragged.csv"
    path.write_bytes((to_csv([sale()]) + "2026/10/01,売上,INV-9,,締切済,C-001\r\n" * 1000).encode("cp932"))
    result = CliRunner().invoke(main, ["check", str(path), "-m", str(mappings), "--format", "json"])
    assert result.exit_code == 1
    ragged = [p for p in json.loads(result.stdout)["problems"] if p["rule"] == "ragged_row"]
    assert len(ragged) == 201  # the first 200 and a count of the rest, as before


@pytest.mark.slow
def test_an_xlsx_zip_bomb_is_refused_before_inflating(tmp_path: Path, mappings: Path) -> None:
    path = zip_bomb(tmp_path)
    assert path.stat().st_size < 2_000_000
    info = zipfile.ZipFile(path).getinfo("xl/worksheets/sheet1.xml")
    ratio = info.file_size // info.compress_size
    assert ratio > 100
    assert check(path, mappings) == (2, f"エラー: {path}: ブックの部品 xl/worksheets/sheet1.xml が圧縮の {ratio:,} 倍"
                                        f"に展開されます (上限 100 倍)。壊れたか、意図的に作られたファイルです。{REDO}")


def test_an_xlsx_cell_in_column_xfd_is_refused(tmp_path: Path, mappings: Path) -> None:
    path = far_corner(tmp_path)
    assert check(path, mappings) == (2, f"エラー: {path}: シートに XFD 列 (16,384 列目) までセルがあります "
                                        f"(上限 1,000 列)。取引明細ではない範囲を消すか、{REDO}")


def test_an_xlsx_with_one_cell_a_million_rows_down_is_refused(tmp_path: Path, mappings: Path) -> None:
    path = far_row(tmp_path)
    cells = zipfile.ZipFile(path).read("xl/worksheets/sheet1.xml").count(b"<c ")
    assert check(path, mappings) == (2, f"エラー: {path}: シートの使用範囲が 1,048,576 行目まであるのに、セルは "
                                        f"{cells:,} 個だけです。離れたセルに値や書式がないか確かめ、不要な行・列を"
                                        "削除して保存し直してください")


def test_a_csv_renamed_xlsx_says_so(tmp_path: Path, mappings: Path) -> None:
    path = tmp_path / "in.xlsx"
    path.write_bytes(to_csv([sale()]).encode("cp932"))
    assert check(path, mappings) == (2, f"エラー: {path}: 拡張子は .xlsx ですが、中身はCSV (テキスト) のようです。"
                                        "拡張子を .csv にして指定してください")


def test_the_unchanged_workbook_is_still_read(mappings: Path) -> None:
    code, _ = check(DATA / "serial-dates.xlsx", mappings)
    assert code in (0, 1)  # read (its data may have findings), not refused


def test_the_column_limit_is_a_limit_not_a_cut(tmp_path: Path) -> None:
    raw = ("a," * (MAX_COLUMNS - 1) + "a\n").encode()
    check_csv_shape(raw, np.array([MAX_COLUMNS]), tmp_path / "x.csv")  # exactly the limit: read


def test_a_long_value_is_echoed_cut_with_its_length(tmp_path: Path, mappings: Path) -> None:
    path = tmp_path / "memo.csv"
    memo = "摘要" * 50_000  # 100,000 characters: read (under the field limit), reported as too wide
    path.write_bytes(to_csv([sale(memo=memo)]).encode("cp932"))
    result = CliRunner().invoke(main, ["check", str(path), "-m", str(mappings)])
    assert result.exit_code == 1
    assert (f"  {path}:2行 [摘要 → rcj_slip] 値「{memo[:120]}…(全 100,000 文字)」: 摘要(rcj_slip)が 80 桁"
            " (全角 40 文字) を超えています。短くするか --truncate-memo を付けてください"
            in result.stdout.splitlines())
    assert len(result.stdout) < 5000
    as_json = CliRunner().invoke(main, ["check", str(path), "-m", str(mappings), "--format", "json"])
    [problem] = [p for p in json.loads(as_json.stdout)["problems"] if p["rule"] == "rcj_slip_width"]
    assert problem["value"] == f"{memo[:120]}…(全 100,000 文字)"


# --------------------------------------------------------------------------- bounds

BUILDERS: dict[str, Callable[[Path], Path]] = {
    "wide_row": wide_row, "big_cell": big_cell, "blank_lines": blank_lines, "short_rows": short_rows,
    "zip_bomb": zip_bomb, "far_corner": far_corner, "far_row": far_row, "junk_rows": junk_rows,
}
# A separate Python waits for the check, so RUSAGE_CHILDREN is the check's own peak (pytest's
# other children do not count).
MEASURE = """
import resource, subprocess, sys, time
start = time.monotonic()
done = subprocess.run([sys.executable, "-m", "converter", *sys.argv[1:]], capture_output=True, text=True)
print(done.returncode, time.monotonic() - start, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
print(done.stderr)
"""


@pytest.mark.slow
@pytest.mark.parametrize("name", sorted(BUILDERS))
def test_a_hostile_file_is_refused_in_bounded_time_and_memory(tmp_path: Path, mappings: Path, name: str) -> None:
    path = BUILDERS[name](tmp_path)
    assert path.stat().st_size < 10_500_000
    done = subprocess.run([sys.executable, "-c", MEASURE, "check", str(path), "-m", str(mappings)],
                          capture_output=True, text=True, timeout=120, check=True)
    first, message = done.stdout.split("\n", 1)
    code, seconds, peak_kb = first.split()
    assert code == "2", message
    assert message.startswith(f"エラー: {path}")
    assert "Traceback" not in message
    # The target is 10 s and 500 MB for any input under 10 MB; before the guards these took
    # 6–90 s and 1.3–8.6 GB (or aborted). Time is bounded loosely: the test machine is shared.
    assert float(seconds) < 30
    assert int(peak_kb) < 500_000
