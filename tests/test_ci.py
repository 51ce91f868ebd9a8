"""CI: ``converter mappings check`` and the github / junit / json formats (issue 20).

Every format is run on a broken mapping folder and on the broken sample and the output asserted;
positions are checked against the files themselves (the YAML line/column, the CSV line); the
README's workflow and the repository's pre-commit hook are run as written.
"""

from __future__ import annotations

import datetime as dt
import glob
import json
import re
import shlex
import shutil
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import MAPPINGS, ROOT, SAMPLES, make_mappings, sale, to_csv

from converter import clock
from converter.cli import main
from converter.config.settings import load_settings
from converter.emulator.server import Emulator
from converter.fx.client import RetryPolicy
from converter.fx.masters import pull_masters

BROKEN = "samples/broken-2026-10.csv"
CLEAN = "samples/clean-2026-10.csv"  # a small clean export of its own documents
#: The stable JSON schema (README "Checks in CI").
FINDING_KEYS = ["file", "row", "col", "column", "value", "rule", "message", "document"]
CHECK_SUMMARY = ["files", "rows", "documents", "slips", "detail_lines", "requests", "skipped",
                 "skipped_zero_yen", "problems", "debit_total", "credit_total"]
MAPPINGS_SUMMARY = ["files", "problems", "notices"]


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output + result.stderr
    return result.exit_code, result.stdout, result.stderr


@pytest.fixture
def broken_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A mappings folder with one problem of each kind, in a repository at ``tmp_path`` (the cwd)."""
    monkeypatch.chdir(tmp_path)
    folder = make_mappings(tmp_path / "mappings")
    with (folder / "settings.yaml").open("a", encoding="utf-8") as f:
        f.write("is_add_depmaster: 2\n")  # line 6
    with (folder / "accounts.yaml").open("a", encoding="utf-8") as f:
        f.write("- {account: 広告宣伝費, cd_act: 7111, colour: red}\n")  # line 8: unquoted code, unknown key
        f.write('- {account: 売上高, cd_act: "4112"}\n')  # line 9: duplicate of line 1
    (folder / "departments.yaml").write_text(  # a missing '}' on line 1, found by PyYAML on line 2
        '- {department: 営業部, cd_dep: "001"\n- {department: 開発部, cd_dep: "002"}\n', "utf-8")
    return folder


BROKEN_FOLDER_GITHUB = """\
::error file=mappings/settings.yaml,line=6,col=19,title=setting::is_add_depmaster: 0 か 1 を指定してください ('2')
::error file=mappings/accounts.yaml,line=8,col=34,title=unknown_key::'colour' は知らないキーです \
(使えるキー: account, sub_account, cd_act, cd_auxact, name)
::error file=mappings/accounts.yaml,line=8,col=28,title=cd_act_format::cd_act: 7111 を引用符で囲んで \
cd_act: "7111" と書いてください (引用符がないと数値として読まれます)
::error file=mappings/accounts.yaml,line=9,col=13,title=duplicate_entry::'売上高' は 1行 にもあります (重複)
::error file=mappings/departments.yaml,line=1,col=3,title=yaml_syntax::{ } が閉じていません。\
行の終わりの } と、項目の間のカンマ (,) を確認してください
"""


def test_mappings_check_github_annotates_each_yaml_problem_on_its_line(broken_folder: Path) -> None:
    code, out, err = invoke("mappings", "check", "--format", "github")
    assert code == 1
    assert out == BROKEN_FOLDER_GITHUB
    assert err == "エラー 5 件 / お知らせ 0 件\n"


def test_the_yaml_positions_are_where_the_text_is(broken_folder: Path) -> None:
    """line/col point at the value (the key for an unknown key) in the file as written."""
    accounts = (broken_folder / "accounts.yaml").read_text("utf-8").splitlines()
    settings = (broken_folder / "settings.yaml").read_text("utf-8").splitlines()
    assert accounts[8 - 1][28 - 1:].startswith("7111")
    assert accounts[8 - 1][34 - 1:].startswith("colour")
    assert accounts[9 - 1][13 - 1:].startswith("売上高")
    assert settings[6 - 1][19 - 1:] == "2"


def test_mappings_check_text(broken_folder: Path) -> None:
    code, out, _ = invoke("mappings", "check")
    assert code == 1
    assert out == (
        "確認したファイル: 5 件 (mappings)\n"
        "エラー 5 件:\n"
        "  mappings/settings.yaml:6行19列目: is_add_depmaster: 0 か 1 を指定してください ('2')\n"
        "  mappings/accounts.yaml:8行34列目: 'colour' は知らないキーです (使えるキー: account, sub_account, cd_act,"
        " cd_auxact, name)\n"
        "  mappings/accounts.yaml:8行28列目: cd_act: 7111 を引用符で囲んで cd_act: \"7111\" と書いてください"
        " (引用符がないと数値として読まれます)\n"
        "  mappings/accounts.yaml:9行13列目: '売上高' は 1行 にもあります (重複)\n"
        "  mappings/departments.yaml:1行3列目: { } が閉じていません。行の終わりの } と、項目の間のカンマ (,) を"
        "確認してください\n")


def test_mappings_check_json(broken_folder: Path) -> None:
    code, out, _ = invoke("mappings", "check", "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert list(report) == ["problems", "notices", "unchecked", "summary"]
    assert [(p["file"], p["row"], p["col"], p["rule"]) for p in report["problems"]] == [
        ("mappings/settings.yaml", 6, 19, "setting"),
        ("mappings/accounts.yaml", 8, 34, "unknown_key"),
        ("mappings/accounts.yaml", 8, 28, "cd_act_format"),
        ("mappings/accounts.yaml", 9, 13, "duplicate_entry"),
        ("mappings/departments.yaml", 1, 3, "yaml_syntax"),
    ]
    assert report["problems"][3] == {
        "file": "mappings/accounts.yaml", "row": 9, "col": 13, "column": "", "value": "", "rule": "duplicate_entry",
        "message": "'売上高' は 1行 にもあります (重複)", "document": ""}
    assert report["summary"] == {"files": 5, "problems": 5, "notices": 0}
    # settings.yaml could not be read, so the master cache was not looked for either
    assert report["unchecked"] == [] and report["notices"] == []


def test_mappings_check_junit(broken_folder: Path) -> None:
    code, out, _ = invoke("mappings", "check", "--format", "junit")
    assert code == 1
    assert out.startswith('<?xml version="1.0" encoding="UTF-8"?>\n')
    suite = ET.fromstring(out.split("\n", 1)[1]).find("testsuite")
    assert suite is not None
    assert suite.attrib == {"name": "converter mappings check", "tests": "5", "failures": "5", "errors": "0",
                            "skipped": "0"}
    cases = {c.attrib["name"]: [(f.attrib["type"], f.text) for f in c.findall("failure")]
             for c in suite.findall("testcase")}
    assert cases == {
        "mappings/settings.yaml": [
            ("setting", "mappings/settings.yaml:6行19列目: is_add_depmaster: 0 か 1 を指定してください ('2')")],
        "mappings/accounts.yaml": [
            ("unknown_key", "mappings/accounts.yaml:8行34列目: 'colour' は知らないキーです (使えるキー: account, "
                            "sub_account, cd_act, cd_auxact, name)"),
            ("cd_act_format", "mappings/accounts.yaml:8行28列目: cd_act: 7111 を引用符で囲んで cd_act: \"7111\" "
                              "と書いてください (引用符がないと数値として読まれます)"),
            ("duplicate_entry", "mappings/accounts.yaml:9行13列目: '売上高' は 1行 にもあります (重複)")],
        "mappings/tax.yaml": [],
        "mappings/departments.yaml": [
            ("yaml_syntax", "mappings/departments.yaml:1行3列目: { } が閉じていません。行の終わりの } と、"
                            "項目の間のカンマ (,) を確認してください")],
        "mappings/customers.yaml": [],
    }


def test_mappings_check_of_the_shipped_folder_is_clean_and_says_what_it_did_not_check(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    shutil.copytree(MAPPINGS, tmp_path / "mappings", ignore=shutil.ignore_patterns("masters"))
    monkeypatch.chdir(tmp_path)
    code, out, _ = invoke("mappings", "check", "--format", "github")
    assert code == 0
    (line,) = out.splitlines()
    assert line.startswith("::warning file=mappings/masters/tc09999001.json,title=masters_missing::FX マスターの"
                           "キャッシュがないため、次のルールは確認していません: ")
    code, out, _ = invoke("mappings", "check", "--no-masters")
    assert code == 0 and out.endswith("--no-masters を外すと確認します\n問題はありません\n")


def test_a_missing_folder_is_exit_2(tmp_path: Path) -> None:
    code, _, err = invoke("mappings", "check", "-m", tmp_path / "nowhere")
    assert code == 2 and "マッピングのフォルダがありません" in err


# --------------------------------------------------------------------------- against the FX masters


def test_mappings_check_with_a_master_cache_checks_every_code(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FX_API_TOKEN", "emulator-token")
    monkeypatch.setattr(clock, "now", lambda: dt.datetime(2026, 12, 1, 10, 0, tzinfo=clock.JST))
    monkeypatch.chdir(tmp_path)
    folder = make_mappings(Path("mappings"))
    pull_masters(folder, load_settings(folder), transport=Emulator().transport(),
                 retry=RetryPolicy(attempts=2, sleep=lambda _: None))
    code, out, _ = invoke("mappings", "check", "--format", "json")
    # the conftest table maps 普通預金 without a 補助科目 (line 6): FX manages it by 口座
    assert [(p["row"], p["col"], p["rule"]) for p in json.loads(out)["problems"]] == [(6, 27, "auxact_required")]
    with (folder / "accounts.yaml").open("a", encoding="utf-8") as f:
        f.write('- {account: 謎の科目, cd_act: "9998"}\n')  # line 8
    with (folder / "departments.yaml").open("a", encoding="utf-8") as f:
        f.write('- {department: 謎部, cd_dep: "998"}\n')  # line 2
    with (folder / "customers.yaml").open("a", encoding="utf-8") as f:
        f.write('- {customer: 謎商店, cd_cstm: "999998"}\n')  # line 3
    with (folder / "tax.yaml").open("a", encoding="utf-8") as f:
        f.write('- {tax: 旧税率, tptn: "1", cmtxrate: 300, is_reduce_cmtxrate: 0}\n')  # line 5
    code, out, _ = invoke("mappings", "check", "--format", "github")
    assert code == 1
    assert out.splitlines() == [
        "::error file=mappings/accounts.yaml,line=8,col=27,title=master_account::[cd_act] 値「謎の科目」: "
        "勘定科目コード(cd_act) 9998 は FX の勘定科目にありません (1 行: 8)。accounts.yaml の「謎の科目」の cd_act を"
        " FX の科目コードに直すか、FX に科目を登録してから converter masters pull を実行してください",
        "::error file=mappings/accounts.yaml,line=6,col=27,title=auxact_required::[cd_auxact] 普通預金(cd_act 1131)"
        " は FX で口座別管理の科目 (is_useauxact=1) です。口座コード(cd_auxact) がないと FX はエラーにします"
        " (1 行: 6)。"
        "accounts.yaml で「普通預金」を補助科目ごとに書き、cd_auxact を指定してください (FX の口座: 01 みずほ銀行, "
        "02 三井住友銀行)",
        "::error file=mappings/departments.yaml,line=2,col=28,title=master_department::[cd_dep] 値「謎部」: "
        "部門コード(cd_dep) 998 は FX の部門にありません (1 行: 2)。departments.yaml の「謎部」をFX の部門コードに"
        "直すか、settings.yaml の is_add_depmaster を 1 にして FX に自動で追加させてください",
        "::error file=mappings/customers.yaml,line=3,col=28,title=master_customer::[cd_cstm] 値「謎商店」: "
        "取引先コード(cd_cstm) 999998 は FX の取引先にありません (1 行: 3)。customers.yaml の「謎商店」を FX の"
        "取引先コードに直すか、settings.yaml の is_add_cstmmaster を 1 にして FX に自動で追加させてください",
        "::error file=mappings/tax.yaml,line=5,col=35,title=tax_rate::[cmtxrate] 値「旧税率」: 消費税率(cmtxrate) "
        "300・軽減税率(is_reduce_cmtxrate) 0 は取引日 2026-12-01 に FX の税率テーブルで使えません (1 行: 5)。"
        "tax.yaml の「旧税率」か取引日を直してください (この日に使える税率: 1000 (10%25), 800 軽減 (8%25))",
    ]
    # with is_add_depmaster: 1 the unknown 部門 is FX's to add: a notice, not a problem
    with (folder / "settings.yaml").open("a", encoding="utf-8") as f:
        f.write("is_add_depmaster: 1\n")
    code, out, _ = invoke("mappings", "check", "--format", "json")
    report = json.loads(out)
    assert [p["rule"] for p in report["problems"]] == [
        "master_account", "auxact_required", "master_customer", "tax_rate"]
    assert [(n["file"], n["row"], n["col"], n["rule"]) for n in report["notices"]] == [
        ("mappings/departments.yaml", 2, 28, "master_auto_add")]


# --------------------------------------------------------------------------- check on the broken sample

#: (CSV line, rule, value) of every problem of the broken sample, in report order.
BROKEN_PROBLEMS = [
    (6, "unmapped", "広告宣伝費"), (8, "unmapped", "課税売上15%"), (9, "unmapped", "海外事業部"),
    (13, "date", "2026/13/40"), (14, "amount", "abc"), (14, "amount", "abc"), (15, "amount", "100.5"),
    (15, "amount", "100.5"), (18, "amount", "100000000000"), (18, "amount", "100000000000"),
    (19, "balance", "RCV-202610-0004"),
    (21, "rcj_slip_width",
     "１０月分　システム保守料（サーバー監視・障害対応・月次報告書作成・定例会議出席を含む）ＸＸ"),
    (22, "nm_cstm_width", "株式会社東日本インターナショナルトレーディング商会"),
    (23, "unmapped", "普通預金 / りそな銀行"), (27, "period", "2027-11-05"),
]


@pytest.fixture
def repo(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A team's repository: the shipped mappings (no master cache) and two exports in samples/:
    the broken sample and a clean one (other documents: the 362 of the October sample are the
    broken sample's too, and would be reported as documents in two files)."""
    shutil.copytree(MAPPINGS, tmp_path / "mappings", ignore=shutil.ignore_patterns("masters"))
    (tmp_path / "samples").mkdir()
    shutil.copyfile(SAMPLES / "broken-2026-10.csv", tmp_path / BROKEN)
    (tmp_path / CLEAN).write_bytes(to_csv([sale("CI-0001"), sale("CI-0002", date="2026/10/02")]).encode("cp932"))
    monkeypatch.chdir(tmp_path)
    return tmp_path


def test_check_github_on_the_broken_sample(repo: Path) -> None:
    code, out, err = invoke("check", BROKEN, "--format", "github")
    assert code == 1
    lines = out.splitlines()
    assert [re.match(r"::error file=samples/broken-2026-10\.csv,line=(\d+),title=(\w+)::", x).groups()  # type: ignore[union-attr]
            for x in lines[:-1]] == [(str(row), rule) for row, rule, _ in BROKEN_PROBLEMS]
    assert lines[0] == (
        "::error file=samples/broken-2026-10.csv,line=6,title=unmapped::[勘定科目(cd_act)] 値「広告宣伝費」: "
        "勘定科目(cd_act) のマッピングがありません (1 行: 6)。mappings/accounts.yaml に「- {account: 広告宣伝費, "
        'cd_act: "????"}」の形で追加してください')
    assert lines[3] == ("::error file=samples/broken-2026-10.csv,line=13,title=date::[取引日] 値「2026/13/40」: "
                        "日付として読めません。YYYY/MM/DD (例 2026/10/01) で入力してください")
    assert "値「課税売上15%25」" in lines[1] and "15%」" not in lines[1]  # '%' escaped as GitHub requires
    assert lines[-1].startswith("::warning file=mappings/masters/tc09999001.json,title=masters_missing::")
    assert err == "エラー 15 件 / お知らせ 0 件\n"


def test_the_export_rows_are_the_lines_of_the_file(repo: Path) -> None:
    """Each problem's row is the CSV line holding its value (what GitHub shows as the line)."""
    text = (repo / BROKEN).read_bytes().decode("cp932").splitlines()
    for row, _, value in BROKEN_PROBLEMS:
        assert value.split(" / ")[-1] in text[row - 1].replace("2027/11/05", "2027-11-05"), row


def test_check_json_on_the_broken_sample_has_the_stable_schema(repo: Path) -> None:
    code, out, _ = invoke("check", BROKEN, "--format", "json")
    assert code == 1
    report = json.loads(out)
    assert list(report) == ["problems", "notices", "unchecked", "summary"]
    assert all(list(p) == FINDING_KEYS for p in report["problems"] + report["unchecked"])
    assert list(report["summary"]) == CHECK_SUMMARY
    assert [(p["file"], p["row"], p["col"], p["rule"], p["value"]) for p in report["problems"]] == [
        (BROKEN, row, None, rule, value) for row, rule, value in BROKEN_PROBLEMS]
    assert [u["rule"] for u in report["unchecked"]] == ["masters_missing"]


def test_check_junit_on_the_broken_sample(repo: Path) -> None:
    code, out, _ = invoke("check", BROKEN, CLEAN, "--format", "junit")
    assert code == 1
    suite = ET.fromstring(out.split("\n", 1)[1]).find("testsuite")
    assert suite is not None
    assert (suite.attrib["name"], suite.attrib["tests"], suite.attrib["failures"]) == ("converter check", "2", "15")
    broken, good = suite.findall("testcase")
    assert (broken.attrib["name"], good.attrib["name"]) == (BROKEN, CLEAN)
    assert good.findall("failure") == []  # a clean file is a passing test case
    failures = broken.findall("failure")
    assert [f.attrib["type"] for f in failures] == [rule for _, rule, _ in BROKEN_PROBLEMS]
    assert failures[0].text == (
        "samples/broken-2026-10.csv:6行 [勘定科目(cd_act)]: 値「広告宣伝費」: 勘定科目(cd_act) のマッピングがありません"
        ' (1 行: 6)。mappings/accounts.yaml に「- {account: 広告宣伝費, cd_act: "????"}」の形で追加してください')


def test_check_text_on_the_broken_sample_is_unchanged(repo: Path) -> None:
    code, out, _ = invoke("check", BROKEN)
    assert code == 1
    assert "  samples/broken-2026-10.csv:6行 [勘定科目(cd_act)] 値「広告宣伝費」: 勘定科目(cd_act) のマッピング" in out
    assert "エラー 15 件 — 送信できません:" in out


def test_check_github_annotates_bad_mappings_and_unreadable_exports(repo: Path) -> None:
    with (repo / "mappings" / "tax.yaml").open("a", encoding="utf-8") as f:
        f.write("- {tax: 新税, tptn: 1}\n")
    line = len((repo / "mappings" / "tax.yaml").read_text("utf-8").splitlines())
    code, out, _ = invoke("check", BROKEN, "--format", "github")
    assert code == 2
    assert out == (f"::error file=mappings/tax.yaml,line={line},col=19,title=tptn_format::tptn: 1 を引用符で囲んで "
                   'tptn: "1" と書いてください (引用符がないと数値として読まれます)\n')
    assert (repo / "mappings" / "tax.yaml").read_text("utf-8").splitlines()[-1][19 - 1:] == "1}"
    (repo / "x.csv").write_bytes(b"\x00\x01")
    code, out, _ = invoke("check", "x.csv", "-m", MAPPINGS, "--format", "github")
    assert code == 2
    assert out == ("::error file=x.csv,line=1,title=input::x.csv:1行: NUL 文字が含まれています。"
                   "CSV ではないファイルか、壊れたファイルです\n")


# --------------------------------------------------------------------------- README, pre-commit


def _readme_block(after: str, language: str) -> str:
    text = (ROOT / "README.md").read_text("utf-8")
    start = text.index(f"```{language}\n", text.index(after)) + len(language) + 4
    return text[start:text.index("```", start)]


def test_the_json_schema_in_the_readme_is_the_one_emitted(repo: Path) -> None:
    example = json.loads(_readme_block("## Checks in CI", "json"))
    assert list(example) == ["problems", "notices", "unchecked", "summary"]
    assert list(example["problems"][0]) == FINDING_KEYS
    section = (ROOT / "README.md").read_text("utf-8").split("## Checks in CI")[1].split("\n## ")[0]
    for key in [*FINDING_KEYS, *CHECK_SUMMARY, *MAPPINGS_SUMMARY]:
        assert f"`{key}`" in section, key
    _, out, _ = invoke("mappings", "check", "--format", "json")
    report = json.loads(out)
    assert list(report) == list(example) and list(report["summary"]) == MAPPINGS_SUMMARY
    assert all(list(p) == FINDING_KEYS for p in report["unchecked"])


def test_the_readme_workflow_runs_as_written(repo: Path) -> None:
    """The GitHub Actions workflow's converter commands, run here as the runner's shell would
    (globs expanded), annotate the fixtures' files and lines."""
    workflow = yaml.safe_load(_readme_block("**GitHub Actions**", "yaml"))
    steps = workflow["jobs"]["check"]["steps"]
    commands = [shlex.split(s["run"]) for s in steps if s.get("run", "").startswith("converter ")]
    assert [c[:3] for c in commands] == [["converter", "mappings", "check"], ["converter", "check", "samples/*.csv"]]

    def run(command: list[str]) -> tuple[int, list[str]]:
        args = [a for pattern in command[1:] for a in (sorted(glob.glob(pattern)) or [pattern])]
        code, out, _ = invoke(*args)
        return code, [line for line in out.splitlines() if line.startswith("::error")]

    code, errors = run(commands[0])
    assert (code, errors) == (0, [])
    code, errors = run(commands[1])
    assert code == 1
    assert [re.match(r"::error file=([^,]+),line=(\d+),", e).groups() for e in errors] == [  # type: ignore[union-attr]
        (BROKEN, str(row)) for row, _, _ in BROKEN_PROBLEMS]
    # a broken mapping is annotated on its YAML line by the first step
    with (repo / "mappings" / "accounts.yaml").open("a", encoding="utf-8") as f:
        f.write("- {account: 謎費, cd_act: 7999}\n")
    written = (repo / "mappings" / "accounts.yaml").read_text("utf-8").splitlines()
    assert written[-1][25 - 1:] == "7999}"
    code, errors = run(commands[0])
    assert code == 1
    assert [e.split("::")[1] for e in errors] == [f"error file=mappings/accounts.yaml,line={len(written)},col=25,"
                                                  "title=cd_act_format"]


def test_the_pre_commit_hook_runs_mappings_check(repo: Path) -> None:
    (hook,) = yaml.safe_load((ROOT / ".pre-commit-hooks.yaml").read_text("utf-8"))
    assert hook["id"] == "converter-mappings-check" and hook["language"] == "python"
    assert hook["pass_filenames"] is False
    assert re.search(hook["files"], "mappings/accounts.yaml") and not re.search(hook["files"], "samples/x.csv")
    pyproject = (ROOT / "pyproject.toml").read_text("utf-8")
    assert re.search(r'^converter = "converter\.cli:main"', pyproject, re.M)  # the entry's executable
    entry = shlex.split(hook["entry"])
    assert entry[0] == "converter"
    code, _, _ = invoke(*entry[1:])
    assert code == 0
    with (repo / "mappings" / "departments.yaml").open("a", encoding="utf-8") as f:
        f.write("- {department: 総務部, cd_dep: 10}\n")
    code, out, _ = invoke(*entry[1:])
    assert code == 1 and 'cd_dep: 10 を引用符で囲んで cd_dep: "10" と書いてください' in out


def test_profiles_in_the_folder_are_checked_with_positions(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    folder = make_mappings(tmp_path / "mappings")
    (folder / "profiles").mkdir()
    (folder / "profiles" / "mine.yaml").write_text(
        "style: journal\ncolumns:\n  date: 取引日\n  colour: 色\n  dr_amount: 7\nrequired: [date, kind]\n", "utf-8")
    code, out, _ = invoke("mappings", "check", "--format", "json", "--no-masters")
    assert code == 1
    found = json.loads(out)["problems"]
    assert [(p["file"], p["row"], p["col"], p["rule"]) for p in found] == [
        ("mappings/profiles/mine.yaml", 4, 3, "unknown_key"),  # the key
        ("mappings/profiles/mine.yaml", 5, 14, "profile"),  # the value 7
        ("mappings/profiles/mine.yaml", 6, 11, "profile"),  # the list
    ]
    assert [p["message"].split(" ")[0] for p in found] == ["columns.colour:", "columns.dr_amount:", "required:"]
