"""The conversion pipeline on small files: reading, mapping, every validation rule, grouping."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import openpyxl
import pandas as pd
import pytest
from conftest import HEADER, make_mappings, sale
from hypothesis import given, settings
from hypothesis import strategies as st

from converter.convert.documents import Filters
from converter.convert.pipeline import Conversion, Options, convert
from converter.errors import ConfigError, InputError
from converter.keys import Identity

WriteCsv = Callable[..., Path]


def run(path: Path | list[Path], mappings: Path, **options: object) -> Conversion:
    paths = path if isinstance(path, list) else [path]
    return convert(paths, mappings, Options(**options))  # type: ignore[arg-type]


def rules(result: Conversion) -> list[str]:
    return [p.rule for p in result.problems]


# --------------------------------------------------------------------------- reading


@pytest.mark.parametrize("encoding", ["cp932", "utf-8", "utf-8-sig"])
def test_encodings_are_detected(write_csv: WriteCsv, mappings: Path, encoding: str) -> None:
    result = run(write_csv([sale(cname="株式会社ソラリス")], encoding=encoding), mappings)
    assert result.ok, result.problems
    assert result.files[0].encoding in {"cp932", "utf-8", "utf-8 (BOM)"}
    assert result.lines["customer"].iloc[0] == "株式会社ソラリス"


def test_undecodable_file_names_the_encodings_tried(tmp_path: Path, mappings: Path) -> None:
    path = tmp_path / "garbage.csv"
    path.write_bytes(",".join(HEADER).encode("utf-8") + b"\r\n\xff\xfe\x80\x81\xfd,abc\r\n")
    with pytest.raises(InputError) as err:
        run(path, mappings)
    text = str(err.value)
    assert "garbage.csv" in text and "UTF-8" in text and "CP932" in text and "2行目" in text


@pytest.mark.parametrize("offset", [0, 1, 2, 3])
def test_encoding_is_told_past_the_probe_of_the_first_64kb(offset: int) -> None:
    """The first 64 KB rule CP932 out quickly; a character cut by the 64 KB mark, or a file whose
    first non-ASCII byte comes later, must still be decoded as what it is."""
    from converter.convert.read import _PROBE, decode

    ascii_head = "a" * (_PROBE - offset)
    utf8 = (ascii_head + "株式会社ソラリス,摘要\n").encode("utf-8")  # a 3-byte character crosses the cut
    assert decode(utf8, Path("u.csv"), "auto") == (ascii_head + "株式会社ソラリス,摘要\n", "utf-8")
    cp932 = (ascii_head + "株式会社ソラリス\n").encode("cp932")  # valid UTF-8 up to the cut, not after
    assert decode(cp932, Path("s.csv"), "auto") == (ascii_head + "株式会社ソラリス\n", "cp932")
    with pytest.raises(InputError, match="2行目"):
        decode(("x\n" + "a" * _PROBE).encode() + b"\xff\xfe\x80\x81\xfd", Path("g.csv"), "auto")


def test_ragged_rows_are_each_reported(tmp_path: Path, mappings: Path) -> None:
    good = "2026/10/01,売上,INV-1,,,C-001,,売掛金,,,対象外,1000,,売上高,,,課税売上10%,1000,90,x,"
    text = ",".join(HEADER) + "\n" + good + "\n" + good.replace("INV-1", "INV-2") + ",extra\n" + "2026/10/01,売上\n"
    path = tmp_path / "ragged.csv"
    path.write_bytes(text.encode("cp932"))
    result = run(path, mappings)
    ragged = [p for p in result.problems if p.rule == "ragged_row"]
    assert [(p.row, p.value) for p in ragged] == [(3, "22 列"), (4, "2 列")]
    assert not result.requests


def test_missing_required_column_names_it_and_the_profile(write_csv: WriteCsv, mappings: Path) -> None:
    header = [h for h in HEADER if h != "借方金額"]
    with pytest.raises(InputError) as err:
        run(write_csv([sale()], header=header), mappings)
    assert "借方金額" in str(err.value) and "jobcan.yaml" in str(err.value)


def test_optional_columns_may_be_absent(write_csv: WriteCsv, mappings: Path) -> None:
    header = [h for h in HEADER if h not in ("案件", "締切", "ステータス", "借方部門", "貸方部門")]
    result = run(write_csv([sale(cr_dep="")], header=header), mappings)
    assert result.ok, result.problems


def test_header_spelling_is_a_profile_setting(write_csv: WriteCsv, mappings: Path) -> None:
    """An alternative spelling listed in the profile (日付 for 取引日) is accepted."""
    path = write_csv([sale()])
    path.write_text(path.read_text("cp932").replace("取引日,", "日付,", 1), "cp932")
    result = run(path, mappings)
    assert result.ok, result.problems
    assert result.documents["date"].tolist() == ["2026-10-01"]


def test_xlsx_gives_the_same_bodies_as_csv(write_csv: WriteCsv, mappings: Path, tmp_path: Path) -> None:
    rows = [sale("INV-1"), sale("INV-2", 5500, 500, cr_tax="課税売上10%", date="2026/10/02")]
    csv_result = run(write_csv(rows), mappings)
    book = openpyxl.Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.append(HEADER)
    frame = pd.read_csv(write_csv(rows, name="x.csv"), encoding="cp932", dtype=str, keep_default_na=False)
    for record in frame.to_dict("records"):
        cells: list[object] = []
        for h in HEADER:
            value = record[h]
            if h == "取引日":
                cells.append(pd.Timestamp(value.replace("/", "-")).to_pydatetime())
            elif h.endswith("金額") or h.endswith("消費税額"):
                cells.append(int(value) if value else None)
            else:
                cells.append(value or None)
        sheet.append(cells)
    xlsx = tmp_path / "in.xlsx"
    book.save(xlsx)
    xlsx_result = run(xlsx, mappings)
    assert xlsx_result.ok, xlsx_result.problems
    assert [r.body for r in xlsx_result.requests] == [r.body for r in csv_result.requests]


def test_xlsx_missing_sheet_is_named(tmp_path: Path, mappings: Path) -> None:
    book = openpyxl.Workbook()
    book.save(tmp_path / "a.xlsx")
    with pytest.raises(InputError, match="シート 'nope' がありません"):
        run(tmp_path / "a.xlsx", mappings, sheet="nope")


def test_missing_input_file(tmp_path: Path, mappings: Path) -> None:
    with pytest.raises(InputError, match="ファイルがありません"):
        run(tmp_path / "nope.csv", mappings)


# --------------------------------------------------------------------------- mapping


def test_mapping_files_report_every_problem_at_once(tmp_path: Path) -> None:
    folder = make_mappings(tmp_path / "m")
    (folder / "accounts.yaml").write_text(
        '- {account: 売上高, cd_act: "4111"}\n'
        "- {account: 売上高, cd_act: \"4112\"}\n"
        "- {account: 現金, cd_act: 1111}\n"
        '- {account: 普通預金, cd_act: "1131", cd_auxact: "abc"}\n'
        '- {acount: 雑費, cd_act: "7421"}\n',
        "utf-8",
    )
    (folder / "departments.yaml").write_text('- {department: 営業部, cd_dep: 001}\n', "utf-8")
    with pytest.raises(ConfigError) as err:
        run(tmp_path / "unused.csv", folder)
    text = str(err.value)
    assert "accounts.yaml:2行" in text and "重複" in text
    assert "accounts.yaml:3行" in text and "引用符" in text
    assert "accounts.yaml:4行" in text and "cd_auxact" in text
    assert "accounts.yaml:5行" in text and "acount" in text
    assert "departments.yaml:1行" in text
    assert len(err.value.problems) == 6  # 5 above + the missing 'account' key of line 5


def test_duplicate_yaml_keys_and_bad_settings(tmp_path: Path) -> None:
    folder = make_mappings(tmp_path / "m")
    (folder / "settings.yaml").write_text(
        "ocode: a\nocode: b\ncd_coopsystem: EXX\ntoken: secret\nunmapped_customer: maybe\n", "utf-8"
    )
    with pytest.raises(ConfigError) as err:
        run(tmp_path / "unused.csv", folder)
    text = str(err.value)
    assert "settings.yaml" in text and "重複" in text and "cd_coopsystem" in text
    assert "FX_API_TOKEN" in text and "unmapped_customer" in text
    assert "secret" not in text


def test_sub_account_specific_then_generic(write_csv: WriteCsv, mappings: Path) -> None:
    rows = [
        sale("R-1", kind="入金", dr="普通預金", dr_sub="みずほ銀行", cr="売掛金", cr_tax="対象外", cr_dep="",
             cr_taxamt=""),
        sale("R-2", kind="入金", dr="普通預金", dr_sub="楽天銀行", cr="売掛金", cr_tax="対象外", cr_dep="",
             cr_taxamt=""),
    ]
    result = run(write_csv(rows), mappings)
    assert result.ok, result.problems
    debit = result.lines[result.lines["side"] == 1].set_index("doc_no")
    assert debit.loc["R-1", "cd_auxact"] == "01"
    assert debit.loc["R-2", "cd_auxact"] == ""  # generic entry: no 口座
    assert (debit["cd_act"] == "1131").all()


def test_distinct_keys_numbered_as_one_integer_or_as_tuples_agree() -> None:
    """The mapping stage looks tables up per distinct key; the tuple fallback (for keys too varied to
    number) must give the same codes and keys, NA included."""
    from converter.convert.mapping import distinct, distinct_tuples

    frame = pd.DataFrame({"account": ["売上高", "普通預金", "売上高", None, "普通預金", None],
                          "sub_account": ["", "みずほ", "", "", "みずほ", ""],
                          "customer": ["A社", None, "A社", "B社", None, "B社"]})
    codes, keys = distinct(frame, ["account", "sub_account", "customer"])
    tuple_codes, tuple_keys = distinct_tuples(frame[["account", "sub_account", "customer"]])
    assert codes.tolist() == tuple_codes.tolist() == [0, 1, 0, 2, 1, 2]
    pd.testing.assert_frame_equal(keys, tuple_keys, check_dtype=False)
    assert keys.take(codes).reset_index(drop=True).equals(frame)


def test_unmapped_values_name_value_table_and_rows(write_csv: WriteCsv, mappings: Path) -> None:
    rows = [sale("A", cr="広告宣伝費"), sale("B", cr="広告宣伝費"), sale("C", cr_tax="謎の税"),
            sale("D", cr_dep="開発部"), sale("E", ccode="C-999")]
    result = run(write_csv(rows), mappings)
    by_value = {p.value: p for p in result.problems if p.rule == "unmapped"}
    assert set(by_value) == {"広告宣伝費", "謎の税", "開発部", "C-999"}
    assert "accounts.yaml" in by_value["広告宣伝費"].message and "2 行: 2, 3" in by_value["広告宣伝費"].message
    assert "tax.yaml" in by_value["謎の税"].message
    assert "departments.yaml" in by_value["開発部"].message
    assert "customer_code: C-999" in by_value["C-999"].message
    assert {u.table: u.count for u in result.unmapped}["accounts"] == 2
    assert not result.requests


def test_unknown_customer_goes_by_name_or_is_an_error(write_csv: WriteCsv, tmp_path: Path) -> None:
    rows = [sale(ccode="", cname="随時商店")]
    lenient = run(write_csv(rows), make_mappings(tmp_path / "a"))
    assert lenient.ok
    assert set(lenient.lines["nm_cstm"]) == {"随時商店"}
    strict = run(write_csv(rows), make_mappings(tmp_path / "b", unmapped_customer="error"))
    assert rules(strict) == ["unmapped"]


# --------------------------------------------------------------------------- rules


@pytest.mark.parametrize(
    ("row", "rule", "column"),
    [
        (sale(date="2026/13/40"), "date", "取引日"),
        (sale(date=""), "required", "取引日"),
        (sale(dr_amt="abc"), "amount", "借方金額"),
        (sale(cr_amt="100.5"), "amount", "貸方金額"),
        (sale(dr_amt="100000000000", cr_amt="100000000000"), "amount", "借方金額"),
        (sale(cr_amt="109999"), "balance", "帳票番号"),
        (sale(ccode="", cname="あ" * 21), "nm_cstm_width", "取引先名 → nm_cstm"),
        (sale(memo="あ" * 41), "rcj_slip_width", "摘要 → rcj_slip"),
        (sale(doc=""), "required", "帳票番号"),
        (sale(dr="", cr=""), "empty_row", "借方勘定科目"),
        (sale(dr="", dr_amt="500"), "account_required", "借方勘定科目"),
        (sale(cr_amt=""), "required", "貸方金額"),
    ],
)
def test_each_rule_reports_file_row_column_value(
    write_csv: WriteCsv, mappings: Path, row: dict[str, str], rule: str, column: str
) -> None:
    ok = sale("OK-1")
    result = run(write_csv([ok, row]), mappings)
    assert rule in rules(result), result.problems
    problem = next(p for p in result.problems if p.rule == rule)
    assert problem.file.endswith("in.csv")
    assert problem.row == 3  # header = row 1, the good row = 2
    assert problem.column == column
    assert problem.message
    assert not result.requests


def test_width_counts_full_width_as_two(write_csv: WriteCsv, mappings: Path) -> None:
    exactly = run(write_csv([sale(memo="あ" * 40), sale("B", memo="a" * 80), sale("C", memo="ｱ" * 80)]), mappings)
    assert exactly.ok, exactly.problems
    over = run(write_csv([sale(memo="あ" * 40 + "a")]), mappings)
    assert rules(over) == ["rcj_slip_width"]


def test_truncate_memo_cuts_and_lists_each_cut(write_csv: WriteCsv, mappings: Path) -> None:
    result = run(write_csv([sale(memo="い" * 45)]), mappings, truncate_memo=True)
    assert result.ok
    assert result.lines["rcj_slip"].iloc[0] == "い" * 40
    assert [n.rule for n in result.notices] == ["memo_truncated", "memo_truncated"]  # both lines
    assert result.lines["memo"].iloc[0] == "い" * 45  # the source memo is kept for the review


def test_period_over_one_year(write_csv: WriteCsv, mappings: Path) -> None:
    inside = run(write_csv([sale(date="2026/01/01"), sale("B", date="2026/12/31")]), mappings)
    assert inside.ok
    over = run(write_csv([sale(date="2026/01/01"), sale("B", date="2027/01/01")]), mappings)
    assert rules(over) == ["period"]
    assert over.problems[0].row == 3


def test_schema_rules_on_codes_fire(write_csv: WriteCsv, mappings: Path) -> None:
    """Codes come from checked tables, so the schema's code rules are exercised directly."""
    from converter.convert.validate import validate_lines

    result = run(write_csv([sale()]), mappings)
    lines = result.lines.copy()
    lines.loc[0, "cd_act"] = "41111"
    lines.loc[1, "cd_dep"] = "01"
    lines.loc[1, "cd_cstm"] = "12345"
    lines.loc[0, "cd_auxact"] = "a1"
    lines.loc[1, "tptn"] = "123"
    lines.loc[1, "cmtxrate"] = 10000
    lines.loc[0, "pos_dsp"] = 61
    lines.loc[0, "tax_amount"] = 100_000_000_000
    found = {p.rule for p in validate_lines(lines, result.profile)}
    assert found == {"cd_act_format", "cd_dep_format", "cd_cstm_format", "cd_auxact_format",
                     "tptn_format", "cmtxrate_range", "pos_dsp_range", "amnt_cmtx_range"}


# --------------------------------------------------------------------------- grouping


def test_compound_slip_from_one_sided_rows(write_csv: WriteCsv, mappings: Path) -> None:
    rows = [
        {"date": "2026/10/02", "kind": "入金", "doc": "R-1", "cname": "A商店", "dr": "普通預金",
         "dr_sub": "みずほ銀行", "dr_amt": "108900"},
        {"date": "2026/10/02", "kind": "入金", "doc": "R-1", "cname": "A商店", "dr": "支払手数料",
         "dr_tax": "課税仕入10%", "dr_amt": "1100", "dr_taxamt": "100"},
        {"date": "2026/10/02", "kind": "入金", "doc": "R-1", "cname": "A商店", "cr": "諸口", "dr": "",
         "dr_amt": "", "cr_amt": ""},
        {"date": "2026/10/02", "kind": "入金", "doc": "R-1", "cname": "A商店", "cr": "売掛金",
         "cr_amt": "110000"},
    ]
    rows[2] = {"date": "2026/10/02", "kind": "入金", "doc": "R-1", "dr": "諸口", "cr": "売掛金", "cr_amt": "0"}
    result = run(write_csv(rows), mappings)
    assert result.ok, result.problems
    (request,) = result.requests
    (slip,) = request.body["slips"]
    assert [(d["is_ocr_dc"], d["pos_dsp"], d["amnt_tr"]) for d in slip["detail"]] == [
        (1, 1, 108900), (1, 2, 1100), (0, 1, 0), (0, 2, 110000)]


def test_zero_yen_documents_are_skipped_and_listed(write_csv: WriteCsv, mappings: Path) -> None:
    result = run(write_csv([sale("Z", amount=0, tax=0), sale("A")]), mappings)
    assert result.ok
    assert list(result.skipped["doc_no"]) == ["Z"]
    assert result.skipped["reason"].iloc[0].startswith("0円")
    assert result.summary()["documents"] == 1


def test_filters_skip_whole_documents_with_reasons(write_csv: WriteCsv, mappings: Path) -> None:
    rows = [sale("S1"), sale("S2", status="破棄"), sale("R1", kind="入金", closed="締切済"),
            sale("R2", kind="入金")]
    result = run(write_csv(rows), mappings,
                 filters=Filters(kinds=("入金",), closed_only=True, exclude_status=("破棄",)))
    assert list(result.documents["doc_no"]) == ["R1"]
    reasons = dict(zip(result.skipped["doc_no"], result.skipped["reason"], strict=True))
    assert "--kinds" in reasons["S1"] and "--kinds" in reasons["S2"]
    assert "--closed-only" in reasons["R2"]
    only_status = run(write_csv(rows), mappings, filters=Filters(exclude_status=("破棄",)))
    assert "破棄" in dict(zip(only_status.skipped["doc_no"], only_status.skipped["reason"], strict=True))["S2"]


def test_more_than_sixty_lines_split_at_balanced_boundaries(write_csv: WriteCsv, mappings: Path) -> None:
    rows = [sale("BIG", amount=1000 + i, tax=0, cr_tax="対象外") for i in range(65)]
    result = run(write_csv(rows), mappings)
    assert result.ok, result.problems
    slips = [s for r in result.requests for s in r.body["slips"]]
    assert len(slips) == 2
    assert [len(s["detail"]) for s in slips] == [120, 10]
    for slip in slips:
        debit = sum(d["amnt_tr"] for d in slip["detail"] if d["is_ocr_dc"] == 1)
        credit = sum(d["amnt_tr"] for d in slip["detail"] if d["is_ocr_dc"] == 0)
        assert debit == credit
        assert max(d["pos_dsp"] for d in slip["detail"]) <= 60
    assert len({s["journo_read"] for s in slips}) == 1  # both trace back to the one document


def test_unsplittable_big_side_is_reported(write_csv: WriteCsv, mappings: Path) -> None:
    rows = [{"date": "2026/10/01", "kind": "仕入", "doc": "P", "dr": "仕入高", "dr_amt": "100"}
            for _ in range(61)]
    rows.append({"date": "2026/10/01", "kind": "仕入", "doc": "P", "cr": "買掛金", "cr_amt": "6100"})
    result = run(write_csv(rows), mappings)
    assert "pos_dsp" in rules(result)


def test_requests_hold_at_most_2000_lines_and_never_split_a_document(
    write_csv: WriteCsv, mappings: Path
) -> None:
    # 17 documents of 60 rows → 120 lines each: 16 fit in 1920 lines, the 17th opens request 2.
    rows = [sale(f"D{d:02d}", amount=100 + i, tax=0, cr_tax="対象外") for d in range(17) for i in range(60)]
    result = run(write_csv(rows), mappings)
    assert result.ok, result.problems
    sizes = [r.lines for r in result.requests]
    assert sizes == [1920, 120]
    assert all(sum(len(s["detail"]) for s in r.body["slips"]) == r.lines for r in result.requests)
    seen: dict[str, int] = {}
    for r in result.requests:
        for doc in r.docs:
            assert doc not in seen
            seen[doc] = r.number


def test_journo_read_is_stable_and_continues_the_ledger(write_csv: WriteCsv, mappings: Path) -> None:
    path = write_csv([sale("B", date="2026/10/02"), sale("A")])
    first = convert([path], mappings)
    ids = dict(zip(first.documents["doc_no"], first.documents["journo_read"], strict=True))
    assert ids == {"A": 1, "B": 2}  # document order (date, kind, number), not file order
    known = {first.documents["doc"].iloc[1]: 7}
    again = convert([path], mappings, known_ids=known, next_id=8)
    assert dict(zip(again.documents["doc_no"], again.documents["journo_read"], strict=True)) == {"A": 8, "B": 7}


def test_body_fields_follow_the_reference(write_csv: WriteCsv, mappings: Path) -> None:
    result = run(write_csv([sale(cr_tax="課税売上8%(軽減)", amount=10800, tax=800)]), mappings)
    (slip,) = result.requests[0].body["slips"]
    assert slip["ymd_tr"] == "2026-10-01" and slip["cd_coopsystem"] == "EX"
    assert slip["journo_read"] == "1" and "journo" not in slip
    debit, credit = slip["detail"]
    assert debit == {"pos_dsp": 1, "is_ocr_dc": 1, "cd_act": "1161", "cd_cstm": "000001", "tptn": "0",
                     "amnt_tr": 10800, "rcj_slip": "10月分"}
    assert credit == {"pos_dsp": 1, "is_ocr_dc": 0, "cd_dep": "001", "cd_act": "4111", "cd_cstm": "000001",
                      "tptn": "1", "amnt_tr": 10800, "amnt_cmtx": 800, "is_reduce_cmtxrate": 1,
                      "cmtxrate": 800, "rcj_slip": "10月分"}


def test_same_document_in_two_files_is_a_problem(write_csv: WriteCsv, mappings: Path) -> None:
    """Giving the month's CSV and its XLSX together must not double every document."""
    a = write_csv([sale("A"), sale("B")], name="a.csv")
    b = write_csv([sale("B"), sale("C")], name="b.csv")
    result = run([a, b], mappings)
    (problem,) = result.problems
    assert problem.rule == "duplicate_document" and problem.value == "B"
    assert "a.csv" in problem.message and "b.csv" in problem.message
    assert not result.requests


def _triples(kinds: list[str | None], numbers: list[str | None], dates: list[str | None]) -> st.SearchStrategy[
        list[tuple[str | None, str | None, str | None]]]:
    return st.lists(st.tuples(st.sampled_from(kinds), st.sampled_from(numbers), st.sampled_from(dates)), max_size=12)


@given(st.one_of(
    # what exports hold: the parts are numbered apart
    _triples(["売上", "入金", "a"], ["S-1", "c", "b|c", "S-1 "], ["2026-10-01", "2026-10-02", ""]),
    # a "|" inside a kind, or a missing part: the key text decides
    _triples(["売上", "入金", "a|b", "a", None], ["S-1", "c", "b|c", None], ["2026-10-01", "", None]),
))
@settings(max_examples=200, deadline=None)
@pytest.mark.parametrize("identity", ["kind_no", "kind_no_date"])
def test_document_codes_agree_with_the_key_text(identity: Identity,
                                                parts: list[tuple[str | None, str | None, str | None]]) -> None:
    """Documents are numbered from kind, number (and date) apart; the numbering must be the key
    text's (kind|doc_no, or kind|doc_no|date), also where a "|" inside a part makes two share a key."""
    from converter.convert._kernels import document_keys_and_codes
    from converter.convert.documents import row_documents

    rows = pd.DataFrame(parts, columns=["kind", "doc_no", "date"], dtype=object).astype("str")
    rows = rows.mask(pd.DataFrame(parts, columns=["kind", "doc_no", "date"]).isna())
    keys, codes = document_keys_and_codes(rows, identity)
    expected = rows["kind"] + "|" + rows["doc_no"] + ("|" + rows["date"] if identity == "kind_no_date" else "")
    assert keys.fillna("<NA>").tolist() == expected.fillna("<NA>").tolist()
    assert codes.tolist() == pd.factorize(expected, use_na_sentinel=False)[0].tolist()
    got, heads = row_documents(rows.assign(doc=keys, _doc=codes))
    assert got.tolist() == codes.tolist()
    assert heads.tolist() == sorted({k: i for i, k in reversed(list(enumerate(codes.tolist())))}.values())


def test_hashing_only_some_documents_gives_them_the_hashes_of_hashing_all(write_csv: Callable[..., Path],
                                                                         mappings: Path) -> None:
    """preview hashes only what its ledger has (Options._hash_only, internal); those hashes must not change."""
    path = write_csv([sale("A"), sale("B", 5500, 500), sale("B", 6600, 600, memo="2行目"), sale("C"),
                      sale("D", date="2026/10/02")])
    every = convert([path], mappings).documents.set_index("doc")["content_hash"]
    some = convert([path], mappings, Options(_hash_only=lambda keys: keys.str.contains("B|D").to_numpy()))
    chosen = some.documents.set_index("doc")["content_hash"]
    assert chosen.dropna().to_dict() == {k: v for k, v in every.items() if "B" in str(k) or "D" in str(k)}
    assert len(chosen.dropna()) == 2 and chosen.isna().sum() == 2
    none = convert([path], mappings, Options(_hash_only=lambda keys: (keys != keys).to_numpy()))
    assert none.ok and none.documents["content_hash"].isna().all()


def test_detail_lines_have_the_documented_columns(write_csv: Callable[..., Path], mappings: Path) -> None:
    """convert/columns.py is the one list of Conversion.lines' columns: in order, with the two the
    masters check adds only when there is a master cache."""
    import json

    from converter.convert.columns import LINE_COLUMNS
    from converter.emulator.masters import load_seed
    from converter.fx.masters import cache_path

    path = write_csv([sale("A"), sale("B", 5500, 500)])
    plain = convert([path], mappings, Options(use_masters=False))
    assert list(plain.lines.columns) == [c.name for c in LINE_COLUMNS if not c.optional]
    cache = cache_path(mappings, plain.settings.ocode)
    cache.parent.mkdir(exist_ok=True)
    cache.write_text(json.dumps({"format": 1, "ocode": plain.settings.ocode, "locale": "tfa",
                                 "fetched_at": "2026-11-02T09:00:00+00:00", **load_seed(None)}), "utf-8")
    checked = convert([path], mappings)
    assert checked.unchecked is None
    assert list(checked.lines.columns) == [c.name for c in LINE_COLUMNS]
