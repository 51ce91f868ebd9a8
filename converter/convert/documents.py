"""Documents: which source rows make one document, which documents are kept, and their table.

- A document is 取引種別 + 帳票番号 (jobcan: the date is content) or one 伝票 by 識別フラグ
  (yayoi, with its date: numbers repeat); see :mod:`converter.keys`.
- Filters (--kinds, --closed-only, --exclude-status) and 0円 documents drop whole documents,
  which are listed with the reason — never silently.
- The document table: one row per document kept, with its totals and content hash.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

import numpy as np
import pandas as pd

from converter.config.settings import Profile
from converter.convert._kernels import (
    document_codes,
    document_keys_and_codes,
    document_rank,
    document_totals,
    first_rows,
)
from converter.errors import BadOptionValue, Problem


class SkipReason(StrEnum):
    """Why a whole document is left out: the skipped list's ``reason``, as the accountant reads it
    (``STATUS`` is followed by ``: <the status>``)."""

    KINDS = "出力取引の対象外 (--kinds)"
    STATUS = "除外ステータス (--exclude-status)"
    NOT_CLOSED = "締切済でない (--closed-only)"
    ZERO_YEN = "0円の帳票 (連携しません)"


@dataclass(frozen=True)
class Filters:
    kinds: tuple[str, ...] = ()
    closed_only: bool = False
    exclude_status: tuple[str, ...] = ()


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
    out["doc"], out["_doc"] = document_keys_and_codes(out, profile.identity)
    if profile.identity == "kind_no":
        problems += _dates_within_documents(out, profile)
    problems += _documents_in_several_files(out, profile)
    return out, problems


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


def row_documents(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray]:
    """``document_codes`` of the rows' ``doc``, from the codes ``assign_documents`` kept in ``_doc``."""
    if "_doc" not in rows:
        return document_codes(rows["doc"])
    codes = rows["_doc"].to_numpy()
    return codes, first_rows(codes)


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
                             SkipReason.KINDS.value)
    if filters.exclude_status:
        reason = reason.mask((reason == "") & rows["status"].isin(filters.exclude_status),
                             SkipReason.STATUS.value + ": " + rows["status"])
    if filters.closed_only:
        reason = reason.mask((reason == "") & ~rows["closed"].isin(profile.closed_values),
                             SkipReason.NOT_CLOSED.value)
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
    doc_reason = doc_reason.mask(zero, SkipReason.ZERO_YEN.value)
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
    rank = document_rank(rows, codes, heads)
    return kept[np.argsort(rank[codes[kept]], kind="stable")], skipped


def document_table(lines: pd.DataFrame, hashes: pd.DataFrame | None) -> pd.DataFrame:
    """One row per document: key, kind, number, date, totals, slip count, and the content hash from
    ``hashes`` (``content_hashes`` of the source rows; None leaves it empty: only the ledger compares
    them, and ``check`` has none)."""
    docs = document_totals(lines)
    if hashes is None or hashes.empty:  # none made, or none asked for (preview: a ledger without these documents)
        docs["content_hash"] = np.nan
        return docs
    found = pd.Index(hashes["doc"]).get_indexer(docs["doc"])
    docs["content_hash"] = hashes["content_hash"].to_numpy(dtype=object)[found]
    docs.loc[found < 0, "content_hash"] = np.nan
    return docs
