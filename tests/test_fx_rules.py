"""Issue 16, client side: every FX rule once (converter/fx_rules.py), and check/payload right.

Each test here failed before the rule it names was put right.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import MAPPINGS, SAMPLES, make_mappings, sale

from converter import fx_rules
from converter.cli import main
from converter.config.settings import load_settings
from converter.config.tables import load_mappings
from converter.convert.pipeline import Conversion, Options, convert
from converter.emulator.server import Emulator
from converter.errors import ConfigError
from converter.fx.client import FXClient, RetryPolicy
from converter.fx.masters import pull_masters

WriteCsv = Callable[..., Path]
TOKEN = "emulator-token"


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FX_API_TOKEN", TOKEN)


def with_masters(folder: Path) -> Path:
    """Pull the emulator's sample company into ``folder``'s master cache."""
    pull_masters(folder, load_settings(folder), transport=Emulator().transport(),
                 retry=RetryPolicy(attempts=1, sleep=lambda _: None))
    return folder


def set_settings(folder: Path, **values: Any) -> None:
    path = folder / "settings.yaml"
    path.write_text(path.read_text("utf-8") + "".join(f"{k}: {json.dumps(v)}\n" for k, v in values.items()), "utf-8")


def replace_table(folder: Path, table: str, text: str) -> None:
    (folder / f"{table}.yaml").write_text(text, "utf-8")


def details(conversion: Conversion) -> list[dict[str, Any]]:
    assert conversion.ok, conversion.problems
    return [d for r in conversion.requests for s in r.body["slips"] for d in s["detail"]]


def send(conversion: Conversion, emu: Emulator) -> list[Any]:
    with FXClient("http://127.0.0.1:8765", "tc09999001", TOKEN, transport=emu.transport()) as client:
        return [client.import_slips(r.to_json()) for r in conversion.requests]


# --------------------------------------------------------------------------- code formats: ASCII only


@pytest.mark.parametrize(("field", "good", "bad"), [
    ("cd_act", "7411", "７４１１"), ("cd_dep", "001", "００１"), ("cd_cstm", "000001", "００００01"),
    ("tptn", "11", "１１"), ("tbptn", "1", "１"), ("journo", "12345", "１2345"), ("journo_read", "999999", "٩٩"),
    ("cd_auxact", "A1", "Ａ1"), ("cd_fbcat", "12", "13"), ("cd_fbbdcat", "99", "00"),
    ("ymd", "2026-10-01", "２026-10-01"),
])
def test_code_patterns_take_half_width_digits_only(field: str, good: str, bad: str) -> None:
    assert fx_rules.is_code(field, good)
    assert not fx_rules.is_code(field, bad)


@pytest.mark.parametrize(("table", "text", "key"), [
    ("accounts", '- {account: 支払手数料, cd_act: "７４１１"}\n', "cd_act"),
    ("departments", '- {department: 営業部, cd_dep: "００１"}\n', "cd_dep"),
    ("customers", '- {customer_code: C-001, cd_cstm: "０００００１"}\n', "cd_cstm"),
    ("tax", '- {tax: 課税売上10%, tptn: "１", cmtxrate: 1000}\n', "tptn"),
    ("tax", '- {tax: 課税売上10%, tptn: "1", tbptn: "１", cmtxrate: 1000}\n', "tbptn"),
])
def test_full_width_codes_in_mapping_tables_are_refused(tmp_path: Path, table: str, text: str, key: str) -> None:
    folder = make_mappings(tmp_path / "m")
    replace_table(folder, table, text)
    with pytest.raises(ConfigError) as err:
        load_mappings(folder)
    (problem,) = err.value.problems
    assert problem.startswith(f"{table}.yaml:1行: {key} の値") and "半角" in problem


def test_one_off_customer_code_must_be_six_half_width_digits(tmp_path: Path) -> None:
    folder = make_mappings(tmp_path / "m")
    set_settings(folder, one_off_customer_code="９９９９９９")
    with pytest.raises(ConfigError) as err:
        load_settings(folder)
    assert err.value.problems == [
        "one_off_customer_code: 随時の取引先に使う FX の取引先コード(cd_cstm) です。半角数字 6 桁を引用符で囲んで"
        "書いてください ('９９９９９９')"]


# --------------------------------------------------------------------------- ymd_purday by cat_purday


def test_cat_purday_1_and_3_send_the_purchase_date(tmp_path: Path, write_csv: WriteCsv) -> None:
    folder = make_mappings(tmp_path / "m")
    replace_table(folder, "tax", "\n".join([
        '- {tax: 対象外, tptn: "0"}',
        '- {tax: 仕入日, tptn: "11", cmtxrate: 1000, cat_purday: 1}',
        '- {tax: 仕入月分, tptn: "11", cmtxrate: 1000, cat_purday: 3}',
        '- {tax: 仕入不要, tptn: "11", cmtxrate: 1000, cat_purday: 9}', ""]))
    taxes = (("P1", "仕入日"), ("P2", "仕入月分"), ("P3", "仕入不要"))
    rows = [purchase(doc, tax, date="2026/10/17") for doc, tax in taxes]
    lines = [d for d in details(convert([write_csv(rows)], folder)) if d["cd_act"] == "5211"]
    assert [(d["cat_purday"], d.get("ymd_purday1"), d.get("ymd_purday2")) for d in lines] == [
        (1, "2026-10-17", None), (3, "2026-10-01", None), (9, None, None)]
    emu = Emulator()
    assert [r.outcome for r in send(convert([write_csv(rows)], folder), emu)] == ["stored"]
    stored = [d.get("ymd_purday1") or "" for s in emu.stored_slips() for d in s["slip"]["detail"]
              if d["cd_act"] == "5211"]
    assert [day.replace("-", "").replace("/", "") for day in stored] == ["20261017", "20261001", ""]


@pytest.mark.parametrize("category", [2, 4])
def test_cat_purday_needing_a_period_end_is_a_problem(tmp_path: Path, write_csv: WriteCsv, category: int) -> None:
    folder = make_mappings(tmp_path / "m")
    replace_table(folder, "tax", f'- {{tax: 対象外, tptn: "0"}}\n- {{tax: 仕入期間, tptn: "11", cmtxrate: 1000, '
                                 f"cat_purday: {category}}}\n")
    result = convert([write_csv([purchase("P1", "仕入期間"), purchase("P2", "仕入期間")])], folder)
    (p,) = result.problems
    assert (p.row, p.column, p.value, p.rule) == (2, "借方税区分 → cat_purday", "仕入期間", "ymd_purday_required")
    assert p.message == (
        f"仕入れ日入力区分(cat_purday) {category} には仕入れ日2(ymd_purday2: 期間の終わり) が必要ですが、"
        "ジョブカンの書き出しにはありません (2 行: 2, 3)。tax.yaml の「仕入期間」の cat_purday を 1 "
        "(取引日を仕入れ日1(ymd_purday1) として送ります)、3 (取引日の月分) か 9 (入力不要) にしてください")


def purchase(doc: str, tax: str, **over: str) -> dict[str, str]:
    return sale(doc, 11000, 1000, kind="仕入", dr="仕入高", dr_tax=tax, dr_dep="営業部", dr_taxamt="1000",
                cr="買掛金", cr_tax="対象外", cr_dep="", cr_taxamt="", **over)


# --------------------------------------------------------------------------- names with codes FX may add


def test_names_go_with_codes_fx_may_add(tmp_path: Path, write_csv: WriteCsv) -> None:
    folder = make_mappings(tmp_path / "m")
    row = sale(cname="A商店", dr="普通預金", dr_sub="みずほ銀行", dr_tax="", kind="入金", cr="売掛金",
               cr_tax="", cr_dep="", cr_taxamt="")
    plain = details(convert([write_csv([sale(), row])], folder))
    assert not any({"nm_dep", "nm_auxact", "nm_cstm"} & set(d) for d in plain)
    set_settings(folder, is_add_depmaster=1, is_add_auxmaster=1, is_add_cstmmaster=1)
    added = {(d["cd_act"], d["is_ocr_dc"]): d for d in details(convert([write_csv([sale(), row])], folder))}
    sales, bank, receipt = added[("4111", 0)], added[("1131", 1)], added[("1161", 0)]
    assert (sales["cd_dep"], sales["nm_dep"]) == ("001", "営業部")
    assert (bank["cd_auxact"], bank["nm_auxact"]) == ("01", "みずほ銀行")
    assert (receipt["cd_cstm"], receipt["nm_cstm"]) == ("000001", "A商店")


def test_a_name_fx_would_refuse_is_a_problem(tmp_path: Path, write_csv: WriteCsv) -> None:
    folder = make_mappings(tmp_path / "m")
    set_settings(folder, is_add_depmaster=1)
    replace_table(folder, "departments", '- {department: 第一営業本部国際事業推進室アジア太平洋担当, cd_dep: "001"}\n')
    result = convert([write_csv([sale(cr_dep="第一営業本部国際事業推進室アジア太平洋担当")])], folder)
    (p,) = result.problems
    assert (p.column, p.rule) == ("貸方部門 → nm_dep", "nm_dep_width") and "部門名(nm_dep)が 40 桁" in p.message


# --------------------------------------------------------------------------- cd_cstm on customer-ledger accounts


def test_name_only_customer_on_a_customer_ledger_account_is_a_problem(tmp_path: Path, write_csv: WriteCsv) -> None:
    folder = with_masters(make_mappings(tmp_path / "m"))
    result = convert([write_csv([sale(ccode="", cname="佐藤商事")])], folder)
    (p,) = result.problems
    assert (p.row, p.column, p.value, p.rule) == (2, "取引先名", "佐藤商事", "customer_required")
    assert p.message == (
        "売掛金(cd_act 1161) は FX で取引先別管理の科目 (is_usecstmldgr=1) です。取引先コード(cd_cstm) が必須で、"
        "取引先名(nm_cstm) だけ (随時の取引先) では FX はエラーにします (1 行: 2)。customers.yaml で「佐藤商事」に"
        " FX の取引先コードを割り当てるか、settings.yaml の one_off_customer_code に随時の取引先用の取引先コードを"
        "書いてください (取引先名は摘要に入れます)")


def test_one_off_customer_code_takes_the_name_to_the_memo(tmp_path: Path, write_csv: WriteCsv) -> None:
    folder = make_mappings(tmp_path / "m")
    set_settings(folder, one_off_customer_code="999999")
    with_masters(folder)
    rows = [sale("X1", ccode="", cname="佐藤商事"), sale("X2", ccode="", cname="佐藤商事", memo="い" * 38),
            sale("X3", ccode="", cname="佐藤商事", memo="入金 佐藤商事")]
    result = convert([write_csv(rows)], folder)
    lines = details(result)
    receivable = [d for d in lines if d["cd_act"] == "1161"]
    assert [(d["cd_cstm"], "nm_cstm" in d, d["rcj_slip"]) for d in receivable] == [
        ("999999", False, "10月分 佐藤商事"), ("999999", False, "い" * 38),  # the second does not fit in 80
        ("999999", False, "入金 佐藤商事")]  # the third has it already
    assert sorted(n.message for n in result.notices if n.rule == "one_off_customer") == sorted([
        "売掛金(cd_act 1161) は FX で取引先別管理の科目 (is_usecstmldgr=1) のため、取引先コード(cd_cstm) を "
        "settings.yaml の one_off_customer_code 999999 にして送ります (随時の取引先「佐藤商事」: 取引先名は"
        "摘要(rcj_slip) に入れました) (1 行: 2)",
        "売掛金(cd_act 1161) は FX で取引先別管理の科目 (is_usecstmldgr=1) のため、取引先コード(cd_cstm) を "
        "settings.yaml の one_off_customer_code 999999 にして送ります (随時の取引先「佐藤商事」: 摘要(rcj_slip) が "
        "80 桁を超えるため取引先名は FX に残りません) (1 行: 3)。"
        "customers.yaml で取引先コードを割り当てると名前が残ります",
        "売掛金(cd_act 1161) は FX で取引先別管理の科目 (is_usecstmldgr=1) のため、取引先コード(cd_cstm) を "
        "settings.yaml の one_off_customer_code 999999 にして送ります (随時の取引先「佐藤商事」: 取引先名は"
        "摘要(rcj_slip) にあります) (1 行: 4)",
    ])
    emu = Emulator()
    assert [r.outcome for r in send(result, emu)] == ["stored"]


def test_yayoi_advice_names_yayoi_not_jobcan(tmp_path: Path) -> None:
    folder = make_mappings(tmp_path / "m")
    for table in ("accounts", "tax", "departments", "customers"):
        (folder / f"{table}.yaml").write_bytes((MAPPINGS / f"{table}.yaml").read_bytes())
    with_masters(folder)
    result = convert([SAMPLES / "yayoi-2026-10.csv"], folder, Options(profile="yayoi"))
    assert {p.rule for p in result.problems} == {"customer_required"}
    assert all("弥生会計で取引先を入れて書き出し直すか" in p.message and "ジョブカン" not in p.message
               for p in result.problems)


# --------------------------------------------------------------------------- without a master cache


def test_check_without_masters_says_once_what_it_did_not_check(write_csv: WriteCsv, mappings: Path) -> None:
    result = CliRunner().invoke(main, ["check", str(write_csv([sale(), sale("B")])), "-m", str(mappings)])
    assert result.exit_code == 0
    unchecked = [line for line in result.stdout.splitlines() if line.startswith("未確認")]
    assert unchecked == [
        "未確認: FX マスターのキャッシュがないため、次のルールは確認していません: 勘定科目コード(cd_act) が FX の科目に"
        "あるか (master_account)、口座・部門・取引先のコードが FX のマスターにあるか (master_auxact / "
        "master_department / master_customer)、口座別・部門・取引先別管理の科目に cd_auxact / cd_dep / cd_cstm が"
        "あるか (随時の取引先は取引先別管理の科目では不可) (auxact_required / department_required / "
        "customer_required)、消費税率(cmtxrate) が取引日に FX の税率テーブルにあるか (tax_rate)、資金科目と非資金"
        "科目を含む仕訳の収支区分(cd_fbcat)・内訳区分(cd_fbbdcat) (fund_category)。"
        f"converter masters pull -m {mappings} で取得すると確認します"]
    with_masters(mappings)
    again = CliRunner().invoke(main, ["check", str(write_csv([sale()])), "-m", str(mappings), "--format", "json"])
    assert again.exit_code == 0 and json.loads(again.stdout)["unchecked"] == []


# --------------------------------------------------------------------------- company settings FX does not expose


def test_tax_return_needs_tptn_and_rates(tmp_path: Path, write_csv: WriteCsv) -> None:
    folder = make_mappings(tmp_path / "m")
    rows = [sale(dr_tax="")]  # 売掛金 with no 税区分
    assert convert([write_csv(rows)], folder).ok
    set_settings(folder, fx_tax_return=1)
    (p,) = convert([write_csv(rows)], folder).problems
    assert (p.row, p.column, p.rule) == (2, "借方税区分", "tptn_required")
    assert p.message.startswith(
        "settings.yaml の fx_tax_return: 1 (FX で消費税申告書を作成する) のため課税区分(tptn) が必須です")
    replace_table(folder, "tax", '- {tax: 対象外, tptn: "0"}\n- {tax: 課税売上10%, tptn: "1"}\n')
    (p,) = convert([write_csv([sale()])], folder).problems
    assert (p.column, p.value, p.rule) == ("貸方税区分", "課税売上10%", "cmtxrate_required")


def test_tax_exclusive_needs_the_tax_amount(tmp_path: Path, write_csv: WriteCsv) -> None:
    folder = make_mappings(tmp_path / "m")
    set_settings(folder, fx_tax_return=1)
    rows = [sale(cr_taxamt="0")]
    assert convert([write_csv(rows)], folder).ok
    set_settings(folder, fx_tax_exclusive=1)
    (p,) = convert([write_csv(rows)], folder).problems
    assert (p.column, p.rule) == ("貸方税区分", "amnt_cmtx_required") and "消費税額(amnt_cmtx) が必須" in p.message


def test_main_business_needs_tbptn(tmp_path: Path, write_csv: WriteCsv) -> None:
    folder = make_mappings(tmp_path / "m")
    set_settings(folder, fx_main_business=1)
    (p,) = convert([write_csv([sale()])], folder).problems
    assert (p.column, p.rule) == ("貸方税区分", "tbptn_required") and "事業区分(tbptn) が必須" in p.message
    replace_table(folder, "tax", '- {tax: 対象外, tptn: "0"}\n- {tax: 課税売上10%, tptn: "1", tbptn: "1", '
                                 "cmtxrate: 1000}\n")
    assert convert([write_csv([sale()])], folder).ok


def test_every_rule_id_is_listed_in_the_readme() -> None:
    from converter.convert.masters_check import MASTER_RULES
    from converter.convert.validate import RULES

    readme = (MAPPINGS.parent / "README.md").read_text("utf-8")
    section = readme.split("## What check checks", 1)[1].split("\n## ", 1)[0]
    ids = set(RULES) | {"ymd_purday_required", "tptn_required", "cmtxrate_required", "amnt_cmtx_required",
                        "tbptn_required", "customer_required", "one_off_customer", "masters_missing"}
    ids |= {i.strip() for key in MASTER_RULES for i in key.split("/")}
    assert sorted(i for i in ids if f"`{i}`" not in section) == []


def test_fund_categories_sent_must_be_in_the_references_ranges(tmp_path: Path, write_csv: WriteCsv) -> None:
    folder = with_masters(make_mappings(tmp_path / "m"))
    cache = folder / "masters" / "tc09999001.json"
    data = json.loads(cache.read_text("utf-8"))
    for account in data["accounts"]:
        if account["cd_act"] == "1161":
            account["cd_fbcat_cc"] = "13"  # the reference: 収支区分 '01'〜'12'
    data["fundbalancebreakdowns"].append({"cd_fbcat": "13", "nm_fbcat": "x", "cd_fbbdcat": "02", "nm_fbbdcat": "y"})
    cache.write_text(json.dumps(data, ensure_ascii=False), "utf-8")
    receipt = sale(kind="入金", dr="普通預金", dr_sub="みずほ銀行", dr_tax="", cr="売掛金", cr_tax="", cr_dep="",
                   cr_taxamt="")
    result = convert([write_csv([receipt])], folder)
    assert sorted({(p.rule, p.value) for p in result.problems}) == [("cd_fbcat_format", "13")]


def test_review_workbook_says_where_the_name_went_and_what_was_not_checked(tmp_path: Path,
                                                                            write_csv: WriteCsv) -> None:
    from openpyxl import load_workbook

    folder = make_mappings(tmp_path / "m")
    rows = [sale("X1", ccode="", cname="佐藤商事")]
    review = tmp_path / "r.xlsx"
    result = CliRunner().invoke(main, ["preview", str(write_csv(rows)), "-m", str(folder), "-o", str(review)])
    assert result.exit_code == 0, result.output

    def kinds_and_rules() -> list[tuple[str, str]]:
        book = load_workbook(review)
        rows = [r for name in ("エラー", "お知らせ") for r in book[name].iter_rows(min_row=2, values_only=True)]
        return [(r[0], r[5]) for r in rows]

    assert kinds_and_rules() == [("未確認", "masters_missing")]
    set_settings(folder, one_off_customer_code="999999")
    with_masters(folder)
    result = CliRunner().invoke(main, ["preview", str(write_csv(rows)), "-m", str(folder), "-o", str(review)])
    assert result.exit_code == 0, result.output
    assert ("お知らせ", "one_off_customer") in kinds_and_rules()
    assert "未確認" not in {kind for kind, _ in kinds_and_rules()}
