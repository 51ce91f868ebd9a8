"""Upload through the ledger against the in-process emulator (httpx.MockTransport).

Each test states one promise to the accountant: nothing posted twice, nothing lost, and every
document's state told exactly.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner
from conftest import make_mappings, sale
from ledger_helpers import new_ledger

from converter.cli import main
from converter.convert.pipeline import Options
from converter.emulator.server import Emulator
from converter.errors import ConfigError, FXAuthError, LedgerLocked, ProblemsFound
from converter.fx.client import FXClient, RetryPolicy
from converter.ledger.ledger import Ledger
from converter.sync.upload import UploadReport, upload_files

OCODE = "tc09999001"
WriteCsv = Callable[..., Path]
TOKEN = "emulator-token"


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FX_API_TOKEN", TOKEN)


def run(path: Path, mappings: Path, emu: Emulator, ledger: Path, **kw: object) -> UploadReport:
    _, report = upload_files([path], mappings, Options(), ledger_path=ledger, transport=emu.transport(),
                             **kw)  # type: ignore[arg-type]
    return report


def stored_reads(emu: Emulator) -> Counter[str]:
    return emu.count_by_journo_read()


def statuses(ledger: Path) -> dict[str, str]:
    with Ledger.open(ledger, ocode="tc09999001", readonly=True) as book:
        return {r.doc_no: r.status for r in book.documents()}


def month(n: int = 5) -> list[dict[str, str]]:
    return [sale(f"INV-{i}", 1100 * (i + 1), 100 * (i + 1), date=f"2026/10/{i + 1:02d}") for i in range(n)]


def test_complete_upload_then_second_run_sends_nothing(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    emu, ledger = Emulator(), new_ledger(tmp_path / "l.sqlite", OCODE)
    path = write_csv(month())
    first = run(path, mappings, emu, ledger)
    assert (len(first.sent), first.requests, first.needs_attention) == (5, 1, False)
    assert sorted(stored_reads(emu).values()) == [1] * 5
    second = run(path, mappings, emu, ledger)
    assert (second.sent, second.requests, len(second.already_done)) == ((), 0, 5)
    assert len(emu.stored_slips()) == 5
    assert set(statuses(ledger).values()) == {"done"}


def test_a_later_export_sends_only_new_documents(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    emu, ledger = Emulator(), new_ledger(tmp_path / "l.sqlite", OCODE)
    run(write_csv(month(3), name="a.csv"), mappings, emu, ledger)
    report = run(write_csv(month(5), name="b.csv"), mappings, emu, ledger)
    assert len(report.sent) == 2 and len(report.already_done) == 3
    assert sorted(int(k) for k in stored_reads(emu)) == [1, 2, 3, 4, 5]


def test_503_with_retry_after_is_retried_to_completion(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    emu = Emulator(fault_plan=["503", "429", "503"], retry_after=0)
    report = run(write_csv(month()), mappings, emu, new_ledger(tmp_path / "l.sqlite", OCODE))
    assert len(report.sent) == 5 and not report.needs_attention
    assert emu.stats()["import_by_status"] == {"503": 2, "429": 1, "201": 1}


def test_drop_after_store_is_unknown_and_never_resent(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    emu, ledger = Emulator(fault_plan=["drop"]), new_ledger(tmp_path / "l.sqlite", OCODE)
    path = write_csv(month())
    report = run(path, mappings, emu, ledger)
    assert len(report.unknown) == 5 and report.needs_attention and not report.sent
    assert set(statuses(ledger).values()) == {"unknown"}
    again = run(path, mappings, emu, ledger)
    assert again.requests == 0 and len(again.still_unknown) == 5
    assert max(stored_reads(emu).values()) == 1  # stored once, never twice
    # The accountant checks FX, finds the slips, and says so.
    code = CliRunner().invoke(main, ["resolve", *report.unknown, "--sent", "--ledger", str(ledger), "-m",
                                     str(mappings)]).exit_code
    assert code == 0
    final = run(path, mappings, emu, ledger)
    assert final.requests == 0 and not final.needs_attention
    assert set(statuses(ledger).values()) == {"done"}


def test_resolve_not_sent_sends_again(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    emu, ledger = Emulator(fault_plan=["slow"], slow_seconds=120), new_ledger(tmp_path / "l.sqlite", OCODE)
    path = write_csv(month(2))
    _, report = upload_files([path], mappings, Options(), ledger_path=ledger,
                             transport=emu.transport())
    assert len(report.unknown) == 2  # 120 s > the 60 s read timeout: the mock times out at once
    emu.set_faults(fault_plan=[], slow_seconds=0)
    emu_empty = Emulator()  # a company where the slips turned out NOT to be stored
    with Ledger.open(ledger, ocode="tc09999001", lock=True) as book:
        book.resolve(report.unknown, sent=False)
    again = run(path, mappings, emu_empty, ledger)
    assert len(again.sent) == 2 and len(emu_empty.stored_slips()) == 2


def test_a_400_on_one_slip_stores_the_rest(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    """普通預金 needs a 口座 in FX; a bank the mapping leaves without cd_auxact is rejected."""
    emu, ledger = Emulator(), new_ledger(tmp_path / "l.sqlite", OCODE)
    rows = month(4)
    rows[2] = sale("RCV-X", kind="入金", dr="普通預金", dr_sub="楽天銀行", cr="売掛金", cr_tax="対象外", cr_dep="",
                   cr_taxamt="", date="2026/10/03")
    report = run(write_csv(rows), mappings, emu, ledger)
    assert len(report.sent) == 3 and len(report.errors) == 1 and report.requests == 2
    assert statuses(ledger)["RCV-X"] == "error"
    (error,) = [m for m in report.messages if m.kind == "error"]
    assert error.doc_no == "RCV-X" and error.row == 4 and error.file.endswith("in.csv")
    assert len(emu.stored_slips()) == 3
    # Fix the mapping, then `retry` sends just the error document.
    accounts = mappings / "accounts.yaml"
    accounts.write_text(accounts.read_text("utf-8") + '- {account: 普通預金, sub_account: 楽天銀行, cd_act: "1131",'
                        ' cd_auxact: "02"}\n', "utf-8")
    retried = run(write_csv(rows), mappings, emu, ledger, only_errors=True)
    assert retried.sent == report.errors
    assert max(stored_reads(emu).values()) == 1 and len(emu.stored_slips()) == 4


def test_auth_failure_stops_and_leaves_documents_unsent(write_csv: WriteCsv, mappings: Path, tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    emu, ledger = Emulator(readonly_token="viewer"), new_ledger(tmp_path / "l.sqlite", OCODE)
    monkeypatch.setenv("FX_API_TOKEN", "viewer")
    with pytest.raises(FXAuthError, match="403"):
        run(write_csv(month()), mappings, emu, ledger)
    assert set(statuses(ledger).values()) == {"pending"}
    monkeypatch.setenv("FX_API_TOKEN", "wrong")
    with pytest.raises(FXAuthError, match="401") as err:
        run(write_csv(month()), mappings, emu, ledger)
    assert "wrong" not in str(err.value)
    monkeypatch.setenv("FX_API_TOKEN", TOKEN)
    assert len(run(write_csv(month()), mappings, emu, ledger).sent) == 5


def test_missing_token_is_a_clear_error(write_csv: WriteCsv, mappings: Path, tmp_path: Path,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("FX_API_TOKEN")
    with pytest.raises(FXAuthError, match="FX_API_TOKEN"):
        run(write_csv(month()), mappings, Emulator(), tmp_path / "l.sqlite")


def test_changed_document_is_reported_not_resent(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    emu, ledger = Emulator(), new_ledger(tmp_path / "l.sqlite", OCODE)
    rows = month(2)
    run(write_csv(rows), mappings, emu, ledger)
    rows[1] = {**rows[1], "memo": "訂正後"}
    report = run(write_csv(rows), mappings, emu, ledger)
    assert len(report.changed) == 1 and report.requests == 0 and report.needs_attention
    assert len(emu.stored_slips()) == 2


def test_problems_refuse_to_send_anything(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    emu, ledger = Emulator(), new_ledger(tmp_path / "l.sqlite", OCODE)
    with pytest.raises(ProblemsFound):
        run(write_csv([*month(), sale("BAD", cr_amt="1")]), mappings, emu, ledger)
    assert statuses(ledger) == {} and not emu.stored_slips()


def test_dry_run_sends_and_records_nothing(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    emu, ledger = Emulator(), new_ledger(tmp_path / "l.sqlite", OCODE)
    report = run(write_csv(month()), mappings, emu, ledger, dry_run=True)
    assert report.dry_run and len(report.to_send) == 5 and report.requests == 1
    assert statuses(ledger) == {} and not emu.stored_slips()


class Recording(httpx.BaseTransport):
    """Keeps every POSTed body, then lets the emulator answer."""

    def __init__(self, emu: Emulator) -> None:
        self.inner = emu.transport()
        self.bodies: list[dict[str, object]] = []

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            self.bodies.append(json.loads(request.read()))
        return self.inner.handle_request(request)


def test_journo_is_issued_from_the_ledger_unless_fx_numbers(write_csv: WriteCsv, mappings: Path,
                                                             tmp_path: Path) -> None:
    path = write_csv(month(3))
    manual = Recording(Emulator())  # the sample company does not auto-number
    new_ledger(tmp_path / "a.sqlite", OCODE)
    new_ledger(tmp_path / "b.sqlite", OCODE)
    upload_files([path], mappings, Options(), ledger_path=tmp_path / "a.sqlite", transport=manual)
    assert [s["journo"] for b in manual.bodies for s in b["slips"]] == ["1", "2", "3"]  # type: ignore[attr-defined]
    upload_files([write_csv(month(4), name="more.csv")], mappings, Options(), ledger_path=tmp_path / "a.sqlite",
                 transport=manual)
    assert [s["journo"] for s in manual.bodies[-1]["slips"]] == ["4"]  # type: ignore[attr-defined]
    seed = json.loads((Path(__file__).parent.parent / "converter/emulator/data/emulator_seed.json").read_text("utf-8"))
    seed["inpjourconfig"]["is_auto_numbering_journo"] = True
    auto = Recording(Emulator(seed))
    upload_files([path], mappings, Options(), ledger_path=tmp_path / "b.sqlite", transport=auto)
    slips = [s for b in auto.bodies for s in b["slips"]]  # type: ignore[attr-defined]
    assert len(slips) == 3 and all("journo" not in s for s in slips)


def test_second_concurrent_run_is_refused(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    ledger = new_ledger(tmp_path / "l.sqlite", OCODE)
    with Ledger.open(ledger, ocode="tc09999001", lock=True), pytest.raises(LedgerLocked):
        run(write_csv(month()), mappings, Emulator(), ledger)


def test_plain_http_only_to_loopback() -> None:
    with pytest.raises(ConfigError, match="https"):
        FXClient("http://fx.example.com", "tc09999001", TOKEN)
    FXClient("http://127.0.0.1:1", "tc09999001", TOKEN).close()
    FXClient("https://fx.example.com", "tc09999001", TOKEN).close()


def test_connection_refused_is_retried_then_an_error(tmp_path: Path) -> None:
    calls = []

    def refuse(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ConnectError("refused", request=request)

    client = FXClient("http://127.0.0.1:1", "tc09999001", TOKEN, transport=httpx.MockTransport(refuse),
                      retry=RetryPolicy(attempts=3, sleep=lambda s: None))
    result = client.import_slips(b'{"slips": []}')
    assert result.outcome == "not_sent" and len(calls) == 3


def test_ambiguous_failures_are_not_retried() -> None:
    calls = []

    def lost(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        raise httpx.ReadTimeout("timed out", request=request)

    client = FXClient("http://127.0.0.1:1", "tc09999001", TOKEN, transport=httpx.MockTransport(lost),
                      retry=RetryPolicy(attempts=5, sleep=lambda s: None))
    assert client.import_slips(b"{}").outcome == "ambiguous" and len(calls) == 1
    five_hundred = FXClient("http://127.0.0.1:1", "tc09999001", TOKEN,
                            transport=httpx.MockTransport(lambda r: httpx.Response(500)))
    assert five_hundred.import_slips(b"{}").outcome == "ambiguous"


def test_history_json_lists_documents(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    ledger = new_ledger(tmp_path / "l.sqlite", OCODE)
    run(write_csv(month(2)), mappings, Emulator(), ledger)
    result = CliRunner().invoke(main, ["history", "--ledger", str(ledger), "-m", str(mappings), "--format", "json"])
    assert result.exit_code == 0
    docs = json.loads(result.stdout)
    assert [d["status"] for d in docs] == ["done", "done"]
    assert set(docs[0]) >= {"key", "status", "attempts", "last_message", "updated_at"}


def test_cli_upload_exit_codes(write_csv: WriteCsv, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    mappings = make_mappings(tmp_path / "m")
    path = write_csv(month(2))
    runner = CliRunner()
    dry = runner.invoke(main, ["upload", str(path), "-m", str(mappings), "--dry-run"])
    assert dry.exit_code == 0 and "送信対象 2 件" in dry.stdout
    monkeypatch.delenv("FX_API_TOKEN")
    no_token = runner.invoke(main, ["upload", str(path), "-m", str(mappings)])
    assert no_token.exit_code == 2 and "FX_API_TOKEN" in no_token.stderr
    bad = runner.invoke(main, ["upload", str(write_csv([sale(cr_amt="5")], name="bad.csv")), "-m", str(mappings)])
    assert bad.exit_code == 1 and "貸借が一致しません" in bad.stdout
