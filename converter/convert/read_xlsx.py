"""Read stage, Excel part: one sheet of an .xlsx/.xlsm/.xls export → a table of text cells.

Error values (#N/A, #DIV/0!) and formulas saved without their result come back as their text, so
they are reported, never taken for a blank cell.
"""

from __future__ import annotations

import posixpath
import re
import zipfile
from pathlib import Path
from xml.etree import ElementTree

import pandas as pd

from converter.config.settings import Profile
from converter.convert.read_guard import check_xlsx
from converter.errors import InputError, Problem


def read_excel(path: Path, profile: Profile, sheet: str | None) -> tuple[pd.DataFrame, str, list[Problem], list[str]]:
    """The sheet's table, its name, the problems found in its cells and the names of the visible sheets."""
    if path.suffix.lower() in (".xlsx", ".xlsm"):
        check_xlsx(path)  # before calamine: a zip bomb or a far corner cell costs it GBs (or aborts it)
    try:
        book = pd.ExcelFile(path, engine="calamine")
    except Exception as err:  # calamine raises its own error types for corrupt files
        raise InputError(f"Excel ファイルとして開けません ({err})", file=str(path)) from None
    sheets = [str(s) for s in book.sheet_names]
    visible = [str(m.name) for m in book.book.sheets_metadata if str(m.visible).endswith("Visible")]
    name = sheet if sheet is not None else (visible or sheets)[0]  # never a hidden sheet unless asked
    if name not in sheets:
        raise InputError(f"シート '{name}' がありません (シート: {', '.join(sheets)})", file=str(path))
    # dtype=str keeps codes like 001 intact; calamine hands dates over as datetimes, which
    # become "YYYY-MM-DD 00:00:00" text here and are parsed like any other date later.
    table = pd.read_excel(book, sheet_name=name, header=None, dtype=str, keep_default_na=False)
    table = table.fillna("")
    table.index = pd.RangeIndex(1, len(table) + 1)
    # calamine reads an error value (#N/A, #DIV/0!) and a formula saved without its result as an empty
    # cell; put the error text back so that it is reported, never taken for a blank 部門 or 消費税額.
    unreadable = [(r, c, t) for r, c, t in _unreadable_cells(path, sheets.index(name)) if r <= len(table)]
    header_row = [str(v).strip() for v in table.iloc[0].tolist()] if len(table) else []
    problems = []
    for row, col, text in unreadable:
        if col < len(table.columns):
            table.iat[row - 1, col] = text
        if profile.header and row == 1:
            continue
        column = header_row[col] if profile.header and col < len(header_row) else f"{col + 1}列目"
        problems.append(Problem(str(path), row, column, text, "excel_error",
                                "Excel のエラー値か、結果の保存されていない数式です。元のブックで計算し直し、"
                                "値を確かめてから書き出してください"))
    if profile.header:
        if len(table) == 0:
            raise InputError(f"シート '{name}' が空です", file=str(path))
        header = [str(v).strip() for v in table.iloc[0].tolist()]
        table = table.iloc[1:]
        table.columns = pd.Index(header)
    blank = (table == "").all(axis=1)
    return table.loc[~blank], name, problems, visible or sheets


_CELL = re.compile(rb"<c\b([^>]*?)(?:/>|>(.*?)</c>)", re.S)
_REF = re.compile(rb'\br="([A-Z]+)(\d+)"')


def _unreadable_cells(path: Path, index: int) -> list[tuple[int, int, str]]:
    """(row, 0-based column, text) of cells holding an Excel error or a formula without a saved value."""
    if path.suffix.lower() not in (".xlsx", ".xlsm"):
        return []
    try:
        with zipfile.ZipFile(path) as zf:
            ns = {"m": "http://schemas.openxmlformats.org/spreadsheetml/2006/main",
                  "r": "http://schemas.openxmlformats.org/officeDocument/2006/relationships"}
            book = ElementTree.fromstring(zf.read("xl/workbook.xml"))
            rid = book.findall("m:sheets/m:sheet", ns)[index].get(f"{{{ns['r']}}}id")
            rels = ElementTree.fromstring(zf.read("xl/_rels/workbook.xml.rels"))
            target = next(r.get("Target") for r in rels if r.get("Id") == rid) or ""
            name = target.lstrip("/") if target.startswith("/") else posixpath.normpath(posixpath.join("xl", target))
            data = zf.read(name)
    except (KeyError, IndexError, StopIteration, zipfile.BadZipFile, ElementTree.ParseError):
        return []
    found = []
    for match in _CELL.finditer(data):
        attrs, inner = match.group(1), match.group(2) or b""
        error = b't="e"' in attrs
        uncached = b"<f" in inner and not re.search(rb"<v>[^<]", inner)
        if not (error or uncached):
            continue
        ref = _REF.search(attrs)
        if not ref:
            continue
        letters, row = ref.group(1).decode(), int(ref.group(2))
        col = 0
        for ch in letters:
            col = col * 26 + ord(ch) - 64
        value = re.search(rb"<v>([^<]*)</v>", inner)
        text = value.group(1).decode() if error and value else "(数式の結果が保存されていません)"
        found.append((row, col - 1, text))
    return found
