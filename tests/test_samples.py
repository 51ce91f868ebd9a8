"""The bundled samples: golden request bodies, totals against the source, the broken file.

Regenerate the golden files after an intended change with ``UPDATE_GOLDEN=1 scripts/test
tests/test_samples.py`` and review the diff.
"""

from __future__ import annotations

import json
import os
import unicodedata
from collections import Counter
from pathlib import Path

import pandas as pd
import pytest
import yaml
from conftest import MAPPINGS, ROOT, SAMPLES

from converter.convert.pipeline import Options, convert
from converter.errors import InputError

GOLDEN = ROOT / "tests" / "golden"
GOOD = {
    "jobcan-2026-10.csv": "jobcan",
    "jobcan-2026-10.xlsx": "jobcan",
    "yayoi-2026-10.csv": "yayoi",
}


def bodies(name: str) -> list[dict[str, object]]:
    result = convert([SAMPLES / name], MAPPINGS, Options(profile=GOOD[name]))
    assert result.ok, result.problems[:5]
    return [r.body for r in result.requests]


@pytest.mark.parametrize("name", sorted(GOOD))
def test_bodies_match_golden(name: str) -> None:
    golden = GOLDEN / (Path(name).stem + ".json")
    if name.endswith(".xlsx"):
        golden = GOLDEN / "jobcan-2026-10.json"  # the xlsx must give exactly the csv's bodies
    actual = bodies(name)
    if os.environ.get("UPDATE_GOLDEN") and not name.endswith(".xlsx"):
        golden.parent.mkdir(exist_ok=True)
        golden.write_text(json.dumps(actual, ensure_ascii=False, indent=1) + "\n", "utf-8")
    assert actual == json.loads(golden.read_text("utf-8"))


def _amount(text: str) -> int:
    """An independent, plain reading of the sample's amount texts."""
    t = unicodedata.normalize("NFKC", text).replace(",", "").strip()
    if not t:
        return 0
    if t.startswith(("▲", "△")) or (t.startswith("(") and t.endswith(")")):
        return -int(t.strip("▲△()"))
    return int(t)


def _source_totals(path: Path, header: bool) -> tuple[Counter[tuple[str, int]], Counter[tuple[str, int]]]:
    """Σ amount by (cd_act, side) and by (tax text → cmtxrate, side), from the raw file."""
    accounts = yaml.safe_load((MAPPINGS / "accounts.yaml").read_text("utf-8"))
    taxes = yaml.safe_load((MAPPINGS / "tax.yaml").read_text("utf-8"))
    code = {(a["account"], a.get("sub_account", "")): a["cd_act"] for a in accounts}
    rate = {t["tax"]: t.get("cmtxrate", 0) for t in taxes}
    frame = pd.read_csv(path, encoding="cp932", dtype=str, keep_default_na=False,
                        header=0 if header else None)
    if not header:  # yayoi positions → jobcan names
        frame = frame.rename(columns={4: "借方勘定科目", 5: "借方補助科目", 7: "借方税区分", 8: "借方金額",
                                      10: "貸方勘定科目", 11: "貸方補助科目", 13: "貸方税区分", 14: "貸方金額"})
    by_account: Counter[tuple[str, int]] = Counter()
    by_rate: Counter[tuple[str, int]] = Counter()
    for record in frame.to_dict("records"):
        for prefix, side in (("借方", 1), ("貸方", 0)):
            account = record[prefix + "勘定科目"].strip()
            if not account or account == "諸口":
                continue
            amount = _amount(record[prefix + "金額"])
            cd = code.get((account, record[prefix + "補助科目"].strip()), code.get((account, "")))
            by_account[(str(cd), side)] += amount
            by_rate[(str(rate.get(record[prefix + "税区分"].strip(), 0) or 0), side)] += amount
    return by_account, by_rate


def _body_totals(body_list: list[dict[str, object]]) -> tuple[Counter[tuple[str, int]], Counter[tuple[str, int]]]:
    by_account: Counter[tuple[str, int]] = Counter()
    by_rate: Counter[tuple[str, int]] = Counter()
    for body in body_list:
        for slip in body["slips"]:  # type: ignore[attr-defined]
            for d in slip["detail"]:
                by_account[(d["cd_act"], d["is_ocr_dc"])] += d["amnt_tr"]
                by_rate[(str(d.get("cmtxrate", 0)), d["is_ocr_dc"])] += d["amnt_tr"]
    return by_account, by_rate


@pytest.mark.parametrize(("name", "header"), [("jobcan-2026-10.csv", True), ("yayoi-2026-10.csv", False)])
def test_body_totals_equal_source_totals_by_account_and_rate(name: str, header: bool) -> None:
    source_accounts, source_rates = _source_totals(SAMPLES / name, header)
    body_accounts, body_rates = _body_totals(bodies(name))
    drop_zero = lambda c: {k: v for k, v in c.items() if v}  # noqa: E731 — 0円 documents are skipped
    assert drop_zero(body_accounts) == drop_zero(source_accounts)
    assert drop_zero(body_rates) == drop_zero(source_rates)


def _line_key(cd_act: str, cd_auxact: str, side: int, amount: int, tax_amount: int, cd_dep: str, cd_cstm: str,
              nm_cstm: str, tax: dict[str, object], memo: str) -> tuple[object, ...]:
    return (cd_act, cd_auxact, side, amount, tax_amount, cd_dep, cd_cstm, nm_cstm, tax.get("tptn", ""),
            tax.get("tbptn", ""), tax.get("cmtxrate", 0), tax.get("is_reduce_cmtxrate", 0), tax.get("cat_purday"), memo)


def _source_lines(path: Path, header: bool) -> Counter[tuple[object, ...]]:
    """Every detail line the source rows and the mapping YAML call for, worked out without the
    converter: account, 口座, side, amount, 消費税額, 部門, 取引先 (code, or name only), tax fields, 摘要."""
    load = lambda table: yaml.safe_load((MAPPINGS / f"{table}.yaml").read_text("utf-8"))  # noqa: E731
    accounts = {(a["account"], a.get("sub_account", "")): a for a in load("accounts")}
    taxes = {t["tax"]: t for t in load("tax")}
    departments = {d["department"]: d["cd_dep"] for d in load("departments")}
    by_code = {c["customer_code"]: c["cd_cstm"] for c in load("customers") if "customer_code" in c}
    by_name = {c["customer"]: c["cd_cstm"] for c in load("customers") if "customer_code" not in c}
    frame = pd.read_csv(path, encoding="cp932", dtype=str, keep_default_na=False, header=0 if header else None)
    if not header:  # yayoi positions → jobcan names (no 取引先 columns)
        frame = frame.rename(columns={1: "帳票番号", 3: "取引日", 4: "借方勘定科目", 5: "借方補助科目", 6: "借方部門",
                                      7: "借方税区分", 8: "借方金額", 9: "借方消費税額", 10: "貸方勘定科目",
                                      11: "貸方補助科目", 12: "貸方部門", 13: "貸方税区分", 14: "貸方金額",
                                      15: "貸方消費税額", 16: "摘要"})
        frame["取引種別"] = frame["取引先コード"] = frame["取引先名"] = ""
    document = frame["取引種別"] + "|" + frame["帳票番号"] + "|" + frame["取引日"]
    zero = {d for d, g in frame.groupby(document) if sum(_amount(a) for a in g["借方金額"]) == 0}  # 0円: skipped
    lines: Counter[tuple[object, ...]] = Counter()
    for doc, record in zip(document, frame.to_dict("records"), strict=True):
        if doc in zero:
            continue
        code, name = record["取引先コード"].strip(), record["取引先名"].strip()
        cd_cstm = by_code.get(code, "") if code else by_name.get(name, "")
        nm_cstm = name if not cd_cstm else ""  # unmapped_customer: name_only
        for prefix, side in (("借方", 1), ("貸方", 0)):
            account = record[prefix + "勘定科目"].strip()
            if not account or account == "諸口":
                continue
            entry = accounts.get((account, record[prefix + "補助科目"].strip())) or accounts[(account, "")]
            tax = taxes.get(record[prefix + "税区分"].strip(), {})
            lines[_line_key(entry["cd_act"], entry.get("cd_auxact", ""), side, _amount(record[prefix + "金額"]),
                            _amount(record[prefix + "消費税額"]), departments.get(record[prefix + "部門"].strip(), ""),
                            cd_cstm, nm_cstm, tax, record["摘要"])] += 1
    return lines


def _body_lines(body_list: list[dict[str, object]]) -> Counter[tuple[object, ...]]:
    lines: Counter[tuple[object, ...]] = Counter()
    for body in body_list:
        for slip in body["slips"]:  # type: ignore[attr-defined]
            for d in slip["detail"]:
                key = _line_key(d["cd_act"], d.get("cd_auxact", ""), d["is_ocr_dc"], d["amnt_tr"],
                                d.get("amnt_cmtx", 0), d.get("cd_dep", ""), d.get("cd_cstm", ""),
                                d.get("nm_cstm", ""), d, d.get("rcj_slip", ""))
                lines[key] += 1
    return lines


@pytest.mark.parametrize(("name", "header"), [("jobcan-2026-10.csv", True), ("yayoi-2026-10.csv", False)])
def test_every_body_line_is_what_the_source_row_and_mappings_say(name: str, header: bool) -> None:
    """Per line, not only totals: amnt_cmtx, 部門, 取引先, tptn/rates and 摘要 from the raw file."""
    expected, actual = _source_lines(SAMPLES / name, header), _body_lines(bodies(name))
    assert actual == expected, (sorted(actual - expected)[:3], sorted(expected - actual)[:3])


def test_jobcan_sample_shape() -> None:
    result = convert([SAMPLES / "jobcan-2026-10.csv"], MAPPINGS)
    summary = result.summary()
    assert summary["documents"] == 359 and summary["slips"] == 360
    assert summary["skipped_zero_yen"] == 3
    assert summary["debit_total"] == summary["credit_total"]
    slips = [s for r in result.requests for s in r.body["slips"]]
    assert len(slips) == 360
    assert all(max(d["pos_dsp"] for d in s["detail"]) <= 60 for s in slips)
    # the formula-looking memo goes to FX exactly as written
    assert any(d.get("rcj_slip", "").startswith("=HYPERLINK(") for s in slips for d in s["detail"])


def test_broken_sample_reports_every_planted_problem() -> None:
    result = convert([SAMPLES / "broken-2026-10.csv"], MAPPINGS)
    found = {(p.row, p.rule) for p in result.problems}
    assert found == {
        (6, "unmapped"), (8, "unmapped"), (9, "unmapped"), (13, "date"), (14, "amount"), (15, "amount"),
        (18, "amount"), (19, "balance"), (21, "rcj_slip_width"), (22, "nm_cstm_width"), (23, "unmapped"),
        (27, "period"),
    }
    assert not result.requests


DATA = ROOT / "tests" / "data"


@pytest.mark.parametrize("name", ["utf8-bom.csv", "utf8-nobom.csv"])
def test_utf8_files(name: str) -> None:
    result = convert([DATA / name], MAPPINGS)
    assert result.ok, result.problems
    assert result.summary()["documents"] > 0


@pytest.mark.parametrize(
    ("name", "match"),
    [("latin1-garbage.bin.csv", "文字コード"), ("empty.csv", "空"), ("missing-column.csv", "借方金額")],
)
def test_unreadable_data_files(name: str, match: str) -> None:
    with pytest.raises(InputError, match=match):
        convert([DATA / name], MAPPINGS)


def test_header_only_file_is_an_empty_month() -> None:
    result = convert([DATA / "header-only.csv"], MAPPINGS)
    assert result.ok and result.summary()["documents"] == 0 and not result.requests


def test_ragged_data_file() -> None:
    result = convert([DATA / "ragged.csv"], MAPPINGS)
    assert any(p.rule == "ragged_row" for p in result.problems)


def test_normalise_data_file() -> None:
    result = convert([DATA / "normalise.csv"], MAPPINGS)
    assert result.ok, result.problems
    assert (result.documents["date"].str.fullmatch(r"\d{4}-\d{2}-\d{2}")).all()
    assert (result.lines["amount"] < 0).any()


def test_huge_memo_is_reported_not_crashed() -> None:
    result = convert([DATA / "huge-memo.csv"], MAPPINGS)
    assert [p.rule for p in result.problems] == ["rcj_slip_width"]
    cut = convert([DATA / "huge-memo.csv"], MAPPINGS, Options(truncate_memo=True))
    assert cut.ok and cut.notices


def test_formula_memos_are_sent_as_written() -> None:
    result = convert([DATA / "formula.csv"], MAPPINGS)
    assert result.ok, result.problems
    memos = set(result.lines["rcj_slip"])
    assert {"=SUM(A1)", "+1", "-1", "@x"} <= memos


def test_serial_dates_xlsx() -> None:
    result = convert([DATA / "serial-dates.xlsx"], MAPPINGS)
    assert result.ok, result.problems
    assert result.documents["date"].str.startswith("2026-10").all()


def test_yayoi_orphan_flags_are_reported() -> None:
    result = convert([DATA / "yayoi-bad-flags.csv"], MAPPINGS, Options(profile="yayoi"))
    assert [(p.row, p.value) for p in result.problems] == [(4, "2100")]
