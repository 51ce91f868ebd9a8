"""Document identity (取引種別 + 帳票番号; the date is content) and the mass-change guard of
``--corrections``: end to end against the emulator server, plus the upgrade of a ledger written by
the release that keyed documents by date (tests/data/ledger-v3-dated-keys.sqlite)."""

from __future__ import annotations

import shutil
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner, Result
from conftest import make_mappings, sale
from fault_helpers import EmulatorProcess, stored_counts
from ledger_helpers import new_ledger

from converter.cli import main
from converter.cli.reports import format_upload
from converter.config.settings import Settings, load_profile
from converter.convert.pipeline import Options, convert
from converter.emulator.server import Emulator
from converter.errors import ConfigError
from converter.keys import DATED_KINDS, correction_number, document_key, parse
from converter.ledger.ledger import DocumentInfo, Ledger
from converter.ledger.statuses import Role
from converter.sync.batch import run_batch
from converter.sync.manifest import load_manifest
from converter.sync.plan import Plan, Send, mass_reversal
from converter.sync.upload import upload_files

WriteCsv = Callable[..., Path]
OCODE = "tc09999001"
DATA = Path(__file__).resolve().parent / "data"
FIXTURE = DATA / "ledger-v3-dated-keys.sqlite"

HELD_25_OF_30 = (
    "取消仕訳の送信を保留しました: --corrections で連携完了の帳票 25 件を取り消すことになります"
    " (この書出と比べた連携完了 30 件のうち。上限は 20 件 = 10% か 20 件の多い方)。書出が一部だけ"
    " (取引先や出力取引を絞った書出) か、--period が書出の出力期間と違う可能性があります。何も送信していません。"
    "書出と --period を確かめ、意図どおりなら --yes を付けて再実行してください"
)


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FX_API_TOKEN", "emulator-token")


@pytest.fixture
def server(tmp_path: Path) -> Iterator[EmulatorProcess]:
    emulator = EmulatorProcess(tmp_path)
    yield emulator
    emulator.stop()


def upload(server: EmulatorProcess, path: Path, mappings: Path, ledger: Path, *extra: str) -> Result:
    return CliRunner().invoke(main, ["upload", str(path), "-m", str(mappings), "--ledger", str(ledger),
                                     "--base-url", server.url, *extra])


def net_receivable(slips: list[dict[str, Any]]) -> dict[str, int]:
    """売掛金 (1161) debit − credit per 取引日, over every slip FX stored."""
    net: Counter[str] = Counter()
    for stored in slips:
        for line in stored["slip"]["detail"]:
            if line["cd_act"] == "1161":
                net[stored["ymd_tr"]] += line["amnt_tr"] if line["is_ocr_dc"] == 1 else -line["amnt_tr"]
    return {day: amount for day, amount in net.items() if amount}


# --------------------------------------------------------------------------- situation 4


@pytest.mark.slow
def test_redated_document_is_a_change_corrected_only_when_asked(server: EmulatorProcess, write_csv: WriteCsv,
                                                                 mappings: Path, tmp_path: Path) -> None:
    """Issue 15, situation 4: a 取引日 changed in Jobcan used to post the document a second time."""
    ledger = new_ledger(tmp_path / "ledgers" / f"{OCODE}.sqlite", OCODE)
    rows = [sale("A", 11000, 1000, date="2026/10/01"), sale("B", 22000, 2000, date="2026/10/02"),
            sale("C", 33000, 3000, date="2026/10/03")]
    first = upload(server, write_csv(rows), mappings, ledger)
    assert first.exit_code == 0, first.output
    assert len(server.slips()) == 3

    rows[1] = sale("B", 22000, 2000, date="2026/10/05")  # only the date changed
    redated = write_csv(rows, name="redated.csv")
    again = upload(server, redated, mappings, ledger)
    assert again.exit_code == 1, again.output
    assert ("変更あり: 売上|B — 連携後に内容が変わりました。再送していません"
            " (--corrections で取消と訂正後の仕訳を送れます)") in again.stdout.splitlines()
    assert "送信結果: 送信対象 0 件 / 送信 0 回" in again.stdout
    slips = server.slips()
    assert len(slips) == 3 and set(stored_counts(slips).values()) == {1}
    assert net_receivable(slips) == {"2026-10-01": 11000, "2026-10-02": 22000, "2026-10-03": 33000}

    fixed = upload(server, redated, mappings, ledger, "--corrections")
    assert fixed.exit_code == 0, fixed.output
    assert "訂正済み: 売上|B — 取消仕訳と訂正後の仕訳を送信しました" in fixed.stdout.splitlines()
    slips = server.slips()
    assert len(slips) == 5 and set(stored_counts(slips).values()) == {1}
    # the reversal sits on the old date, the new version on the new one: B counts once, on 10-05
    assert net_receivable(slips) == {"2026-10-01": 11000, "2026-10-03": 33000, "2026-10-05": 22000}
    with Ledger.open(ledger, ocode=OCODE, readonly=True) as book:
        chain = {r.key: (r.role, r.ymd, r.status) for r in book.documents()}
    assert chain["売上|B"] == ("original", "2026-10-02", "done")
    assert chain["売上|B|取消1"] == ("reversal", "2026-10-02", "done")
    assert chain["売上|B|訂正1"] == ("replacement", "2026-10-05", "done")

    last = upload(server, redated, mappings, ledger, "--corrections")
    assert last.exit_code == 0 and "連携済みのためスキップ 3 件" in last.stdout
    assert len(server.slips()) == 5


def test_a_document_redated_into_another_month_is_not_deleted_from_the_first(
        write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    """B moved from 10-31 to 11-02 and was corrected in November's upload: October's export no
    longer has it, but what FX holds of it is dated in November — not a deletion in October."""
    emu, ledger = Emulator(), new_ledger(tmp_path / "l.sqlite", OCODE)

    def up(rows: list[dict[str, str]], name: str, **kw: Any) -> Any:
        return upload_files([write_csv(rows, name=name)], mappings, Options(), ledger_path=ledger,
                            transport=emu.transport(), **kw)[1]

    october = [sale("A", 11000, 1000, date="2026/10/01"), sale("B", 22000, 2000, date="2026/10/31")]
    up(october, "oct.csv")
    moved = up([sale("B", 22000, 2000, date="2026/11/02")], "nov.csv", corrections=True)
    assert moved.corrected == ("売上|B",)

    again = up(october[:1], "oct2.csv", corrections=True, period=(date(2026, 10, 1), date(2026, 10, 31)))
    assert again.deleted == () and again.corrected == () and again.already_done == ("売上|A",)
    assert len(emu.stored_slips()) == 4  # A, B, and B's reversal + new version: nothing more


def test_one_document_on_two_dates_in_one_export_is_a_problem(write_csv: WriteCsv, mappings: Path) -> None:
    rows = [sale("A"), sale("B", 5500, 500), sale("B", 6600, 600, date="2026/10/02", memo="2行目")]
    result = convert([write_csv(rows)], mappings)
    (problem,) = result.problems
    assert (problem.row, problem.column, problem.value, problem.rule) == (4, "取引日", "2026-10-02", "document_date")
    assert problem.message == ("同じ帳票 (売上 B) に取引日の違う行があります (最初の行は 2026-10-01)。帳票は"
                               " 取引種別 + 帳票番号 で 1 件、取引日は 1 つです。書出を確認してください")


def test_yayoi_keeps_the_date_in_its_identity() -> None:
    """A 弥生 file numbers 伝票 by position when 伝票No is empty, and per 会計年度: the date stays."""
    profile = load_profile("yayoi")
    assert profile.identity == "kind_no_date" and load_profile("jobcan").identity == "kind_no"
    assert {profile.default_kind} == DATED_KINDS  # what the ledger upgrade leaves dated
    result = convert([DATA.parent.parent / "samples" / "yayoi-2026-10.csv"], DATA.parent.parent / "mappings",
                     Options(profile="yayoi"))
    keys = result.documents["doc"].tolist()
    assert keys[0] == "弥生|1|2026-10-01" and all(parse(k).ymd for k in keys)


def test_key_formats() -> None:
    assert document_key("売上", "INV-1", "2026-10-02") == "売上|INV-1"
    assert parse("売上|INV-1") == parse("売上|INV-1|取消2").__class__("売上", "INV-1")
    assert parse("売上|INV-1|取消2").correction == "取消2" and correction_number("売上|INV-1|訂正12") == 12
    assert parse("弥生|3|2026-10-02|訂正1") == parse("弥生|3|2026-10-02").__class__("弥生", "3", "2026-10-02", "訂正1")


# --------------------------------------------------------------------------- situation 7


def _month(n: int = 30) -> list[dict[str, str]]:
    # Two customers, both with FX codes (C-001; A商店 by name): FX requires cd_cstm on 売掛金.
    return [sale(f"S{i:02d}", 1100 * i, 100 * i, date=f"2026/10/{i:02d}",
                 ccode="C-001" if i <= 5 else "", cname="" if i <= 5 else "A商店") for i in range(1, n + 1)]


@pytest.mark.slow
def test_partial_export_with_corrections_is_held_until_yes(server: EmulatorProcess, write_csv: WriteCsv,
                                                            mappings: Path, tmp_path: Path) -> None:
    """Issue 15, situation 7: one customer exported by mistake, --period the whole month."""
    ledger = new_ledger(tmp_path / "ledgers" / f"{OCODE}.sqlite", OCODE)
    month = _month()
    assert upload(server, write_csv(month), mappings, ledger).exit_code == 0
    assert len(server.slips()) == 30
    partial = write_csv(month[:5], name="one-customer.csv")
    period = ("--period", "2026-10-01:2026-10-31")

    held = upload(server, partial, mappings, ledger, "--corrections", *period)
    assert held.exit_code == 1, held.output
    assert held.stdout.splitlines()[-1] == HELD_25_OF_30
    assert "送信結果: 送信対象 25 件 / 送信 0 回" in held.stdout
    assert "連携完了 0 件 / エラー 0 件 / 要確認 0 件" in held.stdout
    assert len(server.slips()) == 30
    with Ledger.open(ledger, ocode=OCODE, readonly=True) as book:
        assert len(book.documents()) == 30  # nothing registered either

    dry = upload(server, partial, mappings, ledger, "--corrections", "--dry-run", *period)
    assert dry.exit_code == 1 and dry.stdout.splitlines()[-1] == (
        "(--dry-run: 送信するときは次のとおり保留されます) " + HELD_25_OF_30)

    sent = upload(server, partial, mappings, ledger, "--corrections", "--yes", *period)
    assert sent.exit_code == 0, sent.output
    assert "訂正済み: 売上|S06 — 取消仕訳を送信しました" in sent.stdout.splitlines()
    # 25 corrected documents: the summary shows the first 20 and says how many more there are.
    out = sent.stdout.splitlines()
    assert sum(line.startswith("訂正済み: 売上|S") for line in out) == 20
    assert any(line.startswith("… ほか 5 件") for line in out), sent.stdout
    slips = server.slips()
    assert len(slips) == 55 and set(stored_counts(slips).values()) == {1}
    assert sum(net_receivable(slips).values()) == sum(1100 * i for i in range(1, 6))


def test_guard_threshold_and_settings(tmp_path: Path) -> None:
    def plan(reversed_: int, same: int) -> Plan:
        deleted = tuple(f"売上|D{i}" for i in range(reversed_))
        sends = {f"{k}|取消1": Send(DocumentInfo(f"{k}|取消1", "h", parent=k, role=Role.REVERSAL), reverses=k)
                 for k in deleted}
        return Plan(sends=sends, deleted=deleted, done_same=tuple(f"売上|S{i}" for i in range(same)))

    default = Settings(ocode=OCODE, cd_coopsystem="EX")
    assert mass_reversal(plan(20, 0), default) is None  # 20 is allowed, whatever the share
    assert mass_reversal(plan(21, 1000), default) is None  # 10 % of 1021 is 102
    held = mass_reversal(plan(21, 0), default)
    assert held is not None and (held.reversals, held.done, held.limit) == (21, 21, 20)
    assert mass_reversal(plan(103, 918), default) is not None  # 103 > 10 % of 1021
    strict = Settings(ocode=OCODE, cd_coopsystem="EX", corrections_guard_percent=0, corrections_guard_min=0)
    assert mass_reversal(plan(1, 100), strict) is not None and mass_reversal(plan(0, 100), strict) is None

    folder = make_mappings(tmp_path / "m")
    with (folder / "settings.yaml").open("a", encoding="utf-8") as f:
        f.write("corrections_guard_percent: 150\ncorrections_guard_min: -1\n")
    bad = CliRunner().invoke(main, ["check", str(DATA / "utf8-bom.csv"), "-m", str(folder)])
    assert bad.exit_code == 2
    assert "corrections_guard_percent: 0 から 100 の数 (%) を指定してください ('150')" in bad.output
    assert "corrections_guard_min: 0 以上の整数 (件数) を指定してください ('-1')" in bad.output


def test_batch_holds_a_company_until_yes(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    emu = Emulator()
    ledger = new_ledger(tmp_path / "ledgers" / f"{OCODE}.sqlite", OCODE)
    month = _month()
    upload_files([write_csv(month)], mappings, Options(), ledger_path=ledger, transport=emu.transport())
    write_csv(month[:5], name="partial.csv")  # 10-01 … 10-05, the month declared as its period
    manifest = tmp_path / "batch.yaml"
    company = (f"companies:\n  - ocode: {OCODE}\n    mappings: mappings\n    inputs: [partial.csv]\n"
               f"    ledger: {ledger}\n    corrections: true\n")
    manifest.write_text(company + "    period: 2026-10-31:2026-10-01\n", "utf-8")
    with pytest.raises(ConfigError) as bad:
        load_manifest(manifest)
    assert bad.value.problems == [
        "companies の 1 社目 (2行目): period: 開始日が終了日より後です ('2026-10-31:2026-10-01')"]
    manifest.write_text(company + "    period: 2026-10-01:2026-10-31\n", "utf-8")
    (held,) = run_batch(load_manifest(manifest), transport=emu.transport())
    assert held.status == "attention" and held.exit_code == 1 and held.sent == 0
    assert held.message.endswith(HELD_25_OF_30)
    assert len(emu.stored_slips()) == 30
    (sent,) = run_batch(load_manifest(manifest), yes=True, transport=emu.transport())
    assert sent.status == "done" and sent.sent == 25 and len(emu.stored_slips()) == 55


# --------------------------------------------------------------------------- upgrade


def test_v3_ledger_is_rekeyed_in_place_keeping_a_second_record_of_one_document(
        write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    """The fixture (see tests/data/make_v3_ledger.py) is a real ledger of the release that keyed by
    date, in which B was re-dated and therefore posted twice."""
    path = tmp_path / "ledgers" / f"{OCODE}.sqlite"
    path.parent.mkdir()
    shutil.copy(FIXTURE, path)
    before = path.read_bytes()

    # Read-only (preview, history): the keys of this release, and the file untouched.
    with Ledger.open(path, ocode=OCODE, readonly=True) as book:
        read = {r.key: (r.status, r.parent) for r in book.documents()}
    assert path.read_bytes() == before
    assert _meta(path).get("identity") is None

    with Ledger.open(path, ocode=OCODE) as book:
        records = {r.key: r for r in book.documents()}
        kept_history = book.events("売上|B|2026-10-02")
        assert book.check() == []
    assert {k: (r.status, r.parent) for k, r in records.items()} == read == {
        "売上|A": ("done", ""), "売上|B": ("done", ""), "売上|B|2026-10-02": ("done", ""),
        "売上|C": ("done", ""), "売上|C|取消1": ("done", "売上|C"), "売上|C|訂正1": ("done", "売上|C"),
        "売上|D": ("done", "")}
    assert records["売上|B"].ymd == "2026-10-05" and records["売上|B"].journo_read == 5  # the latest takes the key
    assert records["売上|B|2026-10-02"].last_message.startswith("台帳の形式更新: 帳票は 取引種別+帳票番号 で 1 件に")
    assert kept_history[-1].action == "migrate" and kept_history[-1].status == "done"
    assert _meta(path)["identity"] == "kind_no" and _meta(path)["identity_kept"] == '["売上|B|2026-10-02"]'
    assert _meta(path)["schema_version"] == "4"  # 4: numbering per fiscal year rides the same upgrade
    with sqlite3.connect(path) as conn:
        keys = [k for (k,) in conn.execute("SELECT keys FROM batch_docs ORDER BY batch")]
    assert keys == ['["売上|A", "売上|B|2026-10-02", "売上|C", "売上|D"]', '["売上|B"]',
                    '["売上|C|取消1", "売上|C|訂正1"]']

    upgraded = path.read_bytes()
    Ledger.open(path, ocode=OCODE).close()  # idempotent: a second open changes nothing
    assert _meta(path)["identity"] == "kind_no" and len(path.read_bytes()) == len(upgraded)

    # The month as Jobcan exports it now: B on 10-05, C at its corrected amount. The second record
    # of B is reported as deleted (FX holds B twice) and --corrections reverses it.
    emu = Emulator()
    now = write_csv([sale("A", 11000, 1000, date="2026/10/01"), sale("B", 22000, 2000, date="2026/10/05"),
                     sale("C", 55000, 5000, date="2026/10/03"), sale("D", 44000, 4000, date="2026/10/04")])
    _, report = upload_files([now], mappings, Options(), ledger_path=path, transport=emu.transport())
    assert report.already_done == ("売上|A", "売上|C", "売上|D", "売上|B")
    assert report.deleted == report.duplicates == ("売上|B|2026-10-02",) and not report.sent
    assert ("二重登録の疑い: 売上|B|2026-10-02 — 台帳の形式更新で、取引日だけが違う同じ帳票の 2 件目として"
            "残した記録です。FX に同じ帳票の仕訳が二重にある可能性があります (--corrections でこの記録の"
            "取消仕訳を送れます。converter history で経緯を確認できます)") in format_upload(report).splitlines()
    _, fixed = upload_files([now], mappings, Options(), ledger_path=path, transport=emu.transport(),
                            corrections=True)
    assert fixed.corrected == fixed.withdrawn == ("売上|B|2026-10-02",) and fixed.duplicates == ()
    assert len(emu.stored_slips()) == 1


def _meta(path: Path) -> dict[str, str]:
    with sqlite3.connect(f"{path.as_uri()}?mode=ro", uri=True) as conn:
        return dict(conn.execute("SELECT name, value FROM meta").fetchall())
