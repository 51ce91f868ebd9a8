"""Emulator rules of issue 16, each against the FX reference section it cites (in-process)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner
from conftest import EMULATOR_HEADERS, EMULATOR_IMPORT, EMULATOR_PREFIX, make_mappings, to_csv
from conftest import sale as conftest_sale
from ledger_helpers import new_ledger

from converter.cli import main
from converter.emulator.fields import DOCUMENTED, INFO_NO_DEP, OWN_MESSAGES
from converter.emulator.server import Emulator, load_seed
from converter.errors import FXAPIError
from converter.fx.client import FXClient
from converter.ledger.ledger import Ledger

HEADERS = EMULATOR_HEADERS
PREFIX = EMULATOR_PREFIX
IMPORT = EMULATOR_IMPORT


def bad(label: str) -> str:
    return DOCUMENTED["bad_code"].format(label=label)


def line(pos: int, dc: int, cd_act: str, amount: int, **extra: Any) -> dict[str, Any]:
    return {"pos_dsp": pos, "is_ocr_dc": dc, "cd_act": cd_act, "amnt_tr": amount, **extra}


def sale(**extra: Any) -> dict[str, Any]:
    """売掛金 (取引先 000001) / 売上高 10% 部門 001: no fund account, valid as is."""
    return {"ymd_tr": "2024-04-01", "journo_read": "1", "cd_coopsystem": "EX", **extra,
            "detail": [line(1, 1, "1161", 11000, cd_cstm="000001"),
                       line(1, 0, "4111", 11000, cd_dep="001", tptn="1", cmtxrate=1000,
                            amnt_cmtx=1000)]}


def cash(cd_act: str = "7421", **extra: Any) -> dict[str, Any]:
    """雑費 (or another expense) 10% / 現金: mixes a fund and a non-fund account."""
    return {"ymd_tr": "2024-04-01", "journo_read": "2", "cd_coopsystem": "EX", **extra,
            "detail": [line(1, 1, cd_act, 1100, tptn="11", cmtxrate=1000, amnt_cmtx=100),
                       line(1, 0, "1111", 1100)]}


class Fx:
    def __init__(self, **options: Any) -> None:
        self.emu = Emulator(**options)
        self.http = httpx.Client(transport=self.emu.transport(), base_url="http://fx.test",
                                 headers=HEADERS)

    def post(self, *slips: dict[str, Any]) -> httpx.Response:
        return self.http.post(IMPORT, json={"slips": list(slips)})

    def stored(self, n: int = 0) -> dict[str, Any]:
        slip: dict[str, Any] = self.emu.stored_slips()[n]["slip"]
        return slip

    def get(self, path: str, **params: Any) -> Any:
        return self.http.get(PREFIX + path, params=params).json()


@pytest.fixture
def fx() -> Iterator[Fx]:
    f = Fx()
    yield f
    f.http.close()


def contents(r: httpx.Response) -> list[str]:
    return [e["content"] for e in r.json()["errors"]]


# -- the fund rule (reference §cd_fbcat, §cd_fbbdcat, §収支区分と内訳区分の初期値情報) -----------
def test_fund_rule_requires_both_categories_when_no_default(fx: Fx) -> None:
    r = fx.post(cash())  # 7421 雑費 has no 資金相手科目 default
    assert r.status_code == 400
    assert r.json()["errors"] == [
        {"groupno": 1, "is_ocr_dc": None, "lineno": None, "content": bad("収支区分")},
        {"groupno": 1, "is_ocr_dc": None, "lineno": None, "content": bad("内訳区分")}]
    assert fx.post(cash(cd_fbcat="02", cd_fbbdcat="03")).status_code == 201
    assert (fx.stored()["cd_fbcat"], fx.stored()["cd_fbbdcat"]) == ("02", "03")


def test_fund_rule_defaults_from_the_non_fund_accounts_side(fx: Fx) -> None:
    received = {"ymd_tr": "2024-04-01", "cd_coopsystem": "EX", "detail": [
        line(1, 1, "1131", 5000, cd_auxact="01"), line(1, 0, "1161", 5000, cd_cstm="000001")]}
    repaid = {"ymd_tr": "2024-04-01", "cd_coopsystem": "EX", "detail": [
        line(1, 1, "1161", 5000, cd_cstm="000001"), line(1, 0, "1131", 5000, cd_auxact="01")]}
    assert fx.post(received, repaid).status_code == 201
    # 売掛金 on the credit side → its 貸方 defaults (01/02); on the debit side → 借方 (01/01).
    assert [(fx.stored(i)["cd_fbcat"], fx.stored(i)["cd_fbbdcat"]) for i in (0, 1)] == [
        ("01", "02"), ("01", "01")]


def test_fund_rule_pair_must_be_a_listed_breakdown(fx: Fx) -> None:
    r = fx.post(cash(cd_fbcat="02", cd_fbbdcat="09"))
    assert (r.status_code, contents(r)) == (400, [OWN_MESSAGES["fund_pair"]])


def test_fund_categories_on_a_slip_without_fund_accounts_are_minashi(fx: Fx) -> None:
    r = fx.post(sale(cd_fbcat="01", cd_fbbdcat="01"))
    assert r.json() == {"status": 201, "informations": [
        {"groupno": 1, "lineno": None, "content": OWN_MESSAGES["info_no_fund"]}]}
    assert (fx.stored()["cd_fbcat"], fx.stored()["cd_fbbdcat"]) == ("", "")


def test_company_without_fund_management_needs_no_categories() -> None:
    fx = Fx(company={"use_fund_management": False})
    assert fx.post(cash()).status_code == 201
    assert fx.get("/v1/fundbalancebreakdowns") == {"status": 200, "fundbalancebreakdowns": []}


# -- 403 when a master would be added without the right (reference §403 description) -------
@pytest.mark.parametrize(("right", "flag", "patch", "message"), [
    ("may_update_customers", "is_add_cstmmaster", {"cd_cstm": "777777", "nm_cstm": "新取引先"},
     "forbidden_cstm"),
    ("may_update_departments", "is_add_depmaster", {"cd_dep": "555", "nm_dep": "新部門"},
     "forbidden_dep"),
    ("may_update_auxacts", "is_add_auxmaster",
     {"cd_act": "1131", "cd_auxact": "09", "nm_auxact": "新銀行", "cd_cstm": ""},
     "forbidden_aux"),
])
def test_403_when_an_import_would_add_a_master_without_the_right(
        right: str, flag: str, patch: dict[str, str], message: str) -> None:
    fx = Fx(company={right: False})
    slip = sale(**{flag: 1})
    target = slip["detail"][1] if "cd_dep" in patch else slip["detail"][0]
    target.update(patch)
    if "cd_auxact" in patch:  # 普通預金 receives: put the 口座 on the fund side of a valid slip
        slip["detail"][1].update(cd_act="1161", cd_cstm="000001")
        for k in ("cd_dep", "tptn", "cmtxrate", "amnt_cmtx"):
            slip["detail"][1].pop(k)
    r = fx.post(slip)
    assert (r.status_code, r.json()) == (403, {"status": 403, "errors": [
        {"message": OWN_MESSAGES[message]}]})
    assert fx.emu.stored_slips() == []
    assert Fx().post(slip).status_code == 201  # the same body, with the right
    assert fx.post(sale()).status_code == 201  # known codes need no right


# -- auto-added masters keep the names sent (§nm_dep, §nm_auxact, §nm_cstm) -----------------
def test_auto_added_masters_keep_the_names_sent_and_known_codes_keep_theirs(fx: Fx) -> None:
    slip = sale(is_add_depmaster=1, is_add_cstmmaster=1)
    slip["detail"][0].update(cd_cstm="777777", nm_cstm="新取引先")
    slip["detail"][1].update(cd_dep="555", nm_dep="新部門")
    assert fx.post(slip).status_code == 201
    assert fx.get("/v3/customers/777777")["customer"]["nm_cstm"] == "新取引先"
    assert fx.get("/v2/departments/555")["department"]["nm_dep"] == "新部門"
    known = sale()
    known["detail"][1]["nm_dep"] = "別の名前"
    known["detail"][0]["nm_cstm"] = "別の名前"
    assert fx.post(known).status_code == 201
    stored = fx.stored(1)["detail"]
    assert (stored[0]["nm_cstm"], stored[1]["nm_dep"]) == ("A商店", "営業部")
    assert fx.get("/v2/departments/001")["department"]["nm_dep"] == "営業部"


# -- cd_cstm on customer-ledger accounts (§cd_cstm, §is_add_cstmmaster) ---------------------
def test_name_only_customer_on_a_customer_ledger_account_is_rejected(fx: Fx) -> None:
    slip = sale()
    slip["detail"][0] = line(1, 1, "1161", 11000, nm_cstm="随時の取引先")
    r = fx.post(slip)
    assert (r.status_code, r.json()["errors"]) == (400, [
        {"groupno": 1, "is_ocr_dc": 1, "lineno": 1, "content": bad("取引先コード")}])


# -- cmtxrate against the rate table (§cmtxrate) --------------------------------------------
@pytest.mark.parametrize(("cd_act", "rate", "reduce"), [
    ("4111", 800, 0),    # 8% standard ended 2019-09-30
    ("4111", 1000, 1),   # no reduced 10%
    ("2181", 500, 0),    # 仮受消費税 (catcmtx 4) too
    ("1311", 800, 0),    # 仮払消費税 (catcmtx 3) too
])
def test_rate_must_be_in_the_rate_table_on_every_taxable_account(
        fx: Fx, cd_act: str, rate: int, reduce: int) -> None:
    slip = sale()
    slip["detail"][1].update(cd_act=cd_act, cmtxrate=rate, is_reduce_cmtxrate=reduce)
    if cd_act != "4111":
        slip["detail"][1].pop("cd_dep")
    r = fx.post(slip)
    assert (r.status_code, contents(r)) == (400, [OWN_MESSAGES["rate"]])


def test_rate_table_allows_the_reduced_rate(fx: Fx) -> None:
    slip = sale()
    slip["detail"][1].update(cmtxrate=800, is_reduce_cmtxrate=1, amnt_cmtx=814)
    assert fx.post(slip).status_code == 201


# -- is_autocalccmtx (§is_autocalccmtx) -----------------------------------------------------
@pytest.mark.parametrize(("amount", "tax", "stored", "informed"), [
    (11000, 1000, 1000, False),
    (11000, 999, 0, True),
    (10001, 909, 909, False),   # 909.18…: rounded down
    (10001, 910, 910, False),   # rounded up (the company's rounding is not in the reference)
    (10001, 0, 0, True),
])
def test_autocalc_tax_that_does_not_match_is_stored_as_zero(
        fx: Fx, amount: int, tax: int, stored: int, informed: bool) -> None:
    slip = sale()
    for d in slip["detail"]:
        d["amnt_tr"] = amount
    slip["detail"][1].update(amnt_cmtx=tax, is_autocalccmtx=1)
    r = fx.post(slip)
    assert r.status_code == 201
    info = [{"groupno": 1, "lineno": 1, "content": OWN_MESSAGES["info_autocalc"]}]
    assert r.json().get("informations") == (info if informed else None)
    assert fx.stored()["detail"][1]["amnt_cmtx"] == stored


# -- ymd_purday by cat_purday (§ymd_purday2 table) ------------------------------------------
@pytest.mark.parametrize(("fields", "missing"), [
    ({"cat_purday": 1}, ["仕入れ日1"]),
    ({"cat_purday": 2, "ymd_purday1": "20240301"}, ["仕入れ日2"]),
    ({"cat_purday": 3}, ["仕入れ日1"]),
    ({"cat_purday": 4, "ymd_purday2": "2024/03/01"}, ["仕入れ日1"]),
])
def test_purchase_dates_required_by_cat_purday(fx: Fx, fields: dict[str, Any],
                                               missing: list[str]) -> None:
    slip = cash(cd_fbcat="02", cd_fbbdcat="03")
    slip["detail"][0].update(fields)
    r = fx.post(slip)
    assert (r.status_code, contents(r)) == (400, [bad(m) for m in missing])
    slip["detail"][0].update(ymd_purday1="20240301", ymd_purday2="20240401")
    assert fx.post(slip).status_code == 201


def test_purchase_dates_not_needed_are_minashi(fx: Fx) -> None:
    slip = cash(cd_fbcat="02", cd_fbbdcat="03")
    slip["detail"][0].update(cat_purday=9, ymd_purday1="20240301")
    r = fx.post(slip)
    assert r.json()["informations"] == [
        {"groupno": 1, "lineno": 1, "content": OWN_MESSAGES["info_no_purday"]}]
    assert fx.stored()["detail"][0]["ymd_purday1"] == ""


# -- company settings: tptn, tbptn, amnt_cmtx, vouno, 部門別管理 ------------------------------
def test_tptn_required_when_the_company_makes_the_tax_return() -> None:
    slip = sale()
    del slip["detail"][1]["tptn"]
    r = Fx().post(slip)
    assert (r.status_code, contents(r)) == (400, [bad("課税区分")])
    assert Fx(company={"makes_tax_return": False}).post(slip).status_code == 201


def test_tbptn_required_with_main_business_for_tptn_1_and_11() -> None:
    fx = Fx(company={"manages_main_business": True})
    r = fx.post(sale())
    assert (r.status_code, contents(r)) == (400, [bad("事業区分")])
    slip = sale()
    slip["detail"][1]["tbptn"] = "1"
    assert fx.post(slip).status_code == 201


def test_amnt_cmtx_required_under_tax_excluded_accounting() -> None:
    slip = sale()
    del slip["detail"][1]["amnt_cmtx"]
    r = Fx(company={"tax_excluded": True}).post(slip)
    assert (r.status_code, contents(r)) == (400, [bad("消費税額")])
    assert Fx().post(slip).status_code == 201


def test_vouno_digits_only_setting() -> None:
    r = Fx(company={"vouno_digits_only": True}).post(sale(vouno="A1"))
    assert r.status_code == 400 and "証憑番号" in contents(r)[0]
    assert Fx().post(sale(vouno="A1")).status_code == 201


def test_company_without_departments_ignores_cd_dep_and_lists_none() -> None:
    fx = Fx(company={"use_departments": False})
    r = fx.post(sale())
    assert r.json() == {"status": 201, "informations": [
        {"groupno": 1, "lineno": 1, "content": INFO_NO_DEP}]}
    assert fx.get("/v2/departments") == {"status": 200, "departments": []}


def test_unknown_company_setting_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown company settings"):
        Emulator(company={"uses_departments": True})


# -- master endpoint parameters as the reference gives them --------------------------------
def test_is_dsp_all_parameters_show_hidden_records() -> None:
    seed = load_seed(None)
    seed["customers"][0]["_hidden"] = True
    seed["departments"][0]["_hidden"] = True
    next(a for a in seed["accounts"] if a["cd_auxact"] == "02")["_hidden"] = True
    fx = Fx(seed=seed)
    default = fx.get("/v3/customers", limit=1000)["customers"]
    shown = fx.get("/v3/customers", limit=1000, is_dsp_all=1)["customers"]
    assert (len(shown) - len(default), shown[0]["cd_cstm"]) == (1, "000001")
    assert all("_hidden" not in c for c in shown)
    assert [d["cd_dep"] for d in fx.get("/v2/departments")["departments"]] == ["002", "003", "900"]
    assert len(fx.get("/v2/departments", is_dsp_all=1)["departments"]) == 4

    def aux(**params: Any) -> list[str]:
        return [a["cd_auxact"] for a in fx.get("/v3/accounts", **params)["accounts"]
                if a["cd_act"] == "1131"]

    assert (aux(), aux(is_dsp_allaux=1)) == (["", "01"], ["", "01", "02"])
    for path, params in (("/v3/customers", {"is_dsp_all": 2}), ("/v2/departments", {"is_dsp_all": "x"}),
                         ("/v3/accounts", {"is_dsp_allaux": 2}), ("/v3/accounts", {"cat_fs": 4}),
                         ("/v3/customers", {"cat_cstmrltn": 5}), ("/v3/customers", {"sort": "phoneno1"}),
                         ("/v3/customers", {"limit": 0}), ("/v1/consumptiontaxrates", {"ymd_tr": "2024-4-01"})):
        assert fx.http.get(PREFIX + path, params=params).status_code == 400, (path, params)


# -- --ocode / --locale and the 404 of an unknown company ----------------------------------
def test_several_ocodes_and_a_locale() -> None:
    emu = Emulator(ocodes=["tc00000001", "tc00000002"], locale="tfb")
    with httpx.Client(transport=emu.transport(), base_url="http://fx.test", headers=HEADERS) as http:
        for ocode in ("tc00000001", "tc00000002"):
            assert http.post(f"/fx/{ocode}/tfb/api/v2/slips/import",
                             json={"slips": [sale()]}).status_code == 201
        for path in ("/fx/tc09999001/tfb/api/v2/slips/import", "/fx/tc00000001/tfa/api/v2/slips/import"):
            r = http.post(path, json={"slips": [sale()]})
            assert (r.status_code, r.json()) == (404, {"status": 404, "errors": [
                {"message": "該当するデータがありません"}]})
    assert [len(emu.stored_slips(o)) for o in ("tc00000001", "tc00000002")] == [1, 1]


def test_emulator_command_offers_ocode_and_locale() -> None:
    result = CliRunner().invoke(main, ["emulator", "--help"])
    assert result.exit_code == 0
    assert "--ocode OCODE" in result.output and "--locale LOCALE" in result.output


@pytest.mark.parametrize("call", ["import", "masters"])
def test_client_stops_on_404_with_fx_message_and_settings_hint(call: str) -> None:
    emu = Emulator()
    calls: list[str] = []
    transport = emu.transport()

    def counting(request: httpx.Request) -> httpx.Response:
        calls.append(request.url.path)
        return transport.handle_request(request)

    with FXClient("http://127.0.0.1:1", "tc99999999", "emulator-token", locale="tfa",
                  transport=httpx.MockTransport(counting)) as client, pytest.raises(FXAPIError) as err:
        if call == "import":
            client.import_slips(json.dumps({"slips": [sale()]}).encode())
        else:
            client.get("v3/accounts")
    assert str(err.value) == (
        "FX: 該当するデータがありません (HTTP 404)。企業コード・システム識別子を FX が認識しません。"
        "settings.yaml の ocode (tc99999999) と locale (tfa) を確認してください。"
        "処理を中止しました (FX には何も登録されていません)")
    assert err.value.status == 404 and len(calls) == 1  # no retry
    assert emu.stored_slips() == []


def test_upload_to_an_ocode_fx_does_not_know_stops_with_the_hint(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The emulator serves another company: the run stops at the first answer, sends nothing
    twice, leaves every document unsent and says to check ocode/locale in settings.yaml."""
    monkeypatch.setenv("FX_API_TOKEN", "emulator-token")
    mappings = make_mappings(tmp_path / "mappings")
    source = tmp_path / "in.csv"
    source.write_bytes(to_csv([conftest_sale(f"INV-{i}") for i in range(3)]).encode("cp932"))
    ledger = new_ledger(tmp_path / "l.sqlite", "tc09999001")
    emu = Emulator(ocodes=["tc00000001"])
    with emu.serve() as server:
        result = CliRunner().invoke(main, ["upload", str(source), "-m", str(mappings), "--base-url", server.url,
                                           "--ledger", str(ledger)])
    assert result.exit_code == 2, result.output
    assert ("FX: 該当するデータがありません (HTTP 404)。企業コード・システム識別子を FX が認識しません。"
            "settings.yaml の ocode (tc09999001) と locale (tfa) を確認してください") in result.output
    assert "Traceback" not in result.output
    assert emu.stats()["requests"] <= 2 and emu.stored_slips() == []  # no retry storm
    with Ledger.open(ledger, ocode="tc09999001", readonly=True) as book:
        assert {r.status for r in book.documents()} <= {"pending"}


def test_emulator_server_serves_the_ocodes_and_locale_given(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-m", "converter", "emulator", "--port", "0", "--ocode", "tc00000001",
                             "--ocode", "tc00000002", "--locale", "tfb"], stderr=subprocess.PIPE, text=True,
                            cwd=tmp_path)
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()
        match = re.match(r"FX エミュレーター: (http://127\.0\.0\.1:\d+) で待ち受けています \(ocode tc00000001,"
                         r"tc00000002, locale tfb,", banner)
        assert match, banner
        with httpx.Client(base_url=match.group(1), headers=HEADERS, timeout=5) as http:
            for ocode in ("tc00000001", "tc00000002"):
                assert http.get(f"/fx/{ocode}/tfb/api/v1/inpjourconfig").status_code == 200
            r = http.get("/fx/tc09999001/tfb/api/v1/inpjourconfig")
            assert (r.status_code, r.json()) == (404, {"status": 404, "errors": [
                {"message": "該当するデータがありません"}]})
            assert http.get("/fx/tc00000001/tfa/api/v1/inpjourconfig").status_code == 404
    finally:
        proc.terminate()
        proc.wait(5)


def test_documented_messages_are_the_references_and_own_ones_are_not() -> None:
    """DOCUMENTED texts appear in the reference verbatim; OWN_MESSAGES texts do not (else they
    would belong in DOCUMENTED)."""
    import converter.emulator.server as emulator_module
    from converter.emulator.masters import MSG_404

    reference = Path(__file__).resolve().parents[2] / "shared" / "reference" / "fx-cloud-api.txt"
    if not reference.exists():
        pytest.skip("the reference is not beside this checkout")
    text = reference.read_text("utf-8")
    assert DOCUMENTED["bad_code"].format(label="勘定科目コード") in text
    assert DOCUMENTED["info_no_dep"] in text
    for documented in (emulator_module.MSG_401, emulator_module.MSG_403, emulator_module.MSG_406, MSG_404):
        assert f'"message": "{documented}"' in text
    own = [*OWN_MESSAGES.values(), *emulator_module.OWN_MESSAGES.values()]
    chunks = [c for m in own for c in re.split(r"\{[^}]*\}", m) if len(c) >= 8]
    assert [c for c in chunks if c in text] == []
