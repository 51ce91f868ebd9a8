"""Group stage: normalised rows → detail lines → documents → FX slips.

- A journal-style row is one debit/credit pair; a side that is empty (or 諸口) contributes
  nothing, so compound slips are written as several one-sided rows.
- A document is 取引種別 + 帳票番号 (jobcan: the date is content) or one 伝票 by 識別フラグ
  (yayoi, with its date: numbers repeat); see :mod:`converter.keys`.
- Filters (--kinds, --closed-only, --exclude-status) and 0円 documents drop whole documents,
  which are listed with the reason — never silently.
- ``pos_dsp`` numbers lines per side; a side with more than 60 lines is split into several
  slips at balanced boundaries where possible, otherwise reported.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from converter.config.settings import Profile
from converter.errors import BadOptionValue, Problem
from converter.fx_rules import CREDIT as CREDIT
from converter.fx_rules import DEBIT as DEBIT
from converter.fx_rules import MAX_LINES_PER_SIDE
from converter.keys import SEP, SLIP_SEP, Identity, document_keys, parse

SIDE_FIELDS = ("account", "sub_account", "department", "tax", "amount", "tax_amount")
#: Fields whose change means the document changed (content hash), in a fixed order.
HASH_FIELDS = (
    "date", "kind", "doc_no", "customer_code", "customer",
    "dr_account", "dr_sub_account", "dr_department", "dr_tax", "dr_amount", "dr_tax_amount",
    "cr_account", "cr_sub_account", "cr_department", "cr_tax", "cr_amount", "cr_tax_amount",
    "memo",
)


def document_codes(keys: pd.Series, *, together: bool = False) -> tuple[np.ndarray, np.ndarray]:
    """Codes of ``keys`` numbered in order of first appearance (as ``pd.factorize``), and where each
    key first appears. Documents usually sit together (a file lists a document's rows together;
    lines are sorted by document): then comparing neighbours finds them without hashing every key.
    ``together=True`` is the caller's word that equal keys sit together (detail lines, which
    ``to_lines`` lays out document by document), so that is not checked again."""
    values = keys.to_numpy(dtype=object)
    heads = np.flatnonzero(np.r_[True, values[1:] != values[:-1]]) if len(values) else np.zeros(0, np.int64)
    # (several runs of NaN are not unique: factorize decides)
    if (together and not keys.hasnans) or pd.Index(values[heads]).is_unique:
        return np.repeat(np.arange(len(heads)), np.diff(np.r_[heads, len(values)])), heads
    codes = pd.factorize(keys, sort=False, use_na_sentinel=False)[0]
    return codes, _first_rows(codes)


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
    out = rows.copy(deep=False)  # copy-on-write: the columns replaced below never touch ``rows``
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
    out["doc"], out["_doc"] = _document_keys(out, profile.identity)
    if profile.identity == "kind_no":
        problems += _dates_within_documents(out, profile)
    problems += _documents_in_several_files(out, profile)
    return out, problems


def _document_keys(rows: pd.DataFrame, identity: Identity = "kind_no") -> tuple[pd.Series, np.ndarray]:
    """The document key of every row (:mod:`converter.keys`: ``kind|doc_no``, or
    ``kind|doc_no|date`` for ``kind_no_date``), and the rows' document codes (as ``document_codes``).

    取引種別 and 取引日 take a few values each and 帳票番号 one per document: the parts are
    numbered apart, a document is their combination, and its key text is made once per document
    (not per row). Later stages take the codes from the ``_doc`` column instead of hashing the keys
    again.
    """
    kind, number = rows["kind"], rows["doc_no"]
    date = rows["date"] if identity == "kind_no_date" else None
    if kind.hasnans or number.hasnans or (date is not None and date.hasnans):
        keys = document_keys(kind, number, date)
        return keys, document_codes(keys)[0]
    # (use_na_sentinel=False: there is no NaN, and for the str dtype it is pandas' faster path)
    kind_codes, kind_values = pd.factorize(kind, use_na_sentinel=False)
    if date is None:
        date_codes, dates = np.zeros(len(rows), dtype=np.int64), np.array([""], dtype=object)
        suffixes = dates
    else:
        date_codes, date_values = pd.factorize(date, use_na_sentinel=False)
        dates = np.asarray(date_values, dtype=object)
        suffixes = SEP + dates
    number_codes, numbers = pd.factorize(number, use_na_sentinel=False)
    kinds = np.asarray(kind_values, dtype=object)
    if (any(SEP in k for k in kinds) or any(SEP in d for d in dates)
            or float(len(kinds)) * len(dates) * len(numbers) > 2**62):
        # "|" in a 取引種別 or 取引日 lets two documents share a key: the key text decides
        keys = document_keys(kind, number, date)
        return keys, document_codes(keys)[0]
    combined = (number_codes.astype(np.int64) * len(kinds) + kind_codes) * len(dates) + date_codes
    codes = pd.factorize(combined)[0]
    heads = _first_rows(codes)
    text = (kinds + SEP)[kind_codes[heads]] + number.to_numpy(dtype=object)[heads] + suffixes[date_codes[heads]]
    return pd.Series(text[codes], index=rows.index, dtype=kind.dtype), codes


def _dates_within_documents(rows: pd.DataFrame, profile: Profile) -> list[Problem]:
    """Under ``kind_no`` a document has one 取引日: a row dated otherwise than its document's first
    row is a problem (one per document), never a second document or a slip on two dates."""
    codes, heads = row_documents(rows)
    date = rows["date"].to_numpy(dtype=object)
    first = date[heads][codes]
    differs = (first != date) & ~(pd.isna(first) & pd.isna(date))
    if not differs.any():
        return []
    at = np.flatnonzero(differs)
    at = at[np.unique(codes[at], return_index=True)[1]]  # the first such row of each document
    return [
        Problem(str(f), int(r), profile.source_column("date"), str(d), "document_date",
                f"同じ帳票 ({kind} {no}) に取引日の違う行があります (最初の行は {first_date})。帳票は"
                " 取引種別 + 帳票番号 で 1 件、取引日は 1 つです。書出を確認してください", document=str(doc))
        for f, r, d, kind, no, first_date, doc in zip(
            rows["_file"].to_numpy()[at], rows["_row"].to_numpy()[at], date[at], rows["kind"].to_numpy()[at],
            rows["doc_no"].to_numpy()[at], first[at], rows["doc"].to_numpy()[at], strict=True)
    ]


def _first_rows(codes: np.ndarray) -> np.ndarray:
    """Where each code first appears, for codes numbered in order of first appearance."""
    if not len(codes):
        return np.zeros(0, dtype=np.int64)
    return np.flatnonzero(np.r_[True, codes[1:] > np.maximum.accumulate(codes)[:-1]])


def row_documents(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``document_codes`` of the rows' ``doc``, from the codes ``assign_documents`` kept in ``_doc``."""
    if "_doc" not in rows:
        return document_codes(rows["doc"])
    codes = rows["_doc"].to_numpy()
    return codes, _first_rows(codes)


def _documents_in_several_files(rows: pd.DataFrame, profile: Profile) -> list[Problem]:
    """The same document in two inputs (e.g. the month's CSV and its XLSX) would post it twice."""
    if rows["_file"].nunique() < 2:
        return []
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


#: Each filter option: its name, the column it looks at, the profile's list of values.
FILTER_OPTIONS = (("--kinds (出力取引)", "kinds", "kind", "kinds"),
                  ("--exclude-status (ステータス)", "exclude_status", "status", "statuses"))


def check_filters(rows: pd.DataFrame, profile: Profile, filters: Filters) -> None:
    """Refuse a filter value that is neither one the profile declares nor one the export holds:
    a typo in ``--kinds`` would otherwise skip the whole month and report success."""
    for option, attribute, column, declared in FILTER_OPTIONS:
        wanted: tuple[str, ...] = getattr(filters, attribute)
        if not wanted:
            continue
        present = pd.unique(rows[column].to_numpy(dtype=object)).tolist() if len(rows) else []
        known = [*getattr(profile, declared), *([profile.default_kind] if column == "kind" else [])]
        accepted = list(dict.fromkeys(v for v in [*known, *sorted(map(str, present))] if v))
        unknown = [v for v in wanted if v not in accepted]
        if unknown:
            raise BadOptionValue(option, unknown, accepted)


def filter_documents(
    rows: pd.DataFrame, profile: Profile, filters: Filters
) -> tuple[np.ndarray, pd.DataFrame]:
    """Drop whole documents by the user's filters and 0円; return (the kept rows' positions in
    document order, skipped list).

    Positions rather than a filtered copy: ``to_lines`` takes the rows it explodes by position
    anyway, so filtering and ordering cost no copy of the ~25 source columns of their own.
    """
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
    # The document takes the first reason any of its rows has. Documents are grouped by integer
    # code (one factorize) rather than by their text key once per question.
    codes, heads = row_documents(rows)
    has_reason = reason != ""
    doc_reason = reason.where(has_reason).groupby(codes).transform("first").fillna("") if has_reason.any() else reason
    amounts = rows[["dr_amount", "cr_amount", "dr_tax_amount", "cr_tax_amount"]].abs().fillna(0)
    # Only "is the total 0" is asked: a float sum of amounts ≥ 0 is 0 exactly when each one is.
    row_total = amounts.sum(axis=1).to_numpy(dtype=np.float64)
    doc_total = np.bincount(codes, weights=row_total)[codes]
    unreadable = np.bincount(codes, weights=rows["_bad"].to_numpy(dtype=np.float64))[codes] > 0
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
    kept = np.flatnonzero(~skip.to_numpy())
    rank = _document_rank(rows, codes, heads)
    return kept[np.argsort(rank[codes[kept]], kind="stable")], skipped


def _document_rank(rows: pd.DataFrame, codes: np.ndarray, at: np.ndarray) -> np.ndarray:
    """Rank of each document (by code) in document order: (first date, kind, number, key).

    The sort runs over documents, not rows, with numpy: the number as a fixed-width unicode array
    (compared in C, by code point as Python does) and the key's only other part, the date, as
    sorted codes: ``kind|number|date`` orders like the date once kind and number are equal.
    """
    kinds = pd.unique(rows["kind"].to_numpy())
    numbers = rows["doc_no"].to_numpy(dtype=object)[at]
    rank = np.empty(len(at), dtype=np.int64)
    if (rows["doc"].hasnans or rows["doc_no"].hasnans or rows["date"].hasnans
            or any(not isinstance(k, str) or "|" in k for k in kinds) or "\x00" in "".join(numbers)):
        # "|" in a 取引種別 lets two (kind, number) pairs share a key, and numpy drops a trailing
        # NUL: sort the documents' first rows as pandas does
        first = rows.iloc[at][["ymd", "kind", "doc_no", "doc"]].reset_index(drop=True)
        order = first.sort_values(["ymd", "kind", "doc_no", "doc"], kind="stable").index.to_numpy()
        rank[order] = np.arange(len(at))
        return rank
    first_date = rows["ymd"].to_numpy()[at]
    when = np.where(np.isnat(first_date), np.iinfo(np.int64).max, first_date.view(np.int64))  # NaT last
    kind = pd.factorize(rows["kind"].to_numpy()[at], sort=True)[0]
    date = pd.factorize(rows["date"].to_numpy()[at], sort=True)[0]
    rank[np.lexsort((date, np.asarray(numbers, dtype=str), kind, when))] = np.arange(len(at))
    return rank


def to_lines(rows: pd.DataFrame, profile: Profile, order: np.ndarray) -> tuple[pd.DataFrame, list[Problem]]:
    """Explode the rows at ``order`` (positions, in document order) into their debit and credit
    detail lines; the lines come out in that order, each row's debit line before its credit line."""
    chosen = np.zeros(len(rows), dtype=bool)
    chosen[order] = True
    problems: list[Problem] = []
    common = ["doc", "kind", "doc_no", "date", "ymd", "customer_code", "customer", "customer_key",
              "memo", "project", "status", "_file", "_row", "_bad"]
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
    columns: dict[str, Any] = {name: rows[name].array.take(row) for name in common}
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
    out["slip_key"] = pd.Series((first + SLIP_SEP + "0")[np.cumsum(opens) - 1], index=out.index, dtype=docs.dtype)
    if part.any():
        split = part != 0
        out.loc[split, "slip_key"] = docs[split] + SLIP_SEP + out.loc[split, "part"].astype(str)
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


def document_table(lines: pd.DataFrame, hashes: pd.DataFrame | None) -> pd.DataFrame:
    """One row per document: key, kind, number, date, totals, slip count, and the content hash from
    ``hashes`` (``content_hashes`` of the source rows; None leaves it empty: only the ledger compares
    them, and ``check`` has none)."""
    if lines["doc"].hasnans:  # a line without a document key: the groupby below leaves it out
        return _document_table_grouped(lines, hashes)
    codes, at = document_codes(lines["doc"], together=True)  # at: each document's first line
    side = lines["side"].to_numpy()
    amount = lines["amount"]
    # slip_key is "<doc>#<part>" (number_slips): distinct parts of a document are its slips
    parts = lines["part"] if "part" in lines else pd.factorize(lines["slip_key"], use_na_sentinel=False)[0]
    slips: np.ndarray = np.ones(len(at), dtype=np.int64)  # nearly always: no document was split
    if np.any(parts):
        slips = pd.Series(parts).groupby(codes).nunique().to_numpy(dtype=np.int64)
    docs = pd.DataFrame({
        "doc": lines["doc"].to_numpy(dtype=object)[at],
        **{name: lines[column].array.take(at) for name, column in
           (("kind", "kind"), ("doc_no", "doc_no"), ("date", "date"))},
        "debit": amount.where(side == DEBIT, 0).groupby(codes).sum().to_numpy(),
        "credit": amount.where(side == CREDIT, 0).groupby(codes).sum().to_numpy(),
        "lines": np.bincount(codes, minlength=len(at)).astype(np.int64),
        "slips": slips,
        "file": lines["_file"].array.take(at),
        "row": lines["_row"].to_numpy()[at],
    })
    if hashes is None or hashes.empty:  # none made, or none asked for (preview: a ledger without these documents)
        docs["content_hash"] = np.nan
        return docs
    found = pd.Index(hashes["doc"]).get_indexer(docs["doc"])
    docs["content_hash"] = hashes["content_hash"].to_numpy(dtype=object)[found]
    docs.loc[found < 0, "content_hash"] = np.nan
    return docs


def _document_table_grouped(lines: pd.DataFrame, hashes: pd.DataFrame | None) -> pd.DataFrame:
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
    if hashes is None:
        return docs.assign(content_hash=np.nan)
    return docs.merge(hashes, how="left", on="doc")


def content_hashes(rows: pd.DataFrame) -> pd.DataFrame:
    """sha256 of each document's source fields, stable across runs and pandas versions.

    The hashed text of a document is its rows in file order, fields joined by US (0x1f) and rows by
    RS (0x1e). It is built for many documents at a time: rows sorted by document (stably), cells and
    separators laid out in one object array and joined by one C call, documents ended by GS (0x1d)
    and split apart again as bytes; only the sha256 itself runs once per document.
    """
    if rows.empty or rows["doc"].hasnans:
        return _content_hashes_grouped(rows)
    codes, at = row_documents(rows)  # documents in first-row order
    docs = rows["doc"].to_numpy(dtype=object)[at]
    together = len(codes) < 2 or bool((codes[1:] >= codes[:-1]).all())
    order = np.arange(len(codes)) if together else np.argsort(codes, kind="stable")
    last = np.r_[codes[order][1:] != codes[order][:-1], True]  # each document's last row, in that order
    ends = np.flatnonzero(last) + 1
    try:
        hashes = _hash_sorted(rows, order, last, ends)
    except TypeError:  # a cell that is not text (NaN, a number): the exact, slower way
        return _content_hashes_grouped(rows)
    return pd.DataFrame({"doc": docs, "content_hash": hashes})


def _hash_sorted(rows: pd.DataFrame, order: np.ndarray, last: np.ndarray, ends: np.ndarray) -> list[str]:
    texts = [_hash_text(rows[name]) for name in HASH_FIELDS]
    hashes: list[str] = []
    start = 0
    while start < len(order):  # ~64k rows at a time: the cell array stays small
        stop = int(ends[min(int(np.searchsorted(ends, start + _HASH_CHUNK)), len(ends) - 1)])
        rows_here = order[start:stop]
        cells = np.empty((len(rows_here), 2 * len(texts)), dtype=object)
        for i, text in enumerate(texts):
            cells[:, 2 * i] = text[rows_here]
        cells[:, 1:-1:2] = "\x1f"
        cells[:, -1] = np.where(last[start:stop], "\x1d", "\x1e")
        pieces = "".join(cells.ravel().tolist()).encode("utf-8").split(b"\x1d")[:-1]
        if len(pieces) != np.count_nonzero(last[start:stop]):  # a GS inside a field: document by document
            docs_here = np.cumsum(np.r_[True, last[start:stop][:-1]])
            per_row = pd.Series(["\x1f".join(r) for r in cells[:, 0::2].tolist()])
            pieces = [v.encode("utf-8") for v in per_row.groupby(docs_here, sort=True).agg("\x1e".join)]
        hashes += [hashlib.sha256(p).hexdigest() for p in pieces]
        start = stop
    return hashes


_HASH_CHUNK = 1 << 16


def _hash_text(column: pd.Series) -> np.ndarray:
    """A column as the hashed text: what ``astype("string").fillna("")`` gives."""
    if pd.api.types.is_integer_dtype(column.dtype):  # amounts: each distinct one formatted once
        codes, values = pd.factorize(column, use_na_sentinel=False)
        text = np.empty(len(values), dtype=object)
        text[:] = ["" if v is pd.NA or v is None else str(int(v)) for v in values]
        return text[codes]
    return column.to_numpy(dtype=object)  # text already; anything else makes the join raise TypeError


def _content_hashes_grouped(rows: pd.DataFrame) -> pd.DataFrame:
    text = rows[list(HASH_FIELDS)].astype("string").fillna("")
    joined = text.iloc[:, 0].str.cat(text.iloc[:, 1:], sep="\x1f").astype(str)
    per_doc = joined.groupby(rows["doc"], sort=False).agg("\x1e".join)
    hashes = [hashlib.sha256(v.encode("utf-8")).hexdigest() for v in per_doc.to_numpy()]
    return pd.DataFrame({"doc": per_doc.index, "content_hash": hashes})
