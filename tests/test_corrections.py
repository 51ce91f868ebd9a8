"""Corrections (赤黒訂正): edited and deleted documents after upload, against the emulator."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import make_mappings, sale, to_csv
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ledger_helpers import new_ledger

from converter.convert.pipeline import Options, convert
from converter.emulator.server import Emulator
from converter.ledger.ledger import Ledger
from converter.sync.plan import plan_documents
from converter.sync.upload import UploadReport, upload_files

WriteCsv = Callable[..., Path]


@pytest.fixture(autouse=True)
def token(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("FX_API_TOKEN", "emulator-token")


def up(path: Path, mappings: Path, emu: Emulator, ledger: Path, **kw: object) -> UploadReport:
    _, report = upload_files([path], mappings, Options(), ledger_path=ledger, transport=emu.transport(),
                             **kw)  # type: ignore[arg-type]
    return report


def chain(ledger: Path) -> dict[str, tuple[str, str, str]]:
    with Ledger.open(ledger, ocode="tc09999001", readonly=True) as book:
        return {r.key: (r.role, r.parent, r.status) for r in book.documents()}


def month() -> list[dict[str, str]]:
    return [sale("A", 11000, 1000, date="2026/10/01"), sale("B", 22000, 2000, date="2026/10/02"),
            sale("C", 33000, 3000, date="2026/10/03")]


def test_edited_document_is_reported_then_corrected(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    emu, ledger = Emulator(), new_ledger(tmp_path / "l.sqlite", "tc09999001")
    rows = month()
    up(write_csv(rows), mappings, emu, ledger)
    rows[1] = sale("B", 55000, 5000, date="2026/10/02", memo="単価訂正")
    edited = write_csv(rows, name="edited.csv")
    report = up(edited, mappings, emu, ledger)
    assert report.changed == ("売上|B",) and report.needs_attention and report.requests == 0

    fixed = up(edited, mappings, emu, ledger, corrections=True, correction_date=date(2026, 10, 31))
    assert fixed.corrected == ("売上|B",) and not fixed.needs_attention
    assert fixed.requests == 1  # reversal and new version travel in one request
    stored = emu.stored_slips()
    reversal, replacement = stored[-2]["slip"], stored[-1]["slip"]
    assert reversal["ymd_tr"] == "2026-10-31"
    assert [d["is_ocr_dc"] for d in reversal["detail"]] == [0, 1]  # debit and credit swapped
    assert all(d["rcj_slip"].startswith("取消:") for d in reversal["detail"])
    assert [d["amnt_tr"] for d in replacement["detail"]] == [55000, 55000]
    links = chain(ledger)
    assert links["売上|B|取消1"] == ("reversal", "売上|B", "done")
    assert links["売上|B|訂正1"] == ("replacement", "売上|B", "done")
    # Re-runs never reverse twice.
    again = up(edited, mappings, emu, ledger, corrections=True)
    assert again.requests == 0 and not again.needs_attention and len(emu.stored_slips()) == 5


def test_deleted_document_gets_a_reversal_only_once(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    emu, ledger = Emulator(), new_ledger(tmp_path / "l.sqlite", "tc09999001")
    up(write_csv(month()), mappings, emu, ledger)
    without_b = write_csv([r for r in month() if r["doc"] != "B"], name="b-gone.csv")
    listed = up(without_b, mappings, emu, ledger)
    assert listed.deleted == ("売上|B",) and listed.needs_attention
    fixed = up(without_b, mappings, emu, ledger, corrections=True)
    assert fixed.corrected == ("売上|B",) and fixed.requests == 1
    assert len(emu.stored_slips()) == 4
    again = up(without_b, mappings, emu, ledger, corrections=True)
    assert again.requests == 0 and not again.deleted and not again.needs_attention
    # Added back later: only the new version is sent (nothing left to reverse).
    back = up(write_csv(month(), name="back.csv"), mappings, emu, ledger, corrections=True)
    assert back.corrected == ("売上|B",) and len(emu.stored_slips()) == 5
    assert chain(ledger)["売上|B|訂正2"][0] == "replacement"


def test_deletion_only_within_the_exports_period_and_kinds(write_csv: WriteCsv, mappings: Path,
                                                            tmp_path: Path) -> None:
    emu, ledger = Emulator(), new_ledger(tmp_path / "l.sqlite", "tc09999001")
    rows = [*month(), sale("R", 5000, 0, kind="入金", dr="普通預金", dr_sub="みずほ銀行", cr="売掛金",
                           cr_tax="対象外", cr_dep="", cr_taxamt="", date="2026/10/02")]
    up(write_csv(rows), mappings, emu, ledger)
    only_first_days = write_csv([r for r in month() if r["doc"] in ("A", "B")], name="part.csv")
    report = up(only_first_days, mappings, emu, ledger, corrections=True)
    # C (10/03) is outside 10/01–10/02; R is an 入金, a kind this export does not carry.
    assert report.deleted == () and report.corrected == () and report.requests == 0


def test_history_shows_the_chain(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    import json

    from click.testing import CliRunner

    from converter.cli import main

    emu, ledger = Emulator(), new_ledger(tmp_path / "l.sqlite", "tc09999001")
    up(write_csv(month()), mappings, emu, ledger)
    up(write_csv([r for r in month() if r["doc"] != "B"], name="x.csv"), mappings, emu, ledger, corrections=True)
    result = CliRunner().invoke(main, ["history", "--ledger", str(ledger), "-m", str(mappings), "--format", "json"])
    docs = {d["key"]: d for d in json.loads(result.stdout)}
    reversal = docs["売上|B|取消1"]
    assert reversal["role"] == "reversal" and reversal["parent"] == "売上|B"
    assert reversal["journo_read"] > docs["売上|B"]["journo_read"]
    text = CliRunner().invoke(main, ["history", "--ledger", str(ledger), "-m", str(mappings)]).stdout
    assert "取消" in text


# --------------------------------------------------------------------------- property


def _same_verdicts_as_preview(path: Path, mappings: Path, ledger: Path) -> None:
    """preview plans without units for new documents: its verdicts must be the upload's."""
    conversion = convert([path], mappings)
    verdicts = ("to_send", "done_same", "changed", "deleted", "unknown", "correct")
    with Ledger.open(ledger, ocode="tc09999001", readonly=True) as book:
        for corrections in (False, True):
            full = plan_documents(conversion, book, corrections=corrections)
            light = plan_documents(conversion, book, corrections=corrections, verdicts_only=True)
            assert [getattr(light, v) for v in verdicts] == [getattr(full, v) for v in verdicts]
            assert set(light.sends) <= set(full.sends)
            # as preview plans: the documents the ledger has were asked for already, while converting
            known = book.known(conversion.documents["doc"].tolist())
            told = plan_documents(conversion, book, corrections=corrections, verdicts_only=True, known=known)
            assert [getattr(told, v) for v in verdicts] == [getattr(full, v) for v in verdicts]


def _net_of_bodies(emu: Emulator) -> dict[tuple[str, int], int]:
    """Signed net (debit +, credit -) per account × rate of what FX holds; zero nets left out."""
    net: Counter[tuple[str, int]] = Counter()
    for record in emu.stored_slips():
        for d in record["slip"]["detail"]:
            sign = 1 if d["is_ocr_dc"] == 1 else -1
            net[(d["cd_act"], int(d.get("cmtxrate", 0)))] += sign * d["amnt_tr"]
    return {k: v for k, v in net.items() if v}  # signs kept: a debit/credit inversion shows


def _net_of_rows(rows: list[dict[str, str]], mappings: Path) -> dict[tuple[str, int], int]:
    """The same nets computed from the source rows and the mapping YAML alone (not by convert())."""
    accounts = {a["account"]: a["cd_act"] for a in yaml.safe_load((mappings / "accounts.yaml").read_text("utf-8"))
                if "sub_account" not in a}
    rates = {t["tax"]: t.get("cmtxrate", 0) for t in yaml.safe_load((mappings / "tax.yaml").read_text("utf-8"))}
    net: Counter[tuple[str, int]] = Counter()
    for row in rows:
        for side, sign in (("dr", 1), ("cr", -1)):
            amount = int(row[f"{side}_amt"])
            net[(accounts[row[side]], rates.get(row.get(f"{side}_tax", ""), 0))] += sign * amount
    return {k: v for k, v in net.items() if v}


DOCS = [f"D{i}" for i in range(4)]
export_strategy = st.lists(  # each export: per document, absent or an amount choice
    st.fixed_dictionaries({d: st.sampled_from([None, 1100, 2200, 3300]) for d in DOCS}), min_size=1, max_size=4)


@pytest.mark.slow
@settings(max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(exports=export_strategy)
def test_net_posted_equals_the_latest_export(tmp_path_factory: pytest.TempPathFactory,
                                             exports: list[dict[str, int | None]]) -> None:
    """Any sequence of edits, deletions and re-adds: what FX holds nets to the latest export."""
    folder = tmp_path_factory.mktemp("net")
    mappings = make_mappings(folder / "m")
    emu, ledger = Emulator(), new_ledger(folder / "l.sqlite", "tc09999001")
    # Fixed documents on the first and last day keep every export's period (and kind) the same:
    # deletions are only inferred inside the period an export covers.
    anchors = [sale("FIRST", 110, 10, date="2026/10/01"), sale("LAST", 220, 20, date="2026/10/31")]
    for n, export in enumerate(exports):
        rows = anchors + [sale(d, amount, amount // 11, date="2026/10/02") for d, amount in export.items()
                           if amount is not None]
        path = folder / f"export{n}.csv"
        path.write_bytes(to_csv(rows).encode("cp932"))
        if ledger.exists():
            _same_verdicts_as_preview(path, mappings, ledger)
        up(path, mappings, emu, ledger, corrections=True)
        assert _net_of_bodies(emu) == _net_of_rows(rows, mappings)
    assert max(emu.count_by_journo_read().values()) == 1


def test_review_workbook_lists_changes_on_a_correction_sheet(write_csv: WriteCsv, mappings: Path,
                                                              tmp_path: Path) -> None:
    from click.testing import CliRunner
    from openpyxl import load_workbook

    from converter.cli import main

    emu, ledger = Emulator(), new_ledger(tmp_path / "l.sqlite", "tc09999001")
    rows = month()
    up(write_csv(rows), mappings, emu, ledger)
    rows[0] = sale("A", 12100, 1100, date="2026/10/01")
    edited = write_csv([r for r in rows if r["doc"] != "B"], name="edited.csv")
    result = CliRunner().invoke(main, ["preview", str(edited), "-m", str(mappings), "--ledger", str(ledger),
                                       "-o", str(tmp_path / "r.xlsx")])
    assert result.exit_code == 0, result.output
    assert "変更あり: 売上|A" in result.stdout and "削除あり: 売上|B" in result.stdout
    sheet = load_workbook(tmp_path / "r.xlsx")["訂正"]
    values = [[c.value for c in row] for row in sheet.iter_rows(min_row=2) if row[0].value]
    assert [(v[0], v[2]) for v in values if v[0] in ("変更あり", "削除あり")] == [("変更あり", "A"), ("削除あり", "B")]


def test_declared_period_finds_a_deletion_on_the_boundary_day(write_csv: WriteCsv, mappings: Path,
                                                               tmp_path: Path) -> None:
    """Deleting the month's last-day document leaves no date to infer the period from."""
    emu, ledger = Emulator(), new_ledger(tmp_path / "l.sqlite", "tc09999001")
    up(write_csv(month()), mappings, emu, ledger)
    without_c = write_csv([r for r in month() if r["doc"] != "C"], name="no-c.csv")  # C was on 10/03
    assert up(without_c, mappings, emu, ledger).deleted == ()
    declared = up(without_c, mappings, emu, ledger, period=(date(2026, 10, 1), date(2026, 10, 31)))
    assert declared.deleted == ("売上|C",)
    from click.testing import CliRunner

    from converter.cli import main

    bad = CliRunner().invoke(main, ["upload", str(without_c), "-m", str(mappings), "--ledger", str(ledger),
                                    "--dry-run", "--period", "2026-10-31:2026-10-01"])
    assert bad.exit_code == 2 and "--period" in bad.output
    dry = CliRunner().invoke(main, ["upload", str(without_c), "-m", str(mappings), "--ledger", str(ledger),
                                    "--dry-run", "--period", "2026-10-01:2026-10-31"])
    assert dry.exit_code == 1 and "削除あり: 売上|C" in dry.stdout


def test_preview_makes_content_hashes_only_when_the_default_ledger_exists(
    write_csv: WriteCsv, mappings: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A company's first preview has no ledger to compare with: the hashes would be thrown away."""
    from click.testing import CliRunner

    from converter.cli import main
    from converter.convert import pipeline
    from converter.ledger.ledger import default_ledger_path

    made: list[int] = []
    real = pipeline.content_hashes
    def counting(rows: pd.DataFrame) -> pd.DataFrame:
        made.append(len(rows))
        return real(rows)

    monkeypatch.setattr(pipeline, "content_hashes", counting)
    rows = month()
    first = CliRunner().invoke(main, ["preview", str(write_csv(rows)), "-m", str(mappings)])
    assert first.exit_code == 0, first.output
    assert made == []

    up(write_csv(rows), mappings, Emulator(), new_ledger(default_ledger_path(mappings, "tc09999001"), "tc09999001"))
    made.clear()
    rows[0] = sale("A", 12100, 1100, date="2026/10/01")
    rows.append(sale("D", 44000, 4000, date="2026/10/04"))  # new to the ledger: nothing to compare its hash with
    again = CliRunner().invoke(main, ["preview", str(write_csv(rows, name="edited.csv")), "-m", str(mappings)])
    assert again.exit_code == 0, again.output
    assert made == [3] and "変更あり: 売上|A" in again.stdout
