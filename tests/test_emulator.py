"""The FX API emulator, through httpx: in-process MockTransport and a real loopback server."""

from __future__ import annotations

import copy
import json
import re
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from conftest import EMULATOR_HEADERS, EMULATOR_IMPORT, EMULATOR_PREFIX

from converter.emulator.fields import INFO_NO_DEP, INFO_NO_TAX, MSG_PARSE, text_width
from converter.emulator.server import Emulator, EmulatorServer, load_seed

HEADERS = EMULATOR_HEADERS
PREFIX = EMULATOR_PREFIX
IMPORT = EMULATOR_IMPORT
ROOT = Path(__file__).resolve().parent.parent
ACT_MSG = "勘定科目コードが入力されていないか、誤った勘定科目コードが入力されています"


def detail(pos: int, dc: int, cd_act: str, amount: int, **extra: Any) -> dict[str, Any]:
    return {"pos_dsp": pos, "is_ocr_dc": dc, "cd_act": cd_act, "amnt_tr": amount, **extra}


def slip(journo_read: str, amount: int = 11000, **extra: Any) -> dict[str, Any]:
    """現金 / 雑収入 10% — balanced and valid against the packaged seed."""
    return {
        "ymd_tr": "2024-04-01", "journo": journo_read[-5:], "journo_read": journo_read,
        "cd_coopsystem": "EX",
        "detail": [
            detail(1, 1, "1111", amount, rcj_slip="テスト"),
            detail(1, 0, "4811", amount, tptn="11", cmtxrate=1000, is_reduce_cmtxrate=0,
                   amnt_cmtx=amount // 11, rcj_slip="テスト"),
        ],
        **extra,
    }


@dataclass
class Api:
    emu: Emulator
    client: httpx.Client
    kind: str
    base_url: str

    def bare_client(self) -> httpx.Client:
        """A client with no default headers (to test what happens without them)."""
        if self.kind == "mock":
            return httpx.Client(transport=self.emu.transport(), base_url=self.base_url)
        return httpx.Client(base_url=self.base_url)

    def post_slips(self, slips: list[dict[str, Any]], **kw: Any) -> httpx.Response:
        return self.client.post(IMPORT, json={"slips": slips}, **kw)


MakeApi = Callable[..., Api]


@pytest.fixture(params=["mock", "http"])
def make_api(request: pytest.FixtureRequest) -> Iterator[MakeApi]:
    servers: list[EmulatorServer] = []
    clients: list[httpx.Client] = []

    def make(timeout: float = 5.0, **options: Any) -> Api:
        emu = Emulator(**options)
        if request.param == "mock":
            base_url = "http://fx.test"
            client = httpx.Client(transport=emu.transport(), base_url=base_url,
                                  headers=HEADERS, timeout=timeout)
        else:
            servers.append(emu.serve(port=0))
            base_url = servers[-1].url
            client = httpx.Client(base_url=base_url, headers=HEADERS, timeout=timeout)
        clients.append(client)
        return Api(emu, client, request.param, base_url)

    yield make
    for client in clients:
        client.close()
    for server in servers:
        server.shutdown()


@pytest.fixture
def api(make_api: MakeApi) -> Api:
    return make_api()


# -- auth and format ------------------------------------------------------------------------
def test_401_without_or_with_wrong_token(api: Api) -> None:
    body = {"status": 401, "errors": [{"message": "トークンが存在しないか無効です"}]}
    no_token = {k: v for k, v in HEADERS.items() if k != "Authorization"}
    with api.bare_client() as bare:
        r = bare.post(IMPORT, json={"slips": [slip("000001")]}, headers=no_token)
    assert (r.status_code, r.json()) == (401, body)
    r = api.client.get(PREFIX + "/v3/accounts", headers={"Authorization": "emulator-token"})
    assert (r.status_code, r.json()) == (401, body)
    r = api.client.get(PREFIX + "/v3/accounts", headers={"Authorization": "Bearer wrong"})
    assert (r.status_code, r.json()) == (401, body)
    assert api.emu.stored_slips() == []


def test_403_read_only_token_may_read_but_not_import(make_api: MakeApi) -> None:
    api = make_api(readonly_token="ro-token")
    ro = {"Authorization": "Bearer ro-token"}
    r = api.post_slips([slip("1")], headers=ro)
    assert (r.status_code, r.json()) == (403, {"status": 403,
                                               "errors": [{"message": "仕訳の更新権限がありません"}]})
    assert api.client.get(PREFIX + "/v2/departments", headers=ro).status_code == 200
    assert api.emu.stored_slips() == []


def test_406_when_not_json(api: Api) -> None:
    body = {"status": 406, "errors": [{"message": "許可されていないフォーマットです"}]}
    r = api.client.get(PREFIX + "/v3/accounts", headers={"Accept": "text/csv"})
    assert (r.status_code, r.json()) == (406, body)
    r = api.client.post(IMPORT, content=json.dumps({"slips": [slip("1")]}),
                        headers={"Content-Type": "text/csv"})
    assert (r.status_code, r.json()) == (406, body)
    assert api.emu.stored_slips() == []


def test_404_unknown_company_and_code(api: Api) -> None:
    assert api.client.get("/fx/tc00000000/tfa/api/v3/accounts").status_code == 404
    r = api.client.get(PREFIX + "/v3/customers/123456")
    assert (r.status_code, r.json()["errors"][0]["message"]) == (404, "該当するデータがありません")


# -- slips/import ---------------------------------------------------------------------------
def test_201_two_slips_are_stored(api: Api) -> None:
    r = api.post_slips([slip("000101"), slip("000102", amount=5500)])
    assert (r.status_code, r.json()) == (201, {"status": 201})  # no みなし → no informations
    stored = api.emu.stored_slips()
    assert [(s["request_no"], s["groupno"], s["journo_read"]) for s in stored] == [
        (1, 1, "000101"), (1, 2, "000102")]
    assert api.emu.count_by_journo_read() == Counter({"000101": 1, "000102": 1})
    assert stored[1]["slip"]["detail"][1]["amnt_cmtx"] == 500


def _set(path: str, value: Any) -> Callable[[dict[str, Any]], None]:
    """Mutator for slip 2 of a request: "ymd_tr" or "1.cd_act" (detail index, field)."""

    def apply(s: dict[str, Any]) -> None:
        target = s["detail"][int(path.split(".")[0])] if "." in path else s
        key = path.split(".")[-1]
        if value is _DELETE:
            del target[key]
        else:
            target[key] = value

    return apply


_DELETE = object()
_CR = (0, 1)  # credit line 1 of slip 2
_DR = (1, 1)
_SLIP = (None, None)
LIMIT_CASES: list[tuple[str, Callable[[dict[str, Any]], None], tuple[Any, Any], str]] = [
    ("unknown account", _set("1.cd_act", "9999"), _CR, ACT_MSG),
    ("account not 4 digits", _set("1.cd_act", "481"), _CR, ACT_MSG),
    ("account missing", _set("1.cd_act", _DELETE), _CR, "勘定科目コードが入力されていません"),
    ("pos_dsp 61", _set("1.pos_dsp", 61), (0, 61), "表示位置に誤った値"),
    ("ymd_tr not zero-padded", _set("ymd_tr", "2024-4-01"), _SLIP, "誤った取引年月日"),
    ("ymd_tr not a date", _set("ymd_tr", "20230229"), _SLIP, "誤った取引年月日"),
    ("journo 6 digits", _set("journo", "123456"), _SLIP, "伝票番号に誤った値"),
    ("journo_read 7 digits", _set("journo_read", "1234567"), _SLIP, "連携元対応番号に誤った値"),
    ("vouno not alnum", _set("vouno", "A-1"), _SLIP, "証憑番号に誤った値"),
    ("cd_coopsystem 3", _set("cd_coopsystem", "EXX"), _SLIP, "誤った連携システムコード"),
    ("cd_fbcat 13", _set("cd_fbcat", "13"), _SLIP, "誤った収支区分"),
    ("cd_fbbdcat 00", _set("cd_fbbdcat", "00"), _SLIP, "誤った内訳区分"),
    ("is_add_depmaster 2", _set("is_add_depmaster", 2), _SLIP, "部門マスター自動追加区分"),
    ("is_ocr_dc 2", _set("1.is_ocr_dc", 2), (None, 1), "貸借区分に誤った値"),
    ("cd_dep 2 digits", _set("1.cd_dep", "01"), _CR, "誤った部門コード"),
    ("cd_cstm 5 digits", _set("1.cd_cstm", "12345"), _CR, "誤った取引先コード"),
    ("nm_cstm 21 full-width", _set("1.nm_cstm", "あ" * 21), _CR, "取引先名は全角20文字"),
    ("rcj_slip 41 full-width", _set("0.rcj_slip", "摘" * 41), _DR, "元帳摘要は全角40文字"),
    ("tptn 3 digits", _set("1.tptn", "111"), _CR, "課税区分に誤った値"),
    ("amnt_cmtx too big", _set("1.amnt_cmtx", 10**11), _CR, "消費税額に誤った値"),
    ("amnt_tr not integral", _set("1.amnt_tr", 11000.5), _CR, "取引金額に誤った値"),
    ("amnt_tr a string", _set("1.amnt_tr", "11000"), _CR, "取引金額の形式が正しくありません"),
    ("is_reduce_cmtxrate 2", _set("1.is_reduce_cmtxrate", 2), _CR, "軽減税率区分に誤った値"),
    ("cmtxrate 10000", _set("1.cmtxrate", 10000), _CR, "消費税率に誤った値"),
    ("cmtxrate 8% standard in 2024", _set("1.cmtxrate", 800), _CR, "適用できない消費税率"),
    ("is_autocalccmtx 3", _set("1.is_autocalccmtx", 3), _CR, "消費税額自動計算区分に誤った値"),
    ("cat_purday 5", _set("1.cat_purday", 5), _CR, "仕入れ日入力区分に誤った値"),
    ("ymd_purday1 unpadded", _set("1.ymd_purday1", "2024/4/01"), _CR, "誤った仕入れ日1"),
    ("unbalanced", _set("0.amnt_tr", 10999), _SLIP, "借方合計と貸方合計が一致しません"),
    ("duplicate position", _set("0.is_ocr_dc", 0), (0, 1), "同一の貸借・同一の表示位置"),
    ("口座 required", _set("0.cd_act", "1131"), _DR, "誤った口座コード"),
    ("部門 required", _set("1.cd_act", "4111"), _CR, "誤った部門コード"),
    ("取引先 required", _set("0.cd_act", "1161"), _DR, "誤った取引先コード"),
]


@pytest.mark.parametrize(("mutate", "where", "content"), [c[1:] for c in LIMIT_CASES],
                         ids=[c[0] for c in LIMIT_CASES])
def test_400_limit_violation(api: Api, mutate: Callable[[dict[str, Any]], None],
                             where: tuple[Any, Any], content: str) -> None:
    bad = slip("000002")
    mutate(bad)
    r = api.post_slips([slip("000001"), bad])
    assert r.status_code == 400
    body = r.json()
    assert body["status"] == 400
    hits = [e for e in body["errors"] if content in e["content"]]
    assert hits, body["errors"]
    assert {k: hits[0][k] for k in ("groupno", "is_ocr_dc", "lineno")} == {
        "groupno": 2, "is_ocr_dc": where[0], "lineno": where[1]}
    assert all(e["groupno"] == 2 for e in body["errors"])
    assert api.emu.stored_slips() == []


def test_unknown_masters_are_errors_unless_auto_added(api: Api) -> None:
    def with_codes(add: int) -> dict[str, Any]:
        s = slip("000001", is_add_auxmaster=add, is_add_depmaster=add, is_add_cstmmaster=add)
        s["detail"][0].update(cd_act="1131", cd_auxact="09", nm_auxact="新銀行")
        s["detail"][1].update(cd_act="4111", cd_dep="555", nm_dep="新部門")
        s["detail"].append(detail(2, 1, "1161", 0, cd_cstm="777777", nm_cstm="新取引先"))
        return s

    r = api.post_slips([with_codes(0)])
    assert r.status_code == 400
    assert {e["content"].split("が")[0] for e in r.json()["errors"]} == {
        "口座コード", "部門コード", "取引先コード"}
    r = api.post_slips([with_codes(1)])
    assert r.status_code == 201, r.text
    masters = api.emu.masters()
    assert {"cd_act": "1131", "cd_auxact": "09", "nm_auxact": "新銀行"}.items() <= next(
        a for a in masters["accounts"] if a.get("cd_auxact") == "09").items()
    assert any(d["cd_dep"] == "555" for d in masters["departments"])
    assert api.client.get(PREFIX + "/v3/customers/777777").json()["customer"]["nm_cstm"] == "新取引先"


def test_whole_request_rejected_and_every_slip_checked(api: Api) -> None:
    bad = slip("000002")
    bad["detail"][1]["cd_act"] = "9999"
    r = api.post_slips([slip("000001"), bad, slip("000003")])
    assert r.status_code == 400
    assert r.json()["errors"] == [{"groupno": 2, "is_ocr_dc": 0, "lineno": 1, "content": ACT_MSG}]
    assert api.emu.stored_slips() == []
    worse = slip("000004", ymd_tr="2024-13-01")
    r = api.post_slips([bad, slip("000001"), worse])
    assert [e["groupno"] for e in r.json()["errors"]] == [1, 3]
    assert api.emu.stored_slips() == []


def test_more_than_2000_details_is_rejected(api: Api) -> None:
    r = api.post_slips([slip(f"{i:06d}") for i in range(1001)])  # 2002 lines
    assert r.status_code == 400
    assert r.json()["errors"][0]["groupno"] is None
    assert "2000明細" in r.json()["errors"][0]["content"]
    assert api.emu.stored_slips() == []
    assert api.post_slips([slip(f"{i:06d}") for i in range(1000)]).status_code == 201


def test_unparseable_json_is_400(api: Api) -> None:
    r = api.client.post(IMPORT, content=b'{"slips": [')
    assert r.json() == {"status": 400, "errors": [
        {"groupno": None, "is_ocr_dc": None, "lineno": None, "content": MSG_PARSE}]}


# -- みなし処理 -------------------------------------------------------------------------------
def test_minashi_tax_on_bank_account_is_zeroed(api: Api) -> None:
    s = slip("000001")
    s["detail"][0].update(cd_act="1131", cd_auxact="01", cmtxrate=1000, amnt_cmtx=1000,
                          tptn="11")
    r = api.post_slips([s])
    assert r.status_code == 201
    assert r.json()["informations"] == [
        {"groupno": 1, "lineno": 1, "content": INFO_NO_TAX}]
    stored = api.emu.stored_slips()[0]["slip"]["detail"][0]
    assert (stored["cmtxrate"], stored["amnt_cmtx"], stored["tptn"]) == (0, 0, "")


def test_minashi_department_on_account_without_departments(api: Api) -> None:
    s = slip("000001")
    s["detail"][0]["cd_dep"] = "001"
    r = api.post_slips([s])
    assert r.json() == {"status": 201, "informations": [
        {"groupno": 1, "lineno": 1, "content": INFO_NO_DEP}]}
    assert api.emu.stored_slips()[0]["slip"]["detail"][0]["cd_dep"] == ""


# -- master endpoints -----------------------------------------------------------------------
def test_customers_paging_past_1000(make_api: MakeApi) -> None:
    api = make_api(extra_customers=1500)
    codes: list[str] = []
    offset = 0
    for _ in range(5):  # bounded: a paging bug must fail the test, not hang it
        body = api.client.get(PREFIX + "/v3/customers",
                              params={"offset": offset, "limit": 1000}).json()
        assert body["total_count"] == 1521
        if not body["customers"]:
            break
        codes += [c["cd_cstm"] for c in body["customers"]]
        offset += len(body["customers"])
    assert len(codes) == 1521 == len(set(codes))
    assert codes[0] == "000001" and codes[-1] == "101499"
    assert api.client.get(PREFIX + "/v3/customers", params={"limit": 1001}).status_code == 400
    assert len(api.client.get(PREFIX + "/v3/customers").json()["customers"]) == 20


def test_tax_rates_filtered_by_date(api: Api) -> None:
    def rates(ymd: str | None) -> set[tuple[int, int]]:
        params = {"ymd_tr": ymd} if ymd else {}
        body = api.client.get(PREFIX + "/v1/consumptiontaxrates", params=params).json()
        return {(r["cmtxrate"], r["is_reduce_cmtxrate"]) for r in body["consumptiontaxrates"]}

    assert rates("2019/09/30") == {(800, 0)}
    assert rates("20191001") == {(1000, 0), (800, 1)}
    assert rates("2014-03-31") == {(500, 0)}
    assert len(rates(None)) == 4
    r = api.client.get(PREFIX + "/v1/consumptiontaxrates", params={"ymd_tr": "2019-10-1"})
    assert r.status_code == 400


def test_accounts_query_options(api: Api) -> None:
    body = api.client.get(PREFIX + "/v3/accounts").json()
    assert [a["cd_auxact"] for a in body["accounts"] if a["cd_act"] == "1131"] == ["", "01", "02"]
    only = api.client.get(PREFIX + "/v3/accounts", params={"is_act_only": 1, "cat_fs": 2}).json()
    assert [a["cd_act"] for a in only["accounts"]] == ["4111", "4811", "5211", "7411", "7421"]
    assert all("cd_auxact" not in a for a in only["accounts"])
    assert api.client.get(PREFIX + "/v3/accounts/9999").status_code == 404


# -- faults ---------------------------------------------------------------------------------
def test_503_with_retry_after_stores_nothing(make_api: MakeApi) -> None:
    api = make_api(fail_503_rate=1.0, retry_after=7)
    r = api.post_slips([slip("000001")])
    assert (r.status_code, r.headers["Retry-After"], r.json()["status"]) == (503, "7", 503)
    assert api.emu.stored_slips() == []
    assert api.client.get(PREFIX + "/v1/inpjourconfig").status_code == 200  # masters unaffected
    api.emu.set_faults(fail_503_rate=0.0)
    assert api.post_slips([slip("000001")]).status_code == 201


def test_drop_after_store(make_api: MakeApi) -> None:
    api = make_api(drop_after_store_rate=1.0)
    expected = httpx.RemoteProtocolError if api.kind == "mock" else httpx.TransportError
    with pytest.raises(expected) as info:
        api.post_slips([slip("000001")])
    assert not isinstance(info.value, httpx.TimeoutException)
    assert api.emu.count_by_journo_read() == Counter({"000001": 1})


def test_slow_answer_times_out_after_store(make_api: MakeApi) -> None:
    api = make_api(slow_seconds=0.4, timeout=0.1)
    started = time.monotonic()
    with pytest.raises(httpx.ReadTimeout):
        api.post_slips([slip("000001")])
    assert time.monotonic() - started < 0.35
    assert len(api.emu.stored_slips()) == 1


def test_fault_plan_and_seeded_rates_are_deterministic(make_api: MakeApi) -> None:
    api = make_api(fault_plan=["429", "ok"])
    statuses = [api.post_slips([slip(f"{i:06d}")]).status_code for i in range(2)]
    assert statuses == [429, 201]

    def run() -> list[int]:
        emu = Emulator(fail_503_rate=0.5, random_seed=42)
        with httpx.Client(transport=emu.transport(), base_url="http://fx.test",
                          headers=HEADERS) as client:
            return [client.post(IMPORT, json={"slips": [slip("000001")]}).status_code
                    for _ in range(12)]

    first = run()
    assert first == run() and {201, 503} == set(first)


# -- numbering, persistence, inspection -----------------------------------------------------
def test_auto_numbering_ignores_given_journo() -> None:
    seed = load_seed(None)
    seed["inpjourconfig"] = {"is_auto_numbering_journo": True}
    emu = Emulator(seed)
    with httpx.Client(transport=emu.transport(), base_url="http://fx.test",
                      headers=HEADERS) as client:
        body = client.get(PREFIX + "/v1/inpjourconfig").json()
        assert body == {"status": 200, "inpjourconfig": {"is_auto_numbering_journo": True}}
        client.post(IMPORT, json={"slips": [slip("000077"), slip("000078")]})
    assert [s["journo"] for s in emu.stored_slips()] == ["1", "2"]


def test_store_file_and_inspection_endpoints(tmp_path: Path) -> None:
    store = tmp_path / "slips.jsonl"
    emu = Emulator(store_path=store)
    with emu.serve() as server, httpx.Client(base_url=server.url, headers=HEADERS) as client:
        client.post(IMPORT, json={"slips": [slip("000001"), slip("000002")]})
        seen = httpx.get(server.url + "/_emulator/slips").json()
        assert [s["journo_read"] for s in seen["slips"]] == ["000001", "000002"]
        assert httpx.get(server.url + "/_emulator/stats").json()["slips_stored"] == 2
        r = httpx.post(server.url + "/_emulator/faults", json={"fault_plan": ["503"]})
        assert r.json()["fault_plan"] == ["503"]
        assert client.post(IMPORT, json={"slips": [slip("000003")]}).status_code == 503
    lines = [json.loads(x) for x in store.read_text(encoding="utf-8").splitlines()]
    assert [x["journo_read"] for x in lines] == ["000001", "000002"]
    again = Emulator(store_path=store)  # a restarted emulator still knows what it stored
    assert again.count_by_journo_read() == Counter({"000001": 1, "000002": 1})


def test_text_width_counts_full_width_as_two() -> None:
    assert text_width("ｱｲｳ abc") == 7
    assert text_width("あA") == 3
    seed_copy = copy.deepcopy(load_seed(None))
    assert seed_copy["ocode"] == "tc09999001"


def test_run_server_banner_store_and_sigterm(tmp_path: Path) -> None:
    store = tmp_path / "fx.jsonl"
    code = ("from converter.emulator.server import run_server; "
            f"run_server(0, store_path={str(store)!r}, fault_plan=['drop'])")
    proc = subprocess.Popen([sys.executable, "-c", code], stderr=subprocess.PIPE, text=True,
                            cwd=ROOT)
    try:
        assert proc.stderr is not None
        banner = proc.stderr.readline()
        match = re.match(r"FX エミュレーター: (http://127\.0\.0\.1:\d+) で待ち受けています ", banner)
        assert match, banner
        with httpx.Client(base_url=match.group(1), headers=HEADERS, timeout=5) as client:
            with pytest.raises(httpx.TransportError):
                client.post(IMPORT, json={"slips": [slip("000001")]})
            assert client.post(IMPORT, json={"slips": [slip("000002")]}).status_code == 201
        lines = store.read_text(encoding="utf-8").splitlines()
        assert [json.loads(x)["journo_read"] for x in lines] == ["000001", "000002"]
    finally:
        proc.terminate()
        proc.wait(5)
    assert proc.returncode == 0
