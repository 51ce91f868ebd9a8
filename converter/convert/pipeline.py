"""The conversion as one library call: read → normalise → map → validate → slips → bodies.

``convert()`` always runs every stage it can and collects every problem, so one run tells
the accountant everything that is wrong. Request bodies are built only when nothing is wrong
(a body is what would be sent, and nothing is sent while a problem exists), and only when asked
for: ``Conversion.requests`` or, one at a time, ``Conversion.iter_requests()``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path

import numpy as np
import pandas as pd

from converter.config.settings import Profile, Settings, load_profile, load_settings
from converter.config.tables import Mappings, load_mappings
from converter.convert.documents import (
    Filters,
    SkipReason,
    assign_documents,
    check_filters,
    document_table,
    filter_documents,
)
from converter.convert.hashing import content_hashes
from converter.convert.lines import number_slips, to_lines
from converter.convert.mapping import Unmapped, apply_mappings, purchase_dates
from converter.convert.masters_check import apply_masters, unchecked_without_masters
from converter.convert.normalise import normalise
from converter.convert.read import SourceFile, dedupe_inputs, read_inputs
from converter.convert.validate import (
    company_rules,
    cut_to_width,
    fx_width,
    validate_lines,
    validate_period,
    validate_slips,
)
from converter.errors import ConfigError, Problem
from converter.fx.bodies import JOURNO_READ_MAX, Request, iter_requests, plan_chunks
from converter.fx.masters import load_masters
from converter.fx_rules import DEBIT, RCJ_SLIP_WIDTH

NOTICE_STATUSES = ("破棄", "失注")


@dataclass(frozen=True)
class Options:
    profile: str = "jobcan"
    sheet: str | None = None
    filters: Filters = field(default_factory=Filters)
    truncate_memo: bool = False
    use_masters: bool = True  # check against MAPPINGS/masters/<ocode>.json when it exists
    #: Content hashes are only compared by the ledger, and on a big month they are a sixth of the
    #: conversion: ``check`` makes none, ``preview`` only when there is a ledger to compare with.
    content_hashes: bool = True
    #: Internal, not part of the library API: preview's hook to hash only the documents its ledger
    #: already has (document keys → which to hash).
    _hash_only: Callable[[pd.Series], np.ndarray] | None = field(default=None, repr=False)


@dataclass(frozen=True)
class Conversion:
    """Everything one run found out; the CLI, the review workbook and upload read from it."""

    files: tuple[SourceFile, ...]
    settings: Settings
    mappings: Mappings
    profile: Profile
    lines: pd.DataFrame  # detail lines: the columns of convert/columns.py (LINE_COLUMNS)
    documents: pd.DataFrame  # documents kept: doc, kind, doc_no, date, totals, hash, ids
    skipped: pd.DataFrame  # documents left out, with the reason
    problems: tuple[Problem, ...]
    unmapped: tuple[Unmapped, ...]
    notices: tuple[Problem, ...]  # not errors: e.g. each 摘要 cut by --truncate-memo
    journos: Mapping[str, int] | None = field(default=None, repr=False)  # FX's journo per slip key
    #: Without the FX master cache: the one statement of which rules were not checked, and how to.
    unchecked: Problem | None = None

    @property
    def ok(self) -> bool:
        return not self.problems

    def iter_requests(self) -> Iterator[Request]:
        """The request bodies, built one at a time as they are asked for; none while a problem exists
        (a body is what would be sent, and nothing is sent then)."""
        if self.problems or self.documents.empty:
            return iter(())
        return iter_requests(self.lines, self.documents, self.settings, self.journos)

    @cached_property
    def requests(self) -> tuple[Request, ...]:
        """Every request body, built on first use: ``check`` and ``upload`` (which packs its own
        requests from the ledger's plan) never pay for them."""
        return tuple(self.iter_requests())

    def summary(self) -> dict[str, int]:
        debit = int(self.lines.loc[self.lines["side"] == DEBIT, "amount"].sum())
        credit = int(self.lines.loc[self.lines["side"] != DEBIT, "amount"].sum())
        return {
            "files": len(self.files),
            "rows": sum(f.rows for f in self.files),
            "documents": len(self.documents),
            "slips": int(self.documents["slips"].sum()),
            "detail_lines": len(self.lines),
            # planned, so that check (which builds no bodies) says how many uploads would take
            "requests": int(self.documents["request"].max()) if self.ok and len(self.documents) else 0,
            "skipped": len(self.skipped),
            "skipped_zero_yen": int(self.skipped["reason"].eq(SkipReason.ZERO_YEN.value).sum()),
            "problems": len(self.problems),
            "debit_total": debit,
            "credit_total": credit,
        }


def convert(
    inputs: Sequence[str | Path],
    mappings_dir: Path,
    options: Options | None = None,
    *,
    known_ids: Mapping[str, int] | None = None,
    next_id: int = 1,
    journos: Mapping[str, int] | None = None,
) -> Conversion:
    """Run the whole conversion. ``known_ids``/``next_id`` come from the ledger when there is one:
    documents it knows keep their ``journo_read``; new ones are numbered from ``next_id``."""
    options = options or Options()
    settings, mappings, profile = load_configuration(mappings_dir, options.profile)

    # The same file given twice (another spelling, a link, a copy) is read once: twice would double it.
    paths, repeated = dedupe_inputs(inputs)
    read = read_inputs(paths, profile, options.sheet)
    files, problems = read.files, list(read.problems)
    rows, found = normalise(read.rows, profile)
    del read  # the text as read: its columns replaced by normalised ones are not needed again
    problems += found
    rows, found = assign_documents(rows, profile)
    problems += found
    check_filters(rows, profile, options.filters)
    order, skipped = filter_documents(rows, profile, options.filters)
    lines, found = to_lines(rows, profile, order)
    problems += found
    row_problem_docs = _docs_with_problems(rows, problems)
    status_notices = _status_notices(rows, lines)
    hashes = None
    if options.content_hashes:
        chosen = options._hash_only
        hashes = content_hashes(rows if chosen is None else rows[chosen(rows["doc"])])
    del rows  # every later stage works on the detail lines: a big month's source rows are ~200 MB

    lines, found, unmapped = apply_mappings(lines, mappings, settings)
    problems += found
    lines, notices = _memo(lines, options.truncate_memo)
    lines, found = number_slips(lines)
    problems += found
    masters = load_masters(mappings_dir, settings) if options.use_masters else None
    if masters is not None:
        lines, found, more = apply_masters(lines, masters, settings, profile,
                                           max_age_days=settings.masters_max_age_days)
        problems += found
        notices += more
    unchecked = None if masters is not None else unchecked_without_masters(mappings_dir, settings, options.use_masters)
    lines, found = purchase_dates(lines, profile)
    problems += found
    problems += company_rules(lines, settings, profile)

    problems += validate_lines(lines, profile)
    balanced = lines[~lines["doc"].isin(row_problem_docs)]
    problems += validate_slips(balanced, profile)
    problems += validate_period(lines, profile)

    docs = document_table(lines, hashes) if len(lines) else _empty_documents()
    ids, found = _journo_reads(docs, known_ids or {}, next_id)
    problems += found
    docs["journo_read"] = ids
    if int(docs["lines"].sum()) == len(lines):  # documents listed as their lines run: together, in order
        lines["journo_read"] = np.repeat(ids.to_numpy(), docs["lines"].to_numpy())
    else:
        lines["journo_read"] = lines["doc"].map(docs.set_index("doc")["journo_read"])
    docs["request"], found = plan_chunks(docs)
    problems += found

    notices = [r.notice() for r in repeated] + notices + status_notices
    return Conversion(
        files=files, settings=settings, mappings=mappings, profile=profile, lines=lines,
        documents=docs, skipped=skipped, problems=tuple(_dedupe(problems)),
        unmapped=tuple(unmapped), notices=tuple(notices), journos=journos, unchecked=unchecked,
    )


def load_configuration(mappings_dir: Path, profile_name: str) -> tuple[Settings, Mappings, Profile]:
    """settings.yaml, the mapping tables and the profile: every problem of all of them in one ConfigError."""
    found: list[str] = []
    settings = mappings = profile = None
    try:
        settings = load_settings(mappings_dir)
    except ConfigError as err:
        found += [f"settings.yaml: {p}" for p in err.problems]
    try:
        mappings = load_mappings(mappings_dir)
    except ConfigError as err:
        found += err.problems  # already "accounts.yaml:3行: …"
    try:
        profile = load_profile(profile_name, mappings_dir)
    except ConfigError as err:
        found += [f"{Path(err.file).name}: {p}" for p in err.problems]
    if found or settings is None or mappings is None or profile is None:
        raise ConfigError(str(mappings_dir), found)
    return settings, mappings, profile


def _docs_with_problems(rows: pd.DataFrame, problems: list[Problem]) -> set[str]:
    """Documents containing a row that could not be read: their balance is not meaningful."""
    bad = {(p.file, p.row) for p in problems if p.row is not None}
    if not bad:
        return set()
    keys = pd.MultiIndex.from_frame(rows[["_file", "_row"]])
    hit = keys.isin(list(bad))
    return set(rows.loc[hit, "doc"])


def _memo(lines: pd.DataFrame, truncate: bool) -> tuple[pd.DataFrame, list[Problem]]:
    """``rcj_slip`` from 摘要; with --truncate-memo cut to width 80 and list every cut."""
    lines = lines.assign(rcj_slip=lines["memo"])
    if not truncate:
        return lines, []
    too_wide = fx_width(lines["rcj_slip"]) > RCJ_SLIP_WIDTH
    notices = []
    wide = lines.loc[too_wide, ["rcj_slip", "_file", "_row", "doc"]]
    for index, memo, file, row, doc in wide.itertuples(name=None):  # only the over-wide memos
        cut = cut_to_width(str(memo), RCJ_SLIP_WIDTH)
        lines.at[index, "rcj_slip"] = cut
        notices.append(Problem(str(file), int(row), "摘要", str(memo)[:60], "memo_truncated",
                               f"摘要(rcj_slip)を 80 桁に切り詰めました: 「{cut}」", document=str(doc)))
    return lines, notices


def _journo_reads(
    docs: pd.DataFrame, known: Mapping[str, int], next_id: int
) -> tuple[pd.Series, list[Problem]]:
    """Known documents keep their id; new ones get consecutive ids in document order."""
    ids = docs["doc"].map(known).astype("Int64") if known else pd.Series(pd.NA, index=docs.index, dtype="Int64")
    new = ids.isna()
    ids[new] = np.arange(next_id, next_id + int(new.sum()), dtype=np.int64)
    problems = []
    if len(ids) and int(ids.max()) > JOURNO_READ_MAX:
        problems.append(Problem("", None, "journo_read", str(int(ids.max())), "journo_read",
                                f"連携番号(journo_read)が 6 桁 ({JOURNO_READ_MAX:,}) を超えます。"
                                "この会社の台帳を新しくする必要があります"))
    return ids.astype("int64"), problems


def _empty_documents() -> pd.DataFrame:
    return pd.DataFrame(
        {c: pd.Series(dtype="object") for c in ("doc", "kind", "doc_no", "date", "file", "content_hash")}
        | {c: pd.Series(dtype="int64") for c in ("debit", "credit", "lines", "slips", "row")}
    )


def _dedupe(problems: list[Problem]) -> list[Problem]:
    """One report per cell and rule, in the order the user reads the file."""
    seen = set()
    out = []
    for p in problems:
        key = (p.file, p.row, p.column, p.rule)
        if key not in seen:
            seen.add(key)
            out.append(p)
    return sorted(out, key=lambda p: (p.file, p.row or 0))


def _status_notices(rows: pd.DataFrame, lines: pd.DataFrame) -> list[Problem]:
    """Jobcan links 破棄/失注 documents too; say so once per status, since few users expect it."""
    flagged = rows["status"].isin(NOTICE_STATUSES)
    if not flagged.any():
        return []
    flagged_docs = rows.loc[flagged, "doc"].unique()
    kept = pd.unique(lines.loc[lines["doc"].isin(flagged_docs), "doc"])  # not left out by a filter or 0円
    of_kept = rows[rows["doc"].isin(kept)]
    first = of_kept.groupby("doc", sort=False)[["status", "_file", "_row", "doc_no"]].first()
    hit = first[first["status"].isin(NOTICE_STATUSES)]  # a document's status is its first row's
    notices = []
    for status, group in hit.groupby("status", sort=True):
        numbers = "、".join(group["doc_no"].head(5)) + (" ほか" if len(group) > 5 else "")
        notices.append(Problem(str(group["_file"].iloc[0]), int(group["_row"].iloc[0]), "ステータス", str(status),
                               "status_notice",
                               f"ステータス「{status}」の帳票 {len(group)} 件 ({numbers}) も連携対象です "
                               "(ジョブカンの連携と同じ)。除外するには --exclude-status 破棄,失注 を付けてください"))
    return notices
