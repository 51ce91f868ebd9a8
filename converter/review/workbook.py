"""Review workbook: the accountant's dry-run spreadsheet, and the record filed with the month.

Sheets: サマリー (status, counts, totals cross-checked against the request bodies), 仕訳明細 (one
row per detail line, then the 借方 / 貸方 totals), エラー, お知らせ (findings that do not stop an
upload, and the rules left unchecked), 未設定マッピング, スキップ and, after an upload, FX応答.

Written in openpyxl's write-only mode so rows stream to disk. Every styled cell points at one of a
few style arrays made once per workbook, so memory does not grow with per-cell styles. Slips are
banded by a conditional format on the slip number instead of a fill per cell: styling every cell
costs about as much as writing it, and the band would double the time of a 100k-line workbook.

サマリー is written by :mod:`converter.review.summary`; the sheet names, styles and cell writing both
modules share live in :mod:`converter.review.styles`.
"""

from __future__ import annotations

import contextlib
import math
import zipfile
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, BinaryIO

import pandas as pd
from openpyxl import Workbook
from openpyxl.cell.cell import ERROR_CODES, ILLEGAL_CHARACTERS_RE, Cell
from openpyxl.formatting.rule import FormulaRule
from openpyxl.utils import get_column_letter
from openpyxl.writer.excel import ExcelWriter

from converter import keys
from converter.convert.pipeline import Conversion
from converter.convert.validate import fx_width
from converter.errors import ConverterError, Problem
from converter.fx.answers import FXMessage, RequestAnswer
from converter.fx_rules import DEBIT
from converter.keys import parse
from converter.ledger.unresolved import Unresolved
from converter.messages import TABLE_LABELS
from converter.outputs import replace_atomically
from converter.review.after_upload import (
    HOT_KINDS,
    RESPONSE_COLUMNS,
    UNRESOLVED_COLUMNS,
    Column,
    response_rows,
    unresolved_rows,
)
from converter.review.styles import (
    CORRECTIONS,
    NOTICES,
    PROBLEMS,
    RESPONSES,
    SKIPPED,
    SLIPS,
    SUMMARY,
    UNMAPPED,
    UNRESOLVED,
    UNSAFE_START,
    Styles,
    as_cell,
    page_setup,
)
from converter.review.summary import body_details, write_summary

EXCEL_MAX_ROWS = 1_048_576
CHUNK = 50_000  # detail lines turned into Python values at a time (bounds memory, not speed)
#: Told each step of the write: (sheet, rows written, rows) as a sheet starts — and on 仕訳明細
#: after every CHUNK rows — then (SAVING, 0, 0): zipping the sheets into the file, the longest step
#: of a big workbook. The CLI decides what to show.
WriteProgress = Callable[[str, int, int], None]
SAVING = "ファイルへ保存"


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


def write_review(
    conversion: Conversion,
    path: Path,
    *,
    responses: Sequence[FXMessage] | None = None,
    corrections: Sequence[tuple[str, str, str]] | None = None,
    max_rows_per_sheet: int = EXCEL_MAX_ROWS,
    answers: Sequence[RequestAnswer] | None = None,
    unresolved: Sequence[Unresolved] | None = None,
    progress: WriteProgress | None = None,
) -> Path:
    """Write the review workbook to ``path`` (user-only permissions) and return the path.

    ``corrections``: (区分, document key, what to do) for documents changed or deleted after
    upload (訂正 sheet); ``responses``: FX's messages after an upload and ``answers`` its answer to
    each request (FX応答 sheet); ``unresolved``: the 要確認 documents (要確認 sheet, when any);
    ``progress``: told each sheet as it is started (:data:`WriteProgress`), and :data:`SAVING` last."""
    if not 3 <= max_rows_per_sheet <= EXCEL_MAX_ROWS:
        raise ValueError(f"max_rows_per_sheet must be 3 … {EXCEL_MAX_ROWS}")
    path = Path(path)
    try:  # before any sheet exists: a failure here leaves no half-built workbook behind
        path.parent.mkdir(parents=True, exist_ok=True)
    except OSError as err:
        raise ConverterError(f"確認用ブックの保存先フォルダを作れません ({err.strerror})", file=str(path)) from None
    # One writer for every private file: a temp file beside the target (0600 from the start) renamed
    # over it, so a half-written workbook never sits under the real name and a failed write leaves
    # the old workbook as it was. The temp file is made first: a folder that cannot be written is
    # found before any sheet is built (a built, unsaved workbook leaves openpyxl's temp files behind).
    tell = progress or (lambda _sheet, _done, _total: None)
    wb = Workbook(write_only=True)
    try:
        with replace_atomically(path) as handle:
            _fill(wb, conversion, responses, corrections, max_rows_per_sheet, tell, answers, unresolved)
            tell(SAVING, 0, 0)
            _save(wb, handle)
    except OSError as err:
        raise ConverterError(f"確認用ブックを書き出せません ({err.strerror or err})。"
                             "保存先のフォルダに書き込めるか、空き容量を確認してください", file=str(path)) from None
    return path


def _save(wb: Workbook, handle: BinaryIO) -> None:
    """``wb.save(handle)``, but a failure (a full disk) leaves nothing of openpyxl's half open.

    openpyxl leaves its zip archive and each unwritten sheet's row stream open when a write
    fails; they are closed later by the garbage collector, against a file that is closed by then,
    and Python prints "Exception ignored … I/O operation on closed file" for each, after our
    message. Here they are closed at once, in order (rows, then the sheet's file, then the zip)."""
    archive = zipfile.ZipFile(handle, "w", zipfile.ZIP_DEFLATED, allowZip64=True)
    try:
        ExcelWriter(wb, archive).save()
    except BaseException:
        _discard(wb, archive)
        raise


def _discard(wb: Workbook, archive: zipfile.ZipFile | None = None) -> None:
    """Close what a failed write left open, quietly: the error that stopped it is the one to report."""
    for ws in wb._sheets:
        for stream in (getattr(ws, "_rows", None), getattr(getattr(ws, "_writer", None), "xf", None)):
            if stream is not None:
                with contextlib.suppress(Exception):
                    stream.close()
        writer = getattr(ws, "_writer", None)
        if writer is not None:
            with contextlib.suppress(Exception):
                writer.cleanup()  # the sheet's temporary file (else removed only at exit)
    if archive is not None:
        with contextlib.suppress(Exception):
            archive.close()
        archive.fp = None  # closed or not, never written again (its __del__ would try)


def _fill(wb: Workbook, conversion: Conversion, responses: Sequence[FXMessage] | None,
          corrections: Sequence[tuple[str, str, str]] | None, max_rows_per_sheet: int,
          tell: WriteProgress, answers: Sequence[RequestAnswer] | None = None,
          unresolved: Sequence[Unresolved] | None = None) -> None:
    try:
        _workbook(wb, conversion, responses, corrections, max_rows_per_sheet, tell, answers, unresolved)
    except BaseException:
        _discard(wb)
        raise


def _workbook(wb: Workbook, conversion: Conversion, responses: Sequence[FXMessage] | None,
              corrections: Sequence[tuple[str, str, str]] | None, max_rows_per_sheet: int,
              tell: WriteProgress, answers: Sequence[RequestAnswer] | None = None,
              unresolved: Sequence[Unresolved] | None = None) -> None:
    styles = Styles(wb)
    lines = conversion.lines
    slip_sheets = max(1, math.ceil(len(lines) / (max_rows_per_sheet - 2)))
    body = body_details(conversion) if conversion.ok else None
    tell(SUMMARY, 0, 0)
    write_summary(wb, styles, conversion, body, slip_sheets)
    _write_slips(wb, styles, conversion, max_rows_per_sheet, tell)
    for title, (cols, frame) in ((PROBLEMS, _problems_frame(conversion)),
                                 (NOTICES, _notices_frame(conversion)), (UNMAPPED, _unmapped_frame(conversion)),
                                 (SKIPPED, _skipped_frame(conversion))):
        tell(title, 0, len(frame))
        _write_frame(wb, styles, title, cols, frame, max_rows_per_sheet)
    # A key names the 取引日 only where the profile keeps it in a document's identity (keys.py).
    day = _days(conversion) if corrections or responses else {}
    if corrections:
        cols, frame = _corrections_frame(corrections, day)
        tell(CORRECTIONS, 0, len(frame))
        _write_frame(wb, styles, CORRECTIONS, cols, frame, max_rows_per_sheet,
                     (frame["区分"] != "訂正済み").tolist())
    if unresolved:
        cols, frame = _frame(_cols(UNRESOLVED_COLUMNS), unresolved_rows(unresolved))
        tell(UNRESOLVED, 0, len(frame))
        _write_frame(wb, styles, UNRESOLVED, cols, frame, max_rows_per_sheet)
    if responses is not None or answers is not None:
        cols, frame = _frame(_cols(RESPONSE_COLUMNS), response_rows(responses or (), answers, day))
        hot = frame["種別"].astype(str).str.startswith(HOT_KINDS).tolist()
        tell(RESPONSES, 0, len(frame))
        _write_frame(wb, styles, RESPONSES, cols, frame, max_rows_per_sheet, hot)


def _cols(spec: Sequence[Column]) -> list[_Col]:
    return [_Col(*c) for c in spec]


# --------------------------------------------------------------------------- cells


def _clean_text(s: pd.Series) -> pd.Series:
    """Drop the control characters XML cannot hold (openpyxl would refuse the whole cell)."""
    pattern = ILLEGAL_CHARACTERS_RE.pattern
    return s.str.replace(pattern, "", regex=True) if s.str.contains(pattern, regex=True).any() else s


def _unsafe(s: pd.Series) -> pd.Series:
    return s.str.startswith(UNSAFE_START) | s.isin(ERROR_CODES)




class _Table:
    """One logical table; continues on 「title(2)」, … when a sheet is full."""

    def __init__(self, wb: Workbook, styles: Styles, title: str, cols: Sequence[_Col],
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
        page_setup(ws)
        ws.append([Cell(ws, 1, 1, c.label, self.styles.header) for c in self.cols])
        if self.header == 2:
            ws.append([Cell(ws, 1, 1, c.fx or None, self.styles.fx) for c in self.cols])
        self.sheets.append(ws)
        self.counts.append(0)

    def footer(self, rows: list[list[Any]]) -> None:
        """Rows after a blank one, below the table (outside its filter): totals."""
        if not self.sheets or self.counts[-1] + self.header + len(rows) + 1 >= self.max_rows:
            self._new_sheet()
        self.sheets[-1].append([])
        for row in rows:
            self.sheets[-1].append(row)

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


def _write_frame(wb: Workbook, styles: Styles, title: str, cols: Sequence[_Col], frame: pd.DataFrame,
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
        table.append([as_cell(ws, v, k, styles, group) for v, k in zip(values, kinds, strict=True)])
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


def _write_slips(wb: Workbook, styles: Styles, conversion: Conversion, max_rows: int,
                 tell: WriteProgress) -> None:
    lines, marks = slip_lines(conversion)
    tell(SLIPS, 0, len(lines))
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
                row = [as_cell(ws, v, k, styles, group) for v, k in zip(values, kinds, strict=True)]
            else:  # the common case, kept lean: only the date and the amounts carry a style
                row = list(values)
                if row[_DATE] is not None:
                    row[_DATE] = Cell(ws, 1, 1, row[_DATE], date_style)
                row[_AMOUNT] = Cell(ws, 1, 1, row[_AMOUNT], amount_style)
                if row[_TAX] is not None:
                    row[_TAX] = Cell(ws, 1, 1, row[_TAX], amount_style)
            table.append(row)
        tell(SLIPS, min(start + CHUNK, len(lines)), len(lines))
    table.footer(_slip_totals(lines, table.ws, styles))
    table.close(band=True)


#: What the first cell of each totals row of 仕訳明細 says (below the lines, outside the filter).
TOTAL_LABEL = "合計"


def _slip_totals(lines: pd.DataFrame, ws: Any, styles: Styles) -> list[list[Any]]:
    """借方 and 貸方 totals of 金額 and 消費税額 over every detail line (of all 仕訳明細 sheets)."""
    out = []
    debit = lines["side"] == DEBIT
    for side, name, mask in (("借", "借方", debit), ("貸", "貸方", ~debit)):
        row: list[Any] = [None] * len(SLIP_COLUMNS)
        row[0] = Cell(ws, 1, 1, TOTAL_LABEL, styles.header)
        row[_AT["貸借"]] = Cell(ws, 1, 1, side, styles.header)
        row[_AT["科目名"]] = Cell(ws, 1, 1, f"{name} {int(mask.sum()):,} 行", styles.header)
        row[_AMOUNT] = Cell(ws, 1, 1, int(lines.loc[mask, "amount"].sum()), styles.get("plain", "amount"))
        row[_TAX] = Cell(ws, 1, 1, int(lines.loc[mask, "tax_amount"].fillna(0).sum()), styles.get("plain", "amount"))
        out.append(row)
    return out


# --------------------------------------------------------------------------- other sheets


def _frame(cols: Sequence[_Col], rows: list[tuple[Any, ...]]) -> tuple[list[_Col], pd.DataFrame]:
    return list(cols), pd.DataFrame(rows, columns=[c.label for c in cols], dtype=object)


_PROBLEM_COLUMNS = (_Col("種別"), _Col("ファイル", cap=40), _Col("行", kind="number"), _Col("列", cap=24),
                    _Col("値", cap=30), _Col("ルール"), _Col("帳票番号"), _Col("内容・対処", kind="wrap", cap=80))


def _problems_frame(conv: Conversion) -> tuple[list[_Col], pd.DataFrame]:
    """The エラー sheet: every problem, in file and row order."""
    found = sorted(conv.problems, key=lambda p: (p.file, p.row or 0))
    return _findings_frame(conv, [("エラー", p) for p in found])


def _notices_frame(conv: Conversion) -> tuple[list[_Col], pd.DataFrame]:
    """The お知らせ sheet: findings that do not stop an upload, and what was left unchecked."""
    found = [("お知らせ", p) for p in sorted(conv.notices, key=lambda p: (p.file, p.row or 0))]
    if conv.unchecked is not None:  # rules left unchecked without the FX master cache, said once, last
        found.append(("未確認", conv.unchecked))
    return _findings_frame(conv, found)


def _findings_frame(conv: Conversion, found: list[tuple[str, Problem]]) -> tuple[list[_Col], pd.DataFrame]:
    """Rows of the エラー / お知らせ sheets. 帳票番号 is the problem's document, else the one on its
    source row (a row-level problem names no document, but the row belongs to one)."""
    cols, frame = _frame(_PROBLEM_COLUMNS, [(k, p.file, p.row, p.column, p.value, p.rule, keys.doc_no(p.document),
                                             p.message) for k, p in found])
    if len(frame) and len(conv.lines):
        rows = conv.lines[["_file", "_row", "doc_no"]].drop_duplicates(["_file", "_row"])
        sk = conv.skipped
        if len(sk):
            first = sk["rows"].astype(str).str.split(",").str[0].astype("int64")
            skipped_rows = pd.DataFrame({"_file": sk["file"], "_row": first, "doc_no": sk["doc_no"]})
            rows = pd.concat([rows, skipped_rows]).drop_duplicates(["_file", "_row"])
        where = pd.MultiIndex.from_frame(frame[["ファイル", "行"]].astype({"行": "float64"}).fillna(-1)
                                         .astype({"行": "int64"}))
        known = pd.Series(rows["doc_no"].to_numpy(),
                          index=pd.MultiIndex.from_arrays([rows["_file"].astype(str), rows["_row"].astype("int64")]))
        found_no = pd.Series(known.reindex(where).to_numpy(), index=frame.index)
        empty = frame["帳票番号"].isna() | (frame["帳票番号"] == "")
        frame["帳票番号"] = frame["帳票番号"].where(~empty, found_no.where(found_no.notna(), None))
    return cols, frame


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
        rows.append((TABLE_LABELS.get(u.table, u.table), u.value, u.file, u.entry,
                     where + (" …" if u.count > 10 else ""), u.count))
    return _frame(cols, rows)


def _skipped_frame(conv: Conversion) -> tuple[list[_Col], pd.DataFrame]:
    """行 is the document's first row, a number (Excel sorts and filters it); すべての行 lists them all."""
    cols = (_Col("取引種別"), _Col("帳票番号"), _Col("取引日", kind="date"), _Col("理由", cap=50),
            _Col("金額", kind="amount"), _Col("ファイル", cap=40), _Col("行", kind="number"),
            _Col("すべての行", cap=30))
    sk = conv.skipped
    first = [int(r.split(",")[0]) for r in sk["rows"].astype(str)] if len(sk) else []
    return _frame(cols, list(zip(sk["kind"], sk["doc_no"], map(_date, sk["date"]), sk["reason"],
                                 sk["amount"].astype(int), sk["file"], first, sk["rows"], strict=True)))


def _days(conversion: Conversion) -> dict[str, str]:
    """Each document's 取引日 in the export, by key."""
    docs = conversion.documents
    return dict(zip(docs["doc"].tolist(), docs["date"].tolist(), strict=True)) if len(docs) else {}


def _corrections_frame(rows: Sequence[tuple[str, str, str]], day: dict[str, str]) -> tuple[list[_Col], pd.DataFrame]:
    cols = (_Col("区分"), _Col("取引種別"), _Col("帳票番号"), _Col("取引日", kind="date"),
            _Col("対応", kind="wrap", cap=80))
    out = []
    for category, key, action in rows:
        parts = parse(key)
        out.append((category, parts.kind, parts.doc_no, _date(day.get(key, parts.ymd)), action))
    return _frame(cols, out)


def _date(text: str) -> Any:
    """An ISO date as a real date (Excel sorts and filters it), or the text when it is not one."""
    if not text:
        return None
    try:
        return pd.Timestamp(text).date()
    except ValueError:
        return text or None
