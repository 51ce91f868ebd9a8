"""Conformance table: every rule of the FX reference, checked from both sides independently.

One row per rule of ``fx-cloud-api.txt`` (slips/import fields and rules, master endpoint
parameters): the field, the rule, the reference's wording, and a minimal case that breaks
exactly that rule —

* the FX side: a request body (a valid one, changed in one place) that the emulator must refuse
  (400 naming the field, 403) or answer with the documented みなし information;
* the client side, one of
  - ``Source``: source rows / mapping tables / settings that ``converter check`` must flag with a
    message naming the field (exit code ≠ 0);
  - ``Built``: a rule the client meets by construction (it numbers, splits and chunks itself):
    every body it builds for the sample month and a larger generated month must keep it;
  - ``Stops``: an FX answer the client cannot foresee (rights, company): the run must stop with
    FX's reason.

A rule only one side enforces is a failing row. Client rows not enforced yet are marked
``xfail(strict=True)``, so they turn red the day the client learns the rule (remove the mark then).
"""

from __future__ import annotations

import copy
import dataclasses
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import factories
import httpx
import pytest
import yaml
from click.testing import CliRunner
from conftest import (
    EMULATOR_HEADERS,
    EMULATOR_PREFIX,
    EMULATOR_TOKEN,
    MAPPINGS,
    ROOT,
    SAMPLES,
    make_mappings,
    sale,
    to_csv,
)

from converter.cli import main
from converter.config.settings import load_settings
from converter.convert.pipeline import Options, convert
from converter.emulator.server import Emulator, load_seed
from converter.errors import FXAPIError, FXAuthError
from converter.fx.client import FXClient, RetryPolicy
from converter.fx.masters import pull_masters

TOKEN = EMULATOR_TOKEN
HEADERS = EMULATOR_HEADERS
PREFIX = EMULATOR_PREFIX
H5 = "client rule: h5"
Body = dict[str, Any]


# --------------------------------------------------------------------------- the FX side


def line(pos: int, dc: int, cd_act: str, amount: int, **extra: Any) -> dict[str, Any]:
    return {"pos_dsp": pos, "is_ocr_dc": dc, "cd_act": cd_act, "amnt_tr": amount, **extra}


def valid_body() -> Body:
    """One slip FX accepts as it is: 売掛金 (取引先 000001) / 売上高 10% (部門 001)."""
    return {"slips": [{
        "ymd_tr": "2026-10-01", "journo": "1", "journo_read": "1", "cd_coopsystem": "EX",
        "detail": [line(1, 1, "1161", 110000, cd_cstm="000001", rcj_slip="10月分"),
                   line(1, 0, "4111", 110000, cd_dep="001", tptn="1", cmtxrate=1000,
                        is_reduce_cmtxrate=0, amnt_cmtx=10000, rcj_slip="10月分")]}]}


def slip_(b: Body) -> dict[str, Any]:
    s: dict[str, Any] = b["slips"][0]
    return s


def dr(b: Body) -> dict[str, Any]:
    d: dict[str, Any] = slip_(b)["detail"][0]
    return d


def cr(b: Body) -> dict[str, Any]:
    d: dict[str, Any] = slip_(b)["detail"][1]
    return d


def on(target: Callable[[Body], dict[str, Any]], **values: Any) -> Callable[[Body], None]:
    """Set (or, with None, delete) fields of the slip / a detail line."""

    def mutate(b: Body) -> None:
        t = target(b)
        for k, v in values.items():
            if v is None:
                t.pop(k, None)
            else:
                t[k] = v

    return mutate


def both(**values: Any) -> Callable[[Body], None]:
    def mutate(b: Body) -> None:
        on(dr, **values)(b)
        on(cr, **values)(b)

    return mutate


def receipt(**aux: Any) -> Callable[[Body], None]:
    """普通預金 (口座 given by ``aux``) / 売掛金: a fund slip whose 資金相手科目 has defaults."""

    def mutate(b: Body) -> None:
        slip_(b)["detail"] = [line(1, 1, "1131", 5000, **aux),
                              line(1, 0, "1161", 5000, cd_cstm="000001")]

    return mutate


def expense_in_cash(b: Body) -> None:
    """雑費 / 現金: mixes fund and non-fund accounts; 雑費 has no 資金相手科目 default."""
    slip_(b)["detail"] = [line(1, 1, "7421", 1100, tptn="11", cmtxrate=1000, amnt_cmtx=100),
                          line(1, 0, "1111", 1100)]


def many_slips(b: Body) -> None:
    b["slips"] = [copy.deepcopy(slip_(b)) | {"journo_read": str(i + 1)} for i in range(1001)]


def chain(*steps: Callable[[Body], None]) -> Callable[[Body], None]:
    def mutate(b: Body) -> None:
        for step in steps:
            step(b)

    return mutate


# --------------------------------------------------------------------------- the client side


@dataclass(frozen=True)
class Source:
    """A source (rows + mapping tables + settings) that `converter check` must flag."""

    rows: Callable[[], list[dict[str, str]]] = lambda: [sale()]
    tables: Mapping[str, Callable[[str], str]] = dataclasses.field(default_factory=dict)
    settings: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    cache: bool = True  # with the FX master cache (`converter masters pull`)


@dataclass(frozen=True)
class Built:
    """The client builds it; every body it builds must satisfy ``holds``."""

    holds: Callable[[Sequence[Body]], bool]


@dataclass(frozen=True)
class Stops:
    """An FX answer the client cannot foresee: the run must stop with FX's reason."""

    company: Mapping[str, Any] = dataclasses.field(default_factory=dict)
    ocode: str = "tc09999001"


@dataclass(frozen=True)
class Row:
    id: str
    field: str
    rule: str
    reference: str  # the reference's wording
    breaks: Callable[[Body], None]
    fx_says: str  # a text every FX error (or the information) of this case contains
    client: Source | Built | Stops
    names: tuple[str, ...] = ()  # a client problem names one of these (FX field first)
    fx: str = "400"  # "400", "403", "404" or "info"
    company: Mapping[str, Any] = dataclasses.field(default_factory=dict)  # the emulator company's settings
    client_gap: bool = False  # the client does not enforce it yet (strict xfail)


def replace(old: str, new: str) -> Callable[[str], str]:
    def edit(text: str) -> str:
        assert old in text, (old, text)
        return text.replace(old, new)

    return edit


def append(extra: str) -> Callable[[str], str]:
    return lambda text: text + extra


def cash_row(**over: str) -> dict[str, str]:
    row = {"date": "2026/10/01", "kind": "経費", "doc": "EXP-1", "dr": "雑費", "dr_tax": "課税仕入10%",
           "dr_amt": "1100", "dr_taxamt": "100", "cr": "現金", "cr_tax": "対象外", "cr_amt": "1100",
           "memo": "文具"}
    row.update(over)
    return row


def receipt_row(**over: str) -> dict[str, str]:
    row = {"date": "2026/10/01", "kind": "入金", "doc": "PAY-1", "ccode": "C-001", "dr": "普通預金",
           "dr_sub": "みずほ銀行", "dr_tax": "対象外", "dr_amt": "5000", "cr": "売掛金", "cr_tax": "対象外",
           "cr_amt": "5000", "memo": "入金"}
    row.update(over)
    return row


def purchase_row(**over: str) -> dict[str, str]:
    row = {"date": "2026/10/01", "kind": "仕入", "doc": "PUR-1", "ccode": "C-001", "dr": "仕入高",
           "dr_dep": "営業部", "dr_tax": "課税仕入10%", "dr_amt": "11000", "dr_taxamt": "1000",
           "cr": "買掛金", "cr_tax": "対象外", "cr_amt": "11000", "memo": "仕入"}
    row.update(over)
    return row


def too_many_lines() -> list[dict[str, str]]:
    """61 debit lines and one credit line: no balanced split keeps a side within 60 lines."""
    debit = [{"date": "2026/10/01", "kind": "売上", "doc": "BIG", "ccode": "C-001", "dr": "売掛金",
              "dr_tax": "対象外", "dr_amt": "100", "memo": f"{i}"} for i in range(61)]
    credit = {"date": "2026/10/01", "kind": "売上", "doc": "BIG", "cr": "売上高", "cr_dep": "営業部",
              "cr_tax": "対象外", "cr_amt": "6100", "memo": "計"}
    return [*debit, credit]


EXTRA_ACCOUNTS = '- {account: 雑費, cd_act: "7421"}\n- {account: 現金, cd_act: "1111"}\n'
LONG = "あ" * 21  # 42 columns: one past 40


# Properties of the bodies the client builds (Built rows).
def lines_of(bodies: Sequence[Body]) -> Iterator[dict[str, Any]]:
    return (d for b in bodies for s in b["slips"] for d in s["detail"])


def slips_of(bodies: Sequence[Body]) -> Iterator[dict[str, Any]]:
    return (s for b in bodies for s in b["slips"])


def digits(text: Any, most: int) -> bool:
    return isinstance(text, str) and re.fullmatch(rf"[0-9]{{1,{most}}}", text) is not None


SEED_ACCOUNTS = {a["cd_act"]: a for a in load_seed(None)["accounts"] if not a["cd_auxact"]}


def no_tax_on_accounts_without_tax(bodies: Sequence[Body]) -> bool:
    return all(not d.get("cmtxrate") and not d.get("amnt_cmtx") and d.get("tptn", "") in ("", "0")
               for d in lines_of(bodies) if SEED_ACCOUNTS[d["cd_act"]]["catcmtx"] == 2)


def departments_only_where_managed(bodies: Sequence[Body]) -> bool:
    return all(SEED_ACCOUNTS[d["cd_act"]]["is_usedep"] == 1 for d in lines_of(bodies) if d.get("cd_dep"))


def autocalc_consistent(bodies: Sequence[Body]) -> bool:
    def matches(d: dict[str, Any]) -> bool:
        exact = d["amnt_tr"] * d.get("cmtxrate", 0) / (10000 + d.get("cmtxrate", 0))
        return abs(d.get("amnt_cmtx", 0) - exact) < 1

    return all(matches(d) for d in lines_of(bodies) if d.get("is_autocalccmtx") == 1)


ROWS: list[Row] = [
    # ---- slip (仕訳) fields
    Row("ymd_tr", "ymd_tr", "a real date, 8 digits or zero-padded / -",
        "取引年月日(8桁、またはハイフン、スラッシュ区切りで入力可能 ※例: '20210101, 2022-01-01, 2022/01/01')",
        on(slip_, ymd_tr="2026-02-30"), "取引年月日",
        Source(rows=lambda: [sale(date="2026/02/30")], cache=False), ("ymd_tr", "取引日")),
    Row("journo", "journo", "半角数字 ≤ 5", "伝票番号(半角数字のみ minLength: 0, maxLength: 5)",
        on(slip_, journo="123456"), "伝票番号",
        Built(lambda bs: all(digits(s["journo"], 5) for s in slips_of(bs) if "journo" in s))),
    Row("journo_read", "journo_read", "半角数字 ≤ 6",
        "当該仕訳と連携元システムの取引とを対応させるための番号(半角数字のみ minLength: 0, maxLength: 6)",
        on(slip_, journo_read="1234567"), "連携元対応番号",
        Built(lambda bs: all(digits(s.get("journo_read", "0"), 6) for s in slips_of(bs)))),
    Row("vouno", "vouno", "半角英数字 ≤ 6", "証憑書番号(半角英数字のみ minLength: 0, maxLength: 6)",
        on(slip_, vouno="A-1"), "証憑番号",
        Built(lambda bs: all(re.fullmatch(r"[0-9A-Za-z]{0,6}", s.get("vouno", "")) for s in slips_of(bs)))),
    Row("vouno_digits", "vouno", "半角数字 when 証憑番号「数字のみ入力」",
        "証憑番号を「数字のみ入力」の設定の場合、半角数字", on(slip_, vouno="A1"), "証憑番号",
        Built(lambda bs: all(s.get("vouno", "").isdigit() for s in slips_of(bs) if s.get("vouno"))),
        company={"vouno_digits_only": True}),
    Row("cd_coopsystem", "cd_coopsystem", "Length 2",
        "連携システムコード(Length: 2 API契約締結時に振り出したシステムコード)",
        on(slip_, cd_coopsystem="EXX"), "連携システムコード",
        Source(settings={"cd_coopsystem": "EXX"}, cache=False), ("cd_coopsystem",)),
    Row("cd_coopsystem_required", "cd_coopsystem", "required", '"required": ["ymd_tr", "cd_coopsystem", "detail"]',
        on(slip_, cd_coopsystem=None), "連携システムコード",
        Source(settings={"cd_coopsystem": None}, cache=False), ("cd_coopsystem",)),
    Row("fund_required", "cd_fbcat/cd_fbbdcat", "required on slips mixing fund and non-fund accounts",
        "「資金科目」と「非資金科目」の両方を含む仕訳を入力した際に「収支区分」と「内訳区分」の入力が必須入力",
        expense_in_cash, "区分",
        Source(rows=lambda: [cash_row()], tables={"accounts.yaml": append(EXTRA_ACCOUNTS)}),
        ("cd_fbcat", "収支区分")),
    Row("cd_fbcat", "cd_fbcat", "01–12", "収支区分(Length: 2 「'01 ~ 12'」のみ)",
        chain(expense_in_cash, on(slip_, cd_fbcat="13", cd_fbbdcat="03")), "収支区分",
        Built(lambda bs: all(s.get("cd_fbcat", "01") in {f"{i:02d}" for i in range(1, 13)}
                             for s in slips_of(bs)))),
    Row("cd_fbbdcat", "cd_fbbdcat", "01–99", "内訳区分(Length: 2 「'01 ~ 99'」のみ)",
        chain(expense_in_cash, on(slip_, cd_fbcat="02", cd_fbbdcat="00")), "内訳区分",
        Built(lambda bs: all(s.get("cd_fbbdcat", "01") in {f"{i:02d}" for i in range(1, 100)}
                             for s in slips_of(bs)))),
    *[Row(f"{flag}_value", flag, "0 or 1", "有効値: 0~1", on(slip_, **{flag: 2}), label,
          Source(settings={flag: 2}, cache=False), (flag,))
      for flag, label in (("is_add_depmaster", "部門マスター自動追加区分"),
                          ("is_add_cstmmaster", "取引先マスター自動追加区分"),
                          ("is_add_auxmaster", "口座マスター自動追加区分"))],
    Row("detail_2000", "detail", "≤ 2000 detail lines per request",
        "※合計で2000明細を超える仕訳を1回で送った場合、エラー", many_slips, "2000明細",
        Built(lambda bs: all(sum(len(s["detail"]) for s in b["slips"]) <= 2000 for b in bs))),
    Row("required_keys", "detail/pos_dsp/is_ocr_dc/cd_act/amnt_tr/ymd_tr", "required keys",
        '"required": ["pos_dsp", "is_ocr_dc", "cd_act", "amnt_tr"] / ["ymd_tr", "cd_coopsystem", "detail"]',
        on(cr, cd_act=None), "勘定科目コード",
        Built(lambda bs: all({"ymd_tr", "cd_coopsystem", "detail"} <= s.keys() for s in slips_of(bs))
              and all({"pos_dsp", "is_ocr_dc", "cd_act", "amnt_tr"} <= d.keys() for d in lines_of(bs)))),
    # ---- detail (仕訳明細) fields
    Row("pos_dsp", "pos_dsp", "1–60", "有効値: 1~60(1仕訳の明細部は最大60明細まで入力可能、61以上の値はエラー)",
        on(cr, pos_dsp=61), "表示位置", Source(rows=too_many_lines, cache=False), ("pos_dsp", "60")),
    Row("pos_dsp_unique", "pos_dsp", "one line per side and position",
        "1仕訳に対して、同一の貸借、同一の表示位置に複数の仕訳を入力した場合、仕訳として正しくないためエラー",
        lambda b: slip_(b)["detail"].insert(1, {**dr(b), "amnt_tr": 0}), "同一の貸借",
        Built(lambda bs: all(len({(d["is_ocr_dc"], d["pos_dsp"]) for d in s["detail"]}) == len(s["detail"])
                             for s in slips_of(bs)))),
    Row("is_ocr_dc", "is_ocr_dc", "0 or 1", "借方か貸方か(1:借方, 0:貸方)", on(cr, is_ocr_dc=2), "貸借区分",
        Built(lambda bs: all(d["is_ocr_dc"] in (0, 1) for d in lines_of(bs)))),
    Row("balance", "amnt_tr", "Σ debit = Σ credit per slip", "(仕訳の論理的なチェック)",
        on(cr, amnt_tr=100000, amnt_cmtx=9090), "借方合計と貸方合計",
        Source(rows=lambda: [sale(cr_amt="100000", cr_taxamt="9090")], cache=False), ("balance", "貸借")),
    Row("cd_dep", "cd_dep", "半角数字 3", "部門コード 有効値: 半角数字(3 character)", on(cr, cd_dep="01"), "部門コード",
        Source(tables={"departments.yaml": replace('"001"', '"01"')}, cache=False), ("cd_dep",)),
    Row("cd_dep_required", "cd_dep", "required on department-managed accounts",
        "「部門別管理を利用する」の設定かつ…部門管理される科目を入力した場合、必須入力", on(cr, cd_dep=None),
        "部門コード", Source(rows=lambda: [sale(cr_dep="")]), ("cd_dep", "部門")),
    Row("cd_dep_master", "cd_dep", "in the master unless is_add_depmaster 1",
        "部門コードが必須入力かつ、マスターに存在しない部門コードを入力した際に、is_add_depmasterが1であれば"
        "部門マスターに自動で登録され、0であればエラー", on(cr, cd_dep="555"), "部門コード",
        Source(tables={"departments.yaml": replace('"001"', '"555"')}), ("cd_dep", "部門")),
    Row("nm_dep", "nm_dep", "≤ 40 columns", "部門名 有効値: 全角20、半角40文字まで入力可(40 character)",
        on(cr, nm_dep=LONG), "部門名",
        Source(rows=lambda: [sale(cr_dep=LONG)],
               tables={"departments.yaml": append(f'- {{department: {LONG}, cd_dep: "555"}}\n')},
               settings={"is_add_depmaster": 1}, cache=False), ("nm_dep", "部門名")),
    Row("cd_act", "cd_act", "半角数字 4", "勘定科目コード 有効値: 半角数字4桁(4 character)", on(cr, cd_act="411"),
        "勘定科目コード", Source(tables={"accounts.yaml": replace('"4111"', '"411"')}, cache=False), ("cd_act",)),
    Row("cd_act_master", "cd_act", "an account FX has",
        "勘定科目コードが入力されていないか、誤った勘定科目コードが入力されています", on(cr, cd_act="4999"),
        "勘定科目コード", Source(tables={"accounts.yaml": replace('"4111"', '"4999"')}), ("cd_act", "勘定科目")),
    Row("cd_auxact", "cd_auxact", "半角大文字英数字 2", "口座コード 有効値: 半角大文字英数字2桁(2 character)",
        receipt(cd_auxact="a1"), "口座コード",
        Source(rows=lambda: [receipt_row()], tables={"accounts.yaml": replace('cd_auxact: "01"', 'cd_auxact: "a1"')},
               cache=False), ("cd_auxact",)),
    Row("cd_auxact_required", "cd_auxact", "required on 口座-managed accounts",
        "科目が口座別元帳管理されている場合は必須入力", receipt(), "口座コード",
        Source(rows=lambda: [receipt_row(dr_sub="")]), ("cd_auxact", "口座")),
    Row("cd_auxact_master", "cd_auxact", "in the master unless is_add_auxmaster 1",
        "口座コードが必須入力かつ、マスターに存在しない口座コードを入力した際に、is_add_auxmasterが1であれば"
        "口座マスターに自動で登録され、0であればエラー", receipt(cd_auxact="09"), "口座コード",
        Source(rows=lambda: [receipt_row()], tables={"accounts.yaml": replace('cd_auxact: "01"', 'cd_auxact: "09"')}),
        ("cd_auxact", "口座")),
    Row("nm_auxact", "nm_auxact", "≤ 40 columns", "口座名 有効値: 全角20、半角40文字まで入力可(40 character)",
        receipt(cd_auxact="01", nm_auxact=LONG), "口座名",
        Source(rows=lambda: [receipt_row(dr_sub=LONG)],
               tables={"accounts.yaml": append(
                   f'- {{account: 普通預金, sub_account: {LONG}, cd_act: "1131", cd_auxact: "09"}}\n')},
               settings={"is_add_auxmaster": 1}, cache=False), ("nm_auxact", "口座名")),
    Row("cd_cstm", "cd_cstm", "半角数字 6", "取引先コード 有効値: 半角数字6桁(6 character)", on(dr, cd_cstm="12345"),
        "取引先コード", Source(tables={"customers.yaml": replace('"000001"', '"12345"')}, cache=False), ("cd_cstm",)),
    Row("cd_cstm_required", "cd_cstm", "required on customer-ledger accounts, also for 随時の取引先",
        "科目が取引先別元帳管理されている場合は、取引先コードが必須入力", on(dr, cd_cstm=None, nm_cstm="随時商店"),
        "取引先コード", Source(rows=lambda: [sale(ccode="", cname="随時商店")]), ("cd_cstm", "取引先")),
    Row("cd_cstm_master", "cd_cstm", "in the master unless is_add_cstmmaster 1",
        "マスターに存在しないコードを指定した場合かつ、is_add_cstmmasterが1の場合、自動でマスターに登録される",
        on(dr, cd_cstm="777777"), "取引先コード",
        Source(tables={"customers.yaml": replace('"000001"', '"777777"')}), ("cd_cstm", "取引先")),
    Row("nm_cstm", "nm_cstm", "≤ 40 columns", "取引先名 有効値: 全角20文字、半角40文字まで入力可(40 character)",
        on(dr, nm_cstm=LONG), "取引先名", Source(rows=lambda: [sale(ccode="", cname=LONG)], cache=False),
        ("nm_cstm", "取引先名")),
    Row("tptn", "tptn", "半角数字 ≤ 2", "課税区分(minLength: 0, maxLength: 2) 有効値: 半角数字(2 character)",
        on(cr, tptn="111"), "課税区分",
        Source(tables={"tax.yaml": replace('{tax: 課税売上10%, tptn: "1"', '{tax: 課税売上10%, tptn: "111"')},
               cache=False), ("tptn",)),
    Row("tptn_required", "tptn", "required when FX makes the 消費税申告書",
        "「消費税申告書を作成する」の設定の場合には必須入力", on(cr, tptn=None), "課税区分",
        Source(rows=lambda: [sale(cr_tax="", cr_taxamt="")], settings={"fx_tax_return": 1}, cache=False),
        ("tptn", "課税区分")),
    Row("tbptn", "tbptn", "半角数字 ≤ 2", "事業区分(minLength: 0, maxLength: 2) 有効値: 半角数字(2 character)",
        on(cr, tbptn="123"), "事業区分",
        Source(tables={"tax.yaml": replace('cmtxrate: 1000, is_reduce_cmtxrate: 0}',
                                           'cmtxrate: 1000, is_reduce_cmtxrate: 0, tbptn: "123"}')}, cache=False),
        ("tbptn",)),
    Row("tbptn_required", "tbptn", "required with 主たる事業区分 and tptn 1 or 11",
        "主たる事業区分を管理する設定になっているかつ、課税区分が1または11を入力した場合には必須入力",
        lambda b: None, "事業区分", Source(settings={"fx_main_business": 1}, cache=False), ("tbptn", "事業区分"),
        company={"manages_main_business": True}),
    Row("amnt_tr", "amnt_tr", "±99,999,999,999", "取引金額 有効値: -99999999999~99999999999",
        both(amnt_tr=100_000_000_000), "取引金額",
        Source(rows=lambda: [sale(amount=100_000_000_000, tax=0, cr_tax="対象外", cr_taxamt="")], cache=False),
        ("amnt_tr", "金額")),
    Row("amnt_tr_integer", "amnt_tr", "an integer", "amnt_tr number (required) … 有効値: -99999999999~99999999999",
        both(amnt_tr=110000.5), "取引金額",
        Source(rows=lambda: [sale(dr_amt="110000.5", cr_amt="110000.5")], cache=False), ("amnt_tr", "金額")),
    Row("amnt_cmtx", "amnt_cmtx", "±99,999,999,999", "消費税額 有効値: -99999999999~99999999999",
        on(cr, amnt_cmtx=100_000_000_000), "消費税額",
        Source(rows=lambda: [sale(cr_taxamt="100000000000")], cache=False), ("amnt_cmtx", "消費税")),
    Row("amnt_cmtx_required", "amnt_cmtx", "required under 税抜経理 when tax arises",
        "消費税申告書を作成する設定かつ、税抜き経理かつ、消費税が発生する取引の場合には必須入力",
        on(cr, amnt_cmtx=None), "消費税額",
        Source(rows=lambda: [sale(cr_taxamt="")], settings={"fx_tax_return": 1, "fx_tax_exclusive": 1},
               cache=False), ("amnt_cmtx", "消費税額"), company={"tax_excluded": True}),
    Row("is_reduce_cmtxrate", "is_reduce_cmtxrate", "0 or 1", "軽減税率か否か 有効値: 0~1",
        on(cr, is_reduce_cmtxrate=2), "軽減税率区分",
        Source(tables={"tax.yaml": replace("800, is_reduce_cmtxrate: 1", "800, is_reduce_cmtxrate: 2")},
               cache=False), ("is_reduce_cmtxrate",)),
    Row("cmtxrate", "cmtxrate", "0–9999",
        "消費税率(minimum: 0, maximum: 9999 ※税率を100倍した値を入力 例: 10%の場合には1000を入力)",
        on(cr, cmtxrate=10000), "消費税率",
        Source(tables={"tax.yaml": replace('tptn: "1", cmtxrate: 1000', 'tptn: "1", cmtxrate: 10000')}, cache=False),
        ("cmtxrate",)),
    Row("cmtxrate_table", "cmtxrate", "a rate of the 税率テーブル on the date",
        "「税率テーブル」で登録されている消費税のみ入力が可能", on(cr, cmtxrate=800), "消費税率",
        Source(tables={"tax.yaml": replace('tptn: "1", cmtxrate: 1000', 'tptn: "1", cmtxrate: 800')}),
        ("cmtxrate", "税率")),
    Row("is_autocalccmtx", "is_autocalccmtx", "0 or 1", "消費税額自動計算か否か 有効値: 0~1",
        on(cr, is_autocalccmtx=3), "消費税額自動計算区分",
        Built(lambda bs: all(d.get("is_autocalccmtx", 0) in (0, 1) for d in lines_of(bs)))),
    Row("autocalc_mismatch", "amnt_cmtx", "自動計算 with a tax that does not match → stored as 0 (みなし)",
        "「1: 消費税額自動計算」であっても、取引金額と税率から求めた消費税額と、指定された消費税額が不一致であれば、"
        "0として更新する", on(cr, is_autocalccmtx=1, amnt_cmtx=9999), "消費税額を0として", Built(autocalc_consistent),
        fx="info"),
    Row("cat_purday", "cat_purday", "0, 1, 2, 3, 4, 9", "仕入れ日入力区分 有効値: 0, 1, 2, 3, 4, 9",
        on(cr, cat_purday=5), "仕入れ日入力区分",
        Source(tables={"tax.yaml": replace("cat_purday: 9", "cat_purday: 5")}, cache=False), ("cat_purday",)),
    Row("ymd_purday_required", "ymd_purday1/ymd_purday2", "required by cat_purday 1–4",
        "仕入れの取引で、仕入れ年月日を入力する課税区分の場合には必須入力 … "
        "仕入れ日入力区分 入力形式 仕入れ日1 仕入れ日2",
        on(dr, cat_purday=2, ymd_purday1="20261001"), "仕入れ日2",
        Source(rows=lambda: [purchase_row()], tables={"tax.yaml": replace("cat_purday: 9", "cat_purday: 2")},
               cache=False), ("ymd_purday", "仕入")),
    Row("ymd_purday_format", "ymd_purday1", "a date, zero-padded",
        "2022/6/1のように、ゼロパディングされていない値は更新不可",
        on(dr, cat_purday=1, ymd_purday1="2026/10/1"), "仕入れ日1",
        Built(lambda bs: all(re.fullmatch(r"[0-9]{8}|[0-9]{4}([-/])[0-9]{2}\1[0-9]{2}", d[k])
                             for d in lines_of(bs) for k in ("ymd_purday1", "ymd_purday2") if d.get(k)))),
    Row("rcj_slip", "rcj_slip", "≤ 80 columns", "元帳摘要 有効値: 全角40、半角80文字まで入力可(80 character)",
        on(cr, rcj_slip="摘" * 41), "元帳摘要", Source(rows=lambda: [sale(memo="摘" * 41)], cache=False),
        ("rcj_slip", "摘要")),
    # ---- みなし処理 and answers that stop the run
    Row("minashi_tax", "cmtxrate/amnt_cmtx/tptn", "unneeded tax values are zeroed (みなし)",
        "「現金 / 当座預金」の仕訳に対して、税率や消費税額をいれた場合…0でみなして更新され、その旨がinformations"
        "という項目で取得される", on(dr, cmtxrate=1000, amnt_cmtx=10000, tptn="1"), "税率・税額を0",
        Built(no_tax_on_accounts_without_tax), fx="info"),
    Row("minashi_dep", "cd_dep", "a 部門 on an account without departments is erased (みなし)",
        "部門コードが不要な取引です。部門コードを消去して読込みました", on(dr, cd_dep="001"), "部門コードを消去",
        Built(departments_only_where_managed), fx="info"),
    Row("forbidden_add", "is_add_cstmmaster", "403 when adding a master without the right",
        "取引先をマスターに追加する際に取引先の更新権限がない", chain(on(slip_, is_add_cstmmaster=1),
                                                       on(dr, cd_cstm="777777", nm_cstm="新取引先")),
        "取引先の更新権限", Stops(company={"may_update_customers": False}), fx="403",
        company={"may_update_customers": False}),
    Row("unknown_company", "ocode", "404 for an ocode/locale FX does not know", "企業コード / システム識別子 (URI)",
        lambda b: None, "該当するデータがありません", Stops(ocode="tc00000000"), fx="404"),
]


def _params(rows: list[Row]) -> list[Any]:
    out = []
    for r in rows:
        marks = [pytest.mark.xfail(strict=True, reason=H5)] if r.client_gap else []
        out.append(pytest.param(r, id=r.id, marks=marks))
    return out


# --------------------------------------------------------------------------- FX side tests


def post(emu: Emulator, body: Body, ocode: str = "tc09999001") -> httpx.Response:
    with httpx.Client(transport=emu.transport(), base_url="http://fx.test", headers=HEADERS) as http:
        return http.post(f"/fx/{ocode}/tfa/api/v2/slips/import", json=body)


def test_the_valid_body_is_valid() -> None:
    r = post(Emulator(), valid_body())
    assert (r.status_code, r.json()) == (201, {"status": 201})


@pytest.mark.parametrize("row", [pytest.param(r, id=r.id) for r in ROWS])
def test_fx_refuses_the_case(row: Row) -> None:
    emu = Emulator(company=row.company)
    body = valid_body()
    row.breaks(body)
    ocode = row.client.ocode if isinstance(row.client, Stops) else "tc09999001"
    r = post(emu, body, ocode)
    if row.fx == "info":
        assert r.status_code == 201, r.text
        assert [row.fx_says in i["content"] for i in r.json()["informations"]] == [True], r.text
        return
    assert r.status_code == int(row.fx), r.text
    key = "content" if row.fx == "400" else "message"
    texts = [e[key] for e in r.json()["errors"]]
    assert texts and all(row.fx_says in t for t in texts), texts  # exactly this rule
    assert emu.stored_slips() == []


# --------------------------------------------------------------------------- client side tests


@pytest.fixture
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FX_API_TOKEN", TOKEN)


def _write_settings(folder: Path, changes: Mapping[str, Any]) -> None:
    path = folder / "settings.yaml"
    data = yaml.safe_load(path.read_text("utf-8"))
    for k, v in changes.items():
        if v is None:
            data.pop(k, None)
        else:
            data[k] = v
    path.write_text(yaml.safe_dump(data, allow_unicode=True), "utf-8")


def check_source(tmp_path: Path, src: Source) -> tuple[int, str]:
    folder = make_mappings(tmp_path / "mappings")
    if src.cache:
        pull_masters(folder, load_settings(folder), transport=Emulator().transport(),
                     retry=RetryPolicy(attempts=1))
    for name, edit in src.tables.items():
        (folder / name).write_text(edit((folder / name).read_text("utf-8")), "utf-8")
    _write_settings(folder, src.settings)
    csv = tmp_path / "in.csv"
    csv.write_bytes(to_csv(src.rows()).encode("cp932"))
    result = CliRunner().invoke(main, ["check", str(csv), "-m", str(folder), "--format", "json"])
    assert "Traceback" not in result.output
    return result.exit_code, result.output


def test_the_valid_source_is_valid(tmp_path: Path, token: None) -> None:
    """Each Source row changes this one (clean, with and without the master cache) in one place."""
    for name, cache in (("without", False), ("with", True)):
        code, out = check_source(tmp_path / name, Source(cache=cache))
        assert code == 0, out


def _problem_texts(output: str) -> str:
    try:
        report = json.loads(output)
    except ValueError:
        return output  # a configuration error: one message, exit 2
    return json.dumps(report["problems"], ensure_ascii=False)


@pytest.fixture(scope="module")
def built_bodies(tmp_path_factory: pytest.TempPathFactory) -> list[Body]:
    """Bodies the client builds: the sample month, and a generated month over 2000 lines."""
    big = tmp_path_factory.mktemp("big") / "month.csv"
    factories.write_jobcan_csv(factories.generate_jobcan_rows(1200, 7), big)
    bodies = []
    for path in (SAMPLES / "jobcan-2026-10.csv", big):
        result = convert([path], MAPPINGS, Options(use_masters=False))
        bodies += [r.body for r in result.requests]
    assert sum(1 for _ in lines_of(bodies)) > 2000 and len(bodies) >= 3
    return bodies


def stop_message(stops: Stops) -> str:
    emu = Emulator(company=stops.company)
    body = valid_body()
    on(slip_, is_add_cstmmaster=1)(body)
    on(dr, cd_cstm="777777", nm_cstm="新取引先")(body)
    with FXClient("http://127.0.0.1:1", stops.ocode, TOKEN, transport=emu.transport(),
                  retry=RetryPolicy(attempts=1)) as client, pytest.raises(FXAPIError) as err:
        client.import_slips(json.dumps(body).encode())
    assert emu.stored_slips() == []
    if stops.ocode == "tc09999001":
        assert isinstance(err.value, FXAuthError)
    return str(err.value)


@pytest.mark.parametrize("row", _params(ROWS))
def test_client_meets_the_rule(row: Row, tmp_path: Path, token: None, request: pytest.FixtureRequest) -> None:
    client = row.client
    if isinstance(client, Source):
        code, output = check_source(tmp_path, client)
        assert code != 0, f"check says nothing about {row.field}: {output[:400]}"
        texts = _problem_texts(output)
        assert any(name in texts for name in row.names), f"no problem names {row.names}: {texts[:600]}"
    elif isinstance(client, Built):
        bodies = request.getfixturevalue("built_bodies")
        assert client.holds(bodies), f"a body the client built breaks {row.id}"
    else:
        message = stop_message(client)
        assert row.fx in message and row.fx_says in message, message
        if row.fx == "404":
            assert "settings.yaml の ocode" in message


# --------------------------------------------------------------------------- master endpoints


@dataclass(frozen=True)
class Param:
    endpoint: str  # path after /api/
    name: str
    reference: str
    valid: Callable[[str], bool]
    bad: str  # a value the reference does not allow


def one_of(*values: str) -> Callable[[str], bool]:
    return lambda v: v in values


def is_date(v: str) -> bool:
    return re.fullmatch(r"[0-9]{8}|[0-9]{4}([-/])[0-9]{2}\1[0-9]{2}", v) is not None


SORTABLE = ("cd_cstm", "nm_cstm", "kana_cstm", "initwd_cstm", "nm_cstmbo", "kana_cstmbo", "ord_dsp")
PARAMS = [
    Param("v3/accounts", "is_act_only", "1: 勘定科目の情報のみを取得する / 0: 口座の情報もあわせて取得する",
          one_of("0", "1"), "2"),
    Param("v3/accounts", "cat_fs", "1:貸借対照表 2:損益計算書 3:製造原価報告書 (指定しなかった場合、全て)",
          one_of("0", "1", "2", "3"), "4"),
    Param("v3/accounts", "is_dsp_allaux", "1: すべての口座を取得する / 0: 一覧表示設定で表示するとした口座のみ",
          one_of("0", "1"), "2"),
    Param("v1/consumptiontaxrates", "ymd_tr", "取引年月日 (8桁 / スラッシュ / ハイフン、ゼロパディング)", is_date,
          "2019-10-1"),
    Param("v3/customers", "is_dsp_all", "1: すべての取引先を取得する / 0: 一覧表示設定で表示するとした取引先のみ",
          one_of("0", "1"), "2"),
    Param("v3/customers", "cat_cstmrltn", "1: 得意先 2: 仕入先 3: 取引先+仕入先 4: その他", one_of("1", "2", "3", "4"),
          "5"),
    Param("v3/customers", "keyword", "あいまい検索 (URLエンコード)", lambda v: True, ""),
    Param("v3/customers", "offset", "取得レコードのオフセット", lambda v: v.isdigit(), "-1"),
    Param("v3/customers", "limit", "取得レコードの件数 (min: 1, max: 1000)",
          lambda v: v.isdigit() and 1 <= int(v) <= 1000, "1001"),
    Param("v3/customers", "sort", "cd_cstm, nm_cstm, kana_cstm, initwd_cstm, nm_cstmbo, kana_cstmbo, ord_dsp; -で降順",
          lambda v: all(s.lstrip("-") in SORTABLE for s in v.split(",")), "phoneno1"),
    Param("v2/departments", "is_dsp_all", "1: すべての部門を取得する / 0: 一覧表示設定で表示するとした部門のみ",
          one_of("0", "1"), "2"),
]


@pytest.mark.parametrize("param", [pytest.param(p, id=f"{p.endpoint}?{p.name}") for p in PARAMS if p.bad])
def test_fx_refuses_a_parameter_value_the_reference_does_not_allow(param: Param) -> None:
    emu = Emulator()
    with httpx.Client(transport=emu.transport(), base_url="http://fx.test", headers=HEADERS) as http:
        assert http.get(f"{PREFIX}/{param.endpoint}", params={param.name: param.bad}).status_code == 400
        # and the endpoint answers a valid value
        good = {"ymd_tr": "20261001", "sort": "-nm_cstm,cd_cstm", "offset": "0", "limit": "1000"}.get(param.name, "1")
        assert param.valid(good)
        assert http.get(f"{PREFIX}/{param.endpoint}", params={param.name: good}).status_code == 200


def test_masters_pull_sends_only_parameters_the_reference_gives(tmp_path: Path, token: None) -> None:
    emu = Emulator(extra_customers=1100)
    seen: list[httpx.Request] = []
    inner = emu.transport()

    def recording(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return inner.handle_request(request)

    folder = make_mappings(tmp_path / "mappings")
    pull_masters(folder, load_settings(folder), transport=httpx.MockTransport(recording),
                 retry=RetryPolicy(attempts=1))
    documented = {(p.endpoint, p.name): p for p in PARAMS}
    endpoints = {"v3/accounts", "v1/consumptiontaxrates", "v3/customers", "v2/departments",
                 "v1/fundbalancebreakdowns", "v1/inpjourconfig"}
    called = set()
    for request in seen:
        endpoint = request.url.path.split("/api/", 1)[1]
        assert endpoint in endpoints, endpoint
        called.add(endpoint)
        for name, value in parse_qsl(request.url.query.decode(), keep_blank_values=True):
            param = documented.get((endpoint, name))
            assert param is not None, f"{endpoint}: {name} is not a parameter the reference gives"
            assert param.valid(value), f"{endpoint}?{name}={value}"
    assert called == endpoints


def test_every_row_quotes_the_reference() -> None:
    """The wording is the reference's: each quoted fragment appears in fx-cloud-api.txt."""
    text = (ROOT.parent / "shared" / "reference" / "fx-cloud-api.txt")
    if not text.exists():
        pytest.skip("the reference is not beside this checkout")
    body = re.sub(r"\s+", "", text.read_text("utf-8"))
    for row in ROWS:
        fragments = [f for f in re.split(r"…|/|\(仕訳の論理的なチェック\)|\s", row.reference) if len(f) >= 6]
        for fragment in fragments:
            assert re.sub(r"\s+", "", fragment) in body, (row.id, fragment)
    assert len({r.id for r in ROWS}) == len(ROWS)


def test_rows_cover_every_field_of_the_slips_import_schema() -> None:
    fields = {"ymd_tr", "journo", "journo_read", "vouno", "cd_coopsystem", "cd_fbcat", "cd_fbbdcat",
              "is_add_depmaster", "is_add_cstmmaster", "is_add_auxmaster", "detail", "pos_dsp", "is_ocr_dc",
              "cd_dep", "nm_dep", "cd_act", "cd_auxact", "nm_auxact", "cd_cstm", "nm_cstm", "tptn", "tbptn",
              "amnt_tr", "amnt_cmtx", "is_reduce_cmtxrate", "cmtxrate", "is_autocalccmtx", "cat_purday",
              "ymd_purday1", "ymd_purday2", "rcj_slip"}
    covered = {f for r in ROWS for f in r.field.split("/")}
    assert fields - covered == set()
