"""FX masters: pull (paging, failures that keep the old cache) and the checks against the cache.

Each check has one failing case; a clean month must pass untouched, and the bodies built from
checked lines must draw no みなし information from the emulator.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import os
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import pandas as pd
import pytest
from click.testing import CliRunner
from conftest import MAPPINGS, SAMPLES, make_mappings, sale

from converter.cli import main
from converter.config.settings import load_settings
from converter.convert.masters_check import apply_masters
from converter.convert.pipeline import convert
from converter.emulator.server import Emulator, load_seed
from converter.errors import ConfigError, FXAPIError, FXAuthError, FXFormatError, FXResponseError, Problem
from converter.fx.client import FXClient, RetryPolicy
from converter.fx.masters import MasterData, cache_path, load_masters, pull_masters

WriteCsv = Callable[..., Path]
TOKEN = "emulator-token"
FETCHED = dt.datetime(2026, 11, 2, 9, 0, tzinfo=dt.UTC)
NO_RETRY = RetryPolicy(attempts=2, sleep=lambda _: None)


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FX_API_TOKEN", TOKEN)


def seed_masters(**changes: Any) -> MasterData:
    """The emulator's sample company as a cache would hold it."""
    doc = {"format": 1, "ocode": "tc09999001", "locale": "tfa", "fetched_at": FETCHED.isoformat(), **load_seed(None)}
    return dataclasses.replace(MasterData.from_json(doc), **changes)


def pull(mappings: Path, transport: httpx.BaseTransport, **kw: Any) -> tuple[Path, MasterData]:
    return pull_masters(mappings, load_settings(mappings), transport=transport, retry=NO_RETRY, **kw)


class Counting(httpx.BaseTransport):
    """Lets the emulator answer; counts requests per path; optionally fails from request N on."""

    def __init__(self, emu: Emulator, fail_from: int | None = None) -> None:
        self.inner = emu.transport()
        self.paths: list[str] = []
        self.fail_from = fail_from

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        self.paths.append(request.url.path)
        if self.fail_from is not None and len(self.paths) >= self.fail_from:
            raise httpx.ConnectError("connection refused", request=request)
        return self.inner.handle_request(request)


def answering(body: dict[str, Any], status: int = 200) -> httpx.MockTransport:
    return httpx.MockTransport(lambda request: httpx.Response(status, json=body))


# --------------------------------------------------------------------------- pull


def test_pull_pages_customers_past_1000_and_writes_a_private_cache(mappings: Path) -> None:
    emu = Emulator(extra_customers=2300)
    transport, progress = Counting(emu), []
    path, data = pull(mappings, transport, progress=lambda done, total: progress.append((done, total)))
    assert path == cache_path(mappings, "tc09999001") == mappings / "masters" / "tc09999001.json"
    assert [p for p in transport.paths if p.endswith("/v3/customers")] == [PREFIX_CUSTOMERS] * 3
    assert progress == [(1000, 2321), (2000, 2321), (2321, 2321)]
    codes = [c["cd_cstm"] for c in data.customers]
    assert len(codes) == len(set(codes)) == 2321
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    raw = json.loads(path.read_text("utf-8"))
    assert raw["ocode"] == "tc09999001" and raw["format"] == 1
    assert dt.datetime.fromisoformat(raw["fetched_at"]).tzinfo is not None
    assert {a["cd_auxact"] for a in raw["accounts"] if a["cd_act"] == "1131"} == {"", "01", "02"}  # 口座 included
    loaded = load_masters(mappings, load_settings(mappings))
    assert loaded is not None and loaded.customers == data.customers and loaded.inpjourconfig == data.inpjourconfig


PREFIX_CUSTOMERS = "/fx/tc09999001/tfa/api/v3/customers"


def test_pull_command_against_a_real_server(mappings: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("converter.cli.progress.EVERY", 0.001)  # a progress line even for a quick pull
    with Emulator(extra_customers=1200).serve(port=0) as server:
        result = CliRunner().invoke(main, ["masters", "pull", "-m", str(mappings), "--base-url", server.url])
    assert result.exit_code == 0, result.output
    assert "取引先 1221 件" in result.stdout and "口座 2 件" in result.stdout
    assert "FX マスターを取得中" in result.stderr and "(経過 0 秒)" in result.stderr
    assert cache_path(mappings, "tc09999001").exists()


def test_wrong_token_exits_2_and_keeps_the_cache(mappings: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = pull(mappings, Emulator().transport())
    before = path.read_bytes()
    monkeypatch.setenv("FX_API_TOKEN", "wrong")
    with Emulator().serve(port=0) as server:
        result = CliRunner().invoke(main, ["masters", "pull", "-m", str(mappings), "--base-url", server.url])
    assert result.exit_code == 2
    assert "401" in result.stderr and "FX_API_TOKEN" in result.stderr and "Traceback" not in result.output
    assert path.read_bytes() == before


@pytest.mark.parametrize(("transport", "error", "text"), [
    (answering({"status": 406, "errors": [{"message": "許可されていません"}]}, 406), FXFormatError, "406"),
    (answering({"status": 200, "accounts": [{"cd_act": 1111, "nm_act": "現金"}]}), FXResponseError, "v3/accounts"),
    (answering({"status": 200, "items": []}), FXResponseError, "'accounts' がありません"),
])
def test_refused_or_misshapen_answers_keep_the_cache(mappings: Path, transport: httpx.BaseTransport,
                                                     error: type[Exception], text: str) -> None:
    path, _ = pull(mappings, Emulator().transport())
    before = path.read_bytes()
    with pytest.raises(error, match=text):
        pull(mappings, transport)
    assert path.read_bytes() == before


def test_pull_interrupted_midway_leaves_the_old_cache_byte_identical(mappings: Path) -> None:
    path, _ = pull(mappings, Emulator(extra_customers=2500).transport())
    before = path.read_bytes()
    # 5 requests for the other masters, then customers page 1 arrives and the network goes.
    broken = Counting(Emulator(extra_customers=3000), fail_from=7)
    with pytest.raises(FXAPIError, match="接続できません"):
        pull(mappings, broken)
    assert broken.paths[5].endswith("/v3/customers")
    assert path.read_bytes() == before
    assert os.listdir(path.parent) == [path.name]  # no temp file left behind


def test_customer_list_cut_short_is_refused(mappings: Path) -> None:
    emu = Emulator()

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/v3/customers"):
            return httpx.Response(200, json={"status": 200, "total_count": 5000, "customers": []})
        return emu.transport().handle_request(request)

    with pytest.raises(FXResponseError, match="途切れ"):
        pull(mappings, httpx.MockTransport(handler))
    assert not cache_path(mappings, "tc09999001").exists()


def test_unreadable_or_foreign_cache_is_a_config_error(mappings: Path) -> None:
    path = cache_path(mappings, "tc09999001")
    path.parent.mkdir()
    path.write_text("{not json", "utf-8")
    with pytest.raises(ConfigError, match="masters pull"):
        load_masters(mappings, load_settings(mappings))
    path.write_text(json.dumps(seed_masters(ocode="tc00000002").to_json()), "utf-8")
    with pytest.raises(ConfigError, match="tc00000002"):
        load_masters(mappings, load_settings(mappings))


# --------------------------------------------------------------------------- checks


def append(folder: Path, table: str, text: str) -> None:
    path = folder / f"{table}.yaml"
    path.write_text(path.read_text("utf-8") + text + "\n", "utf-8")


def check(rows: list[dict[str, str]], mappings: Path, write_csv: WriteCsv, masters: MasterData | None = None,
          **kw: Any) -> tuple[Any, list[Problem], list[Problem]]:
    conversion = convert([write_csv(rows)], mappings)
    assert conversion.problems == (), conversion.problems
    return apply_masters(conversion.lines, masters or seed_masters(), conversion.settings, conversion.profile,
                         now=FETCHED, **kw)


def rules(found: list[Problem]) -> list[str]:
    return [p.rule for p in found]


def receipt(doc: str, **over: str) -> dict[str, str]:
    """普通預金 (みずほ銀行) / 売掛金: a 資金 / 非資金 slip."""
    row = {"kind": "入金", "dr": "普通預金", "dr_sub": "みずほ銀行", "dr_tax": "", "cr": "売掛金", "cr_dep": "",
           "cr_tax": "", "cr_taxamt": "", "dr_amt": "55000", "cr_amt": "55000"}
    return {**sale(doc), **row, **over}


def test_a_clean_month_passes(mappings: Path, write_csv: WriteCsv) -> None:
    _, problems, notices = check([sale("A"), sale("B"), receipt("R")], mappings, write_csv)
    assert problems == []
    # 売上高 and 普通預金 are not managed by 取引先: one notice per account, not one per line.
    assert rules(notices) == ["needless_cd_cstm"] * 2
    assert {n.message.split(")")[0] for n in notices} == {"売上高(cd_act 4111", "普通預金(cd_act 1131"}
    assert "(2 行" in next(n.message for n in notices if n.value == "売上高")


def test_unknown_account_code(mappings: Path, write_csv: WriteCsv) -> None:
    append(mappings, "accounts", '- {account: 広告宣伝費, cd_act: "7999"}')
    _, problems, _ = check([sale(), sale("B", dr="広告宣伝費")], mappings, write_csv)
    (p,) = problems
    assert (p.rule, p.row, p.column, p.value) == ("master_account", 3, "借方勘定科目", "広告宣伝費")
    assert "7999" in p.message and "cd_act" in p.message and "accounts.yaml" in p.message


def test_account_managed_by_koza_needs_cd_auxact(mappings: Path, write_csv: WriteCsv) -> None:
    _, problems, _ = check([receipt("R", dr_sub="")], mappings, write_csv)  # 普通預金 maps without 口座
    (p,) = problems
    assert (p.rule, p.column, p.row) == ("auxact_required", "借方補助科目", 2)
    assert "is_useauxact=1" in p.message and "01 みずほ銀行" in p.message


def test_unknown_koza_is_an_error_unless_fx_may_add_it(mappings: Path, write_csv: WriteCsv) -> None:
    append(mappings, "accounts", '- {account: 普通預金, sub_account: 楽天銀行, cd_act: "1131", cd_auxact: "09"}')
    _, problems, _ = check([receipt("R", dr_sub="楽天銀行")], mappings, write_csv)
    assert rules(problems) == ["master_auxact"] and "is_add_auxmaster" in problems[0].message
    settings_path = mappings / "settings.yaml"
    settings_path.write_text(settings_path.read_text("utf-8") + "is_add_auxmaster: 1\n", "utf-8")
    _, problems, notices = check([receipt("R", dr_sub="楽天銀行")], mappings, write_csv)
    assert problems == [] and "master_auto_add" in rules(notices)


def test_account_managed_by_department_needs_cd_dep(mappings: Path, write_csv: WriteCsv) -> None:
    _, problems, _ = check([sale(cr_dep="")], mappings, write_csv)
    (p,) = problems
    assert (p.rule, p.column) == ("department_required", "貸方部門")
    assert "is_usedep=1" in p.message and "900 共通" in p.message


def test_unknown_department_code(mappings: Path, write_csv: WriteCsv) -> None:
    append(mappings, "departments", '- {department: 海外事業部, cd_dep: "777"}')
    _, problems, _ = check([sale(cr_dep="海外事業部")], mappings, write_csv)
    (p,) = problems
    assert (p.rule, p.value) == ("master_department", "海外事業部") and "is_add_depmaster" in p.message


def test_one_problem_per_value_lists_its_rows_and_leaves_the_lines_given_alone(
        mappings: Path, write_csv: WriteCsv) -> None:
    append(mappings, "departments", '- {department: 海外事業部, cd_dep: "777"}')
    append(mappings, "departments", '- {department: 北米事業部, cd_dep: "778"}')
    rows = [sale(f"D{i:02}", cr_dep="北米事業部" if i == 5 else "海外事業部") for i in range(13)]
    conversion = convert([write_csv(rows[::-1])], mappings)  # the first source row is D12
    given = conversion.lines.copy()
    _, problems, _ = apply_masters(conversion.lines, seed_masters(), conversion.settings, conversion.profile,
                                   now=FETCHED)
    assert [(p.rule, p.row, p.value) for p in problems] == [("master_department", 2, "海外事業部"),
                                                            ("master_department", 9, "北米事業部")]
    assert "(12 行: 2, 3, 4, 5, 6, 7, 8, 10, 11, 12 …)" in problems[0].message
    assert "(1 行: 9)" in problems[1].message
    assert problems[0].document.endswith("D12")
    pd.testing.assert_frame_equal(conversion.lines, given)


def test_account_managed_by_customer_needs_a_code_or_a_name(mappings: Path, write_csv: WriteCsv) -> None:
    _, problems, _ = check([sale(ccode="", cname="")], mappings, write_csv)
    (p,) = problems
    assert (p.rule, p.column) == ("customer_required", "取引先名") and "is_usecstmldgr=1" in p.message
    # 随時の取引先 (a name, no code) on such an account: FX requires cd_cstm there (tests/test_fx_rules.py)
    _, problems, _ = check([sale(ccode="", cname="佐藤商事")], mappings, write_csv)
    (p,) = problems
    assert (p.rule, p.value) == ("customer_required", "佐藤商事") and "one_off_customer_code" in p.message


def test_unknown_customer_code(mappings: Path, write_csv: WriteCsv) -> None:
    append(mappings, "customers", '- {customer_code: C-009, cd_cstm: "000777"}')
    _, problems, _ = check([sale(ccode="C-009")], mappings, write_csv)
    (p,) = problems
    assert (p.rule, p.column, p.value) == ("master_customer", "取引先コード", "C-009")
    assert "000777" in p.message and "is_add_cstmmaster" in p.message


def test_tax_rate_not_in_the_rate_table_on_that_day(mappings: Path, write_csv: WriteCsv) -> None:
    append(mappings, "tax", '- {tax: 課税売上8%, tptn: "1", cmtxrate: 800, is_reduce_cmtxrate: 0}')
    _, problems, _ = check([sale(cr_tax="課税売上8%", cr_taxamt="8148")], mappings, write_csv)
    (p,) = problems
    assert (p.rule, p.column, p.value) == ("tax_rate", "貸方税区分", "課税売上8%")
    assert "2026-10-01" in p.message and "1000 (10%)" in p.message and "800 軽減 (8%)" in p.message


def test_tax_on_an_account_without_tax_is_dropped_with_one_notice(mappings: Path, write_csv: WriteCsv) -> None:
    rows = [sale("A", dr_tax="課税売上10%", dr_taxamt="10000"), sale("B", dr_tax="課税売上10%", dr_taxamt="10000")]
    lines, problems, notices = check(rows, mappings, write_csv)
    assert problems == []
    (notice,) = [n for n in notices if n.rule == "needless_tax"]
    assert "売掛金(cd_act 1161)" in notice.message and "みなし" in notice.message and "(2 行" in notice.message
    debit = lines[lines["side"] == 1]
    assert (debit["tax_amount"] == 0).all() and debit["cmtxrate"].isna().all() and (debit["tptn"] == "").all()
    credit = lines[lines["side"] == 0]
    assert (credit["cmtxrate"] == 1000).all() and (credit["tax_amount"] == 10000).all()  # 売上高 keeps its tax


def test_fields_an_account_does_not_use_are_blanked(mappings: Path, write_csv: WriteCsv) -> None:
    lines, problems, notices = check([sale("A", dr_dep="営業部"), sale("B", dr_dep="営業部")], mappings, write_csv)
    assert problems == []
    (notice,) = [n for n in notices if n.rule == "needless_cd_dep"]
    assert "売掛金" in notice.message and "is_usedep=0" in notice.message
    assert (lines.loc[lines["side"] == 1, "cd_dep"] == "").all()
    assert (lines.loc[lines["side"] == 0, "cd_cstm"] == "").all()  # 売上高 is not managed by 取引先


def test_fund_slips_take_the_counter_account_default_or_are_reported(mappings: Path, write_csv: WriteCsv) -> None:
    append(mappings, "accounts", '- {account: 未払金, cd_act: "2141"}')
    fee = receipt("R2", dr_amt="54340", cr_amt="55000")
    fee_line = sale("R2", kind="入金", dr="支払手数料", dr_amt="660", dr_tax="課税仕入10%", dr_taxamt="60", cr="",
                    cr_amt="", cr_dep="", cr_tax="", cr_taxamt="")
    payment = receipt("P1", kind="支払", dr="未払金", dr_sub="", cr="普通預金", cr_sub="みずほ銀行")
    lines, problems, notices = check([receipt("R1"), fee, fee_line, payment, sale("S")], mappings, write_csv)
    by_doc = lines.groupby("doc_no")[["cd_fbcat", "cd_fbbdcat"]].agg(set)
    assert by_doc.loc["R1"].tolist() == [{"01"}, {"02"}]  # 売掛金 on the credit side: cd_fbcat_cc / cd_fbbdcat_cc
    assert by_doc.loc["R2"].tolist() == [{"01"}, {"02"}]  # the larger 売掛金 wins over 支払手数料 (02/03)
    assert by_doc.loc["S"].tolist() == [{""}, {""}]  # no 資金 account: nothing to send
    (p,) = problems
    assert (p.rule, p.value, p.column) == ("fund_category", "未払金", "借方勘定科目")
    assert "cd_fbcat_dc/cd_fbbdcat_dc" in p.message and "資金相手科目" in p.message
    assert "fund_default" in rules(notices)
    off = check([payment], mappings, write_csv, masters=seed_masters(fundbalancebreakdowns=[]))
    assert off[1] == [] and set(off[0]["cd_fbcat"]) == {""}  # 資金管理 not used: nothing needed


def test_stale_cache_warns_with_the_refresh_command(mappings: Path, write_csv: WriteCsv) -> None:
    masters = seed_masters(path=cache_path(mappings, "tc09999001"))
    conversion = convert([write_csv([sale()])], mappings)
    later = FETCHED + dt.timedelta(days=8)
    _, problems, notices = apply_masters(conversion.lines, masters, conversion.settings, conversion.profile, now=later)
    (stale,) = [n for n in notices if n.rule == "masters_stale"]
    assert problems == [] and "8 日前" in stale.message and f"converter masters pull -m {mappings}" in stale.message
    _, _, notices = apply_masters(conversion.lines, masters, conversion.settings, conversion.profile, now=later,
                                  max_age_days=10)
    assert "masters_stale" not in rules(notices)


def test_sample_month_passes_and_draws_no_minashi_from_fx(tmp_path: Path) -> None:
    """The sample's bodies, once checked, are stored by the emulator without a single みなし."""
    folder = make_mappings(tmp_path / "m")
    for table in ("settings", "accounts", "tax", "departments", "customers"):  # one_off_customer_code included
        (folder / f"{table}.yaml").write_bytes((MAPPINGS / f"{table}.yaml").read_bytes())
    emu = Emulator()
    pull(folder, emu.transport())
    conversion = convert([SAMPLES / "jobcan-2026-10.csv"], folder)  # the cache is applied by convert
    assert conversion.problems == ()
    requests = list(conversion.requests)
    with FXClient("http://127.0.0.1:8765", "tc09999001", TOKEN, transport=emu.transport()) as client:
        results = [client.import_slips(r.to_json()) for r in requests]
    assert [r.outcome for r in results] == ["stored"] * len(requests)
    assert [i for r in results for i in r.informations] == []
    stored = emu.stored_slips()
    assert len(stored) == 360
    # 入金 (普通預金 / 売掛金) slips mix fund and non-fund accounts: 売掛金's credit default 01/02 is sent.
    receipt = next(r["slip"] for r in stored if r["slip"]["detail"][0]["cd_act"] == "1131")
    assert (receipt["cd_fbcat"], receipt["cd_fbbdcat"]) == ("01", "02")


def test_wrong_token_during_pull_is_auth_error(mappings: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FX_API_TOKEN", "wrong")
    with pytest.raises(FXAuthError, match="401"):
        pull(mappings, Emulator().transport())
    assert not cache_path(mappings, "tc09999001").exists()
