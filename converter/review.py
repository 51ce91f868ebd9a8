"""Review workbook: the accountant's dry-run spreadsheet, and the record filed with the month.

Sheets: サマリー (status, counts, totals cross-checked against the request bodies), 仕訳明細 (one
row per detail line), エラー, 未設定マッピング, スキップ and, after an upload, FX応答.

Written in openpyxl's write-only mode so rows stream to disk. Every styled cell points at one of a
few style arrays made once per workbook, so memory does not grow with per-cell styles. Slips are
banded by a conditional format on the slip number instead of a fill per cell: styling every cell
costs about as much as writing it, and the band would double the time of a 100k-line workbook.
"""

from __future__ import annotations

import math
import os
import tempfile
from collections import defaultdict
from collections.abc import Sequence
from copy import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.formatting.rule import FormulaRule
from openpyxl.styles import Alignment, Border, Font, NamedStyle, PatternFill, Side
from openpyxl.styles.fonts import DEFAULT_FONT
from openpyxl.utils import get_column_letter
from openpyxl.worksheet.worksheet import Worksheet

from .errors import ConverterError
from .pipeline import Conversion
from .schema import fx_width
from .slips import DEBIT
from .upload import FXMessage

SUMMARY, SLIPS, PROBLEMS, UNMAPPED, SKIPPED, CORRECTIONS, RESPONSES = (
    "サマリー", "仕訳明細", "エラー", "未設定マッピング", "スキップ", "訂正", "FX応答")
EXCEL_MAX_ROWS = 1_048_576
#: Text starting with these is what a spreadsheet would read as a formula (or DDE) on entry.
UNSAFE_START = ("=", "+", "-", "@", "\t", "\r")
CHUNK = 50_000  # detail lines turned into Python values at a time (bounds memory, not speed)
_TABLE_LABEL = {"accounts": "勘定科目", "tax": "税区分", "departments": "部門", "customers": "取引先"}


@dataclass(frozen=True)
class _Col:
    label: str
    fx: str = ""
    kind: str = "text"  # text | amount | date | number
    cap: int = 60  # widest the column gets; longer text is still there, just clipped on screen


SLIP_COLUMNS = (
    _Col("伝票No"), _Col("連携番号", "journo_read"), _Col("取引日", "ymd_tr", "date"), _Col("種別"),
    _Col("帳票番号"), _Col("貸借", "is_ocr_dc"), _Col("行", "pos_dsp"), _Col("科目", "cd_act"),
    _Col("科目名", cap=30), _Col("補助", "cd_auxact"), _Col("部門", "cd_dep"), _Col("取引先", "cd_cstm"),
    _Col("取引先名", "nm_cstm / 元データ", cap=40), _Col("課税区分", "tptn"), _Col("税率%", "cmtxrate÷100"),
    _Col("軽減", "is_reduce_cmtxrate"), _Col("金額", "amnt_tr", "amount"),
    _Col("消費税額", "amnt_cmtx", "amount"),
    _Col("摘要", "rcj_slip", cap=50), _Col("エラー", "→ エラーシート", cap=30), _Col("ファイル", cap=40),
    _Col("元の行", "Excel 行番号"),
)
_AT = {c.label: i for i, c in enumerate(SLIP_COLUMNS)}
_DATE, _AMOUNT, _TAX, _ERRORS = _AT["取引日"], _AT["金額"], _AT["消費税額"], _AT["エラー"]


class _Styles:
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


def write_review(
    conversion: Conversion,
    path: Path,
    *,
    responses: Sequence[FXMessage] | None = None,
    corrections: Sequence[tuple[str, str, str]] | None = None,
    max_rows_per_sheet: int = EXCEL_MAX_ROWS,
) -> Path:
    """Write the review workbook to ``path`` (user-only permissions) and return the path.

    ``corrections``: (区分, document key, what to do) for documents changed or deleted after
    upload (訂正 sheet); ``responses``: FX's answers after an upload (FX応答 sheet)."""
    if not 3 <= max_rows_per_sheet <= EXCEL_MAX_ROWS:
        raise ValueError(f"max_rows_per_sheet must be 3 … {EXCEL_MAX_ROWS}")
    path = Path(path)
    try:  # before any sheet exists: a failure here leaves no half-built workbook behind
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConverterError(f"確認用ブックの保存先フォルダを作れません ({err.strerror})", file=str(path)) from None
    wb = Workbook(write_only=True)
    styles = _Styles(wb)
    lines = conversion.lines
    slip_sheets = max(1, math.ceil(len(lines) / (max_rows_per_sheet - 2)))
    body = _body_details(conversion) if conversion.ok else None
    _write_summary(wb, styles, conversion, body, slip_sheets)
    _write_slips(wb, styles, conversion, max_rows_per_sheet)
    _write_frame(wb, styles, PROBLEMS, *_problems_frame(conversion), max_rows_per_sheet)
    _write_frame(wb, styles, UNMAPPED, *_unmapped_frame(conversion), max_rows_per_sheet)
    _write_frame(wb, styles, SKIPPED, *_skipped_frame(conversion), max_rows_per_sheet)
    if corrections:
        cols, frame = _corrections_frame(corrections)
        _write_frame(wb, styles, CORRECTIONS, cols, frame, max_rows_per_sheet,
                     (frame["区分"] != "訂正済み").tolist())
    if responses is not None:
        cols, frame = _responses_frame(responses)
        hot = (frame["種別"] == "エラー").tolist()
        _write_frame(wb, styles, RESPONSES, cols, frame, max_rows_per_sheet, hot)
    path = Path(path)
    # mkstemp creates the file 0600, so company data is never readable by others, not even briefly;
    # the rename means a half-written workbook never sits under the real name.
    try:
        fd, tmp = tempfile.mkstemp(prefix=".review-", suffix=".xlsx", dir=path.parent)
    except OSError as err:
        raise ConverterError(f"確認用ブックを書き出せません ({err.strerror})", file=str(path)) from None
    try:
        with os.fdopen(fd, "wb") as handle:
            wb.save(handle)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    path.chmod(0o600)
    return path


# --------------------------------------------------------------------------- cells


def _clean_text(s: pd.Series) -> pd.Series:
    """Drop the control characters XML cannot hold (openpyxl would refuse the whole cell)."""
    pattern = ILLEGAL_CHARACTERS_RE.pattern
    return s.str.replace(pattern, "", regex=True) if s.str.contains(pattern, regex=True).any() else s


def _unsafe(s: pd.Series) -> pd.Series:
    return s.str.startswith(UNSAFE_START) | s.isin(ERROR_CODES)


def _cell(ws: Any, value: Any, kind: str, styles: _Styles, group: str = "plain", style: Any = None) -> Any:
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


class _Table:
    """One logical table; continues on 「title(2)」, … when a sheet is full."""

    def __init__(self, wb: Workbook, styles: _Styles, title: str, cols: Sequence[_Col],
                 widths: Sequence[float], max_rows: int, *, fx_row: bool) -> None:
        self.wb, self.styles, self.title, self.cols, self.widths = wb, styles, title, cols, widths
        self.header = 2 if fx_row else 1
        self.max_rows = max_rows
        self.sheets: list[Any] = []
        self.counts: list[int] = []

    @property
    def ws(self) -> Any:
        """The sheet the next row goes to (a new one when the current is full)."""
        if not self.sheets or self.counts[-1] + self.header >= self.max_rows:
            self._new_sheet()
        return self.sheets[-1]

    def append(self, row: list[Any]) -> None:
        self.sheets[-1].append(row)
        self.counts[-1] += 1

    def _new_sheet(self) -> None:
        n = len(self.sheets) + 1
        ws = self.wb.create_sheet(self.title if n == 1 else f"{self.title}({n})")
        for i, width in enumerate(self.widths, start=1):
            ws.column_dimensions[get_column_letter(i)].width = width
        ws.freeze_panes = f"A{self.header + 1}"
        ws.print_title_rows = f"1:{self.header}"
        ws.print_options.gridLines = True  # on paper nothing else separates a number from the next text
        _page_setup(ws)
        ws.append([Cell(ws, 1, 1, c.label, self.styles.header) for c in self.cols])
        if self.header == 2:
            ws.append([Cell(ws, 1, 1, c.fx or None, self.styles.fx) for c in self.cols])
        self.sheets.append(ws)
        self.counts.append(0)

    def close(self, band: bool = False) -> None:
        if not self.sheets:
            self._new_sheet()
        last_col = get_column_letter(len(self.cols))
        for ws, count in zip(self.sheets, self.counts, strict=True):
            first, last = self.header + 1, self.header + max(count, 1)
            ws.auto_filter.ref = f"A{self.header}:{last_col}{last}"
            if band and count:
                # Every other slip shaded, by slip number, except rows already red for a problem.
                err = get_column_letter(_ERRORS + 1)
                formula = f'AND(ISEVEN($A{first}),${err}{first}="")'
                rule = FormulaRule(formula=[formula], fill=self.styles.band)
                ws.conditional_formatting.add(f"A{first}:{last_col}{last}", rule)


def _page_setup(ws: Any) -> None:
    """Landscape, one page wide: the workbook is also the month's filed record."""
    ws.page_setup.orientation = "landscape"
    ws.page_setup.paperSize = Worksheet.PAPERSIZE_A4
    ws.page_setup.fitToWidth, ws.page_setup.fitToHeight = 1, 0
    ws.sheet_properties.pageSetUpPr.fitToPage = True


def _width(col: _Col, values: pd.Series) -> float:
    """Column width from the longest values (full-width = 2), sampled, not measured per cell."""
    # FX names sit in a smaller font, so they need about three quarters of their width.
    width = max(int(fx_width(pd.Series([col.label])).max()), int(fx_width(pd.Series([col.fx])).max() * 0.75))
    values = values.dropna()
    if col.kind == "amount" and len(values):
        width = max(width, len(f"{int(values.abs().max()):,}") + 1)
    elif col.kind == "date":
        width = max(width, 10)
    elif len(values):
        text = values.astype(str)
        longest = text[text.str.len().nlargest(50).index]
        width = max(width, int(fx_width(longest).max()))
    return float(min(width + 2, col.cap))


def _write_frame(wb: Workbook, styles: _Styles, title: str, cols: Sequence[_Col], frame: pd.DataFrame,
                 max_rows: int, hot: Sequence[bool] | None = None) -> None:
    widths = [_width(c, frame[c.label]) for c in cols]
    table = _Table(wb, styles, title, cols, widths, max_rows, fx_row=any(c.fx for c in cols))
    kinds = [c.kind for c in cols]
    # Wrapped text only grows its row if the row says how tall it is (Calc and Excel do not refit).
    lines = pd.Series(1, index=frame.index)
    for c, width in zip(cols, widths, strict=True):
        if c.kind == "wrap" and len(frame):
            text = frame[c.label].fillna("").astype(str)
            lines = lines.combine(-(-fx_width(text) // max(int(width) - 2, 1)), max)
    records = frame[[c.label for c in cols]].itertuples(index=False, name=None)
    for i, (values, n_lines) in enumerate(zip(records, lines.tolist(), strict=True)):
        group = "top_hot" if hot is not None and hot[i] else "top"
        ws = table.ws
        if n_lines > 1:
            ws.row_dimensions[table.header + table.counts[-1] + 1].height = 15 * min(n_lines, 20) + 2
        table.append([_cell(ws, v, k, styles, group) for v, k in zip(values, kinds, strict=True)])
    table.close()


# --------------------------------------------------------------------------- 仕訳明細


def _problem_marks(conversion: Conversion) -> pd.Series:
    """Rules of the problems on each detail line's source row (or on its whole document)."""
    lines = conversion.lines
    rules: dict[str, list[str]] = defaultdict(list)
    for p in conversion.problems:
        if p.row is not None:
            rules[f"{p.file}\x1f{p.row}"].append(p.rule)
        if p.document:
            rules[f"\x1e{p.document}"].append(p.rule)
    if not rules:
        return pd.Series("", index=lines.index, dtype=object)
    by_row = (lines["_file"].astype(str) + "\x1f" + lines["_row"].astype(str)).map(rules).tolist()
    by_doc = ("\x1e" + lines["doc"].astype(str)).map(rules).tolist()
    marks = [", ".join(dict.fromkeys((r if isinstance(r, list) else []) + (d if isinstance(d, list) else [])))
             for r, d in zip(by_row, by_doc, strict=True)]
    return pd.Series(marks, index=lines.index, dtype=object)


def slip_values(lines: pd.DataFrame, marks: pd.Series) -> tuple[list[list[Any]], list[bool]]:
    """Column lists of 仕訳明細 for ``lines`` (which carry ``_slip_no``) as written, None = empty cell;
    and per row whether any of its text must be forced to stay text."""
    unsafe = pd.Series(False, index=lines.index)

    def text(s: pd.Series) -> list[Any]:
        nonlocal unsafe
        s = _clean_text(s.astype(str))
        unsafe = unsafe | _unsafe(s)
        return s.where(s != "", None).tolist()

    ln = lines
    account = ln["account"].where(ln["sub_account"] == "", ln["account"] + " / " + ln["sub_account"])
    has_tax = ln["cmtxrate"].notna() | (ln["tax_amount"] != 0)  # a 0 on 対象外 lines is only noise
    rate = (ln["cmtxrate"].astype("Float64") / 100).astype(object)
    columns = [
        ln["_slip_no"].tolist(), ln["journo_read"].tolist(),
        ln["ymd"].dt.date.astype(object).where(ln["ymd"].notna(), None).tolist(),
        text(ln["kind"]), text(ln["doc_no"]), ["借" if s == DEBIT else "貸" for s in ln["side"].tolist()],
        ln["pos_dsp"].tolist(), text(ln["cd_act"]),
        text(ln["account_name"].where(ln["account_name"] != "", account)),
        text(ln["cd_auxact"]), text(ln["cd_dep"]), text(ln["cd_cstm"]),
        text(ln["nm_cstm"].where(ln["nm_cstm"] != "", ln["customer"])), text(ln["tptn"]),
        rate.where(ln["cmtxrate"].notna(), None).tolist(),
        ["軽減" if r == 1 else None for r in ln["is_reduce_cmtxrate"].fillna(0).tolist()],
        ln["amount"].tolist(), ln["tax_amount"].astype(object).where(has_tax, None).tolist(),
        text(ln["rcj_slip"]), text(marks), text(ln["_file"]), ln["_row"].tolist(),
    ]
    return columns, unsafe.tolist()


def slip_lines(conversion: Conversion) -> tuple[pd.DataFrame, pd.Series]:
    """The detail lines numbered by slip (伝票No, in order of appearance) and their problem marks."""
    lines = conversion.lines.assign(_slip_no=pd.factorize(conversion.lines["slip_key"])[0] + 1)
    return lines, _problem_marks(conversion)


def _slip_widths(lines: pd.DataFrame, marks: pd.Series) -> list[float]:
    sample, _ = slip_values(lines.iloc[:CHUNK], marks.iloc[:CHUNK])
    widths = [_width(c, pd.Series(v, dtype=object)) for c, v in zip(SLIP_COLUMNS, sample, strict=True)]
    if len(lines) > CHUNK:  # the longest name or memo may sit anywhere: measure those over all lines
        for label, column in (("科目名", "account"), ("取引先名", "customer"), ("摘要", "rcj_slip"),
                              ("ファイル", "_file")):
            widths[_AT[label]] = max(widths[_AT[label]], _width(SLIP_COLUMNS[_AT[label]], lines[column]))
    return widths


def _write_slips(wb: Workbook, styles: _Styles, conversion: Conversion, max_rows: int) -> None:
    lines, marks = slip_lines(conversion)
    table = _Table(wb, styles, SLIPS, SLIP_COLUMNS, _slip_widths(lines, marks), max_rows, fx_row=True)
    kinds = [c.kind for c in SLIP_COLUMNS]
    date_style, amount_style = styles.get("plain", "date"), styles.get("plain", "amount")
    for start in range(0, len(lines), CHUNK):
        columns, unsafe = slip_values(lines.iloc[start:start + CHUNK], marks.iloc[start:start + CHUNK])
        hot = (marks.iloc[start:start + CHUNK] != "").tolist()
        for values, flag, careful in zip(zip(*columns, strict=True), hot, unsafe, strict=True):
            ws = table.ws
            if flag or careful:
                group = "hot" if flag else "plain"
                row = [_cell(ws, v, k, styles, group) for v, k in zip(values, kinds, strict=True)]
            else:  # the common case, kept lean: only the date and the amounts carry a style
                row = list(values)
                if row[_DATE] is not None:
                    row[_DATE] = Cell(ws, 1, 1, row[_DATE], date_style)
                row[_AMOUNT] = Cell(ws, 1, 1, row[_AMOUNT], amount_style)
                if row[_TAX] is not None:
                    row[_TAX] = Cell(ws, 1, 1, row[_TAX], amount_style)
            table.append(row)
    table.close(band=True)


# --------------------------------------------------------------------------- サマリー


@dataclass(frozen=True)
class _S:
    """A summary value with its own style (a section title, a difference that is not 0 …)."""

    value: Any
    style: str


def _body_details(conversion: Conversion) -> pd.DataFrame:
    """Detail objects of the request bodies as FX reads them (a field left out is FX's default 0)."""
    rows = [(d.get("cd_act", ""), d["is_ocr_dc"], d["amnt_tr"], d.get("amnt_cmtx", 0), d.get("tptn", ""),
             d.get("cmtxrate", 0), d.get("is_reduce_cmtxrate", 0))
            for request in conversion.requests for slip in request.body["slips"] for d in slip["detail"]]
    return pd.DataFrame(rows, columns=list(_DETAIL)).astype(_DETAIL)


_DETAIL: dict[str, Any] = {"cd_act": object, "side": "int64", "amount": "int64", "tax_amount": "int64",
                           "tptn": object, "cmtxrate": "int64", "is_reduce": "int64"}


def _source_details(lines: pd.DataFrame) -> pd.DataFrame:
    """The same columns from the detail lines, plus the source names behind the codes."""
    frame = lines[["cd_act", "side", "amount", "tax_amount", "tptn", "account", "tax"]].assign(
        cmtxrate=lines["cmtxrate"].fillna(0), is_reduce=lines["is_reduce_cmtxrate"].fillna(0))
    return frame.astype(_DETAIL)


def _names(src: pd.DataFrame, keys: list[str], column: str) -> dict[tuple[Any, ...], str]:
    named = src[src[column] != ""]
    groups = named.groupby(keys)[column]
    return {k if isinstance(k, tuple) else (k,): "・".join(dict.fromkeys(v)) for k, v in groups}


def _compare(
    src: pd.DataFrame, body: pd.DataFrame | None, keys: list[str], values: list[str]
) -> pd.DataFrame:
    """Source vs body totals per key: ``<v>``, ``<v>_body`` (NA without bodies), ``<v>_diff``."""
    def totals(frame: pd.DataFrame) -> pd.DataFrame:
        frame = frame.assign(debit=frame["amount"].where(frame["side"] == DEBIT, 0),
                             credit=frame["amount"].where(frame["side"] != DEBIT, 0))
        return frame.groupby(keys)[values].sum()

    out = totals(src)
    if body is None:
        for v in values:
            out[f"{v}_body"] = pd.NA
            out[f"{v}_diff"] = pd.NA
        return out.reset_index()
    out = out.join(totals(body).add_suffix("_body"), how="outer").fillna(0).astype("int64")
    for v in values:
        out[f"{v}_diff"] = out[v] - out[f"{v}_body"]
    return out.reset_index()


def _write_summary(wb: Workbook, styles: _Styles, conv: Conversion, body: pd.DataFrame | None,
                   slip_sheets: int) -> None:
    """Column A holds labels and codes, B names, C onwards numbers, so every section lines up."""
    s = conv.summary()
    src = _source_details(conv.lines)
    accounts = _compare(src, body, ["cd_act"], ["debit", "credit"])
    taxes = _compare(src, body, ["tptn", "cmtxrate", "is_reduce", "side"], ["amount", "tax_amount"])
    diffs = [accounts[["debit_diff", "credit_diff"]], taxes[["amount_diff", "tax_amount_diff"]]]
    mismatch = body is not None and any(bool((d.fillna(0) != 0).any().any()) for d in diffs)
    rows: list[list[Any]] = []

    def add(*values: Any) -> None:
        rows.append(list(values))

    def section(title: str, *header: str) -> None:
        add()
        add(_S(title, "section"))
        add(*(_S(h, "header") for h in header))

    def diff(value: int) -> Any:
        return _S(value, "wrong") if value != 0 else value

    if conv.problems:
        status = f"エラー {len(conv.problems)} 件 — 送信できません"
        why = ("「エラー」シートの内容を直して、もう一度 preview してください。エラーがある間は送信内容 "
               "(request body) を作らないため、合計の「送信」欄は — です。")
    elif mismatch:
        status = "合計不一致 — 送信しないでください"
        why = "明細と送信内容の合計が合いません。変換ツールの不具合です。"
    elif not len(conv.lines):
        status, why = "送信する仕訳がありません", f"すべての帳票が対象外です (「{SKIPPED}」シート)。"
    else:
        status = "送信可能"
        why = (f"仕訳 {s['slips']:,} 件 (明細 {s['detail_lines']:,} 行) を {s['requests']} 回に分けて"
               "送信します。下の合計の差額がすべて 0 であることを確認してください。")
    banner = "ng" if conv.problems or mismatch else "ok"
    add(_S(status, banner), *(_S(None, banner) for _ in range(5)))
    add(_S(why, "note"))
    add(_S(f"会社 {conv.settings.ocode} ・ マッピング {conv.mappings.folder} ・ "
           f"プロファイル {conv.profile.name}", "note"))

    section("入力ファイル", "ファイル", "文字コード", "プロファイル", "シート", "行数")
    for f in conv.files:
        add(f.path, f.encoding, f.profile, f.sheet or None, f.rows)

    more = f" ほか {slip_sheets - 1} シート" if slip_sheets > 1 else ""
    section("件数", "項目", "件数", "補足")
    for label, count, note in (
        ("帳票", s["documents"], "取引種別 + 帳票番号 + 取引日 ごと"),
        ("仕訳 (伝票)", s["slips"], "片側 60 行を超える帳票は分割"),
        ("明細行", s["detail_lines"], f"「{SLIPS}」シート{more}"),
        ("送信回数", s["requests"] if conv.ok else "—",
         "1 回 2,000 明細まで" if conv.ok else "エラーがあるため送信内容を作っていません"),
        ("スキップ", s["skipped"], f"うち 0円の帳票 {s['skipped_zero_yen']} 件 (「{SKIPPED}」シート)"),
        ("エラー", s["problems"], f"「{PROBLEMS}」シート"),
        ("お知らせ", len(conv.notices), f"エラーではありません (「{PROBLEMS}」シート)"),
        ("未設定マッピング", len(conv.unmapped), f"「{UNMAPPED}」シート"),
    ):
        add(label, _S(count, "dash") if count == "—" else count, _S(note, "note"))
    if slip_sheets > 1:
        add(_S(f"明細が 1 シートの上限を超えるため「{SLIPS}」〜「{SLIPS}({slip_sheets})」の {slip_sheets} "
               "シートに分けています。", "note"))

    docs = conv.documents
    if len(docs):
        title = "送信単位" + ("" if conv.ok else " (予定)")
        section(title, "回", "連携番号 (journo_read)", "帳票", "伝票", "明細")
        plan = docs.groupby("request", as_index=False).agg(
            docs=("doc", "size"), slips=("slips", "sum"), lines=("lines", "sum"),
            first=("journo_read", "min"), last=("journo_read", "max"))
        for q in plan.to_dict("records"):
            counts = (int(q[k]) for k in ("docs", "slips", "lines"))
            add(f"{q['request']} 回目", f"{q['first']} 〜 {q['last']}", *counts)

    debit, credit = s["debit_total"], s["credit_total"]
    section("貸借合計", "", "判定", "借方", "貸方", "差額")
    verdict = "一致" if debit == credit else _S("不一致", "wrong")
    add("明細 (変換結果)", verdict, debit, credit, diff(debit - credit))
    if body is None:
        add("送信 (request body)", _S("エラーのため未作成", "note"), *(_S("—", "dash") for _ in range(3)))
    else:
        b_debit, b_credit = int(accounts["debit_body"].sum()), int(accounts["credit_body"].sum())
        same = b_debit == b_credit == debit
        add("送信 (request body)", "一致" if same else _S("不一致", "wrong"), b_debit, b_credit,
            diff(b_debit - b_credit))
    add(_S("明細 = 変換した明細行の合計、送信 = 送信内容 (request body) の amnt_tr / amnt_cmtx を"
           "数え直した合計。差額はすべて 0 のはずです。", "note"))

    account_names = dict(zip(conv.mappings.accounts["cd_act"], conv.mappings.accounts["name"], strict=True))
    source_names = _names(src, ["cd_act"], "account")
    section("勘定科目別 合計", "科目 (cd_act)", "科目名", "借方 明細", "借方 送信", "借方 差額",
            "貸方 明細", "貸方 送信", "貸方 差額")
    for a in accounts.to_dict("records"):
        name = account_names.get(a["cd_act"]) or source_names.get((a["cd_act"],), "")
        add(a["cd_act"] or "(未設定)", name, *_triple(a, "debit", diff), *_triple(a, "credit", diff))

    tax_names = _names(src, ["tptn", "cmtxrate", "is_reduce", "side"], "tax")
    section("税区分別 合計", "課税区分 (tptn)", "税区分", "税率%", "軽減", "貸借", "金額 明細", "金額 送信",
            "金額 差額", "税額 明細", "税額 送信", "税額 差額")
    for t in taxes.to_dict("records"):
        key = (t["tptn"], t["cmtxrate"], t["is_reduce"], t["side"])
        add(t["tptn"] or "(なし)", tax_names.get(key, ""), t["cmtxrate"] / 100 if t["cmtxrate"] else None,
            "軽減" if t["is_reduce"] else None, "借" if t["side"] == DEBIT else "貸",
            *_triple(t, "amount", diff), *_triple(t, "tax_amount", diff))
    _write_rows(wb, styles, rows)


def _triple(totals: dict[Any, Any], name: str, diff: Any) -> tuple[Any, Any, Any]:
    """明細 / 送信 / 差額 of one total ("—" when there are no bodies to compare with)."""
    if pd.isna(totals[f"{name}_body"]):
        return int(totals[name]), _S("—", "dash"), _S("—", "dash")
    return int(totals[name]), int(totals[f"{name}_body"]), diff(int(totals[f"{name}_diff"]))


_RUN_ON = {"section", "note", "ok", "ng"}


def _write_rows(wb: Workbook, styles: _Styles, rows: list[list[Any]]) -> None:
    ws = wb.create_sheet(SUMMARY)
    for i in range(max(len(values) for values in rows)):
        # Titles and notes run on into the empty cells to their right, so only data sets widths.
        shown = [_shown(v[i]) for v in rows
                 if i < len(v) and not (isinstance(v[i], _S) and v[i].style in _RUN_ON)]
        width = int(fx_width(pd.Series(shown, dtype=object)).max()) if shown else 8
        ws.column_dimensions[get_column_letter(i + 1)].width = min(max(width + 2, 10), 50)
    ws.freeze_panes = "A2"  # the status line stays in view
    _page_setup(ws)
    named = {"section": styles.section, "header": styles.header, "ok": styles.ok, "ng": styles.ng,
             "wrong": styles.wrong, "note": styles.note, "dash": styles.dash}
    for values in rows:
        cells = []
        for v in values:
            if isinstance(v, _S):
                cells.append(_cell(ws, v.value, "text", styles, style=named[v.style]))
            else:
                cells.append(_cell(ws, v, "amount" if isinstance(v, int) else "text", styles))
        ws.append(cells)


def _shown(value: Any) -> str:
    value = value.value if isinstance(value, _S) else value
    if value is None:
        return ""
    return f"{value:,}" if isinstance(value, int) else str(value)


# --------------------------------------------------------------------------- other sheets


def _frame(cols: Sequence[_Col], rows: list[tuple[Any, ...]]) -> tuple[list[_Col], pd.DataFrame]:
    return list(cols), pd.DataFrame(rows, columns=[c.label for c in cols], dtype=object)


def _doc_no(key: str) -> str:
    parts = key.split("|")
    return parts[1] if len(parts) > 1 else key


def _problems_frame(conv: Conversion) -> tuple[list[_Col], pd.DataFrame]:
    cols = (_Col("種別"), _Col("ファイル", cap=40), _Col("行", kind="number"), _Col("列", cap=24),
            _Col("値", cap=30), _Col("ルール"), _Col("帳票番号"), _Col("内容・対処", kind="wrap", cap=80))
    found = [("エラー", p) for p in conv.problems] + [("お知らせ", p) for p in conv.notices]
    found.sort(key=lambda kp: (kp[0] != "エラー", kp[1].file, kp[1].row or 0))
    return _frame(cols, [(k, p.file, p.row, p.column, p.value, p.rule, _doc_no(p.document), p.message)
                         for k, p in found])


def _unmapped_frame(conv: Conversion) -> tuple[list[_Col], pd.DataFrame]:
    cols = (_Col("対象"), _Col("元の値", cap=40), _Col("追加先ファイル", cap=40),
            _Col("YAML に追加する行 (コードを埋める)", cap=90), _Col("行番号 (最初の 10 件)", cap=50),
            _Col("行数", kind="number"))
    rows = []
    for u in conv.unmapped:
        by_file: dict[str, list[str]] = defaultdict(list)
        for file, row in u.rows[:10]:
            by_file[file].append(str(row))
        where = ", ".join(by_file[next(iter(by_file))]) if len(by_file) == 1 else \
            "; ".join(f"{Path(f).name}: {', '.join(r)}" for f, r in by_file.items())
        rows.append((_TABLE_LABEL.get(u.table, u.table), u.value, u.file, u.entry,
                     where + (" …" if u.count > 10 else ""), u.count))
    return _frame(cols, rows)


def _skipped_frame(conv: Conversion) -> tuple[list[_Col], pd.DataFrame]:
    cols = (_Col("取引種別"), _Col("帳票番号"), _Col("取引日", kind="date"), _Col("理由", cap=50),
            _Col("金額", kind="amount"), _Col("ファイル", cap=40), _Col("行", cap=30))
    sk = conv.skipped
    return _frame(cols, list(zip(sk["kind"], sk["doc_no"], map(_date, sk["date"]), sk["reason"],
                                 sk["amount"].astype(int), sk["file"], sk["rows"], strict=True)))


def _corrections_frame(rows: Sequence[tuple[str, str, str]]) -> tuple[list[_Col], pd.DataFrame]:
    cols = (_Col("区分"), _Col("取引種別"), _Col("帳票番号"), _Col("取引日", kind="date"),
            _Col("対応", kind="wrap", cap=80))
    out = []
    for category, key, action in rows:
        parts = ([*key.split("|"), "", "", ""])[:3]
        out.append((category, parts[0], parts[1], _date(parts[2]), action))
    return _frame(cols, out)


def _responses_frame(responses: Sequence[FXMessage]) -> tuple[list[_Col], pd.DataFrame]:
    cols = (_Col("種別"), _Col("連携番号", "journo_read", "number"), _Col("帳票番号"),
            _Col("取引日", kind="date"), _Col("伝票", "groupno", "number"), _Col("明細", "lineno", "number"),
            _Col("貸借", "is_ocr_dc"), _Col("ファイル", cap=40), _Col("行", kind="number"),
            _Col("内容", kind="wrap", cap=80))
    rows = []
    for r in responses:
        parts = r.doc.split("|")
        side = {1: "借", 0: "貸"}.get(r.is_ocr_dc) if r.is_ocr_dc is not None else None
        day = _date(parts[2]) if len(parts) > 2 else None
        rows.append(("エラー" if r.kind == "error" else "みなし", r.journo_read or None, r.doc_no, day,
                     r.groupno, r.lineno, side, r.file or None, r.row, r.content))
    return _frame(cols, rows)


def _date(text: str) -> Any:
    """An ISO date as a real date (Excel sorts and filters it), or the text when it is not one."""
    try:
        return pd.Timestamp(text).date()
    except ValueError:
        return text or None
