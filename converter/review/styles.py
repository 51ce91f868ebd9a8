"""Sheet names, styles and cell writing shared by the review workbook's sheets.

:mod:`converter.review.workbook` (仕訳明細 and the list sheets) and :mod:`converter.review.summary` (サマリー)
both build on this module; it imports neither, so the three have no import cycle.

Every styled cell points at one of a few style arrays made once per workbook (:class:`Styles`),
so memory does not grow with per-cell styles.
"""

from __future__ import annotations

import math
from copy import copy
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.styles.fonts import DEFAULT_FONT
from openpyxl.worksheet.worksheet import Worksheet

SUMMARY, SLIPS, PROBLEMS, NOTICES, UNMAPPED, SKIPPED, CORRECTIONS, RESPONSES = (
    "サマリー", "仕訳明細", "エラー", "お知らせ", "未設定マッピング", "スキップ", "訂正", "FX応答")
UNRESOLVED = "要確認"  # after an upload: documents FX may or may not hold (review.after_upload)

#: Text starting with these is what a spreadsheet would read as a formula (or DDE) on entry.
UNSAFE_START = ("=", "+", "-", "@", "\t", "\r")


class Styles:
    """The workbook's few styles, registered once each on first use; cells copy one small array."""

    def __init__(self, wb: Workbook) -> None:
        self._wb = wb
        head = PatternFill("solid", start_color="DCE6F1", end_color="DCE6F1")
        line = Border(bottom=Side("thin", color="8EA9C1"))
        self.band = PatternFill("solid", start_color="EEF3F8", end_color="EEF3F8")
        self.header = self._named("rv見出し", font=_font(bold=True), fill=head, border=line)
        small = _font(size=9, italic=True, color="5F6B7A")
        self.fx = self._named("rvFX項目", font=small, fill=head, border=line)
        self.ok = self._named("rv送信可能", font=_font(bold=True, size=14, color="1E6B34"),
                              fill=PatternFill("solid", start_color="D9F2DF", end_color="D9F2DF"))
        self.ng = self._named("rv送信不可", font=_font(bold=True, size=14, color="A61B1B"), fill=_RED)
        self.section = self._named("rv区分", font=_font(bold=True, size=12, color="1F3B57"))
        self.wrong = self._named("rv不一致", number_format="#,##0", font=_font(bold=True, color="C00000"),
                                 fill=_RED)
        self.note = self._named("rv注記", font=_font(color="5F6B7A"), alignment=Alignment(indent=1))
        self.dash = self._named("rv空欄", font=_font(color="5F6B7A"), alignment=Alignment(horizontal="right"))
        self._cache: dict[tuple[str, str, bool], Any] = {}

    def _named(self, name: str, **kw: Any) -> Any:
        # A named style without a font gets a nameless one, which Calc shows in a serif face.
        kw["font"] = copy(kw.get("font", DEFAULT_FONT))
        style = NamedStyle(name=name, **kw)
        self._wb.add_named_style(style)
        return copy(style.as_tuple())

    def get(self, group: str, kind: str, quoted: bool = False) -> Any:
        """Style of a ``kind`` cell in ``group`` (plain, hot = problem row, top = top-aligned list)."""
        key = (group, kind, quoted)
        if key not in self._cache:
            if quoted:
                # Excel's quote prefix: the cell stays text even after someone edits it.
                self._cache[key] = copy(self.get(group, kind))
                self._cache[key].quotePrefix = 1
            else:
                kw: dict[str, Any] = {"number_format": _FORMATS[kind]}
                if group.endswith("hot"):
                    kw["fill"] = _RED
                if group.startswith("top"):
                    kw["alignment"] = Alignment(vertical="top", wrap_text=kind == "wrap")
                self._cache[key] = self._named(f"rv_{group}_{kind}", **kw)
        return self._cache[key]


def _font(**kw: Any) -> Font:
    return Font(name=DEFAULT_FONT.name, family=DEFAULT_FONT.family, scheme=DEFAULT_FONT.scheme, **kw)


_RED = PatternFill("solid", start_color="FDE2E1", end_color="FDE2E1")
_FORMATS = {"text": "General", "number": "General", "amount": "#,##0", "date": "yyyy/mm/dd",
            "wrap": "General"}


def as_cell(ws: Any, value: Any, kind: str, styles: Styles, group: str = "plain", style: Any = None) -> Any:
    """One value as written: text that looks like a formula (or an error code) stays text.
    ``style`` overrides the group's style (the summary's own looks)."""
    if value is None or value is pd.NA or (isinstance(value, float) and math.isnan(value)):
        value = None
    elif isinstance(value, str):
        value = ILLEGAL_CHARACTERS_RE.sub("", value) or None
        if value is not None and (value.startswith(UNSAFE_START) or value in ERROR_CODES):
            cell = Cell(ws, 1, 1, value, style or styles.get(group, kind, quoted=True))
            cell.data_type = "s"  # openpyxl makes "=…" a formula; this cell must stay the text it is
            return cell
    if style is not None or group != "plain" or (value is not None and kind in ("amount", "date")):
        return Cell(ws, 1, 1, value, style or styles.get(group, kind))
    return value


def page_setup(ws: Any) -> None:
    """Landscape, one page wide: the workbook is also the month's filed record."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True
