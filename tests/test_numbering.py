"""Numbers that last (issue 15, situation 8), end to end against the emulator on loopback.

* 伝票番号 (journo) and 連携番号 (journo_read) are numbered per fiscal year (settings.yaml
  ``fiscal_year_start``) and restart each year; a ledger refuses a later change of the start month;
* a run whose numbers do not fit under the ceiling refuses before its first request (exit 2);
* numbers of a request FX stored nothing of (400, 503) are reused: no gaps, nothing burnt;
* a rejection storm (the same FX message request after request) stops after STORM_LIMIT requests,
  with the summary, the exit code and what to fix;
* the multi-year simulation: 15 monthly uploads across two fiscal-year boundaries, with corrections.

What FX holds is counted in the emulator's store: per fiscal year (of ``ymd_tr``), every journo and
journo_read once, and the journos exactly 1…N.
"""

from __future__ import annotations

import json
import sqlite3
import time
from collections import Counter
from collections.abc import Iterator, Set
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from conftest import HEADER, make_mappings
from ledger_helpers import new_ledger

from converter.cli import main
from converter.cli.reports import format_upload
from converter.convert.pipeline import Options
from converter.emulator.server import DEFAULT_TOKEN, Emulator, EmulatorServer
from converter.ledger.ledger import DocumentInfo, Ledger
from converter.ledger.numbering import ID_CHECK, NUMBERING_SCHEMA, fiscal_year
from converter.ledger.records import SCHEMA
from converter.ledger.statuses import Status
from converter.sync import upload as upload_module
from converter.sync.send import STORM_LIMIT
from converter.sync.upload import upload_files

OCODE = "tc09999001"
BAD_ACCOUNT = "雑収入"  # mapped to 4999: a code the emulator's masters (FX) do not know


@pytest.fixture
def fx(monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Emulator, EmulatorServer]]:
    monkeypatch.setenv("FX_API_TOKEN", DEFAULT_TOKEN)
    emu = Emulator(retry_after=0)
    with emu.serve() as server:
        yield emu, server


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    mappings = make_mappings(tmp_path / "mappings")
    with (mappings / "accounts.yaml").open("a", encoding="utf-8") as fh:
        fh.write(f'- {{account: {BAD_ACCOUNT}, cd_act: "4999"}}\n')
    return mappings


def export(path: Path, day: date, count: int, *, start: int = 1, prefix: str = "INV", bad: Set[int] = frozenset(),
           amount: int = 11000, changed: dict[int, int] | None = None, dates: dict[int, date] | None = None) -> Path:
    """A jobcan CSV of ``count`` one-line sales documents (売掛金 / 売上高 10%), written as one string.
    ``bad``: numbers whose credit account FX does not know; ``changed``: number → another amount."""
    changed, dates = changed or {}, dates or {}
    lines = [",".join(HEADER)]
    for n in range(start, start + count):
        amt = changed.get(n, amount)
        tax = amt // 11
        on = dates.get(n, day)
        credit = BAD_ACCOUNT if n in bad else "売上高"
        lines.append(f"{on:%Y/%m/%d},売上,{prefix}-{n:06d},,,C-001,,売掛金,,,対象外,{amt},,{credit},,営業部,"
                     f"課税売上10%,{amt},{tax},売上 {n},")
    path.write_bytes(("\r\n".join(lines) + "\r\n").encode("cp932"))
    return path


def stored(emu: Emulator, start: int = 4) -> list[dict[str, Any]]:
    return [{**s, "fy": fiscal_year(s["ymd_tr"], start)} for s in emu.stored_slips(OCODE)]


def assert_unique_and_gapless(slips: list[dict[str, Any]]) -> dict[int, int]:
    """Per fiscal year: every journo and journo_read once, journos exactly 1..N; returns N per year."""
    by_year: dict[int, list[dict[str, Any]]] = {}
    for s in slips:
        by_year.setdefault(s["fy"], []).append(s)
    sizes = {}
    for fy, these in by_year.items():
        journos = Counter(int(s["journo"]) for s in these)
        reads = Counter(int(s["journo_read"]) for s in these)
        assert max(journos.values()) == 1, f"{fy}: a 伝票番号 stored twice"
        assert max(reads.values()) == 1, f"{fy}: a 連携番号 stored twice"
        assert sorted(journos) == list(range(1, len(these) + 1)), f"{fy}: gaps in the 伝票番号"
        assert max(journos) <= 99_999 and max(reads) <= 999_999
        sizes[fy] = len(these)
    return sizes


def cli(*args: str | Path) -> Any:
    return CliRunner().invoke(main, [str(a) for a in args], catch_exceptions=False)


# ----------------------------------------------------------------------------- fiscal years


def test_numbers_restart_in_each_fiscal_year(fx: tuple[Emulator, EmulatorServer], folder: Path,
                                             tmp_path: Path) -> None:
    emu, server = fx
    ledger = new_ledger(tmp_path / "ledger.sqlite", OCODE)
    # March and April 2027 in one export: two fiscal years (会計期間 from April, the default)
    march = {n: date(2027, 3, 31) for n in range(1, 4)}
    path = export(tmp_path / "m.csv", date(2027, 4, 1), 5, dates=march)
    result = cli("upload", path, "-m", folder, "--base-url", server.url, "--ledger", ledger)
    assert result.exit_code == 0, result.output
    slips = stored(emu)
    assert sorted((s["fy"], s["journo"], s["journo_read"]) for s in slips) == [
        (2026, "1", "1"), (2026, "2", "2"), (2026, "3", "3"), (2027, "1", "1"), (2027, "2", "2")]
    # the ledger keeps each document's numbers (history shows the 連携番号 FX got, and the year)
    history = cli("history", "-m", folder, "--ledger", ledger, "--format", "json")
    assert sorted((d["fiscal_year"], d["journo_read"], d["journo"]) for d in json.loads(history.stdout)) == [
        (2026, 1, 1), (2026, 2, 2), (2026, 3, 3), (2027, 1, 1), (2027, 2, 2)]
    text = cli("history", "-m", folder, "--ledger", ledger).stdout.splitlines()
    assert text[0].split() == ["状態", "年度", "連携番号", "伝票番号", "回数", "更新日時", "(日本時間)", "帳票キー"]
    assert [line.split()[:3] for line in text[1:]] == [
        ["連携完了", "2026", "1"], ["連携完了", "2026", "2"], ["連携完了", "2026", "3"],
        ["連携完了", "2027", "1"], ["連携完了", "2027", "2"]]

    # fiscal_year_start cannot change once numbers were issued per year
    settings = folder / "settings.yaml"
    settings.write_text(settings.read_text("utf-8") + "fiscal_year_start: 1\n", "utf-8")
    again = cli("upload", export(tmp_path / "n.csv", date(2027, 4, 2), 1, start=10), "-m", folder,
                "--base-url", server.url, "--ledger", ledger)
    assert again.exit_code == 2
    assert ("この台帳は会計期間の開始月 4 月で伝票番号・連携番号を年度ごとに発行済みです。settings.yaml の"
            " fiscal_year_start を 1 に変えると年度内の番号が重なるため使えません。"
            "fiscal_year_start: 4 に戻してください") in again.output
    assert len(emu.stored_slips(OCODE)) == 5


def test_a_company_whose_year_starts_in_january(fx: tuple[Emulator, EmulatorServer], folder: Path,
                                                tmp_path: Path) -> None:
    emu, server = fx
    ledger = new_ledger(tmp_path / "ledger.sqlite", OCODE)
    settings = folder / "settings.yaml"
    settings.write_text(settings.read_text("utf-8") + "fiscal_year_start: 1\n", "utf-8")  # before any number
    december = {n: date(2026, 12, 31) for n in range(1, 3)}
    result = cli("upload", export(tmp_path / "a.csv", date(2027, 1, 4), 4, dates=december), "-m", folder,
                 "--base-url", server.url, "--ledger", ledger)
    assert result.exit_code == 0, result.output
    assert sorted((s["fy"], s["journo"], s["journo_read"]) for s in stored(emu, start=1)) == [
        (2026, "1", "1"), (2026, "2", "2"), (2027, "1", "1"), (2027, "2", "2")]


def test_a_bad_fiscal_year_start_is_a_settings_error(folder: Path, tmp_path: Path) -> None:
    settings = folder / "settings.yaml"
    settings.write_text(settings.read_text("utf-8") + "fiscal_year_start: 13\n", "utf-8")
    result = cli("check", export(tmp_path / "a.csv", date(2026, 10, 1), 1), "-m", folder)
    assert result.exit_code == 2
    assert "fiscal_year_start: 会計期間の開始月を 1〜12 の整数で指定してください ('13')" in result.output


# ----------------------------------------------------------------------------- the ceiling


def test_a_month_that_does_not_fit_refuses_before_sending(fx: tuple[Emulator, EmulatorServer], folder: Path,
                                                          tmp_path: Path) -> None:
    """Issue 15 (8): the second 100k-row month stopped at 伝票番号 99999 after 32,601 of 67,133
    documents. Here the counter is prefilled (FY2026 at 99,981): 30 documents need 30 numbers, 19 are
    left — nothing is sent, the message gives the numbers; the next fiscal year still has all of them."""
    emu, server = fx
    ledger = new_ledger(tmp_path / "ledger.sqlite", OCODE)
    first = cli("upload", export(tmp_path / "sep.csv", date(2026, 9, 30), 5), "-m", folder,
                "--base-url", server.url, "--ledger", ledger)
    assert first.exit_code == 0, first.output
    with sqlite3.connect(ledger) as raw:
        raw.execute("UPDATE numbering SET next = 99981 WHERE fy = 2026 AND field = 'journo'")
    raw.close()
    october = export(tmp_path / "oct.csv", date(2026, 10, 31), 30, start=100)
    result = cli("upload", october, "-m", folder, "--base-url", server.url, "--ledger", ledger)
    assert result.exit_code == 2
    assert (f"エラー: {ledger}: 伝票番号 (journo) の上限 99999 を超えるため、何も送信していません。"
            "2026年度 (2026-04〜2027-03): 次の番号 99,981、必要数 30、残り 19。"
            "FX の「仕訳の入力設定」で伝票番号を「システム自動付番」にすると、"
            "この上限なしで連携できます") in result.output
    assert len(emu.stored_slips(OCODE)) == 5 and emu.stats()["import_requests"] == 1
    with Ledger.open(ledger, ocode=OCODE, readonly=True) as book:
        assert Counter(r.status for r in book.documents()) == {"done": 5}  # not even registered
        assert book.next_numbers("journo", [2026]) == {2026: 99_981}  # nothing issued
    # 19 fit; the next fiscal year starts at 1
    assert cli("upload", export(tmp_path / "few.csv", date(2026, 10, 31), 19, start=100), "-m", folder,
               "--base-url", server.url, "--ledger", ledger, "--period", "2026-10-31:2026-10-31").exit_code == 0
    slips = stored(emu)
    assert sorted(int(s["journo"]) for s in slips if s["ymd_tr"] == "2026-10-31") == list(range(99_981, 100_000))
    april = cli("upload", export(tmp_path / "apr.csv", date(2027, 4, 1), 3, start=500), "-m", folder,
                "--base-url", server.url, "--ledger", ledger)
    assert april.exit_code == 0, april.output
    assert sorted(int(s["journo"]) for s in stored(emu) if s["fy"] == 2027) == [1, 2, 3]


# ----------------------------------------------------------------------------- rejections


def test_rejected_and_unsent_requests_burn_no_numbers(fx: tuple[Emulator, EmulatorServer], folder: Path,
                                                      tmp_path: Path) -> None:
    emu, server = fx
    ledger = new_ledger(tmp_path / "ledger.sqlite", OCODE)
    # 2,500 documents: requests of 1,000; one document FX rejects in the second request
    path = export(tmp_path / "oct.csv", date(2026, 10, 15), 2500, bad={1500})
    # the first request answers 503 six times (every retry): FX stored nothing, the documents are エラー
    emu.set_faults(fault_plan=["503"] * 6)
    _, report = upload_files([path], folder, Options(), ledger_path=ledger, base_url=server.url)
    assert len(report.errors) == 1000 + 1 and len(report.sent) == 1499
    assert report.exit_code == 1 and report.stop is None
    assert assert_unique_and_gapless(stored(emu)) == {2026: 1499}
    # the エラー documents go again (the bad one stays エラー): still no gap
    _, report = upload_files([path], folder, Options(), ledger_path=ledger, base_url=server.url, only_errors=True)
    assert len(report.sent) == 1000 and len(report.errors) == 1
    assert assert_unique_and_gapless(stored(emu)) == {2026: 2499}
    with Ledger.open(ledger, ocode=OCODE, readonly=True) as book:
        assert book.next_numbers("journo", [2026]) == {2026: 2500}  # 2499 stored, nothing burnt
        assert emu.stats()["import_by_status"] == {"503": 6, "400": 2, "201": 3}


@pytest.mark.slow
def test_a_rejection_storm_stops_with_the_summary_and_what_to_fix(fx: tuple[Emulator, EmulatorServer],
                                                                  folder: Path, tmp_path: Path) -> None:
    """A mapping to an account code FX does not know, on every 10th document, no master cache: every
    request (what the last one left plus new documents) is rejected for the same reason. The run stops
    after STORM_LIMIT rejections."""
    emu, server = fx
    ledger = new_ledger(tmp_path / "ledger.sqlite", OCODE)
    path = export(tmp_path / "oct.csv", date(2026, 10, 15), 8000, bad=set(range(10, 8001, 10)))
    result = cli("upload", path, "-m", folder, "--base-url", server.url, "--ledger", ledger)
    assert result.exit_code == 1
    assert emu.stats()["import_by_status"] == {"400": STORM_LIMIT}  # nothing else was sent
    with Ledger.open(ledger, ocode=OCODE, readonly=True) as book:
        statuses = Counter(r.status for r in book.documents())
        errors = {r.doc_no for r in book.documents("error")}
        assert book.next_numbers("journo", [2026]) == {2026: 1}  # every number given back
    assert statuses[Status.SENDING] == statuses[Status.DONE] == statuses[Status.UNKNOWN] == 0
    assert errors == {f"INV-{n:06d}" for n in range(10, 10 * (len(errors) + 1), 10)}  # what FX named, in order
    assert statuses == {"error": len(errors), "pending": 8000 - len(errors)}
    content = "勘定科目コードが入力されていないか、誤った勘定科目コードが入力されています"
    assert "送信結果: 送信対象 8000 件 / 送信 3 回" in result.output
    assert f"連携完了 0 件 / エラー {len(errors)} 件 / 要確認 0 件" in result.output
    assert (f"送信を中止しました: FX が同じ理由で {STORM_LIMIT} 回続けて要求を拒否しました — {content}\n"
            f"FX が指摘した帳票はエラーにしました。未送信のまま連携待ちの帳票 {8000 - len(errors)} 件。\n"
            "直し方: converter masters pull で FX のマスターを取り込み、converter check でコードを確認し、"
            "mappings の表を直してから converter upload を再実行してください (エラーの帳票も送り直します)"
            ) in result.output
    # after the fix (the mapping), one upload sends everything, numbered from 1 without gaps
    accounts = folder / "accounts.yaml"
    accounts.write_text(accounts.read_text("utf-8").replace('cd_act: "4999"', 'cd_act: "4811"'), "utf-8")
    fixed = cli("upload", path, "-m", folder, "--base-url", server.url, "--ledger", ledger)
    assert fixed.exit_code == 0, fixed.output
    assert assert_unique_and_gapless(stored(emu)) == {2026: 8000}


def test_rejections_apart_do_not_make_a_storm(fx: tuple[Emulator, EmulatorServer], folder: Path,
                                               tmp_path: Path) -> None:
    """Rejections that are followed by a stored request do not add up: a few bad documents spread over
    a month are marked エラー and the rest of the month is sent."""
    emu, server = fx
    ledger = new_ledger(tmp_path / "ledger.sqlite", OCODE)
    path = export(tmp_path / "oct.csv", date(2026, 10, 15), 6000, bad={10, 2500, 4500})
    _, report = upload_files([path], folder, Options(), ledger_path=ledger, base_url=server.url)
    assert report.stop is None and len(report.errors) == 3 and len(report.sent) == 5997
    assert report.exit_code == 1
    assert assert_unique_and_gapless(stored(emu)) == {2026: 5997}


# ----------------------------------------------------------------------------- years of use


@pytest.mark.slow
def test_fifteen_months_across_two_fiscal_years(fx: tuple[Emulator, EmulatorServer], folder: Path,
                                                tmp_path: Path) -> None:
    """15 monthly uploads of 8,000 documents (February 2026 … April 2027: fiscal years 2025, 2026 and
    2027) on one ledger: 120,000 documents, more than 99,999 伝票番号, fit because each year restarts.
    With corrections (changed and deleted documents, one dated into the next year), and a month with
    documents FX rejects (fixed and sent again)."""
    emu, server = fx
    ledger = new_ledger(tmp_path / "ledger.sqlite", OCODE)
    per_month, began = 8000, time.perf_counter()
    months = [date(2026 + (1 + m) // 12, (1 + m) % 12 + 1, 1) for m in range(15)]
    assert months[0] == date(2026, 2, 1) and months[-1] == date(2027, 4, 1)
    timings: list[float] = []

    def up(path: Path, **kw: Any) -> upload_module.UploadReport:
        t = time.perf_counter()
        _, report = upload_files([path], folder, Options(), ledger_path=ledger, base_url=server.url, **kw)
        timings.append(time.perf_counter() - t)
        return report

    latest: dict[str, int] = {}  # document → amount FX should hold in the end (0: deleted)
    for m, first in enumerate(months):
        start = m * per_month + 1
        day = first.replace(day=15)
        bad = {start + 10, start + 20} if m == 4 else set()
        report = up(export(tmp_path / f"{first:%Y-%m}.csv", day, per_month, start=start, bad=bad))
        assert len(report.sent) == per_month - len(bad) and report.stop is None
        latest.update({f"INV-{n:06d}": 11000 for n in range(start, start + per_month)})
        if m == 4:  # the mapping is fixed; the month is given again and sends its エラー documents only
            accounts = folder / "accounts.yaml"
            accounts.write_text(accounts.read_text("utf-8").replace('cd_act: "4999"', 'cd_act: "4811"'), "utf-8")
            again = up(tmp_path / f"{first:%Y-%m}.csv")
            assert len(again.sent) == 2 and again.exit_code == 0
        if m in (2, 9, 14):  # the previous month re-exported: 40 amounts changed, 10 documents deleted
            before = months[m - 1]
            prev = (m - 1) * per_month + 1
            changed = {prev + k: 22000 for k in range(0, 400, 10)}
            deleted = set(range(prev + 1000, prev + 1010))
            path = export(tmp_path / f"{before:%Y-%m}-fixed.csv", before.replace(day=15), per_month, start=prev,
                          changed=changed)
            text = path.read_bytes().decode("cp932").split("\r\n")
            path.write_bytes("\r\n".join(line for line in text if not any(
                f"INV-{n:06d}," in line for n in deleted)).encode("cp932"))
            # m == 2: April 2026 corrects March, the reversals dated into April (the new year's numbers)
            on = first if m == 2 else None
            fix = up(path, corrections=True, correction_date=on,
                     period=(before.replace(day=1), before.replace(day=28)))
            assert len(fix.corrected) == 50 and fix.exit_code == 0 and fix.stop is None
            latest.update({f"INV-{n:06d}": 22000 for n in changed})
            latest.update({f"INV-{n:06d}": 0 for n in deleted})

    slips = stored(emu)
    sizes = assert_unique_and_gapless(slips)
    assert max(sizes.values()) <= 99_999
    # 2 months in FY2025, 12 in FY2026, 1 in FY2027; corrections: 50 reversals + 40 new versions each,
    # the reversals of March 2026 dated 2026-04-01 (FY2026), its new versions on their own date (FY2025)
    assert sizes == {2025: 2 * per_month + 40, 2026: 12 * per_month + 50 + 90 + 90, 2027: per_month}
    assert sum(sizes.values()) > 99_999  # one counter for all years would have hit the ceiling
    # every document stored once, corrections netting to the latest export
    net: Counter[str] = Counter()
    originals: Counter[str] = Counter()
    for s in slips:
        memo = s["slip"]["detail"][0].get("rcj_slip", "")
        number = int(memo.split()[-1])
        amount = sum(d["amnt_tr"] for d in s["slip"]["detail"] if d["is_ocr_dc"] == 1)
        net[f"INV-{number:06d}"] += -amount if memo.startswith("取消:") else amount
        if not memo.startswith("取消:") and s["slip"]["detail"][0]["amnt_tr"] != 22000:  # not a new version
            originals[f"INV-{number:06d}"] += 1
    assert len(latest) == 15 * per_month
    assert {k: v for k, v in net.items() if v} == {k: v for k, v in latest.items() if v}
    assert set(originals.values()) == {1} and len(originals) == 15 * per_month
    # the reversals of March dated in April took FY2026's numbers
    assert Counter(s["fy"] for s in slips if s["ymd_tr"] == "2026-04-01") == {2026: 50}
    with Ledger.open(ledger, ocode=OCODE, readonly=True) as book:
        assert Counter(r.status for r in book.documents()) == {"done": len(slips)}
        assert book.check() == []
    print(f"15 months: {time.perf_counter() - began:.1f} s (uploads {sum(timings):.1f} s)")


def test_fx_refusing_the_token_mid_run_prints_the_summary_and_gives_numbers_back(
        fx: tuple[Emulator, EmulatorServer], folder: Path, tmp_path: Path) -> None:
    """401 after the first request: the run stops with what it did (exit 2); the refused request's
    伝票番号 are not burnt."""
    emu, server = fx
    ledger = new_ledger(tmp_path / "ledger.sqlite", OCODE)
    path = export(tmp_path / "oct.csv", date(2026, 10, 15), 2500)

    def revoke(done: int, total: int) -> None:
        if done:  # (0: sending begins) after the first request, the token is withdrawn while the run goes on
            emu.token = "revoked"

    _, report = upload_files([path], folder, Options(), ledger_path=ledger, base_url=server.url, progress=revoke)
    assert report.stop is not None and report.stop.kind == "refused" and report.exit_code == 2
    assert len(report.sent) == 1000 and len(report.left_pending) == 1500
    assert format_upload(report).endswith(
        "送信を中止しました: FX が要求を拒否しました — FX のトークンが存在しないか無効です (HTTP 401)。"
        "環境変数 FX_API_TOKEN を確認してください\n"
        "それまでの送信結果は上のとおりです。未送信のまま連携待ちの帳票 1500 件。"
        "トークン・権限を確かめてから再実行してください")
    with Ledger.open(ledger, ocode=OCODE, readonly=True) as book:
        assert Counter(r.status for r in book.documents()) == {"done": 1000, "pending": 1500}
        assert book.next_numbers("journo", [2026]) == {2026: 1001}
    emu.token = DEFAULT_TOKEN
    _, report = upload_files([path], folder, Options(), ledger_path=ledger, base_url=server.url)
    assert report.exit_code == 0 and len(report.sent) == 1500
    assert assert_unique_and_gapless(stored(emu)) == {2026: 2500}


def test_a_version_3_ledger_keeps_its_numbers_and_continues_above_them(tmp_path: Path) -> None:
    """The upgrade in place: the id rule of version 3 (≤ 999999) is lifted, rows and numbers kept; the
    fiscal year of its dates continues above its counters (FX holds those numbers), a later one starts at 1."""
    path = tmp_path / "v3.sqlite"
    old_check = "CHECK (journo_read BETWEEN 1 AND 999999)"
    with sqlite3.connect(path) as raw:
        raw.executescript(SCHEMA.replace(ID_CHECK, old_check).replace(NUMBERING_SCHEMA, ""))
        raw.executemany("INSERT INTO meta VALUES (?, ?)", [("schema_version", "3"), ("ocode", OCODE),
                                                           ("next_journo_read", "3"), ("next_journo", "8")])
        raw.executemany("INSERT INTO documents (key, journo_read, content_hash, status, journo, ymd, created_at,"
                        " updated_at) VALUES (?, ?, 'h', ?, ?, '2026-03-31', 't', 't')",
                        [("a", 1, "done", 6), ("b", 2, "pending", None)])
    raw.close()
    with Ledger.open(path, ocode=OCODE, lock=True) as book:
        assert [(r.key, r.status, r.number, r.fy, r.journo) for r in book.documents()] == [
            ("a", "done", 1, 0, 6), ("b", "pending", 2, 0, None)]
        ids = book.assign_ids([DocumentInfo("c", "h", ymd="2026-03-31"), DocumentInfo("d", "h", ymd="2026-04-01")])
        assert {k: (v // 1_000_000, v % 1_000_000) for k, v in ids.items()} == {"c": (2025, 3), "d": (2026, 1)}
        assert book.reserve_journos({2025: 1, 2026: 1}) == {2025: 8, 2026: 1}
        assert book.check() == []
    with sqlite3.connect(path) as raw:
        assert old_check not in raw.execute("SELECT sql FROM sqlite_master WHERE name = 'documents'").fetchone()[0]
        assert raw.execute("SELECT value FROM meta WHERE name = 'schema_version'").fetchone() == ("4",)
    raw.close()
