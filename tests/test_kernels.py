"""The convert stage's fast paths (converter/convert/_kernels.py) answer what their general fallbacks
answer, and the key helpers of converter/keys.py build and parse keys consistently."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from converter import keys
from converter.convert import _kernels
from converter.convert.hashing import HASH_FIELDS, content_hashes
from converter.fx_rules import CREDIT, DEBIT


def _lines(docs: list[str], sides: list[int], amounts: list[int], parts: list[int] | None = None) -> pd.DataFrame:
    parts = parts or [0] * len(docs)
    return pd.DataFrame({
        "doc": docs, "kind": [d.split("|")[0] for d in docs], "doc_no": [d.split("|")[1] for d in docs],
        "date": "2026-10-01", "side": sides, "amount": amounts, "part": parts,
        "slip_key": [keys.slip_key(d, p) for d, p in zip(docs, parts, strict=True)],
        "_file": "a.csv", "_row": range(2, 2 + len(docs)),
    })


_line = st.tuples(st.sampled_from(["売上|1", "売上|2", "入金|1"]), st.sampled_from([DEBIT, CREDIT]),
                  st.integers(-5, 5), st.sampled_from([0, 0, 1]))


@given(st.lists(_line, max_size=15))
@settings(max_examples=150, deadline=None)
def test_slip_balances_by_code_agree_with_the_grouping_by_key(drawn: list[tuple[str, int, int, int]]) -> None:
    """The fast path (codes of neighbouring slip keys) and the fallback (grouping by key text, taken
    when a line has no slip key) give every slip's first line, debit and balance alike."""
    drawn = sorted(drawn, key=lambda t: (t[0], t[3]))  # a slip's lines sit together, as number_slips lays them
    lines = _lines([d for d, *_ in drawn], [s for _, s, _, _ in drawn], [a for *_, a, _ in drawn],
                   [p for *_, p in drawn])
    fast = _kernels.slip_balances(lines)
    with_gap = pd.concat([lines, lines.iloc[:0].reindex([0])], ignore_index=True)  # one line outside any slip
    slow = _kernels.slip_balances(with_gap)
    assert with_gap["slip_key"].hasnans
    assert fast.to_dict("list") == slow.astype("int64").to_dict("list")
    expected: dict[str, tuple[int, int, int]] = {}
    for i, (doc, side, amount, part) in enumerate(drawn):
        first, debit, balance = expected.get(keys.slip_key(doc, part), (i, 0, 0))
        expected[keys.slip_key(doc, part)] = (first, debit + amount * (side == DEBIT),
                                              balance + (amount if side == DEBIT else -amount))
    assert [tuple(r) for r in fast.itertuples(index=False, name=None)] == list(expected.values())


def test_slip_balances_fallback_is_not_quadratic() -> None:
    """20,000 unbalanced slips and one line outside any slip: one grouping, not a search per slip."""
    n = 20_000
    lines = _lines([f"売上|{i}" for i in range(n)], [DEBIT] * n, [1] * n)
    lines.loc[n // 2, "slip_key"] = np.nan
    import time

    start = time.perf_counter()
    slips = _kernels.slip_balances(lines)
    assert time.perf_counter() - start < 5  # the search per slip took over a minute here
    assert len(slips) == n - 1 and (slips["balance"] == 1).all()


def test_document_totals_agree_with_the_grouping() -> None:
    lines = _lines(["売上|1", "売上|1", "売上|2", "売上|2", "入金|1"], [DEBIT, CREDIT, DEBIT, CREDIT, DEBIT],
                   [10, 10, 7, 3, 5], [0, 0, 0, 1, 0])
    fast = _kernels.document_totals(lines)
    slow = _kernels._document_totals_grouped(lines)
    assert fast.to_dict("list") == slow.to_dict("list")
    assert fast[["doc", "debit", "credit", "lines", "slips"]].values.tolist() == [
        ["売上|1", 10, 10, 2, 1], ["売上|2", 7, 3, 2, 2], ["入金|1", 5, 0, 1, 1]]


def _rows(docs: list[str], memos: list[object]) -> pd.DataFrame:
    frame = pd.DataFrame({name: "" for name in HASH_FIELDS}, index=range(len(docs)))
    frame["dr_amount"] = pd.array([1000 + i for i in range(len(docs))], dtype="Int64")
    frame["cr_amount"] = pd.array([None] * len(docs), dtype="Int64")
    frame["doc"], frame["memo"] = docs, pd.Series(memos, dtype=object)
    return frame


@pytest.mark.parametrize("memos", [
    ["a", "b", "c", "d"],  # text: the fast path
    ["a", "b\x1dc", "c", "d"],  # a GS inside a field: document by document
    ["a", np.nan, "c", 5],  # not text: the exact, slower way
])
def test_content_hashes_are_the_documented_text(memos: list[object]) -> None:
    """sha256 of the rows in file order, fields joined by US and rows by RS, whichever path runs;
    documents whose rows are apart (B) are gathered."""
    rows = _rows(["A", "B", "A", "B"], memos)
    got = content_hashes(rows)

    def text(i: int) -> str:
        cells = rows.loc[i, list(HASH_FIELDS)]
        values: list[object] = list(cells)
        return "\x1f".join("" if v is None or v is pd.NA or (isinstance(v, float) and v != v) else str(v)
                            for v in values)

    expected = {doc: hashlib.sha256("\x1e".join(text(i) for i in at).encode()).hexdigest()
                for doc, at in (("A", [0, 2]), ("B", [1, 3]))}
    assert dict(zip(got["doc"], got["content_hash"], strict=True)) == expected
    assert got["doc"].tolist() == ["A", "B"]


def test_keys_build_and_parse_each_other() -> None:
    doc = keys.document_key("売上", "INV-1")
    assert doc == "売上|INV-1" and keys.dated_key("弥生", "12", "2026-10-02") == "弥生|12|2026-10-02"
    assert keys.slip_key(doc, 1) == "売上|INV-1#1" and keys.slip_document("売上|INV-1#1") == doc
    built: np.ndarray = keys.slip_keys(np.array([doc, "入金|2"], dtype=object), 0)
    assert built.tolist() == ["売上|INV-1#0", "入金|2#0"]
    docs: pd.Series = pd.Series([doc, doc])
    parts: pd.Series = pd.Series([0, 2])
    assert list(keys.slip_keys(docs, parts)) == ["売上|INV-1#0", "売上|INV-1#2"]
    fix = keys.correction_key(doc, "reversal", 2)
    assert fix == "売上|INV-1|取消2" and keys.correction_number(fix) == 2
    assert keys.parse(fix) == keys.KeyParts("売上", "INV-1", "", "取消2")
    assert keys.doc_no(fix) == "INV-1" and keys.doc_no("") == "" and keys.doc_no("全体") == "全体"
    assert keys.can_share_key(["売上", "a|b"]) and keys.can_share_key([None])
    assert not keys.can_share_key(["売上", "入金"])


@given(st.text(alphabet='a,"\r\n', max_size=40))
@settings(max_examples=300, deadline=None)
def test_field_counts_are_the_csv_modules(text: str) -> None:
    """The numpy count of fields per record is the csv module's wherever it answers (else it says it
    cannot be sure, and the csv module decides)."""
    import csv
    import io

    raw = text.encode()
    try:
        expected = [len(r) for r in csv.reader(io.StringIO(text, newline=""))]
    except csv.Error:
        return
    fast = _kernels.fast_field_counts(raw)
    if fast is not None:
        assert fast.tolist() == expected
    assert _kernels.field_counts(raw).tolist() == expected
