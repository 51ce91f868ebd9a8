"""Detail lines: each row's debit and credit sides, numbered and cut into FX slips.

- A journal-style row is one debit/credit pair; a side that is empty (or 諸口) contributes
  nothing, so compound slips are written as several one-sided rows.
- ``pos_dsp`` numbers lines per side; a side with more than 60 lines is split into several
  slips at balanced boundaries where possible, otherwise reported.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from converter.config.settings import Profile
from converter.convert._kernels import document_codes
from converter.convert.columns import ROW_COLUMNS, SIDE_FIELDS
from converter.errors import Problem
from converter.fx_rules import CREDIT, DEBIT, MAX_LINES_PER_SIDE
from converter.keys import parse, slip_keys


def to_lines(rows: pd.DataFrame, profile: Profile, order: np.ndarray) -> tuple[pd.DataFrame, list[Problem]]:
    """Explode the rows at ``order`` (positions, in document order) into their debit and credit
    detail lines; the lines come out in that order, each row's debit line before its credit line."""
    chosen = np.zeros(len(rows), dtype=bool)
    chosen[order] = True
    problems: list[Problem] = []
    kept = []
    for prefix in ("dr_", "cr_"):
        account, amount = rows[prefix + "account"], rows[prefix + "amount"]
        empty_account = ((account == "") | account.isin(profile.sundry_accounts)).to_numpy()
        has_amount = (amount.fillna(0) != 0).to_numpy()
        hit = rows.loc[chosen & empty_account & has_amount, ["_file", "_row", prefix + "amount"]]
        for f, r, v in hit.itertuples(index=False, name=None):
            problems.append(Problem(f, int(r), profile.source_column(prefix + "account"), "",
                                    "account_required", f"金額 {v:,} があるのに勘定科目が空です。"
                                    "勘定科目を入力してください"))
        no_amount = chosen & ~empty_account & amount.isna().to_numpy() & ~rows["_bad"].to_numpy()
        for f, r in rows.loc[no_amount, ["_file", "_row"]].itertuples(index=False, name=None):
            problems.append(Problem(f, int(r), profile.source_column(prefix + "amount"), "",
                                    "required", "勘定科目があるのに金額が空です。金額を入力してください"))
        kept.append(~empty_account)
    both_empty = chosen & ~(kept[0] | kept[1])
    for f, r in rows.loc[both_empty, ["_file", "_row"]].itertuples(index=False, name=None):
        problems.append(Problem(f, int(r), profile.source_column("dr_account"), "", "empty_row",
                                "借方・貸方とも勘定科目が空です。行を削除するか科目を入力してください"))
    pick = np.flatnonzero(np.column_stack(kept)[order].ravel())
    row, credit = order[pick // 2], pick % 2 == 1
    columns: dict[str, Any] = {name: rows[name].array.take(row) for name in ROW_COLUMNS}
    for name in SIDE_FIELDS:  # debit and credit values stacked, each line taking its side's
        both = pd.concat([rows["dr_" + name], rows["cr_" + name]], ignore_index=True)
        columns[name] = both.array.take(row + len(rows) * credit)
    columns["side"] = np.where(credit, CREDIT, DEBIT).astype(np.int64)
    lines = pd.DataFrame(columns, copy=False)  # the taken arrays are new: no second copy
    lines["amount"] = lines["amount"].fillna(0).astype("int64")
    lines["tax_amount"] = lines["tax_amount"].fillna(0).astype("int64")
    return lines, problems


def number_slips(lines: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    """Split sides over 60 lines, and number ``pos_dsp`` per slip and side.

    ``lines`` come in document order with each document's lines together (``to_lines``).
    """
    codes = document_codes(lines["doc"], together=True)[0]
    out = lines.reset_index(drop=True)
    part = np.zeros(len(out), dtype=np.int64)
    problems: list[Problem] = []
    side = out["side"].to_numpy()
    per_side = np.bincount(codes * 2 + (side == DEBIT), minlength=2 * (codes.max() + 1 if len(codes) else 0))
    big = np.flatnonzero(per_side > MAX_LINES_PER_SIDE) // 2
    doc_of = {int(c): str(out["doc"].iat[int(np.argmax(codes == c))]) for c in np.unique(big)}
    for code in sorted(doc_of, key=doc_of.__getitem__):  # rare: documents with more than 60 lines on a side
        at = np.flatnonzero(codes == code)
        parts = _split_balanced(out.iloc[at])
        if parts is None:
            f, r, doc = out.iloc[at[0]][["_file", "_row", "doc"]]
            problems.append(Problem(str(f), int(r), "", parse(doc).doc_no, "pos_dsp",
                                    f"1 仕訳の片側が {MAX_LINES_PER_SIDE} 行を超え、貸借の一致する位置で"
                                    "分割できません。帳票を分けてください", document=doc))
        else:
            part[at] = parts
    out["part"] = part
    # "<doc>#<part>", built once per document for part 0 (nearly every slip), per line otherwise.
    docs = out["doc"]
    opens = np.r_[True, codes[1:] != codes[:-1]] if len(codes) else np.zeros(0, dtype=bool)
    first = docs.to_numpy(dtype=object)[np.flatnonzero(opens)]
    out["slip_key"] = pd.Series(slip_keys(first, 0)[np.cumsum(opens) - 1], index=out.index, dtype=docs.dtype)
    if part.any():
        split = part != 0
        out.loc[split, "slip_key"] = slip_keys(docs[split], out.loc[split, "part"])
    out["pos_dsp"] = _positions_per_side(codes, part, side)
    return out, problems


def _positions_per_side(codes: np.ndarray, part: np.ndarray, side: np.ndarray) -> np.ndarray:
    """1, 2, … per slip and side. A slip's lines sit together (its parts are cut in line order), so
    a line's position is the running count of its side less that count where its slip begins."""
    if not len(codes):
        return np.zeros(0, dtype=np.int64)
    starts = np.flatnonzero(np.r_[True, (codes[1:] != codes[:-1]) | (part[1:] != part[:-1])])
    lengths = np.diff(np.r_[starts, len(codes)])
    is_debit = side == DEBIT
    debits, credits = np.cumsum(is_debit), np.cumsum(~is_debit)
    debit_base = np.repeat(debits[starts] - is_debit[starts], lengths)
    credit_base = np.repeat(credits[starts] - ~is_debit[starts], lengths)
    numbers: np.ndarray = np.where(is_debit, debits - debit_base, credits - credit_base).astype(np.int64)
    return numbers


def _split_balanced(doc_lines: pd.DataFrame) -> np.ndarray | None:
    """Cut points where debit = credit so far and each part has ≤60 lines per side."""
    signed = np.where(doc_lines["side"] == DEBIT, doc_lines["amount"], -doc_lines["amount"])
    balance = np.cumsum(signed)
    debit = np.cumsum(doc_lines["side"].to_numpy() == DEBIT)
    credit = np.cumsum(doc_lines["side"].to_numpy() == CREDIT)
    parts = np.zeros(len(doc_lines), dtype=np.int64)
    start, part, last_ok = 0, 0, -1
    base_d = base_c = 0
    i = 0
    while i < len(doc_lines):
        if debit[i] - base_d > MAX_LINES_PER_SIDE or credit[i] - base_c > MAX_LINES_PER_SIDE:
            if last_ok < start:
                return None
            parts[start : last_ok + 1] = part
            part += 1
            start = last_ok + 1
            base_d, base_c = debit[last_ok], credit[last_ok]
            i = start
            continue
        if balance[i] == 0:
            last_ok = i
        i += 1
    parts[start:] = part
    return parts
