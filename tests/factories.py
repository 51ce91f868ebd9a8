"""The sample generator: realistic ジョブカン 取引明細 months (and 弥生 lines) for tests, the
benchmark and ``scripts/make_samples.py`` (which writes ``samples/`` and ``tests/data/`` with it).

Deterministic: every random choice comes from a seeded :class:`random.Random`; nothing depends
on the clock, the locale, hash randomisation or the machine. Tests import it as ``factories``
(tests/ is on pytest's path, like conftest); the benchmark and the script load it by path::

    from factories import generate_jobcan_rows, iter_jobcan_rows, write_jobcan_csv
    rows = generate_jobcan_rows(1000, seed=1, messy_rate=0.05)     # list[dict[str, str]]
    write_jobcan_csv(iter_jobcan_rows(700_000, seed=1), "big.csv")  # streams, constant memory

Every value the generated rows use (accounts, 補助科目, tax texts, departments, customer codes)
exists in ``mappings/*.yaml``, which map onto the FX masters of the sample company
``tc09999001`` (``converter/emulator/data/emulator_seed.json``); ``scripts/make_samples.py``
checks it.
"""

from __future__ import annotations

import csv
import json
import random
import re
import shutil
import unicodedata
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import date, datetime, timedelta
from operator import itemgetter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
SAMPLES = ROOT / "samples"
TEST_DATA = ROOT / "tests" / "data"
MAPPINGS = ROOT / "mappings"
SEED_JSON = ROOT / "converter" / "emulator" / "data" / "emulator_seed.json"

MONTH_SEED = 20261001
MONTH_START = date(2026, 10, 1)

# --------------------------------------------------------------------------- source layouts

JOBCAN_COLUMNS: tuple[str, ...] = (
    "取引日", "取引種別", "帳票番号", "ステータス", "締切", "取引先コード", "取引先名",
    "借方勘定科目", "借方補助科目", "借方部門", "借方税区分", "借方金額", "借方消費税額",
    "貸方勘定科目", "貸方補助科目", "貸方部門", "貸方税区分", "貸方金額", "貸方消費税額",
    "摘要", "案件",
)  # fmt: skip
AMOUNT_COLUMNS = ("借方金額", "借方消費税額", "貸方金額", "貸方消費税額")
YAYOI_COLUMNS: tuple[str, ...] = (
    "識別フラグ", "伝票No", "決算", "取引日付",
    "借方勘定科目", "借方補助科目", "借方部門", "借方税区分", "借方金額", "借方税金額",
    "貸方勘定科目", "貸方補助科目", "貸方部門", "貸方税区分", "貸方金額", "貸方税金額",
    "摘要", "番号", "期日", "タイプ", "生成元", "仕訳メモ", "付箋1", "付箋2", "調整",
)  # fmt: skip

# --------------------------------------------------------------------------- vocabulary

SALES, RECEIPT, PURCHASE, PAYMENT = "売上", "入金", "仕入", "支払"
PREFIX = {SALES: "INV", RECEIPT: "RCV", PURCHASE: "PUR", PAYMENT: "PAY"}

AR, SALES_ACT, BANK, FEE = "売掛金", "売上高", "普通預金", "支払手数料"
AP, PURCHASE_ACT = "買掛金", "仕入高"
BANKS = ("みずほ銀行", "三井住友銀行")

TAX_S10, TAX_S8 = "課税売上10%", "課税売上8%(軽減)"
TAX_P10, TAX_P8 = "課税仕入10%", "課税仕入8%(軽減)"
TAX_OUT = "対象外"
RATE = {TAX_S10: 10, TAX_S8: 8, TAX_P10: 10, TAX_P8: 8}

DEPARTMENTS = ("営業部", "開発部", "管理部", "共通")

#: Jobcan 取引先コード → 取引先名 (the names are the FX master names of 000001–000020).
CUSTOMERS: dict[str, str] = {
    "C-001": "A商店",
    "C-002": "株式会社北斗商事",
    "C-003": "有限会社みなと印刷",
    "C-004": "株式会社さくらシステム",
    "C-005": "東西物産株式会社",
    "C-006": "株式会社ひかりデザイン",
    "C-007": "合同会社あおば企画",
    "C-008": "株式会社富士テクノ",
    "C-009": "山田工務店",
    "C-010": "株式会社中央フーズ",
    "C-011": "株式会社丸の内コンサルティング",
    "C-012": "有限会社青空運輸",
    "C-013": "株式会社ミライ電機",
    "C-014": "株式会社こだま食品",
    "C-015": "株式会社イースト・ウィンド",
    "C-016": "株式会社ソラリス",
    "C-017": "株式会社グリーンリーフ",
    "C-018": "株式会社まるいち",
    "C-019": "株式会社日本橋ソリューションズ",
    "C-020": "株式会社かもめ出版",
}
#: Names mapped by name in customers.yaml (exported without a 取引先コード).
NAME_MAPPED_CUSTOMERS = {"A商店": "000001", "山田工務店": "000009", "その他": "999999"}
#: Customers with no code and no mapping: the converter sends them name-only (nm_cstm).
NAME_ONLY_CUSTOMERS = (
    "佐藤デザイン事務所",
    "スポット顧客 田中商会",
    "株式会社ベイエリア物流",
    "合同会社ノースフィールド",
)
CUSTOMER_CODES = tuple(f"C-{i:03d}" for i in (*range(1, 13), 19, 20))
SUPPLIER_CODES = tuple(f"C-{i:03d}" for i in range(13, 21))

SALES_ITEMS_10 = (
    "システム保守料", "Webサイト制作費", "コンサルティング料", "クラウド利用料", "導入支援費",
    "印刷物制作費", "運用サポート費", "研修講師料", "ライセンス料", "デザイン制作費",
)  # fmt: skip
SALES_ITEMS_8 = ("弁当・飲料", "菓子詰合せ", "飲料ケース", "食品詰合せ")
PURCHASE_ITEMS_10 = ("商品仕入", "部材仕入", "用紙仕入", "ソフトウェア仕入", "周辺機器仕入")
PURCHASE_ITEMS_8 = ("食材仕入", "飲料仕入")
PROJECTS = ("基幹システム更改", "Webサイトリニューアル", "2026年度保守契約", "販促キャンペーン")
FEES = (330, 440, 660, 770, 880)  # tax-inclusive bank transfer fees (10%)

# Styles of the non-taxable side: (税区分, 消費税額). Exports differ; all three must work.
_NON_TAXABLE_STYLES = ((TAX_OUT, ""), (TAX_OUT, "0"), ("", ""))
_NON_TAXABLE_WEIGHTS = (5, 3, 2)

_EMPTY_SIDE = ("", "", "", "", "", "")
_FW_DIGITS = str.maketrans("0123456789,", "０１２３４５６７８９，")
_FW_ASCII = {i: i + 0xFEE0 for i in range(0x21, 0x7F)} | {0x20: 0x3000}
_ROW_VALUES = itemgetter(*JOBCAN_COLUMNS)


def _comma(v: int) -> str:
    return f"{v:,}"


def zenkaku(text: str) -> str:
    """Half-width ASCII → full-width (the way some users type memos)."""
    return text.translate(_FW_ASCII)


def text_width(text: str) -> int:
    """Display width as FX counts it: full-width = 2, half-width = 1 (CP932 byte length)."""
    try:
        return len(text.encode("cp932"))
    except UnicodeEncodeError:
        return sum(2 if unicodedata.east_asian_width(c) in "FWA" else 1 for c in text)


def excel_serial(d: date) -> int:
    return (d - date(1899, 12, 30)).days


# --------------------------------------------------------------------------- document factory

Side = tuple[str, str, str, str, str, str]  # account, sub, department, tax, amount, tax amount
Row = dict[str, str]


class _Factory:
    """Builds jobcan documents (lists of row dicts); numbering follows emission order."""

    def __init__(
        self,
        rng: random.Random,
        *,
        messy_rate: float = 0.0,
        comma_rate: float = 0.3,
        name_only_rate: float = 0.01,
        zero_rate: float = 0.003,
        void_rate: float = 0.006,
        credit_note_rate: float = 0.02,
    ) -> None:
        self.rng = rng
        # Messiness draws from its own stream, so the same seed gives the same documents
        # whatever messy_rate is: normalising messy rows must give the clean rows back.
        self.mess_rng = random.Random(rng.random())
        self.messy_rate = messy_rate
        self.comma_rate = comma_rate
        self.name_only_rate = name_only_rate
        self.zero_rate = zero_rate
        self.void_rate = void_rate
        self.credit_note_rate = credit_note_rate
        self._seq: dict[tuple[str, int, int], int] = {}
        self._date_text: dict[date, str] = {}

    # -- document header -----------------------------------------------------------------
    def _header(
        self, d: date, kind: str, status: str, closed: str | None, customer: tuple[str, str]
    ) -> tuple[str, ...]:
        key = (PREFIX[kind], d.year, d.month)
        n = self._seq.get(key, 0) + 1
        self._seq[key] = n
        text = self._date_text.get(d)
        if text is None:
            text = self._date_text[d] = f"{d.year}/{d.month:02d}/{d.day:02d}"
        if closed is None:
            closed = "締切済" if self.rng.random() < (0.8 if d.day <= 20 else 0.1) else ""
        return (text, kind, f"{key[0]}-{d.year}{d.month:02d}-{n:04d}", status, closed, *customer)

    def _customer(self, codes: Sequence[str]) -> tuple[str, str]:
        rng = self.rng
        if self.name_only_rate and rng.random() < self.name_only_rate:
            return "", rng.choice(NAME_ONLY_CUSTOMERS)
        code = rng.choice(codes)
        return code, CUSTOMERS[code]

    def _fmt(self) -> Callable[[int], str]:
        return _comma if self.rng.random() < self.comma_rate else str

    def _plain(self) -> tuple[str, str]:
        return self.rng.choices(_NON_TAXABLE_STYLES, _NON_TAXABLE_WEIGHTS)[0]

    def _net(self, mu: float, sigma: float, unit: int) -> int:
        v = int(self.rng.lognormvariate(mu, sigma) / unit) * unit
        return min(max(v, unit * 5), 50_000_000)

    def _row(self, h: tuple[str, ...], dr: Side, cr: Side, memo: str, project: str) -> Row:
        row = {
            "取引日": h[0], "取引種別": h[1], "帳票番号": h[2], "ステータス": h[3], "締切": h[4],
            "取引先コード": h[5], "取引先名": h[6],
            "借方勘定科目": dr[0], "借方補助科目": dr[1], "借方部門": dr[2], "借方税区分": dr[3],
            "借方金額": dr[4], "借方消費税額": dr[5],
            "貸方勘定科目": cr[0], "貸方補助科目": cr[1], "貸方部門": cr[2], "貸方税区分": cr[3],
            "貸方金額": cr[4], "貸方消費税額": cr[5],
            "摘要": memo, "案件": project,
        }  # fmt: skip
        if self.messy_rate and self.mess_rng.random() < self.messy_rate:
            self._mess(row)
        return row

    def _mess(self, row: Row) -> None:
        """Rewrite one row in a form that needs normalisation (same meaning)."""
        rng = self.mess_rng
        if row["借方金額"].startswith("-") or row["貸方金額"].startswith("-"):
            triangle = rng.random() < 0.5
            for col in AMOUNT_COLUMNS:
                v = row[col]
                if v.startswith("-"):
                    digits = _comma(int(v[1:].replace(",", "")))
                    row[col] = f"▲{digits}" if triangle else f"({digits})"
            return
        pick = rng.randrange(3)
        if pick == 1:
            y, m, d = row["取引日"].split("/")
            if m[0] == "0" or d[0] == "0":
                row["取引日"] = f"{y}/{int(m)}/{int(d)}"
                return
            pick = 2
        if pick == 2:
            if row["取引先コード"]:
                row["取引先コード"] = f" {row['取引先コード']} "
            else:
                row["帳票番号"] = f"{row['帳票番号']} "
            return
        for col in AMOUNT_COLUMNS:
            v = row[col]
            if v:
                row[col] = _comma(int(v.replace(",", ""))).translate(_FW_DIGITS)

    # -- the four kinds --------------------------------------------------------------------
    def sales(
        self,
        d: date,
        *,
        customer: tuple[str, str] | None = None,
        lines: Sequence[tuple[int, str, str, str]] | None = None,
        status: str | None = None,
        closed: str | None = None,
        memo: str | None = None,
        project: str | None = None,
        sign: int | None = None,
    ) -> list[Row]:
        """請求書: 売掛金 / 売上高, one row per (tax rate, item) line."""
        rng = self.rng
        if status is None:
            status = (
                rng.choice(("破棄", "失注"))
                if self.void_rate and rng.random() < self.void_rate
                else rng.choices(("送付済", "入金済", "作成済"), (6, 3, 1))[0]
            )
        if sign is None:
            sign = -1 if self.credit_note_rate and rng.random() < self.credit_note_rate else 1
        if lines is None:
            zero = bool(self.zero_rate) and rng.random() < self.zero_rate
            dept = "営業部" if rng.random() < 0.7 else "開発部"
            r = rng.random()
            if r < 0.08:  # two tax rates on one invoice
                lines = [
                    (0 if zero else self._net(11.0, 0.8, 1000), TAX_S10, dept,
                     rng.choice(SALES_ITEMS_10)),
                    (0 if zero else self._net(9.5, 0.7, 100), TAX_S8, dept,
                     rng.choice(SALES_ITEMS_8)),
                ]  # fmt: skip
            elif r < 0.14:
                lines = [(0 if zero else self._net(9.8, 0.7, 100), TAX_S8, dept,
                          rng.choice(SALES_ITEMS_8))]  # fmt: skip
            elif r < 0.22:  # two items at 10%
                lines = [
                    (0 if zero else self._net(11.0, 0.8, 1000), TAX_S10, dept, item)
                    for item in rng.sample(SALES_ITEMS_10, 2)
                ]
            else:
                lines = [(0 if zero else self._net(11.4, 0.9, 1000), TAX_S10, dept,
                          rng.choice(SALES_ITEMS_10))]  # fmt: skip
        if customer is None:
            customer = self._customer(CUSTOMER_CODES)
        if project is None:
            project = rng.choice(PROJECTS) if rng.random() < 0.3 else ""
        h = self._header(d, SALES, status, closed, customer)
        fmt, (plain_tax, plain_amt) = self._fmt(), self._plain()
        fullwidth = rng.random() < 0.1
        rows = []
        for net, tax_text, dept, item in lines:
            tax = net * RATE[tax_text] // 100 * sign
            gross = net * sign + tax
            a = fmt(gross)
            if memo is not None:
                text = memo
            else:
                text = f"{d.month}月分 {item}" if sign > 0 else f"返品 {item}"
                if fullwidth:
                    text = zenkaku(text)
            dr = (AR, "", "", plain_tax, a, plain_amt)
            cr = (SALES_ACT, "", dept, tax_text, a, fmt(tax))
            rows.append(self._row(h, dr, cr, text, project))
        return rows

    def receipt(
        self,
        d: date,
        *,
        customer: tuple[str, str] | None = None,
        amount: int | None = None,
        fee: int | None = None,
        bank: str | None = None,
        closed: str | None = None,
    ) -> list[Row]:
        """入金伝票: 普通預金 / 売掛金; with a 振込手数料 it is a compound document."""
        rng = self.rng
        if customer is None:
            customer = self._customer(CUSTOMER_CODES)
        if amount is None:
            amount = 0 if self.zero_rate and rng.random() < self.zero_rate else (
                self._net(11.4, 0.9, 1000) * 11 // 10
            )
        if fee is None:
            fee = rng.choice(FEES) if amount > 5000 and rng.random() < 0.25 else 0
        bank = bank or (BANKS[0] if rng.random() < 0.6 else BANKS[1])
        h = self._header(d, RECEIPT, "", closed, customer)
        fmt, (plain_tax, plain_amt) = self._fmt(), self._plain()
        name = customer[1]
        if not fee:
            a = fmt(amount)
            dr = (BANK, bank, "", plain_tax, a, plain_amt)
            cr = (AR, "", "", plain_tax, a, plain_amt)
            return [self._row(h, dr, cr, f"入金 {name}", "")]
        return [
            self._row(h, (BANK, bank, "", plain_tax, fmt(amount - fee), plain_amt), _EMPTY_SIDE,
                      f"入金 {name}", ""),
            self._row(h, (FEE, "", "", TAX_P10, fmt(fee), fmt(fee * 10 // 110)), _EMPTY_SIDE,
                      "振込手数料", ""),
            self._row(h, _EMPTY_SIDE, (AR, "", "", plain_tax, fmt(amount), plain_amt),
                      f"売掛金消込 {name}", ""),
        ]  # fmt: skip

    def purchase(
        self,
        d: date,
        *,
        customer: tuple[str, str] | None = None,
        lines: Sequence[tuple[int, str, str, str]] | None = None,
        status: str | None = None,
        closed: str | None = None,
        memo: str | None = None,
    ) -> list[Row]:
        """仕入伝票: 仕入高 / 買掛金, one row per line (row-paired, so each row balances)."""
        rng = self.rng
        if lines is None:
            zero = bool(self.zero_rate) and rng.random() < self.zero_rate
            reduced = rng.random() < 0.1
            tax_text = TAX_P8 if reduced else TAX_P10
            items = PURCHASE_ITEMS_8 if reduced else PURCHASE_ITEMS_10
            dept = rng.choices(DEPARTMENTS, (2, 4, 2, 1))[0]
            n = rng.choices((1, 2, 3), (7, 2, 1))[0]
            lines = [
                (0 if zero else self._net(10.6, 0.9, 100), tax_text, dept, rng.choice(items))
                for _ in range(n)
            ]
        if customer is None:
            customer = self._customer(SUPPLIER_CODES)
        if status is None:
            status = "支払済" if rng.random() < 0.4 else "作成済"
        h = self._header(d, PURCHASE, status, closed, customer)
        fmt, (plain_tax, plain_amt) = self._fmt(), self._plain()
        project = rng.choice(PROJECTS) if rng.random() < 0.15 else ""
        rows = []
        for net, tax_text, dept, item in lines:
            tax = net * RATE[tax_text] // 100
            a = fmt(net + tax)
            dr = (PURCHASE_ACT, "", dept, tax_text, a, fmt(tax))
            cr = (AP, "", "", plain_tax, a, plain_amt)
            rows.append(self._row(h, dr, cr, memo or f"{item} {d.month}月分", project))
        return rows

    def payment(
        self,
        d: date,
        *,
        customer: tuple[str, str] | None = None,
        amount: int | None = None,
        fee: int | None = None,
        bank: str | None = None,
        closed: str | None = None,
    ) -> list[Row]:
        """支払: 買掛金 / 普通預金; a paid 振込手数料 makes it compound."""
        rng = self.rng
        if customer is None:
            customer = self._customer(SUPPLIER_CODES)
        if amount is None:
            amount = 0 if self.zero_rate and rng.random() < self.zero_rate else (
                self._net(10.8, 0.9, 100) * 11 // 10
            )
        if fee is None:
            fee = rng.choice(FEES) if amount and rng.random() < 0.2 else 0
        bank = bank or (BANKS[0] if rng.random() < 0.6 else BANKS[1])
        h = self._header(d, PAYMENT, "", closed, customer)
        fmt, (plain_tax, plain_amt) = self._fmt(), self._plain()
        name = customer[1]
        if not fee:
            a = fmt(amount)
            dr = (AP, "", "", plain_tax, a, plain_amt)
            cr = (BANK, bank, "", plain_tax, a, plain_amt)
            return [self._row(h, dr, cr, f"買掛金支払 {name}", "")]
        return [
            self._row(h, (AP, "", "", plain_tax, fmt(amount), plain_amt), _EMPTY_SIDE,
                      f"買掛金支払 {name}", ""),
            self._row(h, (FEE, "", "", TAX_P10, fmt(fee), fmt(fee * 10 // 110)), _EMPTY_SIDE,
                      "振込手数料", ""),
            self._row(h, _EMPTY_SIDE, (BANK, bank, "", plain_tax, fmt(amount + fee), plain_amt),
                      f"振込 {name}", ""),
        ]  # fmt: skip

    def random_document(self, d: date, kind: str) -> list[Row]:
        if kind == SALES:
            return self.sales(d)
        if kind == RECEIPT:
            return self.receipt(d)
        if kind == PURCHASE:
            return self.purchase(d)
        return self.payment(d)


_KINDS = (SALES, RECEIPT, PURCHASE, PAYMENT)
_KIND_WEIGHTS = (42, 30, 16, 12)


def _draw_dates(rng: random.Random, n: int, start: date, days: int) -> list[date]:
    """n dates in [start, start+days): weekdays busy, weekends quiet, month-end busiest."""
    calendar = [start + timedelta(i) for i in range(days)]
    weights = []
    for i, d in enumerate(calendar):
        w = 0.1 if d.weekday() >= 5 else 1.0
        if i >= days - 3:
            w *= 2.5
        weights.append(w)
    picked = rng.choices(range(days), weights, k=n)
    picked.sort()
    return [calendar[i] for i in picked]


# --------------------------------------------------------------------------- public API


def iter_jobcan_rows(
    n_documents: int,
    seed: int,
    *,
    start: date = MONTH_START,
    days: int = 31,
    messy_rate: float = 0.0,
    comma_rate: float = 0.3,
) -> Iterator[dict[str, str]]:
    """Yield the rows of ``n_documents`` random jobcan documents (≈1.3 rows per document).

    Documents come in date order, numbered per kind and month (``INV-202610-0001`` …).
    Mix: 売上 42 % (8 % of them with two tax rates, 2 % credit notes with negative amounts),
    入金 30 % (25 % compound with a 振込手数料 line), 仕入 16 % (1–3 lines), 支払 12 %;
    about 1 % name-only customers, 0.3 % 0円 documents, 0.6 % 破棄/失注 invoices. Every
    document balances and every value is in ``mappings/``. ``messy_rate`` = fraction of rows
    rewritten in forms needing normalisation (full-width digits ``１１０，０００``, ``▲1,000`` /
    ``(1,000)`` on credit notes, ``2026/10/1`` dates, stray spaces around codes).
    """
    rng = random.Random(seed)
    factory = _Factory(rng, messy_rate=messy_rate, comma_rate=comma_rate)
    kinds = rng.choices(_KINDS, _KIND_WEIGHTS, k=n_documents)
    for d, kind in zip(_draw_dates(rng, n_documents, start, days), kinds, strict=True):
        yield from factory.random_document(d, kind)


def generate_jobcan_rows(
    n_documents: int,
    seed: int,
    *,
    start: date = MONTH_START,
    days: int = 31,
    messy_rate: float = 0.0,
    comma_rate: float = 0.3,
) -> list[dict[str, str]]:
    """The rows of :func:`iter_jobcan_rows` as a list (keys = :data:`JOBCAN_COLUMNS`)."""
    return list(
        iter_jobcan_rows(
            n_documents, seed, start=start, days=days, messy_rate=messy_rate, comma_rate=comma_rate
        )
    )


def write_jobcan_csv(
    rows: Iterable[dict[str, str]], path: str | Path, encoding: str = "cp932"
) -> int:
    """Write a jobcan 取引明細 CSV (header + rows, CRLF, minimal quoting); return the row count.

    ``encoding``: ``cp932`` (what Jobcan exports), ``utf-8-sig`` (with BOM) or ``utf-8``.
    """
    n = 0
    with open(path, "w", encoding=encoding, newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        writer.writerow(JOBCAN_COLUMNS)
        for row in rows:
            writer.writerow(_ROW_VALUES(row))
            n += 1
    return n


def _amount_cell(text: str) -> int | str | None:
    if text == "":
        return None
    try:
        return int(text.replace(",", ""))
    except ValueError:
        return text


def _date_cell(text: str) -> date | str:
    try:
        return datetime.strptime(text, "%Y/%m/%d").date()
    except ValueError:
        return text


def write_jobcan_xlsx(rows: Iterable[dict[str, str]], path: str | Path) -> int:
    """Write the rows as an Excel workbook: 取引日 as date cells, amounts as numeric cells.

    Text that starts with ``=`` is stored as text, never as a formula.
    """
    from openpyxl import Workbook
    from openpyxl.cell import WriteOnlyCell
    from openpyxl.styles import Font

    wb = Workbook(write_only=True)
    ws = wb.create_sheet("取引明細")
    ws.freeze_panes = "A2"
    widths = {"取引日": 11, "帳票番号": 17, "取引先名": 30, "摘要": 40, "案件": 20}
    for i, col in enumerate(JOBCAN_COLUMNS):
        letter = ws.column_dimensions[_col_letter(i)]
        letter.width = widths.get(col, 14)
    bold = Font(bold=True)
    header = []
    for col in JOBCAN_COLUMNS:
        c = WriteOnlyCell(ws, value=col)
        c.font = bold
        header.append(c)
    ws.append(header)
    amount_idx = {JOBCAN_COLUMNS.index(c) for c in AMOUNT_COLUMNS}
    n = 0
    for row in rows:
        cells: list[Any] = []
        for i, value in enumerate(_ROW_VALUES(row)):
            if i == 0:
                v = _date_cell(value)
                if isinstance(v, date):
                    c = WriteOnlyCell(ws, value=v)
                    c.number_format = "yyyy/mm/dd"
                    cells.append(c)
                else:
                    cells.append(v)
            elif i in amount_idx:
                amount = _amount_cell(value)
                if isinstance(amount, int):
                    c = WriteOnlyCell(ws, value=amount)
                    c.number_format = "#,##0"
                    cells.append(c)
                else:
                    cells.append(amount)
            elif value.startswith("="):
                c = WriteOnlyCell(ws, value=value)
                c.data_type = "s"  # keep it text: a formula here would be an injection
                cells.append(c)
            else:
                cells.append(value if value != "" else None)
        ws.append(cells)
        n += 1
    _save_reproducibly(wb, path)
    return n


_FIXED_TIME = datetime(2026, 11, 1, 9, 0, 0)


def _save_reproducibly(wb: Any, path: str | Path) -> None:
    """Save a workbook byte-for-byte reproducibly: fixed document properties and zip times."""
    import zipfile

    wb.properties.creator = "scripts/make_samples.py"
    wb.properties.created = wb.properties.modified = _FIXED_TIME
    wb.save(path)
    stamp = _FIXED_TIME.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
    with zipfile.ZipFile(path) as zin:
        entries = [(info, zin.read(info)) for info in zin.infolist()]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as zout:
        for info, data in entries:
            if info.filename == "docProps/core.xml":  # openpyxl stamps `modified` on save
                data = re.sub(
                    rb"(<dcterms:modified[^>]*>)[^<]*", rb"\g<1>" + stamp, data
                )
            fixed = zipfile.ZipInfo(info.filename, date_time=_FIXED_TIME.timetuple()[:6])
            fixed.compress_type = zipfile.ZIP_DEFLATED
            fixed.external_attr = info.external_attr
            zout.writestr(fixed, data)


def _col_letter(i: int) -> str:
    from openpyxl.utils import get_column_letter

    return get_column_letter(i + 1)


def write_yayoi_csv(lines: Iterable[Sequence[str]], path: str | Path) -> int:
    """Write 弥生 仕訳日記帳 lines (25 fields, no header, CP932, CRLF)."""
    n = 0
    with open(path, "w", encoding="cp932", newline="") as f:
        writer = csv.writer(f, lineterminator="\r\n")
        for line in lines:
            assert len(line) == len(YAYOI_COLUMNS), line
            writer.writerow(line)
            n += 1
    return n


# --------------------------------------------------------------------------- samples/jobcan

# --------------------------------------------------------------------------- mappings for uploads


def _load_yaml_list(path: Path) -> list[dict[str, Any]]:
    import yaml

    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, list), path
    return data


def load_mapping_keys(folder: Path = MAPPINGS) -> dict[str, set[Any]]:
    acc = _load_yaml_list(folder / "accounts.yaml")
    tax = _load_yaml_list(folder / "tax.yaml")
    dep = _load_yaml_list(folder / "departments.yaml")
    cst = _load_yaml_list(folder / "customers.yaml")
    return {
        "accounts": {(e["account"], e.get("sub_account", "")) for e in acc},
        "tax": {e["tax"] for e in tax},
        "departments": {e["department"] for e in dep},
        "customer_codes": {e["customer_code"] for e in cst if "customer_code" in e},
        "customer_names": {e["customer"] for e in cst if "customer" in e},
    }


def write_upload_mappings(folder: Path, source: Path = MAPPINGS) -> Path:
    """``source`` copied to ``folder`` with every NAME_ONLY_CUSTOMERS mapped to FX's catch-all
    取引先 その他 (999999, ``is_adj``: "特定の取引先に限らない仕訳に関しては、この取引先で仕訳を入力する").

    FX requires a 取引先コード on 売掛金/買掛金 (取引先別元帳, ``is_usecstmldgr``), and the emulator
    enforces it, so a generated export's 随時の取引先 cannot go name-only there. The product's
    answer is settings.yaml's ``one_off_customer_code``, which needs the master cache; uploads
    rehearsed without a cache (tests, the benchmark) use this copy instead. The master cache
    folder is not copied.
    """
    shutil.copytree(source, folder, dirs_exist_ok=True, ignore=shutil.ignore_patterns("masters"))
    with (folder / "customers.yaml").open("a", encoding="utf-8") as fh:
        fh.write("# upload rehearsal without a master cache: 随時の取引先 → その他 (write_upload_mappings)\n")
        fh.writelines(f'- {{customer: {json.dumps(name, ensure_ascii=False)}, cd_cstm: "999999"}}\n'
                      for name in NAME_ONLY_CUSTOMERS)
    return folder
