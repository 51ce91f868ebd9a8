"""Review workbook: written from real samples, reopened with openpyxl and checked like a reviewer would."""

from __future__ import annotations

import math
import zipfile
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
from conftest import MAPPINGS, SAMPLES, sale
from openpyxl import load_workbook
from openpyxl.worksheet.worksheet import Worksheet

from converter.convert.pipeline import Conversion, convert
from converter.fx.answers import FXMessage, MessageKind
from converter.review.workbook import SLIP_COLUMNS, TOTAL_LABEL, write_review

SHEETS = ["サマリー", "仕訳明細", "エラー", "お知らせ", "未設定マッピング", "スキップ"]
COL = {c.label: i + 1 for i, c in enumerate(SLIP_COLUMNS)}  # 1-based column of each 仕訳明細 field
RED = "FDE2E1"


@pytest.fixture(scope="module")
def good() -> Conversion:
    return convert([SAMPLES / "jobcan-2026-10.csv"], MAPPINGS)


@pytest.fixture(scope="module")
def broken() -> Conversion:
    return convert([SAMPLES / "broken-2026-10.csv"], MAPPINGS)


@pytest.fixture(scope="module")
def good_path(good: Conversion, tmp_path_factory: pytest.TempPathFactory) -> Path:
    return write_review(good, tmp_path_factory.mktemp("good") / "review.xlsx")


@pytest.fixture(scope="module")
def good_wb(good_path: Path) -> Any:
    return load_workbook(good_path)


@pytest.fixture(scope="module")
def broken_wb(broken: Conversion, tmp_path_factory: pytest.TempPathFactory) -> Any:
    return load_workbook(write_review(broken, tmp_path_factory.mktemp("broken") / "review.xlsx"))


def data_rows(ws: Worksheet, header_rows: int) -> list[tuple[Any, ...]]:
    """The table's rows: not blank, not the totals below 仕訳明細."""
    rows = ws.iter_rows(min_row=header_rows + 1, values_only=True)
    return [row for row in rows if any(v is not None for v in row) and row[0] != TOTAL_LABEL]


def section(ws: Worksheet, title: str) -> tuple[list[Any], list[tuple[Any, ...]]]:
    """(header, data rows) of a summary section: title row, header row, rows up to a blank one."""
    rows = list(ws.iter_rows(values_only=True))
    start = next(i for i, r in enumerate(rows) if r[0] == title)
    body = []
    for r in rows[start + 2:]:
        if all(v is None for v in r):
            break
        body.append(r)
    return list(rows[start + 1]), body


def body_details(conv: Conversion) -> list[dict[str, Any]]:
    return [d for r in conv.requests for s in r.body["slips"] for d in s["detail"]]


# --------------------------------------------------------------------------- layout


def test_sheet_names_and_headers(good_wb: Any) -> None:
    assert good_wb.sheetnames == SHEETS
    slips = good_wb["仕訳明細"]
    assert [c.value for c in slips[1]] == [c.label for c in SLIP_COLUMNS]
    fx_row = [c.value for c in slips[2]]
    for name in ("journo_read", "ymd_tr", "is_ocr_dc", "pos_dsp", "cd_act", "amnt_tr", "rcj_slip"):
        assert name in fx_row
    assert [c.value for c in good_wb["エラー"][1]][:3] == ["種別", "ファイル", "行"]


def test_frozen_headers_and_filters(good_wb: Any) -> None:
    assert good_wb["サマリー"].freeze_panes == "A2"
    assert good_wb["仕訳明細"].freeze_panes == "A3"
    assert good_wb["仕訳明細"].auto_filter.ref == f"A2:V{2 + 973}"
    for name in SHEETS[2:]:
        assert good_wb[name].freeze_panes == "A2"
        assert good_wb[name].auto_filter.ref.startswith("A1:")


def test_file_is_private(good_path: Path) -> None:
    assert good_path.stat().st_mode & 0o777 == 0o600


# --------------------------------------------------------------------------- 仕訳明細


def test_slip_rows_are_the_body_detail_lines(good: Conversion, good_wb: Any) -> None:
    rows = data_rows(good_wb["仕訳明細"], 2)
    details = body_details(good)
    assert len(rows) == len(details) == len(good.lines) == 973
    assert [r[COL["金額"] - 1] for r in rows] == [d["amnt_tr"] for d in details]
    assert [r[COL["行"] - 1] for r in rows] == [d["pos_dsp"] for d in details]
    assert {r[COL["伝票No"] - 1] for r in rows} == set(range(1, 361))  # 360 slips


def test_number_formats_dates_and_codes(good_wb: Any) -> None:
    ws = good_wb["仕訳明細"]
    row = next(r for r in ws.iter_rows(min_row=3) if r[COL["部門"] - 1].value)
    amount, tax = row[COL["金額"] - 1], row[COL["消費税額"] - 1]
    assert isinstance(amount.value, int) and amount.number_format == "#,##0"
    assert isinstance(tax.value, int) and tax.number_format == "#,##0"
    day = row[COL["取引日"] - 1]
    assert isinstance(day.value, datetime) and day.number_format == "yyyy/mm/dd"
    for name, digits in (("科目", 4), ("部門", 3), ("取引先", 6)):
        code = row[COL[name] - 1]
        assert code.data_type == "s" and len(code.value) == digits  # leading zeros kept ("002", "000017")


def test_slips_are_banded_per_slip(good_wb: Any) -> None:
    rules = [r for cf in good_wb["仕訳明細"].conditional_formatting for r in cf.rules]
    assert any("ISEVEN($A3)" in f for r in rules for f in r.formula)


def test_formula_like_text_stays_text(good_path: Path, good_wb: Any) -> None:
    ws = good_wb["仕訳明細"]
    memos = [r[COL["摘要"] - 1] for r in ws.iter_rows(min_row=3)]
    hyperlink = [c for c in memos if isinstance(c.value, str) and c.value.startswith("=HYPERLINK(")]
    assert len(hyperlink) == 2  # INV-202610-0005, both lines
    assert all(c.data_type == "s" and c.quotePrefix for c in hyperlink)
    with zipfile.ZipFile(good_path) as archive:
        for name in archive.namelist():
            if name.startswith("xl/worksheets/"):
                xml = archive.read(name).decode("utf-8")
                assert "<f>" not in xml and "<f " not in xml, name


def test_every_dangerous_start_is_written_as_text(
    write_csv: Callable[..., Path], mappings: Path, tmp_path: Path
) -> None:
    memos = ["=1+2", "+SUM(A1)", "-3", "@x", "#N/A", "=cmd|' /C calc'!A0", "ok\x01bell"]
    rows = [sale(f"INV-{i}", memo=m, cname="=HYPERLINK(\"x\")", ccode="") for i, m in enumerate(memos)]
    conv = convert([write_csv(rows)], mappings)
    path = write_review(conv, tmp_path / "review.xlsx")
    ws = load_workbook(path)["仕訳明細"]
    lines = [r for r in ws.iter_rows(min_row=3) if r[0].value not in (None, TOTAL_LABEL)]
    written = {r[COL["摘要"] - 1].value for r in lines}
    assert written == {m.replace("\x01", "") for m in memos}
    for row in lines:
        for cell in (row[COL["摘要"] - 1], row[COL["取引先名"] - 1]):
            assert cell.data_type == "s", cell.value
    with zipfile.ZipFile(path) as archive:
        assert "<f>" not in archive.read("xl/worksheets/sheet2.xml").decode("utf-8")


def test_problem_rows_are_highlighted(broken: Conversion, broken_wb: Any) -> None:
    ws = broken_wb["仕訳明細"]
    bad_rows = {p.row for p in broken.problems if p.row is not None}
    by_source_row: dict[int, list[Any]] = {}
    for row in ws.iter_rows(min_row=3):
        by_source_row.setdefault(row[COL["元の行"] - 1].value, []).append(row)
    for source_row, rows in by_source_row.items():
        for row in rows:
            fill = row[COL["摘要"] - 1].fill
            red = fill.fill_type == "solid" and fill.fgColor.rgb.endswith(RED)
            if source_row in bad_rows:
                assert red and row[COL["エラー"] - 1].value, source_row
    assert not any(row[0].fill.fill_type for row in by_source_row[2])  # row 2 is valid
    unmapped = by_source_row[6][0]
    assert "unmapped" in unmapped[COL["エラー"] - 1].value


# --------------------------------------------------------------------------- サマリー


def test_status_line(good_wb: Any, broken: Conversion, broken_wb: Any) -> None:
    assert good_wb["サマリー"]["A1"].value == "送信可能"
    assert broken_wb["サマリー"]["A1"].value == f"エラー {len(broken.problems)} 件 — 送信できません"


def test_totals_cross_check_is_zero(good: Conversion, good_wb: Any) -> None:
    ws = good_wb["サマリー"]
    for title, n_rows in (("勘定科目別 合計", 6), ("税区分別 合計", 8)):
        header, rows = section(ws, title)
        diffs = [i for i, h in enumerate(header) if h and "差額" in h]
        assert len(rows) == n_rows and len(diffs) == 2
        assert all(r[i] == 0 for r in rows for i in diffs), title
        sent = [i for i, h in enumerate(header) if h and "送信" in h]
        assert all(isinstance(r[i], int) for r in rows for i in sent)
    header, rows = section(ws, "勘定科目別 合計")
    debit = header.index("借方 送信")
    assert sum(r[debit] for r in rows) == sum(d["amnt_tr"] for d in body_details(good) if d["is_ocr_dc"] == 1)


def test_debit_equals_credit(good: Conversion, good_wb: Any) -> None:
    _, rows = section(good_wb["サマリー"], "貸借合計")
    for label in ("明細 (変換結果)", "送信 (request body)"):
        row = next(r for r in rows if r[0] == label)
        assert row[1] == "一致"
        assert row[2] == row[3] == good.summary()["debit_total"] == 49_589_966
        assert row[4] == 0


def test_without_bodies_the_sent_column_says_so(broken_wb: Any) -> None:
    ws = broken_wb["サマリー"]
    header, rows = section(ws, "貸借合計")
    assert next(r for r in rows if r[0] == "送信 (request body)")[1:3] == ("エラーのため未作成", "—")
    header, rows = section(ws, "勘定科目別 合計")
    assert all(r[header.index("借方 送信")] == "—" for r in rows)


# --------------------------------------------------------------------------- other sheets


def test_problems_sheet(broken: Conversion, broken_wb: Any) -> None:
    rows = data_rows(broken_wb["エラー"], 1)
    assert len(rows) == len(broken.problems) and {r[0] for r in rows} == {"エラー"}
    assert {(r[2], r[5]) for r in rows} >= {(13, "date"), (14, "amount"), (19, "balance"), (27, "period")}
    # 帳票番号 on every row that belongs to a document, also where the problem is about the row
    numbers = {r[2]: r[6] for r in rows}
    assert numbers[13] and numbers[14] and numbers[19]
    notices = data_rows(broken_wb["お知らせ"], 1)
    assert len(notices) == len(broken.notices) + (broken.unchecked is not None)
    assert notices[-1][0] == "未確認" and notices[-1][5] == "masters_missing"  # no master cache: said once, last


def test_slip_totals_below_the_lines(good: Conversion, good_wb: Any) -> None:
    ws = good_wb["仕訳明細"]
    rows = list(ws.iter_rows(values_only=True))
    assert rows[2 + 973] == (None,) * len(SLIP_COLUMNS)  # a blank row, then the totals, outside the filter
    debit, credit = rows[2 + 974], rows[2 + 975]
    s = good.summary()
    assert (debit[0], debit[COL["貸借"] - 1], debit[COL["金額"] - 1]) == ("合計", "借", s["debit_total"])
    assert (credit[0], credit[COL["貸借"] - 1], credit[COL["金額"] - 1]) == ("合計", "貸", s["credit_total"])
    assert ws.auto_filter.ref == f"A2:V{2 + 973}"


def test_the_tax_table_explains_none(good_wb: Any) -> None:
    _, rows = section(good_wb["サマリー"], "税区分別 合計")
    assert any(r[0] == "(なし)" for r in rows)
    notes = [c.value for row in good_wb["サマリー"].iter_rows() for c in row if isinstance(c.value, str)]
    assert ("(なし) = 元データの税区分が空欄の明細です。課税区分 (tptn) を送らず、FX の既定値 (空文字 = 課税区分なし)"
            " になります。") in notes


def test_unmapped_sheet(broken_wb: Any) -> None:
    ws = broken_wb["未設定マッピング"]
    header = [c.value for c in ws[1]]
    rows = {r[1]: dict(zip(header, r, strict=True)) for r in data_rows(ws, 1)}
    assert set(rows) == {"広告宣伝費", "普通預金 / りそな銀行", "課税売上15%", "海外事業部"}
    account = rows["広告宣伝費"]
    assert account["追加先ファイル"].endswith("accounts.yaml")
    assert account["行数"] == 1 and account["行番号 (最初の 10 件)"] == "6"
    assert account["YAML に追加する行 (コードを埋める)"] == '- {account: 広告宣伝費, cd_act: "????"}'
    assert rows["海外事業部"]["追加先ファイル"].endswith("departments.yaml")


def test_skipped_sheet(good_wb: Any) -> None:
    rows = data_rows(good_wb["スキップ"], 1)
    assert sorted(r[1] for r in rows) == ["INV-202610-0044", "INV-202610-0167", "PUR-202610-0036"]
    assert all(r[3].startswith("0円") and isinstance(r[2], datetime) for r in rows)
    assert all(isinstance(r[6], int) and r[7].startswith(str(r[6])) for r in rows)  # 行 is a number


def test_fx_responses_sheet(good: Conversion, tmp_path: Path) -> None:
    line = good.lines.iloc[0]
    doc, doc_no, file, row = line["doc"], line["doc_no"], line["_file"], int(line["_row"])
    responses = [
        FXMessage(doc, doc_no, 1, MessageKind.INFORMATION, "税額をみなしで計算しました", 1, 1, None, file, row),
        FXMessage(doc, doc_no, 1, MessageKind.ERROR, "=勘定科目コードが存在しません", 1, 2, 0, file, row),
    ]
    wb = load_workbook(write_review(good, tmp_path / "r.xlsx", responses=responses))
    assert wb.sheetnames == [*SHEETS, "FX応答"]
    ws = wb["FX応答"]
    rows = list(ws.iter_rows(min_row=3))
    assert [r[0].value for r in rows] == ["みなし", "エラー"]
    assert rows[1][2].value == "PUR-202610-0001" and isinstance(rows[1][3].value, datetime)
    assert rows[1][7].value == file and rows[1][8].value == row
    assert rows[1][9].data_type == "s" and rows[1][9].value.startswith("=")
    assert rows[1][0].fill.fgColor.rgb.endswith(RED) and not rows[0][0].fill.fill_type


def test_too_many_lines_continue_on_more_sheets(good: Conversion, tmp_path: Path) -> None:
    wb = load_workbook(write_review(good, tmp_path / "r.xlsx", max_rows_per_sheet=300))
    n = math.ceil(973 / 298)
    names = ["仕訳明細", *(f"仕訳明細({i})" for i in range(2, n + 1))]
    assert wb.sheetnames == ["サマリー", *names, *SHEETS[2:]]
    counts = [len(data_rows(wb[name], 2)) for name in names]
    assert counts == [298] * (n - 1) + [973 - 298 * (n - 1)]
    assert all(wb[name].freeze_panes == "A3" and wb[name]["A1"].value == "伝票No" for name in names)
    notes = [c.value for row in wb["サマリー"].iter_rows() for c in row if isinstance(c.value, str)]
    assert any(f"仕訳明細({n})" in v for v in notes)


def test_max_rows_must_leave_room_for_data(good: Conversion, tmp_path: Path) -> None:
    with pytest.raises(ValueError):
        write_review(good, tmp_path / "r.xlsx", max_rows_per_sheet=2)
