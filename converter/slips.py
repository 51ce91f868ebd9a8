"""Group stage: normalised rows → detail lines → documents → FX slips.

- A journal-style row is one debit/credit pair; a side that is empty (or 諸口) contributes
  nothing, so compound slips are written as several one-sided rows.
- A document is 取引種別 + 帳票番号 + 取引日 (jobcan) or one 伝票 by 識別フラグ (yayoi).
- Filters (--kinds, --closed-only, --exclude-status) and 0円 documents drop whole documents,
  which are listed with the reason — never silently.
- ``pos_dsp`` numbers lines per side; a side with more than 60 lines is split into several
  slips at balanced boundaries where possible, otherwise reported.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from .config import Profile
from .errors import Problem

MAX_LINES_PER_SIDE = 60
SIDE_FIELDS = ("account", "sub_account", "department", "tax", "amount", "tax_amount")
#: Fields whose change means the document changed (content hash), in a fixed order.
HASH_FIELDS = (
    "date", "kind", "doc_no", "customer_code", "customer",
    "dr_account", "dr_sub_account", "dr_department", "dr_tax", "dr_amount", "dr_tax_amount",
    "cr_account", "cr_sub_account", "cr_department", "cr_tax", "cr_amount", "cr_tax_amount",
    "memo",
)
DEBIT, CREDIT = 1, 0


@dataclass(frozen=True)
class Filters:
    kinds: tuple[str, ...] = ()
    closed_only: bool = False
    exclude_status: tuple[str, ...] = ()


@dataclass(frozen=True)
class Grouped:
    lines: pd.DataFrame  # one row per detail line, with doc, slip, side, pos_dsp
    documents: pd.DataFrame  # one row per document kept
    skipped: pd.DataFrame  # doc, kind, doc_no, date, reason, rows, amount
    problems: list[Problem] = field(default_factory=list)


def assign_documents(rows: pd.DataFrame, profile: Profile) -> tuple[pd.DataFrame, list[Problem]]:
    """Give every row its document key ``doc`` (and for yayoi check the 識別フラグ sequence)."""
    out = rows.copy()
    problems: list[Problem] = []
    if profile.style == "yayoi":
        flag = out["flag"]
        starts = flag.isin(["2000", "2110", "2111"])
        group = starts.cumsum()
        # A 伝票 is 2110 (2100…) 2101 within one file: check each line against its neighbours.
        prev = flag.groupby(out["_file"]).shift(1)
        following = flag.groupby(out["_file"]).shift(-1)
        continues = flag.isin(["2100", "2101"])
        opens = flag.isin(["2110", "2100"])
        bad = ~(starts | continues)
        bad |= continues & ~prev.isin(["2110", "2100"])
        bad |= opens & ~following.isin(["2100", "2101"])
        for f, r, v in out.loc[bad, ["_file", "_row", "flag"]].itertuples(index=False, name=None):
            problems.append(Problem(f, int(r), profile.source_column("flag"), v, "yayoi_flag",
                                    "識別フラグの並びが不正です。複数行の伝票は 2110 (1 行目)・2100 (中間行)・"
                                    "2101 (最終行) の順、1 行の仕訳は 2000 か 2111 です"))
        number = out["doc_no"].where(out["doc_no"] != "", group.astype(str))
        first_date = out["date"].groupby([out["_file"], group]).transform("first")
        out["date"] = first_date  # a 伝票 has one date: the first line's
        out["ymd"] = out["ymd"].groupby([out["_file"], group]).transform("first")
        out["doc_no"] = number
    else:
        empty = out["doc_no"] == ""
        for f, r in out.loc[empty, ["_file", "_row"]].itertuples(index=False, name=None):
            problems.append(Problem(f, int(r), profile.source_column("doc_no"), "", "required",
                                    "帳票番号が空です。書き出し元の帳票番号を確認してください"))
    out["doc"] = out["kind"] + "|" + out["doc_no"] + "|" + out["date"]
    problems += _documents_in_several_files(out, profile)
    return out, problems


def _documents_in_several_files(rows: pd.DataFrame, profile: Profile) -> list[Problem]:
    """The same document in two inputs (e.g. the month's CSV and its XLSX) would post it twice."""
    files = rows.groupby("doc", sort=False)["_file"].nunique()
    repeated = files[files > 1].index
    if repeated.empty:
        return []
    hit = rows[rows["doc"].isin(repeated)].groupby("doc", sort=False).agg(
        doc_no=("doc_no", "first"), files=("_file", lambda f: "、".join(dict.fromkeys(f))),
        file=("_file", "last"), row=("_row", "last"))
    return [
        Problem(str(file), int(row), profile.source_column("doc_no"), str(doc_no), "duplicate_document",
                f"同じ帳票が複数のファイルにあります ({files})。同じ期間を二重に指定していないか確認し、"
                "1 つのファイルだけを指定してください", document=str(doc))
        for doc, (doc_no, files, file, row) in hit.iterrows()
    ]


def filter_documents(
    rows: pd.DataFrame, profile: Profile, filters: Filters
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Drop whole documents by the user's filters and 0円; return (kept rows, skipped list)."""
    reason = pd.Series("", index=rows.index, dtype=object)
    if filters.kinds:
        reason = reason.mask((reason == "") & ~rows["kind"].isin(filters.kinds),
                             "出力取引の対象外 (--kinds)")
    if filters.exclude_status:
        reason = reason.mask((reason == "") & rows["status"].isin(filters.exclude_status),
                             "除外ステータス (--exclude-status): " + rows["status"])
    if filters.closed_only:
        reason = reason.mask((reason == "") & ~rows["closed"].isin(profile.closed_values),
                             "締切済でない (--closed-only)")
    # The document takes the first reason any of its rows has.
    doc_reason = reason.where(reason != "").groupby(rows["doc"]).transform("first").fillna("")
    amounts = rows[["dr_amount", "cr_amount", "dr_tax_amount", "cr_tax_amount"]].abs().fillna(0)
    doc_total = amounts.sum(axis=1).groupby(rows["doc"]).transform("sum")
    unreadable = rows["_bad"].groupby(rows["doc"]).transform("any")
    zero = (doc_reason == "") & (doc_total == 0) & ~unreadable
    doc_reason = doc_reason.mask(zero, "0円の帳票 (連携しません)")
    skip = doc_reason != ""
    skipped = (
        rows.loc[skip]
        .assign(reason=doc_reason[skip], amount=rows["dr_amount"].fillna(0))
        .groupby("doc", sort=False)
        .agg(kind=("kind", "first"), doc_no=("doc_no", "first"), date=("date", "first"),
             reason=("reason", "first"), amount=("amount", "sum"), file=("_file", "first"),
             rows=("_row", lambda r: ", ".join(str(int(x)) for x in r)))
        .reset_index()
    )
    return rows.loc[~skip], skipped


def to_lines(rows: pd.DataFrame, profile: Profile) -> tuple[pd.DataFrame, list[Problem]]:
    """Explode each row into its debit and credit detail lines."""
    problems: list[Problem] = []
    common = ["doc", "kind", "doc_no", "date", "ymd", "customer_code", "customer", "customer_key",
              "memo", "project", "status", "_file", "_row", "_bad"]
    sides = []
    for prefix, side in (("dr_", DEBIT), ("cr_", CREDIT)):
        part = rows[common + [prefix + f for f in SIDE_FIELDS]].rename(
            columns={prefix + f: f for f in SIDE_FIELDS}
        )
        empty_account = (part["account"] == "") | part["account"].isin(profile.sundry_accounts)
        has_amount = part["amount"].fillna(0) != 0
        for f, r, v in part.loc[empty_account & has_amount, ["_file", "_row", "amount"]].itertuples(
            index=False, name=None
        ):
            problems.append(Problem(f, int(r), profile.source_column(prefix + "account"), "",
                                    "account_required", f"金額 {v:,} があるのに勘定科目が空です。"
                                    "勘定科目を入力してください"))
        no_amount = ~empty_account & part["amount"].isna() & ~part["_bad"]
        for f, r in part.loc[no_amount, ["_file", "_row"]].itertuples(index=False, name=None):
            problems.append(Problem(f, int(r), profile.source_column(prefix + "amount"), "",
                                    "required", "勘定科目があるのに金額が空です。金額を入力してください"))
        kept = part.loc[~empty_account]
        sides.append(kept.assign(side=side, _order=kept.index * 2 + (1 - side)))
    both_empty = rows.index.difference(sides[0].index.union(sides[1].index))
    for f, r in rows.loc[both_empty, ["_file", "_row"]].itertuples(index=False, name=None):
        problems.append(Problem(f, int(r), profile.source_column("dr_account"), "", "empty_row",
                                "借方・貸方とも勘定科目が空です。行を削除するか科目を入力してください"))
    lines = pd.concat(sides).sort_values("_order", kind="stable").drop(columns="_order")
    lines["amount"] = lines["amount"].fillna(0).astype("int64")
    lines["tax_amount"] = lines["tax_amount"].fillna(0).astype("int64")
    return lines.reset_index(drop=True), problems


def number_slips(lines: pd.DataFrame) -> tuple[pd.DataFrame, list[Problem]]:
    """Order documents, split sides over 60 lines, and number ``pos_dsp`` per slip and side."""
    out = lines.copy()
    first = out.groupby("doc", sort=False)["ymd"].transform("first")
    out["_first"] = first
    out = out.sort_values(["_first", "kind", "doc_no", "doc"], kind="stable").drop(columns="_first")
    out["part"] = 0
    problems: list[Problem] = []
    counts = out.groupby(["doc", "side"]).size()
    big_docs = counts[counts > MAX_LINES_PER_SIDE].index.get_level_values("doc").unique()
    for doc in big_docs:  # rare: only documents with more than 60 lines on a side
        index = out.index[out["doc"] == doc]
        parts = _split_balanced(out.loc[index])
        if parts is None:
            f, r = out.loc[index[0], ["_file", "_row"]]
            problems.append(Problem(str(f), int(r), "", doc.split("|")[1], "pos_dsp",
                                    f"1 仕訳の片側が {MAX_LINES_PER_SIDE} 行を超え、貸借の一致する位置で"
                                    "分割できません。帳票を分けてください", document=doc))
        else:
            out.loc[index, "part"] = parts
    out["slip_key"] = out["doc"] + "#" + out["part"].astype(str)
    out["pos_dsp"] = out.groupby(["slip_key", "side"], sort=False).cumcount() + 1
    return out.reset_index(drop=True), problems


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


def document_table(lines: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """One row per document: key, kind, number, date, totals, slip count, content hash."""
    debit = lines["amount"].where(lines["side"] == DEBIT, 0)
    credit = lines["amount"].where(lines["side"] == CREDIT, 0)
    docs = (
        lines.assign(debit=debit, credit=credit)
        .groupby("doc", sort=False)
        .agg(kind=("kind", "first"), doc_no=("doc_no", "first"), date=("date", "first"),
             debit=("debit", "sum"), credit=("credit", "sum"), lines=("side", "size"),
             slips=("slip_key", "nunique"), file=("_file", "first"), row=("_row", "first"))
        .reset_index()
    )
    return docs.merge(content_hashes(rows), how="left", on="doc")


def content_hashes(rows: pd.DataFrame) -> pd.DataFrame:
    """sha256 of each document's source fields, stable across runs and pandas versions."""
    text = rows[list(HASH_FIELDS)].astype("string").fillna("")
    joined = text.iloc[:, 0].str.cat(text.iloc[:, 1:], sep="\x1f").astype(str)
    per_doc = joined.groupby(rows["doc"], sort=False).agg("\x1e".join)
    hashes = [hashlib.sha256(v.encode("utf-8")).hexdigest() for v in per_doc.to_numpy()]
    return pd.DataFrame({"doc": per_doc.index, "content_hash": hashes})
