"""Generate the converter's sample data: ``samples/`` and ``tests/data/``.

Deterministic: every random choice comes from a seeded :class:`random.Random`; nothing depends
on the clock, the locale, hash randomisation or the machine. Run from anywhere::

    .venv/bin/python scripts/make_samples.py                   # write samples/ + tests/data/, check
    .venv/bin/python scripts/make_samples.py --check-only      # only re-check what is on disk
    .venv/bin/python scripts/make_samples.py --big 600000 -o /tmp/big.csv [--messy 0.05] [--xlsx]

The generator itself (rows, CSV/XLSX/弥生 writers, upload mappings) is ``tests/factories.py``,
which tests import as ``factories`` and the benchmark loads by path; this script only builds and
checks the files under ``samples/`` and ``tests/data/``.

Every value the good samples use (accounts, 補助科目, tax texts, departments, customer codes)
exists in ``mappings/*.yaml``, which map onto the FX masters of the sample company
``tc09999001`` (``converter/emulator/data/emulator_seed.json``). :func:`check_all` proves it.
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from operator import itemgetter
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))  # the generator: tests/factories.py
from factories import (
    _EMPTY_SIDE,
    _KIND_WEIGHTS,
    _KINDS,
    _ROW_VALUES,
    AMOUNT_COLUMNS,
    AP,
    AR,
    BANK,
    BANKS,
    CUSTOMER_CODES,
    CUSTOMERS,
    DEPARTMENTS,
    FEE,
    FEES,
    JOBCAN_COLUMNS,
    MAPPINGS,
    MONTH_SEED,
    MONTH_START,
    NAME_MAPPED_CUSTOMERS,
    NAME_ONLY_CUSTOMERS,
    PURCHASE_ACT,
    PURCHASE_ITEMS_10,
    RATE,
    SALES,
    SALES_ACT,
    SALES_ITEMS_8,
    SALES_ITEMS_10,
    SAMPLES,
    SEED_JSON,
    SUPPLIER_CODES,
    TAX_OUT,
    TAX_P8,
    TAX_P10,
    TAX_S8,
    TAX_S10,
    TEST_DATA,
    YAYOI_COLUMNS,
    Row,
    Side,
    _amount_cell,
    _draw_dates,
    _Factory,
    _load_yaml_list,
    _save_reproducibly,
    generate_jobcan_rows,
    iter_jobcan_rows,
    load_mapping_keys,
    text_width,
    write_jobcan_csv,
    write_jobcan_xlsx,
    write_yayoi_csv,
    zenkaku,
)

HYPERLINK_MEMO = '=HYPERLINK("https://example.com/inv","請求書を開く")'


def build_month_sample(seed: int = MONTH_SEED, n_random: int = 345) -> list[Row]:
    """samples/jobcan-2026-10.csv: a realistic October 2026 plus the documents tests rely on."""
    rng = random.Random(seed)
    f = _Factory(
        rng, comma_rate=0.35, name_only_rate=0, zero_rate=0, void_rate=0, credit_note_rate=0
    )

    def d(day: int) -> date:
        return date(2026, 10, day)

    def cust(code: str) -> tuple[str, str]:
        return code, CUSTOMERS[code]

    big_lines = [
        (rng.randrange(8, 400) * 100, TAX_P10, "開発部", f"部品 P-{i:03d}") for i in range(1, 66)
    ]
    specials: list[tuple[date, Callable[[date], list[Row]]]] = [
        (d(1), lambda x: f.sales(x, customer=cust("C-004"), memo=HYPERLINK_MEMO,
                                 lines=[(120000, TAX_S10, "開発部", "")])),
        (d(5), lambda x: f.sales(x, customer=cust("C-008"), memo=zenkaku("10月分 ABC保守(VER.2)"),
                                 lines=[(80000, TAX_S10, "開発部", "")])),
        (d(6), lambda x: f.sales(x, customer=("", NAME_ONLY_CUSTOMERS[0]))),
        (d(7), lambda x: f.sales(x, status="破棄")),
        (d(8), lambda x: f.sales(x, customer=("", "A商店"))),
        (d(9), lambda x: f.sales(x, customer=cust("C-002"), memo="見積金額未確定",
                                 lines=[(0, TAX_S10, "営業部", "")])),
        (d(13), lambda x: f.sales(x, customer=("", NAME_ONLY_CUSTOMERS[1]))),
        (d(14), lambda x: f.sales(x, status="失注")),
        (d(15), lambda x: f.sales(x, customer=cust("C-010"), sign=-1,
                                  lines=[(10000, TAX_S8, "営業部", "飲料ケース")])),
        (d(16), lambda x: f.sales(x, customer=("", "山田工務店"))),
        (d(19), lambda x: f.sales(x, status="破棄")),
        (d(20), lambda x: f.purchase(x, customer=cust("C-013"), lines=big_lines, closed="締切済")),
        (d(21), lambda x: f.purchase(x, customer=("", NAME_ONLY_CUSTOMERS[2]))),
        (d(22), lambda x: f.purchase(x, customer=cust("C-016"), memo="単価未確定 (0円)",
                                     lines=[(0, TAX_P10, "管理部", "")])),
        (d(27), lambda x: f.receipt(x, customer=("", NAME_ONLY_CUSTOMERS[3]), amount=55000,
                                    fee=440)),
        (d(28), lambda x: f.sales(x, customer=cust("C-005"), sign=-1,
                                  lines=[(30000, TAX_S10, "営業部", "システム保守料")])),
        (d(31), lambda x: f.sales(x, customer=cust("C-010"), memo="サンプル提供 (無償)",
                                  lines=[(0, TAX_S10, "営業部", ""), (0, TAX_S8, "営業部", "")])),
    ]  # fmt: skip
    plan: list[tuple[date, int, Callable[[date], list[Row]]]] = []
    kinds = rng.choices(_KINDS, _KIND_WEIGHTS, k=n_random)
    for i, (day, kind) in enumerate(zip(_draw_dates(rng, n_random, MONTH_START, 31), kinds,
                                        strict=True)):  # fmt: skip
        plan.append((day, i, lambda x, k=kind: f.random_document(x, k)))
    for j, (day, fn) in enumerate(specials):
        plan.append((day, n_random + j, fn))
    plan.sort(key=itemgetter(0, 1))
    rows: list[Row] = []
    for day, _, fn in plan:
        rows.extend(fn(day))
    return rows


# --------------------------------------------------------------------------- samples/yayoi


def build_yayoi_sample(seed: int = MONTH_SEED + 1, n_slips: int = 40) -> list[list[str]]:
    """samples/yayoi-2026-10.csv: 弥生 仕訳日記帳 lines, single- and multi-line 伝票."""
    rng = random.Random(seed)
    kinds = (
        ["sale"] * 12 + ["receipt"] * 6 + ["purchase"] * 5 + ["payment"] * 4 + ["one"] * 3
        + ["two_rate"] * 4 + ["receipt_fee"] * 3 + ["purchase_multi"] * 3
    )  # fmt: skip
    kinds = kinds[:n_slips]
    rng.shuffle(kinds)
    dates = _draw_dates(rng, len(kinds), MONTH_START, 31)
    out: list[list[str]] = []

    def line(flag: str, no: int, d: date, dr: Side, cr: Side, memo: str) -> list[str]:
        ds = f"{d.year}/{d.month:02d}/{d.day:02d}"
        return [flag, str(no), "", ds, *dr, *cr, memo, "", "", "0", "", "", "0", "0", "no"]

    def sale_side(net: int, tax_text: str, dept: str) -> tuple[Side, Side]:
        tax = net * RATE[tax_text] // 100
        a = str(net + tax)
        return (AR, "", "", TAX_OUT, a, ""), (SALES_ACT, "", dept, tax_text, a, str(tax))

    for no, (kind, d) in enumerate(zip(kinds, dates, strict=True), start=1):
        name = CUSTOMERS[rng.choice(CUSTOMER_CODES)]
        supplier = CUSTOMERS[rng.choice(SUPPLIER_CODES)]
        bank = rng.choice(BANKS)
        if kind in ("sale", "one"):
            dr, cr = sale_side(rng.randrange(10, 500) * 1000, TAX_S10, rng.choice(DEPARTMENTS[:2]))
            out.append(line("2000" if kind == "sale" else "2111", no, d, dr, cr,
                            f"{rng.choice(SALES_ITEMS_10)} {name}"))  # fmt: skip
        elif kind == "receipt":
            a = str(rng.randrange(10, 500) * 1100)
            out.append(line("2000", no, d, (BANK, bank, "", TAX_OUT, a, ""),
                            (AR, "", "", TAX_OUT, a, ""), f"入金 {name}"))  # fmt: skip
        elif kind == "purchase":
            net = rng.randrange(10, 300) * 1000
            a = str(net * 11 // 10)
            out.append(line("2000", no, d, (PURCHASE_ACT, "", rng.choice(DEPARTMENTS), TAX_P10, a,
                                            str(net // 10)),
                            (AP, "", "", "", a, ""), f"{rng.choice(PURCHASE_ITEMS_10)} {supplier}"))
        elif kind == "payment":
            a = str(rng.randrange(10, 300) * 1100)
            out.append(line("2000", no, d, (AP, "", "", TAX_OUT, a, ""),
                            (BANK, bank, "", TAX_OUT, a, ""), f"買掛金支払 {supplier}"))
        elif kind == "two_rate":
            dept = rng.choice(DEPARTMENTS[:2])
            dr1, cr1 = sale_side(rng.randrange(10, 300) * 1000, TAX_S10, dept)
            dr2, cr2 = sale_side(rng.randrange(5, 100) * 1000, TAX_S8, dept)
            out.append(line("2110", no, d, dr1, cr1, f"{rng.choice(SALES_ITEMS_10)} {name}"))
            out.append(line("2101", no, d, dr2, cr2, f"{rng.choice(SALES_ITEMS_8)} {name}"))
        elif kind == "receipt_fee":
            amount, fee = rng.randrange(10, 500) * 1100, rng.choice(FEES)
            out.append(line("2110", no, d, (BANK, bank, "", TAX_OUT, str(amount - fee), ""),
                            _EMPTY_SIDE, f"入金 {name}"))
            out.append(line("2100", no, d, (FEE, "", "", TAX_P10, str(fee), str(fee * 10 // 110)),
                            _EMPTY_SIDE, "振込手数料"))
            out.append(line("2101", no, d, _EMPTY_SIDE, (AR, "", "", TAX_OUT, str(amount), ""),
                            f"売掛金消込 {name}"))
        else:  # purchase_multi: 3–5 row-paired lines
            n = rng.randrange(3, 6)
            dept = rng.choice(DEPARTMENTS)
            for k in range(n):
                net = rng.randrange(5, 200) * 1000
                a = str(net * 11 // 10)
                flag = "2110" if k == 0 else "2101" if k == n - 1 else "2100"
                out.append(line(flag, no, d, (PURCHASE_ACT, "", dept, TAX_P10, a, str(net // 10)),
                                (AP, "", "", TAX_OUT, a, ""),
                                f"{rng.choice(PURCHASE_ITEMS_10)} {supplier}"))
    return out


# --------------------------------------------------------------------------- samples/broken


def build_broken_sample() -> tuple[list[Row], list[dict[str, Any]]]:
    """samples/broken-2026-10.csv and its list of intended problems (Excel row numbers)."""
    rng = random.Random(MONTH_SEED + 2)
    f = _Factory(
        rng, comma_rate=0.0, name_only_rate=0, zero_rate=0, void_rate=0, credit_note_rate=0
    )
    rows: list[Row] = []
    problems: list[dict[str, Any]] = []

    def add(doc: list[Row]) -> list[Row]:
        rows.extend(doc)
        return doc

    def problem(
        row: Row, column: str, rule: str, what: str, *, rows_: Sequence[Row] = (),
        value: str | None = None,
    ) -> None:  # fmt: skip
        problems.append({
            "rows": list(rows_) or [row], "document": row["帳票番号"], "column": column,
            "value": row.get(column, "") if value is None else value, "rule": rule, "what": what,
        })  # fmt: skip

    def d(day: int) -> date:
        return date(2026, 10, day)

    def cust(code: str) -> tuple[str, str]:
        return code, CUSTOMERS[code]

    add(f.sales(d(1), customer=cust("C-002"), lines=[(100000, TAX_S10, "営業部", "システム保守料")]))
    add(f.receipt(d(2), customer=cust("C-003"), amount=220000, fee=660, bank=BANKS[0]))

    doc = add(f.purchase(d(3), customer=cust("C-013"), lines=[(30000, TAX_P10, "営業部", "")],
                         memo="新聞広告掲載料"))  # fmt: skip
    doc[0]["借方勘定科目"] = "広告宣伝費"
    problem(doc[0], "借方勘定科目", "unmapped", "勘定科目 広告宣伝費 is not in accounts.yaml")

    add(f.purchase(d(5), customer=cust("C-014"), lines=[(20000, TAX_P8, "管理部", "食材仕入")]))

    doc = add(f.sales(d(6), customer=cust("C-004"), lines=[(200000, TAX_S10, "開発部", "導入支援費")]))
    doc[0]["貸方税区分"] = "課税売上15%"
    problem(doc[0], "貸方税区分", "unmapped", "税区分 課税売上15% is not in tax.yaml")

    doc = add(f.sales(d(7), customer=cust("C-005"), lines=[(50000, TAX_S10, "営業部", "研修講師料")]))
    doc[0]["貸方部門"] = "海外事業部"
    problem(doc[0], "貸方部門", "unmapped", "部門 海外事業部 is not in departments.yaml")

    add(f.payment(d(8), customer=cust("C-015"), amount=298980, fee=440, bank=BANKS[0]))

    doc = add(f.sales(d(9), customer=cust("C-006"), lines=[(70000, TAX_S10, "営業部", "デザイン制作費")]))
    doc[0]["取引日"] = "2026/13/40"
    problem(doc[0], "取引日", "date", "not a date (month 13, day 40)")

    doc = add(f.receipt(d(13), customer=cust("C-007"), amount=77000, fee=0, bank=BANKS[1]))
    doc[0]["借方金額"] = doc[0]["貸方金額"] = "abc"
    problem(doc[0], "借方金額", "amount", "not a number (貸方金額 of the same row too)")

    doc = add(f.payment(d(14), customer=cust("C-016"), amount=52800, fee=0, bank=BANKS[0]))
    doc[0]["借方金額"] = doc[0]["貸方金額"] = "100.5"
    problem(doc[0], "借方金額", "amount", "not an integer (貸方金額 of the same row too)")

    add(f.sales(d(15), customer=cust("C-010"), lines=[(80000, TAX_S10, "営業部", "クラウド利用料"),
                                                      (12000, TAX_S8, "営業部", "菓子詰合せ")]))

    doc = add(f.receipt(d(16), customer=cust("C-011"), amount=1, fee=0, bank=BANKS[0]))
    doc[0]["借方金額"] = doc[0]["貸方金額"] = "100000000000"
    problem(doc[0], "借方金額", "amount",
            "above 99,999,999,999 (貸方金額 of the same row too; the document balances)")

    doc = add(f.receipt(d(19), customer=cust("C-012"), amount=110000, fee=1100, bank=BANKS[0]))
    fee_row = doc.pop(1)  # the 振込手数料 line is missing: 108,900 ≠ 110,000
    rows.remove(fee_row)
    problem(doc[0], "借方金額", "balance", "debit 108,900 ≠ credit 110,000 (fee line missing)",
            rows_=doc, value="108900 / 110000")

    long_memo = "１０月分　システム保守料（サーバー監視・障害対応・月次報告書作成・定例会議出席を含む）"
    long_memo = (long_memo + "ＸＸＸＸＸＸＸＸＸＸ")[:45]
    doc = add(f.sales(d(20), customer=cust("C-008"), memo=long_memo,
                      lines=[(150000, TAX_S10, "開発部", "")]))  # fmt: skip
    problem(doc[0], "摘要", "width", f"摘要 width {text_width(long_memo)} > 80 (rcj_slip)")

    long_name = "株式会社東日本インターナショナルトレーディング商会"  # 25 full-width = 50
    doc = add(f.sales(d(21), customer=("", long_name),
                      lines=[(60000, TAX_S10, "営業部", "コンサルティング料")]))  # fmt: skip
    problem(doc[0], "取引先名", "width",
            f"name-only 取引先名 width {text_width(long_name)} > 40 (nm_cstm)")

    doc = add(f.receipt(d(22), customer=cust("C-001"), amount=33000, fee=0, bank=BANKS[0]))
    doc[0]["借方補助科目"] = "りそな銀行"
    problem(doc[0], "借方補助科目", "unmapped",
            "普通預金 / りそな銀行 is not in accounts.yaml (普通預金 needs a 口座)")

    add(f.purchase(d(23), customer=cust("C-017"), lines=[(40000, TAX_P10, "開発部", "部材仕入"),
                                                         (15000, TAX_P10, "開発部", "用紙仕入")]))
    add(f.receipt(d(26), customer=cust("C-009"), amount=165000, fee=0, bank=BANKS[1]))

    doc = add(f.sales(date(2027, 11, 5), customer=cust("C-019"),
                      lines=[(90000, TAX_S10, "営業部", "ライセンス料")]))  # fmt: skip
    problem(doc[0], "取引日", "period",
            "2027/11/05 is more than a year after 2026/10/01: Jobcan exports at most one year")

    add(f.sales(d(30), customer=cust("C-020"), lines=[(45000, TAX_S10, "営業部", "印刷物制作費")]))
    # Excel row numbers (header = row 1), computed once every row is in place.
    position = {id(r): i + 2 for i, r in enumerate(rows)}
    for p in problems:
        p["rows"] = [position[id(r)] for r in p["rows"]]
    return rows, problems


# --------------------------------------------------------------------------- tests/data


def _small_rows(seed: int, n_documents: int) -> list[Row]:
    rows = generate_jobcan_rows(n_documents, seed, comma_rate=0.3)
    return rows


def _single(day: int, no: int, memo: str, *, code: str = "C-002", amount: int = 11000) -> Row:
    tax = amount * 10 // 110
    return {
        "取引日": f"2026/10/{day:02d}", "取引種別": SALES, "帳票番号": f"INV-202610-{no:04d}",
        "ステータス": "送付済", "締切": "", "取引先コード": code, "取引先名": CUSTOMERS.get(code, ""),
        "借方勘定科目": AR, "借方補助科目": "", "借方部門": "", "借方税区分": TAX_OUT,
        "借方金額": str(amount), "借方消費税額": "",
        "貸方勘定科目": SALES_ACT, "貸方補助科目": "", "貸方部門": "営業部", "貸方税区分": TAX_S10,
        "貸方金額": str(amount), "貸方消費税額": str(tax), "摘要": memo, "案件": "",
    }  # fmt: skip


def _raw_csv(lines: Iterable[Sequence[str]], path: Path, encoding: str = "cp932") -> None:
    with open(path, "w", encoding=encoding, newline="") as fh:
        csv.writer(fh, lineterminator="\r\n").writerows(lines)


NORMALISE_CASES: list[dict[str, str]] = [
    # 帳票番号, what is odd, the raw cell values → what normalise must make of them
    {"no": "INV-202610-0001", "case": "full-width digits and commas", "amount": "１１０，０００",
     "tax": "１０，０００", "date": "2026/10/01", "code": "C-002",
     "expect": "amounts 110000 / 10000"},
    {"no": "INV-202610-0002", "case": "▲ negative (credit note)", "amount": "▲1,100",
     "tax": "▲100", "date": "2026/10/02", "code": "C-003", "expect": "amounts -1100 / -100"},
    {"no": "INV-202610-0003", "case": "(…) negative (credit note)", "amount": "(2,200)",
     "tax": "(200)", "date": "2026/10/02", "code": "C-004", "expect": "amounts -2200 / -200"},
    {"no": "INV-202610-0004", "case": "non-padded date", "amount": "33000", "tax": "3000",
     "date": "2026/10/1", "code": "C-005", "expect": "date 2026-10-01"},
    {"no": "INV-202610-0005", "case": "Excel serial date as text", "amount": "44000",
     "tax": "4000", "date": "46296", "code": "C-006", "expect": "date 2026-10-01"},
    {"no": " INV-202610-0006 ", "case": "spaces around 帳票番号 and 取引先コード",
     "amount": "55000", "tax": "5000", "date": "2026/10/05", "code": " C-007 ",
     "expect": "帳票番号 INV-202610-0006, 取引先コード C-007 → 000007"},
    {"no": "INV-202610-0007", "case": "full-width 取引先コード (NFKC)", "amount": "66000",
     "tax": "6000", "date": "2026/10/06", "code": "Ｃ－００８",
     "expect": "取引先コード C-008 → 000008"},
    {"no": "INV-202610-0008", "case": "spaces around amounts", "amount": " 77,000 ",
     "tax": " 7,000", "date": "2026/10/07", "code": "C-009", "expect": "amounts 77000 / 7000"},
]  # fmt: skip


def build_test_data(out: Path) -> dict[str, str]:
    """Write tests/data/*; return {file name: purpose} for the README."""
    out.mkdir(parents=True, exist_ok=True)
    purposes: dict[str, str] = {}

    small = _small_rows(MONTH_SEED + 10, 8)
    assert len(small) <= 20
    write_jobcan_csv(small, out / "utf8-bom.csv", encoding="utf-8-sig")
    write_jobcan_csv(small, out / "utf8-nobom.csv", encoding="utf-8")
    purposes["utf8-bom.csv"] = (
        f"{len(small)} valid jobcan rows, UTF-8 with BOM. Must give exactly the slips of "
        "utf8-nobom.csv (encoding auto-detection; the BOM must not stick to the 取引日 header)."
    )
    purposes["utf8-nobom.csv"] = "The same rows as utf8-bom.csv, UTF-8 without BOM."

    garbage = (
        "Datum,Beschreibung,Betrag,Währung,Notiz\r\n".encode("latin-1")
        + b"2026/10/01,caf\xe9 na\xefve,\xff\xfe\x81\x20\x80,r\xe9sum\xe9 \xe9t\xe9\r\n"
        + bytes(range(0x80, 0x100))
        + b"\r\n"
    )
    for enc in ("utf-8", "cp932"):
        try:
            garbage.decode(enc)
        except UnicodeDecodeError:
            continue
        raise AssertionError(f"latin1-garbage decodes as {enc}")
    (out / "latin1-garbage.bin.csv").write_bytes(garbage)
    purposes["latin1-garbage.bin.csv"] = (
        "Latin-1 text and raw high bytes: neither valid UTF-8 nor valid CP932. Expected: one "
        "clean input error naming the file and the encoding (exit 2 or 1, no traceback)."
    )

    good = [_ROW_VALUES(_single(1, 1, "正常行 1")), _ROW_VALUES(_single(2, 4, "正常行 4"))]
    too_many = [*_ROW_VALUES(_single(1, 2, "列が多い行")), "余分1", "余分2"]
    too_few = list(_ROW_VALUES(_single(1, 3, "列が少ない行")))[:17]
    _raw_csv([JOBCAN_COLUMNS, good[0], too_many, too_few, good[1]], out / "ragged.csv")
    purposes["ragged.csv"] = (
        "Header + 4 rows: row 2 valid, row 3 has 23 fields (2 too many), row 4 has 17 fields "
        "(4 too few), row 5 valid. Expected: rows 3 and 4 reported by Excel row number, never "
        "silently shifted into other columns."
    )

    memos = ["=SUM(A1)", "+1", "-1", "@x", "\tタブで始まる摘要", '=HYPERLINK("http://x","y")']
    write_jobcan_csv([_single(1 + i, i + 1, m) for i, m in enumerate(memos)], out / "formula.csv")
    purposes["formula.csv"] = (
        "6 valid single-row invoices whose 摘要 starts with =, +, -, @, a tab and =HYPERLINK(. "
        "Expected: converted normally, rcj_slip = the text unchanged; the review workbook shows "
        "each as text (cell data type 's'), never as a formula."
    )

    huge = ("長い摘要" * 25_000)[:100_000]
    write_jobcan_csv([_single(3, 1, huge)], out / "huge-memo.csv")
    purposes["huge-memo.csv"] = (
        "One invoice whose 摘要 is 100,000 characters (200,000 bytes CP932). Expected: one width "
        "problem (rcj_slip > 80) on row 2, with the value shortened in the message; no hang."
    )

    write_jobcan_csv([], out / "header-only.csv")
    purposes["header-only.csv"] = (
        "The jobcan header and no data. Expected: 0 documents, 0 slips, no crash "
        "(check exits 0, or 1 with a clear 'no data' problem — not a traceback)."
    )
    (out / "empty.csv").write_bytes(b"")
    purposes["empty.csv"] = "0 bytes. Expected: one clean input error ('empty file'), no traceback."

    cols = [c for c in JOBCAN_COLUMNS if c != "借方金額"]
    rows = [_single(1, 1, "借方金額の列がない"), _single(2, 2, "借方金額の列がない")]
    _raw_csv([cols, *[[r[c] for c in cols] for r in rows]], out / "missing-column.csv")
    purposes["missing-column.csv"] = (
        "Valid rows but the 借方金額 column is missing from header and rows. Expected: one input "
        "error naming the missing column 借方金額 and the accepted spellings."
    )

    norm_rows = []
    for i, case in enumerate(NORMALISE_CASES):
        r = _single(1, i + 1, case["case"])
        r["帳票番号"], r["取引日"], r["取引先コード"] = case["no"], case["date"], case["code"]
        r["取引先名"] = CUSTOMERS[f"C-{(i + 2):03d}"]
        r["借方金額"] = r["貸方金額"] = case["amount"]
        r["貸方消費税額"] = case["tax"]
        norm_rows.append(r)
    write_jobcan_csv(norm_rows, out / "normalise.csv")
    purposes["normalise.csv"] = (
        f"{len(norm_rows)} single-row invoices, each balanced once normalised; see the table "
        "below. Expected: 0 problems, every value as in the table."
    )

    _write_serial_xlsx(out / "serial-dates.xlsx")
    purposes["serial-dates.xlsx"] = (
        "5 invoices; 取引日 as a numeric Excel serial (46296, 46300), as text ('2026/10/06', "
        "'46301') and as a real date cell (2026-10-07). Expected dates: 2026-10-01, "
        "2026-10-05, 2026-10-06, 2026-10-06, 2026-10-07; 0 problems."
    )

    def y(flag: str, no: int, day: int, dr: Side, cr: Side, memo: str) -> list[str]:
        ds = f"2026/10/{day:02d}"
        return [flag, str(no), "", ds, *dr, *cr, memo, "", "", "0", "", "", "0", "0", "no"]

    s10 = (SALES_ACT, "", "営業部", TAX_S10, "11000", "1000")
    ar = (AR, "", "", TAX_OUT, "11000", "")
    lines = [
        y("2000", 1, 1, ar, s10, "正常な単一行"),
        y("2110", 2, 2, ar, s10, "正常な伝票 1行目"),
        y("2101", 2, 2, ar, s10, "正常な伝票 2行目"),
        y("2100", 3, 3, ar, s10, "2110 のない中間行"),
        y("2101", 3, 3, ar, s10, "2110 のない最終行"),
        y("2000", 4, 4, ar, s10, "正常な単一行"),
    ]
    write_yayoi_csv(lines, out / "yayoi-bad-flags.csv")
    purposes["yayoi-bad-flags.csv"] = (
        "弥生 25-column, headerless, CP932. Lines 1–3 and 6 are valid (2000; 2110+2101; 2000); "
        "line 4 is a 2100 middle line with no 2110 before it (line 5 is the 2101 that follows). "
        "Expected: a problem on row 4 (識別フラグ); lines 1–3 and 6 still convert (3 slips)."
    )
    return purposes


def _write_serial_xlsx(path: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = "取引明細"
    ws.append(list(JOBCAN_COLUMNS))
    values: list[Any] = [46296, 46300, "2026/10/06", "46301", date(2026, 10, 7)]
    for i, v in enumerate(values):
        r = _single(1, i + 1, f"日付の形式 {i + 1}")
        cells: list[Any] = [_amount_cell(x) if c in AMOUNT_COLUMNS else (x or None)
                            for c, x in zip(JOBCAN_COLUMNS, _ROW_VALUES(r), strict=True)]  # fmt: skip
        cells[0] = v
        ws.append(cells)
        cell = ws.cell(row=i + 2, column=1)
        if isinstance(v, date):
            cell.number_format = "yyyy/mm/dd"
        elif isinstance(v, str):
            cell.data_type = "s"
    _save_reproducibly(wb, path)


# --------------------------------------------------------------------------- READMEs


def _doc_stats(rows: Sequence[Row]) -> dict[str, Any]:
    docs: dict[str, list[Row]] = {}
    for r in rows:
        docs.setdefault(r["帳票番号"].strip(), []).append(r)
    zero = [k for k, rs in docs.items() if all(_to_int(r[c]) in (0, None) for r in rs
                                                for c in AMOUNT_COLUMNS)]  # fmt: skip
    side_lines = {
        k: max(sum(1 for r in rs if r["借方勘定科目"]), sum(1 for r in rs if r["貸方勘定科目"]))
        for k, rs in docs.items()
    }
    big = [k for k, n in side_lines.items() if n > 60]
    kinds: dict[str, int] = {}
    for rs in docs.values():
        kinds[rs[0]["取引種別"]] = kinds.get(rs[0]["取引種別"], 0) + 1
    compound = [k for k, rs in docs.items() if any(not r["借方勘定科目"] or not r["貸方勘定科目"]
                                                    for r in rs)]  # fmt: skip
    two_rate = [k for k, rs in docs.items()
                if len({r["貸方税区分"] for r in rs if r["貸方勘定科目"] == SALES_ACT}) > 1]
    name_only = [(k, rs[0]["取引先名"]) for k, rs in docs.items()
                 if not rs[0]["取引先コード"].strip()
                 and rs[0]["取引先名"] not in NAME_MAPPED_CUSTOMERS]
    name_mapped = [(k, rs[0]["取引先名"]) for k, rs in docs.items()
                   if not rs[0]["取引先コード"].strip() and rs[0]["取引先名"] in NAME_MAPPED_CUSTOMERS]
    void = [(k, rs[0]["ステータス"]) for k, rs in docs.items() if rs[0]["ステータス"] in ("破棄", "失注")]
    negative = [k for k, rs in docs.items() if any((_to_int(r["借方金額"]) or 0) < 0 for r in rs)]
    hyper = [(r["帳票番号"], i + 2) for i, r in enumerate(rows) if r["摘要"].startswith("=")]
    comma = sum(1 for r in rows if "," in r["借方金額"] + r["貸方金額"])
    debit = sum(_to_int(r["借方金額"]) or 0 for r in rows)
    credit = sum(_to_int(r["貸方金額"]) or 0 for r in rows)
    dates = sorted({r["取引日"] for r in rows})
    big_slips = sum(-(-side_lines[k] // 60) - 1 for k in big)
    return {
        "documents": len(docs), "rows": len(rows), "kinds": kinds, "zero": zero, "big": big,
        "big_lines": {k: side_lines[k] for k in big}, "compound": compound, "two_rate": two_rate,
        "name_only": name_only, "name_mapped": name_mapped, "void": void, "negative": negative,
        "hyperlink": hyper, "comma_rows": comma, "debit": debit, "credit": credit,
        "first": dates[0], "last": dates[-1], "closed": sum(1 for rs in docs.values()
                                                             if rs[0]["締切"] == "締切済"),
        "slips": len(docs) - len(zero) + big_slips,
    }  # fmt: skip


def _to_int(text: str) -> int | None:
    t = text.strip().replace(",", "")
    if t == "":
        return None
    return int(t)


def write_samples_readme(
    path: Path, month: dict[str, Any], yayoi: list[list[str]], broken_rows: list[Row],
    broken_problems: list[dict[str, Any]],
) -> None:  # fmt: skip
    slips_y = len({ln[1] for ln in yayoi})
    flags: dict[str, int] = {}
    for ln in yayoi:
        flags[ln[0]] = flags.get(ln[0], 0) + 1
    broken_docs = len({r["帳票番号"] for r in broken_rows})
    lines = [
        "# Sample data",
        "",
        "Generated by `scripts/make_samples.py` (deterministic; do not edit by hand — change the",
        "generator and re-run `.venv/bin/python scripts/make_samples.py`, which also re-checks",
        "everything below). The company is the FX sample company `tc09999001`; every account,",
        "補助科目, 税区分, 部門 and 取引先コード used by the good samples is in `mappings/*.yaml`,",
        "which map onto `converter/emulator/data/emulator_seed.json`.",
        "",
        "## `jobcan-2026-10.csv` / `jobcan-2026-10.xlsx`",
        "",
        "ジョブカン見積/請求書 取引明細 for October 2026, CP932, CRLF, header row:",
        "",
        "`" + ",".join(JOBCAN_COLUMNS) + "`",
        "",
        "One row = one debit/credit pair; a compound document has rows with one side empty.",
        "Amounts are tax-inclusive; the 消費税額 is only on the taxable side (売上高 / 仕入高 /",
        "支払手数料). The non-taxable side's 税区分 is `対象外` or empty, its 消費税額 empty or `0`.",
        "",
        "| | |",
        "|---|---|",
        f"| documents (帳票番号) | {month['documents']} |",
        f"| rows | {month['rows']} |",
        "| by kind | " + ", ".join(f"{k} {v}" for k, v in month["kinds"].items()) + " |",
        f"| dates | {month['first']} … {month['last']} |",
        f"| Σ 借方金額 = Σ 貸方金額 | {month['debit']:,} = {month['credit']:,} |",
        f"| 0円 documents (skip and list) | {len(month['zero'])}: {', '.join(month['zero'])} |",
        "| > 60 lines on a side (split) | "
        + ", ".join(f"{k} ({n} 仕入高 debit lines / {n} 買掛金 credit lines, row-paired)"
                    for k, n in month["big_lines"].items()) + " |",
        f"| compound documents (one-sided rows) | {len(month['compound'])} (入金/支払 with a "
        "支払手数料 振込手数料 line) |",
        f"| invoices with two tax rates | {len(month['two_rate'])} "
        f"(e.g. {', '.join(month['two_rate'][:3])}) |",
        f"| credit notes (negative amounts) | {', '.join(month['negative'])} |",
        "| ステータス 破棄 / 失注 | "
        + ", ".join(f"{k} ({s})" for k, s in month["void"]) + " |",
        f"| 締切済 documents | {month['closed']} (the rest have an empty 締切) |",
        "| customers by name only, unmapped → `nm_cstm` only | "
        + ", ".join(f"{k} ({n})" for k, n in month["name_only"]) + " |",
        "| customers by name only, mapped by name | "
        + ", ".join(f"{k} ({n} → {NAME_MAPPED_CUSTOMERS[n]})" for k, n in month["name_mapped"])
        + " |",
        "| 摘要 starting with `=HYPERLINK(` | "
        + ", ".join(f"{k} (row {r})" for k, r in month["hyperlink"]) + " |",
        f"| rows with amounts written `110,000` | {month['comma_rows']} |",
        "",
        "Expected from `converter check samples/jobcan-2026-10.csv`: no problems (exit 0), "
        f"{len(month['zero'])} 0円 documents listed as skipped. `preview` / `upload`: "
        f"{month['slips']} FX slips ({month['documents']} documents − {len(month['zero'])} 0円 + "
        f"{month['slips'] - month['documents'] + len(month['zero'])} extra from splitting the "
        "65-line document into 60 + 5 lines per side). 破棄/失注 documents are converted like "
        "the others (Jobcan links them regardless of status); a warning is welcome. Name-only "
        "customers go as `nm_cstm` without `cd_cstm` (settings `unmapped_customer: name_only`) on "
        "accounts FX does not manage by customer; on 売掛金/買掛金 (`is_usecstmldgr=1`, where FX requires "
        "`cd_cstm`) they go under `one_off_customer_code` (999999 その他) with the name in 摘要, once "
        "a master cache is pulled (`converter masters pull`).",
        "",
        "The `.xlsx` holds the same rows on its first sheet with 取引日 as real date cells and "
        "the four amount columns as numeric cells (`#,##0`); the 摘要 `=HYPERLINK(…` is a text "
        "cell. Both files must produce identical slips.",
        "",
        "## `yayoi-2026-10.csv`",
        "",
        "弥生会計 仕訳日記帳 import layout: 25 columns, no header, CP932, CRLF:",
        "",
        "`" + ",".join(YAYOI_COLUMNS) + "`",
        "",
        f"{slips_y} 伝票 in {len(yayoi)} lines; 識別フラグ counts: "
        + ", ".join(f"`{k}` {v}" for k, v in sorted(flags.items()))
        + ". `2000` = single-line journal, `2111` = a 伝票 of one line, `2110` / `2100` / `2101` ="
        " first / middle / last line of a multi-line 伝票 (two-rate invoices, receipts with a "
        "振込手数料 line — one-sided lines — and 3–5-line purchases). タイプ `0`, 付箋 `0`, 調整 "
        "`no`. Same account / tax / department names as the jobcan sample, so the same mappings "
        f"apply. Expected: no problems, {slips_y} slips, every 伝票 balances. The layout has no 取引先: "
        "with a master cache, the 売掛金/買掛金 lines (FX requires `cd_cstm` there) go under "
        "`one_off_customer_code` from `settings.yaml`.",
        "",
        "## `broken-2026-10.csv`",
        "",
        f"A jobcan export ({broken_docs} documents, {len(broken_rows)} rows) with one deliberate "
        "problem per listed row, between valid documents. `converter check` must exit 1 and "
        "report each of these (row numbers as Excel shows them, header = row 1):",
        "",
        "| row | 帳票番号 | column | value | rule | problem |",
        "|---|---|---|---|---|---|",
    ]
    for p in broken_problems:
        value = p["value"] if len(p["value"]) <= 30 else p["value"][:27] + "…"
        column = "借方金額, 貸方金額" if p["rule"] == "amount" else p["column"]
        lines.append(
            f"| {', '.join(map(str, p['rows']))} | {p['document']} | {column} | "
            f"`{value}` | {p['rule']} | {p['what']} |"
        )
    bad_rows = {r for p in broken_problems for r in p["rows"]}
    good_rows = [i + 2 for i in range(len(broken_rows)) if i + 2 not in bad_rows]
    lines += [
        "",
        "Notes: the `abc`, `100.5` and `100000000000` rows carry the bad value in both 借方金額 "
        "and 貸方金額 (one problem per cell is fine; the documents are otherwise balanced). The "
        "unbalanced document is a receipt whose 振込手数料 line is missing. The period problem "
        "is the file spanning 2026-10-01 … 2027-11-05 (> 1 year); it may be reported once for the "
        "file, naming that row. All other rows are valid: "
        + ", ".join(map(str, good_rows)) + ".",
        "",
        "## Mapping tables (`mappings/`)",
        "",
        "`accounts.yaml` (勘定科目 [+ 補助科目] → `cd_act` [+ `cd_auxact`]), `tax.yaml` (税区分 → "
        "`tptn`, `cmtxrate`, `is_reduce_cmtxrate`, `cat_purday`), `departments.yaml`, "
        "`customers.yaml` (Jobcan `C-001`… → FX `000001`…, plus a few by name) and "
        "`settings.yaml`. 普通預金 is mapped only with its 補助科目 (the FX account is managed "
        "by 口座), so an unknown bank is an error rather than a silent default.",
        "",
        "## Larger files",
        "",
        "`generate_jobcan_rows(n_documents, seed, messy_rate=…)` / `iter_jobcan_rows(…)` and "
        "`write_jobcan_csv(rows, path)` in `scripts/make_samples.py` build files of any size "
        "(`--big N -o PATH` on the command line); ≈1.3 rows per document, all balanced and mapped.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


def write_test_data_readme(path: Path, purposes: dict[str, str]) -> None:
    lines = [
        "# tests/data",
        "",
        "Small bad / edge-case inputs, generated by `scripts/make_samples.py` (do not edit by "
        "hand). Row numbers are as Excel shows them (header = row 1; the headerless 弥生 file "
        "starts at row 1). Unless noted, files are CP932 jobcan exports with the standard header.",
        "",
        "| file | purpose and expected behaviour |",
        "|---|---|",
    ]
    lines += [f"| `{name}` | {text} |" for name, text in sorted(purposes.items())]
    lines += [
        "",
        "## `normalise.csv` — raw value → expected normalised value",
        "",
        "| row | 帳票番号 (raw) | case | 取引日 | 取引先コード | 金額 / 消費税額 | expected |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, c in enumerate(NORMALISE_CASES):
        lines.append(
            f"| {i + 2} | `{c['no']}` | {c['case']} | `{c['date']}` | `{c['code']}` | "
            f"`{c['amount']}` / `{c['tax']}` | {c['expect']} |"
        )
    lines += [
        "",
        "All other cells of normalise.csv are plain; each row is one balanced invoice "
        "(売掛金 / 売上高 課税売上10%).",
        "",
        "## `ledger-v3-dated-keys.sqlite` (not made by this script)",
        "",
        "A real ledger of the release that keyed documents 取引種別|帳票番号|取引日 (format version 3, no "
        "meta `identity`), made by `tests/data/make_v3_ledger.py` run with that release (commit f99de41) "
        "on the path: A sent; B sent on 10-02, re-dated to 10-05 and posted again (two 連携完了 records of "
        "one document); C corrected (取消1/訂正1); D sent. `tests/test_identity.py` upgrades a copy.",
        "",
    ]
    path.write_text("\n".join(lines), encoding="utf-8")


# --------------------------------------------------------------------------- checks


def check_mappings_against_seed(folder: Path = MAPPINGS) -> None:
    """Every FX code in mappings/ exists in the emulator seed (the company's FX masters)."""
    seed = json.loads(SEED_JSON.read_text(encoding="utf-8"))
    acts = {(a["cd_act"], a["cd_auxact"]) for a in seed["accounts"]}
    for e in _load_yaml_list(folder / "accounts.yaml"):
        assert (e["cd_act"], e.get("cd_auxact", "")) in acts, e
        nm = next(a["nm_act"] for a in seed["accounts"] if a["cd_act"] == e["cd_act"])
        assert nm == e["account"], (e, nm)
    rates = {(r["cmtxrate"], r["is_reduce_cmtxrate"]) for r in seed["consumptiontaxrates"]}
    for e in _load_yaml_list(folder / "tax.yaml"):
        if "cmtxrate" in e:
            assert (e["cmtxrate"], e["is_reduce_cmtxrate"]) in rates, e
    deps = {x["cd_dep"]: x["nm_dep"] for x in seed["departments"]}
    for e in _load_yaml_list(folder / "departments.yaml"):
        assert deps.get(e["cd_dep"]) == e["department"], e
    cstm = {x["cd_cstm"]: x["nm_cstm"] for x in seed["customers"]}
    for e in _load_yaml_list(folder / "customers.yaml"):
        assert e["cd_cstm"] in cstm, e
        if "customer_code" in e:
            assert cstm[e["cd_cstm"]] == CUSTOMERS[e["customer_code"]], e
        else:
            assert cstm[e["cd_cstm"]] == e["customer"], e


def _row_findings(row: Row, keys: dict[str, set[Any]]) -> list[tuple[str, str]]:
    """A small independent validator: (column, rule) for every problem in one jobcan row."""
    found: list[tuple[str, str]] = []
    try:
        datetime.strptime(row["取引日"].strip(), "%Y/%m/%d")
    except ValueError:
        found.append(("取引日", "date"))
    for side in ("借方", "貸方"):
        account, sub = row[f"{side}勘定科目"], row[f"{side}補助科目"]
        if account and (account, sub) not in keys["accounts"]:
            col = f"{side}補助科目" if (account, "") in keys["accounts"] or account == BANK else (
                f"{side}勘定科目"
            )
            found.append((col, "unmapped"))
        tax = row[f"{side}税区分"]
        if tax and tax not in keys["tax"]:
            found.append((f"{side}税区分", "unmapped"))
        dep = row[f"{side}部門"]
        if dep and dep not in keys["departments"]:
            found.append((f"{side}部門", "unmapped"))
        for col in (f"{side}金額", f"{side}消費税額"):
            t = row[col].strip().replace(",", "")
            if t and not (t.lstrip("-").isdigit() and abs(int(t)) <= 99_999_999_999):
                found.append((col, "amount"))
    if text_width(row["摘要"]) > 80:
        found.append(("摘要", "width"))
    code, name = row["取引先コード"].strip(), row["取引先名"]
    if code and code not in keys["customer_codes"]:
        found.append(("取引先コード", "unmapped"))
    if not code and name not in keys["customer_names"] and text_width(name) > 40:
        found.append(("取引先名", "width"))
    return found


def _balances(rows: Sequence[Row], key: str = "帳票番号") -> dict[str, tuple[int, int]]:
    out: dict[str, tuple[int, int]] = {}
    for r in rows:
        try:
            dr, cr = _to_int(r["借方金額"]) or 0, _to_int(r["貸方金額"]) or 0
        except ValueError:
            continue
        k = r[key].strip()
        a, b = out.get(k, (0, 0))
        out[k] = (a + dr, b + cr)
    return out


def _read_csv(path: Path, encoding: str = "cp932", header: int | None = 0) -> list[Row]:
    import pandas as pd

    df = pd.read_csv(path, encoding=encoding, dtype=str, keep_default_na=False, header=header)
    return df.to_dict("records")


_ASCII_DIGITS = str.maketrans("０１２３４５６７８９，", "0123456789,")


def _plain_amount(text: str) -> int | None:
    t = text.strip().translate(_ASCII_DIGITS).replace(",", "")
    if t.startswith("▲"):
        t = "-" + t[1:]
    elif t.startswith("(") and t.endswith(")"):
        t = "-" + t[1:-1]
    return int(t) if t else None


def _plain_row(row: Row) -> tuple[Any, ...]:
    """A row reduced to its meaning (the normalisation the converter must do)."""
    y, m, d = row["取引日"].split("/")
    out: list[Any] = [date(int(y), int(m), int(d))]
    for col in JOBCAN_COLUMNS[1:]:
        out.append(_plain_amount(row[col]) if col in AMOUNT_COLUMNS else row[col].strip())
    return tuple(out)


def check_generator(n_documents: int = 3000, seed: int = 7) -> str:
    """Random documents balance and are mapped; messy rows normalise back to the clean ones."""
    keys = load_mapping_keys()
    clean = generate_jobcan_rows(n_documents, seed)
    messy = generate_jobcan_rows(n_documents, seed, messy_rate=0.3)
    assert len(clean) == len(messy)
    changed = 0
    for c, m in zip(clean, messy, strict=True):
        assert _row_findings(c, keys) == [], c
        assert _plain_row(c) == _plain_row(m), (c, m)
        changed += c != m
    assert 0.2 < changed / len(clean) < 0.4, changed
    joined = "\n".join(",".join(r.values()) for r in messy)
    for mark in ("▲", "(", "１", "/10/1,", " C-0"):  # every kind of messiness occurs
        assert mark in joined, mark
    assert not [k for k, (a, b) in _balances(clean).items() if a != b]
    return (
        f"generator: {n_documents} documents / {len(clean)} rows balanced and mapped; "
        f"messy_rate 0.3 rewrote {changed} rows, all normalising back to the clean ones"
    )


def check_all() -> list[str]:
    """Re-read everything from disk and assert the properties the README promises."""
    import pandas as pd

    report: list[str] = []
    keys = load_mapping_keys()
    check_mappings_against_seed()

    # -- the month sample -----------------------------------------------------------------
    path = SAMPLES / "jobcan-2026-10.csv"
    rows = _read_csv(path)
    assert tuple(rows[0].keys()) == JOBCAN_COLUMNS
    assert rows == build_month_sample(), "csv on disk differs from the generator"
    for i, r in enumerate(rows):
        assert _row_findings(r, keys) == [], (i + 2, _row_findings(r, keys), r)
        assert r["取引日"].startswith("2026/10/"), r
        code, name = r["取引先コード"], r["取引先名"]
        assert code or name in NAME_MAPPED_CUSTOMERS or name in NAME_ONLY_CUSTOMERS, r
        assert text_width(name) <= 40, r
        for side in ("借方", "貸方"):
            taxable = r[f"{side}勘定科目"] in (SALES_ACT, PURCHASE_ACT, FEE)
            if taxable:
                assert r[f"{side}税区分"] in RATE, r
                gross, tax = _to_int(r[f"{side}金額"]) or 0, _to_int(r[f"{side}消費税額"]) or 0
                rate = RATE[r[f"{side}税区分"]]
                assert tax == gross * rate // (100 + rate) or tax == -((-gross) * rate
                                                                        // (100 + rate)), r
            elif r[f"{side}勘定科目"]:
                assert r[f"{side}消費税額"] in ("", "0") and r[f"{side}税区分"] in ("", TAX_OUT), r
            if r[f"{side}勘定科目"] == BANK:
                assert r[f"{side}補助科目"] in BANKS, r
    bal = _balances(rows)
    unbalanced = {k: v for k, v in bal.items() if v[0] != v[1]}
    assert not unbalanced, unbalanced
    stats = _doc_stats(rows)
    assert stats["documents"] >= 300 and stats["big"] and len(stats["zero"]) >= 2
    assert stats["first"] == "2026/10/01" and stats["last"] == "2026/10/31"
    assert path.stat().st_size < 1_000_000
    report.append(
        f"jobcan-2026-10.csv: {stats['documents']} documents, {stats['rows']} rows, "
        f"{len(stats['zero'])} 0円 ({', '.join(stats['zero'])}), >60: {stats['big_lines']}, "
        f"kinds {stats['kinds']}, {path.stat().st_size:,} bytes — balanced, all mapped"
    )

    # -- the xlsx: same rows ----------------------------------------------------------------
    xpath = SAMPLES / "jobcan-2026-10.xlsx"
    import openpyxl

    wb = openpyxl.load_workbook(xpath, read_only=True)
    ws = wb.worksheets[0]
    width = len(JOBCAN_COLUMNS)
    xrows = [(*x, *[None] * (width - len(x))) for x in ws.iter_rows(values_only=True)]
    assert tuple(xrows[0]) == JOBCAN_COLUMNS
    assert len(xrows) - 1 == len(rows)
    for r, x in zip(rows, xrows[1:], strict=True):
        assert isinstance(x[0], datetime), x
        assert x[0].strftime("%Y/%m/%d") == r["取引日"]
        for j, col in enumerate(JOBCAN_COLUMNS[1:], start=1):
            if col in AMOUNT_COLUMNS:
                assert x[j] == _to_int(r[col]) and (x[j] is None or isinstance(x[j], int)), (r, x)
            else:
                assert (x[j] or "") == r[col], (col, r, x)
    wb.close()
    xdf = pd.read_excel(xpath, sheet_name=0, dtype=str, keep_default_na=False, engine="calamine")
    assert len(xdf) == len(rows)
    typed = pd.read_excel(xpath, sheet_name=0, engine="calamine")
    assert pd.api.types.is_datetime64_any_dtype(typed["取引日"]), typed["取引日"].dtype
    assert all(pd.api.types.is_numeric_dtype(typed[c]) for c in AMOUNT_COLUMNS)
    assert (xdf["摘要"] == pd.Series([r["摘要"] for r in rows])).all()
    assert xpath.stat().st_size < 1_000_000
    report.append(f"jobcan-2026-10.xlsx: same {len(xdf)} rows (date cells, numeric amounts)")

    # -- yayoi ------------------------------------------------------------------------------
    ypath = SAMPLES / "yayoi-2026-10.csv"
    ydf = pd.read_csv(ypath, encoding="cp932", dtype=str, keep_default_na=False, header=None)
    assert ydf.shape[1] == 25
    ylines = ydf.to_numpy().tolist()
    assert ylines == build_yayoi_sample()
    open_no = None
    for ln in ylines:
        flag, no = ln[0], ln[1]
        if flag in ("2000", "2111"):
            assert open_no is None, ln
        elif flag == "2110":
            assert open_no is None, ln
            open_no = no
        else:
            assert flag in ("2100", "2101") and open_no == no, ln
            if flag == "2101":
                open_no = None
        yrow = dict(zip(YAYOI_COLUMNS, ln, strict=True))
        as_jobcan = {c: yrow.get(c, "") for c in JOBCAN_COLUMNS}
        as_jobcan |= {"取引日": yrow["取引日付"], "借方消費税額": yrow["借方税金額"],
                      "貸方消費税額": yrow["貸方税金額"], "取引先コード": "C-001"}  # fmt: skip
        assert _row_findings(as_jobcan, keys) == [], ln
        assert ln[19] == "0" and ln[24] == "no"
    assert open_no is None
    ybal = {}
    for ln in ylines:
        a, b = ybal.get(ln[1], (0, 0))
        ybal[ln[1]] = (a + int(ln[8] or 0), b + int(ln[14] or 0))
    assert all(a == b for a, b in ybal.values()), ybal
    report.append(f"yayoi-2026-10.csv: {len(ybal)} 伝票, {len(ylines)} lines, balanced, mapped")

    # -- broken: exactly the intended problems ---------------------------------------------
    bpath = SAMPLES / "broken-2026-10.csv"
    brows = _read_csv(bpath)
    expected_rows, problems = build_broken_sample()
    assert brows == expected_rows
    found: dict[int, set[tuple[str, str]]] = {}
    for i, r in enumerate(brows):
        for col, rule in _row_findings(r, keys):
            found.setdefault(i + 2, set()).add((col, rule))
    for k, (a, b) in _balances(brows).items():
        if a != b:
            for i, r in enumerate(brows):
                if r["帳票番号"] == k:
                    found.setdefault(i + 2, set()).add(("借方金額", "balance"))
    good_dates = [datetime.strptime(r["取引日"], "%Y/%m/%d").date() for r in brows
                  if r["取引日"] != "2026/13/40"]  # fmt: skip
    first = min(good_dates)
    for i, r in enumerate(brows):
        if r["取引日"] != "2026/13/40":
            dd = datetime.strptime(r["取引日"], "%Y/%m/%d").date()
            if dd > first.replace(year=first.year + 1):
                found.setdefault(i + 2, set()).add(("取引日", "period"))
    intended: dict[int, set[tuple[str, str]]] = {}
    for p in problems:
        for rn in p["rows"]:
            intended.setdefault(rn, set()).add((p["column"], p["rule"]))
            if p["rule"] == "amount":  # both amount cells of the row
                intended[rn].add(("貸方金額", "amount"))
    assert found == intended, (found, intended)
    rule_rows = [rn for p in problems for rn in p["rows"]]
    assert len(rule_rows) == len(set(rule_rows)), "two problems share a row"
    report.append(
        f"broken-2026-10.csv: {len({r['帳票番号'] for r in brows})} documents, {len(brows)} rows, "
        f"{len(problems)} intended problems found exactly at their rows"
    )

    # -- tests/data -------------------------------------------------------------------------
    a = _read_csv(TEST_DATA / "utf8-bom.csv", encoding="utf-8-sig")
    b = _read_csv(TEST_DATA / "utf8-nobom.csv", encoding="utf-8")
    assert a == b and tuple(a[0]) == JOBCAN_COLUMNS and len(a) <= 20
    assert (TEST_DATA / "utf8-bom.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert not (TEST_DATA / "utf8-nobom.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    raw = (TEST_DATA / "latin1-garbage.bin.csv").read_bytes()
    for enc in ("utf-8", "cp932"):
        try:
            raw.decode(enc)
            raise AssertionError(enc)
        except UnicodeDecodeError:
            pass
    with open(TEST_DATA / "ragged.csv", encoding="cp932", newline="") as fh:
        assert [len(x) for x in csv.reader(fh)] == [21, 21, 23, 17, 21]
    memos = [r["摘要"] for r in _read_csv(TEST_DATA / "formula.csv")]
    assert memos[:5] == ["=SUM(A1)", "+1", "-1", "@x", "\tタブで始まる摘要"], memos
    huge = _read_csv(TEST_DATA / "huge-memo.csv")
    assert len(huge) == 1 and len(huge[0]["摘要"]) == 100_000
    assert (TEST_DATA / "header-only.csv").read_text(encoding="cp932").strip() == ",".join(
        JOBCAN_COLUMNS
    )
    assert (TEST_DATA / "empty.csv").stat().st_size == 0
    mc = _read_csv(TEST_DATA / "missing-column.csv")
    assert "借方金額" not in mc[0] and len(mc[0]) == 20
    norm = _read_csv(TEST_DATA / "normalise.csv")
    assert [r["借方金額"] for r in norm] == [c["amount"] for c in NORMALISE_CASES]
    sx = pd.read_excel(TEST_DATA / "serial-dates.xlsx", sheet_name=0, dtype=object, engine="openpyxl")
    assert len(sx) == 5
    yb = pd.read_csv(TEST_DATA / "yayoi-bad-flags.csv", encoding="cp932", dtype=str,
                     header=None, keep_default_na=False)  # fmt: skip
    assert yb.shape == (6, 25) and yb.iloc[3, 0] == "2100"
    for p in TEST_DATA.iterdir():
        if p.name != "README.md" and p.suffix in (".csv", ".xlsx"):
            assert p.stat().st_size < 1_000_000, p
    report.append(f"tests/data: {len(list(TEST_DATA.iterdir()))} files checked")
    report.append(check_generator())
    return report


# --------------------------------------------------------------------------- main


def write_all() -> None:
    SAMPLES.mkdir(exist_ok=True)
    month = build_month_sample()
    write_jobcan_csv(month, SAMPLES / "jobcan-2026-10.csv")
    write_jobcan_xlsx(month, SAMPLES / "jobcan-2026-10.xlsx")
    yayoi = build_yayoi_sample()
    write_yayoi_csv(yayoi, SAMPLES / "yayoi-2026-10.csv")
    broken_rows, broken_problems = build_broken_sample()
    write_jobcan_csv(broken_rows, SAMPLES / "broken-2026-10.csv")
    write_samples_readme(SAMPLES / "README.md", _doc_stats(month), yayoi, broken_rows,
                         broken_problems)  # fmt: skip
    purposes = build_test_data(TEST_DATA)
    write_test_data_readme(TEST_DATA / "README.md", purposes)


def main(argv: Sequence[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--check-only", action="store_true", help="only check the files on disk")
    ap.add_argument("--no-check", action="store_true", help="write without checking")
    ap.add_argument("--big", type=int, metavar="N", help="write N random documents to --out")
    ap.add_argument("-o", "--out", type=Path, help="output path for --big")
    ap.add_argument("--seed", type=int, default=1, help="seed for --big (default 1)")
    ap.add_argument("--messy", type=float, default=0.0, help="messy_rate for --big")
    ap.add_argument("--xlsx", action="store_true", help="--big: write an .xlsx instead of CSV")
    args = ap.parse_args(argv)
    if args.big is not None:
        if args.out is None:
            ap.error("--big needs --out")
        t0 = time.perf_counter()
        rows = iter_jobcan_rows(args.big, args.seed, messy_rate=args.messy)
        n = write_jobcan_xlsx(rows, args.out) if args.xlsx else write_jobcan_csv(rows, args.out)
        print(f"{args.out}: {args.big} documents, {n} rows in {time.perf_counter() - t0:.1f} s",
              file=sys.stderr)  # fmt: skip
        return 0
    if not args.check_only:
        write_all()
    if not args.no_check:
        for line in check_all():
            print(line, file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
