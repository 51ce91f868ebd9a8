"""`converter mappings suggest`: from an empty mappings folder to one that passes `check`."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from conftest import MAPPINGS, SAMPLES, make_mappings, sale

from converter.cli import main
from converter.config.settings import load_settings
from converter.config.suggest import Suggestion, _Index, entry_line, normalise_name, suggest, write_suggestions
from converter.config.tables import load_mappings
from converter.convert.masters_check import apply_masters
from converter.convert.pipeline import convert
from converter.emulator.server import Emulator
from converter.fx.masters import load_masters, pull_masters

WriteCsv = Callable[..., Path]
SAMPLE = SAMPLES / "jobcan-2026-10.csv"


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FX_API_TOKEN", "emulator-token")


def empty_folder(tmp_path: Path, extra_customers: int = 0) -> Path:
    """settings.yaml and a pulled cache, no mapping tables."""
    folder = make_mappings(tmp_path / "m")
    for table in ("accounts", "tax", "departments", "customers"):
        (folder / f"{table}.yaml").unlink()
    pull_masters(folder, load_settings(folder), transport=Emulator(extra_customers=extra_customers).transport())
    return folder


def invoke(*args: str | Path) -> tuple[int, str, str]:
    result = CliRunner().invoke(main, [str(a) for a in args])
    assert "Traceback" not in result.output
    return result.exit_code, result.stdout, result.stderr


def accept(folder: Path) -> None:
    """What a reviewer does: uncomment each suggested entry whose code is filled in."""
    for path in folder.glob("*.yaml"):
        text = re.sub(r"^# (- \{(?!.*\?).*\})$", r"\1", path.read_text("utf-8"), flags=re.M)
        path.write_text(text, "utf-8")


def test_normalised_names_fold_width_kana_and_designators() -> None:
    assert normalise_name("株式会社ホクトショウジ") == normalise_name("ﾎｸﾄ ｼｮｳｼﾞ") == normalise_name("ほくと・しょうじ")
    assert normalise_name("㈱ＡＢＣ商事") == normalise_name("abc商事")
    assert normalise_name("A商店") != normalise_name("B商店")


def test_candidates_rank_exact_then_normalised_then_similar() -> None:
    index = _Index([("000001", "株式会社北斗商事", ["ホクトショウジ"]), ("000002", "北斗商事", []),
                    ("000003", "北斗商会", []), ("000004", "南海運輸", [])])
    ranked = index.rank("北斗商事")
    assert [(c.code, c.how) for c in ranked] == [("000002", "exact"), ("000001", "normalised"), ("000003", "similar")]
    assert [(c.code, c.how) for c in index.rank("ﾎｸﾄｼｮｳｼﾞ")] == [("000001", "normalised")]  # by its フリガナ
    assert index.rank("まったく別の名前") == []


def test_suggest_on_the_sample_then_accept_makes_check_pass(tmp_path: Path) -> None:
    folder = empty_folder(tmp_path)
    (folder / "tax.yaml").write_bytes((MAPPINGS / "tax.yaml").read_bytes())  # 課税区分 is not in any FX master
    # the sample's 随時の取引先 (names FX does not have) on 売掛金/買掛金 go under the catch-all 取引先
    (folder / "settings.yaml").write_text((MAPPINGS / "settings.yaml").read_text("utf-8"), "utf-8")
    code, out, _ = invoke("mappings", "suggest", SAMPLE, "-m", folder, "--write")
    assert code == 0, out
    assert "普通預金 / みずほ銀行 (79 行) → 1131/01 普通預金 / みずほ銀行 (名前が一致)" in out
    assert "C-013 株式会社ミライ電機 (168 行) → 000013 株式会社ミライ電機 (名前が一致)" in out
    accounts = (folder / "accounts.yaml").read_text("utf-8")
    assert '- {account: 普通預金, sub_account: みずほ銀行, cd_act: "1131", cd_auxact: "01"}' in accounts
    assert "# 要確認:" in accounts
    accept(folder)
    code, out, _ = invoke("check", SAMPLE, "-m", folder)
    assert code == 0, out
    conversion = convert([SAMPLE], folder)
    masters = load_masters(folder, conversion.settings)
    assert masters is not None
    assert apply_masters(conversion.lines, masters, conversion.settings, conversion.profile)[1] == []
    # Left: the four 随時の取引先 FX does not know; they go by name (unmapped_customer: name_only).
    code, out, _ = invoke("mappings", "suggest", SAMPLE, "-m", folder, "--write")
    assert code == 0 and "対応のない値 4 件" in out and out.count("候補なし") == 4
    assert "追記 0 件 (有効) / 0 件" in out and "既にあるため省略 4 件" in out


def test_write_appends_only_and_never_twice(tmp_path: Path, write_csv: WriteCsv) -> None:
    folder = empty_folder(tmp_path)
    before = '# my table\n- {account: 売上高, cd_act: "4811"}  # deliberately unusual, must stay\n'
    (folder / "accounts.yaml").write_text(before, "utf-8")
    path = write_csv([sale(), sale("B", dr="未払金", cr="雑収入", cr_dep="")])
    assert invoke("mappings", "suggest", path, "-m", folder, "--write")[0] == 0
    first = (folder / "accounts.yaml").read_text("utf-8")
    assert first.startswith(before)
    assert '- {account: 未払金, cd_act: "2141"}' in first and "account: 売上高, cd_act: \"4111\"" not in first
    code, _, _ = invoke("mappings", "suggest", path, "-m", folder, "--write")
    assert code == 0 and (folder / "accounts.yaml").read_text("utf-8") == first


def test_guesses_are_written_commented_out_and_tables_still_load(tmp_path: Path, write_csv: WriteCsv) -> None:
    folder = empty_folder(tmp_path, extra_customers=3000)
    rows = [sale(ccode="", cname="合成取引先 001234"),  # width and a space away from one of 3,020 names
            sale("B", ccode="", cname="ミライ電気"),  # one character away: a guess, not a match
            sale("C", dr="広告宣伝費", ccode="", cname="誰も知らない商会"),
            sale("D", cr_tax="課税売上8%(軽減)")]
    conversion = convert([write_csv(rows)], folder)
    masters = load_masters(folder, conversion.settings)
    assert masters is not None
    found = {s.label: s for s in suggest(conversion.lines, conversion.mappings, masters)}
    assert found["合成取引先 001234"].candidates[0].code == "101233" and found["合成取引先 001234"].confident
    assert found["ミライ電気"].candidates[0].code == "000013" and not found["ミライ電気"].confident
    assert found["広告宣伝費"].candidates == () and found["誰も知らない商会"].candidates == ()
    assert dict(found["課税売上8%(軽減)"].codes) == {"tptn": "??", "cmtxrate": 800, "is_reduce_cmtxrate": 1}
    write_suggestions(list(found.values()), folder)
    customers = (folder / "customers.yaml").read_text("utf-8")
    assert '\n- {customer: 合成取引先 001234, cd_cstm: "101233"}\n' in customers
    assert '\n# - {customer: ミライ電気, cd_cstm: "000013"}\n' in customers
    assert '\n# - {account: 広告宣伝費, cd_act: "????"}\n' in (folder / "accounts.yaml").read_text("utf-8")
    assert "# - {tax: 課税売上8%(軽減), tptn: \"??\"" in (folder / "tax.yaml").read_text("utf-8")
    load_mappings(folder)  # commented guesses never break a table


@pytest.mark.parametrize("name", ["売上: 国内", "#1 売上", "- 値引", "yes", "2026", "'引用'", "{特殊}", "末尾 "])
def test_entries_round_trip_through_yaml(name: str) -> None:
    s = Suggestion("accounts", (("account", name),), name, 1, (), (), (("cd_act", "4111"),), True)
    assert yaml.safe_load(entry_line(s)) == [{"account": name, "cd_act": "4111"}]


def test_suggest_without_a_cache_says_to_pull(tmp_path: Path, write_csv: WriteCsv) -> None:
    folder = make_mappings(tmp_path / "m")
    code, _, err = invoke("mappings", "suggest", write_csv([sale()]), "-m", folder)
    assert code == 2 and "converter masters pull" in err
