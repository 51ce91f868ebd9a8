"""The accountant's messages (issue 18): exact Japanese text and exit code for each wrong or raw one."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from conftest import HEADER, make_mappings, sale, to_csv

from converter.cli import main

WriteCsv = Callable[..., Path]


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.stdout, result.stderr


# --------------------------------------------------------------------------- YAML


@pytest.mark.parametrize(("text", "expected"), [
    ("ocode: tc09999001\n  locale: tfa\ncd_coopsystem: EX\n",
     "settings.yaml: 2行9列目: ここには「キー: 値」を書けません。字下げ (行頭の空白) がずれていないか、"
     "値に「: 」が含まれていないか確認してください (「: 」を含む値は引用符で囲みます)"),
    ('ocode: tc09999001\nlocale: "tfa\ncd_coopsystem: EX\n',
     "settings.yaml: 2行9列目: 引用符 (\" または ') が閉じていません。値の終わりにも同じ引用符を書いてください"),
    ("ocode: tc09999001\ncd_coopsystem: EX\n\tlocale: tfa\n",
     "settings.yaml: 3行1列目: タブ文字は使えません。字下げには半角スペースを使ってください"),
    ("ocode: tc09999001\ncd_coopsystem: EX\nlocale: t\x01\n",
     "settings.yaml: 3行10列目: YAML に使えない文字 (#x0001) が含まれています。テキストエディタで削除してください"),
    ("ocode: tc09999001\ncd_coopsystem: @EX\n",
     "settings.yaml: 2行16列目: 「@」で始まる値は引用符で囲んでください (例 \"@…\")"),
], ids=["indent", "open-quote", "tab", "control", "at-sign"])
def test_a_yaml_syntax_error_is_a_japanese_sentence_with_line_and_column(
        write_csv: WriteCsv, tmp_path: Path, text: str, expected: str) -> None:
    folder = make_mappings(tmp_path / "m")
    (folder / "settings.yaml").write_text(text, "utf-8")
    code, out, err = invoke("check", write_csv([sale()]), "-m", folder)
    assert code == 2 and out == ""
    assert err == f"エラー: {folder}: 設定ファイルに問題があります (1 件):\n  - {expected}\n"


def test_an_unclosed_brace_is_shown_where_it_opens(write_csv: WriteCsv, tmp_path: Path) -> None:
    folder = make_mappings(tmp_path / "m")
    (folder / "departments.yaml").write_text('- {department: 営業部, cd_dep: "001"\n- {department: 開発部}\n', "utf-8")
    code, _, err = invoke("check", write_csv([sale()]), "-m", folder)
    assert code == 2
    assert err == (f"エラー: {folder}: 設定ファイルに問題があります (1 件):\n"
                   "  - departments.yaml: 1行3列目: { } が閉じていません。行の終わりの } と、項目の間のカンマ (,) を"
                   "確認してください\n")


def test_an_unquoted_code_says_quote_it(write_csv: WriteCsv, tmp_path: Path) -> None:
    folder = make_mappings(tmp_path / "m")
    with (folder / "accounts.yaml").open("a", encoding="utf-8") as f:
        f.write("- {account: 現金, cd_act: 0111}\n")  # line 8: octal, read as 73
        f.write("- {account: 当座預金, cd_act: 1135}\n")  # line 9: read as the number 1135
    with (folder / "departments.yaml").open("a", encoding="utf-8") as f:
        f.write("- {department: 総務部, cd_dep: 10}\n")  # line 2: quoting alone does not make it 3 digits
    code, _, err = invoke("check", write_csv([sale()]), "-m", folder)
    assert code == 2
    assert err == (
        f"エラー: {folder}: 設定ファイルに問題があります (3 件):\n"
        '  - accounts.yaml:8行: cd_act: 0111 を引用符で囲んで cd_act: "0111" と書いてください'
        " (引用符がないと数値 73 として読まれます)\n"
        '  - accounts.yaml:9行: cd_act: 1135 を引用符で囲んで cd_act: "1135" と書いてください'
        " (引用符がないと数値として読まれます)\n"
        '  - departments.yaml:2行: cd_dep: 10 を引用符で囲んで cd_dep: "10" と書いてください'
        " (引用符がないと数値として読まれます)。cd_dep は半角数字 3 桁です\n")


def test_an_unquoted_code_in_settings_says_quote_it(write_csv: WriteCsv, tmp_path: Path) -> None:
    folder = make_mappings(tmp_path / "m")
    (folder / "settings.yaml").write_text("ocode: tc09999001\nlocale: tfa\ncd_coopsystem: 10\n"
                                          "one_off_customer_code: 000001\n", "utf-8")
    code, out, _ = invoke("mappings", "check", "-m", folder, "--format", "json")
    assert code == 1
    assert [(p["row"], p["col"], p["message"]) for p in json.loads(out)["problems"]] == [
        (3, 16, 'cd_coopsystem: 10 を引用符で囲んで cd_coopsystem: "10" と書いてください'
                " (引用符がないと数値として読まれます)"),
        (4, 24, 'one_off_customer_code: 000001 を引用符で囲んで one_off_customer_code: "000001" と書いてください'
                " (引用符がないと数値 1 として読まれます)")]


# --------------------------------------------------------------------------- reading


def test_a_duplicated_header_counts_its_columns_as_in_the_file(tmp_path: Path, mappings: Path) -> None:
    header = [*HEADER, "帳票番号", ""]
    path = tmp_path / "dup.csv"
    path.write_text(to_csv([sale()], header).replace("\r\n", ",\r\n", 1), "cp932")
    code, out, err = invoke("check", path, "-m", mappings)
    assert code == 2 and out == ""
    assert err == (f"エラー: {path}: 見出し「帳票番号」が 2 列 (3・22 列目) にあります。"
                   "どちらを読むか決められないので、1 列にしてください\n")


# --------------------------------------------------------------------------- mapping


def pulled(folder: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """``folder`` with the emulator's masters pulled into its cache."""
    from conftest import EMULATOR_TOKEN

    from converter.config.settings import load_settings
    from converter.emulator.server import Emulator
    from converter.fx.masters import pull_masters

    monkeypatch.setenv("FX_API_TOKEN", EMULATOR_TOKEN)
    pull_masters(folder, load_settings(folder), transport=Emulator().transport())
    return folder


def test_a_filled_but_unmapped_department_is_unmapped_not_missing(
        write_csv: WriteCsv, mappings: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = write_csv([sale(cr_dep="海外事業部")])
    code, out, _ = invoke("check", path, "-m", pulled(mappings, monkeypatch), "--format", "json")
    assert code == 1
    assert [(p["rule"], p["row"], p["value"]) for p in json.loads(out)["problems"]] == [("unmapped", 2, "海外事業部")]


# --------------------------------------------------------------------------- upload summary


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    from conftest import EMULATOR_TOKEN

    from converter.emulator.server import Emulator

    monkeypatch.setenv("FX_API_TOKEN", EMULATOR_TOKEN)
    with Emulator().serve(port=0) as running:
        yield running.url


def test_a_correction_run_counts_documents_and_the_slips_apart(
        write_csv: WriteCsv, mappings: Path, tmp_path: Path, server: str) -> None:
    from ledger_helpers import new_ledger

    ledger = new_ledger(tmp_path / "l.sqlite", "tc09999001")
    month = [sale("A", 11000, 1000), sale("B", 22000, 2000), sale("C", 33000, 3000)]
    common = ("-m", mappings, "--base-url", server, "--ledger", ledger)
    code, _, _ = invoke("upload", write_csv(month), *common)
    assert code == 0
    later = write_csv([sale("A", 55000, 5000), month[2]], name="later.csv")  # A edited, B deleted
    code, out, _ = invoke("upload", later, *common, "--corrections")
    assert code == 0
    assert out.split("送信結果: ")[1].splitlines()[:5] == [
        "送信対象 2 件 / 送信 1 回",
        "連携完了 2 件 / エラー 0 件 / 要確認 0 件 (訂正の仕訳: 取消 2 件・訂正後 1 件)",
        "連携済みのためスキップ 1 件",
        "訂正済み: 売上|A — 取消仕訳と訂正後の仕訳を送信しました",
        "訂正済み: 売上|B — 取消仕訳を送信しました"]


def test_problems_at_upload_say_it_once_and_show_the_first_twenty(
        write_csv: WriteCsv, mappings: Path, tmp_path: Path, server: str) -> None:
    from ledger_helpers import new_ledger

    ledger = new_ledger(tmp_path / "l.sqlite", "tc09999001")
    path = write_csv([sale(f"D{i:02}", date="2026/13/01") for i in range(25)])
    code, out, err = invoke("upload", path, "-m", mappings, "--base-url", server, "--ledger", ledger)
    assert code == 1
    assert err.splitlines()[-1] == "エラー 25 件 — 送信できません。converter check で確認し、直してから送信してください"
    lines = out.splitlines()
    assert lines[0] == (f"  {path}:2行 [取引日] 値「2026/13/01」: 日付として読めません。"
                        "YYYY/MM/DD (例 2026/10/01) で入力してください")
    assert len(lines) == 21
    assert lines[-1] == "  … ほか 5 件 (全件は converter check --format json で出力できます)"


def test_a_long_skip_list_shows_the_first_twenty_and_a_count(write_csv: WriteCsv, mappings: Path) -> None:
    rows = [sale(f"Z{i:02}", 0, 0, cr_taxamt="0") for i in range(23)] + [sale("A")]
    code, out, _ = invoke("check", write_csv(rows), "-m", mappings)
    assert code == 0
    skipped = [line for line in out.splitlines() if line.startswith("スキップ:")]
    assert len(skipped) == 20 and skipped[0].startswith("スキップ: 売上 Z00 2026-10-01 — ")
    assert out.splitlines()[out.splitlines().index(skipped[-1]) + 1] == (
        "… ほか 3 件 (全件は --format json で出力できます)")
    code, as_json, _ = invoke("check", write_csv(rows), "-m", mappings, "--format", "json")
    assert json.loads(as_json)["summary"]["skipped"] == 23


# --------------------------------------------------------------------------- amounts


def test_each_kind_of_bad_amount_gets_its_own_advice(write_csv: WriteCsv, mappings: Path) -> None:
    rows = [sale("A", dr_amt="abc"), sale("B", dr_amt="1.000"), sale("C", dr_amt="110000.5"),
            sale("D", dr_amt="100000000000"), sale("E", amount=110000, dr_amt="110000.0")]
    path = write_csv(rows)
    code, out, _ = invoke("check", path, "-m", mappings)
    assert code == 1
    found = [line.strip() for line in out.splitlines() if "[借方金額]" in line]
    assert found == [
        f"{path}:2行 [借方金額] 値「abc」: 金額として読めません。"
        "半角の整数で入力してください (例 110000 または 110,000)",
        f"{path}:3行 [借方金額] 値「1.000」: 「.」が小数点か桁区切りか決められません (1.000 は 1 円とも 1,000 円とも"
        "読めます)。桁区切りはカンマ (,) にするか、区切らずに入力してください",
        f"{path}:4行 [借方金額] 値「110000.5」: 円未満の端数があります。FX には整数の円で送ります。"
        "端数を処理した金額を入力してください",
        f"{path}:5行 [借方金額] 値「100000000000」: ±99,999,999,999 を超えています (FX の金額の上限)。"
        "金額を確認してください",
    ]  # 110000.0 is 110,000 円: a zero after the point is no fraction and no thousands separator


# --------------------------------------------------------------------------- the wrong file or layout


def test_a_book_whose_first_sheet_is_not_the_data_hints_sheet(tmp_path: Path, mappings: Path) -> None:
    from openpyxl import Workbook

    wb = Workbook()
    cover = wb.active
    assert cover is not None
    cover.title = "表紙"
    cover.append(["10月分 取引明細"])
    data = wb.create_sheet("明細")
    data.append(HEADER)
    named = {"取引日": "2026/10/01", "取引種別": "売上", "帳票番号": "A", "借方勘定科目": "売掛金", "借方金額": 1100,
             "貸方勘定科目": "売上高", "貸方部門": "営業部", "貸方税区分": "課税売上10%", "貸方金額": 1100,
             "貸方消費税額": 100, "借方税区分": "対象外", "取引先コード": "C-001"}
    data.append([named.get(h) for h in HEADER])
    path = tmp_path / "book.xlsx"
    wb.save(path)
    code, out, err = invoke("check", path, "-m", mappings)
    assert code == 2 and out == ""
    assert err == (f"エラー: {path}: 必要な列がありません: 取引日, 取引種別, 帳票番号, 借方勘定科目, 借方金額,"
                   " 貸方勘定科目, 貸方金額。見出しは 10月分 取引明細。"
                   "このブックにはシートが 2 枚あります (表紙、明細)。データが「表紙」以外のシートにあるなら"
                   " --sheet で指定してください (例 --sheet '明細')\n")
    code, out, _ = invoke("check", path, "-m", mappings, "--sheet", "明細")
    assert code == 0, out


def test_a_yayoi_file_under_the_jobcan_profile_hints_the_yayoi_profile(tmp_path: Path, mappings: Path) -> None:
    path = tmp_path / "yayoi.csv"
    row = ["2110", "1", "", "2026/10/01", "売掛金", "", "", "対象外", "1100", "", "売上高", "", "営業部",
           "課税売上10%", "1100", "100", "10月分", "", "", "0", "", "", "0", "0", "no"]
    path.write_text(",".join(row) + "\r\n", "cp932")
    code, _, err = invoke("check", path, "-m", mappings)
    assert code == 2
    assert err.endswith("。1 行目が見出しではなく、弥生会計の仕訳日記帳 (見出しなし 25 列、識別フラグ 2110) の"
                        "ようです。弥生会計の書き出しなら --profile yayoi を付けてください\n")


def test_a_csv_renamed_xlsx_says_so(write_csv: WriteCsv, mappings: Path) -> None:
    path = write_csv([sale()], name="export.xlsx")
    code, out, err = invoke("check", path, "-m", mappings)
    assert code == 2 and out == ""
    assert err == (f"エラー: {path}: 拡張子は .xlsx ですが、中身はCSV (テキスト) のようです。"
                   "拡張子を .csv にして指定してください\n")


@pytest.mark.parametrize(("url", "problem"), [
    ("ftp://fx.example", "URL が不正です: ftp://fx.example"),
    ("http://fx.example", "http:// はこのマシン (127.0.0.1 / localhost) の宛先にだけ使えます: http://fx.example。"
                          "FX クラウドには https:// を指定してください"),
])
def test_a_bad_base_url_on_the_command_line_is_not_called_a_settings_problem(
        write_csv: WriteCsv, mappings: Path, url: str, problem: str) -> None:
    code, out, err = invoke("masters", "pull", "-m", mappings, "--base-url", url)
    assert (code, out, err) == (2, "", f"エラー: --base-url: {problem}\n")
    code, _, err = invoke("upload", write_csv([sale()]), "-m", mappings, "--base-url", url)
    assert (code, err) == (2, f"エラー: --base-url: {problem}\n")


# --------------------------------------------------------------------------- volume


def test_a_file_of_junk_rows_is_refused_with_one_message(tmp_path: Path, mappings: Path) -> None:
    path = tmp_path / "junk.csv"
    path.write_bytes((to_csv([sale()]) + ("," * 20 + "a" * 26 + "\r\n") * 1_500).encode("cp932"))
    code, out, err = invoke("check", path, "-m", mappings)
    assert (code, out) == (2, "")
    assert err == (f"エラー: {path}: 1,501 行のうち 1,500 行は必要な項目 (取引日、取引種別、帳票番号、借方勘定科目、"
                   "借方金額、貸方勘定科目、貸方金額) がすべて空です (例 3・4・5・6・7 行目)。"
                   "ジョブカンの取引明細の書き出しか、ファイルが壊れていないか確認してください\n")


def test_a_few_empty_rows_are_still_problems_of_their_rows(tmp_path: Path, mappings: Path) -> None:
    path = tmp_path / "some.csv"
    path.write_bytes((to_csv([sale(f"D{i}") for i in range(1_000)]) + "," * 20 + "a\r\n").encode("cp932"))
    code, out, _ = invoke("check", path, "-m", mappings)
    assert code == 1
    assert f"  {path}:1002行 [取引日]: 取引日が空です" in out.splitlines()
