"""Hostile-input guards of the read stage: refuse a file early, in bounded time and memory.

A 2 MB CSV with one 1,000,000-column row, or a small .xlsx whose sheet declares a far corner cell
(or whose XML inflates a thousandfold), used to cost minutes and gigabytes before any message —
a far-corner .xlsx even aborted the process inside calamine. These checks run before pandas or
calamine sees the file and cost little next to the read itself (the CSV ones use the field counts
the reader needs anyway; the .xlsx one streams the sheet XML once, ~0.25 s per million cells).

The limits are far above any real ジョブカン or 弥生 export (about 20–25 columns; a 摘要 is at
most a few hundred characters, Excel's own cell limit is 32,767 characters) and not FX rules:
the FX reference says nothing about input files.
"""

from __future__ import annotations

import re
import zipfile
from pathlib import Path

import numpy as np

from converter.errors import InputError

#: Columns a row may have (a real export has ~20–25; Excel's two-letter columns end at 702).
MAX_COLUMNS = 1000
#: Bytes (UTF-8) one CSV field may have: 10× a 100,000-character 摘要 in CP932/UTF-8.
MAX_FIELD_BYTES = 1_000_000
#: Average bytes a CSV line must have once it has more than _SHORT_LINES_FROM lines.
MIN_LINE_BYTES, _SHORT_LINES_FROM = 48, 100_000
#: Blank lines a CSV may have (pandas pads each to a full row of empty cells).
MAX_BLANK_LINES = 100_000
#: Records whose field count differs from the header's: beyond this the file is broken, not a row.
MAX_RAGGED_ROWS = 1000
#: Inflated size the parts of an .xlsx may declare in all (a 10⁶-row sheet is a few hundred MB).
MAX_XLSX_UNZIPPED = 2_000_000_000
#: How much a part of an .xlsx may inflate (real sheets: 5–25×; a zip bomb: thousands).
MAX_XLSX_RATIO = 100
#: Parts smaller than this are not held to the ratio (tiny XML compresses well and costs nothing).
_RATIO_FLOOR = 1_000_000
#: The cells calamine lays out (rows × columns of the used range) may be at most this many times
#: the cells the sheet holds, plus a margin: a sheet with A1 and XFD1048576 only is refused.
_SPARSE_FACTOR, _SPARSE_MARGIN = 10, 1_000_000

_REDO = "ジョブカン (または弥生) から書き出し直したファイルを指定してください"


def check_csv_lines(raw: bytes, path: Path) -> None:
    """Refuse a CSV of very many very short lines (blank lines, one character a line) before the
    field counts are taken: their arrays cost ~70 bytes a line, and each such record would cost a
    real record's checks. A real record has its ~20 separators, a date, a 帳票番号, two accounts and
    amounts (55 bytes at the least, ~150 usually), so a month of 10⁶ records passes."""
    lines = raw.count(b"\n")
    if lines > _SHORT_LINES_FROM and lines * MIN_LINE_BYTES > len(raw):
        raise InputError(f"{lines:,} 行ありますが、1 行が平均 {len(raw) / lines:.1f} バイトしかありません"
                         f" (取引明細の 1 行は {MIN_LINE_BYTES} バイト以上)。空行ばかりか、取引明細ではない"
                         f"ファイルです。{_REDO}", file=str(path))


def check_csv_shape(raw: bytes, counts: np.ndarray, path: Path) -> None:
    """Refuse a CSV with a record of more than MAX_COLUMNS fields or a field over MAX_FIELD_BYTES.

    ``counts`` are the fields per record (``field_counts``). Only lines longer than the field limit
    are split to find the field, so a normal file costs one pass over its line feeds."""
    if len(counts) and int(counts.max()) > MAX_COLUMNS:
        i = int(np.argmax(counts > MAX_COLUMNS))
        raise InputError(f"{int(counts[i]):,} 列あります (上限 {MAX_COLUMNS:,} 列)。区切りのカンマが崩れた"
                         f"ファイルか、取引明細ではないファイルです。{_REDO}", file=str(path), row=i + 1)
    if len(raw) <= MAX_FIELD_BYTES:
        return
    buf = np.frombuffer(raw, dtype=np.uint8)
    feeds = np.concatenate(([-1], np.flatnonzero(buf == 10), [len(buf)]))
    lengths = np.diff(feeds) - 1
    for line in np.flatnonzero(lengths > MAX_FIELD_BYTES)[:5]:
        start, stop = int(feeds[line]) + 1, int(feeds[line + 1])
        sizes = [len(f.strip(b"\"")) for f in _split(raw[start:stop])]
        longest = max(range(len(sizes)), key=sizes.__getitem__)
        if sizes[longest] > MAX_FIELD_BYTES:
            header = _split(raw[: max(int(feeds[1]), 0)]) if len(feeds) > 2 else []
            column = header[longest].decode("utf-8", "replace").strip('" ') if longest < len(header) else ""
            where = f"「{column}」({longest + 1}列目)" if column else f"{longest + 1}列目"
            raise InputError(f"{where}の値が {sizes[longest]:,} バイトあります (1 つの値の上限 "
                             f"{MAX_FIELD_BYTES:,} バイト)。取引明細の値としては長すぎます。値を確かめ、"
                             f"{_REDO}", file=str(path), row=int(line) + 1)


def check_csv_records(counts: np.ndarray, width: int, path: Path, against: str) -> None:
    """Refuse a CSV with more than MAX_BLANK_LINES blank lines or MAX_RAGGED_ROWS records whose
    field count is not ``width`` (``against`` names what sets the width: 見出し / 他の行). A real
    export has neither; pandas would pad each of them to a full row."""
    blank = int(np.count_nonzero(counts == 0))
    if blank > MAX_BLANK_LINES:
        raise InputError(f"空行が {blank:,} 行あります (上限 {MAX_BLANK_LINES:,} 行)。取引明細ではないか、"
                         f"壊れたファイルです。{_REDO}", file=str(path))
    ragged = np.flatnonzero((counts > 0) & (counts != width))
    if len(ragged) > MAX_RAGGED_ROWS:
        raise InputError(f"列数が{against}の {width} 列と合わない行が {len(ragged):,} 行あります (最初は "
                         f"{int(ragged[0]) + 1} 行目、上限 {MAX_RAGGED_ROWS:,} 行)。区切りのカンマや引用符 (\") が"
                         f"崩れたファイルです。{_REDO}", file=str(path))


def _split(line: bytes) -> list[bytes]:
    """Fields of one CSV line (quotes kept; commas inside quotes are not separators)."""
    fields, start, quoted = [], 0, False
    for m in re.finditer(rb'[",]', line):
        if m.group() == b'"':
            quoted = not quoted
        elif not quoted:
            fields.append(line[start:m.start()])
            start = m.end()
    fields.append(line[start:].rstrip(b"\r"))
    return fields


_ROW = re.compile(rb'<c r="[A-Z]{1,3}(\d{1,7})"')  # the row number of each cell reference
_WIDE = re.compile(rb'<c r="([A-Z]{2,3})\d')  # column letters beyond Z (rare in an export)
_CHUNK = 1 << 22


def check_xlsx(path: Path, sheet_part: str | None = None) -> None:
    """Refuse an .xlsx that is no zip (a renamed CSV), a zip bomb, or a sheet whose used range is
    far larger than what it holds (calamine lays the range out in memory) or too wide.

    ``sheet_part`` is the sheet's XML part; without it every ``xl/worksheets/*.xml`` is checked."""
    with path.open("rb") as handle:
        head = handle.read(4)
    if head[:2] != b"PK":
        csv_like = head.startswith(b"\xef\xbb\xbf") or all(32 <= b < 127 or b >= 0x80 for b in head)
        what = "CSV (テキスト) のようです。拡張子を .csv にして指定してください" if csv_like else \
            "Excel のファイルではありません。Excel で開いて .xlsx で保存し直してください"
        raise InputError(f"拡張子は {path.suffix} ですが、中身は{what}", file=str(path))
    try:
        with zipfile.ZipFile(path) as zf:
            infos = zf.infolist()
            total = sum(i.file_size for i in infos)
            if total > MAX_XLSX_UNZIPPED:
                raise InputError(f"展開後の大きさが {total:,} バイトあります (上限 {MAX_XLSX_UNZIPPED:,} バイト)。"
                                 f"取引明細のブックとしては大きすぎます。期間を分けて書き出してください",
                                 file=str(path))
            for i in infos:
                if i.file_size > _RATIO_FLOOR and i.file_size > MAX_XLSX_RATIO * max(i.compress_size, 1):
                    raise InputError(f"ブックの部品 {i.filename} が圧縮の {i.file_size // max(i.compress_size, 1):,} 倍"
                                     f"に展開されます (上限 {MAX_XLSX_RATIO} 倍)。壊れたか、意図的に作られた"
                                     f"ファイルです。{_REDO}", file=str(path))
            parts = [sheet_part] if sheet_part else [i.filename for i in infos if
                                                     i.filename.startswith("xl/worksheets/")
                                                     and i.filename.endswith(".xml")]
            for part in parts:
                if part in zf.NameToInfo:
                    _check_sheet(zf, part, path)
    except (zipfile.BadZipFile, OSError, EOFError):
        return  # calamine reports a broken zip in its own words


def _check_sheet(zf: zipfile.ZipFile, part: str, path: Path) -> None:
    """Stream the sheet XML once: count its cells, find the last row and column referenced.
    (~0.25 s per million cells; calamine takes ~1.2 s per million to read them.)"""
    cells = max_row = max_col = 0
    carry = b""
    declared, inflated = zf.getinfo(part).file_size, 0
    with zf.open(part) as stream:
        while chunk := stream.read(_CHUNK):
            inflated += len(chunk)
            if inflated > declared:
                raise InputError(f"ブックの部品 {part} が申告より大きく展開されます。壊れたファイルです。{_REDO}",
                                 file=str(path))
            cells += chunk.count(b"<c ")
            data = carry + chunk
            carry = data[-32:]  # a reference cut by the chunk is whole in the next one (a max counts it once)
            rows = _ROW.findall(data)
            if rows:
                longest, top = max(rows, key=len), max(rows)  # equal lengths: text order is number order
                max_row = max(max_row, int(top) if len(top) == len(longest) else max(map(int, rows)))
                max_col = max(max_col, 26)  # one-letter columns: at most Z (an upper bound is enough)
            for letters in set(_WIDE.findall(data)):
                max_col = max(max_col, _column_number(letters))
    if max_col > MAX_COLUMNS:
        raise InputError(f"シートに {_column_letters(max_col)} 列 ({max_col:,} 列目) までセルがあります "
                         f"(上限 {MAX_COLUMNS:,} 列)。取引明細ではない範囲を消すか、{_REDO}", file=str(path))
    if max_row * max_col > _SPARSE_FACTOR * cells + _SPARSE_MARGIN:
        raise InputError(f"シートの使用範囲が {max_row:,} 行目まであるのに、セルは {cells:,} 個だけです。"
                         "離れたセルに値や書式がないか確かめ、不要な行・列を削除して保存し直してください",
                         file=str(path))


def _column_number(letters: bytes) -> int:
    number = 0
    for ch in letters:
        number = number * 26 + ch - 64
    return number


def _column_letters(number: int) -> str:
    letters = ""
    while number:
        number, rest = divmod(number - 1, 26)
        letters = chr(65 + rest) + letters
    return letters
