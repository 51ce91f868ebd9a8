"""要確認 as a path, not a puzzle (issue 18): the upload summary lists them with the next step, history
finds them (Japanese statuses, keys/numbers one a line, FX's messages as text, Japan time, aligned),
resolve takes keys, 連携番号 and --from FILE.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from conftest import sale
from ledger_helpers import new_ledger

from converter import clock
from converter.cli import main
from converter.cli.table import width
from converter.convert.pipeline import Options
from converter.emulator.server import Emulator
from converter.ledger.ledger import Ledger
from converter.messages import UNRESOLVED_NEXT_STEP, plain
from converter.sync.upload import UploadReport, upload_files

OCODE = "tc09999001"
WriteCsv = Callable[..., Path]
GOLDEN = Path(__file__).parent / "golden" / "cli"


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FX_API_TOKEN", "emulator-token")


@pytest.fixture
def fixed_time(monkeypatch: pytest.MonkeyPatch) -> None:
    """Every time the ledger stores: 2026-11-02 09:30:00 Japan time (the golden text names it)."""
    monkeypatch.setattr(clock, "stamp", lambda moment=None: "2026-11-02T00:30:00+00:00")


def docs(n: int, prefix: str = "INV") -> list[dict[str, str]]:
    return [sale(f"{prefix}-{i:02d}", 1100 * (i + 1), 100 * (i + 1), date=f"2026/10/{i % 28 + 1:02d}")
            for i in range(n)]


def upload(path: Path, mappings: Path, emu: Emulator, ledger: Path) -> UploadReport:
    _, report = upload_files([path], mappings, Options(), ledger_path=ledger, transport=emu.transport())
    return report


def cli(*args: str | Path) -> Result:
    return CliRunner().invoke(main, [str(a) for a in args])


@pytest.fixture
def dropped(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> Iterator[tuple[Path, Path, Emulator]]:
    """25 documents sent in one request whose answer never came (FX stored them): all 要確認."""
    emu, ledger = Emulator(fault_plan=["drop"]), new_ledger(tmp_path / "l.sqlite", OCODE)
    path = write_csv(docs(25))
    report = upload(path, mappings, emu, ledger)
    assert len(report.unknown) == 25
    yield path, ledger, emu


def summary_block(stdout: str) -> list[str]:
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("送信結果"))
    return lines[start:]


# --------------------------------------------------------------------------- the upload summary


def test_upload_lists_the_first_20_unresolved_with_the_next_step(write_csv: WriteCsv, mappings: Path,
                                                                 tmp_path: Path) -> None:
    emu, ledger = Emulator(fault_plan=["drop"]), new_ledger(tmp_path / "l.sqlite", OCODE)
    path = write_csv(docs(25))
    with emu.serve(port=0) as server:
        result = cli("upload", path, "-m", mappings, "--base-url", server.url, "--ledger", ledger)
    assert result.exit_code == 1, result.output
    block = summary_block(result.stdout)
    assert block[:4] == [
        "送信結果: 送信対象 25 件 / 送信 1 回",
        "連携完了 0 件 / エラー 0 件 / 要確認 25 件",
        "連携済みのためスキップ 0 件",
        "要確認 25 件 (今回の送信 25 件) — FX に登録されたか分からないため、自動では再送しません:",
    ]
    assert block[4].split() == ["帳票キー", "連携番号", "伝票番号", "取引日", "金額", "何が起きたか"]
    assert block[5].split() == ["売上|INV-00", "1", "1", "2026-10-01", "1,100", "送信後に応答がありませんでした"]
    assert block[24].split()[:2] == ["売上|INV-19", "20"]
    assert block[25] == "  … ほか 5 件 (全件: converter history --status 要確認、確認用ブック (-o) の要確認シート)"
    assert block[26] == ("送信 (要求) ごとに全部登録済みか全部未登録のどちらかです。各要求の 1 件を FX で探せば、"
                         "その要求の全件の答えになります (converter resolve --request 要求番号 --sent / --not-sent): "
                         "#1 (25 件: 連携番号 1〜25)")
    assert block[27] == UNRESOLVED_NEXT_STEP
    assert "RemoteProtocolError" not in result.output
    assert len({width(line.rsplit("  ", 1)[0]) for line in block[4:25]}) == 1  # the columns line up


def test_second_run_counts_agree_with_what_it_lists(dropped: tuple[Path, Path, Emulator],
                                                    mappings: Path) -> None:
    """Before: 25 `要確認 … 未解決です` lines, then `要確認 0 件`."""
    path, ledger, emu = dropped
    with emu.serve(port=0) as server:
        result = cli("upload", path, "-m", mappings, "--base-url", server.url, "--ledger", ledger)
    assert result.exit_code == 1
    block = summary_block(result.stdout)
    assert block[:4] == [
        "送信結果: 送信対象 0 件 / 送信 0 回",
        "連携完了 0 件 / エラー 0 件 / 要確認 25 件",
        "連携済みのためスキップ 0 件",
        "要確認 25 件 (前回までの送信 25 件) — FX に登録されたか分からないため、自動では再送しません:",
    ]
    assert "未解決です" not in result.stdout
    assert sum(line.startswith("  売上|INV-") for line in block) == 20
    assert block[-1] == UNRESOLVED_NEXT_STEP


def test_dry_run_lists_the_unresolved_too(dropped: tuple[Path, Path, Emulator], mappings: Path) -> None:
    path, ledger, _ = dropped
    result = cli("upload", path, "-m", mappings, "--ledger", ledger, "--dry-run")
    heading = "要確認 25 件 (前回までの送信 25 件) — FX に登録されたか分からないため、自動では再送しません:"
    assert heading in result.stdout.splitlines()
    assert result.stdout.rstrip().endswith(UNRESOLVED_NEXT_STEP)


def test_the_report_says_what_to_check_in_fx(dropped: tuple[Path, Path, Emulator], mappings: Path) -> None:
    path, ledger, emu = dropped
    report = upload(path, mappings, emu, ledger)
    first = report.attention[0]
    assert (first.key, first.number, first.origin, first.request_size) == ("売上|INV-00", 1, "earlier", 25)
    assert first.check == ("FX の仕訳で 連携番号(journo_read) 1 / 伝票番号(journo) 1 取引日 2026-10-01 金額 1,100 円"
                           f"を探す。同じ送信 (要求 #{first.request}) の 25 件は全部登録済みか全部未登録のどちらかです")
    assert "RemoteProtocolError" in first.technical and "RemoteProtocolError" not in first.reason


# --------------------------------------------------------------------------- history


def test_history_status_takes_japanese_labels_and_keys_one_a_line(dropped: tuple[Path, Path, Emulator],
                                                                  mappings: Path) -> None:
    _, ledger, _ = dropped
    japanese = cli("history", "-m", mappings, "--ledger", ledger, "--status", "要確認", "--format", "keys")
    english = cli("history", "-m", mappings, "--ledger", ledger, "--status", "unknown", "--format", "keys")
    assert japanese.exit_code == 0 and japanese.stdout == english.stdout
    assert japanese.stdout.splitlines() == [f"売上|INV-{i:02d}" for i in range(25)]
    numbers = cli("history", "-m", mappings, "--ledger", ledger, "--status", "要確認", "--format", "numbers")
    assert numbers.stdout.splitlines() == [str(i) for i in range(1, 26)]
    assert cli("history", "-m", mappings, "--ledger", ledger, "--status", "連携完了", "--format", "keys").stdout == ""


def test_history_refuses_an_unknown_status_listing_the_accepted_ones(dropped: tuple[Path, Path, Emulator],
                                                                     mappings: Path) -> None:
    _, ledger, _ = dropped
    result = cli("history", "-m", mappings, "--ledger", ledger, "--status", "要確")
    assert result.exit_code == 2
    assert ("「要確」は状態ではありません。指定できるのは 連携待ち (pending)、連携中 (sending)、連携完了 (done)、"
            "エラー (error)、要確認 (unknown) です") in result.output


def test_history_json_keeps_the_technical_name_the_text_drops_it(dropped: tuple[Path, Path, Emulator],
                                                                 mappings: Path) -> None:
    _, ledger, _ = dropped
    rows = json.loads(cli("history", "-m", mappings, "--ledger", ledger, "--format", "json").stdout)
    assert rows[0]["technical"] == ["RemoteProtocolError"]
    assert "RemoteProtocolError" in rows[0]["last_message"]
    assert rows[0]["message"] == "送信後に応答がありませんでした。FX に登録されたかどうか確認が必要です"
    text = cli("history", "-m", mappings, "--ledger", ledger).stdout
    assert "RemoteProtocolError" not in text and "送信後に応答がありませんでした" in text


def test_fx_messages_read_as_sentences_not_json() -> None:
    stored = json.dumps([{"kind": "error", "content": "口座コードが必要です", "lineno": 1, "is_ocr_dc": 1,
                          "source": "in.csv:4"}, {"kind": "information", "content": "取引先を消去しました",
                                                  "lineno": None, "is_ocr_dc": None, "source": ""}],
                        ensure_ascii=False)
    assert plain(stored) == ("FX エラー: 口座コードが必要です (借方 1 行目, in.csv:4行) / "
                             "FX みなし処理: 取引先を消去しました")
    assert plain("FX に接続できません (ConnectError)") == "FX に接続できません"


def test_history_text_golden(write_csv: WriteCsv, mappings: Path, tmp_path: Path, fixed_time: None) -> None:
    """The exact text of `converter history` (tests/golden/cli/history.txt; GOLDEN_UPDATE=1 rewrites it):
    連携完了, 要確認 and エラー rows, full-width statuses aligned, Japan time, FX's message as text."""
    ledger = new_ledger(tmp_path / "l.sqlite", OCODE)
    upload(write_csv(docs(2), name="a.csv"), mappings, Emulator(), ledger)
    upload(write_csv(docs(2, "DROP"), name="b.csv"), mappings, Emulator(fault_plan=["drop"]), ledger)
    bank = sale("RCV-X", kind="入金", dr="普通預金", dr_sub="楽天銀行", cr="売掛金", cr_tax="対象外", cr_dep="",
                cr_taxamt="", date="2026/10/03")
    upload(write_csv([bank], name="c.csv"), mappings, Emulator(), ledger)
    result = cli("history", "-m", mappings, "--ledger", ledger)
    assert result.exit_code == 0
    text = result.stdout.replace(str(tmp_path), "<tmp>")
    golden = GOLDEN / "history.txt"
    if os.environ.get("GOLDEN_UPDATE") or not golden.exists():
        golden.parent.mkdir(parents=True, exist_ok=True)
        golden.write_text(text, "utf-8")
    assert text == golden.read_text("utf-8")
    rows = [line for line in text.splitlines() if not line.startswith(" ")]
    assert len(rows) == 6 and len({width(line.rsplit("  ", 1)[0]) for line in rows}) == 1  # aligned


# --------------------------------------------------------------------------- resolve


def statuses(ledger: Path) -> dict[str, str]:
    with Ledger.open(ledger, ocode=OCODE, readonly=True) as book:
        return {r.key: r.status for r in book.documents()}


def test_resolve_by_number_key_and_from_a_file(dropped: tuple[Path, Path, Emulator], mappings: Path,
                                               tmp_path: Path) -> None:
    _, ledger, _ = dropped
    listing = tmp_path / "list.txt"
    # what history --format keys / numbers writes, with a comment, a blank line and full-width digits
    listing.write_text("# FX で見つかった\n売上|INV-02\n\n４\n5\n", "utf-8")
    result = cli("resolve", "1", "売上|INV-01", "--from", listing, "--sent", "-m", mappings, "--ledger", ledger)
    assert result.exit_code == 0, result.output
    assert result.stderr == "5 件を連携完了にしました\n"
    done = {k for k, s in statuses(ledger).items() if s == "done"}
    assert done == {f"売上|INV-{i:02d}" for i in range(5)}
    # the rest from the output of history, as the README shows
    keys = cli("history", "-m", mappings, "--ledger", ledger, "--status", "要確認", "--format", "keys").stdout
    listing.write_text(keys, "utf-8")
    result = cli("resolve", "--from", listing, "--not-sent", "-m", mappings, "--ledger", ledger)
    assert result.stderr == "20 件を連携待ちにしました\n"
    assert sorted(statuses(ledger).values()) == ["done"] * 5 + ["pending"] * 20


def test_resolve_refuses_a_number_that_is_not_unresolved(dropped: tuple[Path, Path, Emulator], mappings: Path) -> None:
    _, ledger, _ = dropped
    assert cli("resolve", "1", "--sent", "-m", mappings, "--ledger", ledger).exit_code == 0
    result = cli("resolve", "1", "99", "--sent", "-m", mappings, "--ledger", ledger)
    assert result.exit_code == 2
    assert ("要確認の帳票にない連携番号です: 1 (売上|INV-00: 連携完了), 99 (台帳にありません)。"
            "converter history --status 要確認 で連携番号を確認してください") in result.output


def test_resolve_needs_something_to_resolve_and_an_answer(dropped: tuple[Path, Path, Emulator],
                                                          mappings: Path) -> None:
    _, ledger, _ = dropped
    nothing = cli("resolve", "--sent", "-m", mappings, "--ledger", ledger)
    assert nothing.exit_code == 2
    assert ("帳票キーか連携番号を指定するか、--from で一覧ファイル、--request で要求番号を指定してください"
            in nothing.output)
    no_answer = cli("resolve", "1", "-m", mappings, "--ledger", ledger)
    assert no_answer.exit_code == 2
    assert "FX に仕訳があったら --sent、なかったら --not-sent を付けてください" in no_answer.output
    missing = cli("resolve", "--from", "/nonexistent/list.txt", "--sent", "-m", mappings, "--ledger", ledger)
    assert missing.exit_code == 2 and "一覧ファイルを読めません" in missing.output


def test_resolve_from_an_empty_list_changes_nothing(dropped: tuple[Path, Path, Emulator], mappings: Path,
                                                    tmp_path: Path) -> None:
    _, ledger, _ = dropped
    empty = tmp_path / "未登録.txt"
    empty.write_text("", "utf-8")
    result = cli("resolve", "--from", empty, "--not-sent", "-m", mappings, "--ledger", ledger)
    assert result.exit_code == 0
    assert result.stderr == f"{empty} に帳票キー・連携番号がありません。何も変更していません\n"
    assert set(statuses(ledger).values()) == {"unknown"}


# --------------------------------------------------------------------------- the walkthrough


def readme_rehearsal_script() -> str:
    """The README's shell lines for looking up 要確認 in the emulator's store (section 要確認の解決)."""
    readme = (Path(__file__).resolve().parent.parent / "README.md").read_text("utf-8")
    section = readme[readme.index("## 要確認の解決"):]
    return section[section.index("```bash\n") + 8:section.index("```", section.index("```bash\n") + 8)]


@pytest.mark.slow
def test_walkthrough_drops_history_fx_resolve_upload(tmp_path: Path) -> None:
    """Issue 18's walkthrough on the real emulator server, with only what the README says: upload with
    drops at 0.1 → history --status 要確認 --format keys → look each up in the emulator's store (the
    README's lines) → resolve --from → upload: every document 連携完了, none stored twice."""
    import shutil
    import subprocess
    import sys

    from fault_helpers import MAPPINGS, EmulatorProcess, child_env, stored_counts, write_month

    shutil.copytree(MAPPINGS, tmp_path / "mappings")
    month = write_month(tmp_path / "取引明細.csv", 3000)
    assert month.requests >= 4
    # seed 2 drops the 3rd and 4th of the first requests (random.Random(2) draws)
    emulator = EmulatorProcess(tmp_path, "--drop-rate", "0.1", "--random-seed", "2")
    try:
        (tmp_path / "fx-stored-slips.jsonl").symlink_to(emulator.store)
        env = child_env()

        def converter(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "converter", *args], capture_output=True, text=True,
                                  env=env, cwd=tmp_path, timeout=300)

        def bash(script: str) -> subprocess.CompletedProcess[str]:
            prelude = f'converter() {{ "{sys.executable}" -m converter "$@"; }}\nset -e\n'
            return subprocess.run(["bash", "-c", prelude + script], capture_output=True, text=True, env=env,
                                  cwd=tmp_path, timeout=300)

        assert converter("ledger", "init").returncode == 0
        first = converter("upload", "取引明細.csv", "--base-url", emulator.url)
        assert first.returncode == 1, first.stdout[-2000:] + first.stderr
        keys = converter("history", "--status", "要確認", "--format", "keys").stdout.splitlines()
        assert 0 < len(keys) < month.documents
        assert f"要確認 {len(keys)} 件 (今回の送信 {len(keys)} 件)" in first.stdout
        assert f"連携完了 {month.documents - len(keys)} 件 / エラー 0 件 / 要確認 {len(keys)} 件" in first.stdout
        # look each up in FX (the emulator's store), as the README says
        looked_up = bash(readme_rehearsal_script())
        assert looked_up.returncode == 0, looked_up.stderr
        found = (tmp_path / "登録済み.txt").read_text("utf-8").split()
        assert len(found) == len(keys)  # dropped after the store: FX has every one of them
        assert (tmp_path / "未登録.txt").read_text("utf-8") == ""
        for answer in ("converter resolve --from 登録済み.txt --sent",
                       "converter resolve --from 未登録.txt --not-sent"):
            done = bash(answer)
            assert done.returncode == 0, done.stderr
        final = converter("upload", "取引明細.csv", "--base-url", emulator.url)
        assert final.returncode == 0, final.stdout[-2000:] + final.stderr
        assert "送信結果: 送信対象 0 件 / 送信 0 回" in final.stdout and "要確認 0 件" in final.stdout
        keys = converter("history", "--status", "連携完了", "--format", "keys").stdout.splitlines()
        assert sorted(keys) == sorted(month.slips_per_doc)
        stored = stored_counts(emulator.slips())
        assert sum(stored.values()) == sum(month.slips_per_doc.values())  # every slip once
        assert len(stored) == month.documents
    finally:
        emulator.stop()


# --------------------------------------------------------------------------- the review workbook


def sheet_rows(path: Path, title: str) -> list[tuple[object, ...]]:
    from openpyxl import load_workbook

    ws = load_workbook(path)[title]
    return [tuple(c.value for c in row) for row in ws.iter_rows(min_row=3)]


def test_workbook_has_a_unresolved_sheet_and_every_answer(write_csv: WriteCsv, mappings: Path,
                                                          tmp_path: Path) -> None:
    emu, ledger = Emulator(fault_plan=["drop"]), new_ledger(tmp_path / "l.sqlite", OCODE)
    path, review = write_csv(docs(25)), tmp_path / "review.xlsx"
    with emu.serve(port=0) as server:
        result = cli("upload", path, "-m", mappings, "--base-url", server.url, "--ledger", ledger, "-o", review)
    assert result.exit_code == 1
    rows = sheet_rows(review, "要確認")
    assert len(rows) == 25
    key, number, year, journo, day, amount, request, sent_at, size, origin, reason, check, command = rows[0]
    assert (key, number, year, journo, amount, size, origin) == ("売上|INV-00", 1, 2026, 1, 1100, 25, "今回の送信")
    assert str(day)[:10] == "2026-10-01" and isinstance(request, int) and str(sent_at).startswith("20")
    assert reason == "送信後に応答がありませんでした。FX に登録されたかどうか確認が必要です"
    assert str(check).startswith("FX の仕訳で 連携番号(journo_read) 1 / 伝票番号(journo) 1 取引日 2026-10-01")
    assert command == "converter resolve '売上|INV-00' --sent"
    answers = sheet_rows(review, "FX応答")
    assert answers[0][0] == "応答なし" and answers[0][10] == 1
    assert answers[0][9] == ("帳票 25 件 (連携番号 1〜25): 応答がありませんでした。登録されたか分からないため、"
                             "帳票は要確認です (要確認シート) — 送信後に応答がありませんでした。"
                             "FX に登録されたかどうか確認が必要です")
    # a second run sends nothing: FX応答 says so, the 要確認 sheet still lists all 25
    with emu.serve(port=0) as server:
        cli("upload", path, "-m", mappings, "--base-url", server.url, "--ledger", ledger, "-o", review)
    assert sheet_rows(review, "FX応答")[0][0] == "送信なし"
    assert [r[9] for r in sheet_rows(review, "要確認")] == ["前回までの送信"] * 25


def test_fx_answers_sheet_lists_each_request_then_its_messages(write_csv: WriteCsv, mappings: Path,
                                                               tmp_path: Path) -> None:
    """A 400 on one document: request 1 拒否 (400) with FX's エラー, request 2 (the rest) 登録 (201)."""
    from converter.review.workbook import write_review

    ledger = new_ledger(tmp_path / "l.sqlite", OCODE)
    bank = sale("RCV-X", kind="入金", dr="普通預金", dr_sub="楽天銀行", cr="売掛金", cr_tax="対象外", cr_dep="",
                cr_taxamt="", date="2026/10/03")
    conversion, report = upload_files([write_csv([*docs(3), bank])], mappings, Options(), ledger_path=ledger,
                                      transport=Emulator().transport())
    out = write_review(conversion, tmp_path / "r.xlsx", responses=report.messages, answers=report.answers,
                       unresolved=report.attention)
    rows = sheet_rows(out, "FX応答")
    kinds = [(r[0], r[10]) for r in rows]
    assert kinds[:3] == [("拒否 (400)", 1), ("エラー", 1), ("登録 (201)", 2)]
    assert rows[1][2] == "RCV-X"
    assert rows[1][1] == 3  # RCV-X, dated 10/03, is the third document
    assert rows[2][9] == "帳票 3 件 (連携番号 1〜2, 4): FX が登録しました、みなし処理 3 件"
    assert [r[0] for r in rows[3:]] == ["みなし"] * 3 and {r[10] for r in rows[3:]} == {2}
    from openpyxl import load_workbook

    assert "要確認" not in load_workbook(out).sheetnames  # nothing to check in FX: no sheet


def test_number_ranges() -> None:
    from converter.messages import number_ranges

    assert number_ranges([3, 1, 2, 5, 7, 8, 9]) == "1〜3, 5, 7〜9"
    assert number_ranges(range(1, 20, 2), limit=2) == "1, 3 ほか 8 区間"


def test_no_exception_names_in_what_the_accountant_reads(mappings: Path) -> None:
    """A network failure reads as a sentence; its technical name only with CONVERTER_DEBUG=1."""
    args = ["masters", "pull", "-m", str(mappings), "--base-url", "http://127.0.0.1:9"]
    plain_run = CliRunner().invoke(main, args)
    assert plain_run.exit_code == 2 and "エラー: FX に" in plain_run.stderr
    assert "ConnectError" not in plain_run.output
    debug = CliRunner().invoke(main, args, env={"CONVERTER_DEBUG": "1"})
    assert "ConnectError" in debug.output


def test_resolve_a_whole_request(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    """Two requests dropped: one look in FX per request; --request answers for all its documents."""
    ledger = new_ledger(tmp_path / "l.sqlite", OCODE)
    reports = [upload(write_csv(docs(3, prefix), name=f"{prefix}.csv"), mappings, Emulator(fault_plan=["drop"]),
                      ledger) for prefix in ("INV", "B")]
    first, second = sorted({u.request for r in reports for u in r.attention})
    result = cli("resolve", "--request", str(second), "--sent", "-m", mappings, "--ledger", ledger)
    assert result.exit_code == 0 and result.stderr == "3 件を連携完了にしました\n"
    assert statuses(ledger) == {**{f"売上|INV-{i:02d}": "unknown" for i in range(3)},
                                **{f"売上|B-{i:02d}": "done" for i in range(3)}}
    again = cli("resolve", "--request", str(second), "--sent", "-m", mappings, "--ledger", ledger)
    assert again.exit_code == 2
    assert (f"要確認の帳票がない要求です: #{second}。"
            "要求の番号は upload の送信結果か確認用ブックの要確認シートにあります") in again.output
    assert cli("resolve", "--request", str(first), "--not-sent", "-m", mappings, "--ledger", ledger).exit_code == 0
    assert sorted(statuses(ledger).values()) == ["done"] * 3 + ["pending"] * 3


def test_preview_shows_the_unresolved_too(dropped: tuple[Path, Path, Emulator], mappings: Path,
                                          tmp_path: Path) -> None:
    path, ledger, _ = dropped
    review = tmp_path / "preview.xlsx"
    result = cli("preview", path, "-m", mappings, "--ledger", ledger, "-o", review)
    assert result.exit_code == 0
    heading = "要確認 25 件 (前回までの送信 25 件) — FX に登録されたか分からないため、自動では再送しません:"
    assert heading in result.stdout.splitlines() and UNRESOLVED_NEXT_STEP in result.stdout
    assert len(sheet_rows(review, "要確認")) == 25
